// One model's codebook sets (read from their files: settings, bits per value, where the text came
// from), the form that calibrates a new one, and the calibration jobs with progress and Cancel.
import { useMemo } from 'react';
import type { ModelSummary, ResKvBridge } from '../../../../main/api/types.js';
import { useJobs } from '../../state/jobs.js';
import { useModels } from '../../state/models.js';
import { TableHead } from '../common.js';
import { formatBytes, formatCount } from '../format.js';
import { JobProgress } from '../JobProgress.js';
import { CalibrateForm } from './CalibrateForm.js';
import { describeQuantizer, describeSource, formatBits } from './describe-calibration.js';

function CalibrationSets({ model, bridge }: { model: ModelSummary; bridge: ResKvBridge }) {
  const removeCalibration = useModels((s) => s.removeCalibration);
  const sets = model.info?.calibrations ?? [];
  if (sets.length === 0) return <p role="status">No codebook sets yet: calibrate one below.</p>;
  return (
    <div className="table-scroll">
      <table className="data-table calibrations" aria-label={`Codebook sets of ${model.id}`}>
        <TableHead columns={['Set', 'Keys', 'Values', 'Bits/value (K / V)', 'Calibration text', 'Tokens sampled per layer', 'Seed', 'File', '']} />
        <tbody>
          {sets.map((c) => (
            <tr key={c.name}>
              <th scope="row">{c.name}</th>
              {c.key && c.value ? (
                <>
                  <td>{describeQuantizer(c.key)}</td>
                  <td>{describeQuantizer(c.value)}</td>
                  <td>{`${formatBits(c.key.bitsPerValue)} / ${formatBits(c.value.bitsPerValue)}`}</td>
                  <td>{describeSource(c.source)}</td>
                  <td>{c.tokensSampled === null ? '—' : formatCount(c.tokensSampled)}</td>
                  <td>{c.seed ?? '—'}</td>
                  <td>{formatBytes(c.codebookFileBytes)}</td>
                </>
              ) : (
                <td colSpan={7} className="error">
                  unreadable: {c.problem}
                </td>
              )}
              <td>
                <button
                  type="button"
                  className="danger"
                  aria-label={`Delete set ${c.name}`}
                  onClick={() => {
                    if (window.confirm(`Delete the codebook set "${c.name}" of ${model.id}?`)) void removeCalibration(bridge, model.id, c.name);
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function CalibrationPanel({ model, bridge }: { model: ModelSummary; bridge: ResKvBridge }) {
  const jobs = useJobs((s) => s.jobs);
  const calibrations = useMemo(() => Object.values(jobs).filter((j) => j.kind === 'calibrate' && j.model === model.id).reverse(), [jobs, model.id]);
  return (
    <section className="calibration-panel" aria-labelledby="calibration-title">
      <h2 id="calibration-title">Calibration of {model.id}</h2>
      {/* first, so a running calibration's progress shows without scrolling past the sets and the form */}
      {calibrations.map((job) => (
        <JobProgress key={job.id} job={job} bridge={bridge} />
      ))}
      <CalibrationSets model={model} bridge={bridge} />
      {model.info && <CalibrateForm key={model.id} model={model.id} info={model.info} bridge={bridge} />}
    </section>
  );
}
