// Starts a conversation: which model, which KV cache (fp16, the scalar formats, or RVQ with one of
// the model's calibrated codebook sets), and a system prompt for chat models.
import { useEffect, useState } from 'react';
import type { ResKvBridge } from '../../../../main/api/types.js';
import { useChat } from '../../state/chat.js';
import { useModels } from '../../state/models.js';
import { Field, Select } from '../Field.js';
import { cacheChoices } from './cache-choices.js';

export function NewConversation({ bridge }: { bridge: ResKvBridge }) {
  const models = useModels((s) => s.models);
  const refresh = useModels((s) => s.refresh);
  const start = useChat((s) => s.start);
  const usable = (models ?? []).filter((m) => m.info);
  const [model, setModel] = useState('');
  const [cache, setCache] = useState('fp16');
  const [system, setSystem] = useState('');
  useEffect(() => {
    if (models === null) void refresh(bridge);
  }, [bridge, models, refresh]);
  const chosen = usable.find((m) => m.id === model) ?? usable[0];
  if (models === null) return <p className="field-hint" role="status">Loading models…</p>;
  if (!chosen) return <p className="notice" role="status">No models yet: import one in the Models view.</p>;
  const caches = cacheChoices(chosen);
  return (
    <form
      className="new-conversation"
      onSubmit={(e) => {
        e.preventDefault();
        void start(bridge, chosen.id, caches.includes(cache) ? cache : 'fp16', system.trim() === '' ? null : system);
      }}
    >
      <Field label="Model">
        <Select value={chosen.id} onChange={setModel} options={usable.map((m) => ({ value: m.id, label: m.id }))} />
      </Field>
      <Field label="KV cache" hint={chosen.info?.calibrations.length ? undefined : 'calibrate the model (Models) to use RVQ'}>
        <Select value={caches.includes(cache) ? cache : 'fp16'} onChange={setCache} options={caches.map((c) => ({ value: c, label: c }))} />
      </Field>
      <Field label="System prompt" hint="chat models only">
        <textarea rows={2} value={system} onChange={(e) => setSystem(e.target.value)} />
      </Field>
      <button type="submit">New conversation</button>
    </form>
  );
}
