// RVQ on the keys only or the values only (OneKindRvqStore through the fp graph, one token a step):
// the graph's keys turned back are the model team's reference pre-RoPE keys, what attention reads is
// quant's codec of them, exact byte accounting, save/restore; and the cache choices
// `rvq[:<set>]/keys|values` end to end on stories260K.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RvqCodec, createRng, float16BitsToFloat32, float32ArrayToFloat16, parseRvqSpec, rvqBytesPerToken, rvqCodebookBytes } from '../../../quant/index.js';
import type { RvqSpec } from '../../../quant/index.js';
import { cacheChoiceSchema, openCacheRuntime, parseCacheChoice } from '../../../main/engine/cache-runtime.js';
import { defaultChoices, evaluateLibraryModel } from '../../../main/engine/evaluate-library.js';
import { EngineModel } from '../../../main/engine/engine-model.js';
import { FpGraphDecoder } from '../../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import { tokenMajorFloat32, tokenRowsAsKvRows } from '../../../main/engine/kv-rows.js';
import type { Fp16PastStore, KvKind } from '../../../main/engine/kv-store.js';
import { OneKindRvqStore } from '../../../main/engine/one-kind-rvq-store.js';
import { SingleTokenSteps } from '../../../main/engine/single-token-steps.js';
import { createSession } from '../../../main/engine/session.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { ropeInverseFrequencies, rotateRope } from '../../../main/model/config.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { readManifest } from '../../../main/model/manifest.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { createStoriesLibrary } from './engine-library.js';
import type { StoriesLibrary } from './engine-library.js';
import { tinyConfig } from './tiny-model.js';

const interleavedLlama3: ModelConfig = { ...tinyConfig, rope: { theta: 500000, style: 'interleaved', scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16 } } };
const cpu = { providers: ['cpu' as const], threads: 1 };

describe('rotateRope', () => {
  it('turned back restores the row, for both pairings and llama3 scaling', () => {
    for (const config of [tinyConfig, interleavedLlama3]) {
      const inv = ropeInverseFrequencies(config);
      const row = Float64Array.from({ length: 16 }, (_, i) => Math.sin(3 * i + 1));
      const turned = new Float64Array(16);
      const back = new Float64Array(16);
      rotateRope(config, inv, row, 2, 37, turned);
      rotateRope(config, inv, turned, 2, 37, back, true);
      expect(Math.max(...turned.map((x, i) => Math.abs(x - row[i])))).toBeGreaterThan(0.1);
      back.forEach((x, i) => expect(x).toBeCloseTo(row[i], 12));
    }
  });
});

