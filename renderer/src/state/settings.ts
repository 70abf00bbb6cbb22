// The operator's settings as the backend stores them; edits stay local until saved.
import { create } from 'zustand';
import type { LocalApiStatus, ProvidersReport, ResKvBridge, Settings } from '../../../main/api/types.js';

interface SettingsStore {
  saved: Settings | null;
  draft: Settings | null;
  problem: string | null;
  error: string | null;
  status: string | null;
  /** The desktop app's local API server as it runs (null in headless mode, where this server is the API). */
  localApi: LocalApiStatus | null;
  /** The providers this machine has (probed by the backend) and which one runs each loaded model. */
  providers: ProvidersReport | null;
  /** Why the provider report is missing, when it is. */
  providersError: string | null;
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
  providers: null,
  providersError: null,
  load: async (bridge) => {
    try {
      const { settings, problem } = await bridge.settings.get();
      // the local API's status must not keep the settings from showing
      const localApi = bridge.localApi ? await bridge.localApi.status().catch((err: unknown): LocalApiStatus => ({ state: 'failed', error: `its status is unavailable (${message(err)})` })) : null;
      set({ saved: settings, draft: settings, problem, error: null, localApi });
      // probing runs a small graph on each provider once per backend process: it may take a moment
      const providers = await bridge.settings.providers().catch((err: unknown) => {
        set({ providersError: message(err) });
        return null;
      });
      if (providers) set({ providers, providersError: null });
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
