// estimateDeploymentCost against hand-computed cases: memory budgets, tensor-parallel splits, the
// memory vs throughput decision, money, series, and invalid inputs named by field.
import { describe, expect, it } from 'vitest';
import { estimateDeploymentCost } from '../../../main/cost/estimate.js';
import type { FormatEstimate, FormatPlanEstimate } from '../../../main/cost/format-estimate.js';
import { builtInHardware } from '../../../main/cost/hardware.js';
import type { CostInput } from '../../../main/cost/input.js';
import { findModelPreset } from '../../../main/cost/model-presets.js';

const GiB = 2 ** 30;
const hardware = (id: string) => builtInHardware().find((h) => h.id === id)!;
const model = (id: string) => findModelPreset(id)!.geometry;
const plan = (f: FormatEstimate): FormatPlanEstimate => {
  if (!f.plan.feasible) throw new Error(f.plan.problem);
  return f.plan;
};

const l40sCase: CostInput = {
  model: model('llama-3-8b'),
  hardware: hardware('l40s'),
  kv: [{ format: { kind: 'fp16' } }, { format: { kind: 'q4_0' } }, { format: { kind: 'rvq', depth: 4 } }, { format: { kind: 'rvq', depth: 8 } }],
  workload: { users: 32, context: 8192 },
};

describe('Llama-3-8B on one L40S, 32 users at 8k context', () => {
  const e = estimateDeploymentCost(l40sCase);
  const [fp16, q4, rvq4, rvq8] = e.formats;
  // 48 GiB less the assumed 10% reserve, less 8,030,261,248 fp16 weights.
  const usable = 48 * GiB * 0.9;
  const weights = 8_030_261_248 * 2;

  it('counts weights at 2 bytes per parameter and states the reserve', () => {
    expect(e.model.weightBytes).toMatchObject({ value: weights, unit: 'B' });
    expect(e.hardware.runtimeReservePerGpu.value).toBeCloseTo(4.8 * GiB, 0);
    expect(e.hardware.runtimeReservePerGpu.note).toMatch(/assumed default/);
  });

  it('fits floor(budget / (8192 x bytes per token)) conversations per GPU', () => {
    expect(plan(fp16).memory.maxConversationsAtContext.value).toBe(Math.floor((usable - weights) / (8192 * 131_072)));
    expect(plan(fp16).memory.maxConversationsAtContext.value).toBe(28);
    expect(plan(q4).memory.maxConversationsAtContext.value).toBe(Math.floor((usable - weights) / (8192 * 36_864)));
    const rvq8Codebooks = 128 * 2 ** 20;
    expect(plan(rvq8).memory.maxConversationsAtContext.value).toBe(Math.floor((usable - rvq8Codebooks - weights) / (8192 * 23_616)));
    expect(rvq8.kv.codebooksPerGpu.value).toBe(rvq8Codebooks);
    expect(plan(fp16).memory.kvTokenBudgetPerReplica.value).toBe(Math.floor((usable - weights) / 131_072));
    expect(plan(fp16).memory.maxContextAtUsers.value).toBe(Math.floor((usable - weights) / (32 * 131_072)));
    expect(plan(rvq4).memory.maxContextAtUsers.value).toBe(8192); // capped at the model's limit
  });

  it('needs 2 GPUs with fp16 (memory decides) and 1 with q4_0 or RVQ, halving the monthly cost', () => {
    expect(plan(fp16).gpus).toMatchObject({ needed: { value: 2 }, memoryBound: { value: 2 }, throughputBound: { value: 1 }, decidedBy: 'memory' });
    for (const f of [q4, rvq4, rvq8]) expect(plan(f).gpus.needed.value).toBe(1);
    expect(plan(rvq8).money.savingsVsFp16Percent?.value).toBeCloseTo(50, 10);
    expect(rvq8.kv.compressionVsFp16.value.toFixed(2)).toBe('5.55');
  });

  it('decodes at the bandwidth roofline: (weights read + every conversation\'s KV) / (864 GB/s x 0.6)', () => {
    // Untied embedding table is not streamed; fp16 runs 16 conversations on each of 2 GPUs.
    const read = (8_030_261_248 - 128_256 * 4096) * 2 + 16 * 8192 * 131_072;
    expect(plan(fp16).throughput.decodePerUser.value).toBeCloseTo((864e9 * 0.6) / read, 6);
    expect(plan(fp16).throughput.decodeBoundBy).toBe('memory bandwidth');
    const readRvq = (8_030_261_248 - 128_256 * 4096) * 2 + 32 * 8192 * 23_616 + 128 * 2 ** 20;
    expect(plan(rvq8).throughput.decodePerUser.value).toBeCloseTo((864e9 * 0.6) / readRvq, 6);
  });

  it('prices an owned GPU as purchase / 36 months + power x utilisation x PUE', () => {
    const perGpu = 8000 / 36 + 0.35 * 0.5 * 1.5 * 730 * 0.15;
    expect(e.hardware.monthlyCostPerGpu.value).toBeCloseTo(perGpu, 9);
    expect(plan(fp16).money.monthly.value).toBeCloseTo(2 * perGpu, 9);
    expect(e.hardware.monthlyCostPerGpu.note).toMatch(/approximate price/);
  });

  it('gives every figure a unit', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      const record = node as Record<string, unknown>;
      if (typeof record.value === 'number' && typeof record.unit !== 'string') missing.push(path);
      for (const [k, v] of Object.entries(record)) if (k !== 'series') walk(v, `${path}.${k}`);
    };
    walk({ ...e, series: undefined }, 'estimate');
    expect(missing).toEqual([]);
    expect(e.series.memoryVsContext.units).toEqual({ context: 'tokens', bytes: 'B' });
  });

  it('is pure: same input, same output, input untouched', () => {
    const copy = structuredClone(l40sCase);
    expect(estimateDeploymentCost(l40sCase)).toEqual(e);
    expect(l40sCase).toEqual(copy);
  });
});

