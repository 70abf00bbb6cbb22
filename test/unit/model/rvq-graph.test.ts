// The rvq decoder graph end to end, against the fp graph (codebooks holding every occurring group
// vector), against quant/'s encoder (emitted codes), and against the reference forward whose cache
// goes through quant/'s encode/decode (random codebooks, any depth, coded past plus fp16 window).
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CodebookSet, KvKind, RvqSpec } from '../../../quant/index.js';
import {
  createRng, decodeCodebooks, encodeCodebooks, float16BitsToFloat32, float32ArrayToFloat16, float32ToFloat16Bits, groupLayout, parseRvqSpec, RvqCodec,
  rowsToGroups, rvqBytesPerToken, rvqCodeBytesPerToken, scalesPerToken, tokenWidth,
} from '../../../quant/index.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import type { KvTransform } from '../../../main/model/reference.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import type { LoadedCheckpoint, WeightSource } from '../../../main/model/weights.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { buildCaptureGraph, buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../../main/onnx/rvq-cache.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import type { Feeds } from './session.js';
import { emptyFpCache, maxLogitError, presentAsPast, stepFeeds } from './session.js';
import { tinyModels } from './tiny-models.js';

// real merged tokens (byte-fallback ids have near-identical untrained embeddings, hence near-tied codes)
const ids = [1, 265, 270, 281, 290, 299, 283, 286, 265];
const prefill = 6;
type Out = ort.InferenceSession.OnnxValueMapType;

/** Pre-RoPE keys and values of every layer as token rows [n, kvHeads*headDim], from the capture graph. */
async function capturedRows(config: ModelConfig, weights: WeightSource): Promise<{ key: Float32Array; value: Float32Array }[]> {
  const session = await ort.InferenceSession.create(buildCaptureGraph(config, weights));
  const out = await session.run(stepFeeds(ids, 0));
  return Array.from({ length: config.numLayers }, (_, l) => ({ key: tokenMajor(out[`keys_pre_rope.${l}`] as ort.Tensor), value: tokenMajor(out[`values.${l}`] as ort.Tensor) }));
}

