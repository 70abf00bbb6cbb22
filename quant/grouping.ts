// Scaling and grouping of token rows (see the RVQ contract).
// A token row of W channels is divided by its fp16 std scale(s), then its channels are gathered into G
// group vectors of groupSize channels. Group vectors of a batch are stored [tokens * G, groupSize]:
// vector i*G + g is group g of token i.
import { float16BitsToFloat32, float32ToFloat16Bits } from './fp16.js';
import { groupsPerToken, scalesPerToken, tokenWidth, unitWidth } from './spec.js';
import type { RvqSpec } from './spec.js';

const LARGEST_HALF = 65504;

/**
 * map[g * groupSize + t] = the token-row channel at position t of global group g.
 * contiguous: channel j*groupSize + t of the unit; strided: channel j + t*groupsPerUnit (channel c of a
 * unit sits in group c mod groupsPerUnit at position floor(c / groupsPerUnit)).
 */
export function groupChannelMap(spec: RvqSpec): Uint32Array {
  const unit = unitWidth(spec);
  const perUnit = unit / spec.groupSize;
  const map = new Uint32Array(tokenWidth(spec));
  for (let u = 0; u < tokenWidth(spec) / unit; u++) {
    for (let j = 0; j < perUnit; j++) {
      for (let t = 0; t < spec.groupSize; t++) {
        const channel = spec.grouping === 'contiguous' ? j * spec.groupSize + t : j + t * perUnit;
        map[(u * perUnit + j) * spec.groupSize + t] = u * unit + channel;
      }
    }
  }
  return map;
}

/** Rows in a [tokens, width] batch; throws on a ragged batch. */
export function tokenCount(rows: Float32Array, width: number): number {
  if (rows.length % width !== 0) throw new RangeError(`rows hold ${rows.length} values, not a whole number of ${width}-channel tokens`);
  return rows.length / width;
}

/** Unbiased (n-1) standard deviation of values[offset .. offset+n). */
export function unbiasedStd(values: Float32Array, offset: number, n: number): number {
  let sum = 0;
  for (let k = offset; k < offset + n; k++) sum += values[k];
  const mean = sum / n;
  let squares = 0;
  for (let k = offset; k < offset + n; k++) squares += (values[k] - mean) ** 2;
  return Math.sqrt(squares / (n - 1));
}

/**
 * The stored fp16 scale for a segment with this std: std rounded to fp16, clamped to the largest finite
 * half; a std that is zero (or rounds to zero) counts as 1 so the division is always defined.
 */
export function fp16Scale(std: number): number {
  const bits = float32ToFloat16Bits(Math.min(std, LARGEST_HALF));
  return bits === 0 ? float32ToFloat16Bits(1) : bits;
}

/** Precomputed index tables for one spec. */
export interface GroupLayout {
  readonly spec: RvqSpec;
  readonly width: number;
  readonly groups: number;
  readonly scalesPerToken: number;
  /** Channels covered by one scale (headDim or W); 0 when unscaled. */
  readonly scaleSpan: number;
  readonly channelMap: Uint32Array;
}

export function groupLayout(spec: RvqSpec): GroupLayout {
  const scales = scalesPerToken(spec);
  return {
    spec,
    width: tokenWidth(spec),
    groups: groupsPerToken(spec),
    scalesPerToken: scales,
    scaleSpan: scales === 0 ? 0 : tokenWidth(spec) / scales,
    channelMap: groupChannelMap(spec),
  };
}

/**
 * Scales and groups `tokens` rows [tokens, W]: writes fp16 scale bits to scales [tokens, S] and group
 * vectors to vectors [tokens * G, groupSize]. Rejects non-finite inputs.
 */
export function rowsToGroups(layout: GroupLayout, rows: Float32Array, tokens: number, vectors: Float32Array, scales: Uint16Array): void {
  const { width, channelMap, scaleSpan, scalesPerToken: S } = layout;
  if (rows.length < tokens * width) throw new RangeError(`expected ${tokens} rows of ${width} values, got ${rows.length} values`);
  const divisors = new Float64Array(Math.max(S, 1));
  for (let i = 0; i < tokens; i++) {
    const row = i * width;
    for (let k = row; k < row + width; k++) {
      if (!Number.isFinite(rows[k])) throw new Error(`token ${i} channel ${k - row} is ${rows[k]}; KV values must be finite`);
    }
    divisors[0] = 1;
    for (let s = 0; s < S; s++) {
      const bits = fp16Scale(unbiasedStd(rows, row + s * scaleSpan, scaleSpan));
      scales[i * S + s] = bits;
      divisors[s] = float16BitsToFloat32(bits);
    }
    for (let k = 0; k < width; k++) {
      const channel = channelMap[k];
      vectors[row + k] = rows[row + channel] / divisors[S === 0 ? 0 : Math.floor(channel / scaleSpan)];
    }
  }
}

/** Inverse of rowsToGroups: puts group vectors back in channel order and multiplies by the scales. */
export function groupsToRows(layout: GroupLayout, vectors: Float32Array, scales: Uint16Array, tokens: number, rows: Float32Array): void {
  const { width, channelMap, scaleSpan, scalesPerToken: S } = layout;
  const factors = new Float64Array(Math.max(S, 1));
  for (let i = 0; i < tokens; i++) {
    const row = i * width;
    factors[0] = 1;
    for (let s = 0; s < S; s++) factors[s] = float16BitsToFloat32(scales[i * S + s]);
    for (let k = 0; k < width; k++) {
      const channel = channelMap[k];
      rows[row + channel] = vectors[row + k] * factors[S === 0 ? 0 : Math.floor(channel / scaleSpan)];
    }
  }
}
