// The Report's task section: the newest task check (or the one picked in the Tasks view) of the model
// the Tasks view shows: which tasks, accuracy against fp16 with intervals and verdicts, drift, changed items.
import { useEffect } from 'react';
import type { ResKvBridge } from '../../../../main/api/types.js';
import { useModels } from '../../state/models.js';
import { shownTaskRun, useTasks } from '../../state/tasks.js';
import { TaskResults } from './TaskResults.js';

export function ReportTasks({ bridge }: { bridge: ResKvBridge }) {
  const models = useModels((s) => s.models);
  const selected = useTasks((s) => s.model);
  const usable = (models ?? []).filter((m) => m.info !== null);
  const model = (usable.find((m) => m.id === selected) ?? usable[0])?.id ?? null;
  const loaded = useTasks((s) => (model ? s.histories[model] !== undefined : true));
  const load = useTasks((s) => s.load);
  const run = useTasks((s) => shownTaskRun(s, model));
  useEffect(() => {
    if (model && !loaded) void load(bridge, model);
  }, [bridge, model, loaded, load]);
  return (
    <>
      <h2>Task checks</h2>
      {run ? (
        <>
          <p className="run-facts">{`${run.model} on ${run.file.path} (sha256 ${run.file.sha256.slice(0, 12)}…, ${run.items.length} items), checked ${run.finishedAt.slice(0, 16).replace('T', ' ')} UTC`}</p>
          <TaskResults run={run} />
        </>
      ) : (
        <p className="notice">No task check kept yet (Tasks view).</p>
      )}
    </>
  );
}
