// The Cost headline against hand-computed cases: the cheapest format within the acceptable loss and
// its savings against fp16, "KV is not your bottleneck" when no format can save a GPU, GPUs sized on
// the measured decode speed, the serving-engine plan, and the what-if sweeps.
import { describe, expect, it } from 'vitest';
import { estimateDeploymentCost } from '../../../main/cost/estimate.js';
import { builtInHardware } from '../../../main/cost/hardware.js';
import type { CostInput } from '../../../main/cost/input.js';
import { findModelPreset } from '../../../main/cost/model-presets.js';
import { whatIf } from '../../../main/cost/what-if.js';

const GiB = 2 ** 30;
const hardware = (id: string) => builtInHardware().find((h) => h.id === id)!;
const llama3 = findModelPreset('llama-3-8b')!.geometry;
const weights = 8_030_261_248 * 2;
const weightsRead = (8_030_261_248 - 128_256 * 4096) * 2; // the untied input embedding is not streamed
const quality = (perplexityDeltaPercent: number, extra: object = {}) => ({ perplexityDeltaPercent, measuredOn: 'stories260K on the sample', ...extra });
// owned L40S: $8000 over 36 months + 350 W x 0.5 utilisation x PUE 1.5 x 730 h x $0.15/kWh
const l40sMonthly = 8000 / 36 + 0.35 * 0.5 * 1.5 * 730 * 0.15;

const l40s = (kv: CostInput['kv'], extra: Partial<CostInput> = {}): CostInput => ({
  model: llama3,
  hardware: hardware('l40s'),
  kv,
  workload: { users: 32, context: 8192 },
  ...extra,
});

describe('KV is not the bottleneck: Llama-3-8B, 64 users x 8k on one H200', () => {
  const e = estimateDeploymentCost({
    model: llama3,
    hardware: hardware('h200'),
    kv: [{ format: { kind: 'fp16' } }, { format: { kind: 'q8_0' } }, { format: { kind: 'q4_0' } }, { format: { kind: 'rvq', depth: 4 } }],
    workload: { users: 64, context: 8192 },
    acceptableLossPercent: 5,
  });
  const r = e.recommendation;

  it('keeps fp16 on 1 GPU and says why no format saves one: weights 19%, KV 81% of the memory in use', () => {
    // fp16 KV: 8192 tokens x 131,072 B = 1 GiB per conversation, 64 GiB for all; weights 16.06 GB.
    const share = weights / (weights + 64 * GiB);
    expect(share).toBeCloseTo(0.1894, 4);
    expect(r.notBottleneck?.weightsPercent).toBeCloseTo(100 * share, 9);
    expect(r.notBottleneck?.kvPercent).toBeCloseTo(100 * (1 - share), 9);
    expect(r.chosen?.label).toBe('fp16');
    expect(r.savings).toMatchObject({ gpus: 0, usdPerMonth: 0, percent: 0 });
    expect(r.outcomes.map((o) => o.gpus)).toEqual([1, 1, 1, 1]);
    expect(r.sentence).toContain('KV is not your bottleneck here: weights are 19% of the memory in use (KV 81%)');
    expect(r.sentence).toContain('one GPU already holds the weights and all 64 conversations at 8,192 tokens with fp16');
  });

  it('still shows the headroom compression buys: (126.9 GiB - weights) / 1 GiB = 111 conversations with fp16', () => {
    expect(r.fp16?.maxConversationsByMemory).toBe(Math.floor((141 * GiB * 0.9 - weights) / GiB));
    expect(r.fp16?.maxConversationsByMemory).toBe(111);
    // q4_0: 36,864 B/token, 3.56x fewer bytes than fp16
    expect(r.outcomes[2].maxConversationsByMemory).toBe(Math.floor((141 * GiB * 0.9 - weights) / (8192 * 36_864)));
  });
});

