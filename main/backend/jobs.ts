// Long-running backend work (model import, calibration, depth sweeps) as jobs with progress and
// cancellation. Runs in the backend worker; every change is published as a `job` event.
import type { JobKind, JobProgress, JobSnapshot } from '../api/types.js';

export interface JobControl {
  /** Reports progress; throws JobCancelledError once the job was cancelled (so sync work stops too). */
  report(progress: JobProgress): void;
  signal: AbortSignal;
}

export class JobCancelledError extends Error {
  constructor() {
    super('cancelled by the operator');
  }
}

interface RunningJob {
  snapshot: JobSnapshot;
  controller: AbortController;
}

/** The ETA at the rate so far, once 2% is done. */
function secondsLeft(progress: JobProgress, elapsedMs: number): { secondsLeft?: number } {
  const fraction = progress.total > 0 ? progress.done / progress.total : 0;
  return fraction < 0.02 || fraction >= 1 ? {} : { secondsLeft: (elapsedMs / 1000) * ((1 - fraction) / fraction) };
}

export class JobRegistry {
  private readonly jobs = new Map<number, RunningJob>();
  private nextId = 1;

  /**
   * @param publish receives every snapshot change.
   * @param cancelRequested lets a job see a cancel that arrived while it blocked the thread
   *   (the worker shares a flag array with the main thread for that).
   */
  constructor(
    private readonly publish: (job: JobSnapshot) => void,
    private readonly cancelRequested: (id: number) => boolean = () => false,
  ) {}

  /** `about`: what the job is and the library model it works on (null when there is none yet). */
  start<R>(about: { kind: JobKind; title: string; model: string | null }, run: (control: JobControl) => Promise<R> | R, describeResult: (result: R) => string): JobSnapshot {
    const id = this.nextId++;
    const controller = new AbortController();
    const { kind, title, model } = about;
    const started = performance.now();
    const job: RunningJob = { snapshot: { id, kind, title, model, state: 'running', progress: null, message: null, startedAt: new Date().toISOString(), finishedAt: null }, controller };
    this.jobs.set(id, job);
    const update = (patch: Partial<JobSnapshot>) => {
      job.snapshot = { ...job.snapshot, ...patch };
      this.publish(job.snapshot);
    };
    const control: JobControl = {
      signal: controller.signal,
      report: (progress) => {
        if (this.cancelRequested(id)) controller.abort();
        if (controller.signal.aborted) throw new JobCancelledError();
        update({ progress: { ...progress, ...secondsLeft(progress, performance.now() - started) } });
      },
    };
    update({});
    // Deferred so the caller receives the snapshot before any progress arrives.
    setImmediate(async () => {
      try {
        const result = await run(control);
        update({ state: 'done', message: describeResult(result), finishedAt: new Date().toISOString() });
      } catch (err) {
        const cancelled = controller.signal.aborted || err instanceof JobCancelledError;
        update({ state: cancelled ? 'cancelled' : 'failed', message: cancelled ? null : (err as Error).message, finishedAt: new Date().toISOString() });
      }
    });
    return job.snapshot;
  }

  cancel(id: number): JobSnapshot {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    job.controller.abort();
    return job.snapshot;
  }

  /** Forgets a finished job; the remaining jobs. */
  dismiss(id: number): JobSnapshot[] {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    if (job.snapshot.state === 'running') throw new Error(`job ${id} is still running: cancel it first`);
    this.jobs.delete(id);
    return this.list();
  }

  list(): JobSnapshot[] {
    return [...this.jobs.values()].map((j) => j.snapshot);
  }
}
