// openCacheRuntime, as the app opens a library model (stories260K), checked against expectations that
// do not come from the engine: its logits against the float64 reference model (whose cache goes through
// quant's own encode/decode at each layer's depth, for rvq), and the KV bytes a store reports feeding per
// step (`fedPerStep`) against the bytes of the past tensors actually passed to ONNX Runtime's
// session.run. Files it derives are held to the same expectations: the fused path's segment graphs
// (recorded in the manifest by sha256, rebuilt when damaged or written by another version) and an rvq
// graph installed by an earlier version (rebuilt on open) give the reference logits afterwards.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openCacheRuntime } from '../../../main/engine/cache-runtime.js';
import { RvqGraphDecoder } from '../../../main/engine/rvq-graph-decoder.js';
import type { CacheChoice, CacheRuntime, DecodePath, LayerDepths } from '../../../main/engine/cache-runtime.js';
import { splitSegmentFileNames } from '../../../main/engine/fused/fused-runtime.js';
import { splitGraphVersion } from '../../../main/engine/fused/split-graph.js';
import type { KvStore } from '../../../main/engine/kv-store.js';
import { hashFile } from '../../../main/model/file-hashes.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import { readManifest, writeManifest } from '../../../main/model/manifest.js';
import type { ModelManifest } from '../../../main/model/manifest.js';
import type { KvTransform } from '../../../main/model/reference.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { RvqCodec, decodeCodebooks } from '../../../quant/index.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import type { StoriesLibrary } from './engine-library.js';
import { createStoriesLibrary } from './engine-library.js';

const cpu = { providers: ['cpu' as const], threads: 1 };
const ids = [1, 265, 270, 281, 290, 299, 283];
const prefill = 4;

