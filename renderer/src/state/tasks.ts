// Tasks state: the model being checked, the task-check form (typed text, checked by the backend), and
// the kept task checks of each model. Task-check jobs live in the jobs store.
import { create } from 'zustand';
import { createJSONStorage, persist } from 'zustand/middleware';
import type { ResKvBridge, TaskHistory, TaskRun, TaskRunOptions } from '../../../main/api/types.js';
import { errorMessage, keptRunsSlice, shownKeptRun } from './kept-runs.js';
import type { KeptRunsState } from './kept-runs.js';

export interface TaskForm {
  taskPath: string;
  /** Comma-separated caches compared with fp16, e.g. "q8_0,q4_0,kivi2,rvq". */
  formats: string;
  /** Comma-separated rvq depths; empty: every depth of the set. */
  depths: string;
  driftPrompts: string;
  driftTokens: string;
  seed: string;
}

const initialForm: TaskForm = { taskPath: '', formats: 'q8_0,q4_0,kivi2,rvq', depths: '', driftPrompts: '4', driftTokens: '48', seed: '0' };

const list = (text: string) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');

/** A typed number; empty is NaN, which the backend rejects naming the field. */
const numberOf = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));

/** The form as the backend's options; every number is checked there (NaN comes back as a named error). */
export function taskOptions(form: TaskForm): TaskRunOptions {
  return {
    taskPath: form.taskPath,
    formats: list(form.formats),
    depths: list(form.depths).map(numberOf),
    driftPrompts: numberOf(form.driftPrompts),
    driftTokens: numberOf(form.driftTokens),
    seed: numberOf(form.seed),
  };
}

interface TasksState extends KeptRunsState<TaskHistory> {
  model: string | null;
  form: TaskForm;
  select(model: string): void;
  update(patch: Partial<TaskForm>): void;
  run(bridge: ResKvBridge, model: string): Promise<void>;
}

export const useTasks = create<TasksState>()(
  persist(
    (set, get) => ({
      model: null,
      form: initialForm,
      ...keptRunsSlice<TaskHistory>(set, (bridge, model) => bridge.tasks.list(model)),
      select: (model) => set({ model, error: null }),
      update: (patch) => set((s) => ({ form: { ...s.form, ...patch } })),
      run: async (bridge, model) => {
        try {
          // the job reaches the jobs store through its events
          await bridge.tasks.run(model, taskOptions(get().form));
          set({ error: null });
        } catch (err) {
          set({ error: errorMessage(err) });
        }
      },
    }),
    // Only the operator's choices survive a reload; results come from the backend.
    { name: 'reskv.tasks', storage: createJSONStorage(() => localStorage), partialize: (s) => ({ model: s.model, form: s.form }) },
  ),
);

/** The kept check shown for `model`: the one chosen in the view, else the newest; null when none is kept. */
export const shownTaskRun = (state: Pick<TasksState, 'histories' | 'shownRuns'>, model: string | null): TaskRun | null => shownKeptRun(state, model);
