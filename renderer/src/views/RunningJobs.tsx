// The rail's line about background jobs, on every view: what runs now and how far it is, and that
// chat replies get the machine first (jobs pause while one generates).
import { runningJobs, useJobs } from '../state/jobs.js';
import { describeRunning } from './JobProgress.js';

export function RunningJobs() {
  const jobs = useJobs((s) => s.jobs);
  const running = runningJobs(jobs);
  if (running.length === 0) return null;
  return (
    <div className="running-jobs" role="status" aria-label="Background jobs">
      {running.map((job) => (
        <div key={job.id} className="running-job">
          {`${job.title}: ${describeRunning(job) ?? 'starting'}`}
        </div>
      ))}
      <div className="running-jobs-note">chat replies go first: jobs pause while one generates</div>
    </div>
  );
}
