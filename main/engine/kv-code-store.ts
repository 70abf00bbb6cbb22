// KvCodeStore: the RVQ-compressed cache. Per layer, keys and values are each held as RvqTokenRecords
// (bit-packed codes + fp16 scales + per-token depth), optionally behind a recent window of the last R
// tokens in fp16 that are encoded as they leave it (R = 0: the paper's behaviour, every token coded
// at once). The rvq graph reads zero-copy views (`past`), so nothing is copied per token; the fused
// kernel reads the records in its own memory when the store's `storage` is that memory.
import { z } from 'zod';
import { float16ArrayToFloat32, float32ArrayToFloat16, rvqSpecSchema, scalesPerToken, tokenWidth } from '../../quant/index.js';
import type { RvqCodec, RvqSpec, SafetensorEntry } from '../../quant/index.js';
import type { BlockStorage } from './growable.js';
import { checkKvRows, tokenMajorFloat32, tokenMajorFp16 } from './kv-rows.js';
import { KV_KINDS, checkComplete, checkLayer, checkTruncation, kvBytes, sumKvBytes } from './kv-store.js';
import type { KvBytes, KvGeometry, KvKind, KvRows, KvStore } from './kv-store.js';
import { RecentWindow } from './recent-window.js';
import { RvqTokenRecords } from './rvq-token-records.js';
import type { RvqRecordViews } from './rvq-token-records.js';
import { asUint16, blobJson, blobTensor, bytesOf, decodeBlob, encodeBlob, kvStoreBlob } from './store-blob.js';

/** Codes token rows [tokens, W] to `depth` stages: quant's RvqCodec (one per layer and K/V). */
export type RvqTokenEncoder = Pick<RvqCodec, 'encode'>;

export interface KvCodeStoreOptions {
  numLayers: number;
  keySpec: RvqSpec;
  valueSpec: RvqSpec;
  /** R: the newest tokens kept in fp16, encoded when they leave the window (0 = paper behaviour). */
  recentWindow?: number;
  /** Per-layer encoders for keys and values; `append` needs them unless it is given the graph's codes. */
  encoders?: { key: readonly RvqTokenEncoder[]; value: readonly RvqTokenEncoder[] };
  /** Where the coded tokens live (default the JS heap; the fused path gives its kernel's memory). */
  storage?: BlockStorage;
}

/** Token records as the rvq graph packs them: [tokens, R_depth] codes and [tokens, S] fp16 scales. */
export interface PackedRecords {
  records: Uint8Array;
  depth: number;
  scales: Uint16Array;
}

/** What the rvq graph reads for one layer's K or V: the coded tokens, then the window's fp16 rows. */
export interface RvqPast extends RvqRecordViews {
  codedTokens: number;
  /** [windowTokens, W] fp16 bits, positions codedTokens .. codedTokens + windowTokens - 1. */
  window: Uint16Array;
  windowTokens: number;
}

interface Lane {
  records: RvqTokenRecords;
  window: RecentWindow;
}

/** Field-by-field equality of two specs. */
export function sameSpec(a: RvqSpec, b: RvqSpec): boolean {
  return (Object.keys(rvqSpecSchema.shape) as (keyof RvqSpec)[]).every((k) => a[k] === b[k]);
}

const layerDepthsSchema = z.strictObject({ key: z.array(z.number().int()), value: z.array(z.number().int()) });

export class KvCodeStore implements KvStore {
  readonly format = 'rvq' as const;
  readonly geometry: KvGeometry;
  readonly options: KvCodeStoreOptions;
  private readonly window: number;
  private readonly lanes: Record<KvKind, Lane>[];
  private edits = 0;

  constructor(options: KvCodeStoreOptions) {
    const { numLayers, keySpec, valueSpec, recentWindow = 0, encoders, storage } = options;
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new RangeError(`numLayers must be a positive integer, got ${numLayers}`);
    if (keySpec.headDim !== valueSpec.headDim || keySpec.numKvHeads !== valueSpec.numKvHeads) {
      throw new Error(`key spec [${keySpec.numKvHeads} heads x ${keySpec.headDim}] and value spec [${valueSpec.numKvHeads} x ${valueSpec.headDim}] must share the KV geometry`);
    }
    if (!Number.isInteger(recentWindow) || recentWindow < 0) throw new RangeError(`recentWindow must be a non-negative integer, got ${recentWindow}`);
    if (encoders && (encoders.key.length !== numLayers || encoders.value.length !== numLayers)) {
      throw new Error(`need one key and one value encoder per layer (${numLayers}), got ${encoders.key.length} and ${encoders.value.length}`);
    }
    this.options = options;
    this.window = recentWindow;
    this.geometry = { numLayers, numKvHeads: keySpec.numKvHeads, headDim: keySpec.headDim };
    const spec = { key: keySpec, value: valueSpec };
    this.lanes = Array.from({ length: numLayers }, () => {
      const lane = (kind: KvKind): Lane => ({ records: new RvqTokenRecords(spec[kind], spec[kind].depth, storage), window: new RecentWindow(recentWindow, tokenWidth(spec[kind])) });
      return { key: lane('key'), value: lane('value') };
    });
  }

