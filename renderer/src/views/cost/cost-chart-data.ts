// The Cost charts' data, kept out of the components so it can be tested: quality loss against monthly
// cost for every format (the Pareto chart), and conversations per replica by format (capacity).
import type { CostEstimate } from '../../../../main/api/types.js';

type Outcome = CostEstimate['recommendation']['outcomes'][number];

export interface ParetoPoint {
  /** Perplexity increase in %, or the "not measured" column's position. */
  loss: number;
  monthlyUsd: number;
  gpus: number;
  /** Formats at the same place share one point and one label: "q8_0, q4_0". */
  label: string;
  measured: boolean;
  /** No measured format is both cheaper and at most as lossy. */
  onFront: boolean;
}

export interface ParetoData {
  points: ParetoPoint[];
  /** The front, cheapest-at-each-loss, ordered by loss (drawn as a line). */
  front: ParetoPoint[];
  /** x ticks; the last is the "not measured" column when some format has no measured quality. */
  ticks: number[];
  notMeasuredAt: number | null;
}

/** 1, 2 or 5 times a power of ten: ticks a reader can read. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
}

/** Ticks from a multiple of the step at or below `low` to one at or above `high`. */
export function niceTicks(low: number, high: number, count = 5): number[] {
  const step = niceStep(high - low || 1, count);
  const ticks: number[] = [];
  for (let t = Math.floor(low / step) * step; t < high + step - 1e-9; t += step) ticks.push(Number(t.toPrecision(12)) + 0); // + 0: no -0 tick
  return ticks;
}

export function paretoData(outcomes: Outcome[], acceptable: number | null): ParetoData {
  const losses = outcomes.flatMap((o) => (o.loss === null ? [] : [o.loss]));
  const ticks = niceTicks(Math.min(0, ...losses), Math.max(...losses, acceptable ?? 0, 1));
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  const notMeasuredAt = outcomes.some((o) => o.loss === null) ? ticks[ticks.length - 1] + step : null;
  const byPlace = new Map<string, ParetoPoint>();
  for (const o of outcomes) {
    const loss = o.loss ?? notMeasuredAt!;
    const key = `${loss}|${o.monthlyUsd}`;
    const shared = byPlace.get(key);
    if (shared) shared.label = `${shared.label}, ${o.label}`;
    else byPlace.set(key, { loss, monthlyUsd: o.monthlyUsd, gpus: o.gpus, label: o.label, measured: o.loss !== null, onFront: false });
  }
  const points = [...byPlace.values()];
  const measured = points.filter((p) => p.measured).sort((a, b) => a.loss - b.loss || a.monthlyUsd - b.monthlyUsd);
  const front: ParetoPoint[] = [];
  for (const p of measured) {
    if (front.length === 0 || p.monthlyUsd < front[front.length - 1].monthlyUsd) {
      p.onFront = true;
      front.push(p);
    }
  }
  return { points, front, ticks: notMeasuredAt === null ? ticks : [...ticks, notMeasuredAt], notMeasuredAt };
}

export interface CapacityRow {
  /** "fp16", or "fp16 (2 GPUs)" when a replica spans several. */
  format: string;
  byMemory: number;
  bySpeed: number;
}

export function capacityRows(outcomes: Outcome[]): CapacityRow[] {
  return outcomes.map((o) => ({
    format: o.tensorParallel === 1 ? o.label : `${o.label} (${o.tensorParallel} GPUs)`,
    byMemory: o.maxConversationsByMemory,
    bySpeed: o.maxConversationsBySpeed,
  }));
}

/** "$950", "$12.4k", "$1.25M": short enough for an axis. */
export function compactUsd(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `$${Number((value / 1e6).toPrecision(3))}M`;
  if (abs >= 1e4) return `$${Number((value / 1e3).toPrecision(3))}k`;
  return `$${Math.round(value).toLocaleString('en-US')}`;
}
