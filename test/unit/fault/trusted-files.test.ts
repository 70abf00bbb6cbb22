// Issue 17 findings 2, 3 and 8 (codebooks): every file the engine trusts is checked against the
// manifest's size + sha256 before use; a damaged file is an error naming it and the model, the model
// is listed as damaged, the rest keeps working; a codebook set is replaced in one switch; /v1 never
// quietly falls back to fp16 for a damaged set.
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fileWrites } from '../../../main/atomic-file.js';
import { listApiModels } from '../../../main/backend/completions.js';
import { calibrateModel } from '../../../main/engine/calibration/calibrate.js';
import { installRvqGraph } from '../../../main/library/install-rvq.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { listModels } from '../../../main/model/library.js';
import { importModel } from '../../../main/library/import-model.js';
import { readManifest } from '../../../main/model/manifest.js';
import { decodeSafetensors } from '../../../quant/index.js';
import { createTinyLibrary, tinyConfig } from '../calibration/tiny-library.js';
import type { TinyLibrary } from '../calibration/tiny-library.js';
import { answer } from './fault-setup.js';

const small = { depth: 2, codebookSize: 16, groupSize: 8, maxVectors: 300, kmeansIterations: 3 };

function overwrite(path: string, at: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    closeSync(fd);
  }
}

