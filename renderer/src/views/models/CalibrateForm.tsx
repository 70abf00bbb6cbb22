// Calibrate a codebook set for one model: the text (the bundled sample, the user's files, or data-free),
// the quantizer settings (sized for the text and this machine until the operator edits the budget
// fields) and the backend's estimate of time and training vectors per codebook entry, with a warning
// when they are too few. The backend checks everything and names a bad field; the job's progress shows above.
import { useEffect, useRef, useState } from 'react';
import type { CalibrationPlan, CalibrationRequest, CalibrationTextChoice, ModelSummary, ResKvBridge } from '../../../../main/api/types.js';
import { ErrorMessage } from '../common.js';
import { Field, numberFromField, Select, TextInput } from '../Field.js';
import { formatBytes, formatCount } from '../format.js';

type SourceKind = CalibrationTextChoice['kind'];
type Grouping = 'strided' | 'contiguous';
type Info = NonNullable<ModelSummary['info']>;

const groupings: Array<{ value: Grouping; label: string }> = [
  { value: 'strided', label: 'strided' },
  { value: 'contiguous', label: 'contiguous' },
];

/** The form's fields as typed (numbers as text until sent). */
function initialForm(defaults: Info['calibrationDefaults']) {
  const s = defaults.settings;
  return {
    source: 'sample' as SourceKind,
    paths: '',
    selfGeneratedTokens: String(defaults.selfGeneratedTokens),
    name: s.name,
    depth: String(s.depth),
    codebookSize: String(s.codebookSize),
    groupSize: String(s.groupSize),
    keyGrouping: s.keyGrouping,
    valueGrouping: s.valueGrouping,
    maxVectors: String(s.maxVectors),
    kmeansIterations: '10',
    seed: String(s.seed),
  };
}
type Form = ReturnType<typeof initialForm>;

function request(form: Form): CalibrationRequest {
  const text: CalibrationTextChoice =
    form.source === 'sample'
      ? { kind: 'sample' }
      : form.source === 'files'
        ? { kind: 'files', paths: form.paths.split('\n').map((p) => p.trim()).filter((p) => p !== '') }
        : { kind: 'self-generated', tokens: numberFromField(form.selfGeneratedTokens) };
  return {
    text,
    settings: {
      name: form.name.trim(),
      depth: numberFromField(form.depth),
      codebookSize: numberFromField(form.codebookSize),
      groupSize: numberFromField(form.groupSize),
      keyGrouping: form.keyGrouping,
      valueGrouping: form.valueGrouping,
      maxVectors: numberFromField(form.maxVectors),
      kmeansIterations: numberFromField(form.kmeansIterations),
      seed: numberFromField(form.seed),
    },
  };
}

