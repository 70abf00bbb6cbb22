// Child process of bench:import: opens an imported model's fp graph (fp16 cache) on CPU and prints
// JSON: load time, resident memory before and after the session is created, a 16-token prefill and
// the median time of single-token decode steps. Run alone so its RSS holds this model only.
// Usage: tsx test/bench/load-probe.ts <library model folder> [decode steps]
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { readManifest } from '../../main/model/manifest.js';
import { percentile } from '../../main/engine/timing.js';

const [folder, stepsArg] = process.argv.slice(2);
const steps = Number(stepsArg ?? 8);
const manifest = readManifest(folder);
const c = manifest.config;
const ids = (n: number, from: number) => new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i)), [1, n]);
const feeds = (tokens: number[], past: number, cache: Record<string, ort.Tensor>) => ({
  input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, tokens.length]),
  attention_mask: new ort.Tensor('int64', new BigInt64Array(past + tokens.length).fill(1n), [1, past + tokens.length]),
  position_ids: ids(tokens.length, past),
  ...cache,
});

const rssBefore = process.memoryUsage().rss;
let t = performance.now();
const session = await ort.InferenceSession.create(join(folder, manifest.graphs.fpHalfCache), { executionProviders: ['cpu'] });
const loadSeconds = (performance.now() - t) / 1000;
const rssLoaded = process.memoryUsage().rss;

let cache: Record<string, ort.Tensor> = {};
for (let i = 0; i < c.numLayers; i++) for (const k of ['key', 'value']) cache[`past_key_values.${i}.${k}`] = new ort.Tensor('float16', new Uint16Array(0), [1, c.numKvHeads, 0, c.headDim]);
const prompt = Array.from({ length: 16 }, (_, i) => 10 + i);
t = performance.now();
let out = await session.run(feeds(prompt, 0, cache));
const prefillSeconds = (performance.now() - t) / 1000;
const step = [];
let past = prompt.length;
for (let s = 0; s < steps; s++) {
  cache = Object.fromEntries(Object.entries(out).filter(([n]) => n.startsWith('present.')).map(([n, v]) => [n.replace('present.', 'past_key_values.'), v as ort.Tensor]));
  const logits = out.logits.data as Float32Array;
  if (!logits.every(Number.isFinite)) throw new Error('logits not finite');
  t = performance.now();
  out = await session.run(feeds([(s * 7 + 11) % c.vocabSize], past, cache));
  step.push(performance.now() - t);
  past++;
}
console.log(JSON.stringify({ loadSeconds, rssBefore, rssLoaded, rssPeak: process.resourceUsage().maxRSS * 1024, prefillSeconds, stepMsMedian: percentile(step, 50), stepMsAll: step.map((x) => Math.round(x)) }));
