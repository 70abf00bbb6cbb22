// The main-thread side of the backend: starts the worker, forwards calls, fans out events. A worker
// crash fails the calls in flight with a message and the next call starts a fresh worker.
import { Worker } from 'node:worker_threads';
import type { ApiMethodName } from '../api/methods.js';
import type { BackendEvent } from '../api/types.js';
import { ApiArgumentError } from './errors.js';
import { CANCEL_SLOTS, type BackendHost, type FromWorker, type ToWorker, type WorkerData } from './protocol.js';

export interface Backend {
  call(method: ApiMethodName, args: unknown): Promise<unknown>;
  subscribe(listener: (event: BackendEvent) => void): () => void;
  close(): Promise<void>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * @param workerUrl the worker entry: out/main/backend-worker.js in a built app, or
 *   main/backend/worker-from-source.js when running from source (it loads worker.ts through tsx).
 */
export function startBackend(workerUrl: URL, host: BackendHost): Backend {
  const listeners = new Set<(event: BackendEvent) => void>();
  const pending = new Map<number, Pending>();
  const cancelFlags = new SharedArrayBuffer(CANCEL_SLOTS * 4);
  const flags = new Int32Array(cancelFlags);
  let nextId = 1;
  let worker: Worker | null = null;

  function spawn(): Worker {
    const data: WorkerData = { host, cancelFlags };
    const w = new Worker(workerUrl, { workerData: data });
    w.on('message', (message: FromWorker) => {
      if (message.kind === 'event') {
        for (const listener of listeners) listener(message.event);
        return;
      }
      const call = pending.get(message.id);
      if (!call) return;
      pending.delete(message.id);
      if (message.ok) call.resolve(message.value);
      else call.reject(message.badArguments ? new ApiArgumentError(message.message, message.badArguments) : new Error(message.message));
    });
    const fail = (reason: string) => {
      if (worker !== w) return;
      worker = null;
      for (const call of pending.values()) call.reject(new Error(`the ResKV backend stopped (${reason}); try again`));
      pending.clear();
    };
    w.on('error', (err) => fail(err.message));
    w.on('exit', (code) => fail(`exit code ${code}`));
    return w;
  }

  const send = (message: ToWorker) => (worker ??= spawn()).postMessage(message);

  return {
    call(method, args) {
      if (method === 'jobs.cancel' && Array.isArray(args) && Number.isInteger(args[0])) {
        const jobId = args[0] as number;
        Atomics.store(flags, jobId % CANCEL_SLOTS, jobId);
      }
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        send({ kind: 'call', id, method, args });
      });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      const w = worker;
      worker = null;
      await w?.terminate();
    },
  };
}
