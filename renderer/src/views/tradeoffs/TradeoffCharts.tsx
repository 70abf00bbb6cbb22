// Measured curves of a sweep against residual depth, one line per codebook set, the scalar formats as
// dashed reference lines, and the acceptable loss and chosen depth marked; the table of every point;
// and all of it under the chosen depth's sentence, as the Tradeoffs view and the Report show it.
import { useMemo } from 'react';
import { CartesianGrid, ErrorBar, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { TradeoffPoint, TradeoffRun } from '../../../../main/api/types.js';
import { palette } from '../cost/CostCharts.js';
import { TableHead } from '../common.js';
import type { TaskRequirement } from '../tasks/task-drops.js';
import { formatCount, formatPercent } from '../format.js';
import { acceptableDepth, depthCurves, describeChoice, describeRun, meetsLoss, parseAcceptableLoss, referencePoints } from './tradeoff-curves.js';
import type { AcceptableDepth } from './tradeoff-curves.js';

interface Metric {
  /** The figure's accessible name. */
  name: string;
  caption(run: TradeoffRun): string;
  value(point: TradeoffPoint): number;
  format(value: number): string;
  /** Whether fp16 is drawn as a reference (not for quality, where it is 0 / 100% by definition). */
  fp16Reference: boolean;
  /** The spread over repeated measurements, drawn as error bars (latency; absent in older runs). */
  range?(point: TradeoffPoint): { low: number; high: number } | undefined;
}

/** How many interleaved rounds the latency was measured in (runs kept before rounds existed: 1). */
const latencyRounds = (run: TradeoffRun) => run.points[0]?.decodeMsRange?.rounds ?? 1;

/** A point's latency as the table shows it: median, and the rounds' range when there were several. */
export function formatLatency(p: TradeoffPoint): string {
  const range = p.decodeMsRange;
  return range && range.rounds > 1 ? `${p.decodeMsPerToken.toFixed(2)} (${range.low.toFixed(2)}–${range.high.toFixed(2)})` : p.decodeMsPerToken.toFixed(2);
}

const metrics: Metric[] = [
  {
    name: 'Perplexity increase against residual depth',
    caption: (run) => `Perplexity increase over fp16 (%) on ${run.text.file}, ${formatCount(run.text.tokens)} tokens`,
    value: (p) => p.perplexityChangePercent,
    format: (v) => `${v.toFixed(2)}%`,
    fp16Reference: false,
  },
  { name: 'KL divergence against residual depth', caption: () => 'Mean KL(fp16 ‖ cache) per position (nats)', value: (p) => p.meanKl, format: (v) => v.toFixed(4), fp16Reference: false },
  { name: 'Top-1 agreement against residual depth', caption: () => 'Top-1 agreement with fp16 (%)', value: (p) => 100 * p.top1Agreement, format: (v) => `${v.toFixed(1)}%`, fp16Reference: false },
  { name: 'KV bytes per token against residual depth', caption: () => 'KV bytes per token, measured (all layers, K and V)', value: (p) => p.kvBytesPerToken, format: (v) => v.toFixed(1), fp16Reference: true },
  {
    name: 'Decode latency against residual depth',
    caption: (run) =>
      `Decode latency (median ms/token with ${formatCount(run.options.latencyContext)} tokens cached, ${run.machine.provider}` +
      (latencyRounds(run) > 1 ? `; median of ${latencyRounds(run)} interleaved rounds, bars: their range)` : '; one round)'),
    value: (p) => p.decodeMsPerToken,
    format: (v) => `${v.toFixed(2)} ms`,
    fp16Reference: true,
    range: (p) => p.decodeMsRange,
  },
];

const referenceColour = '#868e96';

function MetricChart({ run, metric, marks }: { run: TradeoffRun; metric: Metric; marks: { acceptable: number | null; depth: number | null } }) {
  const curves = depthCurves(run);
  const maxDepth = Math.max(0, ...curves.flatMap((c) => c.points.map((p) => p.rvq.depth)));
  const rows = Array.from({ length: maxDepth }, (_, i) => {
    const depth = i + 1;
    const row: Record<string, number | [number, number]> = { depth };
    for (const curve of curves) {
      const point = curve.points.find((p) => p.rvq.depth === depth);
      if (!point) continue;
      const value = metric.value(point);
      row[curve.label] = value;
      const range = metric.range?.(point);
      // error bars take the distances below and above the value
      if (range) row[`${curve.label} range`] = [value - range.low, range.high - value];
    }
    return row;
  });
  const references = referencePoints(run).filter((p) => metric.fp16Reference || p.format !== 'fp16');
  return (
    <figure className="chart" aria-label={metric.name}>
      <figcaption>{metric.caption(run)}</figcaption>
      <ResponsiveContainer width="100%" height={260}>
        <LineChart data={rows} margin={{ top: 8, right: 48, bottom: 16, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="depth" type="number" domain={[1, Math.max(1, maxDepth)]} allowDecimals={false} label={{ value: 'residual depth', position: 'insideBottom', offset: -8, fontSize: 12 }} />
          <YAxis tickFormatter={(v: number) => metric.format(v)} width={72} />
          <Tooltip formatter={(v) => metric.format(Number(v))} labelFormatter={(v) => `depth ${String(v)}`} />
          <Legend verticalAlign="top" />
          {references.map((p) => (
            <ReferenceLine key={p.label} y={metric.value(p)} ifOverflow="extendDomain" stroke={referenceColour} strokeDasharray="4 4" label={{ value: p.label, position: 'right', fontSize: 11, fill: referenceColour }} />
          ))}
          {metric.name.startsWith('Perplexity') && marks.acceptable !== null && (
            <ReferenceLine y={marks.acceptable} ifOverflow="extendDomain" stroke="#b42318" strokeDasharray="6 3" label={{ value: `acceptable ${formatPercent(marks.acceptable)}`, position: 'insideTopLeft', fontSize: 11, fill: '#b42318' }} />
          )}
          {marks.depth !== null && <ReferenceLine x={marks.depth} stroke="#2b8a3e" strokeWidth={2} label={{ value: `depth ${marks.depth}`, position: 'insideTop', fontSize: 11, fill: '#2b8a3e' }} />}
          {curves.map((c, i) => (
            <Line key={c.label} dataKey={c.label} stroke={palette[i % palette.length]} isAnimationActive={false}>
              {metric.range && <ErrorBar dataKey={`${c.label} range`} width={6} stroke={palette[i % palette.length]} />}
            </Line>
          ))}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function TradeoffCharts({ run, acceptable, choice }: { run: TradeoffRun; acceptable: number | null; choice: AcceptableDepth | null }) {
  const marks = { acceptable, depth: choice?.chosen?.rvq.depth ?? null };
  return (
    <div className="charts">
      {metrics.map((m) => (
        <MetricChart key={m.name} run={run} metric={m} marks={marks} />
      ))}
    </div>
  );
}

export function TradeoffTable({ run, acceptable, choice }: { run: TradeoffRun; acceptable: number | null; choice: AcceptableDepth | null }) {
  const chosen = choice?.chosen?.label ?? null;
  return (
    <div className="table-scroll">
      <table className="data-table" aria-label="Measured points">
        <TableHead columns={['Cache', 'Grouping (K / V)', 'Bits/value', 'KV bytes/token', 'x smaller', 'Perplexity', 'vs fp16', 'KL', 'Top-1', 'ms/token (range)', 'Within loss']} />
        <tbody>
          {run.points.map((p) => (
            <tr key={p.label} aria-current={p.label === chosen ? 'true' : undefined} className={p.label === chosen ? 'chosen' : undefined}>
              <th scope="row">{p.label}</th>
              <td>{p.rvq ? `${p.rvq.keyGrouping} / ${p.rvq.valueGrouping}` : '-'}</td>
              <td>{p.bitsPerValue.toFixed(3)}</td>
              <td>{p.kvBytesPerToken.toFixed(1)}</td>
              <td>{`${(run.fp16BytesPerToken / p.kvBytesPerToken).toFixed(2)}x`}</td>
              <td>{p.perplexity.toFixed(3)}</td>
              <td>{`${p.perplexityChangePercent >= 0 ? '+' : ''}${p.perplexityChangePercent.toFixed(2)}%`}</td>
              <td>{p.meanKl.toFixed(4)}</td>
              <td>{`${(100 * p.top1Agreement).toFixed(1)}%`}</td>
              <td>{formatLatency(p)}</td>
              <td>{acceptable === null ? '-' : p.label === chosen ? 'yes, chosen' : meetsLoss(p, acceptable) ? 'yes' : 'no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The marked depth (or why there is none), where and how the sweep was measured, its charts and table. */
export function TradeoffResults({ run, acceptableText, tasks }: { run: TradeoffRun; acceptableText: string; tasks: TaskRequirement | null }) {
  const acceptable = parseAcceptableLoss(acceptableText);
  const choice = useMemo(() => (acceptable === null ? null : acceptableDepth(run, acceptable, tasks?.drops)), [run, acceptable, tasks]);
  return (
    <>
      <p className="chosen-depth" role="status" data-testid="chosen-depth">
        {acceptable === null && acceptableText.trim() !== '' ? 'The acceptable increase must be a number of percent, 0 or more.' : describeChoice(choice, acceptable)}
      </p>
      {tasks && (
        <p className="run-facts" data-testid="task-requirement">
          {tasks.note}
        </p>
      )}
      <p className="run-facts">{describeRun(run)}</p>
      {run.latencyDuringJobs && run.latencyDuringJobs.length > 0 && (
        <p className="notice" role="note" data-testid="latency-disturbed">
          {`The latency was measured while other work ran (${run.latencyDuringJobs.join('; ')}): its figures are not representative of this machine. Measure again when it is idle.`}
        </p>
      )}
      <TradeoffCharts run={run} acceptable={acceptable} choice={choice} />
      <TradeoffTable run={run} acceptable={acceptable} choice={choice} />
    </>
  );
}
