// The messages of a conversation, with the reply streaming in (its token count and speed live). Each
// finished reply says its residual depth and speed, whether it was stopped or cut, whether older turns
// were dropped to make room and whether a background job shared the machine meanwhile; it can be
// copied, and the last one regenerated.
import type { ChatSession, ReplyFacts, ResKvBridge } from '../../../../main/api/types.js';
import { useChat, type LiveReply } from '../../state/chat.js';
import { formatFixed as fixed } from '../format.js';

const ends: Partial<Record<ReplyFacts['end'], string>> = {
  cancelled: 'stopped',
  'max-tokens': 'cut: reached the maximum tokens',
  'context-full': 'cut: the context is full',
};

export function replyFigures(reply: ReplyFacts): string {
  return [...(reply.depth === null ? [] : [`depth ${reply.depth}`]), `${reply.tokens} tokens`, `${fixed(reply.decodeTokensPerSecond, 1)} tokens/s`].join(' · ');
}

function ReplyMarks({ reply }: { reply: ReplyFacts }) {
  const end = ends[reply.end];
  return (
    <>
      <span className="reply-figures" data-testid="reply-figures">
        {replyFigures(reply)}
      </span>
      {end && <span className={`reply-mark ${reply.end}`}>{end}</span>}
      {reply.droppedTurns > 0 && <span className="reply-mark">{`${reply.droppedTurns} oldest ${reply.droppedTurns === 1 ? 'turn' : 'turns'} dropped to make room`}</span>}
      {reply.duringJobs.length > 0 && (
        <span className="reply-mark background" title={reply.duringJobs.join('\n')}>
          {`measured while ${reply.duringJobs.length === 1 ? 'a background job' : `${reply.duringJobs.length} background jobs`} ran: speed not representative`}
        </span>
      )}
    </>
  );
}

export const liveFigures = (live: LiveReply | undefined) => (live && live.tokens > 0 ? `${live.tokens} tokens · ${fixed((live.tokens * 1000) / live.ms, 1)} tokens/s` : 'waiting for the first token…');

/** `bridge`: offer regenerate on the last reply (a single conversation, not a compared pair). */
export function Transcript({ session, streaming, busy, bridge = null }: { session: ChatSession; streaming: string; busy: boolean; bridge?: ResKvBridge | null }) {
  const live = useChat((s) => s.live[session.id]);
  const regenerate = useChat((s) => s.regenerate);
  const last = session.messages.length - 1;
  return (
    <ol className="transcript" aria-label="Messages">
      {session.messages.map((m, i) => (
        <li key={i} className={`message message-${m.role}`}>
          <span className="message-role">{m.role}</span>
          <p>{m.content}</p>
          {m.role === 'assistant' && (
            <div className="reply-footer">
              {m.reply && <ReplyMarks reply={m.reply} />}
              <button type="button" className="small" onClick={() => void navigator.clipboard.writeText(m.content)}>
                Copy
              </button>
              {bridge && i === last && !busy && session.open && (
                <button type="button" className="small" onClick={() => void regenerate(bridge)}>
                  Regenerate
                </button>
              )}
            </div>
          )}
        </li>
      ))}
      {busy && (
        <li className="message message-assistant streaming" aria-live="polite">
          <span className="message-role">assistant</span>
          <p>{streaming || '…'}</p>
          <div className="reply-footer">
            <span className="reply-figures" data-testid="live-figures">
              {liveFigures(live)}
            </span>
          </div>
        </li>
      )}
    </ol>
  );
}
