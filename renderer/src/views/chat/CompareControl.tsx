// Switches a comparison on or off: a twin of the active conversation under another cache format of
// the same model (chat.fork) that gets every later message with the same sampling and seed.
import { useState } from 'react';
import type { ChatSession, ResKvBridge } from '../../../../main/api/types.js';
import { useChat } from '../../state/chat.js';
import { useModels } from '../../state/models.js';
import { Field, Select } from '../Field.js';
import { cacheChoices } from './cache-choices.js';

export function CompareControl({ bridge, session, busy }: { bridge: ResKvBridge; session: ChatSession; busy: boolean }) {
  const twinCache = useChat((s) => {
    const twin = s.twinOf[session.id];
    return twin ? (s.sessions.find((x) => x.id === twin)?.cache ?? null) : null;
  });
  const compare = useChat((s) => s.compare);
  const stopComparing = useChat((s) => s.stopComparing);
  const model = useModels((s) => s.models?.find((m) => m.id === session.model));
  const [cache, setCache] = useState('');
  const [forking, setForking] = useState(false);

  if (twinCache !== null) {
    return (
      <div className="compare-control">
        <span>
          Comparing with <strong>{twinCache}</strong>: each message goes to both, with the same sampling and seed.
        </span>
        <button type="button" className="secondary" disabled={busy} onClick={stopComparing}>
          Stop comparing
        </button>
        <span className="field-hint">Both conversations stay saved.</span>
      </div>
    );
  }
  const choices = cacheChoices(model).filter((c) => c !== session.cache);
  // the interesting default: RVQ against fp16, either way round
  const fallback = session.cache.startsWith('rvq') ? 'fp16' : (choices.find((c) => c.startsWith('rvq:')) ?? choices[0]);
  const chosen = choices.includes(cache) ? cache : fallback;
  return (
    <form
      className="compare-control"
      onSubmit={(e) => {
        e.preventDefault();
        setForking(true);
        void compare(bridge, chosen).finally(() => setForking(false));
      }}
    >
      <Field label="Compare with" hint="a twin conversation with this cache; its first reply prefills the whole transcript">
        <Select value={chosen} onChange={setCache} options={choices.map((c) => ({ value: c, label: c }))} />
      </Field>
      <button type="submit" disabled={busy || forking}>
        {forking ? 'Opening…' : 'Compare'}
      </button>
    </form>
  );
}
