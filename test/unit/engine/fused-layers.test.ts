// The fused path's one-token step on the kernel's own layers (KernelLayers: GEMVs, norms, SiLU and
// residuals outside ONNX Runtime) on the real tiny models: stories260K (head_dim 8) and TinyStories-656K
// (GQA, head_dim 16, tied embedding stored as lm_head.weight). After a prompt (the split graph's
// segments), several one-token steps: against the same decoder on the segments (the ONNX Runtime split
// path) for the fp16 cache and RVQ codes at every depth, against the float64 reference model for the
// codes, and with a norm weight or o_proj tampered with to show the comparison catches a dropped term.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RvqCodec, createRng, parseRvqSpec } from '../../../quant/index.js';
import type { CodebookSet, RvqSpec } from '../../../quant/index.js';
import { FusedDecoder, fusedCodebooks } from '../../../main/engine/fused/fused-decoder.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';
import { KernelFp16KvStore } from '../../../main/engine/fused/kernel-fp16-store.js';
import { KernelLayers, kernelLayersGap } from '../../../main/engine/fused/kernel-layers.js';
import type { LayerWeightReader } from '../../../main/engine/fused/kernel-layers.js';
import { kernelStorage } from '../../../main/engine/fused/kernel-storage.js';
import { buildSplitSegments, openSplitSessions } from '../../../main/engine/fused/split-graph.js';
import { KvCodeStore } from '../../../main/engine/kv-code-store.js';
import type { KvStore } from '../../../main/engine/kv-store.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { readHfCheckpoint } from '../../../main/model/hf.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import type { LoadedCheckpoint } from '../../../main/model/weights.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { tinyConfig } from './tiny-model.js';

function maxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
  return worst;
}

const models = [
  {
    name: 'stories260K',
    path: fixtures.stories260K,
    open: () => readLlama2cCheckpoint(fixtures.stories260K),
    // one 32-channel group over the 4 KV heads, a token scale
    spec: parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 3, grouping: 'contiguous', groupSpan: 'token', scale: 'token' }),
    ids: [1, 265, 270, 281, 290, 299, 283, 286, 265, 300, 277],
  },
  {
    name: 'TinyStories-656K',
    path: fixtures.tinyStories656K,
    open: () => readHfCheckpoint(fixtures.tinyStories656K),
    // strided 8-channel groups within each head (the call order permutes channels), a head scale
    spec: parseRvqSpec({ headDim: 16, numKvHeads: 4, groupSize: 8, codebookSize: 16, depth: 3, grouping: 'strided', groupSpan: 'head', scale: 'head' }),
    ids: [1, 365, 1200, 281, 90, 1999, 283, 86, 765, 300, 1777],
  },
];
const PROMPT = 6;
/**
 * Logits (up to ~16 in magnitude here) within this of the split graph's and the reference's: the
 * products sum in another order (~1e-7 relative), which can flip the fp16 rounding of a cached key
 * or of a token's scale (measured: 4e-4 for the fp16 cache, 1.9e-3 where a scale flipped at depth 2
 * on TinyStories-656K; 8-24 with a norm weight or o_proj tampered with).
 */
const TOLERANCE = 3e-3;

describe('kernelLayersGap', () => {
  it('takes float32 Llama-like models and names what else it lacks', () => {
    expect(kernelLayersGap(tinyConfig, 'float32')).toBeNull();
    expect(kernelLayersGap({ ...tinyConfig, qkvBias: true }, 'float32')).toBeNull();
    expect(kernelLayersGap(tinyConfig, 'int4')).toMatch(/int4 weights/);
    expect(kernelLayersGap({ ...tinyConfig, activation: 'gelu_tanh' }, 'float32')).toMatch(/gelu_tanh/);
    expect(kernelLayersGap({ ...tinyConfig, normWeightOffset: 1 }, 'float32')).toMatch(/offset/);
  });

  it('refuses weights that would pass the kernel memory before reading any', () => {
    const kernel = new FusedKernel(undefined, { threads: 1 });
    let reads = 0;
    const huge = { ...tinyConfig, vocabSize: 600_000, hiddenSize: 2048 };
    expect(() => KernelLayers.load(kernel, huge, () => reads++)).toThrow(/do not fit the kernel memory/);
    expect(reads).toBe(0);
  });
});

