// calibrateModel end to end on a tiny random model: the saved file, the installed rvq graph, the
// recorded source, determinism for a seed, and cancellation.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCodebooks, decodeSafetensors, encodeCodebooks, encodeSafetensors } from '../../../quant/index.js';
import { calibrateModel, calibrationSpecs, readCalibrationRecord, readCodebookHeader } from '../../../main/engine/calibration/calibrate.js';
import type { CalibrationProgress, CalibrationSettingsInput } from '../../../main/engine/calibration/calibrate.js';
import { calibrationSettingsSchema } from '../../../main/engine/calibration/calibrate.js';
import { readManifest } from '../../../main/model/manifest.js';
import { createHash } from 'node:crypto';
import { createTinyLibrary, randomStories, tinyConfig } from './tiny-library.js';
import type { TinyLibrary } from './tiny-library.js';
import { rvqGraphVersion } from '../../../main/onnx/rvq-cache.js';

const small: CalibrationSettingsInput = { depth: 2, codebookSize: 16, groupSize: 8, maxVectors: 300, kmeansIterations: 3 };

describe('calibrateModel', () => {
  let lib: TinyLibrary;
  beforeAll(() => {
    lib = createTinyLibrary();
  });
  afterAll(() => lib.cleanup());

  it('saves a codebook file that decodes, records its text source, and installs an rvq graph', async () => {
    const progress: CalibrationProgress[] = [];
    const result = await calibrateModel(lib.folder, { text: { kind: 'files', paths: [lib.textFile] }, settings: { ...small, name: 'text' }, onProgress: (p) => progress.push(p) });
    const bytes = new Uint8Array(readFileSync(result.codebookFile));
    const set = decodeCodebooks(bytes);
    expect(set.layers).toHaveLength(tinyConfig.numLayers);
    expect(set.keySpec).toEqual({ headDim: 8, numKvHeads: 2, groupSize: 8, codebookSize: 16, depth: 2, grouping: 'strided', groupSpan: 'head', scale: 'head' });
    expect(set.valueSpec.grouping).toBe('contiguous');
    const record = readCalibrationRecord(result.codebookFile)!;
    expect(record).toEqual(result.record);
    expect(readCodebookHeader(result.codebookFile)).toEqual({ layers: tinyConfig.numLayers, specs: result.specs, record });
    expect(record.source).toEqual({ kind: 'text', files: [{ file: 'stories.txt', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), documents: 12 }] });
    expect(record.tokensSampled).toBe(300);
    expect(record.tokensSeen).toBeGreaterThan(300);
    expect(readManifest(lib.folder).rvq.text).toEqual({ graph: basename(result.graphFile), codebooks: basename(result.codebookFile), version: rvqGraphVersion });
    expect(basename(result.graphFile)).toMatch(/^rvq-text\.\d+-[0-9a-z]+\.onnx$/);
    expect(readdirSync(lib.folder).filter((f) => f.startsWith('.') || f.endsWith('.tmp'))).toEqual([]);
    const session = await ort.InferenceSession.create(result.graphFile);
    expect(session.inputNames).toContain('past_codes.1.value');
    await session.release();
    // progress: capture counts up to every token, training climbs to 1 over both layers and K/V, then save
    const capture = progress.filter((p) => p.phase === 'capture');
    expect(capture.at(-1)).toMatchObject({ tokensSeen: record.tokensSeen, tokensTotal: record.tokensSeen, vectorsHeld: 300 });
    const train = progress.flatMap((p) => (p.phase === 'train' ? [p] : []));
    expect(new Set(train.map((p) => `${p.layer}${p.kind}${p.stage}`)).size).toBe(2 * 2 * 2);
    expect(train.at(-1)?.fraction).toBeCloseTo(1, 10);
    expect(train[0].vectors).toBe(300 * 2);
    expect(progress.at(-1)).toEqual({ phase: 'save' });
    // each stage leaves less residual on the training vectors
    for (const layer of result.residualMse) for (const kind of ['key', 'value'] as const) expect(layer[kind][1]).toBeLessThan(layer[kind][0]);
  });

  it('gives the same codebook bytes for the same seed and different ones for another', async () => {
    const run = async (name: string, seed: number) => {
      const r = await calibrateModel(lib.folder, { text: { kind: 'files', paths: [lib.textFile] }, settings: { ...small, maxVectors: 200, name, seed } });
      return readFileSync(r.codebookFile);
    };
    const a = await run('a', 9);
    const b = await run('b', 9);
    const c = await run('c', 10);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('calibrates on text held in memory, recorded under its name like a file', async () => {
    const text = randomStories(10, 40, 5);
    const result = await calibrateModel(lib.folder, { text: { kind: 'text', name: 'sample.txt', text }, settings: { ...small, name: 'memory' } });
    expect(result.record.source).toEqual({ kind: 'text', files: [{ file: 'sample.txt', sha256: createHash('sha256').update(text).digest('hex'), documents: 10 }] });
  });

  it('calibrates data-free on text the model samples at temperature 1 and says so', async () => {
    const run = async (name: string) => calibrateModel(lib.folder, { text: { kind: 'self-generated', tokens: 400 }, settings: { ...small, name, seed: 3 } });
    const result = await run('self');
    const { source, tokensSeen } = readCalibrationRecord(result.codebookFile)!;
    if (source.kind !== 'self-generated') throw new Error(`recorded source ${source.kind}`);
    expect(source).toMatchObject({ temperature: 1, tokens: 400 });
    // every sample starts with BOS; at most 63 generated tokens fit after it in the 64-token context
    expect(source.samples).toBeGreaterThanOrEqual(Math.ceil(400 / 63));
    expect(tokensSeen).toBe(400 + source.samples);
    expect(readFileSync(result.codebookFile).equals(readFileSync((await run('self2')).codebookFile))).toBe(true);
  });

  it('stops when cancelled, leaving no codebook file behind', async () => {
    const controller = new AbortController();
    const run = calibrateModel(lib.folder, {
      text: { kind: 'files', paths: [lib.textFile] },
      settings: { ...small, name: 'cancelled' },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'train') controller.abort(new Error('stop now'));
      },
    });
    await expect(run).rejects.toThrow('stop now');
    expect(readManifest(lib.folder).rvq.cancelled).toBeUndefined();
    expect(readdirSync(lib.folder).filter((f) => f.includes('cancelled'))).toEqual([]);
  });

  it('rejects settings and text that cannot calibrate, naming the problem', async () => {
    const files = { kind: 'files', paths: [lib.textFile] } as const;
    await expect(calibrateModel(lib.folder, { text: files, settings: { ...small, codebookSize: 12 } })).rejects.toThrow(/codebookSize: must be a power of two/);
    await expect(calibrateModel(lib.folder, { text: files, settings: { ...small, groupSize: 5 } })).rejects.toThrow(/groupSize: 5 must divide the token width/);
    await expect(calibrateModel(lib.folder, { text: files, settings: { ...small, maxVectors: 4 } })).rejects.toThrow(/4 tokens give 8 group vectors per layer, fewer than the 16 codebook entries/);
    await expect(calibrateModel(lib.folder, { text: { kind: 'files', paths: [join(lib.dir, 'missing.txt')] }, settings: small })).rejects.toThrow(/missing\.txt/);
    await expect(calibrateModel(lib.folder, { text: { kind: 'self-generated', tokens: 0 }, settings: small })).rejects.toThrow(/positive whole number of tokens/);
    await expect(calibrateModel(lib.folder, { text: { kind: 'self-generated', tokens: 5 }, settings: small })).rejects.toThrow(/fewer than the 16 codebook entries/);
    expect(readdirSync(lib.folder).filter((f) => f.startsWith('codebooks-default'))).toEqual([]);
  });
});

