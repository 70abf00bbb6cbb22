// Shared test inputs for the engine's store tests: specs from the RVQ contract's worked examples,
// deterministic codes, and a stand-in encoder.
import { createHash } from 'node:crypto';
import { codeBits, float32ToFloat16Bits, groupsPerToken, parseRvqSpec, scalesPerToken, tokenWidth } from '../../../quant/index.js';
import type { RvqEncoded, RvqSpec } from '../../../quant/index.js';
import type { RvqTokenEncoder } from '../../../main/engine/kv-code-store.js';

/** headDim 128, 1 head, 32-channel groups in the head, C 2048, depth 8, per-head scale: 46 bytes/token. */
export const paperSpec: RvqSpec = parseRvqSpec({ headDim: 128, numKvHeads: 1, groupSize: 32, codebookSize: 2048, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });

/** stories260K: 4 heads of 8, one 32-channel group per token, per-token scale: 13 bytes/token. */
export const storiesSpec: RvqSpec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 2048, depth: 8, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });

/** Deterministic pseudo-random codes for `tokens` tokens of `depth` stages (a hash, so no shared PRNG state). */
export function sampleCodes(spec: RvqSpec, tokens: number, depth = spec.depth, salt = 0): RvqEncoded {
  const G = groupsPerToken(spec);
  const codes = new Uint32Array(tokens * depth * G);
  for (let i = 0; i < codes.length; i++) codes[i] = createHash('sha256').update(`${salt}:${i}`).digest().readUInt32LE(0) % spec.codebookSize;
  const scales = new Uint16Array(tokens * scalesPerToken(spec)).map((_, i) => float32ToFloat16Bits(1 + ((i + salt) % 7) / 8));
  return { tokens, depth, codes, scales };
}

/**
 * A stand-in for quant's RvqCodec, for the store's plumbing only (no quantization quality is
 * claimed): a token's codes are derived from its own values, so a test sees which token went where.
 */
export function valueEncoder(spec: RvqSpec): RvqTokenEncoder {
  const W = tokenWidth(spec);
  const G = groupsPerToken(spec);
  const S = scalesPerToken(spec);
  return {
    encode(rows: Float32Array, depth = spec.depth): RvqEncoded {
      const tokens = rows.length / W;
      const codes = new Uint32Array(tokens * depth * G);
      for (let t = 0; t < tokens; t++) {
        for (let s = 0; s < depth; s++) {
          for (let g = 0; g < G; g++) codes[(t * depth + s) * G + g] = (float32ToFloat16Bits(rows[t * W + g]) + s) % 2 ** codeBits(spec);
        }
      }
      const scales = new Uint16Array(tokens * S).map((_, i) => float32ToFloat16Bits(rows[Math.floor(i / Math.max(S, 1)) * W]));
      return { tokens, depth, codes, scales };
    },
  };
}

/** Head-major float32 K/V rows [heads, tokens, headDim] whose values identify (token, channel). */
export function headMajorRows(spec: Pick<RvqSpec, 'numKvHeads' | 'headDim'>, tokens: number, firstToken = 0): Float32Array {
  const { numKvHeads: H, headDim: D } = spec;
  const data = new Float32Array(H * tokens * D);
  for (let h = 0; h < H; h++) for (let t = 0; t < tokens; t++) for (let c = 0; c < D; c++) data[(h * tokens + t) * D + c] = ((firstToken + t) % 97) / 8 + (h * D + c) / 1024;
  return data;
}
