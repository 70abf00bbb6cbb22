// The estimate for one KV format: its exact bytes, how a deployment of the chosen hardware sizes up
// with it, how fast it decodes and prefills, and what it costs against fp16.
import { decodeStep, planDeployment, projectedPace } from './deployment.js';
import type { Bottleneck, Pace } from './deployment.js';
import type { ParsedCostInput } from './input.js';
import { kvAccounting, kvFormatLabel } from './kv-format.js';
import type { KvFormat } from './kv-format.js';
import { HOURS_PER_MONTH, quantity, SECONDS_PER_DAY } from './quantity.js';
import type { Quantity } from './quantity.js';
import { monthlyUsd } from './resolved.js';
import { servingPlan } from './serving.js';
import type { ServingPlan } from './serving.js';
import type { Resolved } from './resolved.js';

type MeasuredQuality = NonNullable<ParsedCostInput['kv'][number]['measuredQuality']>;

export interface FormatPlanEstimate {
  feasible: true;
  /** GPUs per model replica. */
  tensorParallel: Quantity<'GPUs'>;
  memory: {
    perGpuAtLoad: {
      weights: Quantity<'B'>;
      codebooks: Quantity<'B'>;
      kv: Quantity<'B'>;
      runtimeReserve: Quantity<'B'>;
      free: Quantity<'B'>;
    };
    kvShareOfGpuMemory: Quantity<'%'>;
    kvTokenBudgetPerReplica: Quantity<'tokens'>;
    maxConversationsAtContext: Quantity<'conversations'>;
    /** Per replica: the most conversations that still get the per-user speed target. */
    maxConversationsAtSpeed: Quantity<'conversations'>;
    maxContextAtUsers: Quantity<'tokens'>;
  };
  gpus: {
    memoryBound: Quantity<'GPUs'>;
    throughputBound: Quantity<'GPUs'>;
    needed: Quantity<'GPUs'>;
    decidedBy: Bottleneck;
    /** Which decode speed sized the GPUs: ResKV's measured one, or the fused-kernel roofline projection. */
    speedBasis: Pace['basis'];
    replicas: Quantity<'replicas'>;
    conversationsPerReplica: Quantity<'conversations'>;
    /** Whether the operator's GPUs suffice; null when they did not say how many they have. */
    enoughAvailable: boolean | null;
  };
  throughput: {
    /** The roofline with a fused RVQ attention kernel (projection). */
    decodePerUser: Quantity<'tokens/s'>;
    /** fp16's roofline at this batch times the speed ratio ResKV measured on this machine; null without a measurement. */
    decodePerUserMeasured: Quantity<'tokens/s'> | null;
    decodeBoundBy: 'memory bandwidth' | 'compute';
    decodeTotal: Quantity<'tokens/s'>;
    prefillPerReplica: Quantity<'tokens/s'>;
    timeToFirstToken: Quantity<'s'>;
    requestsPerDayCapacity: Quantity<'requests/day'>;
  };
  money: {
    monthly: Quantity<'USD/month'>;
    perMillionGeneratedTokens: Quantity<'USD/1M tokens'>;
    perMillionTokens: Quantity<'USD/1M tokens'>;
    savingsVsFp16: Quantity<'USD/month'> | null;
    savingsVsFp16Percent: Quantity<'%'> | null;
  };
  /** How to run this plan on an existing serving engine, or that none serves this format. */
  serving: ServingPlan;
}

export interface FormatEstimate {
  label: string;
  format: KvFormat;
  measuredQuality: MeasuredQuality | null;
  kv: {
    bytesPerToken: Quantity<'B/token'>;
    bitsPerValue: Quantity<'bit/value'>;
    compressionVsFp16: Quantity<'x'>;
    bytesPerConversation: Quantity<'B'>;
    codebooksPerGpu: Quantity<'B'>;
  };
  plan: FormatPlanEstimate | { feasible: false; problem: string };
}

