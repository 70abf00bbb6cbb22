import { describe, expect, it } from 'vitest';
import { codeBits, groupsPerToken, parseRvqSpec, scalesPerToken, tokenWidth } from '../../../quant/spec.js';
import {
  compressionVsFp16,
  rvqBitsPerValue,
  rvqBytesPerToken,
  rvqCodeBytesPerToken,
  rvqCodebookBytes,
  rvqScaleBytesPerToken,
  scalarBitsPerValue,
} from '../../../quant/accounting.js';

const paperSpec = {
  headDim: 128,
  numKvHeads: 1,
  groupSize: 32,
  codebookSize: 2048,
  depth: 8,
  grouping: 'strided',
  groupSpan: 'head',
  scale: 'head',
} as const;

const stories260KSpec = { ...paperSpec, headDim: 8, numKvHeads: 4, groupSpan: 'token', scale: 'token' } as const;

describe('RvqSpec', () => {
  it('accepts valid specs and derives the sizes', () => {
    const spec = parseRvqSpec(paperSpec);
    expect(spec).toEqual(paperSpec);
    expect([tokenWidth(spec), groupsPerToken(spec), codeBits(spec), scalesPerToken(spec)]).toEqual([128, 4, 11, 1]);
    const tiny = parseRvqSpec(stories260KSpec);
    expect([tokenWidth(tiny), groupsPerToken(tiny), scalesPerToken(tiny)]).toEqual([32, 1, 1]);
  });

  it.each([
    [{ codebookSize: 2000 }, /codebookSize: must be a power of two/],
    [{ codebookSize: 1 }, /codebookSize: must be at least 2/],
    [{ codebookSize: 131072 }, /codebookSize: must be at most 65536/],
    [{ groupSize: 24 }, /groupSize: 24 must divide the headDim \(128\)/],
    [{ groupSize: 64, headDim: 8, numKvHeads: 4 }, /groupSize: 64 must divide the headDim/],
    [{ depth: 0 }, /depth: must be at least 1/],
    [{ depth: 2.5 }, /depth: must be an integer/],
    [{ headDim: -1 }, /headDim: must be at least 1/],
    [{ grouping: 'random' }, /grouping:/],
    [{ groupSpan: 'layer' }, /groupSpan:/],
    [{ scale: 'channel' }, /scale:/],
    [{ headDim: 1, groupSize: 1, scale: 'head' }, /scale: 'head' needs at least 2 channels/],
    [{ extra: true }, /Unrecognized key.*extra/],
  ])('rejects %j naming the field', (patch, message) => {
    expect(() => parseRvqSpec({ ...paperSpec, ...patch })).toThrow(message);
  });

  it('lets token-span groups cross heads', () => {
    expect(groupsPerToken(parseRvqSpec({ ...paperSpec, headDim: 8, numKvHeads: 4, groupSize: 16, groupSpan: 'token' }))).toBe(2);
  });

  it('rejects non-objects and missing fields', () => {
    expect(() => parseRvqSpec(null)).toThrow(/Invalid RVQ spec/);
    expect(() => parseRvqSpec({ ...paperSpec, headDim: undefined })).toThrow(/headDim/);
  });
});

describe('accounting', () => {
  it('matches the contract figures for the paper setting', () => {
    const spec = parseRvqSpec(paperSpec);
    expect(rvqCodeBytesPerToken(spec)).toBe(44);
    expect(rvqScaleBytesPerToken(spec)).toBe(2);
    expect(rvqBytesPerToken(spec)).toBe(46);
    expect(rvqBitsPerValue(spec)).toBe(2.875);
    expect(compressionVsFp16(rvqBitsPerValue(spec))).toBeCloseTo(5.565, 3);
    expect(rvqCodebookBytes(spec)).toBe(8 * 2048 * 32 * 4);
    // Llama-3-8B: 2 (K,V) * 32 layers * 8 KV heads * 46 bytes.
    expect(2 * 32 * 8 * rvqBytesPerToken(spec)).toBe(23_552);
  });

  it('matches the contract figures for stories260K', () => {
    const spec = parseRvqSpec(stories260KSpec);
    expect(rvqBytesPerToken(spec)).toBe(13);
    expect(rvqBitsPerValue(spec)).toBe(3.25);
  });

  it('accounts any depth prefix, padding codes to a whole byte', () => {
    const spec = parseRvqSpec(paperSpec);
    expect(rvqCodeBytesPerToken(spec, 1)).toBe(6); // 4 * 11 = 44 bits
    expect(rvqCodeBytesPerToken(spec, 3)).toBe(17); // 132 bits
    expect(rvqCodebookBytes(spec, 2)).toBe(2 * 2048 * 32 * 4);
    expect(() => rvqBytesPerToken(spec, 9)).toThrow(/depth/);
    expect(() => rvqBytesPerToken(spec, 0)).toThrow(/depth/);
    expect(rvqScaleBytesPerToken(parseRvqSpec({ ...paperSpec, scale: 'none' }))).toBe(0);
    expect(rvqScaleBytesPerToken(parseRvqSpec({ ...paperSpec, numKvHeads: 8 }))).toBe(16);
  });

  it('gives the scalar baselines their bits per value including scales', () => {
    expect(['fp16', 'q8_0', 'q4_0', 'kivi2', 'kivi3', 'kivi4'].map((f) => scalarBitsPerValue(f as never))).toEqual([16, 8.5, 4.5, 3, 4, 5]);
  });
});
