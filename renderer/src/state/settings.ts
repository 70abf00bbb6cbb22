// The operator's settings as the backend stores them; edits stay local until saved.
import { create } from 'zustand';
import type { ResKvBridge, Settings } from '../../../main/api/types.js';

interface SettingsStore {
  saved: Settings | null;
  draft: Settings | null;
  problem: string | null;
  error: string | null;
  status: string | null;
  load(bridge: ResKvBridge): Promise<void>;
  edit(patch: Partial<Settings>): void;
  save(bridge: ResKvBridge): Promise<void>;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export const useSettings = create<SettingsStore>((set, get) => ({
  saved: null,
  draft: null,
  problem: null,
  error: null,
  status: null,
  load: async (bridge) => {
    try {
      const { settings, problem } = await bridge.settings.get();
      set({ saved: settings, draft: settings, problem, error: null });
    } catch (err) {
      set({ error: message(err) });
    }
  },
  edit: (patch) => set((s) => ({ draft: s.draft && { ...s.draft, ...patch }, status: null })),
  save: async (bridge) => {
    const { draft } = get();
    if (!draft) return;
    try {
      const { settings, problem } = await bridge.settings.save(draft);
      set({ saved: settings, draft: settings, problem, error: null, status: 'Saved.' });
    } catch (err) {
      set({ error: message(err), status: null });
    }
  },
}));
