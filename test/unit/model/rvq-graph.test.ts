// The rvq decoder graph end to end: with codebooks that contain every scaled group vector that
// occurs its logits equal the fp graph's, step after step; with random codebooks its emitted codes
// and scales equal quant/'s encoding of the same pre-RoPE K/V.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { CodebookSet, RvqSpec } from '../../../quant/index.js';
import { createRng, decodeCodebooks, encodeCodebooks, groupLayout, parseRvqSpec, RvqCodec, rowsToGroups, rvqBytesPerToken, rvqCodeBytesPerToken, scalesPerToken } from '../../../quant/index.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import type { WeightSource } from '../../../main/model/weights.js';
import { buildCaptureGraph, buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../../main/onnx/rvq-cache.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import type { Feeds } from './session.js';
import { emptyFpCache, presentAsPast, stepFeeds } from './session.js';
import { tinyModels } from './tiny-models.js';

// real merged tokens (byte-fallback ids have near-identical untrained embeddings, hence near-tied codes)
const ids = [1, 265, 270, 281, 290, 299, 283, 286, 265];
const prefill = 6;

/** Pre-RoPE keys and values of every layer as token rows [n, kvHeads*headDim], from the capture graph. */
async function capturedRows(config: ModelConfig, weights: WeightSource): Promise<{ key: Float32Array; value: Float32Array }[]> {
  const session = await ort.InferenceSession.create(buildCaptureGraph(config, weights));
  const out = await session.run(stepFeeds(ids, 0));
  const { numKvHeads: kvh, headDim: d } = config;
  const rows = (t: ort.Tensor) => {
    const src = t.data as Float32Array; // [1, kvh, n, d]
    const r = new Float32Array(ids.length * kvh * d);
    for (let h = 0; h < kvh; h++) for (let n = 0; n < ids.length; n++) for (let c = 0; c < d; c++) r[n * kvh * d + h * d + c] = src[(h * ids.length + n) * d + c];
    return r;
  };
  return Array.from({ length: config.numLayers }, (_, l) => ({ key: rows(out[`keys_pre_rope.${l}`]), value: rows(out[`values.${l}`]) }));
}

/** Stage 0 holds exactly the scaled group vectors that occur (zero-padded); later stages are all zero. */
function exactCodebooks(spec: RvqSpec, rows: Float32Array): Float32Array {
  const layout = groupLayout(spec);
  const tokens = rows.length / layout.width;
  const vectors = new Float32Array(rows.length);
  rowsToGroups(layout, rows, tokens, vectors, new Uint16Array(tokens * layout.scalesPerToken));
  expect(vectors.length / spec.groupSize).toBeLessThanOrEqual(spec.codebookSize);
  const books = new Float32Array(spec.depth * spec.codebookSize * spec.groupSize);
  books.set(vectors);
  return books;
}

function emptyRvqCache(set: CodebookSet, layers: number): Feeds {
  const feeds: Feeds = {};
  for (let i = 0; i < layers; i++) {
    for (const [kind, spec] of [['key', set.keySpec], ['value', set.valueSpec]] as const) {
      feeds[`past_codes.${i}.${kind}`] = new ort.Tensor('uint8', new Uint8Array(0), [1, 0, rvqCodeBytesPerToken(spec)]);
      if (scalesPerToken(spec)) feeds[`past_scales.${i}.${kind}`] = new ort.Tensor('float16', new Uint16Array(0), [1, 0, scalesPerToken(spec)]);
    }
  }
  return feeds;
}

/** Appends the step's new_* outputs to the past_* feeds along the token axis. */
function appendRvq(past: Feeds, out: ort.InferenceSession.OnnxValueMapType): Feeds {
  const next: Feeds = {};
  for (const [name, t] of Object.entries(past)) {
    const fresh = out[name.replace('past_', 'new_')] as ort.Tensor;
    const a = t.data as Uint8Array | Uint16Array;
    const b = fresh.data as Uint8Array | Uint16Array;
    const data = new (a.constructor as Uint8ArrayConstructor | Uint16ArrayConstructor)(a.length + b.length);
    data.set(a);
    data.set(b, a.length);
    next[name] = new ort.Tensor(t.type as 'uint8' | 'float16', data, [1, t.dims[1] + fresh.dims[1], t.dims[2]]);
  }
  return next;
}

const depthFeed = (d: number) => ({ depth: new ort.Tensor('int64', BigInt64Array.of(BigInt(d)), [1]) });

async function expectRvqMatchesFp(config: ModelConfig, weights: WeightSource, keySpec: RvqSpec, valueSpec: RvqSpec): Promise<void> {
  const captured = await capturedRows(config, weights);
  const set: CodebookSet = decodeCodebooks(
    encodeCodebooks({ keySpec, valueSpec, layers: captured.map((r) => ({ key: exactCodebooks(keySpec, r.key), value: exactCodebooks(valueSpec, r.value) })) }),
  );
  const rvq = await ort.InferenceSession.create(buildRvqDecoderGraph(config, weights, set));
  const fp = await ort.InferenceSession.create(buildDecoderGraph(config, weights));
  for (const depth of [1, keySpec.depth]) {
    let rvqPast = emptyRvqCache(set, config.numLayers);
    let fpPast = emptyFpCache(config);
    let at = 0;
    for (const chunk of [ids.slice(0, prefill), ...ids.slice(prefill).map((t) => [t])]) {
      const fpOut = await fp.run({ ...stepFeeds(chunk, at), ...fpPast });
      const rvqOut = await rvq.run({ ...stepFeeds(chunk, at), ...rvqPast, ...depthFeed(depth) });
      const a = fpOut.logits.data as Float32Array;
      const b = rvqOut.logits.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst).toBeLessThan(1e-4);
      fpPast = presentAsPast(fpOut);
      rvqPast = appendRvq(rvqPast, rvqOut);
      at += chunk.length;
    }
  }
}

