// Codebook learning for one layer and one of K/V (Kumar 2024, sec. 3): training token rows are scaled
// and grouped exactly as the encoder does; then, stage by stage on the residuals, the stage codebook is
// initialised by k-means on a random sample and refined by EMA updates (EmaCodebook) over shuffled
// batches of all training vectors; finally every vector is coded with the finished codebook and its
// residual passed to the next stage. Deterministic for a seed and a deterministic `assign`.
import { EmaCodebook } from './ema.js';
import { groupLayout, rowsToGroups, tokenCount } from './grouping.js';
import { kmeans } from './kmeans.js';
import type { AssignNearest } from './kmeans.js';
import { addEntries, assignNearest, prepareCodebook } from './nearest.js';
import { createRng, sampleIndices } from './prng.js';
import type { RvqSpec } from './spec.js';

export type { AssignNearest } from './kmeans.js';

export interface TrainingProgress {
  stage: number;
  phase: 'kmeans' | 'ema' | 'residual';
  /** Overall completion, 0..1. */
  fraction: number;
  /** Entries re-seeded so far in this stage's EMA phase. */
  reseeded: number;
}

export interface TrainOptions {
  seed?: number;
  /** Vectors sampled for the k-means initialisation (default 32 per entry, at most all). */
  kmeansSample?: number;
  kmeansIterations?: number;
  /** Passes of EMA updates over all training vectors per stage. */
  emaPasses?: number;
  /** Group vectors per EMA batch. */
  batchSize?: number;
  decay?: number;
  eps?: number;
  /** An entry whose EMA cluster size drops below this fraction of the uniform share batch/C is re-seeded. */
  deadFraction?: number;
  /** Nearest-entry search; defaults to this library's encoder kernel. */
  assign?: AssignNearest;
  onProgress?: (progress: TrainingProgress) => void;
  signal?: AbortSignal;
}

export interface TrainedCodebooks {
  /** [depth, C, groupSize]. */
  codebooks: Float32Array;
  /** Mean squared residual per value (in scaled units) on the training vectors after each stage. */
  residualMse: number[];
}

/** The library's own search as an AssignNearest. */
export const assignWithEncoder: AssignNearest = (batch, codebook, { entries, dim }) => {
  const codes = new Uint32Array(batch.length / dim);
  assignNearest(prepareCodebook(codebook, entries, dim), batch, codes.length, codes);
  return codes;
};

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`training option ${name} must be a positive integer, got ${value}`);
  return value;
}

