// Tradeoffs: for a library model on this machine, a residual-depth sweep (backend job) measuring
// quality against fp16, KV bytes per token and decode latency per codebook set and depth, with the
// scalar formats as references; kept sweeps; the operator's acceptable perplexity increase marks the
// smallest depth that meets it.
import type { ResKvBridge } from '../../../main/api/types.js';
import { calibratedModels, shownRun, useTradeoffs, type CalibratedModel, type SweepForm } from '../state/tradeoffs.js';
import { Field, TextField, TextInput } from './Field.js';
import { KeptRuns } from './KeptRuns.js';
import { ModelJobPage } from './ModelJobPage.js';
import { useTaskRequirement } from './tasks/task-drops.js';
import { TradeoffResults } from './tradeoffs/TradeoffCharts.js';
import { WeightSiblings } from './tradeoffs/WeightSiblings.js';

function SweepFormView({ bridge, model, running }: { bridge: ResKvBridge; model: CalibratedModel; running: boolean }) {
  const form = useTradeoffs((s) => s.form);
  const update = useTradeoffs((s) => s.update);
  const run = useTradeoffs((s) => s.run);
  const sets = model.info.calibrations;
  const text = (key: keyof SweepForm, label: string, hint: string, inputMode: 'decimal' | 'text' = 'decimal') =>
    <TextField label={label} hint={hint} value={form[key] as string} onChange={(v) => update({ [key]: v })} inputMode={inputMode} />;
  return (
    <form
      className="sweep-form"
      onSubmit={(e) => {
        e.preventDefault();
        void run(bridge, model.id, sets.map((s) => s.name));
      }}
    >
      <div className="form-grid">
        {text('textPath', 'Text file', 'plain text on this machine; documents separated by <|endoftext|>', 'text')}
        {text('maxTokens', 'Tokens to score', 'from the start of the text')}
        {text('maxDepth', 'Deepest depth', 'empty: every depth of each set')}
        {text('latencyContext', 'Latency context', 'tokens cached when decode is timed')}
        {text('latencySteps', 'Latency steps', 'tokens decoded and timed')}
      </div>
      <fieldset className="formats">
        <legend>Caches</legend>
        {sets.map((s) => (
          <label key={s.name} className="check">
            <input
              type="checkbox"
              checked={!form.excludedSets.includes(s.name)}
              onChange={(e) => update({ excludedSets: e.target.checked ? form.excludedSets.filter((n) => n !== s.name) : [...form.excludedSets, s.name] })}
            />{' '}
            {`rvq:${s.name}${s.key ? ` (keys ${s.key.grouping})` : ''}`}
          </label>
        ))}
        <label className="check">
          <input type="checkbox" checked={form.scalarBaselines} onChange={(e) => update({ scalarBaselines: e.target.checked })} /> q8_0, q4_0, KIVI-2 as references
        </label>
      </fieldset>
      <button type="submit" disabled={running}>
        {running ? 'Sweeping…' : 'Run sweep'}
      </button>
    </form>
  );
}

function Results({ bridge, model }: { bridge: ResKvBridge; model: string }) {
  const history = useTradeoffs((s) => s.histories[model]);
  const requireNoTaskDrop = useTradeoffs((s) => s.requireNoTaskDrop);
  const setRequireNoTaskDrop = useTradeoffs((s) => s.setRequireNoTaskDrop);
  const tasks = useTaskRequirement(bridge, model);
  const run = useTradeoffs((s) => shownRun(s, model));
  const showRun = useTradeoffs((s) => s.showRun);
  const acceptableText = useTradeoffs((s) => s.acceptableLoss);
  const setAcceptableLoss = useTradeoffs((s) => s.setAcceptableLoss);
  const fields = (
    <Field label="Acceptable perplexity increase (%)" hint="marks the smallest depth within it">
      <TextInput value={acceptableText} onChange={setAcceptableLoss} />
    </Field>
  );
  const taskField = (
    <Field label="Require no significant task drop" hint="by the task check the Tasks view shows">
      <input type="checkbox" checked={requireNoTaskDrop} onChange={(e) => setRequireNoTaskDrop(e.target.checked)} />
    </Field>
  );
  return (
    <KeptRuns what="sweep" model={model} history={history} run={run} showRun={showRun} source={(r) => r.text.file} fields={<>{fields}{taskField}</>}>
      {(shown) => (
        <>
          <TradeoffResults run={shown} acceptableText={acceptableText} tasks={tasks} />
          <WeightSiblings run={shown} siblings={history?.siblings ?? []} />
        </>
      )}
    </KeptRuns>
  );
}

export function TradeoffsView() {
  return (
    <ModelJobPage
      title="Tradeoffs"
      offline="Depth sweeps run in the ResKV backend, which this page is not connected to."
      empty="No model with a codebook set yet: import a model and calibrate it in the Models view."
      kind="sweep"
      useStore={useTradeoffs}
      usable={calibratedModels}
      form={(bridge, model, running) => <SweepFormView bridge={bridge} model={model} running={running} />}
    >
      {(bridge, model) => <Results bridge={bridge} model={model.id} />}
    </ModelJobPage>
  );
}
