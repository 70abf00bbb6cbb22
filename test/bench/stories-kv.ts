// Real K/V for the quant benchmark: stories260K's capture graph (built in memory from the ../shared
// checkpoint) run over TinyStories documents; calibration stories are sampled into a reservoir, held-out
// stories kept whole. Codebooks are trained the way `reskv calibrate` trains them (trainKvCodebooks,
// the nearest-entry search in ONNX Runtime).
import { readFileSync } from 'node:fs';
import {
  attentionOutputError, meanCosine, mse, quantizerBitsPerValue, roundTrip, rvqQuantizer, RvqCodec, SCALAR_FORMATS, scalarQuantizer, snrDb,
} from '../../quant/index.js';
import type { KvQuantizer } from '../../quant/index.js';
import { calibrationSettingsSchema, calibrationSpecs } from '../../main/engine/calibration/calibrate.js';
import { captureChunks, documentTokens, splitDocuments } from '../../main/engine/calibration/calibration-text.js';
import { KvCapture } from '../../main/engine/calibration/kv-capture.js';
import type { LayerKv } from '../../main/engine/calibration/kv-capture.js';
import { KvReservoir } from '../../main/engine/calibration/kv-reservoir.js';
import { OrtNearestEntry } from '../../main/engine/calibration/nearest-entry-graph.js';
import { captureIntoReservoir, trainKvCodebooks } from '../../main/engine/calibration/train-kv.js';
import type { TrainingSettings } from '../../main/engine/calibration/train-kv.js';
import type { ModelConfig } from '../../main/model/config.js';
import { readLlama2cCheckpoint } from '../../main/model/llama2c.js';
import { readLlama2cTokenizer } from '../../main/model/tokenizer-llama2c.js';
import { buildCaptureGraph } from '../../main/onnx/decoder.js';
import { fixtures } from '../support/shared.js';
import { errorColumns, printTable } from './kv-table.js';
import type { ErrorRow } from './kv-table.js';

export interface StoriesKv {
  config: ModelConfig;
  stories: number;
  trainTokens: number;
  /** Calibration sample, [held, W] per layer. */
  train: LayerKv[];
  /** Held-out stories, each [n, W] per layer. */
  heldOut: LayerKv[][];
}

/** Stories [0, trainStories) calibrate (sampled to maxVectors tokens), [firstHeldOut, end) are held out. */
export async function dumpStoriesKv(paths: { checkpoint: string; tokenizer: string; text: string }, split: { trainStories: number; firstHeldOut: number; maxVectors: number; seed: number }): Promise<StoriesKv> {
  const ck = readLlama2cCheckpoint(paths.checkpoint);
  const { config } = ck;
  let capture: KvCapture;
  try {
    capture = await KvCapture.open(buildCaptureGraph(config, ck.weights), config, { providers: ['cpu'] });
  } finally {
    ck.weights.close();
  }
  const tokenizer = readLlama2cTokenizer(paths.tokenizer, config.vocabSize);
  const stories = splitDocuments(readFileSync(paths.text, 'utf8'));
  if (split.firstHeldOut < split.trainStories || split.firstHeldOut >= stories.length) throw new Error(`held-out stories must start after the ${split.trainStories} calibration stories and before ${stories.length}`);
  const chunksOf = (from: number, to: number) => captureChunks(stories.slice(from, to).map((s) => documentTokens(tokenizer, s)), config.maxPositions);
  const width = config.numKvHeads * config.headDim;
  const reservoir = new KvReservoir(config.numLayers, width, split.maxVectors, split.seed);
  await captureIntoReservoir(capture, chunksOf(0, split.trainStories), reservoir);
  const heldOut: LayerKv[][] = [];
  for (const chunk of chunksOf(split.firstHeldOut, stories.length)) heldOut.push(await capture.run(chunk));
  await capture.release();
  return { config, stories: stories.length, trainTokens: reservoir.seen, train: reservoir.rows(), heldOut };
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const QUERIES = 8;

/** Channels of KV head h of rows [n, heads*d] as [n, d]. */
function headRows(rows: Float32Array, heads: number, d: number, h: number): Float32Array {
  const n = rows.length / (heads * d);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) out.set(rows.subarray((i * heads + h) * d, (i * heads + h + 1) * d), i * d);
  return out;
}

/**
 * The real-K/V part of bench:quant: stories260K calibrated with the configuration (C 2048,
 * depth 8, 32-channel groups spanning the token's 4 KV heads, one fp16 scale per token) on the first
 * `trainStories` stories of the shared sample, errors measured on the remaining stories.
 */