  get length(): number {
    const { records, window } = this.lanes[0].key;
    return records.length + window.length;
  }

  /** Counts the changes that rewrite stored tokens (truncation, depth change): a copy of the codes (a GPU's) is stale when it differs. */
  get revision(): number {
    return this.edits;
  }

  private lane(layer: number, kind: KvKind): Lane {
    checkLayer(this.geometry, layer);
    return this.lanes[layer][kind];
  }

  /**
   * Takes one layer's new (pre-RoPE) keys or values. Without a recent window they are coded at the
   * current depth: `graphCodes` (the same tokens as the graph coded them) when given, else by the
   * store's encoder. With a window they enter it as fp16; tokens pushed out of it are coded by the
   * encoder from their fp16 (all the graph ever read of them), except tokens of this batch that
   * leave at once, which take `graphCodes` when given (what the graph attended this step).
   */
  append(layer: number, kind: KvKind, rows: KvRows, graphCodes?: PackedRecords): void {
    const { numKvHeads, headDim } = this.geometry;
    checkKvRows(rows, numKvHeads, headDim);
    this.appendTokens(layer, kind, rows.count, { float32: () => tokenMajorFloat32(rows, numKvHeads, headDim), fp16: () => tokenMajorFp16(rows, numKvHeads, headDim) }, graphCodes);
  }

  /**
   * append() for token-major float32 rows [tokens, kvHeads * headDim] (the fused path's layout, the
   * one the store keeps): no head-major round trip.
   */
  appendTokenRows(layer: number, kind: KvKind, rows: Float32Array, graphCodes?: PackedRecords): void {
    const W = this.geometry.numKvHeads * this.geometry.headDim;
    if (rows.length % W !== 0) throw new RangeError(`token rows hold ${rows.length} values, not whole rows of ${W}`);
    this.appendTokens(layer, kind, rows.length / W, { float32: () => rows, fp16: () => float32ArrayToFloat16(rows) }, graphCodes);
  }

  /** append's work on `count` new tokens given as token-major rows (made on demand). */
  private appendTokens(layer: number, kind: KvKind, count: number, rows: { float32: () => Float32Array; fp16: () => Uint16Array }, graphCodes?: PackedRecords): void {
    const lane = this.lane(layer, kind);
    if (graphCodes && graphCodes.scales.length !== count * scalesPerToken(lane.records.spec)) {
      throw new RangeError(`graph codes carry ${graphCodes.scales.length} scales for ${count} tokens`);
    }
    const depth = lane.records.depth;
    const encode = (values: Float32Array) => {
      const encoder = this.options.encoders?.[kind][layer];
      if (!encoder) throw new Error('this KvCodeStore has no encoders: give encoders, or the codes the graph made');
      lane.records.appendEncoded(encoder.encode(values, depth));
    };
    if (this.window === 0) {
      if (count === 0) return;
      if (graphCodes) lane.records.appendPacked(graphCodes.records, graphCodes.depth, graphCodes.scales);
      else encode(rows.float32());
      return;
    }
    const held = lane.window.length;
    const leaving = lane.window.push(rows.fp16());
    const W = lane.window.width;
    const fromWindow = Math.min(leaving.length / W, held);
    const fromBatch = leaving.length / W - fromWindow;
    if (fromWindow > 0) encode(float16ArrayToFloat32(leaving.subarray(0, fromWindow * W)));
    if (fromBatch === 0) return;
    if (!graphCodes) encode(float16ArrayToFloat32(leaving.subarray(fromWindow * W)));
    else {
      const recordBytes = graphCodes.records.length / count;
      const S = scalesPerToken(lane.records.spec);
      lane.records.appendPacked(graphCodes.records.subarray(0, fromBatch * recordBytes), graphCodes.depth, graphCodes.scales.subarray(0, fromBatch * S));
    }
  }

  /** Record depth of one layer's K or V. */
  depth(layer: number, kind: KvKind): number {
    return this.lane(layer, kind).records.depth;
  }

  /**
   * Changes the residual depth mid-conversation: of every layer's K and V, or of one layer and/or
   * one kind. Lowering cuts the stored tokens; raising applies to tokens stored from now on.
   */
  setDepth(depth: number, target: { layer?: number; kind?: KvKind } = {}): void {
    const layers = target.layer === undefined ? [...this.lanes.keys()] : [target.layer];
    const kinds = target.kind === undefined ? KV_KINDS : [target.kind];
    this.edits++;
    for (const layer of layers) for (const kind of kinds) this.lane(layer, kind).records.setDepth(depth);
  }

