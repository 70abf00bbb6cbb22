// Chat: conversations with a model whose KV cache is stored as the operator chose, the reply
// streaming in, live memory and speed figures beside it, how full the context is, the residual depth
// changeable mid-chat, and a comparison with a twin under another cache format, replies side by side.
import { useEffect, useState } from 'react';
import type { ResKvBridge } from '../../../main/api/types.js';
import { useChat } from '../state/chat.js';
import { useConnection } from '../state/connection.js';
import { CompareControl } from './chat/CompareControl.js';
import { ContextFullOffer } from './chat/ContextFill.js';
import { ConversationList } from './chat/ConversationList.js';
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
        <ConversationList bridge={bridge} />
        <div className="chat-main">
          {active ? (
            <>
              {active.open && <CompareControl bridge={bridge} session={active} busy={busy} />}
              {twinId ? <SideBySide bridge={bridge} ids={[active.id, twinId]} /> : <Transcript session={active} streaming={streaming} busy={busy} bridge={bridge} />}
              <Composer bridge={bridge} busy={busy} />
              {active.open && figures && !twinId && <ContextFullOffer id={active.id} info={active.open.info} figures={figures} />}
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
