// Runs an import in its own worker thread: the conversion (seconds to tens of minutes, CPU-bound and
// synchronous) no longer blocks the thread that asked for it. Progress arrives as messages; a cancel
// (the signal, or onProgress throwing) terminates the worker and removes the folder it was writing.
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { ImportOptions, ImportProgress } from './import-model.js';

/** What crosses into the worker: everything but the callback. */
export interface ImportWorkerData {
  source: string;
  options: Omit<ImportOptions, 'onProgress'>;
}

export type ImportWorkerMessage = { kind: 'progress'; progress: ImportProgress } | { kind: 'done'; id: string } | { kind: 'failed'; message: string };

/** The worker entry: TypeScript through tsx when running from source, the bundled file in a built app. */
function workerEntry(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('./import-worker-from-source.js', import.meta.url) : new URL('./import-worker.js', import.meta.url);
}

/** Imports in a worker thread; resolves to the new model's id. */
export function importInWorker(source: string, options: ImportOptions, signal?: AbortSignal): Promise<string> {
  const { onProgress, ...rest } = options;
  const data: ImportWorkerData = { source, options: rest };
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerEntry(), { workerData: data });
    let partial: string | null = null;
    let settled = false;
    const finish = (error: Error | null, id?: string) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      if (error) {
        // a terminated worker cannot clean up after itself
        void worker.terminate().then(() => {
          if (partial) rmSync(partial, { recursive: true, force: true });
          reject(error);
        });
      } else resolve(id!);
    };
    const abort = () => finish(signal?.reason instanceof Error ? signal.reason : new Error('import cancelled'));
    if (signal?.aborted) return abort();
    signal?.addEventListener('abort', abort);
    worker.on('message', (message: ImportWorkerMessage) => {
      if (message.kind === 'progress') {
        partial = message.progress.partialFolder;
        try {
          onProgress?.(message.progress);
        } catch (e) {
          finish(e as Error);
        }
      } else if (message.kind === 'done') finish(null, message.id);
      else finish(new Error(message.message));
    });
    worker.on('error', (e) => finish(e));
    worker.on('exit', (code) => finish(new Error(`the import worker stopped (exit code ${code})`)));
  });
}
