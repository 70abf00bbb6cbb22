// Cost estimator state: the catalog from the backend, the operator's inputs (kept as typed text so
// fields can be edited freely), and the last estimate or error.
import { create } from 'zustand';
import type { CostCatalog, CostInput, CostResult, HardwareEntry, ResKvBridge, TradeoffRun } from '../../../main/api/types.js';

export const scalarFormats = ['fp16', 'q8_0', 'q4_0', 'kivi2'] as const;
export type ScalarFormatId = (typeof scalarFormats)[number];

export interface CostForm {
  presetId: string;
  gpuId: string;
  weights: 'fp16' | 'bf16' | 'int8' | 'int4';
  users: string;
  context: string;
  promptTokens: string;
  answerTokens: string;
  targetTokensPerSecond: string;
  pricing: 'own' | 'cloud';
  purchaseUsdPerGpu: string;
  cloudUsdPerGpuHour: string;
  amortisationMonths: string;
  electricityUsdPerKWh: string;
  pue: string;
  utilisation: string;
  scalar: Record<ScalarFormatId, boolean>;
  /** Comma-separated residual depths, e.g. "4, 8". */
  rvqDepths: string;
  codebookSize: string;
  groupSize: string;
  /** Attach the quality measured on the sweep's model to another model's formats (labelled carried over). */
  carryMeasuredQuality: boolean;
  /** Which decode speed leads the table: ResKV's measured one unless the user picks the projection. */
  decodeHeadline: 'measured' | 'projection';
}

export const initialForm: CostForm = {
  presetId: 'llama-3-8b',
  gpuId: 'l40s',
  weights: 'fp16',
  users: '32',
  context: '8192',
  promptTokens: '',
  answerTokens: '',
  targetTokensPerSecond: '',
  pricing: 'own',
  purchaseUsdPerGpu: '',
  cloudUsdPerGpuHour: '',
  amortisationMonths: '',
  electricityUsdPerKWh: '',
  pue: '',
  utilisation: '',
  scalar: { fp16: true, q8_0: true, q4_0: true, kivi2: true },
  rvqDepths: '4, 8',
  codebookSize: '2048',
  groupSize: '32',
  carryMeasuredQuality: false,
  decodeHeadline: 'measured',
};

/** '' → absent; anything else must be a number (NaN reaches the backend, which names the field). */
const optionalNumber = (text: string) => (text.trim() === '' ? undefined : Number(text));

export class CostFormError extends Error {}

/** A depth sweep measured on this machine whose quality figures go with the matching formats. */
export interface MeasuredSweep {
  run: TradeoffRun;
  /** The codebook set whose depths stand for the rvq formats. */
  set: string;
  /** The measured model's context, depths and quantizer shape: they apply while that model is chosen. */
  form: Pick<CostForm, 'context' | 'rvqDepths' | 'codebookSize' | 'groupSize'>;
}

/** The Model choice that costs the measured library model itself. */
export const measuredModelId = (run: TradeoffRun): string => `library:${run.model}`;

const costsMeasuredModel = (form: CostForm, measured: MeasuredSweep | null): boolean => measured !== null && form.presetId === measuredModelId(measured.run);

/**
 * The form for another Model choice. The measured model's context, depths and codebook shape go with
 * that model only: choosing a preset puts the defaults back (and stops carrying quality over).
 */
export function formForModel(form: CostForm, presetId: string, measured: MeasuredSweep | null): CostForm {
  const next = { ...form, presetId };
  if (measured && costsMeasuredModel(next, measured)) return { ...next, ...measured.form, carryMeasuredQuality: false };
  if (!costsMeasuredModel(form, measured)) return next;
  const { context, rvqDepths, codebookSize, groupSize } = initialForm;
  return { ...next, context, rvqDepths, codebookSize, groupSize, carryMeasuredQuality: false };
}

type KvOption = CostInput['kv'][number];

/**
 * The sweep's quality for a format: scalar formats by name; rvq at a depth from the sweep's set, when
 * its codebook size and group size are the format's (otherwise the figures would be another quantizer's).
 */
export function measuredQualityFor(format: KvOption['format'], measured: Pick<MeasuredSweep, 'run' | 'set'>): KvOption['measuredQuality'] {
  const { run } = measured;
  const point = run.points.find((p) =>
    format.kind === 'rvq'
      ? p.rvq?.set === measured.set && p.rvq.depth === format.depth && p.rvq.codebookSize === format.codebookSize && p.rvq.groupSize === format.groupSize
      : p.format === format.kind,
  );
  if (!point) return undefined;
  const fp16 = run.points.find((p) => p.format === 'fp16');
  return {
    ...(fp16 && { decodeSpeedVsFp16: point.decodeTokensPerSecond / fp16.decodeTokensPerSecond }),
    perplexityDeltaPercent: point.perplexityChangePercent,
    klDivergence: point.meanKl,
    top1AgreementPercent: 100 * point.top1Agreement,
    measuredOn: `${run.model} on ${run.text.file} (${run.text.tokens} tokens), this machine, ${run.finishedAt.slice(0, 10)}`,
  };
}

/**
 * Turns the form into the estimator's input; the backend validates every field. `acceptableLossPercent`
 * is the Tradeoffs view's acceptable perplexity increase (the recommendation stays within it).
 */
