// Report: the PoC report a team brings to its purchase meeting — machine, model, measurements, the
// chosen acceptable loss and depth, and the cost comparison with its charts — exported in one click
// as a self-contained HTML file (and PDF in the Electron app).
import { Fragment, useEffect, useRef, useState } from 'react';
import { useConnection } from '../state/connection.js';
import { useCost } from '../state/cost.js';
import { useModels } from '../state/models.js';
import { useChat } from '../state/chat.js';
import { CostResults, useEstimateFollowsAcceptableLoss } from './cost/CostResults.js';
import { costProvenance } from './cost/provenance.js';
import { formatCount, memoryCells } from './format.js';
import { describeCalibration } from './models/describe-calibration.js';
import { downloadHtml, reportDocument } from './report/report-document.js';
import { ReportTasks } from './tasks/ReportTasks.js';
import { ReportTradeoffs } from './tradeoffs/ReportTradeoffs.js';
import { TableHead } from './common.js';

export function ReportView() {
  const connection = useConnection((s) => s.connection);
  const bridge = connection.status === 'connected' ? connection.bridge : null;
  const cost = useCost((s) => s.result);
  const loadCost = useCost((s) => s.load);
  const costLoaded = useCost((s) => s.catalog !== null);
  const models = useModels((s) => s.models);
  const refreshModels = useModels((s) => s.refresh);
  const sessions = useChat((s) => s.sessions);
  const figures = useChat((s) => s.figures);
  const measuredSweep = useCost((s) => s.measured);
  const content = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState<string | null>(null);
  useEstimateFollowsAcceptableLoss(bridge);
  useEffect(() => {
    if (bridge && !costLoaded) void loadCost(bridge);
    if (bridge && models === null) void refreshModels(bridge);
  }, [bridge, costLoaded, loadCost, models, refreshModels]);

  if (!bridge || connection.status !== 'connected') {
    return (
      <section className="view">
        <h1 id="view-title">Report</h1>
        <p className="notice" role="status">The report gathers the backend's measurements; this page is not connected to it.</p>
      </section>
    );
  }
  const info = connection.info;
  const measured = sessions.filter((s) => figures[s.id]?.lastReply);
  const date = new Date().toISOString().slice(0, 10);
  const title = `ResKV proof-of-concept report ${date}`;
  const exportHtml = () => {
    if (!content.current) return;
    downloadHtml(`reskv-report-${date}.html`, reportDocument(title, content.current.innerHTML));
    setStatus('Report exported as HTML.');
  };
  const exportPdf = async () => {
    if (!content.current || !bridge.dialogs) return;
    const saved = await bridge.dialogs.exportReportPdf(reportDocument(title, content.current.innerHTML), `reskv-report-${date}.pdf`);
    setStatus(saved ? `Report saved as ${saved}.` : null);
  };

  return (
    <section className="view">
      <h1 id="view-title">Report</h1>
      <div className="report-controls">
        <button type="button" onClick={exportHtml}>
          Export HTML
        </button>
        {bridge.dialogs && (
          <button type="button" className="secondary" onClick={() => void exportPdf()}>
            Export PDF
          </button>
        )}
        {status && <span role="status">{status}</span>}
      </div>
      <div ref={content} className="report">
        <h1>{title}</h1>
        <p>Residual vector quantization of the KV cache (Kumar 2024), measured on this machine with ResKV {info.version}.</p>

        <h2>Machine</h2>
        <dl className="facts">
          <dt>Platform</dt>
          <dd>{`${info.platform} / ${info.arch}`}</dd>
          <dt>Runtime</dt>
          <dd>{info.electron ? `Electron ${info.electron}, Node ${info.node}` : `Node ${info.node} (headless)`}</dd>
        </dl>

        <h2>Models</h2>
        {models && models.length > 0 ? (
          <table aria-label="Models in the report">
            <TableHead columns={['Model', 'Architecture', 'Parameters', 'KV bytes/token (fp16)', 'Context', 'Calibrations']} />
            <tbody>
              {models.flatMap((m) =>
                m.info
                  ? [
                      <tr key={m.id}>
                        <th scope="row">{m.id}</th>
                        <td>{m.info.architecture}</td>
                        <td>{formatCount(m.info.parameterCount)}</td>
                        <td>{formatCount(m.info.kvBytesPerTokenFp16)}</td>
                        <td>{formatCount(m.info.maxPositions)}</td>
                        <td>{m.info.calibrations.map(describeCalibration).join('; ') || 'none'}</td>
                      </tr>,
                    ]
                  : [],
              )}
            </tbody>
          </table>
        ) : (
          <p className="notice">No model imported yet.</p>
        )}

        <h2>Measured conversations</h2>
        {measured.length > 0 ? (
          <table aria-label="Measured conversations">
            <TableHead columns={['Model', 'Cache', 'Tokens', 'KV held', 'fp16 would hold', 'Bytes/token', 'Compression', 'With codebooks', 'Bits/value', 'Decode tokens/s', 'p95 latency']} />
            <tbody>
              {measured.map((s) => {
                const f = figures[s.id];
                const memory = memoryCells(f);
                return (
                  <tr key={s.id}>
                    <th scope="row">{s.model}</th>
                    <td>{s.cache}</td>
                    <td>{formatCount(f.tokens)}</td>
                    <td>{memory.held}</td>
                    <td>{memory.fp16}</td>
                    <td>{memory.bytesPerToken}</td>
                    <td>{memory.compression}</td>
                    <td>{memory.compressionWithCodebooks}</td>
                    <td>{memory.bitsPerValue}</td>
                    <td>{f.lastReply!.decodeTokensPerSecond.toFixed(1)}</td>
                    <td>{`${f.lastReply!.latencyP95Ms.toFixed(1)} ms`}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ) : (
          <p className="notice">No conversation measured in this session yet (Chat view).</p>
        )}

        <ReportTradeoffs bridge={bridge} />
        <ReportTasks bridge={bridge} />

        <h2>Cost comparison</h2>
        {cost ? (
          <>
            <dl className="facts" aria-label="Where the cost figures come from">
              {costProvenance(cost.estimate, measuredSweep, date).map((line) => (
                <Fragment key={line.term}>
                  <dt>{line.term}</dt>
                  <dd>{line.text}</dd>
                </Fragment>
              ))}
            </dl>
            <CostResults result={cost} open />
          </>
        ) : (
          <p className="notice">No cost estimate yet (Cost view).</p>
        )}
      </div>
    </section>
  );
}
