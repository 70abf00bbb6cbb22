// The backend worker thread: runs every backend method (model import, engine, calibration, cost) off
// the Electron main thread / HTTP server thread, and posts results and events back.
import { parentPort, workerData } from 'node:worker_threads';
import { useCalibrationWorker } from './calibrations.js';
import { EngineHost } from './engine-host.js';
import { JobRegistry } from './jobs.js';
import { jobTitlesDuring } from './job-overlap.js';
import { ContextOverflowError } from '../engine/generate.js';
import { ApiArgumentError, type ArgumentErrorCode } from './errors.js';
import { callBackendMethod, type BackendContext } from './methods.js';
import type { FromWorker, ToWorker, WorkerData } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('main/backend/worker.ts runs as a worker thread only');
const { host, cancelFlags } = workerData as WorkerData;
// built (out/main/backend-worker.js): calibrations run in the bundled calibration worker beside it
if (!import.meta.url.endsWith('.ts')) useCalibrationWorker(new URL('./calibration-worker.js', import.meta.url));
const flags = new Int32Array(cancelFlags);
const post = (message: FromWorker) => port.postMessage(message);

const publish: BackendContext['publish'] = (event) => post({ kind: 'event', event });
// Cancels can arrive while a job blocks this thread; the shared flags let it see them anyway.
const jobs = new JobRegistry(
  (job) => post({ kind: 'event', event: { type: 'job', job } }),
  (id) => Atomics.load(flags, id % flags.length) === id,
);
const context: BackendContext = { host, publish, jobs, engine: new EngineHost(host.dataDir, publish, (from, to) => jobTitlesDuring(jobs.list(), from, to)) };

/** Whose fault a failure is: the caller's (bad arguments, an input longer than the context) or ours. */
function argumentErrorCode(err: unknown): ArgumentErrorCode | null {
  if (err instanceof ApiArgumentError) return err.code;
  return err instanceof ContextOverflowError ? 'context_length_exceeded' : null;
}

port.on('message', (message: ToWorker) => {
  if (message.kind === 'cancel-job') {
    try {
      context.jobs.cancel(message.jobId);
    } catch {
      // unknown or finished job: nothing to cancel
    }
    return;
  }
  callBackendMethod(context, message.method, message.args).then(
    (value) => post({ kind: 'result', id: message.id, ok: true, value }),
    (err: unknown) =>
      post({ kind: 'result', id: message.id, ok: false, message: err instanceof Error ? err.message : String(err), badArguments: argumentErrorCode(err) }),
  );
});
