// The Tradeoffs view's weight-format table: the shown sweep beside the newest sweep of every model
// imported from the same checkpoint with another weight format (over the same text and token count),
// each cache's perplexity against the widest weights' fp16 cache, so the weight loss and the KV loss
// show separately and together.
import type { TradeoffRun, TradeoffSibling } from '../../../../main/api/types.js';

export interface WeightRow {
  weights: string;
  model: string;
  cache: string;
  perplexity: number;
  /** Against the widest weights' fp16 cache, in percent. */
  vsWidest: number;
  /** Against the same weights' fp16 cache, in percent. */
  vsSameWeights: number;
  bitsPerValue: number;
}

export interface WeightTable {
  /** The reference: the widest weights with a comparable sweep. */
  widest: { model: string; weights: string } | null;
  rows: WeightRow[];
  /** Siblings left out, and why (no sweep yet, or a sweep over other text). */
  missing: string[];
}

const sameText = (a: TradeoffRun, b: TradeoffRun) => a.text.sha256 === b.text.sha256 && a.text.tokens === b.text.tokens;

/** `siblings` come widest first and include the shown run's model, whose shown run replaces its newest. */
export function weightTable(shown: TradeoffRun, siblings: readonly TradeoffSibling[]): WeightTable {
  const missing: string[] = [];
  const runs: { weights: string; run: TradeoffRun }[] = [];
  for (const s of siblings) {
    const run = s.model === shown.model ? shown : s.run;
    if (!run) missing.push(`${s.model} (${s.weights}): no sweep kept yet`);
    else if (!sameText(run, shown)) missing.push(`${s.model} (${s.weights}): newest sweep is over other text (${run.text.file}, ${run.text.tokens} tokens)`);
    else runs.push({ weights: s.weights, run });
  }
  const reference = runs[0]?.run.points.find((p) => p.format === 'fp16');
  if (!reference) return { widest: null, rows: [], missing };
  const rows = runs.flatMap(({ weights, run }) =>
    run.points.map((p) => ({
      weights,
      model: run.model,
      cache: p.label,
      perplexity: p.perplexity,
      vsWidest: (100 * (p.perplexity - reference.perplexity)) / reference.perplexity,
      vsSameWeights: p.perplexityChangePercent,
      bitsPerValue: p.bitsPerValue,
    })),
  );
  return { widest: { model: runs[0].run.model, weights: runs[0].weights }, rows, missing };
}
