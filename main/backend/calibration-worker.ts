// One calibration in a worker thread of its own, so the backend's event loop (chat, the local API)
// stays responsive while it captures and trains. The thread runs at a lower priority and pauses between
// units of work while a chat reply or API request is generating (interactive.ts). The backend
// posts nothing after the start: a cancel is a flag in shared memory, checked at every progress update
// and every 100 ms the thread is idle.
import { parentPort, workerData } from 'node:worker_threads';
import { calibrateModel } from '../engine/calibration/calibrate.js';
import type { CalibrateOptions, CalibrationProgress, CalibrationResult } from '../engine/calibration/calibrate.js';
import { lowerThreadPriority, waitForGenerations } from './interactive.js';

export interface CalibrationWorkerData {
  folder: string;
  options: Omit<CalibrateOptions, 'signal' | 'onProgress' | 'pause'>;
  /** Int32Array over it: slot 0 becomes 1 when the job is cancelled. */
  cancel: SharedArrayBuffer;
  /** interactive.ts's count of running generations. */
  generations: SharedArrayBuffer;
}

export type FromCalibrationWorker =
  | { kind: 'started'; lowered: boolean }
  | { kind: 'progress'; progress: CalibrationProgress }
  /** The run paused this long for a generation. */
  | { kind: 'yielded'; ms: number }
  | { kind: 'done'; result: CalibrationResult }
  | { kind: 'failed'; message: string };

const port = parentPort;
if (!port) throw new Error('main/backend/calibration-worker.ts runs as a worker thread only');
const { folder, options, cancel, generations } = workerData as CalibrationWorkerData;
const flag = new Int32Array(cancel);
const controller = new AbortController();
const post = (message: FromCalibrationWorker) => port.postMessage(message);

function checkCancel(): void {
  if (Atomics.load(flag, 0) === 1 && !controller.signal.aborted) controller.abort(new Error('cancelled by the operator'));
  if (controller.signal.aborted) throw controller.signal.reason as Error;
}

const idleCheck = setInterval(() => {
  try {
    checkCancel();
  } catch {
    // the run sees the aborted signal at its next step
  }
}, 100);

// before any session exists, so ONNX Runtime's threads inherit the lower priority
post({ kind: 'started', lowered: lowerThreadPriority() });
calibrateModel(folder, {
  ...options,
  signal: controller.signal,
  onProgress: (progress) => {
    checkCancel();
    post({ kind: 'progress', progress });
  },
  pause: () => {
    const ms = waitForGenerations(generations, checkCancel);
    if (ms > 0) post({ kind: 'yielded', ms });
  },
})
  .then(
    (result) => post({ kind: 'done', result }),
    (err: unknown) => post({ kind: 'failed', message: err instanceof Error ? err.message : String(err) }),
  )
  .finally(() => clearInterval(idleCheck));