export function describeFormat(r: Resolved, option: ParsedCostInput['kv'][number]): FormatEstimate {
  const { setting: s, input } = r;
  const kv = kvAccounting(option.format, input.model);
  const note = (lines: string[]) => (lines.length ? lines.join('; ') : undefined);
  return {
    label: kvFormatLabel(option.format),
    format: option.format,
    measuredQuality: option.measuredQuality ?? null,
    kv: {
      bytesPerToken: quantity(kv.bytesPerToken, 'B/token', `all ${input.model.numLayers} layers, K and V`),
      bitsPerValue: quantity(kv.bitsPerValue, 'bit/value', note(kv.notes.bytes)),
      compressionVsFp16: quantity(kv.compressionVsFp16, 'x'),
      bytesPerConversation: quantity(kv.bytesPerToken * s.context, 'B', `at ${s.context} tokens`),
      codebooksPerGpu: quantity(kv.codebookBytes, 'B', note(kv.notes.codebooks)),
    },
    plan: describePlan(r, option.format, kv, option.measuredQuality?.decodeSpeedVsFp16),
  };
}

/** The measured speed sizes the plan unless the user picked the projection or nothing was measured. */
function paceFor(r: Resolved, kv: ReturnType<typeof kvAccounting>, measuredSpeedVsFp16: number | undefined): Pace {
  if (r.input.decodeHeadline === 'projection' || measuredSpeedVsFp16 === undefined) return projectedPace(kv);
  return { basis: 'measured', kv: r.fp16.accounting, speedVsRoofline: measuredSpeedVsFp16 };
}