describe.each([
  ['half-split RoPE', tinyConfig],
  ['interleaved RoPE, llama3 scaling', interleavedLlama3],
])('OneKindRvqStore on a tiny random model (%s)', (_, config) => {
  // W = 2 heads x 8: two 8-channel groups spanning the token (strided), one token scale, C 16, depth 3
  const spec: RvqSpec = parseRvqSpec({ headDim: 8, numKvHeads: 2, groupSize: 8, codebookSize: 16, depth: 3, grouping: 'strided', groupSpan: 'token', scale: 'token' });
  const ids = [1, 7, 30, 12, 5, 22, 9, 41, 3];
  const rng = createRng(5);
  const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, (_, i) => rng.normal() / (1 + Math.floor(i / (spec.codebookSize * spec.groupSize))));
  const codecs = Array.from({ length: config.numLayers }, () => new RvqCodec(spec, book()));
  const inv = ropeInverseFrequencies(config);
  let decoder: FpGraphDecoder;
  let weights: Map<string, Float32Array>;

  beforeAll(async () => {
    const source = new RandomWeights(config, 3);
    decoder = new FpGraphDecoder((await createSession(buildDecoderGraph(config, source, { cacheType: 'float16' }), cpu)).session, config);
    weights = readAllWeights(source);
  });

  const rope = (row: Float64Array, position: number, inverse = false) => {
    const out = new Float64Array(row.length);
    rotateRope(config, inv, row, config.numKvHeads, position, out, inverse);
    return out;
  };

  /** Runs `ids` one token at a time (as a one-kind runtime does), keeping the rows the store was given for `kind`. */
  async function run(store: OneKindRvqStore, kind: KvKind): Promise<{ given: Float32Array[]; logits: Float32Array }> {
    const given: Float32Array[] = Array.from({ length: config.numLayers }, () => new Float32Array(0));
    const recording: Fp16PastStore = {
      format: store.format, geometry: store.geometry,
      get length() { return store.length; },
      append(layer, k, rows) {
        if (k === kind) given[layer] = Float32Array.from([...given[layer], ...tokenMajorFloat32(rows, config.numKvHeads, config.headDim)]);
        store.append(layer, k, rows);
      },
      fp16Past: (layer, k) => store.fp16Past(layer, k),
      truncate: (n) => store.truncate(n), bytes: () => store.bytes(), save: () => store.save(),
    };
    const logits = await new SingleTokenSteps(decoder).step(ids, recording, { allLogits: true });
    return { given, logits };
  }

  /** Token-major rows turned by RoPE at positions 0.. (or back). */
  const turnRows = (rows: Float32Array, inverse: boolean) => {
    const W = config.numKvHeads * config.headDim;
    return Float32Array.from({ length: rows.length }, (_, i) => rope(Float64Array.from(rows.subarray(i - (i % W), i - (i % W) + W)), Math.floor(i / W), inverse)[i % W]);
  };

  it.each([['key', 3], ['key', 1], ['value', 3]] as const)('codes only the %ss (keys pre-RoPE) at depth %i with quant\'s codec, holding exactly their records + the other kind in fp16', async (quantized, depth) => {
    const store = new OneKindRvqStore({ config, quantized, spec, codecs, depths: [depth, depth] });
    const { given, logits } = await run(store, quantized);
    // layer 0's K/V depend on the tokens alone: turned back, the graph's keys are the reference's pre-RoPE keys
    const reference = new ReferenceModel(config, weights);
    ids.forEach((t) => reference.forward(t));
    const W = config.numKvHeads * config.headDim;
    const preRope = quantized === 'key' ? turnRows(given[0], true) : given[0];
    ids.forEach((_, t) => {
      const expected = (quantized === 'key' ? reference.preRopeKeys : reference.values)[0][t];
      for (let c = 0; c < W; c++) expect(Math.abs(preRope[t * W + c] - expected[c])).toBeLessThan(2e-3 * (1 + Math.abs(expected[c])));
    });
    // every layer attends what quant's codec makes of the pre-RoPE rows (turned again for keys), as fp16
    for (let layer = 0; layer < config.numLayers; layer++) {
      const pre = quantized === 'key' ? turnRows(given[layer], true) : given[layer];
      const decoded = codecs[layer].decode(codecs[layer].encode(pre, depth));
      const read = quantized === 'key' ? turnRows(decoded, false) : decoded;
      const expectedPast = float32ArrayToFloat16(tokenRowsAsKvRows(read, config.numKvHeads, config.headDim).data as Float32Array);
      const past = store.fp16Past(layer, quantized);
      let worst = 0;
      for (let i = 0; i < past.length; i++) worst = Math.max(worst, Math.abs(float16BitsToFloat32(past[i]) - float16BitsToFloat32(expectedPast[i])));
      expect(worst).toBeLessThan(1e-2); // fp16 steps (store and test turn keys in float32 and float64)
    }
    // the logits moved: the cache was coded
    const fp16 = await new SingleTokenSteps(decoder).step(ids, new Fp16KvStore(store.geometry), { allLogits: true });
    expect(Math.max(...logits.map((x, i) => Math.abs(x - fp16[i])))).toBeGreaterThan(1e-2);
    const n = ids.length;
    const L = config.numLayers;
    const b = store.bytes();
    expect(b).toMatchObject({ tokens: n, scales: L * n * 2, uncoded: L * n * W * 2, bookkeeping: 0, fp16: 2 * L * n * W * 2, fedPerStep: 2 * L * n * W * 2 });
    expect(b.codes + b.scales).toBe(L * n * rvqBytesPerToken(spec, depth));
    expect(b.codes).toBe(L * n * Math.ceil((2 * depth * 4) / 8));
    expect(store.format).toBe(quantized === 'key' ? 'rvq-keys' : 'rvq-values');
  });

  it('steps one token at a time: the logits of a chunk are those of its tokens stepped singly', async () => {
    const options = { config, quantized: 'value' as const, spec, codecs, depths: [2, 2] };
    const chunked = await new SingleTokenSteps(decoder).step(ids, new OneKindRvqStore(options), { allLogits: true });
    const single = new OneKindRvqStore(options);
    const last = new Float32Array(config.vocabSize);
    for (const [i, t] of ids.entries()) {
      const row = await decoder.step([t], single);
      expect(Array.from(row)).toEqual(Array.from(chunked.subarray(i * config.vocabSize, (i + 1) * config.vocabSize)));
      last.set(row);
    }
    expect(await new SingleTokenSteps(decoder).step(ids, new OneKindRvqStore(options))).toEqual(last);
  });

  it('truncates, and restores a snapshot to the same past; another kind or spec is refused', async () => {
    const options = { config, quantized: 'key' as const, spec, codecs, depths: [3, 2] };
    const store = new OneKindRvqStore(options);
    await run(store, 'key');
    store.truncate(6);
    const restored = OneKindRvqStore.restore(store.save(), options);
    expect(restored.length).toBe(6);
    expect({ ...restored.bytes(), allocated: 0 }).toEqual({ ...store.bytes(), allocated: 0 });
    for (const kind of ['key', 'value'] as const) expect(restored.fp16Past(1, kind)).toEqual(store.fp16Past(1, kind));
    // appending after a truncation codes the new tokens at their positions
    const next = await decoder.step([ids[6]], restored);
    const again = await decoder.step([ids[6]], store);
    expect(next).toEqual(again);
    expect(() => OneKindRvqStore.restore(store.save(), { ...options, quantized: 'value' })).toThrow(/rvq-keys store, not rvq-values/);
    expect(() => OneKindRvqStore.restore(store.save(), { ...options, spec: { ...spec, depth: 4 }, codecs: [] })).toThrow(/spec .* differs/);
    expect(() => new OneKindRvqStore({ ...options, depths: [4, 1] })).toThrow(/layer 0 depth must be a whole number from 1 to 3, got 4/);
  });
});

