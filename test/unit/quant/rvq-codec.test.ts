import { describe, expect, it } from 'vitest';
import { RvqCodec } from '../../../quant/rvq-codec.js';
import { groupChannelMap, groupLayout, groupsToRows, rowsToGroups } from '../../../quant/grouping.js';
import { assignNearest, prepareCodebook } from '../../../quant/nearest.js';
import { parseRvqSpec } from '../../../quant/spec.js';
import type { RvqSpec } from '../../../quant/spec.js';
import { rvqBytesPerToken } from '../../../quant/accounting.js';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../quant/fp16.js';
import { createRng } from '../../../quant/prng.js';

function spec(patch: Partial<RvqSpec>): RvqSpec {
  return parseRvqSpec({ headDim: 4, numKvHeads: 1, groupSize: 2, codebookSize: 4, depth: 2, grouping: 'contiguous', groupSpan: 'head', scale: 'none', ...patch });
}

// Stage 0 and stage 1 codebooks, 4 entries of 2 values each.
const handBooks = new Float32Array([0, 0, 1, 0, 0, 1, 1, 1, /* stage 1 */ 0, 0, 0.25, 0, 0, 0.25, -0.25, -0.25]);

describe('RVQ codec, hand-computed 2-stage example', () => {
  const codec = new RvqCodec(spec({}), handBooks);
  const row = new Float32Array([1.2, 0.1, -0.2, 0.9]);

  it('encodes greedily stage by stage', () => {
    // group 0 = (1.2, 0.1): stage 0 -> (1,0) [d2 0.05], residual (0.2, 0.1) -> (0.25, 0) [d2 0.0125]
    // group 1 = (-0.2, 0.9): stage 0 -> (0,1) [d2 0.05], residual (-0.2, -0.1) -> (-0.25,-0.25) [d2 0.025]
    const encoded = codec.encode(row);
    expect(Array.from(encoded.codes)).toEqual([1, 2, 1, 3]); // [stage 0: g0 g1][stage 1: g0 g1]
    expect(encoded.scales.length).toBe(0);
  });

  it('decodes progressively to any stored depth', () => {
    const encoded = codec.encode(row);
    expect(Array.from(codec.decode(encoded, 1))).toEqual([1, 0, 0, 1]);
    expect(Array.from(codec.decode(encoded, 2))).toEqual([1.25, 0, -0.25, 0.75]);
    expect(() => codec.decode(encoded, 3)).toThrow(/depth must be an integer from 1 to 2/);
    const shallow = codec.encode(row, 1);
    expect(Array.from(shallow.codes)).toEqual([1, 2]);
    expect(() => codec.decode(shallow, 2)).toThrow(/from 1 to 1/);
  });

  it('packs the token record as the contract lays it out', () => {
    const encoded = codec.encode(row);
    // 2-bit codes 1,2,1,3 LSB-first: 01 | 10<<2 | 01<<4 | 11<<6 = 0b11011001
    expect(Array.from(codec.toRecords(encoded))).toEqual([0b11011001]);
    expect(Array.from(codec.toRecords(encoded, 1))).toEqual([0b1001]);
    expect(codec.fromRecords(codec.toRecords(encoded))).toEqual(encoded);
  });
});

