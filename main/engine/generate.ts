// The generation loop: prefill the input (in chunks, so it can be cancelled between them), then
// sample and decode one token at a time until an end-of-sequence id, a stop string, the token limit,
// the model's context, or cancellation. Any model that implements DecoderStep plugs in: the fp graph
// over an Fp16KvStore / ScalarKvStore, the rvq graph over a KvCodeStore.
import { z } from 'zod';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { KvBytes, KvStore } from './kv-store.js';
import { Sampler, parseOptions, samplingOptionsSchema } from './sampler.js';
import { StopText } from './stop-text.js';
import { summarizeTiming } from './timing.js';
import type { GenerationTiming } from './timing.js';

/** One forward pass of a decoder-only model over new tokens, with its KV cache in a store. */
export interface DecoderStep<S extends KvStore = KvStore> {
  /** Positions the model can attend over (its context length). */
  readonly contextLength: number;
  readonly vocabSize: number;
  /**
   * Runs `tokens` at positions store.length, store.length + 1, ..., reading the past from `store`
   * and appending the new tokens' keys/values to it. Returns float32 logits [n, vocabSize] for the
   * last n positions: all of them when `allLogits` (teacher-forced evaluation), else at least the last.
   */
  step(tokens: readonly number[], store: S, options?: { allLogits?: boolean }): Promise<Float32Array>;
}

export const generationOptionsSchema = samplingOptionsSchema.extend({
  maxTokens: z.number().int('must be an integer').min(1, 'must be at least 1').max(1_000_000, 'must be at most 1000000').default(256),
  /** Generation ends before the first of these strings; it is not emitted. */
  stop: z.array(z.string().min(1, 'must not be empty').max(1000, 'must be at most 1000 characters')).max(64, 'at most 64 stop strings').default([]),
  /** Prompt tokens per forward pass during prefill (cancellation is checked between passes). */
  prefillChunk: z.number().int('must be an integer').min(1, 'must be at least 1').max(1 << 20, 'must be at most 1048576').default(512),
});

export type GenerationOptionsInput = z.input<typeof generationOptionsSchema>;
export type GenerationOptions = z.output<typeof generationOptionsSchema>;

export function parseGenerationOptions(input: unknown): GenerationOptions {
  return parseOptions(generationOptionsSchema, input, 'generation options');
}

export type StopReason = 'eos' | 'stop-string' | 'max-tokens' | 'context-full' | 'cancelled';

/** A streamed piece: a generated token with the text it released, or (tokenId null) text released at the end. */
export interface GenerationEvent {
  tokenId: number | null;
  /** Index of the generated token (for the end-of-text piece: the number of tokens). */
  index: number;
  text: string;
  /** Time from the previous token (from the start for the first, which includes the prefill). */
  latencyMs: number;
}

export interface GenerationResult {
  /** Generated ids, the end-of-sequence id included when that ended it. */
  tokens: number[];
  text: string;
  stopReason: StopReason;
  seed: number;
  timing: GenerationTiming;
  /** The store's bytes when generation ended (held, fp16 equivalent, fed per step, ...). */
  cache: KvBytes;
  /** Resident set size of the process when generation ended. */
  residentBytes: number;
}

export class ContextOverflowError extends Error {
  constructor(
    readonly needed: number,
    readonly contextLength: number,
  ) {
    super(`the prompt needs ${needed} positions but the model's context holds ${contextLength}: shorten it, or drop the oldest turns`);
    this.name = 'ContextOverflowError';
  }
}

export interface GenerationRequest<S extends KvStore> {
  decoder: DecoderStep<S>;
  store: S;
  tokenizer: Pick<TextTokenizer, 'decode' | 'eosIds'>;
  /** Tokens to run before sampling (at least one): the prompt, or what a conversation has not cached yet. */
  input: readonly number[];
  /** The tokens already in the store, in order, for the repetition penalty. */
  cached?: readonly number[];
  options?: GenerationOptionsInput;
  signal?: AbortSignal;
}

/**
 * Lets the thread's pending events run: a cancel or a depth change arrives as a message (or a timer),
 * and a decoder whose one-token step never waits (the kernel layers run it all in WebAssembly) would
 * otherwise hold the thread until the reply ends, so a Stop landed only after the whole reply.
 */
