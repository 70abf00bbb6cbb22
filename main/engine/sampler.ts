// Next-token choice from logits, in the Hugging Face order: repetition penalty, temperature, top-k,
// top-p, then a draw from a seeded PRNG (quant's mulberry32), so the same seed gives the same tokens.
// Temperature 0 is greedy (argmax after the penalty, lowest id on ties).
import { z } from 'zod';
import { createRng } from '../../quant/index.js';
import type { Rng } from '../../quant/index.js';

export const samplingOptionsSchema = z.strictObject({
  /** 0 = greedy. */
  temperature: z.number().min(0, 'must be at least 0 (0 = greedy)').max(100, 'must be at most 100').default(0),
  /** Keep the k most likely tokens (ties at the k-th logit kept, as HF); 0 = off. */
  topK: z.number().int('must be an integer').min(0, 'must be at least 0 (0 = off)').max(1_000_000, 'must be at most 1000000').default(0),
  /** Keep the smallest most-likely set whose probability reaches p; 1 = off. */
  topP: z.number().gt(0, 'must be greater than 0').max(1, 'must be at most 1 (1 = off)').default(1),
  /** CTRL / HF rule over the prompt and generated tokens: positive logits divided, negative multiplied; 1 = off. */
  repetitionPenalty: z.number().gt(0, 'must be greater than 0').max(100, 'must be at most 100').default(1),
  /** PRNG seed; a random one is drawn (and reported) when absent. */
  seed: z.number().int('must be an integer').min(0, 'must be at least 0').max(2 ** 32 - 1, 'must fit in 32 bits').optional(),
});

export type SamplingOptionsInput = z.input<typeof samplingOptionsSchema>;
export type SamplingOptions = z.output<typeof samplingOptionsSchema>;

/** Validates untrusted options; the error names each offending field. */
export function parseOptions<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  throw new Error(`Invalid ${what}: ${problems.join('; ')}`);
}

export function parseSamplingOptions(input: unknown): SamplingOptions {
  return parseOptions(samplingOptionsSchema, input, 'sampling options');
}

/** Logits with the repetition penalty applied to every distinct token in `history` (a copy). */
export function penalizeRepetition(logits: Float32Array, history: ArrayLike<number>, penalty: number): Float32Array {
  const out = logits.slice();
  if (penalty === 1) return out;
  const seen = new Set<number>();
  for (let i = 0; i < history.length; i++) {
    const id = history[i];
    if (seen.has(id) || id < 0 || id >= out.length) continue;
    seen.add(id);
    out[id] = out[id] > 0 ? out[id] / penalty : out[id] * penalty;
  }
  return out;
}

function checkFinite(logits: Float32Array): void {
  for (let i = 0; i < logits.length; i++) {
    if (Number.isNaN(logits[i])) throw new Error(`the model produced a NaN logit (token ${i})`);
  }
}

/** argmax, lowest id on ties. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The k-th largest logit (k <= length), by a native numeric sort of a copy. */
function kthLargest(logits: Float32Array, k: number): number {
  const sorted = logits.slice().sort();
  return sorted[sorted.length - k];
}

export interface Distribution {
  ids: number[];
  /** Normalised; in draw order (most likely first when top-p applied, else by id). */
  probs: number[];
}

/** The tokens that may be drawn and their probabilities after temperature, top-k and top-p. */
export function candidateDistribution(logits: Float32Array, options: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP'>): Distribution {
  const { temperature, topK, topP } = options;
  if (!(temperature > 0)) throw new RangeError('candidateDistribution needs a positive temperature (0 is greedy)');
  const floor = topK > 0 && topK < logits.length ? kthLargest(logits, topK) : -Infinity;
  let ids: number[] = [];
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] >= floor && logits[i] > -Infinity) {
      ids.push(i);
      if (logits[i] > max) max = logits[i];
    }
  }
  if (ids.length === 0) throw new Error('every logit is -Infinity: no token can be drawn');
  let probs = ids.map((id) => Math.exp((logits[id] - max) / temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (topP < 1) {
    // Only tokens at or above a probability threshold can be in the nucleus once those above it
    // already reach topP (they precede every other token in descending order): sort just them.
    let threshold = 1e-3;
    let pool: number[];
    for (;;) {
      const cut = threshold * total;
      pool = probs.map((_, i) => i).filter((i) => probs[i] >= cut);
      const mass = pool.reduce((a, i) => a + probs[i], 0);
      if (mass >= topP * total || threshold === 0) break;
      threshold = threshold < 1e-30 ? 0 : threshold / 1000;
    }
    pool.sort((a, b) => probs[b] - probs[a] || ids[a] - ids[b]);
    const kept: number[] = [];
    let mass = 0;
    for (const i of pool) {
      kept.push(i);
      mass += probs[i];
      if (mass >= topP * total) break;
    }
    ids = kept.map((i) => ids[i]);
    probs = kept.map((i) => probs[i]);
    total = mass;
  }
  return { ids, probs: probs.map((p) => p / total) };
}

export class Sampler {
  readonly options: SamplingOptions;
  readonly seed: number;
  private readonly rng: Rng;

  constructor(options: SamplingOptionsInput = {}) {
    this.options = parseSamplingOptions(options);
    this.seed = this.options.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.rng = createRng(this.seed);
  }

  /** Picks the next token from one position's logits; `history` is every token so far (prompt included). */
  next(logits: Float32Array, history: ArrayLike<number>): number {
    checkFinite(logits);
    const { temperature, repetitionPenalty } = this.options;
    const scores = penalizeRepetition(logits, history, repetitionPenalty);
    if (temperature === 0) return argmax(scores);
    const { ids, probs } = candidateDistribution(scores, this.options);
    const u = this.rng.next();
    let cumulative = 0;
    for (let i = 0; i < ids.length; i++) {
      cumulative += probs[i];
      if (u < cumulative) return ids[i];
    }
    return ids[ids.length - 1]; // u within rounding of 1
  }
}
