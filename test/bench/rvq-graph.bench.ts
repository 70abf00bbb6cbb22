// Decode-step time of the fp graph (fp16 cache, as the engine's fp16 store feeds it) and the rvq
// graph (onnxruntime-node, CPU) on a random model of SmolLM2-135M's geometry, with the paper's
// setting (groups of 32, C = 2048, depth 8; random codebooks: speed does not depend on their
// values), at several past lengths. --profile adds where each graph's kernel time goes, per part.
// --load instead prints each graph's node count (per part and op) and how long ONNX Runtime takes to
// create its session (wall and process CPU time) at --layers of SmolLM2's 30, on --provider.
// Usage: npm run bench:rvq-graph [-- --past 128,512,2048 --steps 9 --profile]
//        npm run bench:rvq-graph -- --load [--layers 30 --provider cpu|webgpu]
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { parseArgs } from 'node:util';
import type { CodebookSet } from '../../quant/index.js';
import { createRng, parseRvqSpec, rvqCodeBytesPerToken } from '../../quant/index.js';
import type { ModelConfig } from '../../main/model/config.js';
import { stepFeeds } from '../../main/engine/graph-feeds.js';
import { createSession, probeProvider } from '../../main/engine/session.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../main/onnx/rvq-cache.js';
import { printScopeTable, profileByScope } from './graph-profile.js';

const { values } = parseArgs({
  options: {
    past: { type: 'string', default: '128,512,2048' },
    steps: { type: 'string', default: '9' },
    profile: { type: 'boolean' },
    load: { type: 'boolean' },
    layers: { type: 'string', default: '30' },
    provider: { type: 'string', default: 'cpu' },
  },
});
const pasts = values.past!.split(',').map(Number);
const steps = Number(values.steps);
const layers = Number(values.layers);
if (!Number.isInteger(layers) || layers < 1 || layers > 30) throw new RangeError(`--layers must be a whole number from 1 to 30, got ${values.layers}`);
if (values.provider !== 'cpu' && values.provider !== 'webgpu') throw new RangeError(`--provider must be cpu or webgpu, got ${values.provider}`);
const provider = values.provider;

const c: ModelConfig = {
  architecture: 'llama', hiddenSize: 576, numLayers: values.load ? layers : 30, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536, vocabSize: 49152, maxPositions: 8192,
  normEps: 1e-5, normWeightOffset: 0, activation: 'silu', qkvBias: false, tiedEmbeddings: true, embeddingScale: 1, rope: { theta: 100000, style: 'half', scaling: null },
};
const spec = parseRvqSpec({ headDim: 64, numKvHeads: 3, groupSize: 32, codebookSize: 2048, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const rng = createRng(1);
const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, () => rng.normal());
const set: CodebookSet = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: c.numLayers }, () => ({ key: book(), value: book() })) };
const weights = new RandomWeights(c, 1);
const int32 = (v: number[], dims: number[]) => new ort.Tensor('int32', Int32Array.from(v), dims);

/** Median ms per step of each session, their steps interleaved so both see the same load on a shared CPU. */
async function medians(runs: { session: ort.InferenceSession; feeds: Record<string, ort.Tensor> }[]): Promise<number[]> {
  for (const r of runs) await r.session.run(r.feeds); // warm-up
  const times = runs.map(() => [] as number[]);
  for (let i = 0; i < steps; i++) {
    for (const [k, r] of runs.entries()) {
      const t = performance.now();
      await r.session.run(r.feeds);
      times[k].push(performance.now() - t);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]);
}

const fpModel = buildDecoderGraph(c, weights, { cacheType: 'float16' });
const rvqModel = buildRvqDecoderGraph(c, weights, set);

/** Node count of `model` per builder scope ("kv-cache/encode", ...) and op type. */
function nodeCounts(model: Uint8Array): { total: number; byScope: Map<string, Map<string, number>> } {
  const nodes = onnxProto.onnx.ModelProto.decode(model).graph?.node ?? [];
  const byScope = new Map<string, Map<string, number>>();
  for (const node of nodes) {
    const scope = (node.name ?? '').split('/').slice(0, -1).join('/') || '(top)';
    const ops = byScope.get(scope) ?? new Map<string, number>();
    ops.set(node.opType ?? '?', (ops.get(node.opType ?? '?') ?? 0) + 1);
    byScope.set(scope, ops);
  }
  return { total: nodes.length, byScope };
}

