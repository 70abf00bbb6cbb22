// Settings: execution providers and threads, the model library location, the local API; and what the
// backend reports about itself.
import { useEffect } from 'react';
import type { AppInfo, ExecutionProviderName, ProviderStatus, ProvidersReport, ResKvBridge, Settings } from '../../../main/api/types.js';
import { useConnection } from '../state/connection.js';
import { useSettings } from '../state/settings.js';
import { Field, TextInput } from './Field.js';
import { ErrorMessage } from './common.js';

const providerLabels: Record<ExecutionProviderName, string> = {
  cuda: 'CUDA (NVIDIA GPU)',
  dml: 'DirectML (Windows GPU)',
  coreml: 'CoreML (Apple)',
  webgpu: 'WebGPU (any GPU: Vulkan, Direct3D 12 or Metal; bundled)',
  cpu: 'CPU (always the last resort)',
};

function BackendFacts({ info }: { info: AppInfo }) {
  return (
    <dl className="facts">
      <dt>Version</dt>
      <dd>{`${info.name} ${info.version}`}</dd>
      <dt>Runtime</dt>
      <dd>{info.electron ? `Electron ${info.electron}` : 'Headless (plain Node)'}</dd>
      <dt>Node</dt>
      <dd>{info.node}</dd>
      <dt>Platform</dt>
      <dd>{`${info.platform} / ${info.arch}`}</dd>
      <dt>Data folder</dt>
      <dd>{info.dataDir}</dd>
    </dl>
  );
}

/** A provider's state on this machine, from the backend's probe. */
function providerState(status: ProviderStatus | undefined): string {
  if (!status) return 'checking…';
  if (!status.available) return `not usable here: ${status.reason ?? 'unavailable'}`;
  return status.halfFloats ? 'works here' : `works here without float16 (graphs run in float32, same values): ${status.reason ?? ''}`;
}

/** Which provider runs each loaded model, and why the preferred ones were passed over. */
function RunningModels({ report }: { report: ProvidersReport }) {
  if (report.models.length === 0) return <p className="field-hint">No model is loaded yet: each runs on the first provider above that works here.</p>;
  return (
    <ul aria-label="Providers of loaded models">
      {report.models.map((m) => (
        <li key={`${m.id} ${m.cache}`}>
          {`${m.id} (${m.cache}) runs on ${providerLabels[m.provider as ExecutionProviderName] ?? m.provider}`}
          {m.skippedProviders.length > 0 && `; passed over: ${m.skippedProviders.map((s) => `${s.provider} (${s.reason})`).join('; ')}`}
        </li>
      ))}
    </ul>
  );
}