describe.each(models)('kernel layers on $name', ({ path, open, spec, ids }) => {
  const skip = !haveFixtures(path);
  let ck: LoadedCheckpoint;
  let weights: Map<string, Float32Array>;
  let set: CodebookSet;
  let codecs: { key: RvqCodec; value: RvqCodec }[];
  let kernel: FusedKernel;
  let sessions: Awaited<ReturnType<typeof openSplitSessions>>;
  let split: FusedDecoder;
  let dense: FusedDecoder;
  const reader = (tamper: (name: string, w: Float32Array) => void = () => {}): LayerWeightReader => (name, into) => {
    const w = weights.get(name);
    if (!w) throw new Error(`no tensor ${name}`);
    into.set(w);
    tamper(name, into);
  };

  beforeAll(async () => {
    if (skip) return;
    ck = open();
    weights = readAllWeights(ck.weights);
    const rng = createRng(7);
    const book = (s: RvqSpec) => Float32Array.from({ length: s.depth * s.codebookSize * s.groupSize }, (_, i) => rng.normal() / (1 + Math.floor(i / (s.codebookSize * s.groupSize))));
    set = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: ck.config.numLayers }, () => ({ key: book(spec), value: book(spec) })) };
    codecs = set.layers.map((l) => ({ key: new RvqCodec(spec, l.key), value: new RvqCodec(spec, l.value) }));
    kernel = new FusedKernel();
    sessions = await openSplitSessions(buildSplitSegments(ck.config, ck.weights));
    const codebooks = fusedCodebooks(kernel, set);
    expect(codebooks).not.toBeNull();
    split = new FusedDecoder(sessions, ck.config, kernel, codebooks);
    dense = new FusedDecoder(sessions, ck.config, kernel, codebooks, KernelLayers.load(kernel, ck.config, reader()));
    // the helper thread starts asynchronously: let the products run on 2 threads too
    for (let i = 0; i < 100 && kernel.threads !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  });
  afterAll(() => {
    kernel?.close();
    ck?.weights.close();
  });

  const codeStore = (depth: number) => {
    const store = new KvCodeStore({ numLayers: ck.config.numLayers, keySpec: spec, valueSpec: spec, encoders: { key: codecs.map((c) => c.key), value: codecs.map((c) => c.value) }, storage: kernelStorage(kernel) });
    store.setDepth(depth);
    return store;
  };
  const fp16Store = () => new KernelFp16KvStore(kernel, { numLayers: ck.config.numLayers, numKvHeads: ck.config.numKvHeads, headDim: ck.config.headDim });

  /** The prompt on the segments, then one token a step on `decoder`: the one-token steps' logits. */
  async function decode(decoder: FusedDecoder, store: KvStore): Promise<Float32Array[]> {
    await split.step(ids.slice(0, PROMPT), store);
    const rows: Float32Array[] = [];
    for (const t of ids.slice(PROMPT)) rows.push((await decoder.step([t], store)).slice());
    return rows;
  }

  it.skipIf(skip)('steps an fp16 cache as the split graph does', async () => {
    const [fromSplit, fromDense] = [await decode(split, fp16Store()), await decode(dense, fp16Store())];
    expect(fromDense).toHaveLength(ids.length - PROMPT);
    fromSplit.forEach((row, i) => expect(maxError(row, fromDense[i])).toBeLessThan(TOLERANCE));
  });

  it.skipIf(skip).each([1, 2, 3])('steps RVQ codes at depth %i as the split graph does, and as the float64 reference', async (depth) => {
    const stores = [codeStore(depth), codeStore(depth)];
    const [fromSplit, fromDense] = [await decode(split, stores[0]), await decode(dense, stores[1])];
    fromSplit.forEach((row, i) => expect(maxError(row, fromDense[i])).toBeLessThan(TOLERANCE));
    // the same codes: the new tokens were coded from the same keys and values
    for (let layer = 0; layer < ck.config.numLayers; layer++) expect(stores[1].past(layer, 'key').records).toEqual(stores[0].past(layer, 'key').records);
    const reference = new ReferenceModel(ck.config, weights, (layer, kind, row) => Float64Array.from(codecs[layer][kind].decode(codecs[layer][kind].encode(Float32Array.from(row)), depth)));
    const expected = ids.map((t) => reference.forward(t)).slice(PROMPT);
    expected.forEach((row, i) => expect(maxError(row, fromDense[i])).toBeLessThan(TOLERANCE));
  });

  it.skipIf(skip).each([
    ['a norm weight left out (ones)', 'model.layers.0.post_attention_layernorm.weight', (w: Float32Array) => w.fill(1)],
    ['the attention output left out of the residual (o_proj zero)', `model.layers.1.self_attn.o_proj.weight`, (w: Float32Array) => w.fill(0)],
    ['the final norm left out (ones)', 'model.norm.weight', (w: Float32Array) => w.fill(1)],
  ] as const)('differs from the split graph beyond the tolerance with %s', async (_, tensor, change) => {
    const tampered = new FusedDecoder(sessions, ck.config, kernel, null, KernelLayers.load(kernel, ck.config, reader((name, w) => name === tensor && change(w))));
    const [fromSplit, fromTampered] = [await decode(split, fp16Store()), await decode(tampered, fp16Store())];
    expect(Math.max(...fromSplit.map((row, i) => maxError(row, fromTampered[i])))).toBeGreaterThan(100 * TOLERANCE);
  });
});

describe('kernel layers with q/k/v biases (random weights)', () => {
  it('steps an fp16 cache as the split graph does', async () => {
    const config = { ...tinyConfig, qkvBias: true };
    const source = new RandomWeights(config, 3);
    const kernel = new FusedKernel();
    try {
      const sessions = await openSplitSessions(buildSplitSegments(config, source));
      const layers = KernelLayers.load(kernel, config, (name, into) => into.set(source.read(name)));
      const geometry = { numLayers: config.numLayers, numKvHeads: config.numKvHeads, headDim: config.headDim };
      const run = async (decoder: FusedDecoder) => {
        const store = new KernelFp16KvStore(kernel, geometry);
        await decoder.step([3, 7, 11], store);
        return [await decoder.step([5], store), await decoder.step([9], store)];
      };
      const [fromSplit, fromDense] = [await run(new FusedDecoder(sessions, config, kernel)), await run(new FusedDecoder(sessions, config, kernel, null, layers))];
      fromSplit.forEach((row, i) => expect(maxError(row, fromDense[i])).toBeLessThan(TOLERANCE));
    } finally {
      kernel.close();
    }
  });
});
