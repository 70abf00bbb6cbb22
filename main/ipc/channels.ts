// IPC channel names, shared by the preload script and the main process (no dependencies, so the
// sandboxed preload bundle stays tiny).
export const ipcChannels = {
  appInfo: 'reskv:app:info',
} as const;

export type IpcChannel = (typeof ipcChannels)[keyof typeof ipcChannels];
