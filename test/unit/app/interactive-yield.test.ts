// Background jobs yield to interactive generation: a job thread blocks at its next step while a
// generation is counted, and carries on when it ends; job threads get at most half the cores and,
// on Linux, a lower priority than the backend's own threads.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { generationCounter, interactively, jobNiceness, jobThreads, waitForGenerations } from '../../../main/backend/interactive.js';
import { threadNice } from '../../support/interactive-job-steps.js';

/** A job thread of test/support/interactive-job-steps.ts doing `task`. */
const jobThread = (task: 'wait' | 'priority') => new Worker(new URL('../../support/interactive-job.js', import.meta.url), { workerData: { task, counter: generationCounter } });

const message = <T>(worker: Worker) => new Promise<T>((resolve, reject) => worker.once('message', resolve).once('error', reject));

describe('jobs yield to generation', () => {
  it('a job thread waits while a generation runs and goes on when it ends', async () => {
    expect(waitForGenerations(generationCounter, () => {})).toBe(0);
    const worker = jobThread('wait');
    try {
      await message(worker);
      let release = () => {};
      const generation = interactively(() => new Promise<void>((resolve) => (release = resolve)));
      worker.postMessage('step');
      await new Promise((r) => setTimeout(r, 300));
      release();
      await generation;
      const waited = await message<number>(worker);
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waitForGenerations(generationCounter, () => {})).toBe(0);
    } finally {
      await worker.terminate();
    }
  });

  it('a cancel ends the wait', async () => {
    const stop = new Error('cancelled');
    let release = () => {};
    const generation = interactively(() => new Promise<void>((resolve) => (release = resolve)));
    expect(() =>
      waitForGenerations(generationCounter, () => {
        throw stop;
      }),
    ).toThrow(stop);
    release();
    await generation;
  });

  it('job threads get at most half the cores', () => {
    const half = Math.max(1, Math.floor(availableParallelism() / 2));
    expect(jobThreads(0)).toBe(half);
    expect(jobThreads(1)).toBe(1);
    expect(jobThreads(1000)).toBe(half);
  });

  it.skipIf(process.platform !== 'linux')('lowers the job thread\'s priority and not the process\'s', async () => {
    const worker = jobThread('priority');
    try {
      const { lowered, nice } = await message<{ lowered: boolean; nice: number }>(worker);
      expect(lowered).toBe(true);
      // the test thread's own priority is untouched (and a job never runs above it)
      expect(nice).toBe(Math.max(jobNiceness, threadNice()));
      if (threadNice() < jobNiceness) expect(nice).toBeGreaterThan(threadNice());
    } finally {
      await worker.terminate();
    }
  });
});
