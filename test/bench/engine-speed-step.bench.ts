// npm run bench:step (issue 15): where one decode step of the fused CPU path spends its time, and an
// A/B of the two thread choices around the kernel, on random SmolLM2-135M-geometry weights (fp32).
// Variants, interleaved step by step (each decodes its own cache; the order reverses every step):
//   fp16 / d8 / d4 fused with the kernel's helper thread (the default on 2 cores) and without it
//   (kernel 1 thread: no hand-offs); d8 with each layer's keys and values encoded in two kernel calls
//   (-sep: two hand-offs, as before encodePair); the same segment sessions (ONNX Runtime threads sleeping
//   between runs); fp16 and d8 on segments whose pool threads spin --spin-us microseconds after each
//   parallel section before sleeping (-spin; the engine opens them with SEGMENT_SPIN_US); fp16 on segments with 1 intra-op
//   thread (--segment-threads);
//   fp16 / d8 / d4 on the kernel layers (-layers: a one-token step runs no segment; every product a
//   kernel GEMV, norms, SiLU and residuals in the kernel too; weights a second time in kernel memory),
//   and fp16 on them with the kernel on 1 thread (fp16-layers1: no helper to wait for under load);
//   fp16 on the whole-step graph (ONNX Runtime's default spinning pool) as the reference.
// Per fused step it splits the wall time into: segment runs (session.run, 31 a step), kernel attend,
// kernel encode (the new token's codes; kernel calls only), kernel GEMVs (-layers), the encode's JavaScript around the kernel
// (KernelRvqCodec.encodeDecoded / encodeDecodedWith less their kernel calls), and the rest (the decoder's own JavaScript:
// RoPE turn, permutations, packing, store appends, segment feeds). Medians over steps.
// --codebook-size: the RVQ books' entries (2048, the paper's; smaller books are a calibration choice that
// trades quality for fewer codebook-row cache misses).
// Usage: npm run bench:step [-- --past 128,2048 --steps 24 --variants fp16,d8,d4,fp16-k1,d8-k1,d4-k1,d8-sep,fp16-spin,d8-spin,fp16-seg1,fp16-layers,d8-layers,d4-layers,fp16-layers1,graph --spin-us 50 --codebook-size 2048]
import { parseArgs } from 'node:util';
import type * as ort from 'onnxruntime-node';
import { createRng } from '../../quant/index.js';
import { FpGraphDecoder } from '../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../main/engine/fp16-kv-store.js';
import { FusedDecoder, fusedCodebooks } from '../../main/engine/fused/fused-decoder.js';
import { FusedKernel } from '../../main/engine/fused/kernel.js';
import { KernelRvqCodec } from '../../main/engine/fused/kernel-codec.js';
import { KernelFp16KvStore } from '../../main/engine/fused/kernel-fp16-store.js';
import { KernelLayers } from '../../main/engine/fused/kernel-layers.js';
import { kernelStorage } from '../../main/engine/fused/kernel-storage.js';
import { buildSplitSegment, openSplitSessions } from '../../main/engine/fused/split-graph.js';
import type { DecoderStep } from '../../main/engine/generate.js';
import type { KvStore } from '../../main/engine/kv-store.js';
import { createSession } from '../../main/engine/session.js';
import { percentile } from '../../main/engine/timing.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { appendRandomPast, benchConfig, randomCodebooks, randomRvqStore, rvqSpecFor } from './engine-speed.js';

const known = ['fp16', 'd8', 'd4', 'fp16-k1', 'd8-k1', 'd4-k1', 'd8-sep', 'fp16-spin', 'd8-spin', 'fp16-seg1', 'fp16-layers', 'd8-layers', 'd4-layers', 'fp16-layers1', 'graph'] as const;
type Variant = (typeof known)[number];
const { values } = parseArgs({ options: { past: { type: 'string', default: '128' }, steps: { type: 'string', default: '24' }, variants: { type: 'string', default: known.join(',') }, 'segment-threads': { type: 'string', default: '1' }, 'spin-us': { type: 'string', default: '50' }, 'codebook-size': { type: 'string', default: '2048' } } });
const pasts = values.past!.split(',').map(Number);
const steps = Number(values.steps);
const variants = values.variants!.split(',') as Variant[];
const bad = variants.find((v) => !known.includes(v));
if (bad !== undefined) throw new Error(`--variants: unknown '${bad}' (known: ${known.join(', ')})`);
if (pasts.some((p) => !Number.isInteger(p) || p < 1) || !Number.isInteger(steps) || steps < 2) throw new RangeError('--past takes whole numbers >= 1, --steps a whole number >= 2');

