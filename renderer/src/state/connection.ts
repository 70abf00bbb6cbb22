// The connection to the backend (Electron main process or headless server) and what it reports.
import { create } from 'zustand';
import type { AppInfo, ResKvBridge } from '../../../main/api/types.js';
import { connectBridge } from '../bridge/connect.js';
import { useChat } from './chat.js';
import { useJobs } from './jobs.js';
import { useModels } from './models.js';
import { useSettings } from './settings.js';

type Connection =
  | { status: 'connecting' }
  | { status: 'connected'; bridge: ResKvBridge; info: AppInfo }
  | { status: 'absent' }
  | { status: 'error'; message: string };

interface ConnectionState {
  connection: Connection;
  connect(): Promise<void>;
}

export const useConnection = create<ConnectionState>((set) => ({
  connection: { status: 'connecting' },
  connect: async () => {
    try {
      const bridge = await connectBridge();
      if (!bridge) {
        set({ connection: { status: 'absent' } });
        return;
      }
      const info = await bridge.app.info();
      // One subscription for the app's lifetime routes backend events to the stores that show them.
      bridge.events.subscribe((event) => {
        if (event.type === 'job') useJobs.getState().upsert(event.job);
        else if (event.type === 'models-changed') void useModels.getState().refresh(bridge);
        else if (event.type === 'local-api-status') useSettings.getState().setLocalApi(event.status);
        else useChat.getState().onEvent(event);
      });
      for (const job of await bridge.jobs.list()) useJobs.getState().upsert(job);
      set({ connection: { status: 'connected', bridge, info } });
    } catch (err) {
      set({ connection: { status: 'error', message: err instanceof Error ? err.message : String(err) } });
    }
  },
}));
