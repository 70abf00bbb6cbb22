// Block quantization of linear-layer weights in the layout of ONNX Runtime's com.microsoft MatMulNBits:
// a weight W [N, K] (Hugging Face nn.Linear: [out, in]) is cut along K into blocks of `blockSize`;
// each block of each row has a float scale and, unless symmetric, a zero point:
//   w^ = (q - zero) * scale,   q in [0, 2^bits)
// Symmetric: zero = 2^(bits-1) (MatMulNBits' default when no zero points are given) and the value of
// largest magnitude m maps to q = 0 (scale = m / -2^(bits-1)), using the whole code range.
// Asymmetric: min maps to 0 and max to 2^bits - 1, zero = round(-min / scale).
// Packing: codes low bits first along K (two 4-bit codes per byte, element 2j in the low nibble);
// zero points packed the same way per row, each row padded to whole bytes.

export type WeightBits = 4 | 8;

export interface BlockQuantSpec {
  bits: WeightBits;
  blockSize: number;
  symmetric: boolean;
}

export interface BlockQuantizedRows {
  /** [N, blocks, blockSize * bits / 8] */
  packed: Uint8Array;
  /** [N, blocks] */
  scales: Float32Array;
  /** [N, ceil(blocks * bits / 8)]; null when symmetric. */
  zeroPoints: Uint8Array | null;
}

export function blocksPerRow(k: number, spec: BlockQuantSpec): number {
  return Math.ceil(k / spec.blockSize);
}

/** Bytes of one row's zero points (padded to a whole byte). */
export function zeroPointBytesPerRow(k: number, spec: BlockQuantSpec): number {
  return Math.ceil((blocksPerRow(k, spec) * spec.bits) / 8);
}

/** Bytes one [N, K] matrix occupies quantized (codes, float32 scales, zero points). */
export function blockQuantizedBytes(n: number, k: number, spec: BlockQuantSpec): number {
  const blocks = blocksPerRow(k, spec);
  return n * (blocks * ((spec.blockSize * spec.bits) / 8) + blocks * 4 + (spec.symmetric ? 0 : zeroPointBytesPerRow(k, spec)));
}

export function checkBlockQuantSpec(spec: BlockQuantSpec): void {
  if (spec.bits !== 4 && spec.bits !== 8) throw new Error(`weight bits must be 4 or 8, got ${String(spec.bits)}`);
  if (![16, 32, 64, 128, 256].includes(spec.blockSize)) throw new Error(`weight block size must be 16, 32, 64, 128 or 256, got ${spec.blockSize}`);
}

/** Quantizes `rows` rows of length k (row-major) into a fresh BlockQuantizedRows. */
export function quantizeRows(w: Float32Array, rows: number, k: number, spec: BlockQuantSpec): BlockQuantizedRows {
  checkBlockQuantSpec(spec);
  if (w.length !== rows * k) throw new Error(`quantizeRows: ${w.length} values, expected ${rows} x ${k}`);
  const { bits, blockSize, symmetric } = spec;
  const blocks = blocksPerRow(k, spec);
  const blob = (blockSize * bits) / 8;
  const maxCode = (1 << bits) - 1;
  const half = 1 << (bits - 1);
  const zpRow = zeroPointBytesPerRow(k, spec);
  const out: BlockQuantizedRows = {
    packed: new Uint8Array(rows * blocks * blob),
    scales: new Float32Array(rows * blocks),
    zeroPoints: symmetric ? null : new Uint8Array(rows * zpRow),
  };
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const start = r * k + b * blockSize;
      const end = r * k + Math.min(k, (b + 1) * blockSize);
      let scale: number;
      let zero: number;
      if (symmetric) {
        let m = 0;
        for (let i = start; i < end; i++) if (Math.abs(w[i]) > Math.abs(m)) m = w[i];
        scale = m / -half;
        zero = half;
      } else {
        let lo = 0; // the range always holds 0 so that zero is exactly representable
        let hi = 0;
        for (let i = start; i < end; i++) {
          lo = Math.min(lo, w[i]);
          hi = Math.max(hi, w[i]);
        }
        scale = (hi - lo) / maxCode;
        zero = scale === 0 ? 0 : Math.min(maxCode, Math.max(0, Math.round(-lo / scale)));
      }
      const at = r * blocks + b;
      out.scales[at] = scale;
      if (out.zeroPoints) {
        if (bits === 8) out.zeroPoints[r * zpRow + b] = zero;
        else out.zeroPoints[r * zpRow + (b >> 1)] |= zero << ((b & 1) * 4);
      }
      const inv = scale === 0 ? 0 : 1 / scale;
      const base = at * blob;
      for (let i = start; i < end; i++) {
        const q = Math.min(maxCode, Math.max(0, Math.round(w[i] * inv) + zero));
        const j = i - start;
        if (bits === 8) out.packed[base + j] = q;
        else out.packed[base + (j >> 1)] |= q << ((j & 1) * 4);
      }
      // padding past K (last block) codes the zero point, i.e. the value 0
      for (let j = end - start; j < blockSize; j++) {
        if (bits === 8) out.packed[base + j] = zero;
        else out.packed[base + (j >> 1)] |= zero << ((j & 1) * 4);
      }
    }
  }
  return out;
}

/** The float values the quantized rows stand for (what MatMulNBits multiplies by), [rows, k]. */
export function dequantizeRows(q: BlockQuantizedRows, rows: number, k: number, spec: BlockQuantSpec): Float32Array {
  const { bits, blockSize } = spec;
  const blocks = blocksPerRow(k, spec);
  const blob = (blockSize * bits) / 8;
  const zpRow = zeroPointBytesPerRow(k, spec);
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const at = r * blocks + b;
      const zero = !q.zeroPoints ? 1 << (bits - 1) : bits === 8 ? q.zeroPoints[r * zpRow + b] : (q.zeroPoints[r * zpRow + (b >> 1)] >> ((b & 1) * 4)) & 15;
      for (let j = 0; j < blockSize && b * blockSize + j < k; j++) {
        const code = bits === 8 ? q.packed[at * blob + j] : (q.packed[at * blob + (j >> 1)] >> ((j & 1) * 4)) & 15;
        out[r * k + b * blockSize + j] = (code - zero) * q.scales[at];
      }
    }
  }
  return out;
}
