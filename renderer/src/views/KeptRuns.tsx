// A job's kept runs for one model (depth sweeps, task checks): loading, a damaged results file, none
// kept yet, or a picker of the kept runs beside the view's own fields, then the shown run's results.
import type { ReactNode } from 'react';
import type { KeptHistory } from '../state/kept-runs.js';
import { Field, Select } from './Field.js';

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