/** [1, kvh, n, d] -> [n, kvh*d] */
function tokenMajor(t: ort.Tensor): Float32Array {
  const [, kvh, n, d] = t.dims;
  const src = t.data as Float32Array;
  const r = new Float32Array(n * kvh * d);
  for (let h = 0; h < kvh; h++) for (let i = 0; i < n; i++) r.set(src.subarray((h * n + i) * d, (h * n + i + 1) * d), (i * kvh + h) * d);
  return r;
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

function randomCodebooks(config: ModelConfig, spec: RvqSpec, seed: number): CodebookSet {
  const rng = createRng(seed);
  const n = spec.depth * spec.codebookSize * spec.groupSize;
  const book = () => Float32Array.from({ length: n }, (_, i) => rng.normal() / (1 + Math.floor(i / (spec.codebookSize * spec.groupSize))));
  return { keySpec: spec, valueSpec: spec, layers: Array.from({ length: config.numLayers }, () => ({ key: book(), value: book() })) };
}

const kinds = ['key', 'value'] as const;
const specOf = (set: CodebookSet, kind: KvKind) => (kind === 'key' ? set.keySpec : set.valueSpec);

function emptyRvqCache(set: CodebookSet, layers: number): Feeds {
  const feeds: Feeds = {};
  for (let i = 0; i < layers; i++) {
    for (const kind of kinds) {
      const spec = specOf(set, kind);
      feeds[`past_codes.${i}.${kind}`] = new ort.Tensor('uint8', new Uint8Array(0), [1, 0, rvqCodeBytesPerToken(spec)]);
      feeds[`past_depths.${i}.${kind}`] = new ort.Tensor('uint8', new Uint8Array(0), [1, 0]);
      if (scalesPerToken(spec)) feeds[`past_scales.${i}.${kind}`] = new ort.Tensor('float16', new Uint16Array(0), [1, 0, scalesPerToken(spec)]);
      feeds[`past_window.${i}.${kind}`] = new ort.Tensor('float16', new Uint16Array(0), [1, 0, tokenWidth(spec)]);
    }
  }
  return feeds;
}

function concatTokens(t: ort.Tensor, fresh: Uint8Array | Uint16Array, freshTokens: number): ort.Tensor {
  const a = t.data as Uint8Array | Uint16Array;
  const data = a instanceof Uint8Array ? new Uint8Array(a.length + fresh.length) : new Uint16Array(a.length + fresh.length);
  data.set(a);
  data.set(fresh, a.length);
  return new ort.Tensor(t.type as 'uint8' | 'float16', data, [1, t.dims[1] + freshTokens, ...t.dims.slice(2)]);
}

/** Appends a step's new tokens to the coded past (all spec stages). */
function appendCoded(set: CodebookSet, past: Feeds, out: Out): Feeds {
  const next: Feeds = { ...past };
  for (const name of Object.keys(past).filter((n) => n.startsWith('past_codes.'))) {
    const [, layer, kind] = name.split('.');
    const fresh = out[`new_codes.${layer}.${kind}`] as ort.Tensor;
    const n = fresh.dims[1];
    next[name] = concatTokens(past[name], fresh.data as Uint8Array, n);
    next[`past_depths.${layer}.${kind}`] = concatTokens(past[`past_depths.${layer}.${kind}`], new Uint8Array(n).fill(specOf(set, kind as 'key').depth), n);
    const scales = `past_scales.${layer}.${kind}`;
    if (past[scales]) next[scales] = concatTokens(past[scales], out[`new_scales.${layer}.${kind}`].data as Uint16Array, n);
  }
  return next;
}

const controls = (depth: number, window = 0) => ({
  depth: new ort.Tensor('int32', Int32Array.of(depth), [1]),
  window_size: new ort.Tensor('int32', Int32Array.of(window), [1]),
});
/** The rvq graph's step inputs: its mask and positions are int32. */
const rvqStep = (tokens: readonly number[], past: number) => stepFeeds(tokens, past, 'int32');

function maxDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function expectRvqMatchesFp(config: ModelConfig, weights: WeightSource, keySpec: RvqSpec, valueSpec: RvqSpec): Promise<void> {
  const captured = await capturedRows(config, weights);
  // through quant's codebook file, as the app loads codebooks
  const set = decodeCodebooks(encodeCodebooks({ keySpec, valueSpec, layers: captured.map((r) => ({ key: exactCodebooks(keySpec, r.key), value: exactCodebooks(valueSpec, r.value) })) }));
  const rvq = await ort.InferenceSession.create(buildRvqDecoderGraph(config, weights, set));
  const fp = await ort.InferenceSession.create(buildDecoderGraph(config, weights));
  for (const depth of [1, keySpec.depth]) {
    let rvqPast = emptyRvqCache(set, config.numLayers);
    let fpPast = emptyFpCache(config);
    let at = 0;
    for (const chunk of [ids.slice(0, prefill), ...ids.slice(prefill).map((t) => [t])]) {
      const fpOut = await fp.run({ ...stepFeeds(chunk, at), ...fpPast });
      const rvqOut = await rvq.run({ ...rvqStep(chunk, at), ...rvqPast, ...controls(depth) });
      expect(maxDifference(fpOut.logits.data as Float32Array, rvqOut.logits.data as Float32Array)).toBeLessThan(1e-4);
      fpPast = presentAsPast(fpOut);
      rvqPast = appendCoded(set, rvqPast, rvqOut);
      at += chunk.length;
    }
  }
}

const round16 = (row: Float64Array) => row.map((x) => float16BitsToFloat32(float32ToFloat16Bits(x)));

/** quant's encode (all stages) then decode at `depth`, per token row. */
function quantRoundTrip(set: CodebookSet, depth: number): KvTransform {
  const codecs = set.layers.map((l) => ({ key: new RvqCodec(set.keySpec, l.key), value: new RvqCodec(set.valueSpec, l.value) }));
  return (layer, kind, row) => Float64Array.from(codecs[layer][kind].decode(codecs[layer][kind].encode(Float32Array.from(row)), depth));
}

describe.skipIf(!haveFixtures(fixtures.stories260K))('rvq graph on stories260K', () => {
  // the contract's stories260K layout: one 32-channel group per token, one token scale
  const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 2, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });
  const wide = parseRvqSpec({ ...spec, codebookSize: 256, depth: 3 });
  let ck: LoadedCheckpoint;
  let weights: Map<string, Float32Array>;
  beforeAll(() => {
    ck = readLlama2cCheckpoint(fixtures.stories260K);
    weights = readAllWeights(ck.weights);
    return () => ck.weights.close();
  });

  it('equals the fp graph when the codebooks contain every occurring group vector', async () => {
    await expectRvqMatchesFp(ck.config, ck.weights, spec, spec);
  });

  it('emits the codes and scales quant/ encodes for the same K/V', async () => {
    const set = randomCodebooks(ck.config, wide, 5);
    const captured = await capturedRows(ck.config, ck.weights);
    const rvq = await ort.InferenceSession.create(buildRvqDecoderGraph(ck.config, ck.weights, set));
    const out = await rvq.run({ ...rvqStep(ids, 0), ...emptyRvqCache(set, ck.config.numLayers), ...controls(3) });
    const recordBytes = rvqBytesPerToken(wide);
    const codeBytes = rvqCodeBytesPerToken(wide);
    // Layer 0 sees the same inputs in both graphs; deeper layers see attention over lossy K/V in the rvq graph.
    for (const kind of kinds) {
      const codec = new RvqCodec(wide, set.layers[0][kind]);
      const records = codec.toRecords(codec.encode(captured[0][kind]));
      const codes = out[`new_codes.0.${kind}`].data as Uint8Array;
      const scales = out[`new_scales.0.${kind}`].data as Uint16Array;
      for (let t = 0; t < ids.length; t++) {
        expect(Array.from(codes.subarray(t * codeBytes, (t + 1) * codeBytes))).toEqual(Array.from(records.subarray(t * recordBytes, t * recordBytes + codeBytes)));
        expect(scales[t]).toBe(records[t * recordBytes + codeBytes] | (records[t * recordBytes + codeBytes + 1] << 8));
      }
    }
  });

  it('matches the reference forward whose cache goes through quant/ encode+decode, at every depth', async () => {
    const set = randomCodebooks(ck.config, wide, 8);
    const rvq = await ort.InferenceSession.create(buildRvqDecoderGraph(ck.config, ck.weights, set));
    for (const depth of [1, 2, 3]) {
      const ref = new ReferenceModel(ck.config, weights, quantRoundTrip(set, depth));
      let past = emptyRvqCache(set, ck.config.numLayers);
      let at = 0;
      for (const chunk of [ids.slice(0, prefill), ...ids.slice(prefill).map((t) => [t])]) {
        const out = await rvq.run({ ...rvqStep(chunk, at), ...past, ...controls(depth) });
        expect(maxLogitError(ref, chunk, out.logits.data as Float32Array)).toBeLessThan(1e-4);
        past = appendCoded(set, past, out);
        at += chunk.length;
      }
    }
  });

  /** An rvq graph with random codebooks (seed), its cache after the prefill at depth 3, and the next token's feeds. */
  async function prefilled(seed: number) {
    const set = randomCodebooks(ck.config, wide, seed);
    const rvq = await ort.InferenceSession.create(buildRvqDecoderGraph(ck.config, ck.weights, set));
    const first = await rvq.run({ ...rvqStep(ids.slice(0, prefill), 0), ...emptyRvqCache(set, ck.config.numLayers), ...controls(3) });
    return { set, rvq, full: appendCoded(set, emptyRvqCache(set, ck.config.numLayers), first), next: rvqStep([ids[prefill]], prefill) };
  }

  it('reads records cut to a lower depth and per-token depths like a lower runtime depth', async () => {
    const { rvq, full, next } = await prefilled(9);
    // the new token stays fp16 (window_size 1), so only the past's depth handling differs between runs
    const atDepth1 = (await rvq.run({ ...next, ...full, ...controls(1, 1) })).logits.data as Float32Array;
    const held1: Feeds = { ...full };
    const cut: Feeds = { ...full };
    const r1 = rvqCodeBytesPerToken(wide, 1); // 1 group x 8 bits: the first byte of each record
    for (let l = 0; l < ck.config.numLayers; l++) {
      for (const kind of kinds) {
        held1[`past_depths.${l}.${kind}`] = new ort.Tensor('uint8', new Uint8Array(prefill).fill(1), [1, prefill]);
        const records = full[`past_codes.${l}.${kind}`].data as Uint8Array;
        const stride = rvqCodeBytesPerToken(wide);
        cut[`past_codes.${l}.${kind}`] = new ort.Tensor('uint8', Uint8Array.from({ length: prefill * r1 }, (_, i) => records[Math.floor(i / r1) * stride + (i % r1)]), [1, prefill, r1]);
        cut[`past_depths.${l}.${kind}`] = held1[`past_depths.${l}.${kind}`];
      }
    }
    const heldOut = (await rvq.run({ ...next, ...held1, ...controls(3, 1) })).logits.data as Float32Array;
    const cutOut = (await rvq.run({ ...next, ...cut, ...controls(3, 1) })).logits.data as Float32Array;
    expect(heldOut).toEqual(atDepth1);
    expect(cutOut).toEqual(atDepth1);
    const fullDepth = (await rvq.run({ ...next, ...full, ...controls(3, 1) })).logits.data as Float32Array;
    expect(maxDifference(fullDepth, atDepth1)).toBeGreaterThan(1e-3); // depth matters at all
  });

  it('reads each layer at its own record depth (per-layer depth: record sizes differ between layers)', async () => {
    const { rvq, full, next } = await prefilled(11);
    // layer 0 at depth 1, the others at 3: one depth per layer and kind
    const slotDepths = Array.from({ length: 2 * ck.config.numLayers }, (_, slot) => (slot < 2 ? 1 : 3)); // slot 2i + k = layer i, kind k
    const perSlot = { depth: new ort.Tensor('int32', Int32Array.from(slotDepths), [slotDepths.length]), window_size: controls(3, 1).window_size };
    const cut: Feeds = { ...full };
    const r1 = rvqCodeBytesPerToken(wide, 1);
    const stride = rvqCodeBytesPerToken(wide);
    for (const kind of kinds) {
      const records = full[`past_codes.0.${kind}`].data as Uint8Array;
      cut[`past_codes.0.${kind}`] = new ort.Tensor('uint8', Uint8Array.from({ length: prefill * r1 }, (_, i) => records[Math.floor(i / r1) * stride + (i % r1)]), [1, prefill, r1]);
    }
    const fromFull = (await rvq.run({ ...next, ...full, ...perSlot })).logits.data as Float32Array;
    const fromCut = (await rvq.run({ ...next, ...cut, ...perSlot })).logits.data as Float32Array;
    expect(fromCut).toEqual(fromFull);
    const allAt3 = (await rvq.run({ ...next, ...full, ...controls(3, 1) })).logits.data as Float32Array;
    expect(maxDifference(fromFull, allAt3)).toBeGreaterThan(1e-3); // layer 0's depth matters
  });

  it('attends window tokens and new tokens inside window_size in fp16, coded tokens quantized', async () => {
    const set = randomCodebooks(ck.config, wide, 10);
    const rvq = await ort.InferenceSession.create(buildRvqDecoderGraph(ck.config, ck.weights, set));
    const roundTrip = quantRoundTrip(set, 3);
    const ref = new ReferenceModel(ck.config, weights, (layer, kind, row, position) => (position < prefill ? roundTrip(layer, kind, row, position) : round16(row)));
    const a = await rvq.run({ ...rvqStep(ids.slice(0, prefill), 0), ...emptyRvqCache(set, ck.config.numLayers), ...controls(3, 0) });
    expect(maxLogitError(ref, ids.slice(0, prefill), a.logits.data as Float32Array)).toBeLessThan(1e-4);
    const coded = appendCoded(set, emptyRvqCache(set, ck.config.numLayers), a);
    const b = await rvq.run({ ...rvqStep([ids[prefill]], prefill), ...coded, ...controls(3, 1) });
    expect(maxLogitError(ref, [ids[prefill]], b.logits.data as Float32Array)).toBeLessThan(1e-4);
    // token `prefill` now sits in the window as fp16 rows; the next token is new and inside window_size 2
    const windowed: Feeds = { ...coded };
    for (let l = 0; l < ck.config.numLayers; l++) {
      windowed[`past_window.${l}.key`] = new ort.Tensor('float16', float32ArrayToFloat16(tokenMajor(b[`keys_pre_rope.${l}`] as ort.Tensor)), [1, 1, 32]);
      windowed[`past_window.${l}.value`] = new ort.Tensor('float16', float32ArrayToFloat16(tokenMajor(b[`values.${l}`] as ort.Tensor)), [1, 1, 32]);
    }
    const c = await rvq.run({ ...rvqStep([ids[prefill + 1]], prefill + 1), ...windowed, ...controls(3, 2) });
    expect(maxLogitError(ref, [ids[prefill + 1]], c.logits.data as Float32Array)).toBeLessThan(1e-4);
  });
});