describe('grouping', () => {
  it('puts channels where the definition says', () => {
    const base = { headDim: 8, groupSize: 2 };
    expect(Array.from(groupChannelMap(spec({ ...base, grouping: 'contiguous' })))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // strided, 4 groups per head: channel c -> group c mod 4, position floor(c / 4)
    expect(Array.from(groupChannelMap(spec({ ...base, grouping: 'strided' })))).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
    // two heads of 4, head span: each head grouped on its own
    expect(Array.from(groupChannelMap(spec({ headDim: 4, numKvHeads: 2, groupSize: 2, grouping: 'strided' })))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    // token span: one unit of 8 channels across both heads
    expect(Array.from(groupChannelMap(spec({ headDim: 4, numKvHeads: 2, groupSize: 4, groupSpan: 'token', grouping: 'strided' })))).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
  });

  it('codes strided and contiguous groups differently and decodes both back in channel order', () => {
    const books = new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]); // depth 1: entries (0,0) (1,0) (0,1) (1,1)
    const row = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0]);
    const strided = new RvqCodec(spec({ headDim: 8, depth: 1, grouping: 'strided' }), books);
    const contiguous = new RvqCodec(spec({ headDim: 8, depth: 1, grouping: 'contiguous' }), books);
    expect(Array.from(strided.encode(row).codes)).toEqual([3, 0, 0, 0]); // group 0 = channels (0, 4)
    expect(Array.from(contiguous.encode(row).codes)).toEqual([1, 0, 1, 0]); // groups (0,1) and (4,5)
    expect(Array.from(strided.decode(strided.encode(row)))).toEqual(Array.from(row));
    expect(Array.from(contiguous.decode(contiguous.encode(row)))).toEqual(Array.from(row));
  });

  it('divides by the fp16-rounded unbiased std per head and multiplies it back', () => {
    const s = spec({ headDim: 4, numKvHeads: 2, scale: 'head' });
    const layout = groupLayout(s);
    const rows = new Float32Array([1, 2, 3, 4, 0, 0, 0, 0]);
    const vectors = new Float32Array(8);
    const scales = new Uint16Array(2);
    rowsToGroups(layout, rows, 1, vectors, scales);
    const std = Math.sqrt(5 / 3); // values 1..4: squared deviations 2.25+0.25+0.25+2.25 over n-1 = 3
    expect(scales[0]).toBe(float32ToFloat16Bits(std));
    expect(scales[1]).toBe(float32ToFloat16Bits(1)); // zero std counts as 1
    expect(vectors[0]).toBe(Math.fround(1 / float16BitsToFloat32(scales[0])));
    const back = new Float32Array(8);
    groupsToRows(layout, vectors, scales, 1, back);
    for (let k = 0; k < 8; k++) expect(back[k]).toBeCloseTo(rows[k], 5);
    const tokenScale = new Uint16Array(1);
    rowsToGroups(groupLayout(spec({ headDim: 4, numKvHeads: 2, scale: 'token' })), rows, 1, vectors, tokenScale);
    expect(tokenScale[0]).toBe(float32ToFloat16Bits(Math.sqrt((1 + 4 + 9 + 16 - 100 / 8) / 7)));
  });

  it('rejects non-finite inputs and ragged batches', () => {
    const codec = new RvqCodec(spec({}), handBooks);
    expect(() => codec.encode(new Float32Array([1, NaN, 0, 0]))).toThrow(/token 0 channel 1 is NaN/);
    expect(() => codec.encode(new Float32Array(6))).toThrow(/not a whole number of 4-channel tokens/);
    expect(() => new RvqCodec(spec({}), new Float32Array(8))).toThrow(/codebooks hold 8 values/);
  });
});

describe('nearest-entry search', () => {
  it('matches brute force for odd dims and batches that are not a multiple of 4', () => {
    const rng = createRng(7);
    for (const [dim, entries, count] of [[3, 17, 10], [32, 64, 33], [1, 5, 3]]) {
      const book = Float32Array.from({ length: entries * dim }, () => rng.normal());
      const vectors = Float32Array.from({ length: count * dim }, () => rng.normal());
      const codes = new Uint32Array(count);
      assignNearest(prepareCodebook(book, entries, dim), vectors, count, codes);
      for (let v = 0; v < count; v++) {
        let best = 0;
        let bestDistance = Infinity;
        for (let c = 0; c < entries; c++) {
          let d2 = 0;
          for (let t = 0; t < dim; t++) d2 += (vectors[v * dim + t] - book[c * dim + t]) ** 2;
          if (d2 < bestDistance) [best, bestDistance] = [c, d2];
        }
        expect(codes[v]).toBe(best);
      }
    }
  });
});

describe('token records', () => {
  it('round-trip many tokens with scales, at full and prefix depth', () => {
    const s = parseRvqSpec({ headDim: 8, numKvHeads: 3, groupSize: 4, codebookSize: 32, depth: 3, grouping: 'strided', groupSpan: 'head', scale: 'head' });
    const rng = createRng(3);
    const codec = new RvqCodec(s, Float32Array.from({ length: 3 * 32 * 4 }, () => rng.normal()));
    const rows = Float32Array.from({ length: 5 * 24 }, () => 3 * rng.normal());
    const encoded = codec.encode(rows);
    const records = codec.toRecords(encoded);
    expect(records.length).toBe(5 * rvqBytesPerToken(s)); // 6 groups * 3 * 5 bits = 90 -> 12 bytes + 6 scale bytes
    expect(rvqBytesPerToken(s)).toBe(18);
    expect(codec.fromRecords(records)).toEqual(encoded);
    const prefix = codec.fromRecords(codec.toRecords(encoded, 2), 2);
    expect(Array.from(codec.decode(prefix))).toEqual(Array.from(codec.decode(encoded, 2)));
    expect(() => codec.fromRecords(records.subarray(1))).toThrow(/not a whole number of 18-byte depth-3 token records/);
  });
});
