// The Cost charts: quality loss against monthly cost for every format and depth (the Pareto chart,
// with the acceptable loss as a line), and how many conversations one replica holds by format.
import { Bar, BarChart, CartesianGrid, LabelList, Legend, ReferenceLine, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis } from 'recharts';
import type { CostEstimate } from '../../../../main/api/types.js';
import { capacityRows, compactUsd, niceTicks, paretoData } from './cost-chart-data.js';

export const palette = ['#2f6fde', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d', '#495057'];
const acceptableColour = '#b42318';
const whole = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 0 });

export function ParetoChart({ estimate }: { estimate: CostEstimate }) {
  const r = estimate.recommendation;
  const data = paretoData(r.outcomes, r.acceptableLossPercent);
  const yTicks = niceTicks(0, Math.max(...data.points.map((p) => p.monthlyUsd), 1), 4);
  const xLabel = (v: number) => (v === data.notMeasuredAt ? 'not measured' : `${v}%`);
  return (
    <figure className="chart" aria-label="Quality loss against monthly cost">
      <figcaption>
        Perplexity increase against monthly cost, every format ({r.outcomes.length}); line: cheapest at each loss
        {r.acceptableLossPercent !== null && `; red: acceptable ${r.acceptableLossPercent}%`}
      </figcaption>
      <ResponsiveContainer width="100%" height={300}>
        <ScatterChart margin={{ top: 24, right: 36, bottom: 20, left: 12 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis
            type="number"
            dataKey="loss"
            name="perplexity increase"
            domain={[data.ticks[0], data.ticks[data.ticks.length - 1]]}
            ticks={data.ticks}
            tickFormatter={xLabel}
            label={{ value: 'perplexity increase over fp16', position: 'insideBottom', offset: -12, fontSize: 12 }}
          />
          <YAxis type="number" dataKey="monthlyUsd" name="monthly cost" domain={[0, yTicks[yTicks.length - 1]]} ticks={yTicks} tickFormatter={compactUsd} width={64} />
          <Tooltip
            cursor={{ strokeDasharray: '3 3' }}
            formatter={(value, name) => (name === 'monthly cost' ? compactUsd(Number(value)) : xLabel(Number(value)))}
          />
          {r.acceptableLossPercent !== null && (
            <ReferenceLine x={r.acceptableLossPercent} stroke={acceptableColour} strokeDasharray="6 3" label={{ value: 'acceptable', position: 'top', fontSize: 12, fill: acceptableColour }} />
          )}
          <Scatter name="cheapest at each loss" data={data.front} fill="none" line={{ stroke: '#2b8a3e' }} isAnimationActive={false} legendType="none" />
          <Scatter name="formats" data={data.points.filter((p) => p.measured)} fill={palette[0]} isAnimationActive={false}>
            <LabelList dataKey="label" position="top" fontSize={11} />
          </Scatter>
          <Scatter name="quality not measured" data={data.points.filter((p) => !p.measured)} fill="#fff" stroke="#868e96" isAnimationActive={false}>
            <LabelList dataKey="label" position="left" fontSize={11} fill="#5b6475" />
          </Scatter>
        </ScatterChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function CapacityChart({ estimate }: { estimate: CostEstimate }) {
  const rows = capacityRows(estimate.recommendation.outcomes);
  const users = estimate.workload.users.value;
  const ticks = niceTicks(0, Math.max(users, ...rows.flatMap((r) => [r.byMemory, r.bySpeed])), 4);
  return (
    <figure className="chart" aria-label="Conversations per replica by format">
      <figcaption>
        Conversations one replica holds at {whole(estimate.workload.context.value)} tokens (memory) and keeps at{' '}
        {whole(estimate.workload.targetDecodeSpeedPerUser.value)} tokens/s each (speed); red: your {whole(users)}
      </figcaption>
      <ResponsiveContainer width="100%" height={Math.max(200, 56 + rows.length * 34)}>
        <BarChart data={rows} layout="vertical" margin={{ top: 16, right: 36, bottom: 8, left: 12 }}>
          <CartesianGrid strokeDasharray="3 3" horizontal={false} />
          <XAxis type="number" domain={[0, ticks[ticks.length - 1]]} ticks={ticks} tickFormatter={whole} allowDecimals={false} />
          <YAxis type="category" dataKey="format" width={120} tick={{ fontSize: 12 }} />
          <Tooltip formatter={(v) => whole(Number(v))} />
          <Legend />
          <ReferenceLine x={users} stroke={acceptableColour} strokeDasharray="6 3" label={{ value: `${whole(users)} users`, position: 'top', fontSize: 12, fill: acceptableColour }} />
          <Bar dataKey="byMemory" name="fit in memory" fill={palette[0]} isAnimationActive={false} />
          <Bar dataKey="bySpeed" name="at the speed target" fill={palette[2]} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function CostCharts({ estimate }: { estimate: CostEstimate }) {
  return (
    <div className="charts">
      <ParetoChart estimate={estimate} />
      <CapacityChart estimate={estimate} />
    </div>
  );
}