const duration = (seconds: number) => (seconds < 90 ? `${Math.max(1, Math.round(seconds))} s` : seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`);

/** The plan in words: time on this machine, then training vectors per layer and per entry. */
function describePlan(plan: CalibrationPlan): string {
  const { capture, train } = plan.seconds;
  const tokens = `${plan.estimated ? 'about ' : ''}${formatCount(plan.textTokens)} tokens of text`;
  return `Estimated time on this machine: about ${duration(capture + train)} (capture ${duration(capture)}, training ${duration(train)}). ${tokens}, ${formatCount(plan.vectorsPerLayer)} training vectors per layer, ${plan.vectorsPerEntry.toFixed(1)} per codebook entry.`;
}

/** The backend's plan for the form as typed (after a short pause in typing); null while none fits the fields. */
function usePlan(bridge: ResKvBridge, model: string, form: Form, onPlan: (plan: CalibrationPlan) => void): CalibrationPlan | null {
  const [plan, setPlan] = useState<CalibrationPlan | null>(null);
  const key = JSON.stringify(request(form));
  const latestOnPlan = useRef(onPlan);
  useEffect(() => {
    latestOnPlan.current = onPlan;
  });
  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      bridge.models.planCalibration(model, JSON.parse(key) as CalibrationRequest).then(
        (p) => {
          if (!current) return;
          setPlan(p);
          latestOnPlan.current(p);
        },
        () => current && setPlan(null), // a bad field: Calibrate names it
      );
    }, 300);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [bridge, model, key]);
  return plan;
}

const sizedFields = ['codebookSize', 'maxVectors', 'kmeansIterations'] as const;

export function CalibrateForm({ model, info, bridge }: { model: string; info: Info; bridge: ResKvBridge }) {
  const defaults = info.calibrationDefaults;
  const [form, setForm] = useState(() => initialForm(defaults));
  const [error, setError] = useState<string | null>(null);
  // the budget fields follow the plan's sizing until the operator edits one of them
  const [sizedByHand, setSizedByHand] = useState(false);
  const edit = (patch: Partial<Form>) => {
    if (sizedFields.some((f) => f in patch)) setSizedByHand(true);
    setForm((f) => ({ ...f, ...patch }));
  };
  const applySizing = (p: CalibrationPlan) =>
    setForm((f) => ({ ...f, codebookSize: String(p.sized.codebookSize), maxVectors: String(p.sized.maxVectors), kmeansIterations: String(p.sized.kmeansIterations) }));
  const plan = usePlan(bridge, model, form, (p) => {
    if (!sizedByHand) applySizing(p);
  });
  const { sample } = defaults;
  const sources: Array<{ value: SourceKind; label: string }> = [
    { value: 'sample', label: `Bundled sample: ${sample.name}` },
    { value: 'files', label: 'My text files' },
    { value: 'self-generated', label: 'Data-free: text the model samples itself' },
  ];
  const sourceHint = {
    sample: `${sample.about} ${formatCount(sample.documents)} documents, ${formatBytes(sample.bytes)}.`,
    files: 'plain-text files on the machine running ResKV; documents separated by <|endoftext|>',
    'self-generated': 'data-free: the model writes its own calibration text at temperature 1, starting from its start token',
  }[form.source];
  const start = async () => {
    try {
      await bridge.models.calibrate(model, request(form));
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const pickFiles = async () => {
    const chosen = (await bridge.dialogs?.pickTextFiles()) ?? [];
    if (chosen.length) edit({ paths: [form.paths.trim(), ...chosen].filter((p) => p !== '').join('\n') });
  };
  return (
    <form
      className="calibrate-form"
      aria-label={`Calibrate ${model}`}
      onSubmit={(e) => {
        e.preventDefault();
        void start();
      }}
    >
      <div className="calibrate-source">
        <Field label="Calibration text" hint={sourceHint}>
          <Select value={form.source} onChange={(source) => edit({ source })} options={sources} />
        </Field>
        {form.source === 'files' && (
          <Field label="Text files" hint="one path per line">
            <textarea rows={3} value={form.paths} onChange={(e) => edit({ paths: e.target.value })} placeholder="/path/to/text.txt" />
          </Field>
        )}
        {form.source === 'files' && bridge.dialogs && (
          <button type="button" className="secondary" onClick={() => void pickFiles()}>
            Choose files…
          </button>
        )}
        {form.source === 'self-generated' && (
          <Field label="Tokens to sample" hint={`default ${formatCount(defaults.selfGeneratedTokens)}`}>
            <TextInput value={form.selfGeneratedTokens} onChange={(selfGeneratedTokens) => edit({ selfGeneratedTokens })} />
          </Field>
        )}
      </div>
      <div className="form-grid">
        <Field label="Set name" hint="a set of the same name is replaced when this one succeeds">
          <TextInput value={form.name} inputMode="text" onChange={(name) => edit({ name })} />
        </Field>
        <Field label="Depth" hint="residual stages">
          <TextInput value={form.depth} onChange={(depth) => edit({ depth })} />
        </Field>
        <Field label="Codebook size" hint="entries per stage, a power of two">
          <TextInput value={form.codebookSize} onChange={(codebookSize) => edit({ codebookSize })} />
        </Field>
        <Field label="Group size" hint="channels per group">
          <TextInput value={form.groupSize} onChange={(groupSize) => edit({ groupSize })} />
        </Field>
        <Field label="Key grouping">
          <Select value={form.keyGrouping} onChange={(keyGrouping) => edit({ keyGrouping })} options={groupings} />
        </Field>
        <Field label="Value grouping">
          <Select value={form.valueGrouping} onChange={(valueGrouping) => edit({ valueGrouping })} options={groupings} />
        </Field>
        <Field label="Max vectors" hint="token rows sampled per layer for training (the budget)">
          <TextInput value={form.maxVectors} onChange={(maxVectors) => edit({ maxVectors })} />
        </Field>
        <Field label="k-means iterations" hint="per stage">
          <TextInput value={form.kmeansIterations} onChange={(kmeansIterations) => edit({ kmeansIterations })} />
        </Field>
        <Field label="Seed" hint="same seed, text and machine: same codebooks">
          <TextInput value={form.seed} onChange={(seed) => edit({ seed })} />
        </Field>
      </div>
      {plan && (
        <p className="plan" role="status" aria-label="Calibration estimate">
          {describePlan(plan)}
          {sizedByHand && (
            <>
              {' '}
              <button type="button" className="secondary" onClick={() => (applySizing(plan), setSizedByHand(false))}>
                {`Size for this text and machine (${plan.sized.codebookSize} entries, ${formatCount(plan.sized.maxVectors)} vectors, ${plan.sized.kmeansIterations} iterations)`}
              </button>
            </>
          )}
        </p>
      )}
      {plan?.warning && (
        <p className="notice" role="alert">
          {`Too little text for this codebook: ${plan.warning}.`}
        </p>
      )}
      <button type="submit">Calibrate</button>
      <ErrorMessage message={error} />
    </form>
  );
}