function SettingsForm({ bridge, draft, headless }: { bridge: ResKvBridge; draft: Settings; headless: boolean }) {
  const edit = useSettings((s) => s.edit);
  const save = useSettings((s) => s.save);
  const report = useSettings((s) => s.providers);
  const reportError = useSettings((s) => s.providersError);
  const toggleProvider = (p: ExecutionProviderName, on: boolean) =>
    edit({ providers: (Object.keys(providerLabels) as ExecutionProviderName[]).filter((q) => (q === p ? on : draft.providers.includes(q) || q === 'cpu')) });
  // only the providers that work on this machine (the probe's answer); the others in one line below
  const shown = report ? report.providers.filter((s) => s.available).map((s) => s.provider) : [];
  const missing = report ? report.providers.filter((s) => !s.available) : [];
  const number = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save(bridge);
      }}
    >
      <fieldset className="formats">
        <legend>Execution providers, in order of preference (each model runs on the first that works here)</legend>
        {shown.map((p) => (
          <label key={p} className="check">
            <input type="checkbox" checked={p === 'cpu' || draft.providers.includes(p)} disabled={p === 'cpu'} onChange={(e) => toggleProvider(p, e.target.checked)} /> {providerLabels[p]}
            <span className="field-hint">{` — ${providerState(report?.providers.find((s) => s.provider === p))}`}</span>
          </label>
        ))}
        {!report && !reportError && <p role="status">Checking which providers work on this machine…</p>}
        {missing.length > 0 && (
          <p className="field-hint" aria-label="Providers this machine lacks">
            {`Not available on this machine: ${missing.map((s) => `${providerLabels[s.provider]} (${s.reason ?? 'unavailable'})`).join('; ')}.`}
          </p>
        )}
        {reportError && <p className="error">Providers could not be probed: {reportError}</p>}
        {report && <RunningModels report={report} />}
      </fieldset>
      <div className="form-grid">
        <Field label="Threads per operator" hint="0 lets ONNX Runtime decide">
          <TextInput value={String(draft.threads)} onChange={(v) => edit({ threads: number(v) })} />
        </Field>
        <Field label="Model library folder" hint="empty: models/ in the data folder">
          <TextInput value={draft.libraryDir ?? ''} inputMode="text" onChange={(v) => edit({ libraryDir: v.trim() === '' ? null : v })} />
        </Field>
      </div>
      <fieldset className="formats">
        <legend>Local API (OpenAI-compatible, 127.0.0.1 only)</legend>
        {headless ? (
          <HeadlessLocalApi />
        ) : (
          <>
            <label className="check">
              <input type="checkbox" checked={draft.localApi.enabled} onChange={(e) => edit({ localApi: { ...draft.localApi, enabled: e.target.checked } })} /> Serve the local API
            </label>
            <p className="field-hint">Once saved, OpenAI clients reach it at http://127.0.0.1:{draft.localApi.port}/v1 while ResKV runs (see the README's Local API section).</p>
            <LocalApiState />
            <Field label="Port">
              <TextInput value={String(draft.localApi.port)} onChange={(v) => edit({ localApi: { ...draft.localApi, port: number(v) } })} />
            </Field>
            <Field label="Bearer token" hint="empty: no token">
              <TextInput value={draft.localApi.token ?? ''} inputMode="text" onChange={(v) => edit({ localApi: { ...draft.localApi, token: v === '' ? null : v } })} />
            </Field>
          </>
        )}
      </fieldset>
      <button type="submit">Save settings</button>
    </form>
  );
}

/**
 * Headless mode: this server is the API, at the address `reskv serve --port/--token` gave it; the
 * desktop app's port and token settings do not apply here, so they are not offered for editing.
 */
function HeadlessLocalApi() {
  return (
    <p className="field-hint" role="note" aria-label="Local API in headless mode">
      {`Headless mode: this server is the local API. OpenAI clients reach it at ${window.location.origin}/v1, with the bearer token \`reskv serve --token\` was started with (none if it was started without). ` +
        'To change the port or token, restart it: reskv serve --port N --token SECRET. The port and token settings here belong to the desktop app.'}
    </p>
  );
}

/** What the local API server is doing now: off, listening (at which address) or failed (why). */
function LocalApiState() {
  const status = useSettings((s) => s.localApi);
  if (!status) return null;
  if (status.state === 'failed') {
    return (
      <p className="error" role="alert">
        Local API not running: {status.error}
      </p>
    );
  }
  return <p role="status">{status.state === 'listening' ? `Local API listening at ${status.url}v1` : 'Local API off.'}</p>;
}

export function SettingsView() {
  const connection = useConnection((s) => s.connection);
  const bridge = connection.status === 'connected' ? connection.bridge : null;
  const draft = useSettings((s) => s.draft);
  const problem = useSettings((s) => s.problem);
  const error = useSettings((s) => s.error);
  const status = useSettings((s) => s.status);
  const load = useSettings((s) => s.load);
  useEffect(() => {
    if (bridge && !draft) void load(bridge);
  }, [bridge, draft, load]);

  return (
    <section className="view">
      <h1 id="view-title">Settings</h1>
      {connection.status === 'connecting' && <p role="status">Connecting…</p>}
      {connection.status === 'absent' && (
        <p className="notice" role="status">
          No ResKV backend: this page runs without the Electron app or the headless server, so nothing can be configured.
        </p>
      )}
      {connection.status === 'error' && (
        <p className="error" role="alert">
          The backend did not answer: {connection.message}
        </p>
      )}
      {problem && (
        <p className="notice" role="status">
          {problem}
        </p>
      )}
      {bridge && draft && connection.status === 'connected' && <SettingsForm bridge={bridge} draft={draft} headless={connection.info.electron === null} />}
      <ErrorMessage message={error} />
      {status && <p role="status">{status}</p>}
      <h2>Backend</h2>
      {connection.status === 'connected' && <BackendFacts info={connection.info} />}
    </section>
  );
}
