// One backend job: title, progress bar, state, and a Cancel button while it runs.
import type { JobSnapshot, ResKvBridge } from '../../../main/api/types.js';
import { jobFraction } from '../state/jobs.js';

const duration = (seconds: number) => (seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`);

export function JobProgress({ job, bridge }: { job: JobSnapshot; bridge: ResKvBridge }) {
  const fraction = jobFraction(job);
  const stage = job.progress?.stage ? ` — ${job.progress.stage}` : '';
  const left = job.progress?.secondsLeft ?? null;
  const eta = left === null ? '' : `, about ${duration(left)} left`;
  return (
    <div className={`job job-${job.state}`} aria-label={job.title}>
      <div className="job-title">
        {job.title}
        {job.state === 'running' && (
          <button type="button" className="secondary" onClick={() => void bridge.jobs.cancel(job.id)}>
            Cancel
          </button>
        )}
      </div>
      <progress max={1} value={job.state === 'done' ? 1 : job.state === 'running' ? (fraction ?? undefined) : (fraction ?? 0)} aria-label={`${job.title} progress`} />
      <div className="job-status" role="status">
        {job.state === 'running' ? `${fraction === null ? 'starting' : `${Math.round(fraction * 100)}%${eta}`}${stage}` : `${job.state}${job.message ? `: ${job.message}` : ''}`}
      </div>
    </div>
  );
}