describe('Llama-3-8B, 32 users x 8k on L40S: fp16 needs 2 GPUs, the compressed formats 1', () => {
  const kv: CostInput['kv'] = [
    { format: { kind: 'fp16' } },
    { format: { kind: 'q4_0' }, measuredQuality: quality(3) },
    { format: { kind: 'rvq', depth: 4 }, measuredQuality: quality(8) },
    { format: { kind: 'rvq', depth: 8 }, measuredQuality: quality(1) },
  ];

  it('recommends the cheapest format within 5%, the smaller loss on a tie (rvq:8 at +1% over q4_0 at +3%)', () => {
    const e = estimateDeploymentCost(l40s(kv, { acceptableLossPercent: 5 }));
    const r = e.recommendation;
    expect(r.chosen?.label).toBe('rvq:8');
    expect(r.savings?.gpus).toBe(1);
    expect(r.savings?.usdPerMonth).toBeCloseTo(l40sMonthly, 9);
    expect(r.savings?.percent).toBeCloseTo(50, 9);
    const [fp16, , , rvq8] = e.formats.map((f) => (f.plan.feasible ? f.plan.money.perMillionTokens.value : NaN));
    expect(r.savings?.usdPerMillionTokens).toBeCloseTo(fp16 - rvq8, 12);
    expect(r.notBottleneck).toBeNull();
    expect(r.sentence).toMatch(/^Recommended: rvq:8, 1 GPU instead of 2 with fp16: saves 1 GPU, \$251 per month \(50%\) and \$[\d.]+ per million tokens, for a measured perplexity change of \+1\.00% \(within the acceptable 5%\)\.$/);
  });

  it('keeps fp16 when nothing cheaper is within the loss, and names the cheaper lossier format', () => {
    const r = estimateDeploymentCost(l40s(kv, { acceptableLossPercent: 0.5 })).recommendation;
    expect(r.chosen?.label).toBe('fp16');
    expect(r.savings?.gpus).toBe(0);
    expect(r.lossierCheaper?.label).toBe('rvq:8');
    expect(r.sentence).toContain('no format that needs fewer GPUs is known to stay within the acceptable 0.5%');
    expect(r.sentence).toContain('rvq:8 would need 1 GPU ($251/month) but loses +1.00%');
  });

  it('never recommends a format whose quality was not measured, but says what it would save', () => {
    const r = estimateDeploymentCost(l40s([{ format: { kind: 'fp16' } }, { format: { kind: 'q4_0' } }], { acceptableLossPercent: 5 })).recommendation;
    expect(r.chosen?.label).toBe('fp16');
    expect(r.outcomes[1].loss).toBeNull();
    expect(r.unmeasuredCheaper?.label).toBe('q4_0');
    expect(r.sentence).toContain('q4_0 would need 1 GPU ($251/month), but its quality was not measured on this model');
  });

  it('labels quality carried over from another model as such', () => {
    const carried = [{ format: { kind: 'fp16' as const } }, { format: { kind: 'q4_0' as const }, measuredQuality: quality(2, { carriedFrom: 'stories260K' }) }];
    const r = estimateDeploymentCost(l40s(carried, { acceptableLossPercent: 5 })).recommendation;
    expect(r.chosen).toMatchObject({ label: 'q4_0', lossSource: 'carried over', loss: 2 });
    expect(r.sentence).toContain('carried over perplexity change of +2.00%');
  });

  it('recommends without savings when fp16 does not fit: 92 tokens/s per user on L4s', () => {
    // Even split over 8 L4s (300 GB/s x 0.6 each), one fp16 step reads (15.01 GB + 8192 x 131,072 B) / 8:
    // 89.5 tokens/s; q4_0 (36,864 B/token) reaches 94.0, so only q4_0 meets 92.
    const r = estimateDeploymentCost(
      l40s([{ format: { kind: 'fp16' } }, { format: { kind: 'q4_0' }, measuredQuality: quality(1) }], {
        hardware: hardware('l4'),
        workload: { users: 1, context: 8192, targetDecodeTokensPerSecondPerUser: 92 },
        acceptableLossPercent: 5,
      }),
    ).recommendation;
    expect(r.fp16).toBeNull();
    expect(r.chosen).toMatchObject({ label: 'q4_0', gpus: 8 });
    expect(r.savings).toBeNull();
    expect(r.sentence).toMatch(/^Recommended: q4_0, 8 GPUs, \$[\d,]+\/month; fp16 is not compared or does not fit, so no saving against it is shown\.$/);
  });

  it('without an acceptable loss only fp16 qualifies', () => {
    const r = estimateDeploymentCost(l40s(kv)).recommendation;
    expect(r.acceptableLossPercent).toBeNull();
    expect(r.chosen?.label).toBe('fp16');
    expect(r.sentence).toContain('no acceptable loss set in Tradeoffs');
  });
});

describe('GPUs sized on the decode speed ResKV measured', () => {
  // rvq:8 measured at 0.2x fp16: each step takes 5x fp16's roofline, so 10 tokens/s per user needs
  // fp16's step within 0.02 s. One GPU: 0.02 s x 864 GB/s x 0.6 = 10.37 GB < the 15.01 GB of weights
  // read: none. Two: (2 x 10.368e9 - 15,009,849,344) / (8192 x 131,072) = 5.33 -> 5 per replica,
  // ceil(32 / 5) = 7 replicas of 2 = 14 GPUs. The projection (its own roofline) fits 1 GPU.
  const kv: CostInput['kv'] = [{ format: { kind: 'fp16' } }, { format: { kind: 'rvq', depth: 8 }, measuredQuality: quality(1, { decodeSpeedVsFp16: 0.2 }) }];

  it('uses the measured speed by default: 14 GPUs, more than fp16, so fp16 is recommended', () => {
    const e = estimateDeploymentCost(l40s(kv, { acceptableLossPercent: 5 }));
    const rvq8 = e.recommendation.outcomes[1];
    expect(((2 * 0.02 * 864e9 * 0.6 - weightsRead) / (8192 * 131_072)) | 0).toBe(5);
    expect(rvq8).toMatchObject({ gpus: 14, tensorParallel: 2, maxConversationsBySpeed: 5, speedBasis: 'measured' });
    expect(e.recommendation.chosen?.label).toBe('fp16');
    const plan = e.formats[1].plan;
    expect(plan.feasible && plan.serving.machines).toBe(2);
    expect(plan.feasible && plan.serving.layout).toBe('7 replicas of 2 GPUs, 5 conversations each, behind a load balancer; 2 machines of up to 8 GPUs (4 replicas each)');
  });

  it('uses the fused-kernel roofline when the user picks the projection', () => {
    const r = estimateDeploymentCost(l40s(kv, { acceptableLossPercent: 5, decodeHeadline: 'projection' })).recommendation;
    expect(r.outcomes[1]).toMatchObject({ gpus: 1, speedBasis: 'projection' });
    expect(r.chosen?.label).toBe('rvq:8');
  });
});