if (values.load) {
  const probe = await probeProvider(provider);
  if (!probe.available) throw new Error(`${provider} is not available here: ${probe.reason}`);
  console.log(`SmolLM2-135M geometry, ${layers} of its 30 layers, random weights; rvq: groups 32, C 2048, depth 8 (K and V); provider ${provider}`);
  for (const [name, model] of [['fp16 graph', fpModel], ['rvq graph', rvqModel]] as const) {
    const { total, byScope } = nodeCounts(model);
    console.log(`${name}: ${total} nodes (${(total / layers).toFixed(0)} per layer)`);
    for (const [scope, ops] of byScope) {
      const count = [...ops.values()].reduce((a, b) => a + b, 0);
      const top = [...ops].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ${n}`);
      console.log(`  ${scope.padEnd(16)} ${String(count).padStart(6)}  ${top.slice(0, 8).join(', ')}${top.length > 8 ? ', ...' : ''}`);
    }
    const cpu = process.cpuUsage();
    const start = performance.now();
    const created = await createSession(model, { providers: [provider] });
    const wall = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    if (created.provider !== provider) throw new Error(`${provider} could not load the ${name}: ${created.skipped.map((k) => k.reason).join('; ')}`);
    console.log(`  session created in ${wall.toFixed(1)} s (process CPU ${((used.user + used.system) / 1e6).toFixed(1)} s)${created.halfFree ? ', float16-free graph' : ''}`);
    await created.session.release();
  }
  process.exit(0);
}

const fp = await ort.InferenceSession.create(fpModel);
const rvq = await ort.InferenceSession.create(rvqModel);
const codeBytes = rvqCodeBytesPerToken(spec);
console.log(`SmolLM2-135M geometry, random weights, 1 new token per step, ${steps} steps; rvq: groups 32, C 2048, depth 8 (${codeBytes} code bytes + 6 scale bytes per token per layer per K/V)`);
for (const past of pasts) {
  const fpFeeds: Record<string, ort.Tensor> = stepFeeds([42], past);
  // the rvq graph's mask, positions, depth and window size are int32 (GPU-shaped)
  const rvqFeeds: Record<string, ort.Tensor> = { ...stepFeeds([42], past, 'int32'), depth: int32([8], [1]), window_size: int32([0], [1]) };
  for (let i = 0; i < c.numLayers; i++) {
    for (const kind of ['key', 'value']) {
      fpFeeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float16', Uint16Array.from({ length: 3 * past * 64 }, () => 0x3c00 + rng.int(1024)), [1, 3, past, 64]);
      rvqFeeds[`past_codes.${i}.${kind}`] = new ort.Tensor('uint8', Uint8Array.from({ length: past * codeBytes }, () => rng.int(256)), [1, past, codeBytes]);
      rvqFeeds[`past_depths.${i}.${kind}`] = new ort.Tensor('uint8', new Uint8Array(past).fill(8), [1, past]);
      rvqFeeds[`past_scales.${i}.${kind}`] = new ort.Tensor('float16', new Uint16Array(past * 3).fill(0x3c00), [1, past, 3]);
      rvqFeeds[`past_window.${i}.${kind}`] = new ort.Tensor('float16', new Uint16Array(0), [1, 0, 192]);
    }
  }
  const [fpMs, rvqMs] = await medians([
    { session: fp, feeds: fpFeeds },
    { session: rvq, feeds: rvqFeeds },
  ]);
  console.log(`past ${String(past).padStart(5)}: fp16 ${fpMs.toFixed(1)} ms/step, rvq ${rvqMs.toFixed(1)} ms/step (x${(rvqMs / fpMs).toFixed(2)}; medians of interleaved steps)`);
  if (values.profile) {
    const fpScopes = await profileByScope(fpModel, fpFeeds, steps);
    const rvqScopes = await profileByScope(rvqModel, rvqFeeds, steps);
    printScopeTable([
      { name: 'fp16', byScope: fpScopes },
      { name: 'rvq', byScope: rvqScopes },
    ]);
    // what a step at 0.8x fp16's speed may spend, against the rvq parts that read none of the past
    const budget = [...fpScopes.values()].reduce((a, b) => a + b, 0) / 0.8;
    const fixed = (rvqScopes.get('kv-cache/encode') ?? 0) + (rvqScopes.get('weights') ?? 0);
    console.log(`0.8x fp16 leaves the rvq step ${budget.toFixed(1)} kernel ms; encoding the new token and the weights alone take ${fixed.toFixed(1)} (${((100 * fixed) / budget).toFixed(0)}%), before any of the past is decoded`);
  }
}
