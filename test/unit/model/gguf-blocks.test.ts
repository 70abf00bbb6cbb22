// The Q4_1 and Q8_0 block writer against ResKV's own quantization: the same codes, decoded the way
// ggml decodes them (an independent decoder), and bad inputs refused with the tensor named.
import { describe, expect, it } from 'vitest';
import { createRng, float16BitsToFloat32, float32ToFloat16Bits } from '../../../quant/index.js';
import type { BlockQuantSpec } from '../../../quant/weight-quant.js';
import { dequantizeRows, quantizeRows } from '../../../quant/weight-quant.js';
import { ggmlBlocks } from '../../../main/model/gguf-blocks.js';
import type { GgmlBlockType } from '../../../main/model/gguf-blocks.js';
import { encodeGgufHeader } from '../../../main/model/gguf.js';
import { classifierQuantSpec, linearQuantSpecs } from '../../../main/model/weights.js';
import { decodeQ4_0, decodeQ4_1, decodeQ8_0 } from './ggml-blocks-decode.js';

const f16 = (x: number) => float16BitsToFloat32(float32ToFloat16Bits(x));

/** Rows with blocks of every kind: mixed signs, all positive, all negative, all zero, one wide outlier. */
function testMatrix(rows: number, cols: number): Float32Array {
  const rng = createRng(5);
  const w = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.05);
  for (let i = 0; i < 32; i++) {
    w[cols + i] = 0.01 + Math.abs(w[cols + i]);
    w[2 * cols + i] = -0.01 - Math.abs(w[2 * cols + i]);
    w[3 * cols + i] = 0;
  }
  w[4 * cols + 7] = 3;
  return w;
}

