// The model library as the backend reports it.
import { create } from 'zustand';
import type { ModelSummary, ResKvBridge } from '../../../main/api/types.js';

interface ModelsState {
  models: ModelSummary[] | null;
  error: string | null;
  refresh(bridge: ResKvBridge): Promise<void>;
  remove(bridge: ResKvBridge, id: string): Promise<void>;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export const useModels = create<ModelsState>((set) => ({
  models: null,
  error: null,
  refresh: async (bridge) => {
    try {
      set({ models: await bridge.models.list(), error: null });
    } catch (err) {
      set({ error: message(err) });
    }
  },
  remove: async (bridge, id) => {
    try {
      set({ models: await bridge.models.remove(id), error: null });
    } catch (err) {
      set({ error: message(err) });
    }
  },
}));