export async function realKvBenchmark(options: { trainStories: number; maxVectors: number; seed: number; training: TrainingSettings; logitStd: number }): Promise<void> {
  const started = performance.now();
  const dump = await dumpStoriesKv({ checkpoint: fixtures.stories260K, tokenizer: fixtures.tok512, text: fixtures.validSample }, { trainStories: options.trainStories, firstHeldOut: options.trainStories, maxVectors: options.maxVectors, seed: options.seed });
  const { config, heldOut } = dump;
  const { numLayers, numKvHeads: heads, headDim: d } = config;
  const width = heads * d;
  const heldTokens = heldOut.reduce((n, c) => n + c[0].key.length / width, 0);
  const specs = calibrationSpecs(config, calibrationSettingsSchema.parse({}));
  console.log(`\n==== real K/V: stories260K (${numLayers} layers, ${heads} KV heads x head_dim ${d}) on ${fixtures.validSample} ====`);
  console.log(`calibration: stories 0..${options.trainStories - 1} of ${dump.stories} (${dump.trainTokens} tokens; ${dump.train[0].key.length / width} sampled per layer, seed ${options.seed}); held out: stories ${options.trainStories}..${dump.stories - 1} (${heldOut.length} contexts, ${heldTokens} tokens)`);
  console.log(`RVQ as reskv calibrate trains it: C ${specs.key.codebookSize}, groups of ${specs.key.groupSize} spanning the token's ${heads} KV heads (keys ${specs.key.grouping}, values ${specs.value.grouping}), one fp16 scale per token; k-means sample ${options.training.kmeansSample} x ${options.training.kmeansIterations} iterations, ${options.training.emaPasses} EMA pass, nearest-entry search in ONNX Runtime`);
  console.log(`attention error: per layer, KV head and held-out context, ${QUERIES} queries taken from the next context's pre-RoPE keys (same layer and head), scaled to logit std ${options.logitStd}; pre-RoPE keys (no position rotation); keys table: decoded keys / exact values, values table: exact keys / decoded values`);
  const trainStart = performance.now();
  const search = await OrtNearestEntry.create({ providers: ['cpu'] });
  let lastPrint = 0;
  const trained = await trainKvCodebooks(dump.train, specs, {
    assign: search.assign,
    seed: options.seed,
    training: options.training,
    onProgress: (p) => {
      if (performance.now() - lastPrint < 10_000) return;
      lastPrint = performance.now();
      console.log(`  training layer ${p.layer} ${p.kind}s: stage ${p.stage + 1}/${specs.key.depth} ${p.step}, ${(100 * p.fraction).toFixed(0)}% of all`);
    },
  });
  await search.release();
  console.log(`trained ${numLayers} x 2 quantizers in ${((performance.now() - trainStart) / 1000).toFixed(1)} s`);

  // attention contexts [layer][context][head]: exact keys and values, and queries scaled over the exact keys
  const contexts = Array.from({ length: numLayers }, (_, l) =>
    heldOut.map((chunk, c) =>
      Array.from({ length: heads }, (_, h) => {
        const keys = headRows(chunk[l].key, heads, d, h);
        const n = keys.length / d;
        const q = headRows(heldOut[(c + 1) % heldOut.length][l].key, heads, d, h).slice(0, QUERIES * d);
        for (let i = 0; i < q.length / d; i++) {
          const logits = Array.from({ length: n }, (_, j) => {
            let dot = 0;
            for (let t = 0; t < d; t++) dot += keys[j * d + t] * q[i * d + t];
            return dot / Math.sqrt(d);
          });
          const mean = logits.reduce((a, b) => a + b) / n;
          const std = Math.sqrt(logits.reduce((a, b) => a + (b - mean) ** 2, 0) / n) || 1;
          for (let t = 0; t < d; t++) q[i * d + t] *= options.logitStd / std;
        }
        return { keys, values: headRows(chunk[l].value, heads, d, h), queries: q };
      }),
    ),
  );
  for (const kind of ['key', 'value'] as const) {
    const exact = Array.from({ length: numLayers }, (_, l) => concat(heldOut.map((c) => c[l][kind])));
    const row = (method: string, grouping: string, depth: string, quantizers: KvQuantizer[], decoded: Float32Array[]): ErrorRow => {
      let attn = 0;
      let measured = 0;
      for (let l = 0; l < numLayers; l++) {
        let at = 0;
        contexts[l].forEach((perHead) => {
          const n = perHead[0].keys.length / d;
          const approx = decoded[l].subarray(at * width, (at + n) * width);
          at += n;
          perHead.forEach(({ keys, values, queries }, h) => {
            const mine = headRows(approx, heads, d, h);
            attn += kind === 'key' ? attentionOutputError(queries, keys, values, mine, values, d, d) : attentionOutputError(queries, keys, values, keys, mine, d, d);
            measured++;
          });
        });
      }
      const all = concat(exact);
      const allDecoded = concat(decoded);
      const bits = quantizerBitsPerValue(quantizers[0], heldTokens);
      return { method, grouping, depth, bits, bytesPerToken: quantizers[0].storedBytes(heldTokens) / heldTokens, mse: mse(all, allDecoded), snr: snrDb(all, allDecoded), cos: meanCosine(all, allDecoded, width), attn: attn / measured };
    };
    const rows: ErrorRow[] = [];
    const codecs = trained.layers.map((layer) => new RvqCodec(specs[kind], layer[kind]));
    const encoded = codecs.map((codec, l) => codec.encode(exact[l]));
    for (let depth = 1; depth <= specs[kind].depth; depth++) {
      const quantizers = codecs.map((codec) => rvqQuantizer(codec, depth));
      rows.push(row('rvq', `${specs[kind].grouping}/token`, String(depth), quantizers, quantizers.map((q, l) => q.decode(codecs[l].toRecords(encoded[l], depth), heldTokens))));
    }
    for (const format of SCALAR_FORMATS) {
      const quantizers = exact.map(() => scalarQuantizer(format, width, kind));
      const grouping = format.startsWith('kivi') ? (kind === 'key' ? 'per-channel' : 'per-token') : format === 'fp16' ? '-' : 'blocks of 32';
      rows.push(row(format, grouping, '-', quantizers, quantizers.map((q, l) => roundTrip(q, exact[l]))));
    }
    console.log(`\n${kind === 'key' ? 'keys (pre-RoPE)' : 'values'}: held-out stories, all ${numLayers} layers`);
    printTable(rows, errorColumns);
  }
  console.log(`real K/V run: ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
