// The operator's settings as the backend stores them; edits stay local until saved.
import { create } from 'zustand';
import type { LocalApiStatus, ResKvBridge, Settings } from '../../../main/api/types.js';

interface SettingsStore {
  saved: Settings | null;
  draft: Settings | null;
  problem: string | null;
  error: string | null;
  status: string | null;
  /** The desktop app's local API server as it runs (null in headless mode, where this server is the API). */
  localApi: LocalApiStatus | null;
  load(bridge: ResKvBridge): Promise<void>;
  setLocalApi(status: LocalApiStatus): void;
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
  localApi: null,
  load: async (bridge) => {
    try {
      const { settings, problem } = await bridge.settings.get();
      // the local API's status must not keep the settings from showing
      const localApi = bridge.localApi ? await bridge.localApi.status().catch((err: unknown): LocalApiStatus => ({ state: 'failed', error: `its status is unavailable (${message(err)})` })) : null;
      set({ saved: settings, draft: settings, problem, error: null, localApi });
    } catch (err) {
      set({ error: message(err) });
    }
  },
  setLocalApi: (localApi) => set({ localApi }),
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
