// Decode-step time of the fp graph (fp16 cache, as the engine's fp16 store feeds it) and the rvq
// graph (onnxruntime-node, CPU) on a random model of SmolLM2-135M's geometry, with the paper's
// setting (groups of 32, C = 2048, depth 8; random codebooks: speed does not depend on their
// values), at several past lengths. --profile adds where each graph's kernel time goes, per part.
// Usage: npm run bench:rvq-graph [-- --past 128,512,2048 --steps 9 --profile]
import * as ort from 'onnxruntime-node';
import { parseArgs } from 'node:util';
import type { CodebookSet } from '../../quant/index.js';
import { createRng, parseRvqSpec, rvqCodeBytesPerToken } from '../../quant/index.js';
import type { ModelConfig } from '../../main/model/config.js';
import { stepFeeds } from '../../main/engine/graph-feeds.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../main/onnx/rvq-cache.js';
import { printScopeTable, profileByScope } from './graph-profile.js';

const { values } = parseArgs({ options: { past: { type: 'string', default: '128,512,2048' }, steps: { type: 'string', default: '9' }, profile: { type: 'boolean' } } });
const pasts = values.past!.split(',').map(Number);
const steps = Number(values.steps);

const c: ModelConfig = {
  architecture: 'llama', hiddenSize: 576, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536, vocabSize: 49152, maxPositions: 8192,
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
