// Import into the model library: graphs on disk with shared external weights, manifest, tokenizer,
// progress, and nothing left behind when an import fails.
import * as ort from 'onnxruntime-node';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { readHfCheckpoint } from '../../../main/model/hf.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import type { ImportProgress } from '../../../main/library/import-model.js';
import { listModels, loadLibraryTokenizer } from '../../../main/model/library.js';
import { importModel } from '../../../main/library/import-model.js';
import { installRvqGraph } from '../../../main/library/install-rvq.js';
import { buildRvqDecoderGraph, rvqGraphVersion } from '../../../main/onnx/rvq-cache.js';
import { createRng, encodeCodebooks, parseRvqSpec } from '../../../quant/index.js';
import { readManifest } from '../../../main/model/manifest.js';
import { ReferenceModel, referenceGreedy } from '../../../main/model/reference.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { emptyFpCache, graphGreedy, maxLogitError, stepFeeds } from './session.js';
import { tinyModels } from './tiny-models.js';

const dir = mkdtempSync(join(tmpdir(), 'reskv-library-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('importing stories260K', () => {
  it('writes a library folder whose graphs generate the reference story', async () => {
    const library = join(dir, 'lib1');
    const progress: ImportProgress[] = [];
    const { folder, manifest } = importModel(fixtures.stories260K, { library, onProgress: (p) => progress.push(p) });
    expect(folder).toBe(join(library, 'stories260K'));
    expect(readdirSync(library)).toEqual(['stories260K']);
    expect(readManifest(folder)).toEqual(manifest);
    // file = 28-byte header + float32 weights + two legacy RoPE tables of 512 x 4 floats
    const params = (1056540 - 28 - 2 * 512 * 4 * 4) / 4;
    expect(manifest).toMatchObject({ parameterCount: params, bosId: 1, eosIds: [2], tokenizer: { format: 'llama2c' } });
    // progress climbs to the total, which is the float32 weight bytes
    expect(progress[0].bytesDone).toBe(0);
    expect(progress.at(-1)).toMatchObject({ bytesDone: params * 4, bytesTotal: params * 4 });
    // the weights are stored once, shared by both graphs
    expect(manifest.weightsBytes).toBeLessThan(params * 4 + 64 * 100);
    expect(readFileSync(join(folder, 'fp.onnx')).length).toBeLessThan(100_000);

    const ck = readLlama2cCheckpoint(fixtures.stories260K);
    const weights = readAllWeights(ck.weights);
    ck.weights.close();
    const session = await ort.InferenceSession.create(join(folder, manifest.graphs.fp));
    const tok = loadLibraryTokenizer(folder, manifest);
    const ids = await graphGreedy(session, manifest.config, [1], 30);
    expect(ids).toEqual(referenceGreedy(new ReferenceModel(manifest.config, weights), [1], 30));
    expect(tok.decode([1, ...ids])).toMatch(/^Once upon a time, there was a little girl named Lily\./);

    const halfCache = await ort.InferenceSession.create(join(folder, manifest.graphs.fpHalfCache));
    const halfOut = await halfCache.run({ ...stepFeeds([1, 265], 0), ...emptyFpCache(manifest.config, 'float16') });
    expect(halfOut['present.0.key'].type).toBe('float16');
    const capture = await ort.InferenceSession.create(join(folder, manifest.graphs.capture));
    expect(capture.outputNames).toContain('keys_pre_rope.4');

    // an rvq graph installed later shares the weights file and runs like one built from the checkpoint
    const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 64, depth: 2, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });
    const rng = createRng(3);
    const set = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: 5 }, () => ({ key: Float32Array.from({ length: 2 * 64 * 32 }, () => rng.normal()), value: Float32Array.from({ length: 2 * 64 * 32 }, () => rng.normal()) })) };
    const codebookFile = join(dir, 'books.safetensors');
    writeFileSync(codebookFile, encodeCodebooks(set));
    const updated = installRvqGraph(folder, codebookFile, 'test');
    // the set's files carry a generation (pid-time), so a later replacement writes new files and switches the manifest
    expect(readManifest(folder).rvq).toEqual({ test: { graph: expect.stringMatching(/^rvq-test\.\d+-[0-9a-z]+\.onnx$/), codebooks: expect.stringMatching(/^codebooks-test\.\d+-[0-9a-z]+\.safetensors$/), version: rvqGraphVersion } });
    expect(updated.rvq.test).toEqual(readManifest(folder).rvq.test);
    // codebooks (each stage with its zero row) and the graph, not the ~1 MB of weights
    expect(readFileSync(join(folder, updated.rvq.test.graph)).length).toBeLessThan(2 * 5 * 2 * 65 * 32 * 4 + 150_000);
    const installed = await ort.InferenceSession.create(join(folder, updated.rvq.test.graph));
    const ck2 = readLlama2cCheckpoint(fixtures.stories260K);
    const direct = await ort.InferenceSession.create(buildRvqDecoderGraph(ck2.config, ck2.weights, set));
    ck2.weights.close();
    const feeds: Record<string, ort.Tensor> = {
      ...stepFeeds([1, 265, 270], 0, 'int32'),
      depth: new ort.Tensor('int32', Int32Array.of(2), [1]),
      window_size: new ort.Tensor('int32', Int32Array.of(0), [1]),
    };
    for (let i = 0; i < 5; i++) {
      for (const kind of ['key', 'value']) {
        feeds[`past_codes.${i}.${kind}`] = new ort.Tensor('uint8', new Uint8Array(0), [1, 0, 2]);
        feeds[`past_depths.${i}.${kind}`] = new ort.Tensor('uint8', new Uint8Array(0), [1, 0]);
        feeds[`past_scales.${i}.${kind}`] = new ort.Tensor('float16', new Uint16Array(0), [1, 0, 1]);
        feeds[`past_window.${i}.${kind}`] = new ort.Tensor('float16', new Uint16Array(0), [1, 0, 32]);
      }
    }
    expect((await installed.run(feeds)).logits.data).toEqual((await direct.run(feeds)).logits.data);
    writeFileSync(codebookFile, encodeCodebooks({ ...set, layers: set.layers.slice(0, 4) }));
    expect(() => installRvqGraph(folder, codebookFile, 'bad')).toThrow('codebooks are for 4 layers, the model has 5');
    writeFileSync(codebookFile, 'junk');
    expect(() => installRvqGraph(folder, codebookFile, 'bad')).toThrow(/^books\.safetensors: /);

    expect(() => importModel(fixtures.stories260K, { library })).toThrow(/already exists/);
    expect(listModels(library).map((e) => e.manifest?.id)).toEqual(['stories260K']);
  });
});

