// k-means (Lloyd) for codebook initialisation: k distinct random vectors as initial centroids, then
// `iterations` rounds of assign-to-nearest and recompute-means. A cluster left empty is re-seeded with a
// random vector. The nearest-entry search is pluggable (see AssignNearest) so it can run elsewhere.
import type { Rng } from './prng.js';
import { sampleIndices } from './prng.js';

/** Nearest entry of `codebook` [entries, dim] for every vector of `batch` [count, dim]. */
export type AssignNearest = (
  batch: Float32Array,
  codebook: Float32Array,
  shape: { entries: number; dim: number },
) => Promise<Uint32Array> | Uint32Array;

export interface KmeansResult {
  centroids: Float32Array;
  /** Vectors per centroid in the last assignment. */
  sizes: Float64Array;
}

export async function kmeans(
  vectors: Float32Array,
  count: number,
  dim: number,
  k: number,
  iterations: number,
  rng: Rng,
  assign: AssignNearest,
  afterIteration: () => Promise<void>,
): Promise<KmeansResult> {
  if (count < k) throw new Error(`k-means needs at least ${k} vectors for ${k} centroids, got ${count}`);
  const centroids = new Float32Array(k * dim);
  const initial = sampleIndices(rng, count, k);
  for (let c = 0; c < k; c++) centroids.set(vectors.subarray(initial[c] * dim, (initial[c] + 1) * dim), c * dim);
  const sizes = new Float64Array(k);
  const sums = new Float64Array(k * dim);
  const batch = vectors.subarray(0, count * dim);
  for (let it = 0; it < iterations; it++) {
    const codes = await assign(batch, centroids, { entries: k, dim });
    sizes.fill(0);
    sums.fill(0);
    for (let v = 0; v < count; v++) {
      const c = codes[v];
      sizes[c] += 1;
      for (let t = 0; t < dim; t++) sums[c * dim + t] += vectors[v * dim + t];
    }
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0) {
        const from = rng.int(count) * dim;
        centroids.set(vectors.subarray(from, from + dim), c * dim);
        continue;
      }
      for (let t = 0; t < dim; t++) centroids[c * dim + t] = sums[c * dim + t] / sizes[c];
    }
    await afterIteration();
  }
  return { centroids, sizes };
}