describe('the cache choices rvq[:<set>]/keys and /values', () => {
  it('parse, and bad names are refused with the forms that exist', () => {
    expect(parseCacheChoice('rvq/keys')).toEqual({ format: 'rvq', only: 'key' });
    expect(parseCacheChoice('rvq:calib-1/values')).toEqual({ format: 'rvq', codebooks: 'calib-1', only: 'value' });
    expect(() => parseCacheChoice('rvq/both')).toThrow(/unknown cache 'rvq\/both': after '\/' comes keys or values/);
    expect(() => parseCacheChoice('rvq:a/keys/values')).toThrow(/unknown cache/);
    expect(() => parseCacheChoice('q8_0/keys')).toThrow(/unknown cache 'q8_0\/keys': only rvq quantizes one kind alone/);
    expect(() => parseCacheChoice('rvq:/keys')).toThrow(/unknown cache 'rvq:\/keys': expected one of/);
    expect(cacheChoiceSchema.parse({ format: 'rvq', codebooks: 'a', only: 'key', depth: 2 })).toEqual({ format: 'rvq', codebooks: 'a', only: 'key', depth: 2 });
    expect(cacheChoiceSchema.safeParse({ format: 'rvq', only: 'both' }).success).toBe(false);
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('keys-only and values-only RVQ of a library model (stories260K, synthetic codebooks)', () => {
  let lib: StoriesLibrary;
  beforeAll(() => {
    lib = createStoriesLibrary();
  });
  afterAll(() => lib.cleanup());

  it('evaluates as rows of their own with exact bytes, beside the rvq cache', async () => {
    const manifest = readManifest(lib.folder);
    const choices = defaultChoices(manifest, { depths: [2] });
    expect(choices.map((c) => c.name)).toEqual(['fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq:synthetic d2', 'rvq:synthetic/keys d2', 'rvq:synthetic/values d2']);
    expect(defaultChoices(manifest, { depths: [2], recentWindow: 4 }).map((c) => c.name).slice(4)).toEqual(['rvq:synthetic d2 R4']);
    const tokens = Array.from({ length: 60 }, (_, i) => (i === 0 ? 1 : 260 + ((i * 37) % 240)));
    const rows = await evaluateLibraryModel(lib.folder, manifest, tokens, [choices[0], ...choices.slice(4)], { session: cpu, chunk: 16 });
    const [fp16, both, keys, values] = rows;
    const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 4, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });
    expect(fp16.quantizes).toBe('none');
    expect(both).toMatchObject({ cache: 'rvq:synthetic', quantizes: 'keys and values', bitsPerValue: 1, // 0.75 + the depth byte per 32 values
      codebookBytes: 5 * 2 * rvqCodebookBytes(spec) });
    for (const [row, quantizes] of [[keys, 'keys only'], [values, 'values only']] as const) {
      expect(row).toMatchObject({ quantizes, bitsPerValue: (0.75 + 16) / 2, codebookBytes: 5 * rvqCodebookBytes(spec) });
      expect(row.bytes).toMatchObject({ codes: 60 * 5 * 1, scales: 60 * 5 * 2, uncoded: 60 * 5 * 32 * 2, fp16: 60 * 5 * 2 * 32 * 2 });
      expect(row.meanKl).toBeGreaterThan(0);
      expect(row.meanKl).toBeLessThan(both.meanKl + 1e-9); // half the cache coded: no worse than all of it (random codebooks)
    }
    expect(keys.cache).toBe('rvq:synthetic/keys');
    expect(values.cache).toBe('rvq:synthetic/values');
  });

  it('opens as a runtime with a fixed depth; a window, a scalar format or a live depth change is refused', async () => {
    const { folder } = lib;
    const manifest = readManifest(folder);
    const runtime = await openCacheRuntime(folder, manifest, parseCacheChoice('rvq/keys'), cpu);
    expect(runtime.label).toBe('rvq:synthetic/keys');
    expect(runtime.bitsPerValue()).toBe((1 + 16) / 2);
    await runtime.release();
    await expect(openCacheRuntime(folder, manifest, { format: 'rvq', only: 'value', recentWindow: 8 }, cpu)).rejects.toThrow(/a recent window applies to the rvq cache of keys and values, not rvq\/values/);
    await expect(openCacheRuntime(folder, manifest, { format: 'q8_0', only: 'key' }, cpu)).rejects.toThrow(/applies to the rvq cache, not q8_0/);
    await expect(openCacheRuntime(folder, manifest, { format: 'rvq', only: 'key', depth: 5 }, cpu)).rejects.toThrow(/depth must be a whole number from 1 to 4/);
    const model = await EngineModel.open({ model: 'stories', library: lib.library, cache: { format: 'rvq', only: 'value', depth: 2 }, session: cpu });
    expect(model.info).toMatchObject({ cache: 'rvq:synthetic/values', maxDepth: null });
    const id = model.createConversation();
    expect(() => model.setDepth(id, { depth: 1 })).toThrow(/codes one kind at a fixed depth/);
    expect(model.figures(id).bitsPerValue).toBeNaN(); // nothing held yet: the figures come from held bytes
    await model.release();
  });
});
