// A task check's results: accuracy per cache and depth against fp16 with the 95% interval and verdict,
// accuracy and drift charted against residual depth (rvq sets as curves, the scalar formats as dashed
// reference lines), KL along the generation per cache, and the items whose outcome changed.
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { TaskComparison, TaskRun } from '../../../../main/api/types.js';
import { palette } from '../cost/CostCharts.js';
import { TableHead } from '../common.js';

const referenceColour = '#868e96';
const points = (x: number) => `${x > 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The comparison over all items (the one kind's when the file has one kind). */
export const overall = (comparisons: readonly TaskComparison[]): TaskComparison | undefined => comparisons.find((c) => c.kind === 'all') ?? comparisons[0];

interface Measured {
  label: string;
  depth: number | null;
  value: number;
}

/** rvq sets as curves over depth ("rvq:default d3" -> curve "rvq:default"), other caches as reference values. */
function DepthChart({ name, caption, measured, format }: { name: string; caption: string; measured: Measured[]; format: (v: number) => string }) {
  const curves = [...new Set(measured.filter((m) => m.depth !== null).map((m) => m.label.replace(/ d\d+$/, '')))];
  const depths = [...new Set(measured.flatMap((m) => (m.depth === null ? [] : [m.depth])))].sort((a, b) => a - b);
  const rows = depths.map((depth) => {
    const row: Record<string, number> = { depth };
    for (const m of measured) if (m.depth === depth) row[m.label.replace(/ d\d+$/, '')] = m.value;
    return row;
  });
  return (
    <figure className="chart" aria-label={name}>
      <figcaption>{caption}</figcaption>
      <ResponsiveContainer width="100%" height={240}>
        <LineChart data={rows} margin={{ top: 8, right: 48, bottom: 16, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="depth" type="number" domain={[Math.min(1, ...depths), Math.max(1, ...depths)]} allowDecimals={false} label={{ value: 'residual depth', position: 'insideBottom', offset: -8, fontSize: 12 }} />
          <YAxis tickFormatter={(v: number) => format(v)} width={64} />
          <Tooltip formatter={(v) => format(Number(v))} labelFormatter={(v) => `depth ${String(v)}`} />
          <Legend verticalAlign="top" />
          {measured
            .filter((m) => m.depth === null)
            .map((m) => (
              <ReferenceLine key={m.label} y={m.value} ifOverflow="extendDomain" stroke={referenceColour} strokeDasharray="4 4" label={{ value: m.label, position: 'right', fontSize: 11, fill: referenceColour }} />
            ))}
          {curves.map((c, i) => (
            <Line key={c} dataKey={c} stroke={palette[i % palette.length]} isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

function KlAlongGeneration({ run }: { run: TaskRun }) {
  const length = Math.max(0, ...run.drift.map((d) => d.klByPosition.length));
  const rows = Array.from({ length }, (_, position) => {
    const row: Record<string, number> = { position };
    for (const d of run.drift) if (position < d.klByPosition.length) row[d.label] = d.klByPosition[position];
    return row;
  });
  return (
    <figure className="chart" aria-label="KL along the generation">
      <figcaption>KL(fp16 ‖ cache) at each generated position along fp16&apos;s greedy text (nats, mean over prompts)</figcaption>
      <ResponsiveContainer width="100%" height={260}>
        <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 16, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="position" type="number" domain={[0, Math.max(1, length - 1)]} label={{ value: 'generated token', position: 'insideBottom', offset: -8, fontSize: 12 }} />
          <YAxis width={64} tickFormatter={(v: number) => v.toFixed(3)} />
          <Tooltip formatter={(v) => Number(v).toFixed(4)} labelFormatter={(v) => `token ${String(v)}`} />
          <Legend verticalAlign="top" />
          {run.drift.map((d, i) => (
            <Line key={d.label} dataKey={d.label} stroke={palette[i % palette.length]} dot={false} isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

/** The smallest rvq depth with no significant drop over all items, said in a sentence. */
export function describeTaskVerdict(run: TaskRun): string {
  const rvq = run.caches.filter((c) => c.depth !== null).sort((a, b) => (a.depth ?? 0) - (b.depth ?? 0));
  const fine = rvq.find((c) => overall(c.comparisons)?.verdict !== 'drop');
  const drops = run.caches.filter((c) => overall(c.comparisons)?.verdict === 'drop').map((c) => c.label);
  const lead = fine ? `Smallest depth without a significant task drop: ${fine.label}.` : rvq.length > 0 ? 'Every rvq depth checked drops significantly on these tasks.' : '';
  return `${lead} ${drops.length > 0 ? `Significant drop: ${drops.join(', ')}.` : 'No cache drops significantly against fp16.'} ${run.items.length} items of ${run.file.path}.`.trim();
}

export function TaskResults({ run }: { run: TaskRun }) {
  const compared = run.caches.slice(1);
  const accuracy = compared.flatMap((c) => {
    const o = overall(c.comparisons);
    return o ? [{ label: c.label, depth: c.depth, value: 100 * o.accuracy }] : [];
  });
  const reference = overall(compared[0]?.comparisons ?? []);
  return (
    <>
      <p className="chosen-depth" role="status" data-testid="task-verdict">
        {describeTaskVerdict(run)}
      </p>
      <div className="table-scroll">
        <table className="data-table" aria-label="Task accuracy against fp16">
          <TableHead columns={['Cache', 'Items', 'Accuracy', 'fp16', 'Difference (pts)', '95% interval (pts)', 'Lost', 'Gained', 'McNemar p', 'Verdict']} />
          <tbody>
            {compared.flatMap((c) =>
              c.comparisons.map((o) => (
                <tr key={`${c.label}-${o.kind}`}>
                  <th scope="row">{`${c.label}${c.comparisons.length > 1 ? ` (${o.kind})` : ''}`}</th>
                  <td>{o.items}</td>
                  <td>{percent(o.accuracy)}</td>
                  <td>{percent(o.referenceAccuracy)}</td>
                  <td>{points(o.difference)}</td>
                  <td>{`[${points(o.interval[0])}, ${points(o.interval[1])}]`}</td>
                  <td>{o.lost}</td>
                  <td>{o.gained}</td>
                  <td>{o.mcnemarP.toFixed(3)}</td>
                  <td>{o.verdict}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </div>
      <div className="charts">
        <DepthChart
          name="Task accuracy against residual depth"
          caption={`Accuracy over all items (%); fp16 ${reference ? percent(reference.referenceAccuracy) : '-'}`}
          measured={[...(reference ? [{ label: 'fp16', depth: null, value: 100 * reference.referenceAccuracy }] : []), ...accuracy]}
          format={(v) => `${v.toFixed(0)}%`}
        />
        {run.drift.length > 0 && (
          <>
            <DepthChart
              name="First divergence against residual depth"
              caption={`Median first token where greedy text parts from fp16's (of ${run.options.driftTokens}, over ${run.drift[0].firstDivergence.length} prompts)`}
              measured={run.drift.map((d) => ({ label: d.label, depth: d.depth, value: d.medianFirstDivergence }))}
              format={(v) => v.toFixed(1)}
            />
            <DepthChart name="Drift KL against residual depth" caption="Mean KL(fp16 ‖ cache) along fp16's greedy text (nats)" measured={run.drift.map((d) => ({ label: d.label, depth: d.depth, value: d.meanKl }))} format={(v) => v.toFixed(3)} />
            <KlAlongGeneration run={run} />
          </>
        )}
      </div>
      <h2>Items whose outcome changed ({run.changed.length})</h2>
      {run.changed.length === 0 ? (
        <p role="status">Every cache got every item right or wrong exactly as fp16 did.</p>
      ) : (
        <div className="table-scroll">
          <table className="data-table" aria-label="Changed items">
            <TableHead columns={['Cache', 'Line', 'Prompt', 'Expected', 'fp16 answer', 'Cache answer', 'Change']} />
            <tbody>
              {run.changed.map((c) => (
                <tr key={`${c.cache}-${c.line}`}>
                  <th scope="row">{c.cache}</th>
                  <td>{c.line}</td>
                  <td>{c.prompt}</td>
                  <td>{c.expected}</td>
                  <td>{c.referenceAnswer}</td>
                  <td>{c.answer}</td>
                  <td>{c.referenceCorrect ? 'lost' : 'gained'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
