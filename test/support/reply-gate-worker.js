// The backend worker of a test backend with a reply gate (reply-gate.ts): registers tsx in this worker
// thread, makes every streamed piece it posts pass the gate, then runs the real worker, main/backend/worker.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { passGate } = await import('./reply-gate.ts');
const permits = new Int32Array(workerData.host.replyGate);
const post = parentPort.postMessage.bind(parentPort);
parentPort.postMessage = (message) => {
  post(message);
  const type = message.kind === 'event' ? message.event.type : null;
  if (type === 'chat-token' || type === 'completion-delta') passGate(permits);
};
await import('../../main/backend/worker.ts');
