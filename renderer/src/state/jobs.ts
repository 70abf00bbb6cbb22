// Backend jobs (import, calibration, sweeps) as the events report them.
import { create } from 'zustand';
import type { JobSnapshot, ResKvBridge } from '../../../main/api/types.js';

interface JobsState {
  jobs: Record<number, JobSnapshot>;
  upsert(job: JobSnapshot): void;
  /** Forgets a finished job here and in the backend. */
  dismiss(bridge: ResKvBridge, id: number): Promise<void>;
}

export const useJobs = create<JobsState>((set) => ({
  jobs: {},
  upsert: (job) => set((s) => ({ jobs: { ...s.jobs, [job.id]: job } })),
  dismiss: async (bridge, id) => {
    const kept = await bridge.jobs.dismiss(id);
    set({ jobs: Object.fromEntries(kept.map((j) => [j.id, j])) });
  },
}));

/** Jobs running now, oldest first. */
export function runningJobs(jobs: Record<number, JobSnapshot>): JobSnapshot[] {
  return Object.values(jobs)
    .filter((j) => j.state === 'running')
    .sort((a, b) => a.id - b.id);
}

/** Progress as a fraction 0..1, or null when the job has not reported any yet. */
export function jobFraction(job: JobSnapshot): number | null {
  return job.progress && job.progress.total > 0 ? Math.min(1, job.progress.done / job.progress.total) : null;
}

/** The newest job of `kind` on `model` this backend has run (running or finished), if any. */
export function latestJob(jobs: Record<number, JobSnapshot>, kind: JobSnapshot['kind'], model: string): JobSnapshot | undefined {
  let latest: JobSnapshot | undefined;
  for (const job of Object.values(jobs)) if (job.kind === kind && job.model === model && (!latest || job.id > latest.id)) latest = job;
  return latest;
}
