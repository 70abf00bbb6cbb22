// The connection to the backend (Electron main process or headless server) and what it reports.
import { create } from 'zustand';
import type { AppInfo, ResKvBridge } from '../../../main/api/types.js';
import { connectBridge } from '../bridge/connect.js';

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
      set({ connection: { status: 'connected', bridge, info: await bridge.app.info() } });
    } catch (err) {
      set({ connection: { status: 'error', message: err instanceof Error ? err.message : String(err) } });
    }
  },
}));