describe('deployment sizing', () => {
  it('splits Llama-3-70B fp16 across 2 H100s when the weights do not fit one', () => {
    const e = estimateDeploymentCost({ model: model('llama-3-70b'), hardware: hardware('h100-sxm'), kv: [{ format: { kind: 'fp16' } }], workload: { users: 16, context: 8192 } });
    const p = plan(e.formats[0]);
    const weights = 70_553_706_496 * 2;
    expect(weights).toBeGreaterThan(80 * GiB);
    expect(p.tensorParallel.value).toBe(2);
    expect(p.tensorParallel.note).toMatch(/do not fit one GPU/);
    expect(p.memory.perGpuAtLoad.weights.value).toBe(weights / 2);
    // Replica of 2: 2 x 72 GiB - weights leaves room for 5 conversations of 8192 x 327,680 B.
    const perReplica = Math.floor((2 * 80 * GiB * 0.9 - weights) / (8192 * 327_680));
    expect(perReplica).toBe(5);
    expect(p.gpus.memoryBound.value).toBe(2 * Math.ceil(16 / perReplica));
    expect(p.gpus).toMatchObject({ needed: { value: 8 }, decidedBy: 'memory' });
  });

  it('lets throughput decide when many fast users fit in memory (SmolLM2-135M on an L4)', () => {
    const e = estimateDeploymentCost({
      model: model('smollm2-135m'),
      hardware: hardware('l4'),
      kv: [{ format: { kind: 'q8_0' } }],
      workload: { users: 200, context: 4096, targetDecodeTokensPerSecondPerUser: 50 },
    });
    const p = plan(e.formats[0]);
    // A step may take 1/50 s: 300 GB/s x 0.6 x 0.02 s of reads, less the (tied, so all) weights.
    const bytesPerToken = (2 * 30 * 3 * 64 * 8.5) / 8;
    const bySpeed = Math.floor((300e9 * 0.6 * 0.02 - 134_515_008 * 2) / (4096 * bytesPerToken));
    expect(bySpeed).toBe(66);
    expect(p.gpus.memoryBound.value).toBe(1);
    expect(p.gpus.throughputBound.value).toBe(Math.ceil(200 / bySpeed));
    expect(p.gpus).toMatchObject({ needed: { value: 4 }, decidedBy: 'per-user speed' });
    expect(p.throughput.decodePerUser.value).toBeGreaterThanOrEqual(50);
  });

  it('sizes for a daily demand larger than the concurrency suggests', () => {
    const base: CostInput = { model: model('llama-3-8b'), hardware: hardware('h100-sxm'), kv: [{ format: { kind: 'rvq', depth: 8 } }], workload: { users: 8, context: 4096 } };
    const light = plan(estimateDeploymentCost(base).formats[0]);
    const capacity = light.throughput.requestsPerDayCapacity.value;
    const heavy = plan(estimateDeploymentCost({ ...base, workload: { ...base.workload, requestsPerDay: capacity * 2.5 } }).formats[0]);
    expect(heavy.gpus).toMatchObject({ needed: { value: 3 }, decidedBy: 'daily demand' });
    expect(heavy.throughput.requestsPerDayCapacity.value).toBeGreaterThanOrEqual(capacity * 2.5);
  });

  it('says when no split within one node can serve a conversation, and why', () => {
    const base: CostInput = { model: model('llama-3-70b'), hardware: hardware('l4'), kv: [{ format: { kind: 'fp16' } }], workload: { users: 1, context: 8192 } };
    // 8 L4s hold the weights but stream 141 GB / 8 per step at 300 GB/s x 0.6: about 10 tokens/s.
    expect(plan(estimateDeploymentCost(base).formats[0]).tensorParallel.value).toBe(8);
    const tooFast = estimateDeploymentCost({ ...base, workload: { ...base.workload, targetDecodeTokensPerSecondPerUser: 20 } });
    expect(tooFast.formats[0].plan).toEqual({ feasible: false, problem: expect.stringMatching(/even 8 GPU\(s\) per replica lack the per-user speed target/) });
    const oneGpu = estimateDeploymentCost({ ...base, deployment: { tensorParallel: 1 } });
    expect(oneGpu.formats[0].plan).toEqual({ feasible: false, problem: expect.stringMatching(/even 1 GPU\(s\) per replica lack memory/) });
    expect(oneGpu.series.depthSweep.fp16).toEqual({ gpus: null, monthlyUsd: null });
  });

  it('counts int4 weights as the import writes them: blocks with scales and zero points, fp16 embedding, 8-bit classifier', () => {
    const e = estimateDeploymentCost({ ...l40sCase, weights: 'int4' });
    // Llama-3-8B: 32 layers x (q 4096x4096, k/v 1024x4096, o 4096x4096, gate/up/down 14336x4096) = 6,979,321,856 values
    // in int4 blocks of 32 (16 B codes + 4 B scale + 0.5 B zero point) = 4,471,128,064 B; lm_head 128256x4096 in 8-bit
    // blocks of 128 (128 + 4 B) = 541,753,344 B; embedding fp16 1,050,673,152 B; 65 norms x 4096 in fp16 = 532,480 B
    expect(e.model.weightBytes.value).toBe(4_471_128_064 + 541_753_344 + 1_050_673_152 + 532_480);
    expect(e.notes.join(' ')).toMatch(/same bytes as the fit check/);
  });

  it('uses only the GPU-accessible share of Apple unified memory', () => {
    const e = estimateDeploymentCost({ ...l40sCase, hardware: hardware('m2-ultra-192gb') });
    expect(e.hardware.usableMemoryPerGpu.value).toBeCloseTo(192 * GiB * 0.75 * 0.9, 0);
  });

  it('labels the efficiency measured when the engine measured it, and decodes faster with a higher one', () => {
    const assumed = estimateDeploymentCost(l40sCase);
    const measured = estimateDeploymentCost({ ...l40sCase, efficiency: { decode: { value: 0.8, source: 'measured', note: 'engine on this machine' } } });
    expect(assumed.efficiency.decode).toMatchObject({ value: 0.6, source: 'assumed' });
    expect(measured.efficiency.decode).toMatchObject({ value: 0.8, source: 'measured' });
    expect(plan(measured.formats[3]).throughput.decodePerUser.value / plan(assumed.formats[3]).throughput.decodePerUser.value).toBeCloseTo(0.8 / 0.6, 9);
  });

  it('prices the cloud by the hour whether busy or not', () => {
    const e = estimateDeploymentCost({ ...l40sCase, money: { pricing: 'cloud' } });
    expect(e.hardware.monthlyCostPerGpu.value).toBeCloseTo(1.0 * 730, 9);
    expect(plan(e.formats[0]).money.monthly.value).toBeCloseTo(2 * 730, 9);
  });

  it('names the defaults it assumed and the config facts it does not model', () => {
    const e = estimateDeploymentCost({ ...l40sCase, model: model('mistral-7b-v0.1'), money: { pue: 1.2 } });
    expect(e.notes).toContain('assumed defaults: utilisation 0.5, amortisation over 36 months, electricity $0.15/kWh');
    expect(e.notes.join(' ')).toMatch(/4096-token sliding window/);
    expect(e.workload.targetDecodeSpeedPerUser.note).toMatch(/^assumed default/);
  });

  it('passes measured quality through beside its format', () => {
    const quality = { perplexityDeltaPercent: 0.5, klDivergence: 0.004, top1AgreementPercent: 97.5, measuredOn: 'stories260K, held-out sample' };
    const e = estimateDeploymentCost({ ...l40sCase, kv: [{ format: { kind: 'rvq', depth: 8 }, measuredQuality: quality }] });
    expect(e.formats[0].measuredQuality).toEqual(quality);
  });
});

