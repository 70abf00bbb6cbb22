// A sweep's points arranged for the Tradeoffs view and the Report: one curve per codebook set
// (labelled with its key/value grouping, so strided and contiguous sets can be told apart), the
// scalar formats as reference points, and the smallest depth whose perplexity increase is within the
// operator's acceptable loss.
import type { TradeoffPoint, TradeoffRun } from '../../../../main/api/types.js';
import { formatCount, formatPercent } from '../format.js';

export interface DepthCurve {
  set: string;
  /** e.g. "default (keys strided, values contiguous)". */
  label: string;
  /** Ordered by depth. */
  points: (TradeoffPoint & { rvq: NonNullable<TradeoffPoint['rvq']> })[];
}

export function depthCurves(run: TradeoffRun): DepthCurve[] {
  const curves = new Map<string, DepthCurve>();
  for (const point of run.points) {
    const { rvq } = point;
    if (!rvq) continue;
    let curve = curves.get(rvq.set);
    if (!curve) {
      curve = { set: rvq.set, label: `${rvq.set} (keys ${rvq.keyGrouping}, values ${rvq.valueGrouping})`, points: [] };
      curves.set(rvq.set, curve);
    }
    curve.points.push({ ...point, rvq });
  }
  for (const curve of curves.values()) curve.points.sort((a, b) => a.rvq.depth - b.rvq.depth);
  return [...curves.values()];
}

/** fp16 and the scalar formats measured in the run. */
export const referencePoints = (run: TradeoffRun): TradeoffPoint[] => run.points.filter((p) => p.rvq === null);

/** Whether a point's perplexity increase is within `acceptablePercent`. */
export const meetsLoss = (point: TradeoffPoint, acceptablePercent: number): boolean => point.perplexityChangePercent <= acceptablePercent;

export interface AcceptableDepth {
  /** Per curve: the smallest depth meeting the loss, or null when none of its depths does. */
  perCurve: { curve: DepthCurve; point: DepthCurve['points'][number] | null }[];
  /** Across curves: the smallest such depth; on a tie, the fewer bytes per token, then the lower loss. */
  chosen: DepthCurve['points'][number] | null;
}

/** `taskDrops`: labels of points whose task check dropped significantly against fp16 (they do not count). */
export function acceptableDepth(run: TradeoffRun, acceptablePercent: number, taskDrops: ReadonlySet<string> = new Set()): AcceptableDepth {
  const perCurve = depthCurves(run).map((curve) => ({ curve, point: curve.points.find((p) => meetsLoss(p, acceptablePercent) && !taskDrops.has(p.label)) ?? null }));
  const candidates = perCurve.flatMap(({ point }) => (point ? [point] : []));
  candidates.sort((a, b) => a.rvq.depth - b.rvq.depth || a.kvBytesPerToken - b.kvBytesPerToken || a.perplexityChangePercent - b.perplexityChangePercent);
  return { perCurve, chosen: candidates[0] ?? null };
}

/** "5.0%" → 5; anything that is not a finite number ≥ 0 → null. */
export function parseAcceptableLoss(text: string): number | null {
  if (text.trim() === '') return null;
  const value = Number(text.trim().replace(/%$/, ''));
  return Number.isFinite(value) && value >= 0 ? value : null;
}

/** One sentence about the run: what, when, where. */
export function describeRun(run: TradeoffRun): string {
  const m = run.machine;
  return `${run.model} on ${run.text.file} (${formatCount(run.text.tokens)} tokens, sha256 ${run.text.sha256.slice(0, 12)}…), measured ${run.finishedAt.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu} (${m.cores} cores, ${m.platform}/${m.arch}, ${m.provider})`;
}

/** The marked depth, or why there is none, as one line. */
export function describeChoice(choice: AcceptableDepth | null, acceptable: number | null): string {
  if (acceptable === null || !choice) return 'Give an acceptable perplexity increase to mark a depth.';
  if (!choice.chosen) return `No swept depth keeps the perplexity increase within ${formatPercent(acceptable)}.`;
  const c = choice.chosen;
  return `Smallest depth within ${formatPercent(acceptable)}: depth ${c.rvq.depth} of ${c.rvq.set} (${c.perplexityChangePercent >= 0 ? '+' : ''}${c.perplexityChangePercent.toFixed(2)}% perplexity, ${c.kvBytesPerToken.toFixed(1)} bytes/token).`;
}
