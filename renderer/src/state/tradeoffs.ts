// Tradeoffs state: the model being examined, the sweep form (typed text, checked by the backend),
// the kept sweeps of each model, and the operator's acceptable perplexity increase (kept across
// reloads; the Report and Cost views read it too). Sweep jobs live in the jobs store.
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import type { ModelSummary, ResKvBridge, TradeoffHistory, TradeoffRun, TradeoffSweepOptions } from '../../../main/api/types.js';
import { errorMessage, keptRunsSlice, shownKeptRun } from './kept-runs.js';
import type { KeptRunsState } from './kept-runs.js';

export interface SweepForm {
  textPath: string;
  maxTokens: string;
  /** '' = every depth each set has. */
  maxDepth: string;
  /** Sets left out of the sweep (all installed sets are swept by default). */
  excludedSets: string[];
  scalarBaselines: boolean;
  latencyContext: string;
  latencySteps: string;
}

const initialForm: SweepForm = { textPath: '', maxTokens: '256', maxDepth: '', excludedSets: [], scalarBaselines: true, latencyContext: '128', latencySteps: '16' };

/** The form as the backend's options; every number is checked there (NaN comes back as a named error). */
export function sweepOptions(form: SweepForm, installedSets: readonly string[]): TradeoffSweepOptions {
  const sets = installedSets.filter((s) => !form.excludedSets.includes(s));
  if (sets.length === 0) throw new Error('Choose at least one codebook set to sweep');
  return {
    textPath: form.textPath,
    maxTokens: Number(form.maxTokens),
    codebookSets: sets,
    maxDepth: form.maxDepth.trim() === '' ? null : Number(form.maxDepth),
    scalarBaselines: form.scalarBaselines,
    latencyContext: Number(form.latencyContext),
    latencySteps: Number(form.latencySteps),
  };
}

interface TradeoffsState extends KeptRunsState<TradeoffHistory> {
  /** The model the view examines (and the Cost view takes measurements from). */
  model: string | null;
  form: SweepForm;
  /** Acceptable perplexity increase in percent, as typed. */
  acceptableLoss: string;
  /** The marked depth must also show no significant drop in the model's task check (Tasks view). */
  requireNoTaskDrop: boolean;
  select(model: string): void;
  update(patch: Partial<SweepForm>): void;
  setAcceptableLoss(text: string): void;
  setRequireNoTaskDrop(required: boolean): void;
  run(bridge: ResKvBridge, model: string, installedSets: readonly string[]): Promise<void>;
}

export const useTradeoffs = create<TradeoffsState>()(
  persist(
    (set, get) => ({
      model: null,
      form: initialForm,
      ...keptRunsSlice<TradeoffHistory>(set, (bridge, model) => bridge.tradeoffs.list(model)),
      acceptableLoss: '5',
      requireNoTaskDrop: false,
      select: (model) => set({ model, error: null }),
      update: (patch) => set((s) => ({ form: { ...s.form, ...patch } })),
      setAcceptableLoss: (acceptableLoss) => set({ acceptableLoss }),
      setRequireNoTaskDrop: (requireNoTaskDrop) => set({ requireNoTaskDrop }),
      run: async (bridge, model, installedSets) => {
        try {
          // the job reaches the jobs store through its events
          await bridge.tradeoffs.run(model, sweepOptions(get().form, installedSets));
          set({ error: null });
        } catch (err) {
          set({ error: errorMessage(err) });
        }
      },
    }),
    // Only the operator's choices survive a reload; measurements come from the backend.
    { name: 'reskv.tradeoffs', storage: createJSONStorage(() => localStorage), partialize: (s) => ({ model: s.model, form: s.form, acceptableLoss: s.acceptableLoss, requireNoTaskDrop: s.requireNoTaskDrop }) },
  ),
);

export type CalibratedModel = ModelSummary & { info: NonNullable<ModelSummary['info']> };

/** Library models that have a codebook set (the ones a sweep can run on). */
export const calibratedModels = (models: readonly ModelSummary[] | null): CalibratedModel[] =>
  (models ?? []).filter((m): m is CalibratedModel => m.info !== null && m.info.calibrations.length > 0);

/** The model the Tradeoffs view shows: the one chosen there, else the first calibrated one. */
export const shownModel = (models: readonly CalibratedModel[], selected: string | null): CalibratedModel | null => models.find((m) => m.id === selected) ?? models[0] ?? null;

/** The kept sweep shown for `model`: the one chosen in the view, else the newest; null when none is kept. */
export const shownRun = (state: Pick<TradeoffsState, 'histories' | 'shownRuns'>, model: string | null): TradeoffRun | null => shownKeptRun(state, model);
