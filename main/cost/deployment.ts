// Sizing a deployment for one KV format: tensor-parallel split, conversations per model replica
// (memory) and per-user decode speed (roofline), then replicas and GPUs. Base units throughout:
// bytes, bytes/s, FLOP/s, seconds, tokens.
import { forwardFlopsPerToken } from './model-geometry.js';
import type { ModelGeometry, ParameterBreakdown } from './model-geometry.js';
import type { KvAccounting } from './kv-format.js';

/** The resolved inputs the sizing needs (estimate.ts builds it from a validated CostInput). */
export interface Setting {
  geometry: ModelGeometry;
  parameters: ParameterBreakdown;
  weightBytes: number;
  /** Weight bytes a decode step streams (all but an untied input embedding table). */
  weightBytesReadPerStep: number;
  /** Per GPU, after the runtime reserve and any OS limit. */
  usableBytesPerGpu: number;
  bandwidth: number;
  flops: number;
  /** Achieved share of peak memory bandwidth during decode. */
  decodeEfficiency: number;
  /** Achieved share of peak FLOP/s (prefill, and compute-bound decode). */
  computeEfficiency: number;
  users: number;
  context: number;
  promptTokens: number;
  answerTokens: number;
  targetTokensPerSecondPerUser: number;
  demandRequestsPerSecond: number | null;
  /** Fixed by the input, or null to choose the smallest split that works. */
  tensorParallel: number | null;
  maxTensorParallel: number;
}

export interface DecodeStep {
  seconds: number;
  boundBy: 'memory bandwidth' | 'compute';
  /** Bytes each GPU of the replica reads in one step. */
  bytesReadPerGpu: number;
}

export type Bottleneck = 'memory' | 'per-user speed' | 'daily demand';

export interface FeasiblePlan {
  feasible: true;
  tensorParallel: number;
  tensorParallelReason: string;
  /** KV bytes one replica can hold after weights, codebooks and the reserve. */
  kvBudgetBytesPerReplica: number;
  conversationsPerReplicaByMemory: number;
  conversationsPerReplicaBySpeed: number;
  replicasByMemory: number;
  replicasBySpeed: number;
  replicasByDemand: number;
  replicas: number;
  decidedBy: Bottleneck;
  /** Conversations each replica serves at the workload's concurrency. */
  batch: number;
  /** The format's own roofline step at `batch` (the projection, whatever the pace). */
  step: DecodeStep;
  /** Which decode speed sized the plan. */
  speedBasis: Pace['basis'];
  prefillSeconds: number;
  /** Requests one replica completes per second at `batch`, and at its most conversations. */
  requestsPerSecondPerReplica: number;
  maxRequestsPerSecondPerReplica: number;
}

export type DeploymentPlan = FeasiblePlan | { feasible: false; problem: string };

/**
 * How a format's decode step is timed. 'projection': its own roofline (a fused kernel reading only its
 * bytes). 'measured': fp16's roofline divided by `speedVsRoofline`, the format's decode speed relative to
 * fp16 as ResKV measured it on this machine (so a format measured 5x slower takes 5x fp16's step).
 */
export interface Pace {
  basis: 'measured' | 'projection';
  kv: KvAccounting;
  speedVsRoofline: number;
}

export const projectedPace = (kv: KvAccounting): Pace => ({ basis: 'projection', kv, speedVsRoofline: 1 });

function pacedStepSeconds(s: Setting, pace: Pace, tp: number, batch: number): number {
  return decodeStep(s, pace.kv, tp, batch).seconds / pace.speedVsRoofline;
}

/** One decode step of `batch` sequences, each attending `context` cached tokens: the slower roofline. */
export function decodeStep(s: Setting, kv: KvAccounting, tp: number, batch: number): DecodeStep {
  const bytesReadPerGpu = (s.weightBytesReadPerStep + batch * s.context * kv.bytesPerToken) / tp + kv.codebookBytes;
  const memorySeconds = bytesReadPerGpu / (s.bandwidth * s.decodeEfficiency);
  const flopsPerToken = forwardFlopsPerToken(s.geometry, s.parameters, s.context) + kv.encodeFlopsPerToken;
  const computeSeconds = (batch * flopsPerToken) / (tp * s.flops * s.computeEfficiency);
  return computeSeconds > memorySeconds
    ? { seconds: computeSeconds, boundBy: 'compute', bytesReadPerGpu }
    : { seconds: memorySeconds, boundBy: 'memory bandwidth', bytesReadPerGpu };
}

/** Compute roofline for one prompt: token i attends i positions, (P+1)/2 on average. */
function prefillSeconds(s: Setting, kv: KvAccounting, tp: number): number {
  const perToken = forwardFlopsPerToken(s.geometry, s.parameters, (s.promptTokens + 1) / 2) + kv.encodeFlopsPerToken;
  return (s.promptTokens * perToken) / (tp * s.flops * s.computeEfficiency);
}

