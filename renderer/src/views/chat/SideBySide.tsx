// A conversation and its twin under another cache format side by side: each transcript with its
// reply streaming in and each one's figures, so the operator sees whether the compressed cache
// changes the answer and what it saves.
import type { ResKvBridge } from '../../../../main/api/types.js';
import { useChat } from '../../state/chat.js';
import { DepthSlider, KeyFigures } from './FiguresPanel.js';
import { Transcript } from './Transcript.js';

function ConversationColumn({ bridge, id }: { bridge: ResKvBridge; id: string }) {
  const session = useChat((s) => s.sessions.find((x) => x.id === id));
  const streaming = useChat((s) => s.streaming[id] ?? '');
  const busy = useChat((s) => s.busy[id] ?? false);
  const figures = useChat((s) => s.figures[id]);
  if (!session) return null;
  return (
    <section className="compare-column" aria-label={`${session.cache} conversation`}>
      <h2>{session.cache}</h2>
      {figures && (
        <dl className="facts">
          <KeyFigures figures={figures} />
          <dt>Residual depth</dt>
          <dd className="depth-figure">
            {figures.depth === null ? '—' : <strong>{figures.depth}</strong>}
            {session.open && <DepthSlider bridge={bridge} id={id} info={session.open.info} figures={figures} />}
          </dd>
        </dl>
      )}
      <Transcript session={session} streaming={streaming} busy={busy} />
    </section>
  );
}

export function SideBySide({ bridge, ids }: { bridge: ResKvBridge; ids: readonly [string, string] }) {
  return (
    <div className="side-by-side">
      {ids.map((id) => (
        <ConversationColumn key={id} bridge={bridge} id={id} />
      ))}
    </div>
  );
}
