// Quality of the weight formats, measured like the KV formats, so an evaluator sees the weight loss,
// the KV loss and both together:
// Main table, on stories260K and TinyStories-656K (../shared): each model imported once per weight
// format (fp32, int8, int4 with the chosen block sizes), calibrated on its own K/V (a small
// calibration, printed), and evaluated teacher-forced on held-out TinyStories text with the fp16
// cache and RVQ at depth 8 and 4; perplexity against fp32 weights with the fp16 cache.
// --block-sweep (stories260K only) first repeats how the quantized formats' block size and zero
// points were chosen: every linear layer at 8 or 4 bits, blocks of 32 / 64 / 128, symmetric or with
// zero points (fp32 KV; the fp graph built in memory per choice).
// Usage: npm run bench:weights [-- --max-eval-tokens 2048 --calibration-stories 100 --codebook-size 256
//        --max-vectors 8192 --kmeans-iterations 8 --weights fp32,int8,int4 --block-sweep]
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BlockQuantSpec } from '../../quant/weight-quant.js';
import { blockQuantizedBytes } from '../../quant/weight-quant.js';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import type { CalibrationSettingsInput } from '../../main/engine/calibration/calibrate.js';
import { documentTokens, splitDocuments } from '../../main/engine/calibration/calibration-text.js';
import { choiceName, evaluateLibraryModel, perplexityChangePercent } from '../../main/engine/evaluate-library.js';
import type { NamedChoice } from '../../main/engine/evaluate-library.js';
import { importModel } from '../../main/library/import-model.js';
import { loadLibraryTokenizer } from '../../main/model/library.js';
import { readManifest } from '../../main/model/manifest.js';
import { readLlama2cCheckpoint } from '../../main/model/llama2c.js';
import { readLlama2cTokenizer } from '../../main/model/tokenizer-llama2c.js';
import { linearQuantSpecs, parseWeightType, weightBytes } from '../../main/model/weights.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { fixtures, haveFixtures } from '../support/shared.js';

const { values } = parseArgs({
  options: {
    'max-eval-tokens': { type: 'string', default: '2048' },
    'calibration-stories': { type: 'string', default: '100' },
    'codebook-size': { type: 'string', default: '256' },
    'max-vectors': { type: 'string', default: '8192' },
    'kmeans-iterations': { type: 'string', default: '8' },
    weights: { type: 'string', default: 'fp32,int8,int4' },
    'block-sweep': { type: 'boolean' },
  },
});
if (!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.tinyStories656K, fixtures.validSample)) process.exit(1);
const calibrationStories = Number(values['calibration-stories']);
const maxEvalTokens = Number(values['max-eval-tokens']);
const weightFormats = values.weights.split(',').map(parseWeightType);
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;
const stories = splitDocuments(readFileSync(fixtures.validSample, 'utf8'));
const heldOut = stories.slice(calibrationStories);

if (values['block-sweep']) await blockSweep();

