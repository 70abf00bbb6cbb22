// Per-token timing of a generation: prefill throughput, time to first token, decode throughput and
// per-token decode latency percentiles (nearest rank).

export interface GenerationTiming {
  prefillTokens: number;
  prefillMs: number;
  prefillTokensPerSecond: number;
  /** From the start to the first generated token (prefill + sampling). */
  firstTokenMs: number;
  /** Tokens after the first, each one decode step + sampling. */
  decodeTokens: number;
  decodeMs: number;
  decodeTokensPerSecond: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
}

/** Nearest-rank percentile (p in (0, 100]) of unsorted values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

const perSecond = (count: number, ms: number) => (ms > 0 ? (1000 * count) / ms : NaN);

/** `latenciesMs[0]` is the first token (includes prefill); the rest are decode tokens. */
export function summarizeTiming(prefillTokens: number, prefillMs: number, latenciesMs: readonly number[]): GenerationTiming {
  const decode = latenciesMs.slice(1);
  const decodeMs = decode.reduce((a, b) => a + b, 0);
  return {
    prefillTokens,
    prefillMs,
    prefillTokensPerSecond: perSecond(prefillTokens, prefillMs),
    firstTokenMs: latenciesMs[0] ?? NaN,
    decodeTokens: decode.length,
    decodeMs,
    decodeTokensPerSecond: perSecond(decode.length, decodeMs),
    latencyP50Ms: percentile(decode, 50),
    latencyP95Ms: percentile(decode, 95),
  };
}
