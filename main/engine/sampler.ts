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

/** Logits with the repetition penalty applied to every distinct token in `history` (a copy; `logits` itself when the penalty is 1). */
export function penalizeRepetition(logits: Float32Array, history: ArrayLike<number>, penalty: number): Float32Array {
  if (penalty === 1) return logits;
  const out = logits.slice();
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

/** Vocabulary-sized work arrays a Sampler reuses from token to token. */
export interface SamplerScratch {
  values: Float32Array;
  weights: Float64Array;
}

export function samplerScratch(vocabSize: number): SamplerScratch {
  return { values: new Float32Array(vocabSize), weights: new Float64Array(vocabSize) };
}

/** The k-th largest value (1 <= k <= length), by quickselect on a copy in `work`: O(n) on average. */
function kthLargest(values: Float32Array, k: number, work: Float32Array): number {
  const a = work.subarray(0, values.length);
  a.set(values);
  const target = a.length - k; // index of the k-th largest in ascending order
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break; // a[j+1 .. i-1] all equal the pivot
  }
  return a[target];
}

export interface Distribution {
  ids: number[];
  /** Normalised; in draw order (most likely first when top-p applied, else by id). */
  probs: number[];
}

/**
 * Tokens that may hold the top-p nucleus, unsorted: those at or above a probability threshold, once
 * their mass reaches topP (they precede every other token in descending order), so only they need
 * sorting. The threshold starts at 1e-3 and drops a thousandfold until the mass suffices.
 */
function nucleusPool(weights: Float64Array, total: number, topP: number): Uint32Array {
  for (let threshold = 1e-3; ; threshold = threshold < 1e-30 ? 0 : threshold / 1000) {
    const cut = threshold * total;
    const picked: number[] = [];
    let mass = 0;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i] > 0 && weights[i] >= cut) {
        picked.push(i);
        mass += weights[i];
      }
    }
    if (mass >= topP * total || threshold === 0) return Uint32Array.from(picked);
  }
}

/** The tokens that may be drawn and their probabilities after temperature, top-k and top-p. */
export function candidateDistribution(
  logits: Float32Array,
  options: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP'>,
  scratch: SamplerScratch = samplerScratch(logits.length),
): Distribution {
  const { temperature, topK, topP } = options;
  if (!(temperature > 0)) throw new RangeError('candidateDistribution needs a positive temperature (0 is greedy)');
  const V = logits.length;
  if (scratch.values.length < V || scratch.weights.length < V) throw new RangeError(`sampler scratch holds ${scratch.values.length} values, the logits ${V}`);
  const floor = topK > 0 && topK < V ? kthLargest(logits, topK, scratch.values) : -Infinity;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] >= floor && logits[i] > max) max = logits[i];
  if (max === -Infinity) throw new Error('every logit is -Infinity: no token can be drawn');
  // unnormalised probabilities, 0 outside top-k
  const weights = scratch.weights.subarray(0, V);
  let total = 0;
  for (let i = 0; i < V; i++) {
    weights[i] = logits[i] >= floor ? Math.exp((logits[i] - max) / temperature) : 0;
    total += weights[i];
  }
  let order: ArrayLike<number>;
  let mass = total;
  if (topP < 1) {
    const pool = nucleusPool(weights, total, topP);
    pool.sort((a, b) => weights[b] - weights[a] || a - b);
    let n = 0;
    mass = 0;
    while (n < pool.length && mass < topP * total) mass += weights[pool[n++]];
    order = pool.subarray(0, n);
  } else {
    const kept: number[] = [];
    for (let i = 0; i < V; i++) if (weights[i] > 0) kept.push(i);
    order = kept;
  }
  const ids = Array.from(order);
  return { ids, probs: ids.map((id) => weights[id] / mass) };
}

export class Sampler {
  readonly options: SamplingOptions;
  readonly seed: number;
  private readonly rng: Rng;
  private scratch: SamplerScratch = samplerScratch(0);

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
    if (this.scratch.values.length !== scores.length) this.scratch = samplerScratch(scores.length);
    const { ids, probs } = candidateDistribution(scores, this.options, this.scratch);
    const u = this.rng.next();
    let cumulative = 0;
    for (let i = 0; i < ids.length; i++) {
      cumulative += probs[i];
      if (u < cumulative) return ids[i];
    }
    return ids[ids.length - 1]; // u within rounding of 1
  }
}
