// The API contract between the renderer and the main process (types only; runs nowhere).
// The renderer imports these types and reaches the implementation through `window.reskv`,
// which the preload script (Electron) or the headless HTTP bridge provides.

export interface AppInfo {
  name: string;
  version: string;
  /** Electron's version, or null when ResKV runs headless in plain Node. */
  electron: string | null;
  node: string;
  platform: string;
  arch: string;
}

export interface ResKvBridge {
  app: {
    info(): Promise<AppInfo>;
  };
}

declare global {
  interface Window {
    /** Present inside the Electron app (preload) or headless mode; absent in a bare browser. */
    reskv?: ResKvBridge;
  }
}
