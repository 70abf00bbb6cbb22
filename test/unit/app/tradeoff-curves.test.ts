// The Tradeoffs view's arrangement of a sweep: curves per codebook set, and the smallest depth whose
// perplexity increase is within the acceptable loss (per set and overall), or none.
import { describe, expect, it } from 'vitest';
import type { TradeoffPoint } from '../../../main/api/types.js';
import { measuredQualityFor } from '../../../renderer/src/state/cost.js';
import { tradeoffRun } from '../../support/tradeoff-run.js';
import { acceptableDepth, depthCurves, describeChoice, parseAcceptableLoss, referencePoints } from '../../../renderer/src/views/tradeoffs/tradeoff-curves.js';

function point(label: string, perplexityChangePercent: number, rvq?: { set: string; depth: number; keyGrouping?: 'strided' | 'contiguous' }, kvBytesPerToken = 100): TradeoffPoint {
  return {
    label,
    format: rvq ? 'rvq' : (label as TradeoffPoint['format']),
    rvq: rvq ? { set: rvq.set, depth: rvq.depth, maxDepth: 8, keyGrouping: rvq.keyGrouping ?? 'strided', valueGrouping: 'contiguous', codebookSize: 256, groupSize: 32 } : null,
    bitsPerValue: 1,
    kvBytesPerToken,
    perplexity: 10 * (1 + perplexityChangePercent / 100),
    perplexityChangePercent,
    meanKl: 0,
    top1Agreement: 1,
    decodeMsPerToken: 1,
    decodeTokensPerSecond: 1000,
  };
}

const run = (points: TradeoffPoint[]) => tradeoffRun(points);

// Set "a" (strided keys) listed out of depth order; "b" (contiguous keys) better at depth 2 only.
const sweep = run([
  point('fp16', 0),
  point('q4_0', 3),
  point('rvq:a d3', 4, { set: 'a', depth: 3 }),
  point('rvq:a d1', 30, { set: 'a', depth: 1 }),
  point('rvq:a d2', 12, { set: 'a', depth: 2 }),
  point('rvq:b d1', 40, { set: 'b', depth: 1, keyGrouping: 'contiguous' }, 90),
  point('rvq:b d2', 8, { set: 'b', depth: 2, keyGrouping: 'contiguous' }, 90),
  point('rvq:b d3', 9, { set: 'b', depth: 3, keyGrouping: 'contiguous' }, 90),
]);

describe('tradeoff curves', () => {
  it('groups rvq points into curves by set, ordered by depth and labelled with their grouping', () => {
    const curves = depthCurves(sweep);
    expect(curves.map((c) => c.label)).toEqual(['a (keys strided, values contiguous)', 'b (keys contiguous, values contiguous)']);
    expect(curves[0].points.map((p) => p.rvq.depth)).toEqual([1, 2, 3]);
    expect(referencePoints(sweep).map((p) => p.label)).toEqual(['fp16', 'q4_0']);
  });

  it('marks the smallest depth within the loss, per set and overall', () => {
    const at10 = acceptableDepth(sweep, 10);
    expect(at10.perCurve.map((c) => c.point?.label ?? null)).toEqual(['rvq:a d3', 'rvq:b d2']);
    expect(at10.chosen?.label).toBe('rvq:b d2');
    // The loss is inclusive; a non-monotonic curve still gives its smallest qualifying depth.
    expect(acceptableDepth(sweep, 8).chosen?.label).toBe('rvq:b d2');
    expect(acceptableDepth(sweep, 4).perCurve.map((c) => c.point?.label ?? null)).toEqual(['rvq:a d3', null]);
    // Equal depths: the fewer bytes per token wins.
    expect(acceptableDepth(sweep, 50).chosen?.label).toBe('rvq:b d1');
  });

  it('leaves out depths whose task check dropped significantly', () => {
    expect(acceptableDepth(sweep, 10, new Set(['rvq:b d2'])).perCurve.map((c) => c.point?.label ?? null)).toEqual(['rvq:a d3', 'rvq:b d3']);
    expect(acceptableDepth(sweep, 10, new Set(['rvq:b d2'])).chosen?.label).toBe('rvq:b d3'); // depth 3 both: fewer bytes
    expect(acceptableDepth(sweep, 10, new Set(['rvq:b d2', 'rvq:b d3', 'rvq:a d3'])).chosen).toBeNull();
  });

  it('says when no depth meets the loss', () => {
    const none = acceptableDepth(sweep, 1);
    expect(none.chosen).toBeNull();
    expect(describeChoice(none, 1)).toBe('No swept depth keeps the perplexity increase within 1%.');
    expect(describeChoice(acceptableDepth(sweep, 10), 10)).toBe('Smallest depth within 10%: depth 2 of b (+8.00% perplexity, 90.0 bytes/token).');
    // a typed threshold is read back at most to hundredths
    expect(describeChoice(acceptableDepth(sweep, 10.123456), 10.123456)).toMatch(/^Smallest depth within 10\.12%: /);
  });

  it('reads the acceptable loss as typed', () => {
    expect(parseAcceptableLoss('5')).toBe(5);
    expect(parseAcceptableLoss(' 2.5% ')).toBe(2.5);
    expect(parseAcceptableLoss('0')).toBe(0);
    expect(parseAcceptableLoss('')).toBeNull();
    expect(parseAcceptableLoss('-1')).toBeNull();
    expect(parseAcceptableLoss('lots')).toBeNull();
  });
});

describe("the Cost view's measured quality from a sweep", () => {
  it('goes with scalar formats by name and rvq depths of the chosen set with the same quantizer', () => {
    const measured = { run: sweep, set: 'b' };
    expect(measuredQualityFor({ kind: 'q4_0' }, measured)).toEqual({ perplexityDeltaPercent: 3, klDivergence: 0, top1AgreementPercent: 100, measuredOn: 'm on t.txt (64 tokens), this machine, 2026-11-28', decodeSpeedVsFp16: 1 });
    expect(measuredQualityFor({ kind: 'rvq', depth: 2, codebookSize: 256, groupSize: 32 }, measured)?.perplexityDeltaPercent).toBe(8);
    expect(measuredQualityFor({ kind: 'rvq', depth: 2, codebookSize: 256, groupSize: 32 }, { run: sweep, set: 'a' })?.perplexityDeltaPercent).toBe(12);
    // Another codebook size, a depth not swept, a format not measured: no figures.
    expect(measuredQualityFor({ kind: 'rvq', depth: 2, codebookSize: 2048, groupSize: 32 }, measured)).toBeUndefined();
    expect(measuredQualityFor({ kind: 'rvq', depth: 8, codebookSize: 256, groupSize: 32 }, measured)).toBeUndefined();
    expect(measuredQualityFor({ kind: 'kivi2' }, measured)).toBeUndefined();
  });
});
