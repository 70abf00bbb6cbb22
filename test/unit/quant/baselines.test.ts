import { describe, expect, it } from 'vitest';
import { quantizerBitsPerValue, roundTrip, rvqQuantizer } from '../../../quant/quantizer.js';
import { fp16Quantizer, scalarQuantizer } from '../../../quant/scalar-quantizers.js';
import { blockQuantizer } from '../../../quant/block-quant.js';
import { kiviQuantizer } from '../../../quant/kivi.js';
import { SCALAR_FORMATS, scalarBitsPerValue } from '../../../quant/accounting.js';
import { RvqCodec } from '../../../quant/rvq-codec.js';
import { parseRvqSpec } from '../../../quant/spec.js';
import { createRng } from '../../../quant/prng.js';
import { float32ToFloat16Bits } from '../../../quant/fp16.js';

const rng = createRng(9);
const rows128 = Float32Array.from({ length: 64 * 128 }, () => 4 * rng.normal());

describe('scalar baselines', () => {
  it('store exactly the nominal bits per value for width 128 and whole token blocks', () => {
    for (const format of SCALAR_FORMATS) {
      for (const role of ['key', 'value'] as const) {
        const quantizer = scalarQuantizer(format, 128, role);
        expect(quantizer.encode(rows128).length).toBe(quantizer.storedBytes(64));
        expect(quantizerBitsPerValue(quantizer, 64)).toBe(scalarBitsPerValue(format));
      }
    }
  });

  it('fp16 round-trips to the nearest half', () => {
    const rows = new Float32Array([1, 1 / 3, 70000, -(2 ** -20)]);
    expect(Array.from(roundTrip(fp16Quantizer(4), rows))).toEqual([1, 0.333251953125, Infinity, -(2 ** -20)]);
  });

  it('q8_0 stores absmax/127 and rounded int8 per block of 32', () => {
    const rows = Float32Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5); // absmax 8 -> d = 8/127
    const q = blockQuantizer('q8_0', 32);
    const bytes = q.encode(rows);
    expect(bytes.length).toBe(34);
    expect(bytes[0] | (bytes[1] << 8)).toBe(float32ToFloat16Bits(8 / 127));
    expect(new Int8Array(bytes.buffer, 2, 32)[0]).toBe(-127); // -8 / (8/127)
    const back = q.decode(bytes, 1);
    for (let j = 0; j < 32; j++) expect(Math.abs(back[j] - rows[j])).toBeLessThanOrEqual(8 / 127 / 2 + 1e-3);
  });

  it('q4_0 uses d = max/-8 and packs q[j] | q[j+16] << 4', () => {
    const rows = new Float32Array(32);
    rows[0] = -8; // the value of largest magnitude: d = 1
    rows[1] = 4;
    rows[16] = 7.9; // trunc(16.4) clamps to 15
    const q = blockQuantizer('q4_0', 32);
    const bytes = q.encode(rows);
    expect(bytes.length).toBe(18);
    expect(bytes[0] | (bytes[1] << 8)).toBe(float32ToFloat16Bits(1));
    expect(bytes[2]).toBe(0 | (15 << 4)); // q[0] = trunc(-8 + 8.5) = 0, q[16] = 15
    expect(bytes[3]).toBe(12 | (8 << 4)); // q[1] = 12, q[17] = 8 (zero)
    expect(Array.from(q.decode(bytes, 1).subarray(0, 2))).toEqual([-8, 4]);
    expect(q.decode(bytes, 1)[16]).toBe(7);
  });

  it('zero-pads a partial last block', () => {
    const q = blockQuantizer('q8_0', 40);
    expect(q.storedBytes(1)).toBe(68);
    const rows = Float32Array.from({ length: 40 }, (_, j) => j);
    const back = roundTrip(q, rows);
    for (let j = 0; j < 40; j++) expect(Math.abs(back[j] - rows[j])).toBeLessThan(0.2);
  });

  it('KIVI per-token groups: scale (max-min)/(2^b-1), zero point min', () => {
    const q = kiviQuantizer(2, 4, 'value');
    const rows = new Float32Array([0, 1, 2, 3, 10, 10, 10, 10]);
    expect(q.storedBytes(2)).toBe(2 * (4 + 1));
    expect(Array.from(roundTrip(q, rows))).toEqual(Array.from(rows)); // exact: 4 levels, constant row has scale 0
  });

  it('KIVI per-channel over token blocks, partial last block included', () => {
    const q = kiviQuantizer(2, 2, 'key');
    // channel 0 over 3 tokens: 0, 3, 1.5 -> scale 1, codes 0 3 2 (1.5 rounds up); channel 1 constant
    const rows = new Float32Array([0, 5, 3, 5, 1.5, 5]);
    expect(q.storedBytes(3)).toBe(2 * 4 + 2);
    expect(Array.from(roundTrip(q, rows))).toEqual([0, 5, 3, 5, 2, 5]);
    expect(q.storedBytes(33)).toBe(2 * 4 + 16 + 2 * 4 + 1);
  });

  it('KIVI errors stay within half a step for keys and values', () => {
    for (const role of ['key', 'value'] as const) {
      for (const bits of [2, 3, 4]) {
        const back = roundTrip(kiviQuantizer(bits, 128, role), rows128);
        // a segment spans at most ~ 2 * 4.5 sigma = 36; half a step is 18 / (2^b - 1), plus fp16 rounding
        let worst = 0;
        for (let k = 0; k < rows128.length; k++) worst = Math.max(worst, Math.abs(back[k] - rows128[k]));
        expect(worst).toBeLessThan(22 / (2 ** bits - 1));
      }
    }
  });

  it('rejects byte counts that do not match the token count', () => {
    const q = scalarQuantizer('kivi3', 128, 'key');
    expect(() => q.decode(q.encode(rows128), 63)).toThrow(/tokens occupy/);
    expect(() => q.encode(new Float32Array(100))).toThrow(/not a whole number of 128-channel tokens/);
  });
});

describe('RVQ through the quantizer interface', () => {
  it('stores the contract bytes: 46 per token at the paper setting', () => {
    const spec = parseRvqSpec({ headDim: 128, numKvHeads: 1, groupSize: 32, codebookSize: 2048, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });
    const codec = new RvqCodec(spec, Float32Array.from({ length: 8 * 2048 * 32 }, () => rng.normal() * 0.3));
    const rows = rows128.subarray(0, 8 * 128);
    const q = rvqQuantizer(codec);
    expect(q.encode(rows).length).toBe(8 * 46);
    expect(quantizerBitsPerValue(q, 8)).toBe(2.875);
    expect(Array.from(roundTrip(q, rows))).toEqual(Array.from(codec.decode(codec.encode(rows))));
    expect(quantizerBitsPerValue(rvqQuantizer(codec, 1), 8)).toBe(0.5);
  });
});
