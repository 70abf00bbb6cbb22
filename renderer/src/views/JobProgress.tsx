// One backend job: title, progress bar, one percentage with the ETA and what happens now, Cancel while
// it runs and Dismiss once it has finished.
import type { JobSnapshot, ResKvBridge } from '../../../main/api/types.js';
import { jobFraction, useJobs } from '../state/jobs.js';

const duration = (seconds: number) => (seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`);

/** "34%, about 5 min left" for a running job (null before its first progress). */
export function describeRunning(job: JobSnapshot): string | null {
  const fraction = jobFraction(job);
  if (fraction === null) return null;
  const left = job.progress?.secondsLeft;
  return `${Math.round(fraction * 100)}%${left === undefined ? '' : `, about ${duration(left)} left`}`;
}

export function JobProgress({ job, bridge }: { job: JobSnapshot; bridge: ResKvBridge }) {
  const dismiss = useJobs((s) => s.dismiss);
  const fraction = jobFraction(job);
  const stage = job.progress?.stage ? ` — ${job.progress.stage}` : '';
  return (
    <div className={`job job-${job.state}`} aria-label={job.title}>
      <div className="job-title">
        {job.title}
        {job.state === 'running' ? (
          <button type="button" className="secondary" onClick={() => void bridge.jobs.cancel(job.id)}>
            Cancel
          </button>
        ) : (
          <button type="button" className="secondary" aria-label={`Dismiss ${job.title}`} onClick={() => void dismiss(bridge, job.id)}>
            Dismiss
          </button>
        )}
      </div>
      <progress max={1} value={job.state === 'done' ? 1 : job.state === 'running' ? (fraction ?? undefined) : (fraction ?? 0)} aria-label={`${job.title} progress`} />
      <div className="job-status" role="status">
        {job.state === 'running' ? `${describeRunning(job) ?? 'starting'}${stage}` : `${job.state}${job.message ? `: ${job.message}` : ''}`}
      </div>
    </div>
  );
}
