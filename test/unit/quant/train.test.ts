import { describe, expect, it } from 'vitest';
import { EmaCodebook } from '../../../quant/ema.js';
import { trainResidualCodebooks, assignWithEncoder } from '../../../quant/train.js';
import type { TrainingProgress } from '../../../quant/train.js';
import { RvqCodec } from '../../../quant/rvq-codec.js';
import { parseRvqSpec } from '../../../quant/spec.js';
import { createRng } from '../../../quant/prng.js';
import { syntheticKvSource } from '../../../quant/synthetic.js';
import { mse } from '../../../quant/metrics.js';

const spec = parseRvqSpec({ headDim: 16, numKvHeads: 1, groupSize: 8, codebookSize: 16, depth: 4, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const rows = syntheticKvSource({ headDim: 16, seed: 5 }).sample(400, createRng(11));
const fast = { kmeansIterations: 4, batchSize: 128 };

describe('EMA codebook update', () => {
  it('follows the EmbeddingEMA formula on a tiny case', () => {
    // entries e = (0), (10); sizes N = (1, 1); decay 0.5; eps 0.1; batch 1, 2 -> entry 0, 12 -> entry 1
    const ema = new EmaCodebook(new Float32Array([0, 10]), 2, 1, new Float64Array([1, 1]), 0.5, 0.1);
    ema.update(new Float32Array([1, 2, 12]), 3, new Uint32Array([0, 0, 1]));
    const N = [0.5 * 1 + 0.5 * 2, 0.5 * 1 + 0.5 * 1]; // 1.5, 1
    const S = [0.5 * 0 + 0.5 * 3, 0.5 * 10 + 0.5 * 12]; // 1.5, 11
    const total = N[0] + N[1];
    const smoothed = N.map((n) => ((n + 0.1) / (total + 2 * 0.1)) * total);
    expect(Array.from(ema.clusterSize)).toEqual(N);
    expect(ema.embed[0]).toBeCloseTo(S[0] / smoothed[0], 6);
    expect(ema.embed[1]).toBeCloseTo(S[1] / smoothed[1], 6);
  });

  it('re-seeds entries whose usage fell below the threshold from the batch', () => {
    const ema = new EmaCodebook(new Float32Array([0, 10]), 2, 1, new Float64Array([1, 0.001]), 0.99, 1e-5);
    const batch = new Float32Array([4, 4, 4]);
    expect(ema.reseedDead(batch, 3, 0.5, createRng(1))).toBe(1);
    expect(Array.from(ema.embed)).toEqual([0, 4]);
    expect(ema.clusterSize[1]).toBe(0.5);
    expect(ema.embedSum[1]).toBe(2);
  });
});

describe('trainResidualCodebooks', () => {
  it('gives error that does not grow with depth on the training data', async () => {
    const { codebooks, residualMse } = await trainResidualCodebooks(rows, spec, { seed: 1, ...fast });
    for (let s = 1; s < residualMse.length; s++) expect(residualMse[s]).toBeLessThanOrEqual(residualMse[s - 1]);
    const codec = new RvqCodec(spec, codebooks);
    const encoded = codec.encode(rows);
    const errors = [1, 2, 3, 4].map((d) => mse(rows, codec.decode(encoded, d)));
    for (let d = 1; d < errors.length; d++) expect(errors[d]).toBeLessThanOrEqual(errors[d - 1]);
    expect(errors[3]).toBeLessThan(errors[0] / 2);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await trainResidualCodebooks(rows, spec, { seed: 3, ...fast });
    const b = await trainResidualCodebooks(rows, spec, { seed: 3, ...fast });
    const c = await trainResidualCodebooks(rows, spec, { seed: 4, ...fast });
    expect(b.codebooks).toEqual(a.codebooks);
    expect(c.codebooks).not.toEqual(a.codebooks);
  });

  it('uses a pluggable assign step and reports progress to completion', async () => {
    let calls = 0;
    const progress: TrainingProgress[] = [];
    await trainResidualCodebooks(rows, spec, {
      ...fast,
      assign: (batch, codebook, shape) => {
        calls++;
        return assignWithEncoder(batch, codebook, shape);
      },
      onProgress: (p) => progress.push(p),
    });
    // per stage: 4 k-means iterations + 7 EMA batches + 7 residual batches (800 vectors / 128)
    expect(calls).toBe(4 * (4 + 7 + 7));
    expect(progress.map((p) => p.fraction)).toEqual([...progress.map((p) => p.fraction)].sort((x, y) => x - y));
    expect(progress.at(-1)?.fraction).toBe(1);
    expect(new Set(progress.map((p) => p.phase))).toEqual(new Set(['kmeans', 'ema', 'residual']));
  });

  it('rejects a wrong answer from an external assign', async () => {
    await expect(trainResidualCodebooks(rows, spec, { ...fast, assign: (batch) => new Uint32Array(batch.length / 8).fill(16) })).rejects.toThrow(/code 16 for vector 0; the codebook has 16 entries/);
    await expect(trainResidualCodebooks(rows, spec, { ...fast, assign: () => new Uint32Array(3) })).rejects.toThrow(/returned 3 codes/);
  });

  it('can be cancelled', async () => {
    const controller = new AbortController();
    const run = trainResidualCodebooks(rows, spec, { ...fast, signal: controller.signal, onProgress: (p) => p.stage === 1 && controller.abort() });
    await expect(run).rejects.toThrow(/abort/i);
  });

  it('rejects too little data and absurd options', async () => {
    await expect(trainResidualCodebooks(rows.subarray(0, 16 * 7), spec)).rejects.toThrow(/at least 16 group vectors/);
    await expect(trainResidualCodebooks(rows, spec, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer/);
    await expect(trainResidualCodebooks(rows, spec, { decay: 1 })).rejects.toThrow(/decay must be in \(0, 1\)/);
  });
});
