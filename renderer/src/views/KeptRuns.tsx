// A view of one job kind on a library model (depth sweeps, task checks): the model picker, the view's
// form, the model's newest job (also one started before a reload), and its kept runs: loading, a
// damaged results file, none kept yet, or a picker of the kept runs, then the shown run's results.
import { useEffect, type ReactNode } from 'react';
import type { JobSnapshot, ResKvBridge } from '../../../main/api/types.js';
import { latestJob, useJobs } from '../state/jobs.js';
import type { KeptHistory } from '../state/kept-runs.js';
import { ErrorMessage } from './common.js';
import { Field, Select } from './Field.js';
import { JobProgress } from './JobProgress.js';

/** The model's newest job of `kind`; its kept runs are loaded again whenever that job is not running. */
export function useModelJob(bridge: ResKvBridge | null, kind: JobSnapshot['kind'], model: string | undefined, load: (bridge: ResKvBridge, model: string) => Promise<void>): JobSnapshot | undefined {
  const job = useJobs((s) => (model ? latestJob(s.jobs, kind, model) : undefined));
  const jobState = job?.state;
  useEffect(() => {
    if (bridge && model && jobState !== 'running') void load(bridge, model);
  }, [bridge, model, jobState, load]);
  return job;
}

/** Model picker, the view's form, the job's progress, the last error, then the results. */
export function ModelJobPanel(props: { bridge: ResKvBridge; models: string[]; model: string; select(model: string): void; job: JobSnapshot | undefined; error: string | null; form: ReactNode; children: ReactNode }) {
  const { bridge, job } = props;
  return (
    <>
      <div className="form-grid">
        <Field label="Model">
          <Select value={props.model} onChange={props.select} options={props.models.map((m) => ({ value: m, label: m }))} />
        </Field>
      </div>
      {props.form}
      {job && <JobProgress job={job} bridge={bridge} />}
      <ErrorMessage message={props.error} />
      {props.children}
    </>
  );
}

export function KeptRuns<R extends { id: string; finishedAt: string }>(props: {
  /** e.g. "sweep", "task check". */
  what: string;
  model: string;
  history: KeptHistory<R> | undefined;
  run: R | null;
  showRun(model: string, runId: string): void;
  /** What a run is about (after its finishing time in the picker). */
  source(run: R): string;
  /** Fields beside the picker. */
  fields?: ReactNode;
  children(run: R): ReactNode;
}) {
  const { what, model, history, run, showRun } = props;
  if (!history) return <p role="status">{`Loading kept ${what}s…`}</p>;
  return (
    <>
      {history.problem && (
        <p className="notice" role="alert">
          {history.problem}
        </p>
      )}
      {!run ? (
        <p className="notice" role="status">
          {`No ${what} of ${model} kept yet: run one above.`}
        </p>
      ) : (
        <>
          <div className="form-grid">
            {props.fields}
            <Field label={what.charAt(0).toUpperCase() + what.slice(1)} hint={`${history.runs.length} kept`}>
              <Select value={run.id} onChange={(id) => showRun(model, id)} options={history.runs.map((r) => ({ value: r.id, label: `${r.finishedAt.slice(0, 16).replace('T', ' ')} — ${props.source(r)}` }))} />
            </Field>
          </div>
          {props.children(run)}
        </>
      )}
    </>
  );
}
