// What the app reports about itself; runs in the main process or in plain Node (headless).
import type { AppInfo } from './api/types.js';

/** Describes the running process; name and version come from Electron's `app` or package.json. */
export function describeRuntime(name: string, version: string, dataDir: string): AppInfo {
  return {
    name,
    version,
    electron: process.versions.electron ?? null,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    dataDir,
  };
}
