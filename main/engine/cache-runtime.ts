// A library model's KV cache format made runnable: the graph session that reads it, the decoder over
// that session, and the factory of its stores. One place decides how a cache choice ("fp16", "q8_0",
// "q4_0", "kivi2", "rvq[:<codebook set>][/keys|/values]") maps to graph + store, for conversations,
// evaluation and benchmarks alike. RVQ uses the rvq graph installed for a codebook set
// (main/library/install-rvq.ts); RVQ on the keys only or the values only (the other kind fp16, an
// ablation) runs through the fp graph with a OneKindRvqStore coding that kind with the set's codebooks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { RvqCodec, decodeCodebooks, rvqBitsPerValue, rvqCodebookBytes, scalarBitsPerValue } from '../../quant/index.js';
import type { CodebookSet, RvqSpec } from '../../quant/index.js';
import { installRvqGraph } from '../library/install-rvq.js';
import type { ModelManifest } from '../model/manifest.js';
import { verifyModelFiles } from '../model/manifest.js';
import { rvqGraphVersion } from '../onnx/rvq-cache.js';
import type { StoreFactory } from './conversation.js';
import { FpGraphDecoder, fpDeviceOutputs } from './fp-graph-decoder.js';
import { Fp16KvStore } from './fp16-kv-store.js';
import type { DecoderStep } from './generate.js';
import { KvCodeStore } from './kv-code-store.js';
import type { KvCodeStoreOptions } from './kv-code-store.js';
import { KV_KINDS } from './kv-store.js';
import type { KvGeometry, KvKind, KvStore } from './kv-store.js';
import { OneKindRvqStore } from './one-kind-rvq-store.js';
import type { OneKindRvqOptions } from './one-kind-rvq-store.js';
import { RvqGraphDecoder, rvqDeviceOutputs } from './rvq-graph-decoder.js';
import { ScalarKvStore } from './scalar-kv-store.js';
import type { ScalarCacheFormat } from './scalar-kv-store.js';
import { FusedDecoder, fusedCodebooks } from './fused/fused-decoder.js';
import type { FusedCodebooks } from './fused/fused-decoder.js';
import { fusedKernelGap, openFusedParts } from './fused/fused-runtime.js';
import type { FusedParts } from './fused/fused-runtime.js';
import { KernelFp16KvStore } from './fused/kernel-fp16-store.js';
import { kernelStorage } from './fused/kernel-storage.js';
import { createSession, platformProviders, probeProvider } from './session.js';
import { SingleTokenSteps } from './single-token-steps.js';
import type { CreatedSession, ExecutionProvider, SessionOptionsInput } from './session.js';

export const cacheFormats = ['fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq'] as const;
export type CacheFormat = (typeof cacheFormats)[number];

/** The cache name's suffix for RVQ on one kind only ("rvq/keys", "rvq/values"): user syntax, plural. */
export function onlySuffix(kind: KvKind): 'keys' | 'values' {
  return kind === 'key' ? 'keys' : 'values';
}

/** Per-layer residual depths of keys and values (one entry per layer each). */
export interface LayerDepths {
  key: number[];
  value: number[];
}

export interface CacheChoice {
  format: CacheFormat;
  /** rvq: the codebook set installed in the model folder (default: "default", else the only one). */
  codebooks?: string;
  /** rvq: stages kept for new conversations (default: the codebooks' depth). */
  depth?: number;
  /** rvq: per-layer depths for new conversations (overrides `depth`). */
  layerDepths?: LayerDepths;
  /** rvq: newest tokens kept in fp16 and coded when they leave (0 = the paper). */
  recentWindow?: number;
  /** rvq: quantize only this kind, the other stays fp16 (fixed depth, no recent window). */
  only?: KvKind;
}

const depthList = z.array(z.number().int('must be an integer').min(1, 'must be at least 1'));

/** A cache choice arriving from outside (IPC, HTTP): checked here; depths against the codebooks on open. */
export const cacheChoiceSchema = z.strictObject({
  format: z.enum(cacheFormats),
  codebooks: z.string().min(1).optional(),
  depth: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
  layerDepths: z.strictObject({ key: depthList, value: depthList }).optional(),
  recentWindow: z.number().int('must be an integer').min(0, 'must be at least 0').optional(),
  only: z.enum(['key', 'value']).optional(),
});

