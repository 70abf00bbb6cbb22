// Long-generation drift: whether a cache's small errors stay small or compound with length. For each
// prompt, fp16 and the cache each generate N tokens greedily (end-of-text ignored, so every run is N
// long); the first position where their tokens differ is recorded. Then both read the fp16 trajectory
// teacher-forced, and KL(fp16 || cache) is taken at every generated position, so the curve compares
// the same contexts however early the greedy texts parted.
import { kl, logSoftmax } from '../evaluate.js';
import type { EvaluatedFormat } from '../evaluate.js';
import { generate } from '../generate.js';
import type { TextTokenizer } from '../../model/tokenizer.js';

export interface DriftResult {
  name: string;
  /** Per prompt: the first generated position (0-based) where the cache's greedy token differs from fp16's; null when none did. */
  firstDivergence: (number | null)[];
  /** Median first divergence, prompts without one counted at the token count (so "at least" when over half never diverged). */
  medianFirstDivergence: number;
  /** Mean over prompts of KL(fp16 || cache) at each generated position along the fp16 trajectory. */
  klByPosition: number[];
  meanKl: number;
}

export interface DriftOptions {
  tokens: number;
  signal?: AbortSignal;
  /** Called after each prompt and cache. */
  onStep?: () => void;
}

/** Greedy ids of `tokens` steps after `input`; end-of-text does not stop it. */
async function greedyTokens(format: EvaluatedFormat, tokenizer: Pick<TextTokenizer, 'decode'>, input: readonly number[], tokens: number, signal?: AbortSignal): Promise<number[]> {
  const result = await generate({ decoder: format.decoder, store: format.createStore(), tokenizer: { decode: (ids) => tokenizer.decode(ids), eosIds: [] }, input, options: { temperature: 0, maxTokens: tokens }, signal });
  return result.tokens;
}

/** Log-probabilities of each generated position of `trajectory` after `input`, teacher-forced. */
async function trajectoryLogProbs(format: EvaluatedFormat, input: readonly number[], trajectory: readonly number[]): Promise<Float64Array[]> {
  const { decoder } = format;
  const V = decoder.vocabSize;
  const store = format.createStore();
  if (input.length > 1) await decoder.step(input.slice(0, -1), store);
  const fed = [input[input.length - 1], ...trajectory.slice(0, -1)];
  const logits = await decoder.step(fed, store, { allLogits: true });
  if (logits.length !== fed.length * V) throw new Error(`${format.name}: decoder returned ${logits.length / V} logit rows for ${fed.length} tokens`);
  return fed.map((_, i) => logSoftmax(logits.subarray(i * V, (i + 1) * V)));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Drift of `formats` against `reference` (fp16) over `inputs` (prompt token lists). */
export async function measureDrift(
  reference: EvaluatedFormat,
  formats: readonly EvaluatedFormat[],
  inputs: readonly (readonly number[])[],
  tokenizer: Pick<TextTokenizer, 'decode'>,
  options: DriftOptions,
): Promise<DriftResult[]> {
  const { tokens, signal } = options;
  const rows = formats.map(() => ({ firstDivergence: [] as (number | null)[], klSums: new Float64Array(tokens), klCounts: new Float64Array(tokens) }));
  for (const input of inputs) {
    const room = reference.decoder.contextLength - input.length;
    if (room < 1) throw new Error(`a drift prompt of ${input.length} tokens leaves no room in the model's ${reference.decoder.contextLength} positions`);
    const length = Math.min(tokens, room);
    const trajectory = await greedyTokens(reference, tokenizer, input, length, signal);
    const referenceLog = await trajectoryLogProbs(reference, input, trajectory);
    options.onStep?.();
    for (const [k, format] of formats.entries()) {
      if (signal?.aborted) throw new Error('drift measurement cancelled');
      const own = await greedyTokens(format, tokenizer, input, length, signal);
      const at = own.findIndex((t, i) => t !== trajectory[i]);
      rows[k].firstDivergence.push(at === -1 ? null : at);
      const log = await trajectoryLogProbs(format, input, trajectory);
      log.forEach((row, i) => {
        rows[k].klSums[i] += kl(referenceLog[i], row);
        rows[k].klCounts[i]++;
      });
      options.onStep?.();
    }
  }
  return formats.map((format, k) => {
    const { firstDivergence, klSums, klCounts } = rows[k];
    const klByPosition = Array.from(klSums, (sum, i) => (klCounts[i] > 0 ? sum / klCounts[i] : NaN)).filter((v) => !Number.isNaN(v));
    const total = klSums.reduce((a, b) => a + b, 0);
    const count = klCounts.reduce((a, b) => a + b, 0);
    return {
      name: format.name,
      firstDivergence,
      medianFirstDivergence: median(firstDivergence.map((d) => d ?? tokens)),
      klByPosition,
      meanKl: count > 0 ? total / count : NaN,
    };
  });
}
