// Charts of the estimate's series: memory against context per KV format, and GPUs and monthly cost
// against residual depth beside fp16.
import { Bar, CartesianGrid, ComposedChart, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { CostEstimate } from '../../../../main/api/types.js';

const GiB = 2 ** 30;
export const palette = ['#2f6fde', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d', '#495057'];

export function MemoryVsContextChart({ estimate }: { estimate: CostEstimate }) {
  const series = estimate.series.memoryVsContext;
  const contexts = series.formats[0]?.points.map((p) => p.context) ?? [];
  const rows = contexts.map((context, i) => ({
    context,
    ...Object.fromEntries(series.formats.map((f) => [f.label, f.points[i].totalBytes / GiB])),
  }));
  const usable = estimate.hardware.usableMemoryPerGpu.value / GiB;
  return (
    <figure className="chart" aria-label="Memory against context length">
      <figcaption>Weights + KV memory for {estimate.workload.users.value} conversations against context length (GiB)</figcaption>
      <ResponsiveContainer width="100%" height={280}>
        <LineChart data={rows} margin={{ top: 8, right: 24, bottom: 8, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="context" scale="log" type="number" domain={['dataMin', 'dataMax']} tickFormatter={(v: number) => v.toLocaleString('en-US')} />
          <YAxis tickFormatter={(v: number) => v.toFixed(0)} />
          <Tooltip formatter={(v) => `${Number(v).toFixed(1)} GiB`} labelFormatter={(v) => `${Number(v).toLocaleString('en-US')} tokens`} />
          <Legend />
          <ReferenceLine y={usable} stroke="#b42318" strokeDasharray="6 3" label={{ value: 'usable on one GPU', position: 'insideTopLeft', fontSize: 12 }} />
          {series.formats.map((f, i) => (
            <Line key={f.label} dataKey={f.label} stroke={palette[i % palette.length]} dot={false} isAnimationActive={false} />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function DepthSweepChart({ estimate }: { estimate: CostEstimate }) {
  const { points, fp16, codebookSize, groupSize } = estimate.series.depthSweep;
  return (
    <figure className="chart" aria-label="GPUs and monthly cost against residual depth">
      <figcaption>
        GPUs needed and monthly cost against RVQ depth (C={codebookSize}, groups of {groupSize}); dashed: fp16
      </figcaption>
      <ResponsiveContainer width="100%" height={280}>
        <ComposedChart data={points} margin={{ top: 8, right: 24, bottom: 8, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="depth" />
          <YAxis yAxisId="gpus" allowDecimals={false} label={{ value: 'GPUs', angle: -90, position: 'insideLeft' }} />
          <YAxis yAxisId="usd" orientation="right" tickFormatter={(v: number) => `$${v.toLocaleString('en-US')}`} />
          <Tooltip />
          <Legend />
          <Bar yAxisId="gpus" dataKey="gpus" name="GPUs needed" fill="#2f6fde" isAnimationActive={false} />
          <Line yAxisId="usd" dataKey="monthlyUsd" name="monthly USD" stroke="#d9480f" isAnimationActive={false} />
          {fp16.gpus !== null && <ReferenceLine yAxisId="gpus" y={fp16.gpus} stroke="#2f6fde" strokeDasharray="6 3" />}
          {fp16.monthlyUsd !== null && <ReferenceLine yAxisId="usd" y={fp16.monthlyUsd} stroke="#d9480f" strokeDasharray="6 3" />}
        </ComposedChart>
      </ResponsiveContainer>
    </figure>
  );
}

export function CostCharts({ estimate }: { estimate: CostEstimate }) {
  return (
    <div className="charts">
      <MemoryVsContextChart estimate={estimate} />
      <DepthSweepChart estimate={estimate} />
    </div>
  );
}