describe('readCalibrationRecord', () => {
  it('is null for a codebook file without a record and names a malformed one', () => {
    const lib = createTinyLibrary();
    try {
      const spec = calibrationSpecs(tinyConfig, calibrationSettingsSchema.parse({ codebookSize: 2, depth: 1, groupSize: 8 })).key;
      const layers = [{ key: new Float32Array(16), value: new Float32Array(16) }];
      const plain = join(lib.dir, 'plain.safetensors');
      writeFileSync(plain, encodeCodebooks({ keySpec: spec, valueSpec: spec, layers }));
      expect(readCalibrationRecord(plain)).toBeNull();
      const file = decodeSafetensors(encodeCodebooks({ keySpec: spec, valueSpec: spec, layers }));
      const bad = join(lib.dir, 'bad.safetensors');
      writeFileSync(bad, encodeSafetensors(file.tensors, { ...file.metadata, 'reskv.calibration': JSON.stringify({ model: 'x', source: { kind: 'telepathy' } }) }));
      expect(() => readCalibrationRecord(bad)).toThrow(/bad\.safetensors: malformed reskv\.calibration metadata \(source\.kind/);
    } finally {
      lib.cleanup();
    }
  });
});

describe('calibrationSpecs', () => {
  const settings = (input: CalibrationSettingsInput) => calibrationSettingsSchema.parse(input);
  it('keeps groups inside the head when the group size divides head_dim, else spans the token with one scale', () => {
    const stories = { ...tinyConfig, numKvHeads: 4, headDim: 8 };
    expect(calibrationSpecs(stories, settings({}))).toMatchObject({ key: { groupSpan: 'token', scale: 'token', groupSize: 32, codebookSize: 2048, depth: 8, grouping: 'strided' }, value: { grouping: 'contiguous' } });
    expect(calibrationSpecs({ ...tinyConfig, headDim: 64 }, settings({}))).toMatchObject({ key: { groupSpan: 'head', scale: 'head' } });
    expect(calibrationSpecs(stories, settings({ scale: 'none', groupSpan: 'token', groupSize: 8 })).key).toMatchObject({ groupSpan: 'token', scale: 'none' });
  });
});