describe('serving plan', () => {
  const e = estimateDeploymentCost(l40s([{ format: { kind: 'fp16' } }, { format: { kind: 'q8_0' } }, { format: { kind: 'q4_0' } }, { format: { kind: 'rvq', depth: 8 } }]));
  const serving = (i: number) => {
    const plan = e.formats[i].plan;
    if (!plan.feasible) throw new Error(plan.problem);
    return plan.serving;
  };

  it('gives vLLM and llama.cpp server commands for fp16: 2 replicas of 1 GPU, 16 conversations each', () => {
    const s = serving(0);
    expect(s.layout).toBe('2 replicas of 1 GPU, 16 conversations each, behind a load balancer');
    expect(s.options.map((o) => o.command)).toEqual([
      'vllm serve meta-llama/Meta-Llama-3-8B --tensor-parallel-size 1 --max-model-len 8192 --max-num-seqs 16',
      'llama-server -m model.gguf -ngl 99 -np 16 -c 131072 --cache-type-k f16 --cache-type-v f16',
    ]);
  });

  it('maps q8_0 to vLLM fp8 and llama.cpp q8_0, q4_0 to llama.cpp only', () => {
    expect(serving(1).options[0].command).toBe('vllm serve meta-llama/Meta-Llama-3-8B --tensor-parallel-size 1 --max-model-len 8192 --max-num-seqs 32 --kv-cache-dtype fp8');
    expect(serving(1).options[1].command).toBe('llama-server -m model.gguf -ngl 99 -np 32 -c 262144 --cache-type-k q8_0 --cache-type-v q8_0 -fa on');
    expect(serving(2).options[0].command).toBeNull();
    expect(serving(2).options[1].command).toContain('--cache-type-k q4_0 --cache-type-v q4_0');
  });

  it('says plainly that RVQ has no production serving support', () => {
    const s = serving(3);
    expect(s.options).toHaveLength(1);
    expect(s.options[0].command).toBeNull();
    expect(s.options[0].note).toMatch(/^RVQ has no production serving support yet/);
  });
});

describe('what-if sweeps', () => {
  const input = l40s([{ format: { kind: 'fp16' } }, { format: { kind: 'q4_0' }, measuredQuality: quality(3) }], { acceptableLossPercent: 5 });
  const w = whatIf(input, builtInHardware());

  it('sweeps users from a quarter to 8x, context up to the model limit, and every GPU', () => {
    expect(w.users.map((r) => r.value)).toEqual(['8', '16', '32', '64', '128', '256']);
    expect(w.users.find((r) => r.current)?.value).toBe('32');
    expect(w.context.map((r) => r.value)).toEqual(['2,048', '4,096', '8,192']);
    expect(w.gpu).toHaveLength(builtInHardware().length);
    expect(w.gpu.filter((r) => r.current).map((r) => r.value)).toEqual(['NVIDIA L40S 48GB']);
  });

  it('repeats the headline for each: 28 fp16 conversations fit one L40S, so 16 users need 1 GPU and 32 need 2', () => {
    const at = (value: string) => w.users.find((r) => r.value === value)!;
    expect(at('16')).toMatchObject({ fp16: { gpus: 1 }, chosen: { label: 'fp16', gpus: 1 }, savingUsdPerMonth: 0 });
    expect(at('32')).toMatchObject({ fp16: { gpus: 2 }, chosen: { label: 'q4_0', gpus: 1 } });
    expect(at('32').savingUsdPerMonth).toBeCloseTo(l40sMonthly, 9);
  });

  it('names the missing price of a GPU the catalog cannot rent, instead of failing the sweep', () => {
    const cloud = whatIf({ ...input, money: { pricing: 'cloud' } }, builtInHardware());
    const mac = cloud.gpu.find((r) => r.value.startsWith('Apple'))!;
    expect(mac.fp16).toBeNull();
    expect(mac.problem).toContain('money.cloudUsdPerGpuHour');
  });
});
