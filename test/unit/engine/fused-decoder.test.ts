// The fused CPU path (split graph + WebAssembly attention kernel) on stories260K: against the float64
// reference model whose cache goes through quant's encode/decode, at every depth, with and without a
// recent window; against the rvq graph (same codes, logits within float tolerance) with per-layer
// depths and a depth change mid-conversation; the fp16 cache against the fp graph. And the committed
// kernel .wasm is what its C source builds to.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { RvqCodec, createRng, float16BitsToFloat32, float32ToFloat16Bits, parseRvqSpec } from '../../../quant/index.js';
import type { CodebookSet } from '../../../quant/index.js';
import { FpGraphDecoder } from '../../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import { FusedDecoder, fusedCodebooks } from '../../../main/engine/fused/fused-decoder.js';
import { FusedKernel, kernelWasmBytes } from '../../../main/engine/fused/kernel.js';
import { KernelFp16KvStore } from '../../../main/engine/fused/kernel-fp16-store.js';
import { kernelStorage } from '../../../main/engine/fused/kernel-storage.js';
import { buildSplitSegments, openSplitSessions, splitGraphVersion } from '../../../main/engine/fused/split-graph.js';
import type { DecoderStep } from '../../../main/engine/generate.js';
import type { BlockStorage } from '../../../main/engine/growable.js';
import { KvCodeStore } from '../../../main/engine/kv-code-store.js';
import type { KvStore } from '../../../main/engine/kv-store.js';
import { RvqGraphDecoder } from '../../../main/engine/rvq-graph-decoder.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import type { KvTransform } from '../../../main/model/reference.js';
import type { LoadedCheckpoint } from '../../../main/model/weights.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../../main/onnx/rvq-cache.js';
import { repoRoot } from '../../support/paths.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { tinyConfig } from './tiny-model.js';