describe('importing a Hugging Face folder', () => {
  const config = tinyModels['qwen2 (qkv biases, tied, GQA 2)'];
  const source = join(dir, 'tiny-qwen');
  writeHfFolder(source, config, new RandomWeights(config, 11), { dtype: 'BF16' });

  it('imports with float16 weights and keeps tokenizer files', async () => {
    const library = join(dir, 'lib2');
    const { folder, manifest } = importModel(source, { library, weightType: 'float16', id: 'qwen-tiny' });
    expect(manifest.weightType).toBe('float16');
    expect(manifest.tokenizer).toEqual({ format: 'huggingface', files: ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'config.json'] });
    expect(loadLibraryTokenizer(folder, manifest).eosIds).toEqual([0, 2]);
    // bf16 source values are exactly representable in fp16 here (|w| well inside range, 8-bit mantissa)
    const ck = readHfCheckpoint(source);
    const ref = new ReferenceModel(config, readAllWeights(ck.weights));
    ck.weights.close();
    const session = await ort.InferenceSession.create(join(folder, manifest.graphs.fp));
    const prompt = [4, 8, 15, 16];
    const out = await session.run({ ...stepFeeds(prompt, 0), ...emptyFpCache(config) });
    expect(maxLogitError(ref, prompt, out.logits.data as Float32Array)).toBeLessThan(1e-4);
  });

  it('leaves nothing behind when the import fails part-way', () => {
    const library = join(dir, 'lib3');
    expect(() =>
      importModel(source, {
        library,
        onProgress: (p) => {
          if (p.bytesDone > p.bytesTotal / 2) throw new Error('cancelled by test');
        },
      }),
    ).toThrow('cancelled by test');
    expect(readdirSync(library)).toEqual([]);
    const broken = join(dir, 'broken');
    writeHfFolder(broken, config, new RandomWeights(config, 1));
    writeFileSync(join(broken, 'model.safetensors'), readFileSync(join(broken, 'model.safetensors')).subarray(0, 1000));
    expect(() => importModel(broken, { library })).toThrow(/^model\.safetensors: /);
    expect(readdirSync(library)).toEqual([]);
    expect(existsSync(join(library, 'broken'))).toBe(false);
    // a bad tokenizer is found before any weight is converted
    writeHfFolder(broken, config, new RandomWeights(config, 1));
    writeFileSync(join(broken, 'tokenizer.json'), '{"model": ');
    const progress = vi.fn();
    expect(() => importModel(broken, { library, onProgress: progress })).toThrow(/^tokenizer\.json: not valid JSON/);
    expect(progress).not.toHaveBeenCalled();
    expect(readdirSync(library)).toEqual([]);
  });

  it('clears temporary folders that killed imports left behind', () => {
    const library = join(dir, 'lib4');
    const abandoned = join(library, '.importing-old-999999999-1');
    const running = join(library, `.importing-other-${process.pid}-1`);
    mkdirSync(abandoned, { recursive: true });
    mkdirSync(running, { recursive: true });
    importModel(source, { library, id: 'fresh' });
    expect(readdirSync(library).sort()).toEqual([`.importing-other-${process.pid}-1`, 'fresh']);
  });

  it('reports a library folder with a damaged manifest instead of failing the listing', () => {
    const library = join(dir, 'lib2');
    writeFileSync(join(library, 'qwen-tiny', 'manifest.json'), '{"format": "reskv-model/1"}');
    const [entry] = listModels(library);
    expect(entry.manifest).toBeNull();
    expect(entry.problem).toMatch(/invalid manifest \(id: /);
  });
});
