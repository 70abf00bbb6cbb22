// Is a cache's accuracy different from fp16's on the same items? Per-item outcomes are paired (both
// caches answer every item), so the difference in accuracy gets a 95% interval from a paired bootstrap
// (items resampled with replacement, a seeded PRNG so a run repeats), and an exact McNemar test on the
// discordant items. "drop" means the whole interval lies below zero and McNemar's p is under 0.05.
import { createRng } from '../../../quant/index.js';
import type { TaskComparison } from '../../task-results.js';
import { percentile } from '../timing.js';

export type Verdict = TaskComparison['verdict'];

/** Accuracy against the reference on the same items: difference, its 95% interval, changed items, McNemar's p, verdict. */
export type PairedComparison = Omit<TaskComparison, 'kind'>;

export interface BootstrapOptions {
  samples?: number;
  seed?: number;
}

/** 95% percentile interval of the mean paired difference (outcome - reference) over bootstrap resamples. */
export function pairedBootstrapInterval(reference: readonly boolean[], outcomes: readonly boolean[], options: BootstrapOptions = {}): [number, number] {
  const { samples = 2000, seed = 0 } = options;
  const n = reference.length;
  if (n !== outcomes.length) throw new Error(`paired outcomes differ in length (${n} vs ${outcomes.length})`);
  if (n === 0) return [NaN, NaN];
  const differences = reference.map((r, i) => Number(outcomes[i]) - Number(r));
  const rng = createRng(seed);
  const means = new Array<number>(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += differences[rng.int(n)];
    means[s] = sum / n;
  }
  return [percentile(means, 2.5), percentile(means, 97.5)];
}

/** log of n choose k. */
function logChoose(n: number, k: number): number {
  let sum = 0;
  for (let i = 1; i <= k; i++) sum += Math.log(n - k + i) - Math.log(i);
  return sum;
}

/** Exact two-sided McNemar test: under no difference the `lost` of the lost + gained changed items are Binomial(lost + gained, 1/2). */
export function mcnemarExact(lost: number, gained: number): number {
  const n = lost + gained;
  if (n === 0) return 1;
  let tail = 0;
  for (let i = 0; i <= Math.min(lost, gained); i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/** Accuracy of `outcomes` against the reference's on the same items, with interval, test and verdict. */
export function comparePaired(reference: readonly boolean[], outcomes: readonly boolean[], options: BootstrapOptions = {}): PairedComparison {
  const n = reference.length;
  const accuracyOf = (list: readonly boolean[]) => list.filter(Boolean).length / n;
  const lost = reference.filter((r, i) => r && !outcomes[i]).length;
  const gained = reference.filter((r, i) => !r && outcomes[i]).length;
  const interval = pairedBootstrapInterval(reference, outcomes, options);
  // both must agree: on a few changed items the percentile interval alone is too eager (4 lost of 12
  // items excludes 0, while the exact test gives p = 0.125)
  const mcnemarP = mcnemarExact(lost, gained);
  const significant = mcnemarP < 0.05;
  const verdict: Verdict = significant && interval[1] < 0 ? 'drop' : significant && interval[0] > 0 ? 'gain' : 'no significant change';
  return {
    items: n,
    accuracy: accuracyOf(outcomes),
    referenceAccuracy: accuracyOf(reference),
    difference: (gained - lost) / n,
    interval,
    lost,
    gained,
    mcnemarP,
    verdict,
  };
}
