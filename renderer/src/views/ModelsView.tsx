// Models: import a checkpoint (native picker in Electron, a path field in headless mode), follow the
// import's progress, list or delete the models in the library, and calibrate their codebook sets.
import { useEffect, useMemo, useState } from 'react';
import type { JobSnapshot, ModelSummary, ResKvBridge } from '../../../main/api/types.js';
import { useConnection } from '../state/connection.js';
import { runningJobs, useJobs } from '../state/jobs.js';
import { useModels } from '../state/models.js';
import { Field, TextInput } from './Field.js';
import { describeRunning, JobProgress } from './JobProgress.js';
import { formatBytes, formatCount } from './format.js';
import { ErrorMessage, TableHead } from './common.js';
import { CalibrationPanel } from './models/CalibrationPanel.js';

function ImportForm({ bridge }: { bridge: ResKvBridge }) {
  const [path, setPath] = useState('');
  const [error, setError] = useState<string | null>(null);
  const start = async () => {
    try {
      await bridge.models.import(path);
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const pick = async (kind: 'file' | 'folder') => {
    const chosen = await bridge.dialogs?.pickCheckpoint(kind);
    if (chosen) setPath(chosen);
  };
  return (
    <form
      className="import-form"
      onSubmit={(e) => {
        e.preventDefault();
        void start();
      }}
    >
      <Field label="Checkpoint path" hint="a llama2.c .bin file (tokenizer beside it) or a Hugging Face model folder on this machine">
        <TextInput value={path} onChange={setPath} inputMode="text" placeholder="/path/to/model" />
      </Field>
      {bridge.dialogs && (
        <>
          <button type="button" className="secondary" onClick={() => void pick('file')}>
            Choose file…
          </button>
          <button type="button" className="secondary" onClick={() => void pick('folder')}>
            Choose folder…
          </button>
        </>
      )}
      <button type="submit">Import</button>
      <ErrorMessage message={error} />
    </form>
  );
}

/** The model's codebook sets, and a calibration running now (its sets are not replaced until it succeeds). */
function calibrationState(info: NonNullable<ModelSummary['info']>, running: JobSnapshot | undefined): string {
  const sets = info.calibrations.map((c) => c.name).join(', ');
  if (running) return `${sets ? `${sets}; ` : ''}calibrating… ${describeRunning(running) ?? ''}`.trim();
  return sets || 'not calibrated';
}

function ModelTable({ models, bridge, selected, select }: { models: ModelSummary[]; bridge: ResKvBridge; selected: string | null; select: (id: string | null) => void }) {
  const remove = useModels((s) => s.remove);
  const running = runningJobs(useJobs((s) => s.jobs));
  if (models.length === 0) return <p role="status">No models yet: import a checkpoint above.</p>;
  return (
    <div className="table-scroll">
      <table className="data-table models" aria-label="Installed models">
        <TableHead columns={['Model', 'Architecture', 'Parameters', 'Weights', 'On disk', 'Layers × KV heads × head dim', 'KV bytes/token (fp16)', 'Context', 'Calibration', '']} />
        <tbody>
          {models.map((m) => (
            <tr key={m.id}>
              <th scope="row" title={m.folder}>
                {m.id}
              </th>
              {m.info ? (
                <>
                  <td>{m.info.architecture}</td>
                  <td>{formatCount(m.info.parameterCount)}</td>
                  <td title={`weights: ${formatBytes(m.info.weightBytesOnDisk)} on disk, ${formatBytes(m.info.weightBytesInMemory)} in memory (CPU)`}>
                    {m.info.weightType} ({formatBytes(m.info.weightBytesInMemory)} in memory)
                  </td>
                  <td>{formatBytes(m.bytesOnDisk)}</td>
                  <td>{`${m.info.numLayers} × ${m.info.numKvHeads} × ${m.info.headDim}`}</td>
                  <td>{formatCount(m.info.kvBytesPerTokenFp16)}</td>
                  <td>{formatCount(m.info.maxPositions)}</td>
                  <td>{calibrationState(m.info, running.find((j) => j.kind === 'calibrate' && j.model === m.id))}</td>
                </>
              ) : (
                <td colSpan={8} className="error">
                  damaged: {m.problem}
                </td>
              )}
              <td className="actions">
                {m.info && (
                  <button type="button" className="secondary" aria-pressed={selected === m.id} onClick={() => select(selected === m.id ? null : m.id)}>
                    Calibration
                  </button>
                )}
                <button
                  type="button"
                  className="danger"
                  onClick={() => {
                    if (window.confirm(`Delete ${m.id} and its files from the library?`)) void remove(bridge, m.id);
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

export function ModelsView() {
  const connection = useConnection((s) => s.connection);
  const bridge = connection.status === 'connected' ? connection.bridge : null;
  const models = useModels((s) => s.models);
  const error = useModels((s) => s.error);
  const refresh = useModels((s) => s.refresh);
  const jobs = useJobs((s) => s.jobs);
  const imports = useMemo(() => Object.values(jobs).filter((j) => j.kind === 'import').reverse(), [jobs]);
  const [selected, setSelected] = useState<string | null>(null);
  const selectedModel = models?.find((m) => m.id === selected) ?? null;
  useEffect(() => {
    if (bridge && models === null) void refresh(bridge);
  }, [bridge, models, refresh]);

  return (
    <section className="view">
      <h1 id="view-title">Models</h1>
      {!bridge && <p className="notice" role="status">The model library lives in the ResKV backend, which this page is not connected to.</p>}
      {bridge && <ImportForm bridge={bridge} />}
      {bridge && imports.map((job) => <JobProgress key={job.id} job={job} bridge={bridge} />)}
      <ErrorMessage message={error} />
      {bridge && models && <ModelTable models={models} bridge={bridge} selected={selected} select={setSelected} />}
      {bridge && selectedModel && <CalibrationPanel model={selectedModel} bridge={bridge} />}
    </section>
  );
}