const letEventsIn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs tokens through the decoder; on failure the store is cut back to where it was. */
async function runStep<S extends KvStore>(decoder: DecoderStep<S>, store: S, tokens: readonly number[]): Promise<Float32Array> {
  const before = store.length;
  try {
    const logits = await decoder.step(tokens, store);
    if (logits.length < decoder.vocabSize || logits.length % decoder.vocabSize !== 0) {
      throw new Error(`decoder returned ${logits.length} logits, not whole rows of ${decoder.vocabSize}`);
    }
    if (store.length !== before + tokens.length) throw new Error(`decoder stored ${store.length - before} tokens for ${tokens.length} given`);
    return logits.subarray(logits.length - decoder.vocabSize);
  } catch (error) {
    if (store.length > before) store.truncate(before);
    throw error;
  }
}

/** Streams a generation; the generator's return value is the result. */
export async function* streamGeneration<S extends KvStore>(request: GenerationRequest<S>): AsyncGenerator<GenerationEvent, GenerationResult> {
  const { decoder, store, tokenizer, input, signal } = request;
  const options = parseGenerationOptions(request.options ?? {});
  const { temperature, topK, topP, repetitionPenalty, seed } = options;
  const sampler = new Sampler({ temperature, topK, topP, repetitionPenalty, seed });
  if (input.length === 0) throw new Error('generation needs at least one input token');
  const needed = store.length + input.length;
  if (needed > decoder.contextLength) throw new ContextOverflowError(needed, decoder.contextLength);
  const bad = input.find((id) => !Number.isInteger(id) || id < 0 || id >= decoder.vocabSize);
  if (bad !== undefined) throw new RangeError(`input token ${bad} is outside the vocabulary (0..${decoder.vocabSize - 1})`);

  const history = [...(request.cached ?? []), ...input];
  const eos = new Set(tokenizer.eosIds);
  const stopText = new StopText(tokenizer, options.stop, history);
  const tokens: number[] = [];
  const latencies: number[] = [];
  const start = performance.now();
  let prefillMs = 0;
  let stopReason: StopReason = 'cancelled';
  const finish = (): GenerationResult => ({
    tokens,
    text: stopText.text,
    stopReason,
    seed: sampler.seed,
    timing: summarizeTiming(input.length, prefillMs, latencies),
    cache: store.bytes(),
    residentBytes: process.memoryUsage.rss(),
  });

  let logits: Float32Array | null = null;
  for (let at = 0; at < input.length; at += options.prefillChunk) {
    if (signal?.aborted) return finish();
    logits = await runStep(decoder, store, input.slice(at, at + options.prefillChunk));
  }
  prefillMs = performance.now() - start;
  let last = start;

  while (logits) {
    const tokenId = sampler.next(logits, history);
    const now = performance.now();
    latencies.push(now - last);
    last = now;
    tokens.push(tokenId);
    history.push(tokenId);
    if (eos.has(tokenId)) {
      stopReason = 'eos';
      break;
    }
    const update = stopText.push(tokenId);
    yield { tokenId, index: tokens.length - 1, text: update.text, latencyMs: latencies[latencies.length - 1] };
    if (update.stopped) {
      stopReason = 'stop-string';
      break;
    }
    if (tokens.length >= options.maxTokens) {
      stopReason = 'max-tokens';
      break;
    }
    if (store.length + 1 > decoder.contextLength) {
      stopReason = 'context-full';
      break;
    }
    await letEventsIn();
    if (signal?.aborted) break;
    logits = await runStep(decoder, store, [tokenId]);
  }
  if (stopReason !== 'stop-string') {
    const tail = stopText.flush();
    if (tail) yield { tokenId: null, index: tokens.length, text: tail, latencyMs: 0 };
  }
  return finish();
}

/** Runs a generation to the end, calling `onEvent` for each streamed piece. */
export async function generate<S extends KvStore>(request: GenerationRequest<S>, onEvent?: (event: GenerationEvent) => void): Promise<GenerationResult> {
  const stream = streamGeneration(request);
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value;
    onEvent?.(next.value);
  }
}
