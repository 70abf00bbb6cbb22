// What the estimator needs: the model, one accelerator, the workload, money and the KV formats to
// compare. Everything is validated here (parseCostInput), so errors name the field at fault;
// defaults fill what the caller left out and are reported as assumptions in the estimate.
import { z } from 'zod';
import { hardwareEntrySchema } from './hardware.js';
import { kvFormatSchema, rvqSpecFor } from './kv-format.js';
import { modelGeometrySchema } from './model-geometry.js';
import { describeIssues } from './validation.js';

const wholeNumber = z.number().int('must be a whole number');
const atLeastOne = wholeNumber.min(1, 'must be at least 1');
const positive = z.number().positive('must be greater than 0');
const nonNegative = z.number().min(0, 'must not be negative');
const fraction = z.number().gt(0, 'must be greater than 0').max(1, 'must be at most 1');

export const weightPrecisions = ['fp16', 'bf16', 'int8', 'int4'] as const;
export type WeightPrecision = (typeof weightPrecisions)[number];

const efficiencySchema = z.strictObject({
  value: fraction,
  /** 'measured': by ResKV's engine on this machine; 'assumed': a typical figure. */
  source: z.enum(['measured', 'assumed']),
  note: z.string().optional(),
});

const measuredQualitySchema = z.strictObject({
  perplexityDeltaPercent: z.number().optional(),
  klDivergence: nonNegative.optional(),
  top1AgreementPercent: z.number().min(0).max(100, 'must be at most 100').optional(),
  /** Model, text and machine the engine measured on. */
  measuredOn: z.string().min(1, 'must say what was measured'),
  /** This format's decode tokens/s divided by fp16's, as ResKV's own engine measured them on this machine. */
  decodeSpeedVsFp16: positive.optional(),
  /** The measured model, when the user chose to carry its quality over to the model being costed. */
  carriedFrom: z.string().min(1).optional(),
});

export const DEFAULTS = {
  runtimeReserveFraction: 0.1,
  decodeEfficiency: 0.6,
  prefillEfficiency: 0.5,
  targetDecodeTokensPerSecondPerUser: 10,
  amortisationMonths: 36,
  electricityUsdPerKWh: 0.15,
  pue: 1.5,
  utilisation: 0.5,
  maxTensorParallel: 8,
} as const;

export const costInputSchema = z
  .strictObject({
    model: modelGeometrySchema,
    hardware: hardwareEntrySchema,
    weights: z.enum(weightPrecisions).default('fp16'),
    /** Which decode speed leads: ResKV's measured speed relative to fp16, or the fused-kernel roofline projection. */
    decodeHeadline: z.enum(['measured', 'projection']).default('measured'),
    /** The perplexity increase (%) the operator accepts (Tradeoffs view): the recommendation stays within it. */
    acceptableLossPercent: nonNegative.optional(),
    kv: z
      .array(z.strictObject({ format: kvFormatSchema, measuredQuality: measuredQualitySchema.optional() }))
      .min(1, 'give at least one KV format'),
    workload: z.strictObject({
      /** Concurrent conversations. */
      users: atLeastOne,
      /** Tokens each conversation may hold (prompt + history + answer). */
      context: atLeastOne,
      promptTokens: atLeastOne.optional(),
      answerTokens: atLeastOne.optional(),
      requestsPerDay: positive.optional(),
      tokensPerDay: positive.optional(),
      targetDecodeTokensPerSecondPerUser: positive.optional(),
    }),
    money: z
      .strictObject({
        pricing: z.enum(['own', 'cloud']).default('own'),
        /** Overrides the catalog's purchase price, per GPU. */
        purchaseUsdPerGpu: nonNegative.optional(),
        /** Overrides the catalog's cloud price, per GPU-hour. */
        cloudUsdPerGpuHour: nonNegative.optional(),
        amortisationMonths: positive.optional(),
        electricityUsdPerKWh: nonNegative.optional(),
        pue: z.number().min(1, 'must be at least 1 (facility power / IT power)').max(3, 'must be at most 3').optional(),
        utilisation: fraction.optional(),
      })
      .prefault({}),
    deployment: z
      .strictObject({
        /** GPUs per model replica; chosen automatically when absent. */
        tensorParallel: atLeastOne.optional(),
        /** GPUs the operator has: the estimate says whether they suffice. */
        gpusAvailable: atLeastOne.optional(),
        /** Share of each GPU's memory kept for the runtime (CUDA context, activations, fragmentation). */
        runtimeReserveFraction: z.number().min(0, 'must not be negative').lt(1, 'must be below 1').optional(),
      })
      .prefault({}),
    efficiency: z
      .strictObject({ decode: efficiencySchema.optional(), prefill: efficiencySchema.optional() })
      .prefault({}),
  })
  .superRefine((input, ctx) => {
    const { model, workload, money, deployment } = input;
    if (workload.context > model.maxPositions) {
      ctx.addIssue({
        code: 'custom',
        path: ['workload', 'context'],
        message: `${workload.context} tokens is beyond ${model.name}'s limit of ${model.maxPositions} (max_position_embeddings)`,
      });
    }
    if (workload.promptTokens !== undefined && workload.answerTokens !== undefined && workload.promptTokens + workload.answerTokens > workload.context) {
      ctx.addIssue({
        code: 'custom',
        path: ['workload', 'promptTokens'],
        message: `prompt ${workload.promptTokens} + answer ${workload.answerTokens} tokens exceed the context of ${workload.context}`,
      });
    }
    if (workload.requestsPerDay !== undefined && workload.tokensPerDay !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['workload', 'tokensPerDay'], message: 'give requestsPerDay or tokensPerDay, not both' });
    }
    if (money.pricing === 'own' && money.purchaseUsdPerGpu === undefined && input.hardware.purchase === null) {
      ctx.addIssue({ code: 'custom', path: ['money', 'purchaseUsdPerGpu'], message: `the catalog has no purchase price for ${input.hardware.id}: give one` });
    }
    if (money.pricing === 'cloud' && money.cloudUsdPerGpuHour === undefined && input.hardware.cloud === null) {
      ctx.addIssue({ code: 'custom', path: ['money', 'cloudUsdPerGpuHour'], message: `the catalog has no cloud price for ${input.hardware.id}: give one` });
    }
    const tp = deployment.tensorParallel;
    if (tp !== undefined && (model.numHeads % tp !== 0 || model.numKvHeads % tp !== 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['deployment', 'tensorParallel'],
        message: `${tp} must divide both the ${model.numHeads} attention heads and the ${model.numKvHeads} KV heads`,
      });
    }
    input.kv.forEach(({ format }, i) => {
      if (format.kind !== 'rvq') return;
      try {
        rvqSpecFor(format, model);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['kv', i, 'format'], message: (err as Error).message });
      }
    });
  });

/** What callers write (defaults optional). */
export type CostInput = z.input<typeof costInputSchema>;
/** After validation, every default filled in. */
export type ParsedCostInput = z.output<typeof costInputSchema>;

/** Names every field at fault; `issues` lets a caller (the CLI) map fields to its own option names. */
export class CostInputError extends Error {
  constructor(readonly issues: Array<{ path: PropertyKey[]; message: string }>, summary: string) {
    super(`invalid cost input: ${summary}`);
  }
}

export function parseCostInput(input: unknown): ParsedCostInput {
  const result = costInputSchema.safeParse(input);
  if (!result.success) throw new CostInputError(result.error.issues, describeIssues(result.error));
  return result.data;
}