function describePlan(r: Resolved, format: KvFormat, kv: ReturnType<typeof kvAccounting>, measuredSpeedVsFp16: number | undefined): FormatEstimate['plan'] {
  const { setting: s, input } = r;
  const plan = planDeployment(s, kv, paceFor(r, kv, measuredSpeedVsFp16));
  if (!plan.feasible) return plan;
  const tp = plan.tensorParallel;
  const gpus = (replicas: number) => replicas * tp;
  const kvPerGpu = (plan.batch * s.context * kv.bytesPerToken) / tp;
  const monthly = monthlyUsd(r, plan)!;

  const secondsPerMonth = HOURS_PER_MONTH * 3600;
  const demandPerSecond = s.demandRequestsPerSecond;
  const requestsPerMonth =
    demandPerSecond !== null ? demandPerSecond * secondsPerMonth : plan.replicas * plan.requestsPerSecondPerReplica * r.utilisation * secondsPerMonth;
  const tokensNote =
    demandPerSecond !== null ? 'at the stated daily demand' : `at ${r.utilisation * 100}% utilisation of the capacity at this concurrency`;
  const fp16Monthly = monthlyUsd(r, r.fp16.plan);
  const throughputReplicas = Math.max(plan.replicasBySpeed, plan.replicasByDemand);
  const available = input.deployment.gpusAvailable;

  return {
    feasible: true,
    tensorParallel: quantity(tp, 'GPUs', plan.tensorParallelReason),
    memory: {
      perGpuAtLoad: {
        weights: quantity(s.weightBytes / tp, 'B'),
        codebooks: quantity(kv.codebookBytes, 'B'),
        kv: quantity(kvPerGpu, 'B', `${plan.batch} conversation(s) per replica at ${s.context} tokens`),
        runtimeReserve: quantity(r.reserveBytesPerGpu, 'B'),
        free: quantity(s.usableBytesPerGpu - s.weightBytes / tp - kv.codebookBytes - kvPerGpu, 'B'),
      },
      kvShareOfGpuMemory: quantity((100 * kvPerGpu) / r.memoryBytesPerGpu, '%'),
      kvTokenBudgetPerReplica: quantity(Math.floor(plan.kvBudgetBytesPerReplica / kv.bytesPerToken), 'tokens', `replica = ${tp} GPU(s)`),
      maxConversationsAtContext: quantity(plan.conversationsPerReplicaByMemory, 'conversations', `per replica, at ${s.context} tokens each`),
      maxConversationsAtSpeed: quantity(
        plan.conversationsPerReplicaBySpeed,
        'conversations',
        `per replica, each at ${s.targetTokensPerSecondPerUser} tokens/s (${plan.speedBasis === 'measured' ? 'measured decode speed' : 'roofline projection'})`,
      ),
      maxContextAtUsers: quantity(
        Math.min(input.model.maxPositions, Math.floor(plan.kvBudgetBytesPerReplica / (s.users * kv.bytesPerToken))),
        'tokens',
        `if one replica held all ${s.users} conversations; capped at the model's limit`,
      ),
    },
    gpus: {
      memoryBound: quantity(gpus(plan.replicasByMemory), 'GPUs', `${plan.conversationsPerReplicaByMemory} conversations fit per replica`),
      throughputBound: quantity(
        gpus(throughputReplicas),
        'GPUs',
        `${plan.conversationsPerReplicaBySpeed} conversations per replica keep ${s.targetTokensPerSecondPerUser} tokens/s each` +
          (demandPerSecond === null ? '' : `; ${plan.replicasByDemand} replica(s) for the daily demand`),
      ),
      needed: quantity(gpus(plan.replicas), 'GPUs', `decided by ${plan.decidedBy}`),
      decidedBy: plan.decidedBy,
      speedBasis: plan.speedBasis,
      replicas: quantity(plan.replicas, 'replicas'),
      conversationsPerReplica: quantity(plan.batch, 'conversations'),
      enoughAvailable: available === undefined ? null : available >= gpus(plan.replicas),
    },
    throughput: {
      decodePerUser: quantity(1 / plan.step.seconds, 'tokens/s', `${plan.step.boundBy} roofline x efficiency, ${plan.batch} conversation(s) per replica`),
      decodePerUserMeasured:
        measuredSpeedVsFp16 === undefined
          ? null
          : quantity(
              measuredSpeedVsFp16 / decodeStep(s, r.fp16.accounting, tp, plan.batch).seconds,
              'tokens/s',
              `fp16 roofline at ${plan.batch} conversation(s) per replica x ${measuredSpeedVsFp16.toFixed(2)}, this format's decode speed relative to fp16 as measured by ResKV on this machine`,
            ),
      decodeBoundBy: plan.step.boundBy,
      decodeTotal: quantity(s.users / plan.step.seconds, 'tokens/s', 'all conversations together (lower bound)'),
      prefillPerReplica: quantity(s.promptTokens / plan.prefillSeconds, 'tokens/s', 'compute roofline x efficiency'),
      timeToFirstToken: quantity(plan.prefillSeconds, 's', `one ${s.promptTokens}-token prompt on an idle replica`),
      requestsPerDayCapacity: quantity(
        plan.replicas * plan.maxRequestsPerSecondPerReplica * SECONDS_PER_DAY,
        'requests/day',
        'every replica at its most conversations; prefill and decode in turn',
      ),
    },
    money: {
      monthly: quantity(monthly, 'USD/month', r.monthlyPerGpu.note),
      perMillionGeneratedTokens: quantity(monthly / ((requestsPerMonth * s.answerTokens) / 1e6), 'USD/1M tokens', tokensNote),
      perMillionTokens: quantity(monthly / ((requestsPerMonth * (s.promptTokens + s.answerTokens)) / 1e6), 'USD/1M tokens', `prompt + answer tokens, ${tokensNote}`),
      savingsVsFp16: fp16Monthly === null ? null : quantity(fp16Monthly - monthly, 'USD/month'),
      savingsVsFp16Percent: fp16Monthly === null ? null : quantity((100 * (fp16Monthly - monthly)) / fp16Monthly, '%'),
    },
    serving: servingPlan(format, kvFormatLabel(format), input.model.source ?? null, {
      tensorParallel: tp,
      replicas: plan.replicas,
      conversationsPerReplica: plan.batch,
      context: s.context,
    }),
  };
}
