// The figures derived once from a validated input and shared by every KV format, series point and
// table row.
import type { ParsedCostInput } from './input.js';
import type { DeploymentPlan, Setting } from './deployment.js';
import type { KvAccounting } from './kv-format.js';
import type { MonthlyCost } from './money.js';

export interface Efficiency {
  value: number;
  unit: 'fraction of peak';
  source: 'measured' | 'assumed';
  note: string;
}

export interface Resolved {
  input: ParsedCostInput;
  setting: Setting;
  memoryBytesPerGpu: number;
  reserveBytesPerGpu: number;
  /** Share of the month the GPUs are busy: scales power, and tokens served when no demand is given. */
  utilisation: number;
  monthlyPerGpu: MonthlyCost;
  /** The baseline every saving is measured against. */
  fp16: { accounting: KvAccounting; plan: DeploymentPlan };
}

export function gpuCount(plan: DeploymentPlan): number | null {
  return plan.feasible ? plan.replicas * plan.tensorParallel : null;
}

/** Monthly cost of a deployment plan; null when no deployment works. */
export function monthlyUsd(r: Pick<Resolved, 'monthlyPerGpu'>, plan: DeploymentPlan): number | null {
  const gpus = gpuCount(plan);
  return gpus === null ? null : gpus * r.monthlyPerGpu.usdPerGpu;
}
