// Cost: the workload in, the answer out: the recommended KV format and its savings, the Pareto and
// capacity charts, what-if sweeps and a serving plan. Everything is computed by the backend's
// estimator; this view only collects inputs and shows results.
import { useEffect, useMemo } from 'react';
import type { ResKvBridge } from '../../../main/api/types.js';
import { useConnection } from '../state/connection.js';
import { measuredModelId, scalarFormats, useCost, type CostForm } from '../state/cost.js';
import { CostResults, useEstimateFollowsAcceptableLoss } from './cost/CostResults.js';
import { HardwareForm } from './cost/HardwareForm.js';
import { MeasuredSweep } from './cost/MeasuredSweep.js';
import { Field, TextField, Select } from './Field.js';
import { ErrorMessage } from './common.js';

function CostInputs({ bridge }: { bridge: ResKvBridge }) {
  const form = useCost((s) => s.form);
  const catalog = useCost((s) => s.catalog);
  const update = useCost((s) => s.update);
  const chooseModel = useCost((s) => s.chooseModel);
  const estimate = useCost((s) => s.estimate);
  const busy = useCost((s) => s.busy);
  const measured = useCost((s) => s.measured);
  if (!catalog) return <p role="status">Loading the hardware catalog…</p>;
  const text = (key: keyof CostForm, label: string, hint?: string) =>
    <TextField label={label} hint={hint} value={form[key] as string} onChange={(v) => update({ [key]: v })} placeholder={hint ? undefined : 'default'} />;
  return (
    <form
      className="cost-inputs"
      onSubmit={(e) => {
        e.preventDefault();
        void estimate(bridge);
      }}
    >
      <div className="form-grid primary-inputs">
        <Field label="Model">
          <Select
            value={form.presetId}
            onChange={chooseModel}
            options={[...(measured ? [{ value: measuredModelId(measured.run), label: `${measured.run.model} (measured here)` }] : []), ...catalog.presets.map((p) => ({ value: p.id, label: p.geometry.name }))]}
          />
        </Field>
        <Field label="GPU">
          <Select value={form.gpuId} onChange={(gpuId) => update({ gpuId })} options={catalog.hardware.map((h) => ({ value: h.entry.id, label: `${h.entry.name}${h.origin === 'user' ? ' (yours)' : ''}` }))} />
        </Field>
        {text('users', 'Concurrent conversations', 'users at once')}
        {text('context', 'Context length', 'tokens per conversation')}
        {text('targetTokensPerSecond', 'Target tokens/s per user')}
        <Field label="Decode speed for GPU counts">
          <Select
            value={form.decodeHeadline}
            onChange={(decodeHeadline) => update({ decodeHeadline })}
            options={[
              { value: 'measured', label: 'as measured by ResKV on this machine' },
              { value: 'projection', label: 'with a fused RVQ attention kernel (projection)' },
            ]}
          />
        </Field>
      </div>
      <details className="more-inputs">
        <summary>Weights, prompt and answer, money, KV formats</summary>
        <div className="form-grid">
          <Field label="Weights">
            <Select value={form.weights} onChange={(weights) => update({ weights })} options={(['fp16', 'bf16', 'int8', 'int4'] as const).map((w) => ({ value: w, label: w }))} />
          </Field>
          {text('promptTokens', 'Prompt tokens')}
          {text('answerTokens', 'Answer tokens')}
          <Field label="Pricing">
            <Select value={form.pricing} onChange={(pricing) => update({ pricing })} options={[{ value: 'own', label: 'buy (amortised)' }, { value: 'cloud', label: 'rent (cloud $/h)' }]} />
          </Field>
          {form.pricing === 'own' ? text('purchaseUsdPerGpu', 'Price per GPU (USD)') : text('cloudUsdPerGpuHour', 'Cloud USD per GPU-hour')}
          {form.pricing === 'own' && text('amortisationMonths', 'Amortisation (months)')}
          {form.pricing === 'own' && text('electricityUsdPerKWh', 'Electricity (USD/kWh)')}
          {form.pricing === 'own' && text('pue', 'PUE')}
          {text('utilisation', 'Utilisation (0-1)')}
        </div>
        <fieldset className="formats">
          <legend>KV formats</legend>
          {scalarFormats.map((f) => (
            <label key={f} className="check">
              <input type="checkbox" checked={form.scalar[f]} onChange={(e) => update({ scalar: { ...form.scalar, [f]: e.target.checked } })} /> {f}
            </label>
          ))}
          {text('rvqDepths', 'RVQ depths', 'comma-separated, e.g. 4, 8')}
          {text('codebookSize', 'Codebook size C', 'power of two')}
          {text('groupSize', 'Group size', 'channels per group')}
        </fieldset>
      </details>
      <button type="submit" disabled={busy}>
        {busy ? 'Estimating…' : 'Estimate'}
      </button>
    </form>
  );
}

export function CostView() {
  const connection = useConnection((s) => s.connection);
  const bridge = connection.status === 'connected' ? connection.bridge : null;
  const load = useCost((s) => s.load);
  const loaded = useCost((s) => s.catalog !== null);
  const result = useCost((s) => s.result);
  const error = useCost((s) => s.error);
  const hardware = useCost((s) => s.catalog?.hardware);
  const userHardware = useMemo(() => hardware?.filter((h) => h.origin === 'user') ?? [], [hardware]);
  useEstimateFollowsAcceptableLoss(bridge);
  useEffect(() => {
    if (bridge && !loaded) void load(bridge);
  }, [bridge, loaded, load]);

  return (
    <section className="view">
      <h1 id="view-title">Cost</h1>
      {!bridge && <p className="notice" role="status">The cost estimator runs in the ResKV backend, which this page is not connected to.</p>}
      {bridge && <MeasuredSweep bridge={bridge} />}
      {bridge && <CostInputs bridge={bridge} />}
      {bridge && loaded && <HardwareForm bridge={bridge} userEntries={userHardware} />}
      <ErrorMessage message={error} />
      {result && <CostResults result={result} />}
    </section>
  );
}
