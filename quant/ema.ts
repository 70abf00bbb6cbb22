// Exponential-moving-average codebook updates, as taming-transformers' EmbeddingEMA:
//   N_i <- decay * N_i + (1 - decay) * count_i          (cluster sizes)
//   S_i <- decay * S_i + (1 - decay) * sum_{x -> i} x   (embedding sums)
//   n_i  = (N_i + eps) / (N + C * eps) * N,  N = sum_i N_i   (Laplace smoothing)
//   e_i  = S_i / n_i
// Sizes are in vectors per batch. Entries whose N_i falls below a threshold are re-seeded (see reseedDead).
import type { Rng } from './prng.js';

export class EmaCodebook {
  /** [entries, dim]: the current codebook e. */
  readonly embed: Float32Array;
  /** N_i. */
  readonly clusterSize: Float64Array;
  /** S_i, [entries, dim]. */
  readonly embedSum: Float64Array;
  private readonly counts: Float64Array;
  private readonly sums: Float64Array;

  constructor(
    embed: Float32Array,
    readonly entries: number,
    readonly dim: number,
    initialSizes: Float64Array,
    readonly decay = 0.99,
    readonly eps = 1e-5,
  ) {
    this.embed = embed;
    this.clusterSize = Float64Array.from(initialSizes);
    // Start consistent with the initial codebook: S_i = N_i * e_i.
    this.embedSum = new Float64Array(entries * dim);
    for (let i = 0; i < entries; i++) {
      for (let t = 0; t < dim; t++) this.embedSum[i * dim + t] = embed[i * dim + t] * initialSizes[i];
    }
    this.counts = new Float64Array(entries);
    this.sums = new Float64Array(entries * dim);
  }

  /** One EMA step with a batch [count, dim] and its nearest-entry codes. */
  update(batch: Float32Array, count: number, codes: Uint32Array): void {
    const { entries, dim, decay, eps, counts, sums, clusterSize, embedSum, embed } = this;
    counts.fill(0);
    sums.fill(0);
    for (let v = 0; v < count; v++) {
      const c = codes[v];
      counts[c] += 1;
      for (let t = 0, o = v * dim, so = c * dim; t < dim; t++) sums[so + t] += batch[o + t];
    }
    let total = 0;
    for (let i = 0; i < entries; i++) {
      clusterSize[i] = decay * clusterSize[i] + (1 - decay) * counts[i];
      total += clusterSize[i];
    }
    for (let k = 0; k < entries * dim; k++) embedSum[k] = decay * embedSum[k] + (1 - decay) * sums[k];
    for (let i = 0; i < entries; i++) {
      const smoothed = ((clusterSize[i] + eps) / (total + entries * eps)) * total;
      for (let t = 0; t < dim; t++) embed[i * dim + t] = embedSum[i * dim + t] / smoothed;
    }
  }

  /**
   * Re-seeds every entry with N_i < threshold: it becomes a uniformly drawn vector of the current batch
   * (so it lands where data is), with N_i = threshold and S_i = threshold * e_i, so it must win vectors
   * soon or it is re-seeded again. Returns how many entries were re-seeded.
   */
  reseedDead(batch: Float32Array, count: number, threshold: number, rng: Rng): number {
    const { entries, dim, clusterSize, embedSum, embed } = this;
    let reseeded = 0;
    for (let i = 0; i < entries; i++) {
      if (clusterSize[i] >= threshold) continue;
      const from = rng.int(count) * dim;
      for (let t = 0; t < dim; t++) {
        embed[i * dim + t] = batch[from + t];
        embedSum[i * dim + t] = threshold * batch[from + t];
      }
      clusterSize[i] = threshold;
      reseeded++;
    }
    return reseeded;
  }
}
