// Nearest codebook entry search, the encoder's hot loop.
// argmin_c ||x - c||^2 = argmin_c (||c||^2 - 2<x,c>) = argmax_c (<x,c> - ||c||^2 / 2): the half norms
// are precomputed per codebook and the dot product starts from them. Four vectors are scored against
// each codebook row at once (the row is loaded once, used four times) with the dot product unrolled
// by two, which keeps eight independent accumulators in registers. Ties go to the lower index.

/** One stage's codebook [entries, dim], prepared for search. */
export interface PreparedCodebook {
  readonly data: Float32Array;
  readonly entries: number;
  readonly dim: number;
  /** -||c||^2 / 2 per entry. */
  readonly bias: Float64Array;
}

export function prepareCodebook(data: Float32Array, entries: number, dim: number): PreparedCodebook {
  if (data.length !== entries * dim) throw new RangeError(`codebook has ${data.length} values, expected ${entries} x ${dim}`);
  const bias = new Float64Array(entries);
  for (let c = 0; c < entries; c++) {
    let s = 0;
    for (let t = c * dim, end = t + dim; t < end; t++) s += data[t] * data[t];
    bias[c] = -s / 2;
  }
  return { data, entries, dim, bias };
}

/** codes[i] = index of the entry nearest to vectors[i*dim .. (i+1)*dim), for i < count. */
export function assignNearest(book: PreparedCodebook, vectors: Float32Array, count: number, codes: Uint32Array): void {
  const { data: cb, entries, dim, bias } = book;
  if (vectors.length < count * dim || codes.length < count) throw new RangeError(`assignNearest: buffers too small for ${count} vectors`);
  const even = dim & ~1;
  const last = count - 1;
  for (let m = 0; m < count; m += 4) {
    // A short final block repeats its last vector; only real results are written.
    const o0 = m * dim;
    const o1 = Math.min(m + 1, last) * dim;
    const o2 = Math.min(m + 2, last) * dim;
    const o3 = Math.min(m + 3, last) * dim;
    let b0 = -Infinity, b1 = -Infinity, b2 = -Infinity, b3 = -Infinity;
    let i0 = 0, i1 = 0, i2 = 0, i3 = 0;
    for (let c = 0, co = 0; c < entries; c++, co += dim) {
      const h = bias[c];
      let a0 = h, a1 = h, a2 = h, a3 = h;
      let e0 = 0, e1 = 0, e2 = 0, e3 = 0;
      for (let t = 0; t < even; t += 2) {
        const v = cb[co + t];
        const w = cb[co + t + 1];
        a0 += vectors[o0 + t] * v;
        a1 += vectors[o1 + t] * v;
        a2 += vectors[o2 + t] * v;
        a3 += vectors[o3 + t] * v;
        e0 += vectors[o0 + t + 1] * w;
        e1 += vectors[o1 + t + 1] * w;
        e2 += vectors[o2 + t + 1] * w;
        e3 += vectors[o3 + t + 1] * w;
      }
      if (even !== dim) {
        const v = cb[co + even];
        a0 += vectors[o0 + even] * v;
        a1 += vectors[o1 + even] * v;
        a2 += vectors[o2 + even] * v;
        a3 += vectors[o3 + even] * v;
      }
      const s0 = a0 + e0, s1 = a1 + e1, s2 = a2 + e2, s3 = a3 + e3;
      if (s0 > b0) { b0 = s0; i0 = c; }
      if (s1 > b1) { b1 = s1; i1 = c; }
      if (s2 > b2) { b2 = s2; i2 = c; }
      if (s3 > b3) { b3 = s3; i3 = c; }
    }
    codes[m] = i0;
    if (m + 1 < count) codes[m + 1] = i1;
    if (m + 2 < count) codes[m + 2] = i2;
    if (m + 3 < count) codes[m + 3] = i3;
  }
}

/** vectors[i] += sign * codebook[codes[i]] for i < count (sign -1 forms residuals, +1 reconstructs). */
export function addEntries(vectors: Float32Array, count: number, book: Float32Array, dim: number, codes: Uint32Array, sign: 1 | -1): void {
  for (let i = 0, o = 0; i < count; i++, o += dim) {
    const co = codes[i] * dim;
    for (let t = 0; t < dim; t++) vectors[o + t] += sign * book[co + t];
  }
}
