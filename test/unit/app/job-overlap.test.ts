// Which background jobs overlapped a measurement: running ones, ones that ended inside it, ones that
// started inside it; not ones that ended before or started after, nor the measuring job itself.
import { describe, expect, it } from 'vitest';
import type { JobSnapshot } from '../../../main/api/types.js';
import { jobTitlesDuring } from '../../../main/backend/job-overlap.js';

const job = (id: number, startedAt: string, finishedAt: string | null): JobSnapshot => ({
  id,
  kind: 'calibrate',
  title: `job ${id}`,
  model: null,
  state: finishedAt ? 'done' : 'running',
  progress: null,
  message: null,
  startedAt,
  finishedAt,
});

describe('jobTitlesDuring', () => {
  const at = (minute: number) => `2026-12-04T10:${String(minute).padStart(2, '0')}:00.000Z`;
  const jobs = [job(1, at(0), at(5)), job(2, at(0), at(15)), job(3, at(12), at(13)), job(4, at(18), null), job(5, at(25), null), job(6, at(0), null)];

  it('names the jobs that ran at any time within the interval', () => {
    expect(jobTitlesDuring(jobs, at(10), at(20))).toEqual(['job 2', 'job 3', 'job 4', 'job 6']);
  });

  it('leaves out the measuring job itself', () => {
    expect(jobTitlesDuring(jobs, at(10), at(20), 6)).toEqual(['job 2', 'job 3', 'job 4']);
  });

  it('is empty when nothing ran', () => {
    expect(jobTitlesDuring([job(1, at(0), at(5))], at(10), at(20))).toEqual([]);
  });
});