function kvBudgetBytesPerReplica(s: Setting, kv: KvAccounting, tp: number): number {
  return tp * (s.usableBytesPerGpu - kv.codebookBytes) - s.weightBytes;
}

function conversationsByMemory(s: Setting, kv: KvAccounting, tp: number): number {
  return Math.max(0, Math.floor(kvBudgetBytesPerReplica(s, kv, tp) / (s.context * kv.bytesPerToken)));
}

/** Largest batch whose decode step still meets the per-user speed target (both rooflines, slowed by the pace). */
function conversationsBySpeed(s: Setting, pace: Pace, tp: number): number {
  const kv = pace.kv;
  // step / speedVsRoofline <= 1 / target  <=>  step <= speedVsRoofline / target
  const stepBudget = pace.speedVsRoofline / s.targetTokensPerSecondPerUser;
  const byBandwidth = (tp * (stepBudget * s.bandwidth * s.decodeEfficiency - kv.codebookBytes) - s.weightBytesReadPerStep) / (s.context * kv.bytesPerToken);
  const flopsPerToken = forwardFlopsPerToken(s.geometry, s.parameters, s.context) + kv.encodeFlopsPerToken;
  const byCompute = (stepBudget * tp * s.flops * s.computeEfficiency) / flopsPerToken;
  return Math.max(0, Math.floor(Math.min(byBandwidth, byCompute)));
}

function requestsPerSecond(s: Setting, kv: KvAccounting, pace: Pace, tp: number, batch: number): number {
  // Prefill stalls the replica's batch; each request then holds one of `batch` decode slots.
  return 1 / (prefillSeconds(s, kv, tp) + (s.answerTokens * pacedStepSeconds(s, pace, tp, batch)) / batch);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Splits that divide both head counts (so every GPU holds whole query and KV heads), smallest first. */
function tensorParallelCandidates(s: Setting): number[] {
  if (s.tensorParallel !== null) return [s.tensorParallel];
  const heads = gcd(s.geometry.numHeads, s.geometry.numKvHeads);
  const candidates: number[] = [];
  for (let tp = 1; tp <= Math.min(heads, s.maxTensorParallel); tp++) if (heads % tp === 0) candidates.push(tp);
  return candidates;
}

export function planDeployment(s: Setting, kv: KvAccounting, pace: Pace = projectedPace(kv)): DeploymentPlan {
  const candidates = tensorParallelCandidates(s);
  const tp = candidates.find((t) => conversationsByMemory(s, kv, t) >= 1 && conversationsBySpeed(s, pace, t) >= 1);
  if (tp === undefined) {
    const widest = candidates[candidates.length - 1];
    const lacks = conversationsByMemory(s, kv, widest) < 1 ? 'memory for the weights and one full-context conversation' : 'the per-user speed target';
    return {
      feasible: false,
      problem: `even ${widest} GPU(s) per replica lack ${lacks} (pipeline parallelism across nodes is not modelled)`,
    };
  }
  const byMemory = conversationsByMemory(s, kv, tp);
  const bySpeed = conversationsBySpeed(s, pace, tp);
  const replicasByMemory = Math.ceil(s.users / byMemory);
  const replicasBySpeed = Math.ceil(s.users / bySpeed);
  const fullest = Math.min(byMemory, bySpeed);
  const maxRequestsPerSecondPerReplica = requestsPerSecond(s, kv, pace, tp, fullest);
  const replicasByDemand = s.demandRequestsPerSecond === null ? 0 : Math.ceil(s.demandRequestsPerSecond / maxRequestsPerSecondPerReplica);
  const replicas = Math.max(replicasByMemory, replicasBySpeed, replicasByDemand);
  const decidedBy: Bottleneck =
    replicasByMemory >= Math.max(replicasBySpeed, replicasByDemand) ? 'memory' : replicasBySpeed >= replicasByDemand ? 'per-user speed' : 'daily demand';
  const batch = Math.ceil(s.users / replicas);
  let tensorParallelReason = 'one GPU holds the weights and a full-context conversation at the target speed';
  if (s.tensorParallel !== null) tensorParallelReason = 'set by the input';
  else if (tp > 1) {
    tensorParallelReason =
      conversationsByMemory(s, kv, 1) < 1
        ? 'the weights plus one full-context conversation do not fit one GPU'
        : 'one GPU cannot reach the per-user speed target';
  }
  return {
    feasible: true,
    tensorParallel: tp,
    tensorParallelReason,
    kvBudgetBytesPerReplica: kvBudgetBytesPerReplica(s, kv, tp),
    conversationsPerReplicaByMemory: byMemory,
    conversationsPerReplicaBySpeed: bySpeed,
    replicasByMemory,
    replicasBySpeed,
    replicasByDemand,
    replicas,
    decidedBy,
    batch,
    step: decodeStep(s, kv, tp, batch),
    speedBasis: pace.basis,
    prefillSeconds: prefillSeconds(s, kv, tp),
    requestsPerSecondPerReplica: requestsPerSecond(s, kv, pace, tp, batch),
    maxRequestsPerSecondPerReplica,
  };
}
