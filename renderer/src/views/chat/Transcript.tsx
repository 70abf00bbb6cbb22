// The messages of a conversation, with the reply streaming in.
import type { ChatSession } from '../../../../main/api/types.js';

export function Transcript({ session, streaming, busy }: { session: ChatSession; streaming: string; busy: boolean }) {
  return (
    <ol className="transcript" aria-label="Messages">
      {session.messages.map((m, i) => (
        <li key={i} className={`message message-${m.role}`}>
          <span className="message-role">{m.role}</span>
          <p>{m.content}</p>
        </li>
      ))}
      {busy && (
        <li className="message message-assistant streaming" aria-live="polite">
          <span className="message-role">assistant</span>
          <p>{streaming || '…'}</p>
        </li>
      )}
    </ol>
  );
}
