// Which background jobs overlapped a measurement: a figure taken while a calibration, import, sweep or
// task check shared the CPU is flagged, not reported as the machine's normal speed.
import type { JobSnapshot } from '../api/types.js';

/** Titles of the jobs that ran at any time between `from` and `to` (ISO times), except job `except`. */
export function jobTitlesDuring(jobs: readonly JobSnapshot[], from: string, to: string, except: number | null = null): string[] {
  const start = Date.parse(from);
  const end = Date.parse(to);
  return jobs
    .filter((job) => job.id !== except && Date.parse(job.startedAt) <= end && (job.finishedAt === null || Date.parse(job.finishedAt) >= start))
    .map((job) => job.title);
}
