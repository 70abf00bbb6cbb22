// Series for the charts: memory against context length for each KV format, and GPUs and monthly cost
// against RVQ residual depth (1..8) beside fp16.
import { planDeployment } from './deployment.js';
import type { Bottleneck } from './deployment.js';
import { DEFAULT_CODEBOOK_SIZE, DEFAULT_GROUP_SIZE, kvAccounting, kvFormatLabel } from './kv-format.js';
import type { RvqKvFormat } from './kv-format.js';
import { gpuCount, monthlyUsd } from './resolved.js';
import type { Resolved } from './resolved.js';

export const SWEEP_DEPTHS = [1, 2, 3, 4, 5, 6, 7, 8] as const;

export interface CostSeries {
  memoryVsContext: {
    units: { context: 'tokens'; bytes: 'B' };
    note: string;
    formats: Array<{ label: string; points: Array<{ context: number; kvBytes: number; totalBytes: number }> }>;
  };
  depthSweep: {
    units: { bytesPerToken: 'B/token'; gpus: 'GPUs'; monthly: 'USD/month' };
    codebookSize: number;
    groupSize: number;
    points: Array<{ depth: number; label: string; bytesPerToken: number; gpus: number | null; monthlyUsd: number | null; decidedBy: Bottleneck | null }>;
    fp16: { gpus: number | null; monthlyUsd: number | null };
  };
}

/** Powers of two from 256 up to the model's limit, plus the limit and the workload's context. */
function contextPoints(maxPositions: number, context: number): number[] {
  const points = new Set([maxPositions, context]);
  for (let c = 256; c < maxPositions; c *= 2) points.add(c);
  return [...points].sort((a, b) => a - b);
}

export function buildSeries(r: Resolved): CostSeries {
  const { input, setting: s } = r;
  const contexts = contextPoints(input.model.maxPositions, s.context);
  const memoryVsContext = input.kv.map(({ format }) => {
    const kv = kvAccounting(format, input.model);
    return {
      label: kvFormatLabel(format),
      points: contexts.map((context) => {
        const kvBytes = s.users * context * kv.bytesPerToken;
        return { context, kvBytes, totalBytes: s.weightBytes + kv.codebookBytes + kvBytes };
      }),
    };
  });

  const firstRvq = input.kv.map((o) => o.format).find((f): f is RvqKvFormat => f.kind === 'rvq');
  const base: RvqKvFormat = firstRvq ?? {
    kind: 'rvq',
    depth: 1,
    codebookSize: DEFAULT_CODEBOOK_SIZE,
    groupSize: DEFAULT_GROUP_SIZE,
    grouping: 'strided',
  };
  const points = SWEEP_DEPTHS.map((depth) => {
    const format: RvqKvFormat = { ...base, depth };
    const kv = kvAccounting(format, input.model);
    const plan = planDeployment(s, kv);
    return {
      depth,
      label: kvFormatLabel(format),
      bytesPerToken: kv.bytesPerToken,
      gpus: gpuCount(plan),
      monthlyUsd: monthlyUsd(r, plan),
      decidedBy: plan.feasible ? plan.decidedBy : null,
    };
  });

  return {
    memoryVsContext: {
      units: { context: 'tokens', bytes: 'B' },
      note: `KV of all ${s.users} conversations, and that plus one copy of the weights and codebooks`,
      formats: memoryVsContext,
    },
    depthSweep: {
      units: { bytesPerToken: 'B/token', gpus: 'GPUs', monthly: 'USD/month' },
      codebookSize: base.codebookSize,
      groupSize: base.groupSize,
      points,
      fp16: { gpus: gpuCount(r.fp16.plan), monthlyUsd: monthlyUsd(r, r.fp16.plan) },
    },
  };
}
