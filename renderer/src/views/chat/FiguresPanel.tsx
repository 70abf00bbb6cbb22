// Live figures of a conversation, and the residual depth control (RVQ caches).
import type { ChatFigures, ChatModelInfo, ResKvBridge } from '../../../../main/api/types.js';
import { useChat } from '../../state/chat.js';
import { ContextFill } from './ContextFill.js';
import { formatBytes, formatCount, formatFixed as fixed, memoryCells } from '../format.js';

/** What the cache holds and how fast the last reply ran (entries of a `.facts` list); a comparison shows these per side. */
export function KeyFigures({ figures }: { figures: ChatFigures }) {
  const reply = figures.lastReply;
  const memory = memoryCells(figures);
  return (
    <>
      <dt>KV held</dt>
      <dd data-testid="kv-held">{memory.held}</dd>
      <dt>Compression</dt>
      <dd data-testid="compression">{memory.compression}</dd>
      <dt>Prefill</dt>
      <dd data-testid="prefill">{reply ? `${fixed(reply.prefillTokensPerSecond, 1)} tokens/s (${formatCount(reply.prefillTokens)} tokens)` : '—'}</dd>
      <dt>Decode</dt>
      <dd data-testid="decode">{reply ? `${fixed(reply.decodeTokensPerSecond, 1)} tokens/s` : '—'}</dd>
    </>
  );
}

/** The residual depth slider of an RVQ conversation (null for other caches). */
export function DepthSlider({ bridge, id, info, figures }: { bridge: ResKvBridge; id: string; info: ChatModelInfo; figures: ChatFigures }) {
  const setDepth = useChat((s) => s.setDepth);
  if (info.maxDepth === null || figures.depth === null) return null;
  return <input type="range" min={1} max={info.maxDepth} value={figures.depth} aria-label="Residual depth" onChange={(e) => void setDepth(bridge, id, Number(e.target.value))} />;
}

export function FiguresPanel({ bridge, id, info, figures }: { bridge: ResKvBridge; id: string; info: ChatModelInfo; figures: ChatFigures }) {
  const reply = figures.lastReply;
  const memory = memoryCells(figures);
  return (
    <aside className="figures" aria-label="Conversation figures">
      <h2>This conversation</h2>
      <dl className="facts">
        <dt>Cache</dt>
        <dd>{info.cache}</dd>
        <dt>Provider</dt>
        <dd title={info.skippedProviders.map((p) => `${p.provider}: ${p.reason}`).join('\n')}>{info.provider}</dd>
        <dt>Context</dt>
        <dd>
          <ContextFill id={id} info={info} figures={figures} />
        </dd>
        <KeyFigures figures={figures} />
        <dt>fp16 would hold</dt>
        <dd>{memory.fp16}</dd>
        <dt>Bytes per token</dt>
        <dd data-testid="bytes-per-token">{memory.bytesPerToken}</dd>
        <dt>Bits per value</dt>
        <dd>{memory.bitsPerValue}</dd>
        {info.codebookBytes > 0 && (
          <>
            <dt>Codebooks</dt>
            <dd>{`${formatBytes(figures.codebookBytes)} (${memory.compressionWithCodebooks} counting them)`}</dd>
          </>
        )}
        <dt>Token latency</dt>
        <dd>{reply ? `p50 ${fixed(reply.latencyP50Ms, 1)} ms, p95 ${fixed(reply.latencyP95Ms, 1)} ms` : '—'}</dd>
        <dt>Process memory</dt>
        <dd>{formatBytes(figures.residentBytes)}</dd>
      </dl>
      {info.maxDepth !== null && figures.depth !== null && (
        <div className="depth-control">
          <span>
            Residual depth <strong>{figures.depth}</strong> of {info.maxDepth}
          </span>
          <DepthSlider bridge={bridge} id={id} info={info} figures={figures} />
          <span className="field-hint">Lowering cuts the stored tokens' stages now; raising applies to tokens from the next one on.</span>
        </div>
      )}
    </aside>
  );
}
