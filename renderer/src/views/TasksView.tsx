// Tasks: does compression hurt the operator's own tasks? For a library model, a task check (backend
// job) scores a JSONL task file under fp16 and each cache and depth, with accuracy intervals against
// fp16, the items whose outcome changed, and long-generation drift; kept checks can be shown again.
import type { ModelSummary, ResKvBridge } from '../../../main/api/types.js';
import { shownTaskRun, useTasks, type TaskForm } from '../state/tasks.js';
import { TextField } from './Field.js';
import { KeptRuns } from './KeptRuns.js';
import { ModelJobPage } from './ModelJobPage.js';
import { TaskResults } from './tasks/TaskResults.js';

function TaskFormView({ bridge, model, running }: { bridge: ResKvBridge; model: string; running: boolean }) {
  const form = useTasks((s) => s.form);
  const update = useTasks((s) => s.update);
  const run = useTasks((s) => s.run);
  const text = (key: keyof TaskForm, label: string, hint: string, inputMode: 'decimal' | 'text' = 'decimal') =>
    <TextField label={label} hint={hint} value={form[key]} onChange={(v) => update({ [key]: v })} inputMode={inputMode} />;
  return (
    <form
      className="sweep-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run(bridge, model);
      }}
    >
      <div className="form-grid">
        {text('taskPath', 'Task file', 'JSONL on this machine, e.g. assets/tasks/tinystories-cloze.jsonl', 'text')}
        {text('formats', 'Caches', 'compared with fp16: q8_0, q4_0, kivi2, rvq, rvq:<set>', 'text')}
        {text('depths', 'RVQ depths', 'e.g. 1,2,4,8; empty: every depth', 'text')}
        {text('driftPrompts', 'Drift prompts', "the file's first prompts; 0: no drift")}
        {text('driftTokens', 'Drift tokens', 'greedy tokens per prompt')}
        {text('seed', 'Bootstrap seed', 'the same seed gives the same intervals')}
      </div>
      <button type="submit" disabled={running}>
        {running ? 'Checking…' : 'Run task check'}
      </button>
    </form>
  );
}

function Results({ model }: { model: string }) {
  const history = useTasks((s) => s.histories[model]);
  const run = useTasks((s) => shownTaskRun(s, model));
  const showRun = useTasks((s) => s.showRun);
  return (
    <KeptRuns what="task check" model={model} history={history} run={run} showRun={showRun} source={(r) => r.file.path}>
      {(shown) => <TaskResults run={shown} />}
    </KeptRuns>
  );
}

const imported = (models: readonly ModelSummary[] | null) => (models ?? []).filter((m) => m.info !== null);

export function TasksView() {
  return (
    <ModelJobPage
      title="Tasks"
      offline="Task checks run in the ResKV backend, which this page is not connected to."
      empty="No model in the library yet: import one in the Models view (and calibrate it to check rvq)."
      kind="tasks"
      useStore={useTasks}
      usable={imported}
      form={(bridge, model, running) => <TaskFormView bridge={bridge} model={model.id} running={running} />}
    >
      {(_bridge, model) => <Results model={model.id} />}
    </ModelJobPage>
  );
}
