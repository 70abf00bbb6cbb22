// Reading the graphs' head-major new keys/values ([kvHeads, tokens, headDim], see KvRows) into the
// layouts the stores keep. fp16 conversion is quant's (round to nearest even).
import { float16ArrayToFloat32, float32ArrayToFloat16 } from '../../quant/index.js';
import type { KvRows } from './kv-store.js';

/** Throws unless `rows` is a [heads, tokens, headDim] array and [start, start + count) lies inside it. */
export function checkKvRows(rows: KvRows, heads: number, headDim: number): void {
  const { data, tokens, start, count } = rows;
  if (!Number.isInteger(tokens) || tokens < 0 || data.length !== heads * tokens * headDim) {
    throw new RangeError(`K/V rows hold ${data.length} values, expected [kvHeads ${heads}, tokens ${tokens}, headDim ${headDim}]`);
  }
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > tokens) {
    throw new RangeError(`K/V rows: tokens [${start}, ${start + count}) are outside the ${tokens} tokens given`);
  }
}

/** Head h's `count` new token vectors, contiguous in the source. */
function headRun(rows: KvRows, h: number, headDim: number): Float32Array | Uint16Array {
  const from = (h * rows.tokens + rows.start) * headDim;
  return rows.data.subarray(from, from + rows.count * headDim);
}

/** Copies a run of values into fp16 bits at dst[at..], converting float32 input. */
function writeFp16(src: Float32Array | Uint16Array, dst: Uint16Array, at: number): void {
  const out = dst.subarray(at, at + src.length);
  if (src instanceof Uint16Array) out.set(src);
  else float32ArrayToFloat16(src, out);
}

/** The new tokens as fp16 head-major runs written into dst laid out [heads, capacity, headDim] at token `at`. */
export function writeHeadMajorFp16(rows: KvRows, heads: number, headDim: number, dst: Uint16Array, capacity: number, at: number): void {
  for (let h = 0; h < heads; h++) writeFp16(headRun(rows, h, headDim), dst, (h * capacity + at) * headDim);
}

/** The new tokens as token-major fp16 rows [count, heads*headDim] (heads concatenated, the RVQ row). */
export function tokenMajorFp16(rows: KvRows, heads: number, headDim: number): Uint16Array {
  const width = heads * headDim;
  const out = new Uint16Array(rows.count * width);
  for (let h = 0; h < heads; h++) {
    const run = headRun(rows, h, headDim);
    for (let t = 0; t < rows.count; t++) writeFp16(run.subarray(t * headDim, (t + 1) * headDim), out, t * width + h * headDim);
  }
  return out;
}

/** The new tokens as token-major float32 rows [count, heads*headDim]. */
export function tokenMajorFloat32(rows: KvRows, heads: number, headDim: number): Float32Array {
  const width = heads * headDim;
  const out = new Float32Array(rows.count * width);
  for (let h = 0; h < heads; h++) {
    const run = headRun(rows, h, headDim);
    for (let t = 0; t < rows.count; t++) {
      const vector = run.subarray(t * headDim, (t + 1) * headDim);
      const dst = out.subarray(t * width + h * headDim, t * width + (h + 1) * headDim);
      if (vector instanceof Uint16Array) float16ArrayToFloat32(vector, dst);
      else dst.set(vector);
    }
  }
  return out;
}

/** Token-major rows [tokens, heads*headDim] (float32 or fp16 bits) as head-major KvRows. */
export function tokenRowsAsKvRows(rows: Float32Array | Uint16Array, heads: number, headDim: number): KvRows {
  const width = heads * headDim;
  const tokens = rows.length / width;
  const data = rows instanceof Uint16Array ? new Uint16Array(rows.length) : new Float32Array(rows.length);
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) data.set(rows.subarray(t * width + h * headDim, t * width + (h + 1) * headDim), (h * tokens + t) * headDim);
  }
  return { data, tokens, start: 0, count: tokens };
}
