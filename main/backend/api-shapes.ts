// The API's shapes from the engine's and back (backend worker): sampling options in, figures out.
import type { ChatFigures, SamplingOptions } from '../api/types.js';
import type { ConversationFigures } from '../engine/engine-model.js';
import type { GenerationOptionsInput } from '../engine/generate.js';

/** The engine's generation options from the API's (a null seed: the engine draws one). */
export function generationOptions({ seed, ...rest }: SamplingOptions): GenerationOptionsInput {
  return { ...rest, ...(seed === null ? {} : { seed }) };
}

/** The deepest layer's depth, or null for a cache without depths. */
export function deepest(f: ConversationFigures): number | null {
  return f.depths ? Math.max(...f.depths.key, ...f.depths.value) : null;
}

/** The API's figures from the engine's (plain data). */
export function chatFigures(f: ConversationFigures): ChatFigures {
  const { codes, scales, uncoded, bookkeeping, held, fp16, fedPerStep } = f.kv;
  return {
    tokens: f.tokens,
    cachedTokens: f.cachedTokens,
    kv: { codes, scales, uncoded, bookkeeping, held, fp16, fedPerStep },
    compressionRatio: f.compressionRatio,
    compressionWithCodebooks: f.compressionWithCodebooks,
    codebookBytes: f.codebookBytes,
    bitsPerValue: f.bitsPerValue,
    bytesPerToken: f.bytesPerToken,
    depth: deepest(f),
    lastReply: f.lastReply && {
      prefillTokens: f.lastReply.prefillTokens,
      prefillTokensPerSecond: f.lastReply.prefillTokensPerSecond,
      decodeTokensPerSecond: f.lastReply.decodeTokensPerSecond,
      firstTokenMs: f.lastReply.firstTokenMs,
      latencyP50Ms: f.lastReply.latencyP50Ms,
      latencyP95Ms: f.lastReply.latencyP95Ms,
    },
    residentBytes: f.residentBytes,
  };
}
