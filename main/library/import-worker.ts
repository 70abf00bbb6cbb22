// Worker-thread entry of an import (see import-in-worker.ts): runs importModel, posting progress and
// the result, so the thread that asked (the backend's) stays free for chat and the API meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import type { ImportWorkerData, ImportWorkerMessage } from './import-in-worker.js';
import { importModel } from './import-model.js';

const port = parentPort;
if (!port) throw new Error('main/library/import-worker.ts runs as a worker thread only');
const post = (message: ImportWorkerMessage) => port.postMessage(message);
const { source, options } = workerData as ImportWorkerData;
try {
  const { manifest } = importModel(source, { ...options, onProgress: (progress) => post({ kind: 'progress', progress }) });
  post({ kind: 'done', id: manifest.id });
} catch (e) {
  post({ kind: 'failed', message: (e as Error).message });
}
