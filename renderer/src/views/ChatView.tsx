// Chat: conversations with a model whose KV cache is stored as the operator chose, the reply
// streaming in, live memory and speed figures beside it, the residual depth changeable mid-chat, and
// a comparison with a twin under another cache format, replies side by side.
import { useEffect, useState } from 'react';
import type { ResKvBridge } from '../../../main/api/types.js';
import { useChat } from '../state/chat.js';
import { useConnection } from '../state/connection.js';
import { CompareControl } from './chat/CompareControl.js';
import { FiguresPanel } from './chat/FiguresPanel.js';
import { NewConversation } from './chat/NewConversation.js';
import { SamplingPanel } from './chat/SamplingPanel.js';
import { SideBySide } from './chat/SideBySide.js';
import { Transcript } from './chat/Transcript.js';
import { ErrorMessage } from './common.js';

function Composer({ bridge, busy }: { bridge: ResKvBridge; busy: boolean }) {
  const [text, setText] = useState('');
  const [hint, setHint] = useState<string | null>(null);
  const send = useChat((s) => s.send);
  const cancel = useChat((s) => s.cancel);
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        if (busy) return;
        if (text.trim() === '') {
          setHint('Nothing to send: write a message first.');
          return;
        }
        setHint(null);
        const sent = text;
        setText('');
        // a rejected message (send leaves its error) comes back into the box, unless something new was typed meanwhile
        void send(bridge, sent).then(() => {
          if (useChat.getState().error !== null) setText((now) => (now === '' ? sent : now));
        });
      }}
    >
      <textarea aria-label="Message" rows={3} value={text} onChange={(e) => setText(e.target.value)} placeholder="Write a message (text models continue what you write)" />
      {busy ? (
        <button type="button" className="danger" onClick={() => void cancel(bridge)}>
          Stop
        </button>
      ) : (
        <button type="submit">Send</button>
      )}
      {hint && (
        <p className="field-hint" role="status">
          {hint}
        </p>
      )}
    </form>
  );
}

export function ChatView() {
  const connection = useConnection((s) => s.connection);
  const bridge = connection.status === 'connected' ? connection.bridge : null;
  const sessions = useChat((s) => s.sessions);
  const activeId = useChat((s) => s.activeId);
  const streaming = useChat((s) => (activeId ? (s.streaming[activeId] ?? '') : ''));
  const twinId = useChat((s) => (activeId ? (s.twinOf[activeId] ?? null) : null));
  // with a twin, the pair is busy until both replies are in
  const busy = useChat((s) => [activeId, twinId].some((id) => id !== null && s.busy[id] === true));
  const figures = useChat((s) => (activeId ? s.figures[activeId] : undefined));
  const error = useChat((s) => s.error);
  const load = useChat((s) => s.load);
  const select = useChat((s) => s.select);
  const remove = useChat((s) => s.remove);
  useEffect(() => {
    if (bridge) void load(bridge);
  }, [bridge, load]);
  const active = sessions.find((s) => s.id === activeId) ?? null;

  if (!bridge) {
    return (
      <section className="view">
        <h1 id="view-title">Chat</h1>
        <p className="notice" role="status">The model runs in the ResKV backend, which this page is not connected to.</p>
      </section>
    );
  }
  return (
    <section className="view chat-view">
      <h1 id="view-title">Chat</h1>
      <NewConversation bridge={bridge} />
      <div className={`chat-layout${twinId ? ' comparing' : ''}`}>
        <nav className="conversations" aria-label="Conversations">
          {sessions.length === 0 && <p className="field-hint">No conversations yet.</p>}
          {sessions.map((s) => (
            <div key={s.id} className={`conversation-item${s.id === activeId ? ' active' : ''}`}>
              {s.problem ? (
                // a saved conversation that cannot be read: listed with the reason, so it can be removed
                <p className="field-hint" role="note">{`${s.id} · damaged: ${s.problem}`}</p>
              ) : (
                <button type="button" className="link" onClick={() => void select(bridge, s.id)}>
                  {`${s.model} · ${s.cache}`}
                  <span className="field-hint">{`${s.forkedFrom ? 'twin · ' : ''}${s.messages.find((m) => m.role === 'user')?.content.slice(0, 40) ?? 'new'}`}</span>
                </button>
              )}
              <button type="button" className="danger" aria-label={`Delete conversation ${s.id}`} onClick={() => window.confirm(`Delete conversation ${s.id} and its saved transcript?`) && void remove(bridge, s.id)}>
                ×
              </button>
            </div>
          ))}
        </nav>
        <div className="chat-main">
          {active ? (
            <>
              {active.open && <CompareControl bridge={bridge} session={active} busy={busy} />}
              {twinId ? <SideBySide bridge={bridge} ids={[active.id, twinId]} /> : <Transcript session={active} streaming={streaming} busy={busy} />}
              <Composer bridge={bridge} busy={busy} />
              <SamplingPanel />
            </>
          ) : (
            <p className="field-hint">Start or choose a conversation.</p>
          )}
          <ErrorMessage message={error} />
        </div>
        {active?.open && figures && !twinId && <FiguresPanel bridge={bridge} id={active.id} info={active.open.info} figures={figures} />}
      </div>
    </section>
  );
}
