// Reconstruction and attention metrics for comparing a KV quantizer's output with the exact values.

/** Mean squared error per value. */
export function mse(exact: Float32Array, approx: Float32Array): number {
  checkSameLength(exact, approx);
  let sum = 0;
  for (let k = 0; k < exact.length; k++) sum += (exact[k] - approx[k]) ** 2;
  return sum / exact.length;
}

/** Signal-to-noise ratio in dB: 10 log10(sum x^2 / sum (x - x^)^2). */
export function snrDb(exact: Float32Array, approx: Float32Array): number {
  checkSameLength(exact, approx);
  let signal = 0;
  let noise = 0;
  for (let k = 0; k < exact.length; k++) {
    signal += exact[k] ** 2;
    noise += (exact[k] - approx[k]) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

/** Mean over rows of width `width` of the cosine similarity between exact and approximate rows. */
export function meanCosine(exact: Float32Array, approx: Float32Array, width: number): number {
  checkSameLength(exact, approx);
  const rows = exact.length / width;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    let a2 = 0;
    let b2 = 0;
    for (let k = r * width; k < (r + 1) * width; k++) {
      dot += exact[k] * approx[k];
      a2 += exact[k] ** 2;
      b2 += approx[k] ** 2;
    }
    // Two zero rows agree perfectly; a zero row against a non-zero one is orthogonal.
    if (a2 === 0 || b2 === 0) total += a2 === b2 ? 1 : 0;
    else total += dot / Math.sqrt(a2 * b2);
  }
  return total / rows;
}

/** softmax(q K^T / sqrt(d)) V for each query; queries [nq, d], keys [n, d], values [n, dv] -> [nq, dv]. */
export function attention(queries: Float32Array, keys: Float32Array, values: Float32Array, d: number, dv: number): Float64Array {
  const nq = queries.length / d;
  const n = keys.length / d;
  if (values.length !== n * dv) throw new RangeError(`attention: ${n} keys but ${values.length / dv} values`);
  const out = new Float64Array(nq * dv);
  const logits = new Float64Array(n);
  const inv = 1 / Math.sqrt(d);
  for (let q = 0; q < nq; q++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let t = 0; t < d; t++) dot += queries[q * d + t] * keys[j * d + t];
      logits[j] = dot * inv;
      max = Math.max(max, logits[j]);
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += logits[j] = Math.exp(logits[j] - max);
    for (let j = 0; j < n; j++) {
      const p = logits[j] / sum;
      for (let t = 0; t < dv; t++) out[q * dv + t] += p * values[j * dv + t];
    }
  }
  return out;
}

/**
 * Relative attention-output error, ||o - o^|| / ||o|| averaged over queries, where o uses the exact keys
 * and values and o^ the decoded ones (pass the exact values as decodedValues to isolate key error).
 */
export function attentionOutputError(
  queries: Float32Array,
  keys: Float32Array,
  values: Float32Array,
  decodedKeys: Float32Array,
  decodedValues: Float32Array,
  d: number,
  dv: number,
): number {
  checkSameLength(keys, decodedKeys);
  checkSameLength(values, decodedValues);
  const exact = attention(queries, keys, values, d, dv);
  const approx = attention(queries, decodedKeys, decodedValues, d, dv);
  const nq = queries.length / d;
  let total = 0;
  for (let q = 0; q < nq; q++) {
    let err = 0;
    let norm = 0;
    for (let t = q * dv; t < (q + 1) * dv; t++) {
      err += (exact[t] - approx[t]) ** 2;
      norm += exact[t] ** 2;
    }
    total += Math.sqrt(err / norm);
  }
  return total / nq;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`compared arrays differ in length: ${a.length} vs ${b.length}`);
}