export async function trainResidualCodebooks(rows: Float32Array, spec: RvqSpec, options: TrainOptions = {}): Promise<TrainedCodebooks> {
  const { codebookSize: C, groupSize: dim, depth } = spec;
  const layout = groupLayout(spec);
  const tokens = tokenCount(rows, layout.width);
  const count = tokens * layout.groups;
  if (count < C) throw new Error(`training needs at least ${C} group vectors (codebookSize) but ${tokens} tokens give ${count}`);
  const kmeansSample = Math.min(count, positiveInteger('kmeansSample', options.kmeansSample ?? 32 * C));
  if (kmeansSample < C) throw new RangeError(`training option kmeansSample (${kmeansSample}) must be at least codebookSize ${C}`);
  const kmeansIterations = positiveInteger('kmeansIterations', options.kmeansIterations ?? 10);
  const emaPasses = options.emaPasses ?? 1;
  if (!Number.isInteger(emaPasses) || emaPasses < 0) throw new RangeError(`training option emaPasses must be a non-negative integer, got ${emaPasses}`);
  const batchSize = Math.min(count, positiveInteger('batchSize', options.batchSize ?? 4096));
  const decay = options.decay ?? 0.99;
  if (!(decay > 0 && decay < 1)) throw new RangeError(`training option decay must be in (0, 1), got ${decay}`);
  const eps = options.eps ?? 1e-5;
  const deadThreshold = (options.deadFraction ?? 0.05) * (batchSize / C);
  const assign = checkedAssign(options.assign ?? assignWithEncoder);
  const rng = createRng(options.seed ?? 0);

  const residuals = new Float32Array(rows.length);
  rowsToGroups(layout, rows, tokens, residuals, new Uint16Array(tokens * layout.scalesPerToken));

  const batchesPerPass = Math.ceil(count / batchSize);
  const stepsPerStage = kmeansIterations + emaPasses * batchesPerPass + batchesPerPass;
  let step = 0;
  let lastYield = Date.now();
  const tick = async (stage: number, phase: TrainingProgress['phase'], reseeded: number): Promise<void> => {
    step++;
    options.onProgress?.({ stage, phase, fraction: step / (stepsPerStage * depth), reseeded });
    // Let timers and messages (and so an abort) through on long synchronous runs.
    if (Date.now() - lastYield > 50) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      lastYield = Date.now();
    }
    options.signal?.throwIfAborted();
  };

  options.signal?.throwIfAborted();
  const codebooks = new Float32Array(depth * C * dim);
  const residualMse: number[] = [];
  const batch = new Float32Array(batchSize * dim);
  for (let stage = 0; stage < depth; stage++) {
    const sample = gatherRows(residuals, sampleIndices(rng, count, kmeansSample), dim);
    const init = await kmeans(sample, kmeansSample, dim, C, kmeansIterations, rng, assign, () => tick(stage, 'kmeans', 0));
    // k-means sizes are per sample; EMA sizes are per batch.
    const sizes = init.sizes.map((n) => (n * batchSize) / kmeansSample);
    const ema = new EmaCodebook(init.centroids, C, dim, sizes, decay, eps);
    let reseeded = 0;
    for (let pass = 0; pass < emaPasses; pass++) {
      const order = sampleIndices(rng, count, count); // a random permutation
      for (let from = 0; from < count; from += batchSize) {
        const n = Math.min(batchSize, count - from);
        gatherRows(residuals, order.subarray(from, from + n), dim, batch);
        const view = batch.subarray(0, n * dim);
        ema.update(view, n, await assign(view, ema.embed, { entries: C, dim }));
        reseeded += ema.reseedDead(view, n, deadThreshold, rng);
        await tick(stage, 'ema', reseeded);
      }
    }
    const book = codebooks.subarray(stage * C * dim, (stage + 1) * C * dim);
    book.set(ema.embed);
    let squares = 0;
    for (let from = 0; from < count; from += batchSize) {
      const n = Math.min(batchSize, count - from);
      const view = residuals.subarray(from * dim, (from + n) * dim);
      addEntries(view, n, book, dim, await assign(view, book, { entries: C, dim }), -1);
      for (let k = 0; k < view.length; k++) squares += view[k] * view[k];
      await tick(stage, 'residual', reseeded);
    }
    residualMse.push(squares / (count * dim));
  }
  return { codebooks, residualMse };
}

/** Copies rows `indices` of a [*, dim] matrix into out (default: a new array). */
function gatherRows(matrix: Float32Array, indices: Uint32Array, dim: number, out: Float32Array = new Float32Array(indices.length * dim)): Float32Array {
  for (let i = 0; i < indices.length; i++) out.set(matrix.subarray(indices[i] * dim, (indices[i] + 1) * dim), i * dim);
  return out;
}

/** Wraps a (possibly external) search so a wrong answer fails loudly instead of corrupting training. */
function checkedAssign(assign: AssignNearest): AssignNearest {
  return async (batch, codebook, shape) => {
    const codes = await assign(batch, codebook, shape);
    const count = batch.length / shape.dim;
    if (codes.length !== count) throw new Error(`assign returned ${codes.length} codes for ${count} vectors`);
    for (let i = 0; i < count; i++) {
      if (codes[i] >= shape.entries) throw new Error(`assign returned code ${codes[i]} for vector ${i}; the codebook has ${shape.entries} entries`);
    }
    return codes;
  };
}