  /** Zero-copy views of one layer's K or V for the rvq graph or the kernel (valid until the storage's next allocation). */
  past(layer: number, kind: KvKind): RvqPast {
    const { records, window } = this.lane(layer, kind);
    const { records: bytes, recordBytes, scales, depths } = records.views();
    return { records: bytes, recordBytes, scales, depths, codedTokens: records.length, window: window.view(), windowTokens: window.length };
  }

  /**
   * Keeps the first `length` tokens. Cutting into the coded part empties the window (those tokens
   * stay coded; the window refills with the next ones).
   */
  truncate(length: number): void {
    checkTruncation(this.length, length);
    this.edits++;
    for (const layer of this.lanes) {
      for (const { records, window } of Object.values(layer)) {
        if (length >= records.length) window.truncate(length - records.length);
        else {
          records.truncate(length);
          window.truncate(0);
        }
      }
    }
  }

  bytes(): KvBytes {
    return sumKvBytes(
      this.lanes.flatMap((layer) =>
        Object.values(layer).map(({ records, window }) => {
          const coded = records.bytes();
          const windowBytes = window.view().byteLength;
          return kvBytes({
            tokens: coded.tokens + window.length,
            codes: coded.codes,
            scales: coded.scales,
            uncoded: windowBytes,
            bookkeeping: coded.bookkeeping,
            fp16: coded.fp16 + windowBytes,
            allocated: coded.allocated + window.allocatedBytes,
            fedPerStep: coded.fedPerStep + windowBytes,
          });
        }),
      ),
    );
  }

  save(): Uint8Array {
    const tensors: Record<string, SafetensorEntry> = {};
    const depths: Record<KvKind, number[]> = { key: [], value: [] };
    const held = ({ records, window }: Lane) => ({ length: records.length + window.length });
    checkComplete(this.lanes.map((layer) => ({ key: held(layer.key), value: held(layer.value) })), this.length);
    this.lanes.forEach((layer, i) => {
      for (const kind of KV_KINDS) {
        const { records, window } = layer[kind];
        Object.assign(tensors, records.toTensors(`layers.${i}.${kind}`));
        tensors[`layers.${i}.${kind}.window`] = { dtype: 'F16', shape: [window.length, window.width], data: bytesOf(window.view()) };
        depths[kind].push(records.depth);
      }
    });
    const { numLayers, keySpec, valueSpec } = this.options;
    return encodeBlob(kvStoreBlob('rvq'), {
      'reskv.layers': String(numLayers),
      'reskv.key_spec': JSON.stringify(keySpec),
      'reskv.value_spec': JSON.stringify(valueSpec),
      'reskv.recent_window': String(this.window),
      'reskv.depths': JSON.stringify(depths),
      'reskv.tokens': String(this.length),
    }, tensors);
  }

  /** Restores a snapshot for a store configured as `options` (same layers, specs and window, or an error). */
  static restore(bytes: Uint8Array, options: KvCodeStoreOptions): KvCodeStore {
    const blob = decodeBlob(bytes, kvStoreBlob('rvq'));
    const store = new KvCodeStore(options);
    const { numLayers, keySpec, valueSpec, recentWindow = 0 } = options;
    const layers = blobJson(blob, 'reskv.layers', z.number().int());
    if (layers !== numLayers) throw new Error(`saved KV cache has ${layers} layers, this model has ${numLayers}`);
    const saved = { key: blobJson(blob, 'reskv.key_spec', rvqSpecSchema), value: blobJson(blob, 'reskv.value_spec', rvqSpecSchema) };
    for (const [kind, spec] of [['key', keySpec], ['value', valueSpec]] as const) {
      if (!sameSpec(saved[kind], spec)) throw new Error(`saved KV cache ${kind} spec ${JSON.stringify(saved[kind])} differs from this model's ${JSON.stringify(spec)}`);
    }
    const window = blobJson(blob, 'reskv.recent_window', z.number().int());
    if (window !== recentWindow) throw new Error(`saved KV cache has a recent window of ${window} tokens, this store ${recentWindow}`);
    const tokens = blobJson(blob, 'reskv.tokens', z.number().int().nonnegative());
    const depths = blobJson(blob, 'reskv.depths', layerDepthsSchema);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) {
        const spec = saved[kind];
        const depth = depths[kind][i];
        if (!(depth >= 1 && depth <= spec.depth)) throw new Error(`saved KV cache: layer ${i} ${kind} depth ${depth} is outside 1..${spec.depth}`);
        const prefix = `layers.${i}.${kind}`;
        const windowTokens = blob.tensors[`${prefix}.window`]?.shape[0] ?? 0;
        if (windowTokens > recentWindow || windowTokens > tokens) throw new Error(`saved KV cache: ${prefix} window holds ${windowTokens} tokens, more than the window or the cache`);
        const lane = store.lanes[i][kind];
        lane.records = RvqTokenRecords.fromTensors(blob, prefix, spec, depth, tokens - windowTokens, options.storage);
        lane.window.load(asUint16(blobTensor(blob, `${prefix}.window`, 'F16', [windowTokens, tokenWidth(spec)])));
      }
    }
    return store;
  }
}
