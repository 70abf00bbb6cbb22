// Issue 17 finding 6 (calibration): a calibration job runs in a worker thread of its own, so the
// backend's event loop keeps answering (chat, the local API) while it trains; progress and cancel work
// across the thread.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSnapshot } from '../../../main/api/types.js';
import { startCalibration } from '../../../main/backend/calibrations.js';
import { JobRegistry } from '../../../main/backend/jobs.js';
import { readManifest } from '../../../main/model/manifest.js';
import { createTinyLibrary } from '../calibration/tiny-library.js';
import type { TinyLibrary } from '../calibration/tiny-library.js';

/** Runs a calibration job to its end, recording the longest gap between event-loop turns meanwhile. */
async function runJob(lib: TinyLibrary, settings: object, onRunning?: (jobs: JobRegistry, job: JobSnapshot) => void): Promise<{ job: JobSnapshot; maxGapMs: number; ms: number; progress: number }> {
  let progress = 0;
  let finished: (job: JobSnapshot) => void = () => {};
  const done = new Promise<JobSnapshot>((resolve) => (finished = resolve));
  const jobs = new JobRegistry((job) => {
    if (job.progress) progress++;
    if (job.state !== 'running') finished(job);
  });
  let last = performance.now();
  let maxGapMs = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  const job = startCalibration(lib.dir, jobs, 'tiny', { text: { kind: 'files', paths: [lib.textFile] }, settings } as never, () => {});
  onRunning?.(jobs, job);
  const end = await done;
  clearInterval(probe);
  return { job: end, maxGapMs, ms: performance.now() - started, progress };
}

describe('calibration off the backend thread', () => {
  let lib: TinyLibrary;
  const savedLibrary = process.env.RESKV_LIBRARY;
  beforeAll(() => {
    lib = createTinyLibrary();
    process.env.RESKV_LIBRARY = lib.library;
  });
  afterAll(() => {
    if (savedLibrary === undefined) delete process.env.RESKV_LIBRARY;
    else process.env.RESKV_LIBRARY = savedLibrary;
    lib.cleanup();
  });

  it('trains while this thread keeps turning, reports progress, and installs the set', async () => {
    // k-means steps large enough that training in this thread would stall it for hundreds of ms
    const { job, maxGapMs, ms, progress } = await runJob(lib, { name: 'busy', depth: 2, codebookSize: 256, groupSize: 8, maxVectors: 4000, kmeansIterations: 4 });
    expect(job.state, job.message ?? '').toBe('done');
    expect(progress).toBeGreaterThan(2);
    expect(readManifest(lib.folder).rvq.busy).toBeDefined();
    // measured on the shared 2-core machine: in this thread the k-means steps stalled it ~480 ms
    // (~10% of the run); in the worker the longest stall was 60-110 ms
    console.log(`calibration ${ms.toFixed(0)} ms, longest event-loop stall ${maxGapMs.toFixed(0)} ms`);
    expect(maxGapMs).toBeLessThan(Math.max(250, ms / 20));
  });

  it('is cancelled across the thread and leaves no files of the cancelled set', async () => {
    const { job } = await runJob(lib, { name: 'stopped', depth: 4, codebookSize: 64, groupSize: 8, maxVectors: 2000, kmeansIterations: 8 }, (jobs, running) => {
      setTimeout(() => jobs.cancel(running.id), 300);
    });
    expect(job.state).toBe('cancelled');
    expect(readManifest(lib.folder).rvq.stopped).toBeUndefined();
    expect(readdirSync(lib.folder).filter((f) => f.includes('stopped'))).toEqual([]);
  });
});
