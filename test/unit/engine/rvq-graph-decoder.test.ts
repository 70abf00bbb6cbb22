// KvCodeStore + RvqGraphDecoder + the generation loop on stories260K, against the model team's
// float64 reference forward whose cache goes through quant's encode/decode (random codebooks):
// at full depth, after lowering the depth mid-sequence, and with a recent window.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { RvqCodec, createRng, float16BitsToFloat32, float32ToFloat16Bits, parseRvqSpec, rvqBytesPerToken } from '../../../quant/index.js';
import type { CodebookSet, KvKind } from '../../../quant/index.js';
import { KvCodeStore } from '../../../main/engine/kv-code-store.js';
import type { KvCodeStoreOptions } from '../../../main/engine/kv-code-store.js';
import { generate } from '../../../main/engine/generate.js';
import { RvqGraphDecoder } from '../../../main/engine/rvq-graph-decoder.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import type { KvTransform } from '../../../main/model/reference.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import type { LoadedCheckpoint } from '../../../main/model/weights.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { buildRvqDecoderGraph } from '../../../main/onnx/rvq-cache.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

// the contract's stories260K layout (one 32-channel group over the 4 KV heads, one token scale), small C
const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 2, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });
// merged tokens (byte-fallback ids have near-identical embeddings, hence near-tied codes)
const ids = [1, 265, 270, 281, 290, 299, 283, 286, 265];

function randomCodebooks(layers: number, seed: number): CodebookSet {
  const rng = createRng(seed);
  const n = spec.depth * spec.codebookSize * spec.groupSize;
  const book = () => Float32Array.from({ length: n }, (_, i) => rng.normal() / (1 + Math.floor(i / (spec.codebookSize * spec.groupSize))));
  return { keySpec: spec, valueSpec: spec, layers: Array.from({ length: layers }, () => ({ key: book(), value: book() })) };
}

const round16 = (row: Float64Array) => row.map((x) => float16BitsToFloat32(float32ToFloat16Bits(x)));