describe.skipIf(!haveFixtures(fixtures.stories260K))('rvq graph on stories260K', () => {
  // the contract's stories260K layout: one 32-channel group per token, one token scale
  const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 2, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });

  it('equals the fp graph when the codebooks contain every occurring group vector', async () => {
    const ck = readLlama2cCheckpoint(fixtures.stories260K);
    await expectRvqMatchesFp(ck.config, ck.weights, spec, spec);
    ck.weights.close();
  });

  it('emits the codes and scales quant/ encodes for the same K/V', async () => {
    const ck = readLlama2cCheckpoint(fixtures.stories260K);
    const big = parseRvqSpec({ ...spec, codebookSize: 256, depth: 3 });
    const rng = createRng(5);
    const layers = Array.from({ length: ck.config.numLayers }, () => ({
      key: Float32Array.from({ length: 3 * 256 * 32 }, () => rng.normal() * 0.5),
      value: Float32Array.from({ length: 3 * 256 * 32 }, () => rng.normal() * 0.5),
    }));
    const set: CodebookSet = { keySpec: big, valueSpec: big, layers };
    const captured = await capturedRows(ck.config, ck.weights);
    const rvq = await ort.InferenceSession.create(buildRvqDecoderGraph(ck.config, ck.weights, set));
    const out = await rvq.run({ ...stepFeeds(ids, 0), ...emptyRvqCache(set, ck.config.numLayers), ...depthFeed(3) });
    ck.weights.close();
    const recordBytes = rvqBytesPerToken(big);
    const codeBytes = rvqCodeBytesPerToken(big);
    // Layer 0 sees the same inputs in both graphs; deeper layers see attention over lossy K/V in the rvq graph.
    for (const l of [0]) {
      for (const kind of ['key', 'value'] as const) {
        const records = new RvqCodec(big, layers[l][kind]).toRecords(new RvqCodec(big, layers[l][kind]).encode(captured[l][kind]));
        const codes = out[`new_codes.${l}.${kind}`].data as Uint8Array;
        const scales = out[`new_scales.${l}.${kind}`].data as Uint16Array;
        for (let t = 0; t < ids.length; t++) {
          expect(Array.from(codes.subarray(t * codeBytes, (t + 1) * codeBytes))).toEqual(Array.from(records.subarray(t * recordBytes, t * recordBytes + codeBytes)));
          expect(scales[t]).toBe(records[t * recordBytes + codeBytes] | (records[t * recordBytes + codeBytes + 1] << 8));
        }
      }
    }
  });
});

describe('rvq graph on a tiny Gemma (strided head groups, per-head scales)', () => {
  it('equals the fp graph when the codebooks contain every occurring group vector', async () => {
    const config = tinyModels['gemma (head_dim 12 != 32/4, GeLU-tanh, (1+w) norm, scaled embeddings)'];
    const weights = new RandomWeights(config, 9);
    const keySpec = parseRvqSpec({ headDim: 12, numKvHeads: 1, groupSize: 4, codebookSize: 32, depth: 3, grouping: 'strided', groupSpan: 'head', scale: 'head' });
    const valueSpec = parseRvqSpec({ ...keySpec, grouping: 'contiguous', groupSize: 6, codebookSize: 32, depth: 2 });
    await expectRvqMatchesFp(config, weights, keySpec, valueSpec);
  });

  it('rejects codebooks made for another geometry', () => {
    const config = tinyModels['llama (MHA, tied)'];
    const spec = parseRvqSpec({ headDim: 8, numKvHeads: 2, groupSize: 8, codebookSize: 2, depth: 1, grouping: 'contiguous', groupSpan: 'head', scale: 'none' });
    const layers = Array.from({ length: 2 }, () => ({ key: new Float32Array(16), value: new Float32Array(16) }));
    expect(() => buildRvqDecoderGraph(config, new RandomWeights(config, 1), { keySpec: spec, valueSpec: spec, layers })).toThrow('key codebook spec is for 2 KV heads of 8 channels, the model has 4 of 8');
    expect(() => buildRvqDecoderGraph(config, new RandomWeights(config, 1), { keySpec: spec, valueSpec: spec, layers: layers.slice(1) })).toThrow('codebooks are for 1 layers, the model has 2');
  });
});