/** Parses "fp16", "q8_0", "q4_0", "kivi2", "rvq" or "rvq:<codebook set>", the rvq forms optionally + "/keys" or "/values". */
export function parseCacheChoice(text: string): CacheChoice {
  const [name, only, ...more] = text.split('/');
  const [format, codebooks, ...rest] = name.split(':');
  const expected = `expected one of ${cacheFormats.join(', ')} or rvq:<codebook set name>, the rvq forms optionally followed by /keys or /values (RVQ on that kind only)`;
  if (!(cacheFormats as readonly string[]).includes(format) || rest.length > 0 || (codebooks !== undefined && (format !== 'rvq' || codebooks === ''))) {
    throw new Error(`unknown cache '${text}': ${expected}`);
  }
  const onlyKind = KV_KINDS.find((kind) => onlySuffix(kind) === only);
  if (only !== undefined && (format !== 'rvq' || more.length > 0 || onlyKind === undefined)) {
    throw new Error(`unknown cache '${text}': ${format === 'rvq' ? `after '/' comes keys or values` : `only rvq quantizes one kind alone`} (${expected})`);
  }
  const choice: CacheChoice = { format: format as CacheFormat };
  if (codebooks !== undefined) choice.codebooks = codebooks;
  if (onlyKind !== undefined) choice.only = onlyKind;
  return choice;
}

/**
 * How fp16 and rvq caches decode: `fused` (split graph + attention kernel, CPU only), `graph` (the
 * whole step as one ONNX graph: GPU providers, and the reference), or `auto`: rvq fused when the
 * session lands on the CPU provider, fp16 on the graph. Measured on an idle 2-core VM (bench:engine-speed,
 * SmolLM2-135M geometry): the fused rvq d8 step took 331 ms at 2048 tokens against 1253 ms for the rvq
 * graph, but the fused fp16 step took 72-125 ms at 128-2048 tokens against 39-100 ms for the fp graph.
 */
export type DecodePath = 'fused' | 'graph';

export interface CacheRuntime {
  /** e.g. "rvq:default" or "q8_0". */
  label: string;
  format: CacheFormat;
  decoder: DecoderStep<KvStore>;
  /** Creates stores with the choice's depth settings; restores saved ones (checked against the configuration). */
  stores: StoreFactory<KvStore>;
  geometry: KvGeometry;
  provider: ExecutionProvider;
  skippedProviders: { provider: ExecutionProvider; reason: string }[];
  /** fused: weights in ONNX Runtime, attention in the WebAssembly kernel (the CPU path); graph: one ONNX graph. */
  path: DecodePath;
  /**
   * rvq only: the codebook set, its specs, the codebook bytes the format needs (float32, every layer,
   * K and V, or the one kind coded), and `only` when one kind alone is coded (its depth is fixed).
   */
  rvq: { name: string; set: CodebookSet; codebookBytes: number; only: KvKind | null } | null;
  /** Bits per cached value at a store's depths (codes + scales; independent of the token count). */
  bitsPerValue(depths?: LayerDepths): number;
  release(): Promise<void>;
}

/** The codebook set name to use: the one asked for, else "default", else the model's only set. */
export function codebookSetName(manifest: ModelManifest, asked?: string): string {
  const names = Object.keys(manifest.rvq);
  if (asked !== undefined) {
    if (!manifest.rvq[asked]) throw new Error(`model ${manifest.id} has no codebook set "${asked}" (installed: ${names.join(', ') || 'none; run reskv calibrate'})`);
    return asked;
  }
  if (manifest.rvq.default) return 'default';
  if (names.length === 1) return names[0];
  if (names.length === 0) throw new Error(`model ${manifest.id} has no RVQ codebooks yet: run reskv calibrate --model ${manifest.id}`);
  throw new Error(`model ${manifest.id} has several codebook sets (${names.join(', ')}): name one as rvq:<name>`);
}

/** Throws unless `depth` is a whole number of stages the spec has. */
export function checkDepth(depth: number, spec: RvqSpec): void {
  if (!Number.isInteger(depth) || depth < 1 || depth > spec.depth) throw new RangeError(`depth must be a whole number from 1 to ${spec.depth} (the codebooks' stages), got ${depth}`);
}

function checkLayerDepths(depths: LayerDepths, set: CodebookSet): void {
  for (const kind of KV_KINDS) {
    const list = depths[kind];
    if (list.length !== set.layers.length) throw new RangeError(`layer depths for ${kind}s give ${list.length} entries, the model has ${set.layers.length} layers`);
    list.forEach((d) => checkDepth(d, kind === 'key' ? set.keySpec : set.valueSpec));
  }
}

