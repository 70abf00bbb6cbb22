// Weight format as a dimension: models imported from one checkpoint with different --weights are
// siblings (the manifest knows the source), and `reskv eval --siblings` scores them side by side
// against the widest weights' fp16 cache.
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { evalCommand } from '../../../main/cli/eval.js';
import { importModel } from '../../../main/library/import-model.js';
import { weightSiblings } from '../../../main/model/library.js';
import { readManifest } from '../../../main/model/manifest.js';
import { createTinyLibrary } from '../calibration/tiny-library.js';

describe('weight-format siblings', () => {
  const lib = createTinyLibrary(); // 'tiny', float32 weights (the default for a tiny model)
  const checkpoint = join(lib.dir, 'tiny-hf');
  importModel(checkpoint, { library: lib.library, id: 'tiny-int4', weightType: 'int4' });
  importModel(checkpoint, { library: lib.library, id: 'tiny-int8', weightType: 'int8' });
  // the same files under another path are another checkpoint as far as the library knows
  cpSync(checkpoint, join(lib.dir, 'copy'), { recursive: true });
  importModel(join(lib.dir, 'copy'), { library: lib.library, id: 'other', weightType: 'int8' });
  afterAll(() => lib.cleanup());
  afterEach(() => vi.restoreAllMocks());

  it('are the models with the same source, widest weights first', () => {
    const siblings = weightSiblings(lib.library, readManifest(join(lib.library, 'tiny-int4')));
    expect(siblings.map((s) => [s.manifest.id, s.manifest.weightType])).toEqual([
      ['tiny', 'float32'],
      ['tiny-int8', 'int8'],
      ['tiny-int4', 'int4'],
    ]);
    expect(weightSiblings(lib.library, readManifest(join(lib.library, 'other'))).map((s) => s.manifest.id)).toEqual(['other']);
  });

  it('are scored side by side by reskv eval --siblings', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const args = ['--model', 'tiny-int8', '--library', lib.library, '--text', lib.textFile, '--max-tokens', '48', '--formats', 'fp16,q8_0', '--siblings'];
    expect(await evalCommand.run([...args, '--json'])).toBe(0);
    const out = JSON.parse(String(log.mock.calls[0][0])) as {
      models: { model: string; weights: string; results: { name: string; perplexity: number }[] }[];
      weightTable: { weights: string; model: string; cache: string; perplexity: number; vsWidestFp16Percent: number; vsSameWeightsFp16Percent: number }[];
    };
    expect(out.models.map((m) => m.weights)).toEqual(['float32', 'int8', 'int4']);
    expect(out.weightTable.map((r) => `${r.weights} ${r.cache}`)).toEqual(['float32 fp16', 'float32 q8_0', 'int8 fp16', 'int8 q8_0', 'int4 fp16', 'int4 q8_0']);
    const fp32 = out.weightTable[0].perplexity;
    for (const r of out.weightTable) {
      expect(r.vsWidestFp16Percent).toBeCloseTo((100 * (r.perplexity - fp32)) / fp32, 10);
      if (r.cache === 'fp16') expect(r.vsSameWeightsFp16Percent).toBe(0);
    }
    // int4 weights change the model: its perplexity differs from the float32 one
    expect(Math.abs(out.weightTable[4].vsWidestFp16Percent)).toBeGreaterThan(0.01);

    log.mockClear();
    expect(await evalCommand.run(args)).toBe(0);
    const text = log.mock.calls.map((c) => String(c[0])).join('\n');
    expect(text).toContain('weights x cache, against tiny (float32 weights) with the fp16 cache:');
    expect(text).toMatch(/int4\s+tiny-int4\s+q8_0\s+\d+\.\d{4}\s+[+-]\d+\.\d\d%\s+[+-]\d+\.\d\d%/);
  });
});
