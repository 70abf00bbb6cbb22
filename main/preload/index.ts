// Preload (sandboxed renderer context): exposes the typed ResKV bridge and nothing else.
import { contextBridge, ipcRenderer } from 'electron';
import type { AppInfo, ResKvBridge } from '../api/types.js';
import { ipcChannels } from '../ipc/channels.js';

const bridge: ResKvBridge = {
  app: {
    info: () => ipcRenderer.invoke(ipcChannels.appInfo) as Promise<AppInfo>,
  },
};

contextBridge.exposeInMainWorld('reskv', bridge);
