// estimateDeploymentCost: for a model, one kind of accelerator, a workload and some KV formats,
// what memory, GPUs, speed and money each format implies. Pure: no I/O, same input -> same output.
// Every figure carries its unit; assumed ones carry a note saying so.
import { DEFAULTS, parseCostInput } from './input.js';
import type { CostInput, ParsedCostInput, WeightPrecision } from './input.js';
import { bandwidthBytesPerSecond, fp16FlopsPerSecond, memoryBytes } from './hardware.js';
import { kvAccounting } from './kv-format.js';
import { parameterBreakdown } from './model-geometry.js';
import { weightBytes } from '../model/weights.js';
import type { WeightType } from '../model/weights.js';
import { planDeployment } from './deployment.js';
import type { Setting } from './deployment.js';
import { monthlyCostPerGpu } from './money.js';
import type { MoneySetting } from './money.js';
import { describeFormat } from './format-estimate.js';
import type { FormatEstimate } from './format-estimate.js';
import type { Efficiency, Resolved } from './resolved.js';
import { recommend } from './recommend.js';
import type { Recommendation } from './recommend.js';
import { buildSeries } from './series.js';
import type { CostSeries } from './series.js';
import { quantity, SECONDS_PER_DAY } from './quantity.js';
import type { Quantity } from './quantity.js';

export const BYTES_PER_PARAMETER: Record<WeightPrecision, number> = { fp16: 2, bf16: 2, int8: 1, int4: 0.5 };
// the weight files ResKV's import writes for each precision (a GPU keeps fp16/bf16 as 16-bit: float16 files)
const importedWeightType: Record<WeightPrecision, WeightType> = { fp16: 'float16', bf16: 'float16', int8: 'int8', int4: 'int4' };

export interface CostEstimate {
  model: {
    name: string;
    source: string | null;
    parameters: Quantity<'parameters'>;
    weightPrecision: WeightPrecision;
    weightBytes: Quantity<'B'>;
    maxContext: Quantity<'tokens'>;
  };
  hardware: {
    id: string;
    name: string;
    memoryPerGpu: Quantity<'B'>;
    runtimeReservePerGpu: Quantity<'B'>;
    usableMemoryPerGpu: Quantity<'B'>;
    memoryBandwidth: Quantity<'B/s'>;
    fp16DenseCompute: Quantity<'FLOP/s'>;
    boardPower: Quantity<'W'>;
    monthlyCostPerGpu: Quantity<'USD/month'>;
  };
  workload: {
    users: Quantity<'conversations'>;
    context: Quantity<'tokens'>;
    promptTokens: Quantity<'tokens'>;
    answerTokens: Quantity<'tokens'>;
    targetDecodeSpeedPerUser: Quantity<'tokens/s'>;
    demand: Quantity<'requests/day'> | null;
  };
  efficiency: { decode: Efficiency; compute: Efficiency };
  pricing: 'own' | 'cloud';
  decodeHeadline: 'measured' | 'projection';
  formats: FormatEstimate[];
  /** The headline: the cheapest format within the acceptable loss and what it saves against fp16. */
  recommendation: Recommendation;
  series: CostSeries;
  /** What every figure leaves out, or assumes. */
  notes: string[];
}

function assumed(value: number | undefined, fallback: number): { value: number; isDefault: boolean } {
  return value === undefined ? { value: fallback, isDefault: true } : { value, isDefault: false };
}

function efficiency(given: ParsedCostInput['efficiency']['decode'], fallback: number, what: string): Efficiency {
  const unit = 'fraction of peak';
  if (given) return { value: given.value, unit, source: given.source, note: given.note ?? `${given.source} ${what}` };
  return { value: fallback, unit, source: 'assumed', note: `assumed typical ${what}; no engine measurement given` };
}

function resolveMoney(input: ParsedCostInput, utilisation: number): MoneySetting {
  const { money, hardware } = input;
  // parseCostInput has checked that the catalog has the price the input does not give.
  if (money.pricing === 'cloud') {
    return { pricing: 'cloud', cloudUsdPerGpuHour: money.cloudUsdPerGpuHour ?? hardware.cloud!.usdPerHour, utilisation };
  }
  return {
    pricing: 'own',
    purchaseUsdPerGpu: money.purchaseUsdPerGpu ?? hardware.purchase!.usd,
    amortisationMonths: money.amortisationMonths ?? DEFAULTS.amortisationMonths,
    electricityUsdPerKWh: money.electricityUsdPerKWh ?? DEFAULTS.electricityUsdPerKWh,
    pue: money.pue ?? DEFAULTS.pue,
    utilisation,
    boardPowerW: hardware.boardPowerW,
  };
}

