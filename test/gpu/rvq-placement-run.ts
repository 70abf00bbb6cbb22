// Child process of rvq-placement.test.ts: creates the rvq graph's WebGPU session with ONNX Runtime's
// verbose log on (its node placements go to stderr) and profiling on, runs two steps at two context
// lengths, and prints each node's output sizes per step as JSON on stdout.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { createRng, parseRvqSpec, rvqCodeBytesPerToken, scalesPerToken, tokenWidth } from '../../quant/index.js';
import type { CodebookSet } from '../../quant/index.js';
import { halfTensor, inputType, stepFeeds } from '../../main/engine/graph-feeds.js';
import { probeProvider } from '../../main/engine/session.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import { withoutHalfFloats } from '../../main/onnx/half-free.js';
import { buildRvqDecoderGraph } from '../../main/onnx/rvq-cache.js';
import { tinyConfig } from '../unit/engine/tiny-model.js';

/** Strided head groups with head scales (the paper's layout), 2 stages of 16 entries. */
const spec = parseRvqSpec({ headDim: 8, numKvHeads: 2, groupSize: 4, codebookSize: 16, depth: 2, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const pastLengths = [3, 9];

const rng = createRng(5);
const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, () => rng.normal());
const set: CodebookSet = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: tinyConfig.numLayers }, () => ({ key: book(), value: book() })) };
const probe = await probeProvider('webgpu');
if (!probe.available) throw new Error(`no WebGPU adapter: ${probe.reason}`);
const graph = buildRvqDecoderGraph(tinyConfig, new RandomWeights(tinyConfig, 3), set);
const dir = mkdtempSync(join(tmpdir(), 'reskv-placement-'));
try {
  const session = await ort.InferenceSession.create(probe.halfFloats ? graph : withoutHalfFloats(graph), {
    executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 0, logVerbosityLevel: 0, enableProfiling: true, profileFilePrefix: join(dir, 'profile'),
  });
  const half = inputType(session, 'past_window.0.key');
  for (const past of pastLengths) {
    const feeds: Record<string, ort.Tensor> = { ...stepFeeds([5], past, 'int32'), depth: new ort.Tensor('int32', Int32Array.of(2), [1]), window_size: new ort.Tensor('int32', Int32Array.of(0), [1]) };
    for (let i = 0; i < tinyConfig.numLayers; i++) {
      for (const kind of ['key', 'value']) {
        feeds[`past_codes.${i}.${kind}`] = new ort.Tensor('uint8', Uint8Array.from({ length: past * rvqCodeBytesPerToken(spec) }, (_, j) => (j * 37) % 256), [1, past, rvqCodeBytesPerToken(spec)]);
        feeds[`past_depths.${i}.${kind}`] = new ort.Tensor('uint8', new Uint8Array(past).fill(2), [1, past]);
        feeds[`past_scales.${i}.${kind}`] = halfTensor(new Uint16Array(past * scalesPerToken(spec)).fill(0x3c00), [1, past, scalesPerToken(spec)], half);
        feeds[`past_window.${i}.${kind}`] = halfTensor(new Uint16Array(0), [1, 0, tokenWidth(spec)], half);
      }
    }
    await session.run(feeds);
  }
  session.endProfiling();
  const events = z.array(z.object({ cat: z.string(), name: z.string(), ts: z.number(), args: z.object({ output_type_shape: z.array(z.record(z.string(), z.array(z.number()))).optional() }).passthrough().optional() })).parse(
    JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.json'))!), 'utf8')),
  );
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.ts).sort((a, b) => a - b);
  const sizes: Record<string, number[]> = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.output_type_shape) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const step = runs.filter((ts) => ts <= e.ts).length - 1;
    const elements = e.args.output_type_shape.map((o) => Object.values(o)[0].reduce((a, b) => a * b, 1)).reduce((a, b) => a + b, 0);
    (sizes[node] ??= [])[step] = elements;
  }
  process.stdout.write(`${JSON.stringify({ pastLengths, sizes })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
