// How full a conversation's context is (tokens held of the model's context length, counting a reply
// while it streams), and, when the next reply would not fit, the offer to drop the oldest turns
// instead of a cut reply or a refused message.
import type { ChatFigures, ChatModelInfo } from '../../../../main/api/types.js';
import { useChat } from '../../state/chat.js';
import { formatCount } from '../format.js';

/** Tokens in the context now: the figures' (updated after each reply) plus the reply streaming in. */
function useTokensNow(id: string, figures: ChatFigures): number {
  return useChat((s) => figures.tokens + (s.busy[id] ? (s.live[id]?.tokens ?? 0) : 0));
}

export function ContextFill({ id, info, figures }: { id: string; info: ChatModelInfo; figures: ChatFigures }) {
  const tokens = useTokensNow(id, figures);
  const share = Math.min(1, tokens / info.contextLength);
  return (
    <div className="context-fill">
      <meter min={0} max={info.contextLength} value={Math.min(tokens, info.contextLength)} high={info.contextLength * 0.8} aria-label="Context used" />
      <span data-testid="context-fill">{`${formatCount(tokens)} of ${formatCount(info.contextLength)} tokens (${Math.round(share * 100)}%)`}</span>
    </div>
  );
}

/** Shown under the message box when the next reply (at most maxTokens) would overflow, or a send was refused. */
export function ContextFullOffer({ id, info, figures }: { id: string; info: ChatModelInfo; figures: ChatFigures }) {
  const maxTokens = useChat((s) => s.sampling.maxTokens);
  const refused = useChat((s) => s.overflowed[id] === true);
  const drop = useChat((s) => s.dropOldest[id] === true);
  const setDropOldest = useChat((s) => s.setDropOldest);
  const full = figures.tokens + maxTokens > info.contextLength;
  if (!full && !refused && !drop) return null;
  return (
    <div className="notice context-full" role="status">
      {refused
        ? `The message does not fit: the context holds ${formatCount(info.contextLength)} tokens and ${formatCount(figures.tokens)} are used.`
        : full
          ? `The context is nearly full (${formatCount(figures.tokens)} of ${formatCount(info.contextLength)} tokens): a reply of up to ${formatCount(maxTokens)} tokens would be cut.`
          : 'The oldest turns are dropped when the context is full.'}
      <label>
        <input type="checkbox" checked={drop} onChange={(e) => setDropOldest(id, e.target.checked)} /> Drop the oldest turns to make room (the model forgets them; the transcript keeps them)
      </label>
    </div>
  );
}