export function estimateDeploymentCost(raw: CostInput): CostEstimate {
  const input = parseCostInput(raw);
  const { model, hardware, workload, deployment } = input;
  const parameters = parameterBreakdown(model);
  // the fit check's figures (main/model/weights.ts): block-quantized matrices with their scales and zero
  // points, the 16-bit embedding table and the 8-bit classifier of the quantized formats
  const weights = weightBytes(model, importedWeightType[input.weights]);
  // a decode step gathers one row of the embedding table; it reads the whole table only where it is also the classifier
  const embeddingTable = model.vocabSize * model.hiddenSize * 2;
  const gatheredOnly = !model.tiedEmbeddings || input.weights === 'int8' || input.weights === 'int4';
  const reserveFraction = assumed(deployment.runtimeReserveFraction, DEFAULTS.runtimeReserveFraction);
  const accessible = memoryBytes(hardware) * (hardware.gpuAccessibleMemoryFraction ?? 1);
  const reserveBytes = accessible * reserveFraction.value;
  const answer = assumed(workload.answerTokens, Math.min(256, Math.max(1, Math.floor(workload.context / 4))));
  const prompt = assumed(workload.promptTokens, Math.min(1024, Math.max(1, workload.context - answer.value)));
  const target = assumed(workload.targetDecodeTokensPerSecondPerUser, DEFAULTS.targetDecodeTokensPerSecondPerUser);
  const utilisation = assumed(input.money.utilisation, DEFAULTS.utilisation);
  const decode = efficiency(input.efficiency.decode, DEFAULTS.decodeEfficiency, 'share of peak memory bandwidth reached while decoding');
  const compute = efficiency(input.efficiency.prefill, DEFAULTS.prefillEfficiency, 'share of peak dense FP16 FLOP/s reached (prefill, compute-bound decode)');
  const demandPerDay =
    workload.requestsPerDay ?? (workload.tokensPerDay === undefined ? null : workload.tokensPerDay / (prompt.value + answer.value));

  const setting: Setting = {
    geometry: model,
    parameters,
    weightBytes: weights.onDisk,
    weightBytesReadPerStep: weights.onDisk - (gatheredOnly ? embeddingTable : 0),
    usableBytesPerGpu: accessible - reserveBytes,
    bandwidth: bandwidthBytesPerSecond(hardware),
    flops: fp16FlopsPerSecond(hardware),
    decodeEfficiency: decode.value,
    computeEfficiency: compute.value,
    users: workload.users,
    context: workload.context,
    promptTokens: prompt.value,
    answerTokens: answer.value,
    targetTokensPerSecondPerUser: target.value,
    demandRequestsPerSecond: demandPerDay === null ? null : demandPerDay / SECONDS_PER_DAY,
    tensorParallel: deployment.tensorParallel ?? null,
    maxTensorParallel: DEFAULTS.maxTensorParallel,
  };
  const monthlyPerGpu = monthlyCostPerGpu(resolveMoney(input, utilisation.value));
  const fp16Accounting = kvAccounting({ kind: 'fp16' }, model);
  const resolved: Resolved = {
    input,
    setting,
    memoryBytesPerGpu: memoryBytes(hardware),
    reserveBytesPerGpu: reserveBytes,
    utilisation: utilisation.value,
    monthlyPerGpu,
    fp16: { accounting: fp16Accounting, plan: planDeployment(setting, fp16Accounting) },
  };

  const defaultNote = (d: { isDefault: boolean }, note: string) => (d.isDefault ? `assumed default: ${note}` : undefined);
  const notes = [
    weightNote(input.weights),
    'KV read per decode step counts every active conversation at the full context (conservative)',
    'tensor-parallel communication, attention-kernel and scheduling overheads are folded into the efficiency factors',
    'prefill and decode share each replica in turn (no overlap), so capacities are on the low side',
  ];
  const moneyDefaults = [
    input.money.utilisation === undefined && `utilisation ${DEFAULTS.utilisation}`,
    input.money.pricing === 'own' && input.money.amortisationMonths === undefined && `amortisation over ${DEFAULTS.amortisationMonths} months`,
    input.money.pricing === 'own' && input.money.electricityUsdPerKWh === undefined && `electricity $${DEFAULTS.electricityUsdPerKWh}/kWh`,
    input.money.pricing === 'own' && input.money.pue === undefined && `PUE ${DEFAULTS.pue}`,
  ].filter((d): d is string => typeof d === 'string');
  if (moneyDefaults.length > 0) notes.push(`assumed defaults: ${moneyDefaults.join(', ')}`);
  if (model.slidingWindow !== undefined) {
    notes.push(`${model.name} has a ${model.slidingWindow}-token sliding window: a rolling-buffer cache would hold at most that many tokens; these figures count the whole context`);
  }

  const formats = input.kv.map((option) => describeFormat(resolved, option));
  return {
    model: {
      name: model.name,
      source: model.source ?? null,
      parameters: quantity(parameters.total, 'parameters', 'from the geometry: embeddings, attention (GQA), gated MLP, norms, lm_head unless tied'),
      weightPrecision: input.weights,
      weightBytes: quantity(setting.weightBytes, 'B', `the ${importedWeightType[input.weights]} weight files ResKV writes for this geometry`),
      maxContext: quantity(model.maxPositions, 'tokens', 'max_position_embeddings'),
    },
    hardware: {
      id: hardware.id,
      name: hardware.name,
      memoryPerGpu: quantity(memoryBytes(hardware), 'B', `${hardware.memory.value} ${hardware.memory.unit}`),
      runtimeReservePerGpu: quantity(
        reserveBytes,
        'B',
        `${reserveFraction.value * 100}% kept for the runtime (CUDA context, activations, fragmentation)` +
          (reserveFraction.isDefault ? "; assumed default, like vLLM's gpu_memory_utilization 0.9" : ''),
      ),
      usableMemoryPerGpu: quantity(
        setting.usableBytesPerGpu,
        'B',
        hardware.gpuAccessibleMemoryFraction === undefined ? undefined : `only ${hardware.gpuAccessibleMemoryFraction * 100}% usable by the GPU: ${hardware.note ?? ''}`,
      ),
      memoryBandwidth: quantity(setting.bandwidth, 'B/s', 'datasheet peak'),
      fp16DenseCompute: quantity(setting.flops, 'FLOP/s', 'datasheet dense FP16 tensor peak'),
      boardPower: quantity(hardware.boardPowerW, 'W', 'datasheet maximum'),
      monthlyCostPerGpu: quantity(monthlyPerGpu.usdPerGpu, 'USD/month', `${monthlyPerGpu.note}; ${priceNote(input)}`),
    },
    workload: {
      users: quantity(workload.users, 'conversations'),
      context: quantity(workload.context, 'tokens'),
      promptTokens: quantity(prompt.value, 'tokens', defaultNote(prompt, 'average prompt')),
      answerTokens: quantity(answer.value, 'tokens', defaultNote(answer, 'average answer')),
      targetDecodeSpeedPerUser: quantity(target.value, 'tokens/s', defaultNote(target, 'a comfortable reading speed')),
      demand: demandPerDay === null ? null : quantity(demandPerDay, 'requests/day', workload.tokensPerDay === undefined ? undefined : 'tokens per day / (prompt + answer)'),
    },
    efficiency: { decode, compute },
    pricing: input.money.pricing,
    decodeHeadline: input.decodeHeadline,
    formats,
    recommendation: recommend(formats, input.acceptableLossPercent ?? null, { users: workload.users, context: workload.context }),
    series: buildSeries(resolved),
    notes,
  };
}

function weightNote(precision: WeightPrecision): string {
  if (precision === 'fp16' || precision === 'bf16') return `weights ${precision}: 2 B per parameter`;
  return (
    `weights ${precision}: as ResKV's import writes them (MatMulNBits blocks with their scales and zero points, ` +
    'the embedding table in fp16, the classifier in 8 bits): the same bytes as the fit check'
  );
}

function priceNote(input: ParsedCostInput): string {
  const { money, hardware } = input;
  const price = money.pricing === 'cloud' ? hardware.cloud : hardware.purchase;
  const overridden = money.pricing === 'cloud' ? money.cloudUsdPerGpuHour !== undefined : money.purchaseUsdPerGpu !== undefined;
  if (overridden || price === null) return 'price given by the user';
  return `${price.approximate ? 'approximate ' : ''}price from ${price.source} (${price.date})`;
}

