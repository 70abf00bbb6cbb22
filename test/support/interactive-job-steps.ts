// What the test job thread does (workerData.task): 'wait' waits once for running generations when
// told to step and reports the milliseconds; 'priority' lowers its priority and reports its nice value.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority, waitForGenerations } from '../../main/backend/interactive.js';


/** This thread's nice value (field 19 of /proc/thread-self/stat). */
export function threadNice(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

// in the job thread only (the test imports threadNice too)
const data = workerData as { task?: 'wait' | 'priority'; counter: SharedArrayBuffer } | null;
const port = parentPort;
if (port && data?.task) {
  const { task, counter } = data;
  if (task === 'wait') {
    port.postMessage('ready');
    port.once('message', () => port.postMessage(waitForGenerations(counter, () => {})));
  } else {
    port.postMessage({ lowered: lowerThreadPriority(), nice: threadNice() });
  }
}
