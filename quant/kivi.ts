// KIVI-style asymmetric b-bit quantization (Liu et al. 2024, "KIVI: A Tuning-Free Asymmetric 2bit
// Quantization for KV Cache"): per group, scale = (max - min) / (2^b - 1), zero point = min,
// q = clamp(round((x - min) / scale), 0, 2^b - 1), x^ = q * scale + min. Scale and zero point are stored
// as fp16 and the codes are computed against the stored (fp16-rounded) values.
// Keys are grouped per channel over blocks of 32 tokens; values per token over groups of 32 channels.
// Unlike KIVI, which keeps the newest < 32 tokens in full precision, a partial last block of keys is
// quantized like a full one (its bytes are counted).
// Storage per key block of T tokens: W x (fp16 scale, fp16 min), then the T x W codes channel-major,
// bit-packed. Per value token: G x (fp16 scale, fp16 min), then the W codes, bit-packed.
import { packCodes, packedByteLength, unpackCodes } from './bitpack.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from './fp16.js';
import type { KvQuantizer, KvKind } from './quantizer.js';
import { tokenCount } from './grouping.js';
import { checkStoredBytes } from './quantizer.js';

const GROUP = 32;

export function kiviQuantizer(bits: number, width: number, kind: KvKind): KvQuantizer {
  const levels = 2 ** bits - 1;
  // A segment is a set of values sharing one (scale, min) pair: for keys one channel of a token block,
  // for values one channel group of one token.
  const keyBlockBytes = (t: number) => 4 * width + packedByteLength(t * width, bits);
  const valueGroups = Math.ceil(width / GROUP);
  const valueRowBytes = 4 * valueGroups + packedByteLength(width, bits);

  const storedBytes = (tokens: number): number => {
    if (kind === 'value') return tokens * valueRowBytes;
    const full = Math.floor(tokens / GROUP);
    const rest = tokens % GROUP;
    return full * keyBlockBytes(GROUP) + (rest > 0 ? keyBlockBytes(rest) : 0);
  };

  /**
   * Quantizes the segment rows[first + k*step] (k < n): writes fp16 scale and min at byte `at` and the
   * codes to codes[codeAt + k].
   */
  const quantizeSegment = (rows: Float32Array, first: number, step: number, n: number, view: DataView, at: number, codes: Uint32Array, codeAt: number): void => {
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < n; k++) {
      const x = rows[first + k * step];
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const scaleBits = float32ToFloat16Bits((max - min) / levels);
    const minBits = float32ToFloat16Bits(min);
    view.setUint16(at, scaleBits, true);
    view.setUint16(at + 2, minBits, true);
    const scale = float16BitsToFloat32(scaleBits);
    const zero = float16BitsToFloat32(minBits);
    for (let k = 0; k < n; k++) {
      const q = scale > 0 ? Math.round((rows[first + k * step] - zero) / scale) : 0;
      codes[codeAt + k] = Math.min(levels, Math.max(0, q));
    }
  };

  const dequantizeSegment = (out: Float32Array, first: number, step: number, n: number, view: DataView, at: number, codes: Uint32Array, codeAt: number): void => {
    const scale = float16BitsToFloat32(view.getUint16(at, true));
    const zero = float16BitsToFloat32(view.getUint16(at + 2, true));
    for (let k = 0; k < n; k++) out[first + k * step] = codes[codeAt + k] * scale + zero;
  };

  /** A run of codes packed together with its parameters: a key block of tokens or one value token. */
  interface Run {
    firstToken: number;
    tokens: number;
    paramsAt: number;
    codesAt: number;
  }
  const runsOf = (tokens: number): Run[] => {
    const runs: Run[] = [];
    const step = kind === 'key' ? GROUP : 1;
    for (let t0 = 0, at = 0; t0 < tokens; t0 += step) {
      const t = Math.min(step, tokens - t0);
      runs.push({ firstToken: t0, tokens: t, paramsAt: at, codesAt: at + 4 * (kind === 'key' ? width : valueGroups) });
      at += kind === 'key' ? keyBlockBytes(t) : valueRowBytes;
    }
    return runs;
  };

  /** Calls visit(first, step, n, paramsAt, codeAt) for each segment of a run, in storage order. */
  const forEachSegment = (run: Run, visit: (first: number, step: number, n: number, paramsAt: number, codeAt: number) => void): void => {
    const rowStart = run.firstToken * width;
    if (kind === 'key') {
      for (let c = 0; c < width; c++) visit(rowStart + c, width, run.tokens, run.paramsAt + 4 * c, c * run.tokens);
    } else {
      for (let g = 0; g < valueGroups; g++) visit(rowStart + g * GROUP, 1, Math.min(GROUP, width - g * GROUP), run.paramsAt + 4 * g, g * GROUP);
    }
  };

  const quantizer: KvQuantizer = {
    name: `kivi${bits}-${kind === 'key' ? 'per-channel' : 'per-token'}`,
    width,
    storedBytes,
    encode(rows) {
      const tokens = tokenCount(rows, width);
      const bytes = new Uint8Array(storedBytes(tokens));
      const view = new DataView(bytes.buffer);
      const codes = new Uint32Array((kind === 'key' ? GROUP : 1) * width);
      for (const run of runsOf(tokens)) {
        forEachSegment(run, (first, step, n, paramsAt, codeAt) => quantizeSegment(rows, first, step, n, view, paramsAt, codes, codeAt));
        packCodes(codes.subarray(0, run.tokens * width), bits, bytes, run.codesAt * 8);
      }
      return bytes;
    },
    decode(bytes, tokens) {
      checkStoredBytes(quantizer, bytes, tokens);
      const rows = new Float32Array(tokens * width);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const codes = new Uint32Array((kind === 'key' ? GROUP : 1) * width);
      for (const run of runsOf(tokens)) {
        unpackCodes(bytes, bits, run.tokens * width, codes, run.codesAt * 8);
        forEachSegment(run, (first, step, n, paramsAt, codeAt) => dequantizeSegment(rows, first, step, n, view, paramsAt, codes, codeAt));
      }
      return rows;
    },
  };
  return quantizer;
}