const c = benchConfig('smollm2-135m', pasts, steps + 1);
const spec = rvqSpecFor(c, Number(values['codebook-size']));
const rng = createRng(1);
const set = randomCodebooks(c.numLayers, spec, rng);
const weights = new RandomWeights(c, 1);
const geometry = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim };

/** Milliseconds spent in each part during the current step. */
const parts: Record<string, number> = {};
function timed<T extends object>(target: T, method: keyof T & string, part: string): void {
  const original = (target[method] as (...args: unknown[]) => unknown).bind(target);
  const wrapped = (...args: unknown[]) => {
    const started = performance.now();
    const result = original(...args);
    if (result instanceof Promise) return result.finally(() => (parts[part] = (parts[part] ?? 0) + performance.now() - started));
    parts[part] = (parts[part] ?? 0) + performance.now() - started;
    return result;
  };
  Object.assign(target, { [method]: wrapped });
}

const segments = async (threads: number, spinning: false | number = false) => {
  const sessions: ort.InferenceSession[] = [];
  for (let i = 0; i <= c.numLayers; i++) sessions.push(...(await openSplitSessions([buildSplitSegment(c, weights, i)], threads > 0 ? { threads } : {}, spinning)));
  for (const session of sessions) timed(session, 'run', 'runs');
  return sessions;
};
/** Set for a -sep step: the layer's keys and values encoded in two kernel calls (two hand-offs to the helper), as before encodePair. */
let separate = false;
const kernelOf = (threads: 1 | 2) => {
  const kernel = new FusedKernel(undefined, { threads });
  const [encode, encodePair] = [kernel.encode.bind(kernel), kernel.encodePair.bind(kernel)];
  kernel.encodePair = (params, other) => (separate ? [params, other].forEach(encode) : encodePair(params, other));
  timed(kernel, 'attend', 'attend');
  timed(kernel, 'encode', 'encode');
  timed(kernel, 'encodePair', 'encode');
  timed(kernel, 'gemv', 'gemv');
  return kernel;
};
// the encode's JavaScript: the codec calls' time less the kernel encode inside them (counted as 'encode')
for (const method of ['encodeDecoded', 'encodeDecodedWith'] as const) {
  const original = KernelRvqCodec.prototype[method] as (this: KernelRvqCodec, ...args: unknown[]) => unknown;
  Object.assign(KernelRvqCodec.prototype, {
    [method](this: KernelRvqCodec, ...args: unknown[]) {
      const [started, before] = [performance.now(), parts.encode ?? 0];
      const result = original.apply(this, args);
      parts['encode JS'] = (parts['encode JS'] ?? 0) + performance.now() - started - ((parts.encode ?? 0) - before);
      return result;
    },
  });
}

