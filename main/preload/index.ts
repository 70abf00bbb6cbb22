// Preload (sandboxed renderer context): exposes the typed ResKV bridge and nothing else.
import { contextBridge, ipcRenderer } from 'electron';
import { apiMethodNames, ipcChannelFor } from '../api/methods.js';

// Builds `{ app: { info: (...args) => invoke('reskv:app.info', ...args) } }` from the method names.
const bridge: Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>> = {};
for (const name of apiMethodNames) {
  const [area, action] = name.split('.');
  bridge[area] ??= {};
  bridge[area][action] = (...args: unknown[]) => ipcRenderer.invoke(ipcChannelFor(name), ...args);
}

contextBridge.exposeInMainWorld('reskv', bridge);
