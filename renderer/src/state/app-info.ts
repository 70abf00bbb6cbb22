// Facts about the backend the renderer is connected to (Electron main process or headless server).
import { create } from 'zustand';
import type { AppInfo } from '../../../main/api/types.js';

type Connection = { status: 'connecting' } | { status: 'connected'; info: AppInfo } | { status: 'absent' } | { status: 'error'; message: string };

interface AppInfoState {
  connection: Connection;
  load(): Promise<void>;
}

export const useAppInfo = create<AppInfoState>((set) => ({
  connection: { status: 'connecting' },
  load: async () => {
    const bridge = window.reskv;
    if (!bridge) {
      set({ connection: { status: 'absent' } });
      return;
    }
    try {
      set({ connection: { status: 'connected', info: await bridge.app.info() } });
    } catch (err) {
      set({ connection: { status: 'error', message: err instanceof Error ? err.message : String(err) } });
    }
  },
}));
