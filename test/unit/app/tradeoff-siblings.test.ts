// Tradeoffs' weights column: a sweep records its model's weight format, the history of a model lists
// every model imported from the same checkpoint with its newest sweep, and the view's table puts
// them side by side against the widest weights' fp16 cache (only sweeps over the same text).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSnapshot, TradeoffSweepOptions } from '../../../main/api/types.js';
import { JobRegistry } from '../../../main/backend/jobs.js';
import { readTradeoffHistory, startTradeoffSweep } from '../../../main/backend/tradeoffs.js';
import { calibrateModel } from '../../../main/engine/calibration/calibrate.js';
import { importModel } from '../../../main/library/import-model.js';
import { weightTable } from '../../../renderer/src/views/tradeoffs/weight-siblings.js';
import { createTinyLibrary, randomStories } from '../calibration/tiny-library.js';

describe('weight-format siblings in Tradeoffs', () => {
  const lib = createTinyLibrary(); // <dir>/library/tiny: float32 weights
  const dataDir = lib.dir;
  const options: TradeoffSweepOptions = { textPath: lib.textFile, maxTokens: 40, codebookSets: [], maxDepth: 2, scalarBaselines: false, latencyContext: 8, latencySteps: 2 };
  const snapshots: JobSnapshot[] = [];
  const jobs = new JobRegistry((job) => snapshots.push(job));
  const sweep = async (model: string, textPath = options.textPath) => {
    const { id } = startTradeoffSweep(dataDir, jobs, model, { ...options, textPath });
    const end = () => snapshots.find((s) => s.id === id && s.state !== 'running');
    while (!end()) await new Promise((r) => setTimeout(r, 20));
    expect(end()!.state, end()!.message ?? '').toBe('done');
  };

  beforeAll(async () => {
    process.env.RESKV_LIBRARY = lib.library;
    importModel(join(lib.dir, 'tiny-hf'), { library: lib.library, id: 'tiny-int4', weightType: 'int4' });
    importModel(join(lib.dir, 'tiny-hf'), { library: lib.library, id: 'tiny-int8', weightType: 'int8' });
    const settings = { depth: 2, codebookSize: 16, groupSize: 8, maxVectors: 500, kmeansIterations: 3 };
    for (const id of ['tiny', 'tiny-int4', 'tiny-int8']) await calibrateModel(join(lib.library, id), { text: { kind: 'files', paths: [lib.textFile] }, settings });
    await sweep('tiny');
    await sweep('tiny-int4');
    const other = join(lib.dir, 'other.txt');
    writeFileSync(other, randomStories(6, 30, 11));
    await sweep('tiny-int8', other);
  }, 120_000);
  afterAll(() => {
    delete process.env.RESKV_LIBRARY;
    lib.cleanup();
  });

  it('keeps the weight format with a sweep and lists the siblings widest first', () => {
    const history = readTradeoffHistory(dataDir, 'tiny-int4');
    expect(history.runs[0].weights).toBe('int4');
    expect(history.siblings.map((s) => [s.model, s.weights, s.run?.weights])).toEqual([
      ['tiny', 'float32', 'float32'],
      ['tiny-int8', 'int8', 'int8'],
      ['tiny-int4', 'int4', 'int4'],
    ]);
    expect(readTradeoffHistory(dataDir, 'no-such-model').siblings).toEqual([]);
  });

  it('sets the sweeps over the same text side by side against the widest fp16 cache', () => {
    const history = readTradeoffHistory(dataDir, 'tiny-int4');
    const table = weightTable(history.runs[0], history.siblings);
    expect(table.widest).toEqual({ model: 'tiny', weights: 'float32' });
    expect(table.missing).toEqual([expect.stringMatching(/^tiny-int8 \(int8\): newest sweep is over other text \(other\.txt, 40 tokens\)$/)]);
    expect(table.rows.map((r) => `${r.weights} ${r.cache}`)).toEqual(['float32 fp16', 'float32 rvq:default d1', 'float32 rvq:default d2', 'int4 fp16', 'int4 rvq:default d1', 'int4 rvq:default d2']);
    const reference = table.rows[0].perplexity;
    expect(table.rows[0].vsWidest).toBe(0);
    for (const r of table.rows) expect(r.vsWidest).toBeCloseTo((100 * (r.perplexity - reference)) / reference, 10);
    expect(table.rows[3].vsSameWeights).toBe(0);
    expect(table.rows[3].perplexity).not.toBe(reference); // int4 weights are another model
  });
});
