// The part of a view's store that holds a backend job's kept runs (depth sweeps, task checks): each
// model's history as the backend lists it, the run the operator picked, and the last error.
import type { ResKvBridge } from '../../../main/api/types.js';

export interface KeptHistory<R extends { id: string }> {
  model: string;
  runs: R[];
  problem: string | null;
}

export interface KeptRunsState<H extends KeptHistory<{ id: string }>> {
  histories: Record<string, H>;
  /** The kept run shown, by model (absent: the newest). */
  shownRuns: Record<string, string>;
  error: string | null;
  showRun(model: string, runId: string): void;
  load(bridge: ResKvBridge, model: string): Promise<void>;
}

export const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

type Setter<H extends KeptHistory<{ id: string }>> = (update: Partial<KeptRunsState<H>> | ((s: KeptRunsState<H>) => Partial<KeptRunsState<H>>)) => void;

/** The kept-runs fields and actions; `list` asks the backend for a model's history. */
export function keptRunsSlice<H extends KeptHistory<{ id: string }>>(set: Setter<H>, list: (bridge: ResKvBridge, model: string) => Promise<H>): KeptRunsState<H> {
  return {
    histories: {},
    shownRuns: {},
    error: null,
    showRun: (model, runId) => set((s) => ({ shownRuns: { ...s.shownRuns, [model]: runId } })),
    load: async (bridge, model) => {
      try {
        const history = await list(bridge, model);
        set((s) => ({ histories: { ...s.histories, [model]: history }, error: null }));
      } catch (err) {
        set({ error: errorMessage(err) });
      }
    },
  };
}

/** The kept run shown for `model`: the one picked, else the newest; null when none is kept. */
export function shownKeptRun<R extends { id: string }>(state: { histories: Record<string, KeptHistory<R>>; shownRuns: Record<string, string> }, model: string | null): R | null {
  const runs = model ? (state.histories[model]?.runs ?? []) : [];
  return runs.find((r) => r.id === state.shownRuns[model ?? '']) ?? runs[0] ?? null;
}
