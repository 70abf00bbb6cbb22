// ggml's block types Q4_1, Q4_0 and Q8_0, written from ResKV's own block quantization
// (quant/weight-quant.ts) so that llama.cpp multiplies by the values ResKV's MatMulNBits multiplies by,
// up to the float16 rounding of ggml's block constants (ResKV keeps float32 scales).
// Layouts (ggml-common.h; dequantize_row_q4_1 / _q4_0 / _q8_0 in ggml-quants.c), 32 values a block:
//   Q4_1, 20 bytes: fp16 d, fp16 m, 16 bytes of nibbles: byte j holds value j in its low nibble and
//     value j + 16 in its high one (not ResKV's order, values 2j and 2j + 1); w = q d + m.
//     From ResKV's asymmetric 4-bit blocks of 32, w = (q - zero) scale: the same q, d = scale, m = -zero scale.
//   Q4_0, 18 bytes: fp16 d, the nibbles as Q4_1; w = (q - 8) d. From ResKV's symmetric 4-bit blocks of
//     32 (zero 8): the same q, d = scale. (ResKV's int4 import is asymmetric: Q4_0 is llama.cpp's own
//     fastest 4-bit layout, written for reference.)
//   Q8_0, 34 bytes: fp16 d, 32 int8; w = q d. From ResKV's symmetric 8-bit blocks (a multiple of 32
//     values), w = (q - 128) scale: q - 128 in [-128, 127], d = the scale of the ResKV block holding the 32.
import { float32ToFloat16Bits } from '../../quant/index.js';
import type { BlockQuantSpec, BlockQuantizedRows } from '../../quant/weight-quant.js';
import { blocksPerRow, zeroPointBytesPerRow } from '../../quant/weight-quant.js';

import type { GgufTensorType } from './gguf.js';
import { ggufBlockLayouts } from './gguf.js';

export type GgmlBlockType = Extract<GgufTensorType, 'Q4_1' | 'Q4_0' | 'Q8_0'>;
/** Values per block of every type. */
const ggmlBlockValues = 32;

/** The ResKV quantization each block type is written from. */
const sourceSpecs: Record<GgmlBlockType, (spec: BlockQuantSpec) => boolean> = {
  Q4_1: (s) => s.bits === 4 && !s.symmetric && s.blockSize === ggmlBlockValues,
  Q4_0: (s) => s.bits === 4 && s.symmetric && s.blockSize === ggmlBlockValues,
  Q8_0: (s) => s.bits === 8 && s.symmetric && s.blockSize % ggmlBlockValues === 0,
};
const sourceText: Record<GgmlBlockType, string> = { Q4_1: '4-bit asymmetric blocks of 32', Q4_0: '4-bit symmetric blocks of 32', Q8_0: '8-bit symmetric blocks of a multiple of 32' };

/**
 * `q` (quantizeRows of a [rows, cols] matrix per `spec`) as ggml `type` blocks, row after row; throws
 * naming `tensor` when the shapes or the spec do not fit the type or a block constant overflows float16.
 */
export function ggmlBlocks(tensor: string, type: GgmlBlockType, q: BlockQuantizedRows, rows: number, cols: number, spec: BlockQuantSpec): Uint8Array {
  const fail = (why: string): never => {
    throw new Error(`GGUF export: ${tensor} as ${type}: ${why}`);
  };
  if (!sourceSpecs[type](spec)) fail(`written from ResKV's ${sourceText[type]}, got ${spec.bits}-bit ${spec.symmetric ? 'symmetric' : 'asymmetric'} blocks of ${spec.blockSize}`);
  if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(cols) || cols < 1 || cols % ggmlBlockValues !== 0) fail(`a [${rows}, ${cols}] matrix; rows must be a positive multiple of ${ggmlBlockValues} values long`);
  const blocks = blocksPerRow(cols, spec);
  const zeroBytes = spec.symmetric ? 0 : rows * zeroPointBytesPerRow(cols, spec);
  const codeBytes = (rows * blocks * spec.blockSize * spec.bits) / 8;
  if (q.packed.length !== codeBytes || q.scales.length !== rows * blocks || (q.zeroPoints?.length ?? 0) !== zeroBytes) {
    fail(`the quantized rows hold ${q.packed.length} code bytes, ${q.scales.length} scales, ${q.zeroPoints?.length ?? 0} zero-point bytes; [${rows}, ${cols}] needs ${codeBytes}, ${rows * blocks}, ${zeroBytes}`);
  }
  const out = new Uint8Array((rows * cols / ggmlBlockValues) * ggufBlockLayouts[type].bytes);
  const view = new DataView(out.buffer);
  const half = (value: number, at: number, what: string) => {
    const bits = float32ToFloat16Bits(value);
    if ((bits & 0x7c00) === 0x7c00) fail(`block ${what} ${value} at byte ${at} is beyond float16`);
    view.setUint16(at, bits, true);
  };
  const zpRow = zeroPointBytesPerRow(cols, spec);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < cols / ggmlBlockValues; g++) {
      // the ResKV block holding ggml block g, and where g starts inside it
      const b = Math.floor((g * ggmlBlockValues) / spec.blockSize);
      const scale = q.scales[r * blocks + b];
      const first = g * ggmlBlockValues - b * spec.blockSize;
      half(scale, at, 'scale');
      if (type === 'Q8_0') {
        const codes = (r * blocks + b) * spec.blockSize + first;
        for (let j = 0; j < ggmlBlockValues; j++) view.setInt8(at + 2 + j, q.packed[codes + j] - 128);
      } else {
        let nibbles = at + 2;
        if (type === 'Q4_1') {
          const zero = (q.zeroPoints![r * zpRow + (b >> 1)] >> ((b & 1) * 4)) & 15;
          half(-zero * scale, at + 2, 'minimum');
          nibbles = at + 4;
        }
        // ResKV's byte k holds values 2k (low nibble) and 2k + 1; byte 8 + k values 16 + 2k and 17 + 2k
        const codes = (r * blocks + b) * 16;
        for (let k = 0; k < 8; k++) {
          const low = q.packed[codes + k];
          const high = q.packed[codes + 8 + k];
          out[nibbles + 2 * k] = (low & 15) | ((high & 15) << 4);
          out[nibbles + 1 + 2 * k] = (low >> 4) | (high & 0xf0);
        }
      }
      at += ggufBlockLayouts[type].bytes;
    }
  }
  return out;
}
