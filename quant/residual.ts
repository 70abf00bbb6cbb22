// Residual vector quantization of group vectors (Kumar 2024, sec. 3): stage s codes the residual left
// by stages 0..s-1 with its own codebook; decoding to depth d sums the chosen entries of stages 0..d-1.
// Codes here are stage-major: codes[s * count + v] is vector v's code at stage s.
import { addEntries, assignNearest } from './nearest.js';
import type { PreparedCodebook } from './nearest.js';

/** Greedy encode; `vectors` [count, dim] is overwritten with the final residuals. */
export function residualEncode(books: readonly PreparedCodebook[], depth: number, vectors: Float32Array, count: number, codes: Uint32Array): void {
  for (let s = 0; s < depth; s++) {
    const stage = codes.subarray(s * count, (s + 1) * count);
    assignNearest(books[s], vectors, count, stage);
    addEntries(vectors, count, books[s].data, books[s].dim, stage, -1);
  }
}

/** Sums the first `depth` stages' entries into out [count, dim]. */
export function residualDecode(books: readonly PreparedCodebook[], depth: number, codes: Uint32Array, count: number, out: Float32Array): void {
  out.fill(0, 0, count * books[0].dim);
  for (let s = 0; s < depth; s++) {
    addEntries(out, count, books[s].data, books[s].dim, codes.subarray(s * count, (s + 1) * count), 1);
  }
}
