// The Cost view does not mix models (issue 16): quality measured on the sweep's model, and that model's
// context and codebook shape, go with it only; another model gets them only when the user carries the
// quality over, and the estimate labels it as carried over.
import { describe, expect, it } from 'vitest';
import type { CostCatalog, TradeoffRun } from '../../../main/api/types.js';
import { costReport } from '../../../main/cost/cost-table.js';
import { estimateDeploymentCost } from '../../../main/cost/index.js';
import { loadHardwareCatalog } from '../../../main/cost/hardware-store.js';
import { modelPresets } from '../../../main/cost/model-presets.js';
import { costInputFromForm, formForModel, initialForm, measuredModelId } from '../../../renderer/src/state/cost.js';
import type { MeasuredSweep } from '../../../renderer/src/state/cost.js';
import { tradeoffRun } from '../../support/tradeoff-run.js';

const catalog: CostCatalog = { hardware: loadHardwareCatalog(), presets: [...modelPresets] };
const point = (format: 'fp16' | 'q4_0' | 'rvq', perplexityChangePercent: number, depth?: number, decodeTokensPerSecond = 100): TradeoffRun['points'][number] => ({
  label: depth ? `rvq:s d${depth}` : format,
  format,
  rvq: depth ? { set: 's', depth, maxDepth: 4, keyGrouping: 'strided', valueGrouping: 'contiguous', codebookSize: 256, groupSize: 32 } : null,
  bitsPerValue: 1,
  kvBytesPerToken: 70,
  perplexity: 10,
  perplexityChangePercent,
  meanKl: 0,
  top1Agreement: 1,
  decodeMsPerToken: 1,
  decodeTokensPerSecond,
});
const run = tradeoffRun([point('fp16', 0), point('q4_0', 3), point('rvq', 12, 4, 20)], 'stories260K');
const measured: MeasuredSweep = { run, set: 's', form: { context: '512', rvqDepths: '4', codebookSize: '256', groupSize: '32' } };
const onStories = formForModel(initialForm, measuredModelId(run), measured);
const qualityRow = (form: typeof initialForm) => costReport(estimateDeploymentCost(costInputFromForm(form, catalog, measured))).rows.find((r) => /perplexity/.test(r.label));

describe('Cost with a measured sweep', () => {
  it("costs the measured model with its own context, codebook shape and measured quality", () => {
    expect(onStories).toMatchObject({ presetId: 'library:stories260K', context: '512', rvqDepths: '4', codebookSize: '256' });
    const input = costInputFromForm(onStories, catalog, measured);
    expect(input.model.name).toBe('stories260K');
    expect(input.kv.find((o) => o.format.kind === 'rvq')?.measuredQuality).toMatchObject({ perplexityDeltaPercent: 12 });
    expect(qualityRow(onStories)?.label).toBe('measured perplexity change');
  });

  it("gives Llama-3-8B none of stories260K's context, codebook size or quality", () => {
    const llama = formForModel(onStories, 'llama-3-8b', measured);
    expect(llama).toMatchObject({ presetId: 'llama-3-8b', context: initialForm.context, rvqDepths: initialForm.rvqDepths, codebookSize: initialForm.codebookSize, groupSize: initialForm.groupSize });
    const input = costInputFromForm(llama, catalog, measured);
    expect(input.model.name).toMatch(/Llama-3/);
    expect(input.kv.every((o) => o.measuredQuality === undefined)).toBe(true);
    expect(qualityRow(llama)).toBeUndefined();
  });

  it('carries the quality over only when the user says so, labelled as carried over', () => {
    const carried = { ...formForModel(onStories, 'llama-3-8b', measured), carryMeasuredQuality: true };
    const q4 = costInputFromForm(carried, catalog, measured).kv.find((o) => o.format.kind === 'q4_0');
    expect(q4?.measuredQuality).toMatchObject({ perplexityDeltaPercent: 3, carriedFrom: 'stories260K' });
    expect(qualityRow(carried)?.label).toBe('perplexity change measured on stories260K (carried over, not this model)');
    // back on the measured model, it is its own measurement again
    expect(formForModel(carried, measuredModelId(run), measured).carryMeasuredQuality).toBe(false);
  });

  it('shows the projected and the measured decode speed, labelled, the measured one first unless the user picks the projection', () => {
    const rows = (form: typeof initialForm) => costReport(estimateDeploymentCost(costInputFromForm(form, catalog, measured))).rows.filter((r) => r.label.startsWith('decode tokens/s per user'));
    const [first, second] = rows(onStories);
    expect(first.label).toBe('decode tokens/s per user, as measured by ResKV on this machine');
    expect(second.label).toBe('decode tokens/s per user, with a fused RVQ attention kernel (projection)');
    const estimate = estimateDeploymentCost(costInputFromForm(onStories, catalog, measured));
    const [fp16, rvq] = [estimate.formats.find((f) => f.label === 'fp16')!, estimate.formats.find((f) => f.format.kind === 'rvq')!];
    if (!fp16.plan.feasible || !rvq.plan.feasible) throw new Error('stories260K fits one GPU');
    // fp16 as measured is its own projection; rvq, measured 5x slower than fp16 here, is a fifth of fp16's roofline at its batch
    expect(fp16.plan.throughput.decodePerUserMeasured?.value).toBeCloseTo(fp16.plan.throughput.decodePerUser.value, 6);
    expect(rvq.plan.throughput.decodePerUserMeasured!.value).toBeLessThan(fp16.plan.throughput.decodePerUser.value);
    expect(rvq.plan.throughput.decodePerUser.value).toBeGreaterThan(rvq.plan.throughput.decodePerUserMeasured!.value);
    expect(rows({ ...onStories, decodeHeadline: 'projection' })[0].label).toBe('decode tokens/s per user, with a fused RVQ attention kernel (projection)');
    // a model without a measurement says so instead of borrowing one
    expect(rows(formForModel(onStories, 'llama-3-8b', measured))[0].cells.every((c) => c === 'not measured' || c === 'does not fit')).toBe(true);
  });
});
