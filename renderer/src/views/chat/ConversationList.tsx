// The saved conversations, newest first, each told apart by model and cache, when it last changed,
// the residual depth of its last reply and how it starts; a damaged one is listed with the reason.
import type { ChatSession, ResKvBridge } from '../../../../main/api/types.js';
import { useChat } from '../../state/chat.js';

const when = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** The second line of a conversation's entry: time, depth, replies, twin mark, opening words. */
export function conversationDetails(s: ChatSession): string {
  const replies = s.messages.filter((m) => m.role === 'assistant');
  const depth = replies.at(-1)?.reply?.depth;
  const opening = s.messages.find((m) => m.role === 'user')?.content.slice(0, 40) ?? 'new';
  return [
    when.format(new Date(s.updatedAt)),
    ...(depth ? [`depth ${depth}`] : []),
    `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`,
    ...(s.forkedFrom ? ['twin'] : []),
    opening,
  ].join(' · ');
}

export function ConversationList({ bridge }: { bridge: ResKvBridge }) {
  const sessions = useChat((s) => s.sessions);
  const listed = useChat((s) => s.listed);
  const activeId = useChat((s) => s.activeId);
  const select = useChat((s) => s.select);
  const remove = useChat((s) => s.remove);
  return (
    <nav className="conversations" aria-label="Conversations">
      {!listed && <p className="field-hint">Loading conversations…</p>}
      {listed && sessions.length === 0 && <p className="field-hint">No conversations yet.</p>}
      {sessions.map((s) => (
        <div key={s.id} className={`conversation-item${s.id === activeId ? ' active' : ''}`}>
          {s.problem ? (
            // a saved conversation that cannot be read: listed with the reason, so it can be removed
            <p className="field-hint" role="note">{`${s.id} · damaged: ${s.problem}`}</p>
          ) : (
            <button type="button" className="link" aria-current={s.id === activeId ? 'true' : undefined} onClick={() => void select(bridge, s.id)}>
              {`${s.model} · ${s.cache}`}
              <span className="field-hint">{conversationDetails(s)}</span>
            </button>
          )}
          <button type="button" className="danger" aria-label={`Delete conversation ${s.id}`} onClick={() => window.confirm(`Delete conversation ${s.id} and its saved transcript?`) && void remove(bridge, s.id)}>
            ×
          </button>
        </div>
      ))}
    </nav>
  );
}
