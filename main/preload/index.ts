// Preload (sandboxed renderer context): exposes the typed ResKV bridge and nothing else.
import { contextBridge, ipcRenderer } from 'electron';
import type { BackendEvent } from '../api/types.js';
import { apiMethodNames, backendEventChannel, exportReportPdfChannel, ipcChannelFor, localApiStatusChannel, pickCheckpointChannel, pickTextFilesChannel } from '../api/methods.js';

// Builds `{ app: { info: (...args) => invoke('reskv:app.info', ...args) } }` from the method names.
const bridge: Record<string, Record<string, (...args: never[]) => unknown>> = {};
for (const name of apiMethodNames) {
  const [area, action] = name.split('.');
  bridge[area] ??= {};
  bridge[area][action] = (...args: unknown[]) => ipcRenderer.invoke(ipcChannelFor(name), ...args);
}

bridge.dialogs = {
  pickCheckpoint: (kind: 'file' | 'folder') => ipcRenderer.invoke(pickCheckpointChannel, kind),
  pickTextFiles: () => ipcRenderer.invoke(pickTextFilesChannel),
  exportReportPdf: (html: string, suggestedName: string) => ipcRenderer.invoke(exportReportPdfChannel, html, suggestedName),
};
bridge.localApi = {
  status: () => ipcRenderer.invoke(localApiStatusChannel),
};
bridge.events = {
  subscribe: (listener: (event: BackendEvent) => void) => {
    const forward = (_e: Electron.IpcRendererEvent, event: BackendEvent) => listener(event);
    ipcRenderer.on(backendEventChannel, forward);
    return () => ipcRenderer.removeListener(backendEventChannel, forward);
  },
};

contextBridge.exposeInMainWorld('reskv', bridge);
