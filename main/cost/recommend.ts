// The answer the Cost view leads with: for this workload, which KV format costs least within the
// quality loss the operator accepts, what it saves against fp16 (GPUs, money per month and per
// million tokens), and when no format can save anything, why ("KV is not your bottleneck here").
// Pure: reads an estimate, computes nothing the estimate does not already hold.
import type { FormatEstimate, FormatPlanEstimate } from './format-estimate.js';

/** One format as the headline and the Pareto chart see it. */
export interface FormatOutcome {
  label: string;
  gpus: number;
  monthlyUsd: number;
  perMillionTokensUsd: number;
  /**
   * Perplexity increase in %: 0 for fp16 (the baseline), the measured one (perhaps carried over from
   * another model, see `lossSource`), or null when this format's quality was not measured.
   */
  loss: number | null;
  lossSource: 'baseline' | 'measured' | 'carried over' | null;
  /** Conversations one replica holds at the workload's context, and keeps at the speed target. */
  maxConversationsByMemory: number;
  maxConversationsBySpeed: number;
  tensorParallel: number;
  speedBasis: 'measured' | 'projection';
}

export interface Savings {
  gpus: number;
  usdPerMonth: number;
  usdPerMillionTokens: number;
  /** Of fp16's monthly cost. */
  percent: number;
}

export interface Recommendation {
  acceptableLossPercent: number | null;
  /** The cheapest format whose loss is known and within the acceptable loss (fp16 always is); null when none fits. */
  chosen: FormatOutcome | null;
  fp16: FormatOutcome | null;
  savings: Savings | null;
  /** When no format at all needs fewer GPUs than fp16: what the memory in use holds. */
  notBottleneck: { weightsPercent: number; kvPercent: number; reason: string } | null;
  /** The cheapest format of all, whatever its quality (measured or not). */
  cheapest: FormatOutcome | null;
  /** A cheaper format than the chosen one whose quality was not measured (so it could not be chosen). */
  unmeasuredCheaper: FormatOutcome | null;
  /** A cheaper format measured beyond the acceptable loss. */
  lossierCheaper: FormatOutcome | null;
  outcomes: FormatOutcome[];
  /** The headline in words, as the view, the Report and the CLI show it. */
  sentence: string;
}

function outcome(f: FormatEstimate, plan: FormatPlanEstimate): FormatOutcome {
  const quality = f.measuredQuality;
  const measured = quality?.perplexityDeltaPercent;
  const [loss, lossSource]: [number | null, FormatOutcome['lossSource']] =
    f.format.kind === 'fp16' ? [0, 'baseline'] : measured === undefined ? [null, null] : [measured, quality!.carriedFrom ? 'carried over' : 'measured'];
  return {
    label: f.label,
    gpus: plan.gpus.needed.value,
    monthlyUsd: plan.money.monthly.value,
    perMillionTokensUsd: plan.money.perMillionTokens.value,
    loss,
    lossSource,
    maxConversationsByMemory: plan.memory.maxConversationsAtContext.value,
    maxConversationsBySpeed: plan.memory.maxConversationsAtSpeed.value,
    tensorParallel: plan.tensorParallel.value,
    speedBasis: plan.gpus.speedBasis,
  };
}

/** Every format that fits, as an outcome. */
export function formatOutcomes(formats: FormatEstimate[]): FormatOutcome[] {
  return formats.flatMap((f) => (f.plan.feasible ? [outcome(f, f.plan)] : []));
}

/** Cheapest first; on equal cost fewer GPUs, then the smaller loss (unknown loss last). */
function cheaper(a: FormatOutcome, b: FormatOutcome): number {
  return a.monthlyUsd - b.monthlyUsd || a.gpus - b.gpus || (a.loss ?? Infinity) - (b.loss ?? Infinity);
}

const cheapest = (outcomes: FormatOutcome[]): FormatOutcome | null => [...outcomes].sort(cheaper)[0] ?? null;