/** Depths of every layer of a KvCodeStore. */
export function storeDepths(store: KvCodeStore): LayerDepths {
  const depths = (kind: KvKind) => Array.from({ length: store.geometry.numLayers }, (_, i) => store.depth(i, kind));
  return { key: depths('key'), value: depths('value') };
}

/** The choice's codebook set, read and checked, with the per-layer depths its stores start at. */
function loadCodebookSet(folder: string, manifest: ModelManifest, choice: CacheChoice) {
  const name = codebookSetName(manifest, choice.codebooks);
  const entry = manifest.rvq[name];
  let set: CodebookSet;
  // the set is one unit (installed together): a damaged graph is refused on the fused path too, which does not run it
  verifyModelFiles(folder, manifest, [entry.codebooks, entry.graph]);
  try {
    set = decodeCodebooks(new Uint8Array(readFileSync(join(folder, entry.codebooks))));
  } catch (e) {
    throw new Error(`codebook set "${name}" of ${manifest.id}: ${(e as Error).message}`, { cause: e });
  }
  const L = manifest.config.numLayers;
  const depths: LayerDepths = choice.layerDepths ?? { key: new Array<number>(L).fill(choice.depth ?? set.keySpec.depth), value: new Array<number>(L).fill(choice.depth ?? set.valueSpec.depth) };
  checkLayerDepths(depths, set);
  return { name, entry, set, depths };
}

function rvqRuntimeParts(folder: string, manifest: ModelManifest, choice: CacheChoice, loaded = loadCodebookSet(folder, manifest, choice), kernelCodecs: FusedCodebooks | null = null) {
  const { name, entry, set, depths } = loaded;
  const window = choice.recentWindow ?? 0;
  if (!Number.isInteger(window) || window < 0 || window > manifest.config.maxPositions) throw new RangeError(`recent window must be a whole number from 0 to ${manifest.config.maxPositions}, got ${window}`);
  const L = manifest.config.numLayers;
  // encoders only code tokens leaving the recent window; without one the graph's own codes are stored
  const codecs = kernelCodecs?.codecs;
  const encoders =
    window === 0 ? undefined : codecs ? { key: codecs.map((c) => c.key), value: codecs.map((c) => c.value) } : { key: set.layers.map((l) => new RvqCodec(set.keySpec, l.key)), value: set.layers.map((l) => new RvqCodec(set.valueSpec, l.value)) };
  // on the fused path the coded tokens live in kernel memory, where the kernel reads them
  const storage = kernelCodecs ? kernelStorage(kernelCodecs.kernel) : undefined;
  const options: KvCodeStoreOptions = { numLayers: L, keySpec: set.keySpec, valueSpec: set.valueSpec, recentWindow: window, encoders, storage };
  const create = (): KvStore => {
    const store = new KvCodeStore(options);
    for (let i = 0; i < L; i++) for (const kind of KV_KINDS) store.setDepth(depths[kind][i], { layer: i, kind });
    return store;
  };
  return { name, entry, set, stores: { create, restore: (bytes: Uint8Array) => KvCodeStore.restore(bytes, options) }, label: `rvq:${name}` };
}

