// Decode speed and cache bytes at a context length, measured through the engine's own generation loop:
// the store already holds the context, then `steps` tokens are decoded greedily (no end-of-sequence
// stop), timing each. Used by `reskv bench` and the engine benchmarks.
import { generate } from './generate.js';
import type { DecoderStep } from './generate.js';
import type { KvBytes, KvStore } from './kv-store.js';
import { percentile } from './timing.js';

export interface DecodeMeasurement {
  label: string;
  /** Tokens in the cache when decoding began. */
  context: number;
  steps: number;
  decodeTokensPerSecond: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  /** The store at the end. */
  bytes: KvBytes;
  residentBytes: number;
}

const silentTokenizer = { eosIds: [] as number[], decode: () => '' };

/** Fills `store` by prefilling `tokens` in chunks (real keys/values of a real model). */
export async function prefill(decoder: DecoderStep<KvStore>, store: KvStore, tokens: readonly number[], chunk = 64): Promise<void> {
  for (let at = 0; at < tokens.length; at += chunk) await decoder.step(tokens.slice(at, at + chunk), store);
}

/** Decodes `steps` tokens after the store's context (one extra input token is fed first). */
export async function measureDecode(label: string, decoder: DecoderStep<KvStore>, store: KvStore, steps: number, inputToken = 1): Promise<DecodeMeasurement> {
  const context = store.length;
  if (context + steps + 1 > decoder.contextLength) throw new RangeError(`context ${context} + ${steps + 1} decoded tokens exceed the model's ${decoder.contextLength} positions`);
  const result = await generate({ decoder, store, tokenizer: silentTokenizer, input: [inputToken], options: { maxTokens: steps + 1 } });
  const t = result.timing;
  return { label, context, steps: t.decodeTokens, decodeTokensPerSecond: t.decodeTokensPerSecond, latencyP50Ms: t.latencyP50Ms, latencyP95Ms: t.latencyP95Ms, bytes: result.cache, residentBytes: result.residentBytes };
}

/** A decode latency measured in several rounds: the median and range of the rounds' per-token p50. */
export interface RepeatedDecode {
  /** Each round's median milliseconds per token, in round order. */
  roundsMs: number[];
  medianMs: number;
  lowMs: number;
  highMs: number;
  /** The last round's measurement (bytes, resident memory). */
  last: DecodeMeasurement;
}

/** Median (nearest rank) and range of per-round latencies. */
export function summarizeRounds(roundsMs: readonly number[]): Pick<RepeatedDecode, 'medianMs' | 'lowMs' | 'highMs'> {
  return { medianMs: percentile(roundsMs, 50), lowMs: Math.min(...roundsMs), highMs: Math.max(...roundsMs) };
}

/** The order round `round` measures `count` formats in: forward in even rounds, backward in odd ones. */
export function roundOrder(count: number, round: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return round % 2 === 0 ? order : order.reverse();
}

/**
 * Decode latency of several formats in interleaved rounds: every round measures each format once, in
 * alternating order, so a slow spell of a shared machine (or warm-up) lands on all formats instead of
 * on whichever ran then. Each store holds the same context and is cut back to it after each round.
 */
export async function measureDecodeRounds(
  entries: readonly { label: string; decoder: DecoderStep<KvStore>; store: KvStore }[],
  steps: number,
  rounds: number,
  inputToken: number,
  onMeasured?: (done: number, total: number, label: string) => void,
): Promise<RepeatedDecode[]> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`latency rounds must be a whole number of at least 1, not ${rounds}`);
  const contexts = entries.map((e) => e.store.length);
  const measured: DecodeMeasurement[][] = entries.map(() => []);
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    for (const k of roundOrder(entries.length, round)) {
      const { label, decoder, store } = entries[k];
      onMeasured?.(done++, rounds * entries.length, label);
      measured[k].push(await measureDecode(label, decoder, store, steps, inputToken));
      store.truncate(contexts[k]);
    }
  }
  return measured.map((runs) => {
    const roundsMs = runs.map((m) => m.latencyP50Ms);
    return { roundsMs, ...summarizeRounds(roundsMs), last: runs[runs.length - 1] };
  });
}

const mib = (b: number) => (b / 2 ** 20).toFixed(2);

/**
 * A format's decode speed as a fraction of fp16's: the ratio of their median per-token latencies
 * (p50), which one slow step (another process on a shared CPU) moves far less than the mean tok/s.
 */
export function speedVsFp16(m: DecodeMeasurement, fp16: DecodeMeasurement): number {
  return fp16.latencyP50Ms / m.latencyP50Ms;
}

/** One line: speed, latency, held bytes by part, fp16 bytes and ratio, bytes fed per step, RSS; with `fp16`, the speed ratio. */
export function describeDecode(m: DecodeMeasurement, fp16?: DecodeMeasurement): string {
  const b = m.bytes;
  const payload = b.codes + b.scales + b.uncoded;
  const vs = fp16 ? `  speed ${speedVsFp16(m, fp16).toFixed(2)}x fp16 (p50 latency)` : '';
  return (
    `  ${m.label.padEnd(12)} decode ${m.decodeTokensPerSecond.toFixed(1).padStart(7)} tok/s  p50 ${m.latencyP50Ms.toFixed(1)} ms  p95 ${m.latencyP95Ms.toFixed(1)} ms | ` +
    `held ${mib(payload)} MiB (codes ${mib(b.codes)} + scales ${mib(b.scales)} + fp16 ${mib(b.uncoded)}; + depths ${mib(b.bookkeeping)}), fp16 ${mib(b.fp16)} MiB, ${(b.fp16 / payload).toFixed(2)}x smaller, ` +
    `fed/step ${mib(b.fedPerStep)} MiB (${(b.fedPerStep / payload).toFixed(3)}x held) | rss ${mib(m.residentBytes)} MiB${vs}`
  );
}
