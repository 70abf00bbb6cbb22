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

/** Each RVQ record row stores its token's depth in one byte beside the codes (stage-major prefix cut). */
export const RVQ_DEPTH_BYTES_PER_ROW = 1;

/** What a KV cache holds: its tokens, every byte it keeps for them, what fp16 would keep, and its codebooks. */
export interface KvHeldBytes {
  tokens: number;
  held: number;
  fp16: number;
  codebooks: number;
}

/** The headline figures every view shows for a cache (Chat, Report, Cost, Tradeoffs, API, CLI). */
export interface KvFigures {
  bytesPerToken: number;
  /** Held bits per cached value, depth bytes and scales included. */
  bitsPerValue: number;
  /** fp16 bytes / held bytes. */
  compression: number;
  /** fp16 bytes / (held + codebook bytes). */
  compressionWithCodebooks: number;
}

/** The one place these figures are computed from held bytes; NaN where nothing is held yet. */
export function kvFigures({ tokens, held, fp16, codebooks }: KvHeldBytes): KvFigures {
  const ratio = (a: number, b: number) => (a > 0 && b > 0 ? a / b : NaN);
  return {
    bytesPerToken: ratio(held, tokens),
    // fp16 keeps 2 bytes per value, so the cache holds fp16 / 2 values
    bitsPerValue: ratio(16 * held, fp16),
    compression: ratio(fp16, held),
    compressionWithCodebooks: ratio(fp16, held + codebooks),
  };
}
