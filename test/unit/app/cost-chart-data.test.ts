// The Cost charts' data: readable ticks, coincident formats sharing one labelled point, the Pareto
// front, the "not measured" column, and the capacity rows.
import { describe, expect, it } from 'vitest';
import type { FormatOutcome } from '../../../main/cost/recommend.js';
import { capacityRows, compactUsd, niceTicks, paretoData } from '../../../renderer/src/views/cost/cost-chart-data.js';

const outcome = (label: string, loss: number | null, monthlyUsd: number, extra: Partial<FormatOutcome> = {}): FormatOutcome => ({
  label,
  gpus: monthlyUsd / 100,
  monthlyUsd,
  perMillionTokensUsd: 1,
  loss,
  lossSource: loss === null ? null : 'measured',
  maxConversationsByMemory: 10,
  maxConversationsBySpeed: 8,
  tensorParallel: 1,
  speedBasis: 'projection',
  ...extra,
});

describe('niceTicks', () => {
  it('steps by 1, 2 or 5 times a power of ten', () => {
    expect(niceTicks(0, 5)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(niceTicks(0, 2411, 4)).toEqual([0, 1000, 2000, 3000]);
    expect(niceTicks(-0.3, 1.2)).toEqual([-0.5, 0, 0.5, 1, 1.5]);
  });
});

describe('paretoData', () => {
  it('puts formats at the same place under one label and draws the front cheapest-at-each-loss', () => {
    const data = paretoData(
      [outcome('fp16', 0, 400), outcome('q8_0', 0.2, 200), outcome('q4_0', 3, 100), outcome('rvq:4', 3, 100), outcome('rvq:2', 9, 100), outcome('kivi2', 6, 300)],
      5,
    );
    expect(data.points.map((p) => p.label)).toEqual(['fp16', 'q8_0', 'q4_0, rvq:4', 'rvq:2', 'kivi2']);
    expect(data.front.map((p) => p.label)).toEqual(['fp16', 'q8_0', 'q4_0, rvq:4']);
    expect(data.notMeasuredAt).toBeNull();
    expect(data.ticks).toEqual([0, 2, 4, 6, 8, 10]);
  });

  it('places unmeasured formats in a column one step past the last tick', () => {
    const data = paretoData([outcome('fp16', 0, 400), outcome('q4_0', null, 100), outcome('rvq:8', null, 100)], 5);
    expect(data.ticks).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(data.notMeasuredAt).toBe(6);
    expect(data.points.find((p) => !p.measured)).toMatchObject({ label: 'q4_0, rvq:8', loss: 6, onFront: false });
  });
});

it('labels a replica of several GPUs in the capacity rows', () => {
  expect(capacityRows([outcome('fp16', 0, 400, { tensorParallel: 2 }), outcome('q4_0', 1, 100)])).toEqual([
    { format: 'fp16 (2 GPUs)', byMemory: 10, bySpeed: 8 },
    { format: 'q4_0', byMemory: 10, bySpeed: 8 },
  ]);
});

it('writes money short enough for an axis', () => {
  expect([compactUsd(950), compactUsd(12_400), compactUsd(1_250_000)]).toEqual(['$950', '$12.4k', '$1.25M']);
});