/** Opens the graph session and store factory for `choice` on an imported model. */
export async function openCacheRuntime(folder: string, manifest: ModelManifest, choice: CacheChoice, session: SessionOptionsInput = {}, path: DecodePath | 'auto' = 'auto'): Promise<CacheRuntime> {
  const { config } = manifest;
  const geometry: KvGeometry = { numLayers: config.numLayers, numKvHeads: config.numKvHeads, headDim: config.headDim };
  verifyModelFiles(folder, manifest, [manifest.weightsFile]);
  if (choice.format !== 'rvq' && (choice.codebooks !== undefined || choice.depth !== undefined || choice.layerDepths !== undefined || (choice.recentWindow ?? 0) > 0)) {
    throw new Error(`codebooks, depth and recent window apply to the rvq cache only, not ${choice.format}`);
  }
  if (choice.format !== 'rvq' && choice.only !== undefined) throw new Error(`/${onlySuffix(choice.only)} (RVQ on one kind only) applies to the rvq cache, not ${choice.format}`);
  if (choice.format === 'rvq' && choice.only !== undefined) return openOneKindRuntime(folder, manifest, choice, choice.only, session, geometry);
  // On the CPU fp16 and rvq decode on the fused path unless the graph is asked for: on the idle 2-core VM
  // (SmolLM2-135M geometry) fused fp16 took 74.6 ms/token at 2048 tokens against the graph's 107.9, and
  // 155 against 347 at 8192 (the graph re-reads and re-casts the whole past every step); the graph is
  // faster only at short contexts (44.7 against 64.6 at 128) and equal at 512
  if ((choice.format === 'rvq' || choice.format === 'fp16') && path !== 'graph') {
    const fused = await openFusedRuntime(folder, manifest, choice, session, path === 'fused', geometry);
    if (fused) return fused;
  }
  if (choice.format === 'rvq') {
    const parts = rvqRuntimeParts(folder, manifest, choice);
    // written by an earlier builder (slow to load, or older inputs): rebuilt from the set's codebook copy
    // before any session is made of it (weights are shared); the rebuild returns the switched manifest
    const current = parts.entry.version === rvqGraphVersion ? manifest : installRvqGraph(folder, join(folder, parts.entry.codebooks), parts.name);
    const { graph } = current.rvq[parts.name];
    verifyModelFiles(folder, current, [graph]);
    const created = await createSession(join(folder, graph), session, { deviceOutputs: rvqDeviceOutputs });
    const { set } = parts;
    const decoder = new RvqGraphDecoder(created.session, config, set, created.deviceOutputs);
    return {
      label: parts.label,
      format: 'rvq',
      decoder: decoder as DecoderStep<KvStore>,
      stores: parts.stores,
      geometry,
      provider: created.provider,
      skippedProviders: created.skipped,
      path: 'graph',
      rvq: rvqInfo(parts.name, set),
      bitsPerValue: rvqBits(set),
      release: () => {
        decoder.releaseDevice();
        return created.session.release();
      },
    };
  }
  verifyModelFiles(folder, manifest, [manifest.graphs.fpHalfCache]);
  const format = choice.format;
  // only the fp16 store holds what the graph computed, so only it keeps its past on a GPU
  const created = await createSession(join(folder, manifest.graphs.fpHalfCache), session, { deviceOutputs: format === 'fp16' ? fpDeviceOutputs : undefined });
  const fpDecoder = new FpGraphDecoder(created.session, config, created.deviceOutputs);
  const stores: StoreFactory<KvStore> =
    format === 'fp16'
      ? { create: () => new Fp16KvStore(geometry), restore: (bytes) => Fp16KvStore.restore(bytes, geometry) }
      : { create: () => new ScalarKvStore(format as ScalarCacheFormat, geometry), restore: (bytes) => ScalarKvStore.restore(bytes, format as ScalarCacheFormat, geometry) };
  return {
    label: format,
    format,
    // quantized formats step token by token so that a prefill's tokens attend to each other quantized
    decoder: (format === 'fp16' ? fpDecoder : new SingleTokenSteps(fpDecoder)) as DecoderStep<KvStore>,
    stores,
    geometry,
    provider: created.provider,
    skippedProviders: created.skipped,
    path: 'graph',
    rvq: null,
    bitsPerValue: () => scalarBitsPerValue(format),
    release: () => {
      fpDecoder.releaseDevice();
      return created.session.release();
    },
  };
}

function rvqInfo(name: string, set: CodebookSet): CacheRuntime['rvq'] {
  return { name, set, codebookBytes: set.layers.length * (rvqCodebookBytes(set.keySpec) + rvqCodebookBytes(set.valueSpec)), only: null };
}

function rvqBits(set: CodebookSet): CacheRuntime['bitsPerValue'] {
  return (depths) => {
    if (!depths) return (rvqBitsPerValue(set.keySpec) + rvqBitsPerValue(set.valueSpec)) / 2;
    const sum = (kind: KvKind, spec: RvqSpec) => depths[kind].reduce((n, d) => n + rvqBitsPerValue(spec, d), 0);
    return (sum('key', set.keySpec) + sum('value', set.valueSpec)) / (2 * depths.key.length);
  };
}

/**
 * The fused path for fp16 or rvq, or null when it does not apply: a GPU provider preferred and
 * available (the graph path serves it), or codebooks whose groups the kernel cannot read (`required`
 * turns that into an error).
 */
