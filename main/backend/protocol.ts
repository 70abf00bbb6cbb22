// Messages between the backend client (Electron main thread or headless server) and the backend
// worker thread. Both ends are ours; the renderer's arguments were not validated yet (the worker does).
import type { ApiMethodName } from '../api/methods.js';
import type { BackendEvent } from '../api/types.js';
import type { ArgumentErrorCode } from './errors.js';

/** Facts the host (Electron or the headless server) supplies. */
export interface BackendHost {
  name: string;
  version: string;
  /** Where user data lives (see data-dir.ts); tests pass a temporary folder. */
  dataDir: string;
}

export interface WorkerData {
  host: BackendHost;
  /** Int32Array over a SharedArrayBuffer: slot id % length holds a job id whose cancel was asked. */
  cancelFlags: SharedArrayBuffer;
}

export type ToWorker = { kind: 'call'; id: number; method: ApiMethodName; args: unknown } | { kind: 'cancel-job'; jobId: number };

export type FromWorker =
  | { kind: 'result'; id: number; ok: true; value: unknown }
  /** badArguments: the caller's fault (an ApiArgumentError of that code), null: the backend's. */
  | { kind: 'result'; id: number; ok: false; message: string; badArguments: ArgumentErrorCode | null }
  | { kind: 'event'; event: BackendEvent };

export const CANCEL_SLOTS = 64;