describe.skipIf(!haveFixtures(fixtures.stories260K))('cache runtime against independent expectations (stories260K)', () => {
  let lib: StoriesLibrary;
  let weights: Map<string, Float32Array>;
  /** The manifest as the library holds it now (tests below change it on disk). */
  const manifest = (): ModelManifest => readManifest(lib.folder);

  beforeAll(() => {
    lib = createStoriesLibrary();
    const ck = readLlama2cCheckpoint(fixtures.stories260K);
    weights = readAllWeights(ck.weights);
    ck.weights.close();
  });
  afterAll(() => {
    vi.restoreAllMocks();
    lib.cleanup();
  });

  /**
   * Wraps every session.run: records the bytes of the past K/V tensors it is given (every input named
   * past_*) and, at that moment, what the store being stepped reports as fedPerStep.
   */
  function countFedPast(): { fed: number[]; reported: number[]; store: KvStore | null } {
    const counted = { fed: [] as number[], reported: [] as number[], store: null as KvStore | null };
    // InferenceSession.create returns instances of one class; its type hides the prototype
    const sessions = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
    const run = sessions.run;
    const counting = function (this: ort.InferenceSession, feeds: ort.InferenceSession.FeedsType, ...rest: unknown[]) {
      let bytes = 0;
      for (const [name, tensor] of Object.entries(feeds)) if (name.startsWith('past_')) bytes += (tensor.data as Uint8Array).byteLength;
      counted.fed.push(bytes);
      counted.reported.push(counted.store!.bytes().fedPerStep);
      return (run as (...args: unknown[]) => ReturnType<ort.InferenceSession['run']>).call(this, feeds, ...rest);
    };
    vi.spyOn(sessions, 'run').mockImplementation(counting as ort.InferenceSession['run']);
    return counted;
  }

  /** Prefill, then one token a step; the logits of every position. `onStore` sees the store first. */
  async function runSteps(runtime: CacheRuntime, onStore: (store: KvStore) => void = () => {}): Promise<Float32Array[]> {
    const V = manifest().config.vocabSize;
    const store = runtime.stores.create();
    onStore(store);
    const logits: Float32Array[] = [];
    const first = await runtime.decoder.step(ids.slice(0, prefill), store);
    for (let r = 0; r < prefill; r++) logits.push(first.slice(r * V, (r + 1) * V));
    for (const t of ids.slice(prefill)) logits.push((await runtime.decoder.step([t], store)).slice());
    return logits;
  }

  async function withRuntime<T>(choice: CacheChoice, use: (runtime: CacheRuntime) => Promise<T>, path: DecodePath | 'auto' = 'auto'): Promise<T> {
    const runtime = await openCacheRuntime(lib.folder, manifest(), choice, cpu, path);
    try {
      return await use(runtime);
    } finally {
      await runtime.release();
    }
  }

  /** Largest logit difference from the reference at each position. */
  function referenceErrors(engine: Float32Array[], kv?: KvTransform): number[] {
    const reference = new ReferenceModel(manifest().config, weights, kv);
    return ids.map((token, i) => {
      const expected = reference.forward(token);
      let worst = 0;
      for (let j = 0; j < expected.length; j++) worst = Math.max(worst, Math.abs(engine[i][j] - expected[j]));
      return worst;
    });
  }

  /** rvq logits against the reference whose cache goes through quant's encode/decode at each layer's depth. */
  function expectRvqReference(logits: Float32Array[], layerDepths: LayerDepths): void {
    const m = manifest();
    const set = decodeCodebooks(new Uint8Array(readFileSync(join(lib.folder, m.rvq.synthetic.codebooks))));
    const codecs = set.layers.map((l) => ({ key: new RvqCodec(set.keySpec, l.key), value: new RvqCodec(set.valueSpec, l.value) }));
    const errors = referenceErrors(logits, (layer, kind, row) => Float64Array.from(codecs[layer][kind].decode(codecs[layer][kind].encode(Float32Array.from(row)), layerDepths[kind][layer])));
    for (const e of errors) expect(e).toBeLessThan(1e-4); // 1e-5 measured
  }

  /**
   * fp16: exactly while a step attends its own tokens, within fp16 rounding over a cached past. The
   * prefill attends its own tokens unrounded; later steps read them back as fp16 post-RoPE keys and
   * values, which the reference's pre-RoPE transform cannot round the same way: measured 4e-6..2e-5 in
   * the prefill, 1e-2..2e-2 after (logits of magnitude ~10; a wrong cache is off by whole units).
   */
  function expectFp16Reference(logits: Float32Array[]): void {
    const errors = referenceErrors(logits);
    for (const e of errors.slice(0, prefill)) expect(e).toBeLessThan(1e-4);
    for (const e of errors.slice(prefill)) expect(e).toBeLessThan(5e-2);
  }

  const layerDepths = { key: [1, 4, 2, 4, 3], value: [1, 4, 4, 2, 4] };

  it('rvq with layers at different depths gives the reference logits through quant encode/decode at each depth', async () => {
    expectRvqReference(await withRuntime({ format: 'rvq', codebooks: 'synthetic', layerDepths }, (runtime) => runSteps(runtime)), layerDepths);
  });

  it.each<DecodePath>(['graph', 'fused'])('fp16 on the %s path gives the reference logits within fp16 rounding', async (path) => {
    expectFp16Reference(await withRuntime({ format: 'fp16' }, (runtime) => runSteps(runtime), path));
  });

  it('with the kernel layers (the default, or RESKV_KERNEL_LAYERS=1; the segments with 0) fused fp16 and rvq give the reference logits, and a one-token step runs no ONNX Runtime session', async () => {
    const sessions = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
    const steps = ids.length - prefill;
    try {
      for (const [chosen, runs] of [[undefined, 0], ['1', 0], ['0', steps]] as const) {
        vi.stubEnv('RESKV_KERNEL_LAYERS', chosen);
        const spy = vi.spyOn(sessions, 'run');
        expectFp16Reference(await withRuntime({ format: 'fp16' }, (runtime) => runSteps(runtime), 'fused'));
        // the prompt's segments, and each one-token step's unless the layers run it
        expect(spy).toHaveBeenCalledTimes((manifest().config.numLayers + 1) * (1 + runs));
        vi.restoreAllMocks();
      }
      vi.stubEnv('RESKV_KERNEL_LAYERS', '1');
      expectRvqReference(await withRuntime({ format: 'rvq', codebooks: 'synthetic', layerDepths }, (runtime) => runSteps(runtime), 'fused'), layerDepths);
      vi.stubEnv('RESKV_KERNEL_LAYERS', 'yes');
      await expect(withRuntime({ format: 'fp16' }, (runtime) => runSteps(runtime), 'fused')).rejects.toThrow(/RESKV_KERNEL_LAYERS must be 0 or 1/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it.each<CacheChoice>([
    { format: 'fp16' },
    { format: 'q8_0' },
    { format: 'kivi2' },
    { format: 'rvq', codebooks: 'synthetic', depth: 3 },
    { format: 'rvq', codebooks: 'synthetic', depth: 2, recentWindow: 2 },
  ])(
    // the graph path, where the past is fed to ONNX Runtime (the fused path's kernel reads the cache where it lies, in its own memory)
    'fedPerStep of $format (depth $depth, window $recentWindow) is the bytes of past K/V handed to the graph session each step',
    async (choice) => {
      const counted = countFedPast();
      await withRuntime(choice, (runtime) => runSteps(runtime, (store) => (counted.store = store)), 'graph');
      vi.restoreAllMocks();
      expect(counted.fed.length).toBeGreaterThanOrEqual(ids.length - prefill + 1);
      expect(counted.reported).toEqual(counted.fed);
      expect(counted.fed.at(-1)).toBeGreaterThan(0);
    },
  );

  describe('the fused path’s segment graphs', () => {
    const names = () => splitSegmentFileNames(manifest().config);
    const inode = (name: string) => statSync(join(lib.folder, name)).ino;
    const fusedFp16 = () => withRuntime({ format: 'fp16' }, (runtime) => runSteps(runtime), 'fused');

    /** The manifest records every segment under this version with the size and sha256 of the file on disk. */
    function expectRecorded(): void {
      const m = manifest();
      expect(m.split).toEqual({ version: splitGraphVersion, files: names() });
      for (const name of names()) expect(m.files![name]).toEqual(hashFile(join(lib.folder, name)));
    }

    it('are recorded in the manifest by size and sha256 on first use, and opened again without being rewritten', async () => {
      await fusedFp16();
      expectRecorded();
      const before = names().map(inode);
      expectFp16Reference(await fusedFp16());
      expect(names().map(inode)).toEqual(before); // writeFileAtomic renames a new file into place: a rewrite changes the inode
    });

    it('a damaged segment is rebuilt before it runs: the reference logits, the recorded hash again', async () => {
      await fusedFp16();
      const file = join(lib.folder, names()[2]);
      const original = readFileSync(file);
      const damaged = Buffer.from(original);
      damaged[damaged.length >> 1] ^= 0x55;
      writeFileSync(file, damaged);
      expectFp16Reference(await fusedFp16());
      expect(readFileSync(file).equals(original)).toBe(true);
      expectRecorded();
    });

    it('segments recorded by another version are rebuilt though their hashes match', async () => {
      await fusedFp16();
      const m = manifest();
      const name = names()[1];
      // another builder's segment (here: layer 0's in place of layer 1's), recorded with its own hash
      writeFileSync(join(lib.folder, name), readFileSync(join(lib.folder, names()[0])));
      writeManifest(lib.folder, { ...m, split: { version: splitGraphVersion + 1, files: names() }, files: { ...m.files, [name]: hashFile(join(lib.folder, name)) } });
      expectFp16Reference(await fusedFp16());
      expectRecorded();
    });
  });

  // last: it leaves the manifest without file hashes, as the earlier version wrote it
  it('an rvq graph installed by an earlier version (none recorded) is rebuilt on open (graph path): layers at different depths then give the reference logits', async () => {
    // one record size per kind for every layer, which made ONNX Runtime reuse buffers across layers of different depths
    // that version recorded no file hashes and no builder version
    const { graph, codebooks } = manifest().rvq.synthetic;
    const m = { ...manifest(), files: undefined, rvq: { synthetic: { graph, codebooks } } };
    const graphFile = join(lib.folder, m.rvq.synthetic.graph);
    writeFileSync(graphFile, asEarlierVersion(readFileSync(graphFile)));
    writeManifest(lib.folder, m);
    const earlier = await ort.InferenceSession.create(graphFile);
    const set = decodeCodebooks(new Uint8Array(readFileSync(join(lib.folder, m.rvq.synthetic.codebooks))));
    expect(() => new RvqGraphDecoder(earlier, m.config, set)).toThrow(/built by an earlier version/);
    await earlier.release();
    expectRvqReference(await withRuntime({ format: 'rvq', codebooks: 'synthetic', layerDepths }, (runtime) => runSteps(runtime), 'graph'), layerDepths);
    expect(manifest().rvq.synthetic.graph).not.toBe(m.rvq.synthetic.graph);
  });
});

/** The graph with every past_codes input's record size renamed to the earlier `<kind>_record_bytes`. */
function asEarlierVersion(graph: Uint8Array): Uint8Array {
  const model = onnxProto.onnx.ModelProto.decode(graph);
  for (const input of model.graph!.input!) {
    const match = /^past_codes\.\d+\.(key|value)$/.exec(input.name!);
    if (match) input.type!.tensorType!.shape!.dim![2] = { dimParam: `${match[1]}_record_bytes` };
  }
  return onnxProto.onnx.ModelProto.encode(model).finish();
}