async function openFusedRuntime(folder: string, manifest: ModelManifest, choice: CacheChoice, session: SessionOptionsInput, required: boolean, geometry: KvGeometry): Promise<CacheRuntime | null> {
  const skipped: CreatedSession['skipped'] = [];
  if (!required) {
    const gpus = (session.providers ?? platformProviders()).filter((p) => p !== 'cpu');
    // a GPU provider that passes its once-per-process probe runs the graph path; one that fails it is passed over
    for (const gpu of gpus) {
      const probe = await probeProvider(gpu);
      if (probe.available) return null;
      skipped.push({ provider: gpu, reason: probe.reason ?? 'unavailable' });
    }
  }
  const gap = fusedKernelGap(manifest.config);
  if (gap) {
    if (required) throw new Error(`model ${manifest.id}: the fused kernel does not implement ${gap}; use the graph path`);
    return null;
  }
  const loaded = choice.format === 'rvq' ? loadCodebookSet(folder, manifest, choice) : null;
  const parts: FusedParts = await openFusedParts(folder, manifest, session);
  // the kernel's helper thread holds its memory: stop it with the sessions
  const release = () => Promise.all(parts.sessions.map((s) => s.release())).then(() => parts.kernel.close());
  const common = { geometry, provider: 'cpu' as const, skippedProviders: skipped, path: 'fused' as const, release };
  if (!loaded) {
    return {
      ...common,
      label: 'fp16',
      format: 'fp16',
      decoder: new FusedDecoder(parts.sessions, manifest.config, parts.kernel, null, parts.layers),
      stores: { create: () => new KernelFp16KvStore(parts.kernel, geometry), restore: (bytes) => KernelFp16KvStore.restore(bytes, parts.kernel, geometry) },
      rvq: null,
      bitsPerValue: () => scalarBitsPerValue('fp16'),
    };
  }
  const codebooks = fusedCodebooks(parts.kernel, loaded.set);
  if (!codebooks) {
    await release();
    if (required) throw new Error(`codebook set "${loaded.name}": the fused kernel needs groups inside one head in the same order for every head, and group size, codebook size and head size divisible by 4`);
    return null;
  }
  const rvqParts = rvqRuntimeParts(folder, manifest, choice, loaded, codebooks);
  return {
    ...common,
    label: rvqParts.label,
    format: 'rvq',
    decoder: new FusedDecoder(parts.sessions, manifest.config, parts.kernel, codebooks, parts.layers),
    stores: rvqParts.stores,
    rvq: rvqInfo(rvqParts.name, loaded.set),
    bitsPerValue: rvqBits(loaded.set),
  };
}

/** RVQ on one kind only: the fp graph with OneKindRvqStores coding that kind with the set's codebooks. */
async function openOneKindRuntime(folder: string, manifest: ModelManifest, choice: CacheChoice, kind: KvKind, session: SessionOptionsInput, geometry: KvGeometry): Promise<CacheRuntime> {
  if ((choice.recentWindow ?? 0) > 0) throw new Error(`a recent window applies to the rvq cache of keys and values, not rvq/${onlySuffix(kind)}`);
  const { name, set, depths } = loadCodebookSet(folder, manifest, choice);
  const spec = kind === 'key' ? set.keySpec : set.valueSpec;
  const options: OneKindRvqOptions = { config: manifest.config, quantized: kind, spec, codecs: set.layers.map((l) => new RvqCodec(spec, l[kind])), depths: depths[kind] };
  verifyModelFiles(folder, manifest, [manifest.graphs.fpHalfCache]);
  const created = await createSession(join(folder, manifest.graphs.fpHalfCache), session);
  const L = manifest.config.numLayers;
  return {
    label: `rvq:${name}/${onlySuffix(kind)}`,
    format: 'rvq',
    decoder: new SingleTokenSteps(new FpGraphDecoder(created.session, manifest.config)) as DecoderStep<KvStore>,
    stores: { create: () => new OneKindRvqStore(options), restore: (bytes) => OneKindRvqStore.restore(bytes, options) },
    geometry,
    provider: created.provider,
    skippedProviders: created.skipped,
    path: 'graph',
    rvq: { name, set, codebookBytes: L * rvqCodebookBytes(spec), only: kind },
    // the fp16 kind counts 16 bits per value beside the coded kind's codes + scales
    bitsPerValue: (layerDepths = depths) => (layerDepths[kind].reduce((n, d) => n + rvqBitsPerValue(spec, d), 0) + 16 * L) / (2 * L),
    release: () => created.session.release(),
  };
}