export function costInputFromForm(form: CostForm, catalog: CostCatalog, measured: MeasuredSweep | null = null, acceptableLossPercent: number | null = null): CostInput {
  const geometry = measured && form.presetId === measuredModelId(measured.run) ? measured.run.geometry : catalog.presets.find((p) => p.id === form.presetId)?.geometry;
  if (!geometry) throw new CostFormError(`Choose a model (unknown preset '${form.presetId}')`);
  const hardware = catalog.hardware.find((h) => h.entry.id === form.gpuId)?.entry;
  if (!hardware) throw new CostFormError(`Choose a GPU (unknown id '${form.gpuId}')`);
  const depths = form.rvqDepths.split(',').map((d) => d.trim()).filter((d) => d !== '');
  const kv: CostInput['kv'] = [
    ...scalarFormats.filter((f) => form.scalar[f]).map((kind) => ({ format: { kind } })),
    ...depths.map((d) => ({
      format: { kind: 'rvq' as const, depth: Number(d), codebookSize: Number(form.codebookSize), groupSize: Number(form.groupSize) },
    })),
  ];
  if (kv.length === 0) throw new CostFormError('Choose at least one KV format');
  // quality measured on one model goes with another only when the user carries it over, and says so
  const own = costsMeasuredModel(form, measured);
  if (measured && (own || form.carryMeasuredQuality)) {
    for (const option of kv) {
      const quality = measuredQualityFor(option.format, measured);
      option.measuredQuality = quality && !own ? { ...quality, carriedFrom: measured.run.model } : quality;
    }
  }
  return {
    model: geometry,
    hardware,
    weights: form.weights,
    decodeHeadline: form.decodeHeadline,
    ...(acceptableLossPercent !== null && { acceptableLossPercent }),
    kv,
    workload: {
      users: Number(form.users),
      context: Number(form.context),
      promptTokens: optionalNumber(form.promptTokens),
      answerTokens: optionalNumber(form.answerTokens),
      targetDecodeTokensPerSecondPerUser: optionalNumber(form.targetTokensPerSecond),
    },
    money: {
      pricing: form.pricing,
      purchaseUsdPerGpu: optionalNumber(form.purchaseUsdPerGpu),
      cloudUsdPerGpuHour: optionalNumber(form.cloudUsdPerGpuHour),
      amortisationMonths: optionalNumber(form.amortisationMonths),
      electricityUsdPerKWh: optionalNumber(form.electricityUsdPerKWh),
      pue: optionalNumber(form.pue),
      utilisation: optionalNumber(form.utilisation),
    },
  };
}

interface CostState {
  catalog: CostCatalog | null;
  form: CostForm;
  result: CostResult | null;
  error: string | null;
  busy: boolean;
  /** Quality measured on this machine, attached to the formats it covers. */
  measured: MeasuredSweep | null;
  setMeasured(measured: MeasuredSweep | null): void;
  /** The acceptable perplexity increase set in Tradeoffs (the views keep it in step). */
  acceptableLossPercent: number | null;
  setAcceptableLoss(percent: number | null): void;
  load(bridge: ResKvBridge): Promise<void>;
  update(patch: Partial<CostForm>): void;
  chooseModel(presetId: string): void;
  estimate(bridge: ResKvBridge): Promise<void>;
  saveHardware(bridge: ResKvBridge, entry: HardwareEntry): Promise<void>;
  removeHardware(bridge: ResKvBridge, id: string): Promise<void>;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export const useCost = create<CostState>((set, get) => ({
  catalog: null,
  form: initialForm,
  result: null,
  error: null,
  busy: false,
  measured: null,
  setMeasured: (measured) => set({ measured }),
  acceptableLossPercent: null,
  setAcceptableLoss: (acceptableLossPercent) => set({ acceptableLossPercent }),
  load: async (bridge) => {
    try {
      set({ catalog: await bridge.cost.catalog(), error: null });
      await get().estimate(bridge);
    } catch (err) {
      set({ error: message(err) });
    }
  },
  update: (patch) => set((s) => ({ form: { ...s.form, ...patch } })),
  chooseModel: (presetId) => set((s) => ({ form: formForModel(s.form, presetId, s.measured) })),
  estimate: async (bridge) => {
    const { catalog, form, measured } = get();
    if (!catalog) return;
    set({ busy: true });
    try {
      set({ result: await bridge.cost.estimate(costInputFromForm(form, catalog, measured, get().acceptableLossPercent)), error: null });
    } catch (err) {
      set({ error: message(err) });
    } finally {
      set({ busy: false });
    }
  },
  saveHardware: async (bridge, entry) => {
    const hardware = await bridge.cost.saveHardware(entry);
    set((s) => ({ catalog: s.catalog && { ...s.catalog, hardware }, form: { ...s.form, gpuId: entry.id } }));
  },
  removeHardware: async (bridge, id) => {
    const hardware = await bridge.cost.removeHardware(id);
    set((s) => ({ catalog: s.catalog && { ...s.catalog, hardware }, form: { ...s.form, gpuId: s.form.gpuId === id ? 'l40s' : s.form.gpuId } }));
  },
}));