const settings: CalibrationSettingsInput = {
  depth: 8,
  codebookSize: Number(values['codebook-size']),
  groupSize: 32,
  maxVectors: Number(values['max-vectors']),
  kmeansIterations: Number(values['kmeans-iterations']),
  seed: 0,
};
const models = [
  { name: 'stories260K', source: fixtures.stories260K, tokenizer: fixtures.tok512 },
  { name: 'TinyStories-656K', source: fixtures.tinyStories656K, tokenizer: undefined },
];
console.log(`== Weight format x KV format: held-out perplexity (stories ${calibrationStories}.. of ${fixtures.validSample}, at most ${maxEvalTokens} tokens) ==`);
console.log(`calibration per imported model: stories 0..${calibrationStories - 1}, ${JSON.stringify(settings)} (strided keys, contiguous values)`);
const dir = mkdtempSync(join(tmpdir(), 'reskv-bench-weights-'));
try {
  const calibrationFile = join(dir, 'calibration-stories.txt');
  writeFileSync(calibrationFile, stories.slice(0, calibrationStories).join('\n<|endoftext|>\n'));
  const session = { providers: ['cpu' as const] };
  const choices: NamedChoice[] = [{ name: 'fp16', choice: { format: 'fp16' } }, ...[8, 4].map((depth) => ({ name: choiceName('rvq', depth), choice: { format: 'rvq' as const, depth } }))];
  for (const model of models) {
    console.log(`\n${model.name}`);
    console.log('weights  weight MiB  KV cache  perplexity  vs fp32 weights + fp16 KV  vs same weights + fp16 KV  KL vs same weights fp16 KV');
    let reference: number | null = null;
    let evalTokens: number[] | null = null;
    for (const type of weightFormats) {
      const started = performance.now();
      const { folder, manifest } = importModel(model.source, { library: join(dir, 'library'), id: `${model.name}-${type}`, tokenizer: model.tokenizer, weightType: type });
      await calibrateModel(folder, { text: { kind: 'files', paths: [calibrationFile] }, settings, session });
      if (!evalTokens) {
        const tokenizer = loadLibraryTokenizer(folder, manifest);
        evalTokens = heldOut.flatMap((d) => documentTokens(tokenizer, d)).slice(0, maxEvalTokens);
      }
      const rows = await evaluateLibraryModel(folder, readManifest(folder), evalTokens, choices, { session, chunk: 128 });
      reference ??= rows[0].perplexity;
      const mib = (weightBytes(manifest.config, type).onDisk / 2 ** 20).toFixed(2);
      for (const r of rows) {
        console.log(`${type.padEnd(9)}${mib.padEnd(12)}${r.name.padEnd(10)}${r.perplexity.toFixed(4).padEnd(12)}${pct(perplexityChangePercent(r.perplexity, reference)).padEnd(26)}${pct(r.perplexityChangePercent).padEnd(27)}${r.meanKl.toFixed(4)}`);
      }
      console.log(`(${type}: import + calibration + evaluation of ${evalTokens.length} tokens in ${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** Block size and zero points of the quantized formats on stories260K (fp32 KV, graphs built in memory). */
async function blockSweep(): Promise<void> {
  const ck = readLlama2cCheckpoint(fixtures.stories260K);
  const c = ck.config;
  const tokenizer = readLlama2cTokenizer(fixtures.tok512, c.vocabSize);
  const evalTokens = heldOut.flatMap((d) => documentTokens(tokenizer, d)).slice(0, maxEvalTokens);
  /** Teacher-forced perplexity over back-to-back segments of the context length, each from an empty cache. */
  async function perplexity(graph: Uint8Array): Promise<number> {
    const session = await ort.InferenceSession.create(graph, { executionProviders: ['cpu'] });
    let nll = 0;
    let positions = 0;
    for (let at = 0; at + 1 < evalTokens.length; at += c.maxPositions) {
      const ids = evalTokens.slice(at, Math.min(evalTokens.length, at + c.maxPositions));
      const n = ids.length;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n]),
      };
      for (let i = 0; i < c.numLayers; i++) for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, c.numKvHeads, 0, c.headDim]);
      const logits = (await session.run(feeds)).logits.data as Float32Array;
      const v = c.vocabSize;
      for (let p = 0; p + 1 < n; p++) {
        let max = -Infinity;
        for (let j = 0; j < v; j++) max = Math.max(max, logits[p * v + j]);
        let sum = 0;
        for (let j = 0; j < v; j++) sum += Math.exp(logits[p * v + j] - max);
        nll += max + Math.log(sum) - logits[p * v + ids[p + 1]];
        positions++;
      }
    }
    await session.release();
    return Math.exp(nll / positions);
  }
  console.log(`== Block size and zero points (stories260K, ${evalTokens.length} held-out tokens in ${c.maxPositions}-token segments, fp32 KV) ==`);
  const fp32 = await perplexity(buildDecoderGraph(c, ck.weights));
  console.log(`fp32 weights: perplexity ${fp32.toFixed(4)}`);
  const linearShapes = [...ck.weights.shapes].filter(([n, s]) => s.length === 2 && n !== 'model.embed_tokens.weight').map(([, s]) => s);
  const linearValues = linearShapes.reduce((sum, s) => sum + s[0] * s[1], 0);
  console.log(`(linear layers hold ${linearValues} of the model's ${[...ck.weights.shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0)} values; the embedding stays fp16, the tied classifier 8-bit)`);
  console.log('bits  block  zero points  linear bytes/value  perplexity  vs fp32');
  for (const bits of [8, 4] as const) {
    for (const blockSize of [32, 64, 128]) {
      for (const symmetric of [true, false]) {
        const spec: BlockQuantSpec = { bits, blockSize, symmetric };
        const ppl = await perplexity(buildDecoderGraph(c, ck.weights, { weightType: bits === 8 ? 'int8' : 'int4', linearQuant: spec }));
        const bytes = linearShapes.reduce((sum, s) => sum + blockQuantizedBytes(s[0], s[1], spec), 0);
        const chosen = JSON.stringify(linearQuantSpecs[bits === 8 ? 'int8' : 'int4']) === JSON.stringify(spec) ? '  <- default' : '';
        console.log(`${String(bits).padEnd(6)}${String(blockSize).padEnd(7)}${(symmetric ? 'no' : 'yes').padEnd(13)}${(bytes / linearValues).toFixed(3).padEnd(20)}${ppl.toFixed(4).padEnd(12)}${pct((100 * (ppl - fp32)) / fp32)}${chosen}`);
      }
    }
  }
  ck.weights.close();
  console.log();
}