const kernelDir = join(repoRoot, 'main/engine/fused/kernel');
const haveClang = (() => {
  try {
    execFileSync('clang', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

describe('the fused kernel build', () => {
  it.skipIf(!haveClang && process.env.CI !== 'true')('rebuilds from attend.c, matmul.c and layers.c to the committed attend.wasm, byte for byte (needs clang + lld)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reskv-kernel-'));
    try {
      execFileSync(join(kernelDir, 'build.sh'), [join(dir, 'attend.wasm')]);
      expect(Buffer.from(readFileSync(join(dir, 'attend.wasm'))).equals(Buffer.from(kernelWasmBytes()))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the split segment builder', () => {
  it('writes the bytes its splitGraphVersion stands for (a change fails here: raise the version, then update these hashes)', () => {
    const hashes = buildSplitSegments(tinyConfig, new RandomWeights(tinyConfig, 1)).map((bytes) => createHash('sha256').update(bytes).digest('hex'));
    expect(splitGraphVersion).toBe(2);
    expect(hashes).toEqual([
      '7a2023861016ab3eab694079d968be356af378ca09f3dad712208a00367bb9cc',
      '16ad2f129ea4519c24d8ed469c85714b1f0198063467c881c80062bfc95cc081',
      '727551c67baf773d3f160ae15121d6a6e6e94ca7193c48b7ecdf9884b7f6ac68',
    ]);
  });
});

// stories260K's layout (one 32-channel group over the 4 KV heads, a token scale), 3 stages of 16 entries
const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 3, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });
const ids = [1, 265, 270, 281, 290, 299, 283, 286, 265];
const round16 = (row: Float64Array) => row.map((x) => float16BitsToFloat32(float32ToFloat16Bits(x)));

function maxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
  return worst;
}

describe.skipIf(!haveFixtures(fixtures.stories260K))('FusedDecoder on stories260K', () => {
  let ck: LoadedCheckpoint;
  let weights: Map<string, Float32Array>;
  let set: CodebookSet;
  let codecs: { key: RvqCodec; value: RvqCodec }[];
  let kernel: FusedKernel;
  let fused: FusedDecoder;
  let graph: RvqGraphDecoder;
  let fpGraph: FpGraphDecoder;

  beforeAll(async () => {
    ck = readLlama2cCheckpoint(fixtures.stories260K);
    weights = readAllWeights(ck.weights);
    const rng = createRng(7);
    const n = spec.depth * spec.codebookSize * spec.groupSize;
    const book = () => Float32Array.from({ length: n }, (_, i) => rng.normal() / (1 + Math.floor(i / (spec.codebookSize * spec.groupSize))));
    set = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: ck.config.numLayers }, () => ({ key: book(), value: book() })) };
    codecs = set.layers.map((l) => ({ key: new RvqCodec(spec, l.key), value: new RvqCodec(spec, l.value) }));
    kernel = new FusedKernel();
    fused = new FusedDecoder(await openSplitSessions(buildSplitSegments(ck.config, ck.weights)), ck.config, kernel, fusedCodebooks(kernel, set));
    graph = new RvqGraphDecoder(await ort.InferenceSession.create(buildRvqDecoderGraph(ck.config, ck.weights, set)), ck.config, set);
    fpGraph = new FpGraphDecoder(await ort.InferenceSession.create(buildDecoderGraph(ck.config, ck.weights, { cacheType: 'float16' })), ck.config);
    return () => ck.weights.close();
  });

  /** A code store on the heap (the graph path's), or in `storage`: kernelStorage for the fused path. */
  const codeStore = (depth: number, recentWindow = 0, storage?: BlockStorage) => {
    const store = new KvCodeStore({ numLayers: ck.config.numLayers, keySpec: spec, valueSpec: spec, recentWindow, encoders: { key: codecs.map((c) => c.key), value: codecs.map((c) => c.value) }, storage });
    store.setDepth(depth);
    return store;
  };

  /** Prefill 6 tokens, `between`, then one token a step: every position's logits. */
  async function run(decoder: DecoderStep<KvStore>, store: KvStore, between: () => void = () => {}): Promise<Float32Array[]> {
    const V = ck.config.vocabSize;
    const first = await decoder.step(ids.slice(0, 6), store);
    const rows = Array.from({ length: 6 }, (_, r) => first.slice(r * V, (r + 1) * V));
    between();
    for (const t of ids.slice(6)) rows.push((await decoder.step([t], store)).slice());
    return rows;
  }

  /** quant's encode then decode at `depth`; fp16-rounded from position `fp16From` on. */
  const transform = (depth: number, fp16From = Infinity): KvTransform => (layer, kind, row, position) =>
    position >= fp16From ? round16(row) : Float64Array.from(codecs[layer][kind].decode(codecs[layer][kind].encode(Float32Array.from(row)), depth));

  it.each([1, 2, 3])('matches the float64 reference at depth %i, with and without a recent window', async (depth) => {
    for (const window of [0, 2]) {
      const engine = await run(fused, codeStore(depth, window, kernelStorage(kernel)));
      const reference = new ReferenceModel(ck.config, weights, transform(depth, window ? 4 : Infinity));
      // with the window, positions 0..3 are coded and 4..6 fp16 through step 6 (token 4 leaves it at step 7)
      const checked = window ? 7 : ids.length;
      ids.slice(0, checked).forEach((t, i) => expect(maxError(engine[i], reference.forward(t))).toBeLessThan(1e-3));
    }
  });

  it('matches the rvq graph (same codes) with per-layer depths, a depth change mid-conversation and a window', async () => {
    for (const window of [0, 2]) {
      const setup = (store: KvCodeStore) => {
        store.setDepth(1, { layer: 1 });
        store.setDepth(2, { layer: 3, kind: 'value' });
      };
      const [a, b] = [codeStore(3, window), codeStore(3, window, kernelStorage(kernel))];
      setup(a);
      setup(b);
      const lower = (store: KvCodeStore) => () => store.setDepth(2, { layer: 0, kind: 'key' });
      const fromGraph = await run(graph as DecoderStep<KvStore>, a, lower(a));
      const fromFused = await run(fused, b, lower(b));
      fromGraph.forEach((row, i) => expect(maxError(row, fromFused[i])).toBeLessThan(1e-4));
      for (let layer = 0; layer < ck.config.numLayers; layer++) {
        for (const kind of ['key', 'value'] as const) {
          expect(b.past(layer, kind)).toMatchObject({ codedTokens: a.past(layer, kind).codedTokens, windowTokens: a.past(layer, kind).windowTokens });
          // the same codes at the same per-token depths: byte-equal records (stage-major, tail bits cleared)
          expect(b.past(layer, kind).records).toEqual(a.past(layer, kind).records);
          expect(b.past(layer, kind).depths).toEqual(a.past(layer, kind).depths);
        }
      }
    }
  });

  it('holds the coded past once: the store keeps its codes in kernel memory and the kernel reads them there', async () => {
    const stores = [codeStore(3, 0, kernelStorage(kernel)), codeStore(3, 0, kernelStorage(kernel))];
    // the first store sizes the scratch and RoPE tables for this many tokens; the second adds only itself
    await run(fused, stores[0], () => stores[0].setDepth(2, { layer: 0, kind: 'key' }));
    const before = kernel.allocatedBytes;
    await run(fused, stores[1], () => stores[1].setDepth(2, { layer: 0, kind: 'key' }));
    const held = stores[1].bytes();
    expect(held.codes).toBeGreaterThan(0);
    // the store's own buffers are all the kernel memory it took: no copy beside them
    expect(kernel.allocatedBytes - before).toBe(held.allocated);
    for (let layer = 0; layer < ck.config.numLayers; layer++) {
      for (const kind of ['key', 'value'] as const) {
        const past = stores[1].past(layer, kind);
        for (const view of [past.records, past.scales, past.depths]) expect(view.buffer).toBe(kernel.memory.buffer);
      }
    }
    // and a store on the heap is refused rather than copied (at the first step with coded tokens)
    await expect(run(fused, codeStore(3))).rejects.toThrow(/not in this kernel's memory/);
  });

  it('decodes an fp16 cache as the fp graph does, and saves it in the fp16 store format', async () => {
    const geometry = { numLayers: ck.config.numLayers, numKvHeads: ck.config.numKvHeads, headDim: ck.config.headDim };
    const graphStore = new Fp16KvStore(geometry);
    const store = new KernelFp16KvStore(kernel, geometry);
    const fromGraph = await run(fpGraph as DecoderStep<KvStore>, graphStore);
    const fromFused = await run(fused, store);
    // keys are turned by RoPE before fp16 rounding on both paths; a 1-ulp difference in the turn can flip a rounding
    fromGraph.forEach((row, i) => expect(maxError(row, fromFused[i])).toBeLessThan(1e-3));
    const restored = KernelFp16KvStore.restore(store.save(), kernel, geometry);
    expect(Fp16KvStore.restore(store.save(), geometry).length).toBe(ids.length);
    store.truncate(7);
    restored.truncate(7);
    const next = await fused.step([ids[7]], store);
    expect(maxError(await fused.step([ids[7]], restored), next)).toBe(0);
  });
});
