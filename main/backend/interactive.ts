// Background jobs step aside for interactive generation (chat replies, local-API requests): the
// backend counts running generations in shared memory, and a job thread pauses between its steps
// while the count is above zero. Jobs also run with fewer ONNX Runtime threads and, where the OS
// allows it per thread (Linux), at a lower scheduling priority.
import { readlinkSync } from 'node:fs';
import { availableParallelism, getPriority, setPriority } from 'node:os';

/** Generations running now, as an Int32Array over shared memory (slot 0). */
const running = new Int32Array(new SharedArrayBuffer(4));

/** The shared counter, for job threads (passed in their workerData). */
export const generationCounter: SharedArrayBuffer = running.buffer as SharedArrayBuffer;

/** Runs one interactive generation, counted while it runs. */
export async function interactively<T>(work: () => Promise<T>): Promise<T> {
  Atomics.add(running, 0, 1);
  try {
    return await work();
  } finally {
    Atomics.sub(running, 0, 1);
  }
}

/**
 * In a job thread: blocks while a generation runs (checking `stop` every 50 ms, which throws to end
 * the job) and returns the milliseconds waited. Blocking is the point: the thread and the ONNX
 * Runtime threads it drives leave the cores to the generation.
 */
export function waitForGenerations(counter: SharedArrayBuffer, stop: () => void): number {
  const count = new Int32Array(counter);
  if (Atomics.load(count, 0) === 0) return 0;
  const started = performance.now();
  for (let now = Atomics.load(count, 0); now > 0; now = Atomics.load(count, 0)) {
    stop();
    Atomics.wait(count, 0, now, 50);
  }
  return performance.now() - started;
}

/** ONNX Runtime intra-op threads for a job: the operator's setting, but at most half the cores, so generation keeps the rest. */
export function jobThreads(settingThreads: number): number {
  const half = Math.max(1, Math.floor(availableParallelism() / 2));
  return settingThreads > 0 ? Math.min(settingThreads, half) : half;
}

/** The nice value job threads run at (0 normal, 19 lowest). */
export const jobNiceness = 10;

/**
 * Lowers the calling thread's scheduling priority to jobNiceness (or keeps a lower one); threads it creates afterwards (ONNX
 * Runtime's pool) inherit it. Linux only: there a thread id is a valid target of setpriority, found in
 * /proc/thread-self. Elsewhere Node can only renice the whole process, which would slow chat too, so
 * this returns false and leaves the priority alone.
 */
export function lowerThreadPriority(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    // never raise it: a backend already started at a lower priority keeps that
    setPriority(tid, Math.max(getPriority(tid), jobNiceness));
    return true;
  } catch {
    return false;
  }
}
