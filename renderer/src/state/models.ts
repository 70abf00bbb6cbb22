// The model library as the backend reports it.
import { create } from 'zustand';
import type { ModelSummary, ResKvBridge } from '../../../main/api/types.js';

interface ModelsState {
  models: ModelSummary[] | null;
  error: string | null;
  refresh(bridge: ResKvBridge): Promise<void>;
  remove(bridge: ResKvBridge, id: string): Promise<void>;
  removeCalibration(bridge: ResKvBridge, id: string, name: string): Promise<void>;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export const useModels = create<ModelsState>((set) => {
  /** Every call answers with the new model list; a failure keeps the list and shows the error. */
  const replaceWith = async (call: () => Promise<ModelSummary[]>) => {
    try {
      set({ models: await call(), error: null });
    } catch (err) {
      set({ error: message(err) });
    }
  };
  return {
    models: null,
    error: null,
    refresh: (bridge) => replaceWith(() => bridge.models.list()),
    remove: (bridge, id) => replaceWith(() => bridge.models.remove(id)),
    removeCalibration: (bridge, id, name) => replaceWith(() => bridge.models.removeCalibration(id, name)),
  };
});
