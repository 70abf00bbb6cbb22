// "What if": the headline again with one part of the workload changed (more or fewer users, a
// longer or shorter context, another GPU), so the evaluator sees where KV compression starts to pay.
// Pure: each row is a full estimate of the changed input.
import { CostInputError } from './input.js';
import type { CostInput } from './input.js';
import { estimateDeploymentCost } from './estimate.js';
import type { HardwareEntry } from './hardware.js';

export interface WhatIfRow {
  /** The changed value as shown: "128", "32,768", "NVIDIA L4 24GB". */
  value: string;
  /** Whether this row is the workload as entered. */
  current: boolean;
  fp16: { gpus: number; monthlyUsd: number } | null;
  chosen: { label: string; gpus: number; monthlyUsd: number } | null;
  savingUsdPerMonth: number | null;
  /** The cheapest format compared, whatever its quality; `measured` says whether its quality is known. */
  cheapest: { label: string; gpus: number; measured: boolean } | null;
  /** Why this row has no figures (an input the estimator refuses, e.g. no price for that GPU). */
  problem: string | null;
}

export interface WhatIf {
  users: WhatIfRow[];
  context: WhatIfRow[];
  gpu: WhatIfRow[];
}

const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const FACTORS = [1 / 4, 1 / 2, 1, 2, 4, 8];

function row(input: CostInput, value: string, current: boolean): WhatIfRow {
  try {
    const { recommendation: r } = estimateDeploymentCost(input);
    return {
      value,
      current,
      fp16: r.fp16 && { gpus: r.fp16.gpus, monthlyUsd: r.fp16.monthlyUsd },
      chosen: r.chosen && { label: r.chosen.label, gpus: r.chosen.gpus, monthlyUsd: r.chosen.monthlyUsd },
      savingUsdPerMonth: r.savings?.usdPerMonth ?? null,
      cheapest: r.cheapest && { label: r.cheapest.label, gpus: r.cheapest.gpus, measured: r.cheapest.loss !== null },
      problem: r.chosen ? null : 'no format fits',
    };
  } catch (err) {
    if (!(err instanceof CostInputError)) throw err;
    return { value, current, fp16: null, chosen: null, savingUsdPerMonth: null, cheapest: null, problem: err.message.replace(/^invalid cost input: /, '') };
  }
}

/** Distinct values `current` x FACTORS, rounded, within [low, high]; ascending. */
function around(current: number, low: number, high: number): number[] {
  const values = FACTORS.map((f) => Math.min(high, Math.max(low, Math.round(current * f))));
  return [...new Set(values)].sort((a, b) => a - b);
}

export function whatIf(input: CostInput, hardware: readonly HardwareEntry[]): WhatIf {
  const { users, context } = input.workload;
  const userRows = around(users, 1, Number.MAX_SAFE_INTEGER).map((u) => row({ ...input, workload: { ...input.workload, users: u } }, whole.format(u), u === users));
  const { promptTokens, answerTokens } = input.workload;
  const contextRows = around(context, 256, input.model.maxPositions).map((c) => {
    // a prompt and answer that no longer fit the shorter context fall back to the defaults (a share of it)
    const fits = (promptTokens ?? 0) + (answerTokens ?? 0) <= c;
    const workload = fits ? { ...input.workload, context: c } : { ...input.workload, context: c, promptTokens: undefined, answerTokens: undefined };
    return row({ ...input, workload }, whole.format(c), c === context);
  });
  // a price the user typed is for their GPU, not for the others
  const money = { ...input.money, purchaseUsdPerGpu: undefined, cloudUsdPerGpuHour: undefined };
  const gpuRows = hardware.map((h) => (h.id === input.hardware.id ? row(input, h.name, true) : row({ ...input, hardware: h, money }, h.name, false)));
  return { users: userRows, context: contextRows, gpu: gpuRows };
}