describe.skipIf(!haveFixtures(fixtures.stories260K))('RvqGraphDecoder on stories260K', () => {
  let ck: LoadedCheckpoint;
  let weights: Map<string, Float32Array>;
  let set: CodebookSet;
  let decoder: RvqGraphDecoder;
  let codecs: { key: RvqCodec; value: RvqCodec }[];

  beforeAll(async () => {
    ck = readLlama2cCheckpoint(fixtures.stories260K);
    weights = readAllWeights(ck.weights);
    set = randomCodebooks(ck.config.numLayers, 11);
    codecs = set.layers.map((l) => ({ key: new RvqCodec(spec, l.key), value: new RvqCodec(spec, l.value) }));
    decoder = new RvqGraphDecoder(await ort.InferenceSession.create(buildRvqDecoderGraph(ck.config, ck.weights, set)), ck.config, set);
    return () => ck.weights.close();
  });

  const storeOptions = (recentWindow = 0): KvCodeStoreOptions => ({
    numLayers: ck.config.numLayers, keySpec: spec, valueSpec: spec, recentWindow,
    encoders: { key: codecs.map((c) => c.key), value: codecs.map((c) => c.value) },
  });

  /** quant's encode then decode at `depth`; fp16-rounded instead from position `fp16From` on. */
  const transform = (depth: number, fp16From = Infinity): KvTransform => (layer, kind, row, position) =>
    position >= fp16From ? round16(row) : Float64Array.from(codecs[layer][kind].decode(codecs[layer][kind].encode(Float32Array.from(row)), depth));

  /** Reference logits of every position of `ids`. */
  function referenceLogits(kv: KvTransform): Float64Array[] {
    const ref = new ReferenceModel(ck.config, weights, kv);
    return ids.map((t) => ref.forward(t));
  }

  function maxError(engine: Float32Array, reference: Float64Array): number {
    let worst = 0;
    for (let j = 0; j < reference.length; j++) worst = Math.max(worst, Math.abs(engine[j] - reference[j]));
    return worst;
  }

  /** Prefill 6 tokens, then one at a time; `between` runs after the prefill. Returns each step's last-row logits. */
  async function runEngine(store: KvCodeStore, between: () => void = () => {}): Promise<Float32Array[]> {
    const V = ck.config.vocabSize;
    const rows: Float32Array[] = [];
    const first = await decoder.step(ids.slice(0, 6), store);
    for (let r = 0; r < 6; r++) rows.push(first.slice(r * V, (r + 1) * V));
    between();
    for (const t of ids.slice(6)) rows.push((await decoder.step([t], store)).slice());
    return rows;
  }

  it('matches the reference through quant encode/decode at full depth, holding the formula bytes', async () => {
    const store = new KvCodeStore(storeOptions());
    const engine = await runEngine(store);
    const reference = referenceLogits(transform(2));
    engine.forEach((row, i) => expect(maxError(row, reference[i])).toBeLessThan(1e-3));
    const b = store.bytes();
    expect(b.codes + b.scales).toBe(2 * ck.config.numLayers * ids.length * rvqBytesPerToken(spec));
    expect(b.fedPerStep).toBe(b.held);
  });

  it('after lowering the depth mid-sequence, attends the stored tokens cut to the lower depth', async () => {
    const store = new KvCodeStore(storeOptions());
    const engine = await runEngine(store, () => store.setDepth(1));
    // The prefill's K/V were computed under depth-2 attention; from then on they are read at depth 1.
    const prefill = new ReferenceModel(ck.config, weights, transform(2));
    ids.slice(0, 6).forEach((t) => prefill.forward(t));
    const depth1 = transform(1);
    const raw = (layer: number, kind: KvKind, position: number) => (kind === 'key' ? prefill.preRopeKeys : prefill.values)[layer][position];
    const reference = referenceLogits((layer, kind, row, position) => depth1(layer, kind, position < 6 ? raw(layer, kind, position) : row, position));
    for (let i = 6; i < ids.length; i++) expect(maxError(engine[i], reference[i])).toBeLessThan(1e-3);
    expect(Array.from(store.past(0, 'key').depths)).toEqual(Array(ids.length).fill(1));
    expect(store.bytes().codes).toBe(2 * ck.config.numLayers * ids.length); // 1 group x 1 stage x 4 bits -> 1 byte
  });

  it('attends every layer and kind at its own depth, the new tokens of a multi-token step included', async () => {
    const store = new KvCodeStore(storeOptions());
    store.setDepth(1, { layer: 1 });
    store.setDepth(1, { layer: 3, kind: 'value' });
    const engine = await runEngine(store);
    const full = transform(2);
    const shallow = transform(1);
    const reference = referenceLogits((layer, kind, row, position) => (layer === 1 || (layer === 3 && kind === 'value') ? shallow : full)(layer, kind, row, position));
    engine.forEach((row, i) => expect(maxError(row, reference[i])).toBeLessThan(1e-3));
  });

  it('keeps a recent window in fp16 and codes tokens with quant as they leave it', async () => {
    const store = new KvCodeStore(storeOptions(2));
    const engine = await runEngine(store);
    // prefill: positions 4, 5 fall in the window (fp16), 0..3 are coded (as the graph coded them);
    // step 6 adds 6 to the window
    const reference = referenceLogits(transform(2, 4));
    for (let i = 0; i <= 6; i++) expect(maxError(engine[i], reference[i])).toBeLessThan(1e-3);
    // step 7: token 4 leaves the window, coded from its fp16; the K/V of positions 0..6 as computed above
    const before = new ReferenceModel(ck.config, weights, transform(2, 4));
    ids.slice(0, 7).forEach((t) => before.forward(t));
    const q2 = transform(2);
    const step7 = referenceLogits((layer, kind, row, position) => {
      const r = position < 7 ? (kind === 'key' ? before.preRopeKeys : before.values)[layer][position] : row;
      return position < 4 ? q2(layer, kind, r, position) : position === 4 ? q2(layer, kind, round16(r), position) : round16(r);
    });
    expect(maxError(engine[7], step7[7])).toBeLessThan(1e-3);
    expect(store.past(3, 'value')).toMatchObject({ codedTokens: 7, windowTokens: 2 });
    expect(store.bytes().uncoded).toBe(2 * ck.config.numLayers * 2 * 32 * 2);
  });

  it('generates through the loop with a live store', async () => {
    const store = new KvCodeStore(storeOptions());
    const result = await generate({ decoder, store, tokenizer: { eosIds: [], decode: (t) => t.join(' ') }, input: ids.slice(0, 4), options: { maxTokens: 8 } });
    expect(result.tokens.length).toBe(8);
    expect(store.length).toBe(4 + 7);
    await expect(decoder.step([1], new KvCodeStore({ ...storeOptions(), keySpec: { ...spec, codebookSize: 32 } }))).rejects.toThrow(/specs differ/);
  });
});
