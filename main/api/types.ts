// The API contract between the renderer and the main process (types only; runs nowhere).
// The renderer imports these types and reaches the implementation through `window.reskv`,
// which the preload script (Electron) or the headless HTTP bridge provides.
// Types come from the modules that own them, by file (not through index.ts files that pull in Node).
import type { CostReport } from '../cost/cost-table.js';
import type { CostEstimate } from '../cost/estimate.js';
import type { CatalogEntry, HardwareEntry } from '../cost/hardware.js';
import type { CostInput } from '../cost/input.js';
import type { ModelPreset } from '../cost/model-presets.js';

export type { CatalogEntry, CostEstimate, CostInput, CostReport, HardwareEntry, ModelPreset };

export interface AppInfo {
  name: string;
  version: string;
  /** Electron's version, or null when ResKV runs headless in plain Node. */
  electron: string | null;
  node: string;
  platform: string;
  arch: string;
  /** Folder holding the model library, user hardware entries and saved measurements. */
  dataDir: string;
}

export interface CostCatalog {
  hardware: CatalogEntry[];
  presets: ModelPreset[];
}

export interface CostResult {
  estimate: CostEstimate;
  report: CostReport;
}

export interface ResKvBridge {
  app: {
    info(): Promise<AppInfo>;
  };
  cost: {
    /** Built-in and user hardware, and the built-in model presets. */
    catalog(): Promise<CostCatalog>;
    estimate(input: CostInput): Promise<CostResult>;
    /** Adds or replaces a user hardware entry; returns the new catalog. */
    saveHardware(entry: HardwareEntry): Promise<CatalogEntry[]>;
    removeHardware(id: string): Promise<CatalogEntry[]>;
  };
}

declare global {
  interface Window {
    /** Present inside the Electron app (preload) or headless mode; absent in a bare browser. */
    reskv?: ResKvBridge;
  }
}