// the -layers variants' prompts run on these too
const shared = variants.some((v) => v !== 'graph' && v !== 'fp16-seg1' && !v.endsWith('-spin')) ? await segments(0) : [];
const kernels = { 2: kernelOf(2), 1: kernelOf(1) };
const decoders = {
  2: new FusedDecoder(shared, c, kernels[2], fusedCodebooks(kernels[2], set)),
  1: new FusedDecoder(shared, c, kernels[1], fusedCodebooks(kernels[1], set)),
};
const residentMiB = () => (process.memoryUsage().rss / 2 ** 20).toFixed(0);
const beforeLayers = residentMiB();
const layeredOn = (threads: 1 | 2) => {
  const layers = KernelLayers.load(kernels[threads], c, (name, into) => into.set(weights.read(name)));
  console.log(`resident ${beforeLayers} MiB with the segments, ${residentMiB()} MiB with the kernel layers too (their weights: ${(layers.weightBytes / 2 ** 20).toFixed(0)} MiB of kernel memory)`);
  return new FusedDecoder(shared, c, kernels[threads], fusedCodebooks(kernels[threads], set), layers);
};
const layered = { 2: variants.some((v) => v.endsWith('-layers')) ? layeredOn(2) : null, 1: variants.includes('fp16-layers1') ? layeredOn(1) : null };
const seg1 = variants.includes('fp16-seg1') ? new FusedDecoder(await segments(Number(values['segment-threads'])), c, kernels[2]) : null;
const spinUs = Number(values['spin-us']);
const spin = variants.some((v) => v.endsWith('-spin')) ? new FusedDecoder(await segments(0, spinUs), c, kernels[2], fusedCodebooks(kernels[2], set)) : null;
const graphSession = variants.includes('graph') ? await createSession(buildDecoderGraph(c, weights, { cacheType: 'float16' }), { providers: ['cpu'] }) : null;
const graph = graphSession && (new FpGraphDecoder(graphSession.session, c) as DecoderStep<KvStore>);
// the helper thread starts asynchronously
await new Promise((resolve) => setTimeout(resolve, 500));
console.log(`fused step A/B, SmolLM2-135M geometry (${c.numLayers} layers), random fp32 weights, RVQ books of ${spec.codebookSize} entries; kernel helper ${kernels[2].threads === 2 ? 'running' : 'NOT running (1 core?)'}; ${steps} steps per variant, interleaved; -spin: pools spin ${spinUs} us`);

function caseOf(variant: Variant, past: number): { decoder: DecoderStep<KvStore>; store: KvStore } {
  const [kind, option] = variant.split('-');
  if (variant === 'graph') return { decoder: graph!, store: appendRandomPast(new Fp16KvStore(geometry), past, rng) };
  const threads = option === 'k1' || option === 'layers1' ? 1 : 2;
  const kernel = kernels[threads];
  const decoder = option === 'seg1' ? seg1! : option === 'spin' ? spin! : option?.startsWith('layers') ? layered[option === 'layers1' ? 1 : 2]! : decoders[threads];
  const store = kind === 'fp16' ? appendRandomPast(new KernelFp16KvStore(kernel, geometry), past, rng) : randomRvqStore(c.numLayers, spec, Number(kind.slice(1)), past, rng, kernelStorage(kernel));
  return { decoder, store };
}

for (const past of pasts) {
  const cases = variants.map((variant) => ({ variant, ...caseOf(variant, past), walls: [] as number[], split: {} as Record<string, number[]> }));
  for (const { decoder, store } of cases) await decoder.step([42], store);
  for (let s = 0; s < steps; s++) {
    for (const entry of s % 2 === 0 ? cases : [...cases].reverse()) {
      for (const part of Object.keys(parts)) delete parts[part];
      separate = entry.variant.endsWith('-sep');
      const started = performance.now();
      await entry.decoder.step([42], entry.store);
      const wall = performance.now() - started;
      entry.walls.push(wall);
      const measured = Object.values(parts).reduce((a, b) => a + b, 0);
      for (const [part, ms] of Object.entries({ ...parts, rest: wall - measured })) (entry.split[part] ??= []).push(ms);
    }
  }
  const reference = percentile(cases[0].walls, 50);
  console.log(`\ncontext ${past} (+${steps} decoded): p50 ms per step [p25-p75], ratio to ${cases[0].variant}; parts: medians over steps`);
  for (const { variant, walls, split } of cases) {
    const p50 = percentile(walls, 50);
    const breakdown = variant === 'graph' ? 'one graph run' : Object.entries(split).map(([part, ms]) => `${part} ${percentile(ms, 50).toFixed(1)}`).join(', ');
    console.log(`  ${variant.padEnd(10)} ${p50.toFixed(1).padStart(6)} [${percentile(walls, 25).toFixed(1)}-${percentile(walls, 75).toFixed(1)}] ${(p50 / reference).toFixed(2)}x | ${breakdown}`);
  }
}
for (const kernel of Object.values(kernels)) kernel.close();
