// Messages between the backend client (Electron main thread or headless server) and the backend
// worker thread. Both ends are ours; the renderer's arguments were not validated yet (the worker does).
import type { ApiMethodName } from '../api/methods.js';
import type { BackendEvent } from '../api/types.js';
import type { BackendHost } from './methods.js';

export interface WorkerData {
  host: BackendHost;
  /** Int32Array over a SharedArrayBuffer: slot id % length holds a job id whose cancel was asked. */
  cancelFlags: SharedArrayBuffer;
}

export type ToWorker = { kind: 'call'; id: number; method: ApiMethodName; args: unknown } | { kind: 'cancel-job'; jobId: number };

export type FromWorker =
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; message: string; badArguments: boolean }
  | { kind: 'event'; event: BackendEvent };

export const CANCEL_SLOTS = 64;