describe('files the engine trusts', () => {
  let lib: TinyLibrary;
  let rvqAnswer: string;
  let fpAnswer: string;
  const snapshot = new Map<string, Buffer>();

  beforeAll(async () => {
    lib = createTinyLibrary();
    await calibrateModel(lib.folder, { text: { kind: 'files', paths: [lib.textFile] }, settings: { ...small, name: 'default' } });
    rvqAnswer = await answer(lib.folder, { format: 'rvq' });
    fpAnswer = await answer(lib.folder, { format: 'fp16' });
    for (const f of readdirSync(lib.folder)) snapshot.set(f, readFileSync(join(lib.folder, f)));
  });
  afterAll(() => lib.cleanup());

  /** Puts every file back as it was after calibration. */
  function restore(): void {
    for (const f of readdirSync(lib.folder)) if (!snapshot.has(f)) writeFileSync(join(lib.folder, f), ''); // never happens in a passing run
    for (const [f, bytes] of snapshot) writeFileSync(join(lib.folder, f), bytes);
  }

  it('records every file of the model with its size and sha256', () => {
    const manifest = readManifest(lib.folder);
    const named = [manifest.weightsFile, ...Object.values(manifest.graphs), manifest.rvq.default.graph, manifest.rvq.default.codebooks, 'tokenizer.json'];
    for (const f of named) expect(manifest.files?.[f], f).toMatchObject({ bytes: readFileSync(join(lib.folder, f)).length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('random bytes inside the rvq graph are an error naming the file and the model, not empty text', async () => {
    const manifest = readManifest(lib.folder);
    const graph = join(lib.folder, manifest.rvq.default.graph);
    overwrite(graph, Math.floor(readFileSync(graph).length / 2), Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 255));
    try {
      await expect(answer(lib.folder, { format: 'rvq' })).rejects.toThrow(new RegExp(`${manifest.rvq.default.graph.replace(/\./g, '\\.')} of model tiny is damaged: its sha256`));
      const listed = listModels(lib.library).find((e) => e.manifest?.id === 'tiny');
      expect(listed?.problem).toMatch(/rvq-default\..*\.onnx of model tiny is damaged/);
      // the model's other caches and files are untouched and still answer as before
      expect(await answer(lib.folder, { format: 'fp16' })).toBe(fpAnswer);
    } finally {
      restore();
    }
    expect(await answer(lib.folder, { format: 'rvq' })).toBe(rvqAnswer);
  });

  it('one overwritten codebook tensor is detected, by rvq and rvq/keys alike', async () => {
    const manifest = readManifest(lib.folder);
    const file = join(lib.folder, manifest.rvq.default.codebooks);
    const bytes = readFileSync(file);
    const { tensors } = decodeSafetensors(new Uint8Array(bytes));
    const name = Object.keys(tensors).find((t) => t.includes('key'))!;
    // the tensor's bytes lie after the 8-byte length and the JSON header; overwrite it whole with zeros
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    const [start, end] = header[name].data_offsets;
    overwrite(file, 8 + headerLength + start, new Uint8Array(end - start));
    try {
      for (const cache of [{ format: 'rvq' as const }, { format: 'rvq' as const, only: 'key' as const }]) {
        await expect(answer(lib.folder, cache)).rejects.toThrow(/codebooks-default\..*\.safetensors of model tiny is damaged/);
      }
    } finally {
      restore();
    }
  });

  it('a damaged codebook file keeps rvq on offer for /v1, so a request fails naming it instead of running fp16', () => {
    const manifest = readManifest(lib.folder);
    overwrite(join(lib.folder, manifest.rvq.default.codebooks), 200, new Uint8Array(16).fill(0xff));
    const saved = process.env.RESKV_LIBRARY;
    process.env.RESKV_LIBRARY = lib.library;
    try {
      const [model] = listApiModels(lib.dir);
      expect(model.caches).toContain('rvq');
      expect(model.caches).toContain('rvq:default');
    } finally {
      if (saved === undefined) delete process.env.RESKV_LIBRARY;
      else process.env.RESKV_LIBRARY = saved;
      restore();
    }
  });

  it('a truncated weights file is an error naming it', async () => {
    const manifest = readManifest(lib.folder);
    const weights = join(lib.folder, manifest.weightsFile);
    writeFileSync(weights, snapshot.get(manifest.weightsFile)!.subarray(0, 1000));
    try {
      await expect(answer(lib.folder, { format: 'fp16' })).rejects.toThrow(/weights\.bin of model tiny is damaged: 1000 bytes, the manifest records \d+/);
    } finally {
      restore();
    }
  });

  it('a codebook set replaced on a full disk keeps the old set whole (ENOSPC through the write seam)', async () => {
    const before = readManifest(lib.folder).rvq.default;
    const codebooks = join(lib.dir, 'replacement.safetensors');
    writeFileSync(codebooks, readFileSync(join(lib.folder, before.codebooks)));
    for (const step of ['copy', 'write'] as const) {
      const spy = vi.spyOn(fileWrites, step).mockImplementation(() => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      });
      try {
        expect(() => installRvqGraph(lib.folder, codebooks, 'default')).toThrow(/cannot write .*(codebooks|rvq)-default\..*: ENOSPC/);
      } finally {
        spy.mockRestore();
      }
      expect(readManifest(lib.folder).rvq.default).toEqual(before);
      expect(await answer(lib.folder, { format: 'rvq' })).toBe(rvqAnswer);
    }
    // nothing of the failed attempts is left behind
    expect(readdirSync(lib.folder).sort()).toEqual([...snapshot.keys()].sort());
  });
});

describe('NaN logits', () => {
  it('name the model and its weights file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reskv-nan-'));
    try {
      // a checkpoint whose final norm holds NaN: imported faithfully (its hashes match), so only the run sees it
      const random = new RandomWeights(tinyConfig, 7);
      const poisoned = (name: string, rows: Float32Array) => (name === 'model.norm.weight' ? rows.fill(NaN) : rows);
      const weights = {
        shapes: random.shapes,
        read: (name: string) => poisoned(name, random.read(name)),
        readRows: (name: string, start: number, count: number) => poisoned(name, random.readRows(name, start, count)),
        close: () => {},
      };
      writeHfFolder(join(dir, 'nan-hf'), tinyConfig, weights);
      const { folder } = importModel(join(dir, 'nan-hf'), { library: join(dir, 'library'), id: 'nan' });
      await expect(answer(folder, { format: 'fp16' })).rejects.toThrow(/model nan \(.*nan\/weights\.bin\): the model produced a NaN logit/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