describe('rvq graph on a tiny Gemma (strided head groups, per-head scales)', () => {
  const config = tinyModels['gemma (head_dim 12 != 32/4, GeLU-tanh, (1+w) norm, scaled embeddings)'];
  const keySpec = parseRvqSpec({ headDim: 12, numKvHeads: 1, groupSize: 4, codebookSize: 32, depth: 3, grouping: 'strided', groupSpan: 'head', scale: 'head' });
  const valueSpec = parseRvqSpec({ ...keySpec, grouping: 'contiguous', groupSize: 6, codebookSize: 32, depth: 2 });

  it('equals the fp graph when the codebooks contain every occurring group vector', async () => {
    await expectRvqMatchesFp(config, new RandomWeights(config, 9), keySpec, valueSpec);
  });

  it('matches the reference forward whose cache goes through quant/ encode+decode', async () => {
    const weights = new RandomWeights(config, 4);
    const rng = createRng(2);
    const book = (s: RvqSpec) => Float32Array.from({ length: s.depth * s.codebookSize * s.groupSize }, () => rng.normal());
    const set: CodebookSet = { keySpec, valueSpec, layers: Array.from({ length: config.numLayers }, () => ({ key: book(keySpec), value: book(valueSpec) })) };
    const rvq = await ort.InferenceSession.create(buildRvqDecoderGraph(config, weights, set));
    const codecs = set.layers.map((l) => ({ key: new RvqCodec(keySpec, l.key), value: new RvqCodec(valueSpec, l.value) }));
    // runtime depth 2: keys keep 2 of their 3 stages, values both of theirs
    const ref = new ReferenceModel(config, readAllWeights(weights), (layer, kind, row) => Float64Array.from(codecs[layer][kind].decode(codecs[layer][kind].encode(Float32Array.from(row)), 2)));
    let past = emptyRvqCache(set, config.numLayers);
    let at = 0;
    for (const chunk of [ids.slice(0, prefill), ...ids.slice(prefill).map((t) => [t])]) {
      const out = await rvq.run({ ...rvqStep(chunk, at), ...past, ...controls(2) });
      expect(maxLogitError(ref, chunk, out.logits.data as Float32Array)).toBeLessThan(1e-4);
      past = appendCoded(set, past, out);
      at += chunk.length;
    }
  });

  it('rejects codebooks made for another geometry', () => {
    const other = tinyModels['llama (MHA, tied)'];
    const spec = parseRvqSpec({ headDim: 8, numKvHeads: 2, groupSize: 8, codebookSize: 2, depth: 1, grouping: 'contiguous', groupSpan: 'head', scale: 'none' });
    const layers = Array.from({ length: 2 }, () => ({ key: new Float32Array(16), value: new Float32Array(16) }));
    expect(() => buildRvqDecoderGraph(other, new RandomWeights(other, 1), { keySpec: spec, valueSpec: spec, layers })).toThrow('key codebook spec is for 2 KV heads of 8 channels, the model has 4 of 8');
    expect(() => buildRvqDecoderGraph(other, new RandomWeights(other, 1), { keySpec: spec, valueSpec: spec, layers: layers.slice(1) })).toThrow('codebooks are for 1 layers, the model has 2');
  });
});
