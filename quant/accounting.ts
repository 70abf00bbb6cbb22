// Exact storage accounting (see the RVQ contract). Figures are for ONE layer, ONE of K/V, ONE token;
// codebooks are a fixed per-model cost reported separately.
import { checkDepth, codeBits, groupsPerToken, scalesPerToken, tokenWidth } from './spec.js';
import type { RvqSpec } from './spec.js';

export type ScalarFormat = 'fp16' | 'q8_0' | 'q4_0' | 'kivi2' | 'kivi3' | 'kivi4';

export const SCALAR_FORMATS: readonly ScalarFormat[] = ['fp16', 'q8_0', 'q4_0', 'kivi2', 'kivi3', 'kivi4'];

/** ceil(G * depth * log2(C) / 8): the bit-packed codes of the depth-prefix, padded to a whole byte. */
export function rvqCodeBytesPerToken(spec: RvqSpec, depth = spec.depth): number {
  checkDepth(depth, spec.depth);
  return Math.ceil((groupsPerToken(spec) * depth * codeBits(spec)) / 8);
}

/** 2 bytes per fp16 scale. */
export function rvqScaleBytesPerToken(spec: RvqSpec): number {
  return 2 * scalesPerToken(spec);
}

export function rvqBytesPerToken(spec: RvqSpec, depth = spec.depth): number {
  return rvqCodeBytesPerToken(spec, depth) + rvqScaleBytesPerToken(spec);
}

export function rvqBitsPerValue(spec: RvqSpec, depth = spec.depth): number {
  return (8 * rvqBytesPerToken(spec, depth)) / tokenWidth(spec);
}

/** depth * C * groupSize float32 values. */
export function rvqCodebookBytes(spec: RvqSpec, depth = spec.depth): number {
  checkDepth(depth, spec.depth);
  return depth * spec.codebookSize * spec.groupSize * 4;
}

/**
 * Bits per value of the scalar baselines, scales and zero points included: q8_0/q4_0 store blocks of
 * 32 values with one fp16 scale (+16/32 bits); KIVI stores an fp16 scale and zero point per group of 32
 * (+32/32 bits).
 */
export function scalarBitsPerValue(format: ScalarFormat): number {
  switch (format) {
    case 'fp16':
      return 16;
    case 'q8_0':
      return 8 + 16 / 32;
    case 'q4_0':
      return 4 + 16 / 32;
    case 'kivi2':
      return 2 + 32 / 32;
    case 'kivi3':
      return 3 + 32 / 32;
    case 'kivi4':
      return 4 + 32 / 32;
  }
}

/** How many times smaller than fp16 a format of this many bits per value is. */
export function compressionVsFp16(bitsPerValue: number): number {
  return 16 / bitsPerValue;
}