describe('ggml block writer (GGUF Q4_1 / Q4_0 / Q8_0 from ResKV block quantization)', () => {
  const rows = 5;
  const decoders = { Q4_1: [20, decodeQ4_1], Q4_0: [18, decodeQ4_0], Q8_0: [34, decodeQ8_0] } as const;
  /** The test matrix quantized by ResKV per `spec`, written as `type` blocks, decoded independently. */
  const written = (type: GgmlBlockType, spec: BlockQuantSpec, cols: number) => {
    const w = testMatrix(rows, cols);
    const q = quantizeRows(w, rows, cols, spec);
    const bytes = ggmlBlocks('w', type, q, rows, cols, spec);
    const [blockBytes, decode] = decoders[type];
    expect(bytes.length).toBe((rows * cols * blockBytes) / 32);
    return { w, q, bytes, decoded: decode(bytes, rows * cols), reskv: dequantizeRows(q, rows, cols, spec) };
  };

  it('Q4_1: the codes of ResKV int4, d = scale and m = -zero * scale rounded to float16', () => {
    const cols = 96;
    const { w, q, decoded, reskv } = written('Q4_1', linearQuantSpecs.int4, cols);
    // ResKV's layout: block b of row r has scale scales[r*blocks + b], codes two per byte (value 2j low)
    const blocks = cols / 32;
    const zeroBytesPerRow = Math.ceil(blocks / 2);
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < blocks; b++) {
        const scale = q.scales[r * blocks + b];
        const zero = (q.zeroPoints![r * zeroBytesPerRow + (b >> 1)] >> ((b & 1) * 4)) & 15;
        for (let j = 0; j < 32; j++) {
          const code = (q.packed[(r * blocks + b) * 16 + (j >> 1)] >> ((j & 1) * 4)) & 15;
          expect(decoded[r * cols + b * 32 + j]).toBe(Math.fround(code * f16(scale) + f16(-zero * scale)));
        }
      }
    }
    // against what MatMulNBits multiplies by: within the float16 rounding of d and m (about 2^-11 of 15 steps)
    for (let i = 0; i < w.length; i++) expect(Math.abs(decoded[i] - reskv[i])).toBeLessThanOrEqual(16 * 2 ** -11 * q.scales[Math.floor(i / 32)] + 1e-9);
    // and the weights themselves within half a step (plus that rounding)
    for (let i = 0; i < w.length; i++) expect(Math.abs(decoded[i] - w[i])).toBeLessThanOrEqual(0.51 * q.scales[Math.floor(i / 32)] + 1e-9);
    expect(decoded.subarray(3 * cols, 3 * cols + 32).every((x) => x === 0)).toBe(true);
  });

  it('Q4_0: the codes of ResKV symmetric 4-bit blocks of 32 (zero 8), d = scale rounded to float16', () => {
    const { w, q, decoded, reskv } = written('Q4_0', { ...linearQuantSpecs.int4, symmetric: true }, 96);
    for (let i = 0; i < w.length; i++) {
      const code = (q.packed[i >> 1] >> ((i & 1) * 4)) & 15;
      expect(decoded[i]).toBe(Math.fround((code - 8) * f16(q.scales[Math.floor(i / 32)])));
    }
    for (let i = 0; i < w.length; i++) expect(Math.abs(decoded[i] - reskv[i])).toBeLessThanOrEqual(8 * 2 ** -11 * Math.abs(q.scales[Math.floor(i / 32)]) + 1e-9);
  });

  it('Q8_0: the codes of ResKV int8 (symmetric blocks of 128) minus 128, each 128-block scale in its four 32-blocks', () => {
    const cols = 256;
    expect(classifierQuantSpec).toEqual({ bits: 8, blockSize: 128, symmetric: true });
    const { w, q, bytes, decoded, reskv } = written('Q8_0', classifierQuantSpec, cols);
    for (let i = 0; i < w.length; i++) {
      const scale = q.scales[Math.floor(i / 128)];
      expect(decoded[i]).toBe(Math.fround((q.packed[i] - 128) * f16(scale)));
    }
    // the value of largest magnitude takes code -128 (ResKV's symmetric range), which int8 holds
    const view = new DataView(bytes.buffer);
    expect(view.getInt8(2 + Math.floor((4 * cols + 7) / 32) * 34 + 7)).toBe(-128);
    for (let i = 0; i < w.length; i++) expect(Math.abs(decoded[i] - reskv[i])).toBeLessThanOrEqual(128 * 2 ** -11 * Math.abs(q.scales[Math.floor(i / 128)]) + 1e-9);
  });

  it('refuses rows that are not whole blocks, the wrong quantization, mismatched codes and constants beyond float16', () => {
    const int4 = linearQuantSpecs.int4;
    const w = testMatrix(rows, 64);
    const q = quantizeRows(w, rows, 64, int4);
    expect(() => ggmlBlocks('blk.0.ffn_down.weight', 'Q4_1', quantizeRows(testMatrix(rows, 48), rows, 48, int4), rows, 48, int4)).toThrow(/blk\.0\.ffn_down\.weight as Q4_1: a \[5, 48\] matrix; rows must be a positive multiple of 32/);
    expect(() => ggmlBlocks('w', 'Q4_1', q, rows, 64, { ...int4, symmetric: true })).toThrow(/w as Q4_1: written from ResKV's 4-bit asymmetric blocks of 32, got 4-bit symmetric blocks of 32/);
    expect(() => ggmlBlocks('w', 'Q4_0', q, rows, 64, int4)).toThrow(/w as Q4_0: written from ResKV's 4-bit symmetric blocks of 32, got 4-bit asymmetric/);
    expect(() => ggmlBlocks('w', 'Q8_0', q, rows, 64, int4)).toThrow(/w as Q8_0: written from ResKV's 8-bit symmetric/);
    expect(() => ggmlBlocks('w', 'Q8_0', q, rows, 64, { bits: 8, blockSize: 16, symmetric: true })).toThrow(/got 8-bit symmetric blocks of 16/);
    expect(() => ggmlBlocks('w', 'Q4_1', q, rows + 1, 64, int4)).toThrow(/w as Q4_1: the quantized rows hold 160 code bytes, 10 scales, 5 zero-point bytes; \[6, 64\] needs 192, 12, 6/);
    const huge = quantizeRows(Float32Array.from(w, (x) => x * 1e7), rows, 64, int4);
    expect(() => ggmlBlocks('w', 'Q4_1', huge, rows, 64, int4)).toThrow(/w as Q4_1: block (scale|minimum) .* is beyond float16/);
    // the header refuses block types whose rows are not whole blocks
    expect(() => encodeGgufHeader(new Map(), [{ name: 'm', shape: [4, 48], type: 'Q4_1' }])).toThrow(/tensor m is Q4_1, whose rows must be a multiple of 32 values long, not 48/);
    expect(encodeGgufHeader(new Map(), [{ name: 'm', shape: [4, 64], type: 'Q4_1' }, { name: 'n', shape: [2, 32], type: 'Q8_0' }]).tensors).toEqual([
      { offset: 0, bytes: 160 },
      { offset: 160, bytes: 68 },
    ]);
  });
});