const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const usd = (v: number) => (Math.abs(v) >= 100 ? `$${whole.format(v)}` : `$${v.toFixed(2)}`);
const gpus = (n: number) => `${n} GPU${n === 1 ? '' : 's'}`;
const percent = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}%`;

/**
 * Weights' and KV's shares of the memory fp16 uses per GPU at this load, and why compression cannot
 * remove a GPU: one replica already holds everything, or decode speed (not memory) sets the count.
 */
function bottleneck(fp16: FormatPlanEstimate, users: number, context: number): NonNullable<Recommendation['notBottleneck']> {
  const { weights, kv, codebooks } = fp16.memory.perGpuAtLoad;
  const used = weights.value + kv.value + codebooks.value;
  const weightsPercent = (100 * weights.value) / used;
  const kvPercent = (100 * kv.value) / used;
  const tp = fp16.tensorParallel.value;
  const replica = tp === 1 ? 'one GPU' : `one replica of ${tp} GPUs`;
  const reason =
    fp16.gpus.replicas.value === 1
      ? `${replica} already holds the weights and all ${whole.format(users)} conversations at ${whole.format(context)} tokens with fp16`
      : `the GPU count is set by ${fp16.gpus.decidedBy}, not by KV memory`;
  return { weightsPercent, kvPercent, reason };
}

export function recommend(formats: FormatEstimate[], acceptableLossPercent: number | null, workload: { users: number; context: number }): Recommendation {
  const outcomes = formatOutcomes(formats);
  const fp16Estimate = formats.find((f) => f.format.kind === 'fp16');
  const fp16Plan = fp16Estimate?.plan.feasible ? fp16Estimate.plan : null;
  const fp16 = outcomes.find((o) => o.label === fp16Estimate?.label) ?? null;
  const within = (o: FormatOutcome) => o.loss !== null && (o.lossSource === 'baseline' || (acceptableLossPercent !== null && o.loss <= acceptableLossPercent));
  const chosen = cheapest(outcomes.filter(within));
  const savings: Savings | null =
    chosen && fp16
      ? {
          gpus: fp16.gpus - chosen.gpus,
          usdPerMonth: fp16.monthlyUsd - chosen.monthlyUsd,
          usdPerMillionTokens: fp16.perMillionTokensUsd - chosen.perMillionTokensUsd,
          percent: (100 * (fp16.monthlyUsd - chosen.monthlyUsd)) / fp16.monthlyUsd,
        }
      : null;
  const best = cheapest(outcomes);
  const notBottleneck = fp16 && fp16Plan && best && best.gpus >= fp16.gpus ? bottleneck(fp16Plan, workload.users, workload.context) : null;
  const cheaperThanChosen = (o: FormatOutcome) => chosen === null || cheaper(o, chosen) < 0;
  const unmeasuredCheaper = cheapest(outcomes.filter((o) => o.loss === null && cheaperThanChosen(o)));
  const lossierCheaper = cheapest(outcomes.filter((o) => o.loss !== null && !within(o) && cheaperThanChosen(o)));
  const result = { acceptableLossPercent, chosen, fp16, savings, notBottleneck, cheapest: best, unmeasuredCheaper, lossierCheaper, outcomes };
  return { ...result, sentence: describe(result) };
}

function describe(r: Omit<Recommendation, 'sentence'>): string {
  const { chosen, fp16, savings, notBottleneck } = r;
  if (!chosen) return 'No format both fits this workload and has a known quality within the acceptable loss.';
  if (!fp16) return `Recommended: ${chosen.label}, ${gpus(chosen.gpus)}, ${usd(chosen.monthlyUsd)}/month; fp16 is not compared or does not fit, so no saving against it is shown.`;
  const within = r.acceptableLossPercent === null ? 'no acceptable loss set in Tradeoffs' : `within the acceptable ${r.acceptableLossPercent}%`;
  const lines: string[] = [];
  if (notBottleneck) {
    lines.push(
      `Recommended: ${chosen.label}, ${gpus(chosen.gpus)}, ${usd(chosen.monthlyUsd)}/month. KV is not your bottleneck here: weights are ` +
        `${notBottleneck.weightsPercent.toFixed(0)}% of the memory in use (KV ${notBottleneck.kvPercent.toFixed(0)}%) and ${notBottleneck.reason}; ` +
        'no KV format saves a GPU.',
    );
  } else if (savings && savings.gpus > 0) {
    const quality = chosen.lossSource === 'baseline' ? '' : `, for a ${chosen.lossSource} perplexity change of ${percent(chosen.loss!)} (${within})`;
    lines.push(
      `Recommended: ${chosen.label}, ${gpus(chosen.gpus)} instead of ${fp16.gpus} with fp16: saves ${gpus(savings.gpus)}, ` +
        `${usd(savings.usdPerMonth)} per month (${savings.percent.toFixed(0)}%) and ${usd(savings.usdPerMillionTokens)} per million tokens${quality}.`,
    );
  } else {
    lines.push(`Recommended: ${chosen.label}, ${gpus(chosen.gpus)}, ${usd(chosen.monthlyUsd)}/month: no format that needs fewer GPUs is known to stay ${within}.`);
  }
  if (r.lossierCheaper) {
    lines.push(`${r.lossierCheaper.label} would need ${gpus(r.lossierCheaper.gpus)} (${usd(r.lossierCheaper.monthlyUsd)}/month) but loses ${percent(r.lossierCheaper.loss!)}.`);
  }
  if (r.unmeasuredCheaper) {
    lines.push(
      `${r.unmeasuredCheaper.label} would need ${gpus(r.unmeasuredCheaper.gpus)} (${usd(r.unmeasuredCheaper.monthlyUsd)}/month), but its quality was not measured on this model: measure it in Tradeoffs before relying on it.`,
    );
  }
  return lines.join(' ');
}
