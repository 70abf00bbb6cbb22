import { describe, expect, it } from 'vitest';
import {
  bfloat16ArrayToFloat32,
  bfloat16BitsToFloat32,
  float16ArrayToFloat32,
  float16BitsToFloat32,
  float32ArrayToFloat16,
  float32ToFloat16Bits,
} from '../../../quant/fp16.js';

// Known binary16 bit patterns (IEEE 754-2008).
const known: [number, number][] = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3c00],
  [-2, 0xc000],
  [0.5, 0x3800],
  [65504, 0x7bff], // largest normal
  [2 ** -14, 0x0400], // smallest normal
  [2 ** -24, 0x0001], // smallest subnormal
  [1023 * 2 ** -24, 0x03ff], // largest subnormal
  [0.333251953125, 0x3555], // nearest half to 1/3
  [Infinity, 0x7c00],
  [-Infinity, 0xfc00],
];

describe('fp16', () => {
  it('converts known values both ways', () => {
    for (const [value, bits] of known) {
      expect(float32ToFloat16Bits(value)).toBe(bits);
      expect(Object.is(float16BitsToFloat32(bits), value)).toBe(true);
    }
  });

  it('rounds to nearest, ties to even', () => {
    const ulp1 = 2 ** -10; // spacing of halves in [1, 2)
    expect(float32ToFloat16Bits(1 + ulp1 / 2)).toBe(0x3c00); // tie -> even mantissa 0
    expect(float32ToFloat16Bits(1 + ulp1 * 1.5)).toBe(0x3c02); // tie -> even mantissa 2
    expect(float32ToFloat16Bits(1 + ulp1 / 2 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(float32ToFloat16Bits(1 / 3)).toBe(0x3555);
    expect(float32ToFloat16Bits(2047.5 * 2 ** -10)).toBe(0x4000); // mantissa carry into exponent
  });

  it('handles subnormals, underflow and overflow', () => {
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and min subnormal -> even (0)
    expect(float32ToFloat16Bits(1.5 * 2 ** -24)).toBe(0x0002); // tie -> even
    expect(float32ToFloat16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(float32ToFloat16Bits(-3 * 2 ** -24)).toBe(0x8003);
    expect(float32ToFloat16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // subnormal rounds up to min normal
    expect(float32ToFloat16Bits(1e-30)).toBe(0x0000);
    expect(float32ToFloat16Bits(-1e-30)).toBe(0x8000);
    expect(float32ToFloat16Bits(65519.99)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // tie at the top rounds to infinity
    expect(float32ToFloat16Bits(-1e6)).toBe(0xfc00);
  });

  it('maps NaN to NaN', () => {
    expect(float32ToFloat16Bits(NaN) & 0x7fff).toBe(0x7e00);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
    expect(float16BitsToFloat32(0xfc01)).toBeNaN();
  });

  it('round-trips every half exactly', () => {
    const mismatches: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = float16BitsToFloat32(h);
      if (!Number.isNaN(v) && float32ToFloat16Bits(v) !== h) mismatches.push(h);
    }
    expect(mismatches).toEqual([]);
  });

  it('converts arrays, into a given destination too', () => {
    const src = new Float32Array([1, -2, 65504, 2 ** -24, Infinity]);
    const halves = float32ArrayToFloat16(src);
    expect(Array.from(halves)).toEqual([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00]);
    const back = new Float32Array(5);
    expect(float16ArrayToFloat32(halves, back)).toBe(back);
    expect(Array.from(back)).toEqual(Array.from(src));
    expect(() => float16ArrayToFloat32(halves, new Float32Array(2))).toThrow(/destination/);
  });

  it('converts arrays as float32ToFloat16Bits converts each element, over every exponent and both signs', () => {
    // every pattern of the top 20 bits (sign, exponent, 11 mantissa bits) with varied low bits, and the
    // float32s just around each half's rounding ties near the subnormal, normal and overflow thresholds
    const spread = Array.from({ length: 1 << 20 }, (_, i) => ((i << 12) | ((i * 2654435761) >>> 20)) >>> 0);
    const ties = [0x33000000, 0x387fe000, 0x38800000, 0x3f801000, 0x3f803000, 0x477fe000, 0x477ff000].flatMap((at) => Array.from({ length: 64 }, (_, k) => at - 32 + k));
    const src = new Float32Array(Uint32Array.from([...spread, ...ties, ...ties.map((b) => (b | 0x80000000) >>> 0)]).buffer);
    const halves = float32ArrayToFloat16(src);
    const wrong = Array.from(src).flatMap((x, i) => (halves[i] === float32ToFloat16Bits(x) ? [] : [`${x}: ${halves[i].toString(16)}`]));
    expect(wrong).toEqual([]);
  });

  it('decodes bfloat16', () => {
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1);
    expect(bfloat16BitsToFloat32(0xc040)).toBe(-3);
    expect(bfloat16BitsToFloat32(0x7f80)).toBe(Infinity);
    expect(bfloat16BitsToFloat32(0x7fc0)).toBeNaN();
    expect(Array.from(bfloat16ArrayToFloat32(new Uint16Array([0x3f80, 0xbf00, 0x0000])))).toEqual([1, -0.5, 0]);
  });
});