describe('series', () => {
  const e = estimateDeploymentCost(l40sCase);

  it('memory vs context per format, up to the model limit', () => {
    const fp16 = e.series.memoryVsContext.formats[0];
    expect(fp16.label).toBe('fp16');
    expect(fp16.points.map((p) => p.context)).toEqual([256, 512, 1024, 2048, 4096, 8192]);
    expect(fp16.points.at(-1)).toEqual({ context: 8192, kvBytes: 32 * 8192 * 131_072, totalBytes: 8_030_261_248 * 2 + 32 * 8192 * 131_072 });
  });

  it('GPUs and monthly cost for RVQ depths 1 to 8 beside fp16', () => {
    const sweep = e.series.depthSweep;
    expect(sweep.points.map((p) => p.depth)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(sweep.points.map((p) => p.bytesPerToken)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((d) => 64 * (Math.ceil((32 * d * 11) / 8) + 16 + 1))); // codes + 8 fp16 scales + the depth byte, per row
    expect(sweep.points.every((p) => p.gpus === 1)).toBe(true);
    expect(sweep.fp16.gpus).toBe(2);
    expect(sweep.fp16.monthlyUsd).toBeCloseTo(2 * e.hardware.monthlyCostPerGpu.value, 9);
  });
});

describe('invalid input is rejected naming the field', () => {
  const cases: Array<[string, CostInput, RegExp]> = [
    ['context beyond the model limit', { ...l40sCase, workload: { users: 32, context: 10_000 } }, /workload\.context: 10000 tokens is beyond Llama-3-8B's limit of 8192/],
    ['zero users', { ...l40sCase, workload: { users: 0, context: 8192 } }, /workload\.users: must be at least 1/],
    ['zero GPUs per replica', { ...l40sCase, deployment: { tensorParallel: 0 } }, /deployment\.tensorParallel: must be at least 1/],
    ['zero GPUs available', { ...l40sCase, deployment: { gpusAvailable: 0 } }, /deployment\.gpusAvailable: must be at least 1/],
    ['a split that cuts heads', { ...l40sCase, deployment: { tensorParallel: 3 } }, /deployment\.tensorParallel: 3 must divide/],
    ['negative price', { ...l40sCase, money: { purchaseUsdPerGpu: -1 } }, /money\.purchaseUsdPerGpu: must not be negative/],
    ['PUE below 1', { ...l40sCase, money: { pue: 0.9 } }, /money\.pue: must be at least 1/],
    ['utilisation above 1', { ...l40sCase, money: { utilisation: 1.5 } }, /money\.utilisation: must be at most 1/],
    ['no cloud price for Apple', { ...l40sCase, hardware: hardware('m2-ultra-192gb'), money: { pricing: 'cloud' } }, /money\.cloudUsdPerGpuHour: the catalog has no cloud price/],
    ['codebook size not a power of two', { ...l40sCase, kv: [{ format: { kind: 'rvq', depth: 8, codebookSize: 1000 } }] }, /kv\.0\.format: .*codebookSize: must be a power of two/],
    ['group size not dividing head_dim', { ...l40sCase, kv: [{ format: { kind: 'rvq', depth: 8, groupSize: 48 } }] }, /kv\.0\.format: .*groupSize/],
    ['no KV format', { ...l40sCase, kv: [] }, /kv: give at least one KV format/],
    ['prompt + answer over the context', { ...l40sCase, workload: { users: 1, context: 1000, promptTokens: 900, answerTokens: 200 } }, /workload\.promptTokens: prompt 900 \+ answer 200/],
    ['both kinds of demand', { ...l40sCase, workload: { users: 1, context: 8192, requestsPerDay: 1, tokensPerDay: 1 } }, /workload\.tokensPerDay: give requestsPerDay or tokensPerDay/],
    ['efficiency above 1', { ...l40sCase, efficiency: { decode: { value: 1.2, source: 'measured' } } }, /efficiency\.decode\.value: must be at most 1/],
  ];
  it.each(cases)('%s', (_name, input, message) => {
    expect(() => estimateDeploymentCost(input)).toThrow(message);
  });
});
