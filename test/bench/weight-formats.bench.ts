// Quality of the weight formats on stories260K (../shared), measured like the KV formats:
// Part 1 picks the quantized formats' block size and zero points: teacher-forced perplexity of the
// held-out TinyStories text with every linear layer at 8 or 4 bits, blocks of 32 / 64 / 128,
// symmetric or with zero points (fp32 KV; the fp graph built in memory per choice).
// Part 2: the model imported once per weight format (fp32, fp16, int8, int4 with the chosen
// defaults), calibrated on its own K/V, and evaluated with fp16 and RVQ KV (depth 8 and 4), so the
// weight loss, the KV loss and both together are printed against fp32 weights with the fp16 cache.
// Usage: npm run bench:weights [-- --max-eval-tokens 4096 --calibration-stories 150 --skip-rvq]
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { BlockQuantSpec } from '../../quant/weight-quant.js';
import { blockQuantizedBytes } from '../../quant/weight-quant.js';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import { documentTokens, splitDocuments } from '../../main/engine/calibration/calibration-text.js';
import { choiceName, evaluateLibraryModel } from '../../main/engine/evaluate-library.js';
import type { NamedChoice } from '../../main/engine/evaluate-library.js';
import { importModel } from '../../main/library/import-model.js';
import { readLlama2cCheckpoint } from '../../main/model/llama2c.js';
import { readManifest } from '../../main/model/manifest.js';
import { readLlama2cTokenizer } from '../../main/model/tokenizer-llama2c.js';
import type { WeightType } from '../../main/model/weights.js';
import { linearQuantSpecs, weightBytes } from '../../main/model/weights.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { fixtures, haveFixtures } from '../support/shared.js';

const { values } = parseArgs({ options: { 'max-eval-tokens': { type: 'string', default: '4096' }, 'calibration-stories': { type: 'string', default: '150' }, 'skip-rvq': { type: 'boolean' } } });
if (!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample)) process.exit(1);
const calibrationStories = Number(values['calibration-stories']);
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;
const stories = splitDocuments(readFileSync(fixtures.validSample, 'utf8'));
const ck = readLlama2cCheckpoint(fixtures.stories260K);
const c = ck.config;
const tokenizer = readLlama2cTokenizer(fixtures.tok512, c.vocabSize);
const evalTokens = stories.slice(calibrationStories).flatMap((d) => documentTokens(tokenizer, d)).slice(0, Number(values['max-eval-tokens']));

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

console.log(`== Part 1: block size and zero points (stories260K, ${evalTokens.length} held-out tokens in ${c.maxPositions}-token segments, fp32 KV) ==`);
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

if (!values['skip-rvq']) {
  console.log(`\n== Part 2: imported per weight format, each calibrated on its own K/V (stories 0..${calibrationStories - 1}), fp16 vs RVQ KV (C 2048, groups of 32) ==`);
  const dir = mkdtempSync(join(tmpdir(), 'reskv-bench-weights-'));
  try {
    const calibrationFile = join(dir, 'calibration-stories.txt');
    writeFileSync(calibrationFile, stories.slice(0, calibrationStories).join('\n<|endoftext|>\n'));
    const session = { providers: ['cpu' as const] };
    let reference: number | null = null;
    console.log('weights  weight bytes  KV cache   perplexity  vs fp32 weights + fp16 KV   KL vs same weights fp16 KV');
    for (const type of ['float32', 'float16', 'int8', 'int4'] as WeightType[]) {
      const { folder } = importModel(fixtures.stories260K, { library: join(dir, 'library'), id: `stories-${type}`, tokenizer: fixtures.tok512, weightType: type });
      await calibrateModel(folder, { text: { kind: 'files', paths: [calibrationFile] }, settings: { depth: 8, codebookSize: 2048, groupSize: 32, seed: 0 }, session });
      const manifest = readManifest(folder);
      const choices: NamedChoice[] = [{ name: 'fp16', choice: { format: 'fp16' } }, ...[8, 4].map((depth) => ({ name: choiceName('rvq', depth), choice: { format: 'rvq' as const, depth } }))];
      const rows = await evaluateLibraryModel(folder, manifest, evalTokens, choices, { session, chunk: 128 });
      reference ??= rows[0].perplexity;
      for (const r of rows) {
        console.log(`${type.padEnd(9)}${String(weightBytes(c, type).onDisk).padEnd(14)}${r.name.padEnd(11)}${r.perplexity.toFixed(4).padEnd(12)}${pct((100 * (r.perplexity - reference)) / reference).padEnd(28)}${r.meanKl.toFixed(4)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
