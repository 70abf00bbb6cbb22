// ScalarKvStore: the fp graph's new keys/values quantized with one of quant's scalar baselines (q8_0,
// q4_0, KIVI) before they are stored, so every format runs through the same engine. Tokens are coded
// in the quantizer's blocks (1 token for per-token formats; KIVI's keys share per-channel parameters
// over a block of tokens, and as in KIVI the newest tokens of an unfilled block stay in fp16 until it
// fills). The fp graph cannot read quantized bytes, so each layer also keeps the dequantized cache as
// fp16 (an Fp16Past): it is fed to the graph and counted in `allocated` and `fedPerStep`, not in
// `held`, which is what the format itself stores.
import { z } from 'zod';
import { float16ArrayToFloat32, scalarQuantizer } from '../../quant/index.js';
import type { KvQuantizer, SafetensorEntry, ScalarFormat } from '../../quant/index.js';
import { Fp16Past } from './fp16-past.js';
import { withCapacity } from './growable.js';
import { checkKvRows, tokenMajorFp16, tokenRowsAsKvRows } from './kv-rows.js';
import { KV_KINDS, checkComplete, checkGeometry, checkLayer, checkSavedGeometry, checkTruncation, kvBytes, kvGeometrySchema, sumKvBytes } from './kv-store.js';
import type { Fp16PastStore, KvBytes, KvGeometry, KvKind, KvRows } from './kv-store.js';
import { asUint16, blobJson, blobTensor, bytesOf, decodeBlob, encodeBlob, kvStoreBlob } from './store-blob.js';

export type ScalarCacheFormat = Exclude<ScalarFormat, 'fp16'>;

/**
 * Tokens a quantizer codes together, read off its storage: the smallest B with
 * storedBytes(t + B) = storedBytes(t) + storedBytes(B) for every t up to 2B + 64 (appending a whole
 * block never touches earlier bytes); 1 for per-token formats, the key block for KIVI.
 */
export function tokensPerBlock(quantizer: KvQuantizer): number {
  const bytes = (t: number) => quantizer.storedBytes(t);
  const isPeriod = (b: number): boolean => {
    for (let t = 1; t <= 2 * b + 64; t++) if (bytes(t + b) !== bytes(t) + bytes(b)) return false;
    return true;
  };
  for (let b = 1; b <= 1024; b++) if (isPeriod(b)) return b;
  throw new Error(`${quantizer.name}: no token block size up to 1024 makes its storage additive`);
}

class ScalarLane {
  readonly past: Fp16Past;
  readonly block: number;
  coded: Uint8Array = new Uint8Array(0);
  codedTokens = 0;
  /** Tokens of the unfilled block, fp16 token-major [tokens, W]. */
  pending: Uint16Array = new Uint16Array(0);

  constructor(
    readonly quantizer: KvQuantizer,
    readonly geometry: KvGeometry,
  ) {
    this.past = new Fp16Past(geometry.numKvHeads, geometry.headDim);
    this.block = tokensPerBlock(quantizer);
  }

  get length(): number {
    return this.past.length;
  }

  get codedBytes(): number {
    return this.quantizer.storedBytes(this.codedTokens);
  }

  append(rows: KvRows): void {
    const { numKvHeads: H, headDim: D } = this.geometry;
    checkKvRows(rows, H, D);
    this.past.append(rows); // fp16 until its block is coded
    const W = this.quantizer.width;
    const pending = new Uint16Array(this.pending.length + rows.count * W);
    pending.set(this.pending);
    pending.set(tokenMajorFp16(rows, H, D), this.pending.length);
    const ready = Math.floor(pending.length / W / this.block) * this.block;
    if (ready > 0) this.code(pending.subarray(0, ready * W), ready);
    this.pending = pending.slice(ready * W);
  }

  /** Quantizes whole blocks and replaces their fp16 in the past by what the format reproduces. */
  code(rows: Uint16Array, tokens: number): void {
    const bytes = this.quantizer.encode(float16ArrayToFloat32(rows));
    const used = this.codedBytes;
    this.coded = withCapacity(this.coded, used + bytes.length, used);
    this.coded.set(bytes, used);
    this.past.overwrite(this.codedTokens, this.quantizer.decode(bytes, tokens));
    this.codedTokens += tokens;
  }

  /** Cutting into a coded block returns its kept tokens to the fp16 tail as their dequantized values. */
  truncate(length: number): void {
    const { numKvHeads: H, headDim: D } = this.geometry;
    const keepCoded = Math.min(this.codedTokens, Math.floor(length / this.block) * this.block);
    const tail = { data: this.past.view(), tokens: this.length, start: keepCoded, count: length - keepCoded };
    this.pending = tokenMajorFp16(tail, H, D);
    this.codedTokens = keepCoded;
    this.past.truncate(length);
  }

  bytes(): KvBytes {
    const W = this.quantizer.width;
    const n = this.length;
    return kvBytes({
      tokens: n,
      codes: this.codedBytes, // the format's blocks, their scales and zero points inside
      scales: 0,
      uncoded: this.pending.byteLength,
      bookkeeping: 0,
      fp16: n * W * 2,
      allocated: this.coded.length + this.pending.byteLength + this.past.view().byteLength,
      fedPerStep: this.past.view().byteLength,
    });
  }
}

export class ScalarKvStore implements Fp16PastStore {
  readonly format: ScalarCacheFormat;
  readonly geometry: KvGeometry;
  private readonly lanes: Record<KvKind, ScalarLane>[];

  constructor(format: ScalarCacheFormat, geometry: KvGeometry) {
    checkGeometry(geometry);
    this.format = format;
    this.geometry = { ...geometry };
    const width = geometry.numKvHeads * geometry.headDim;
    const lane = (kind: KvKind) => new ScalarLane(scalarQuantizer(format, width, kind), this.geometry);
    this.lanes = Array.from({ length: geometry.numLayers }, () => ({ key: lane('key'), value: lane('value') }));
  }

  get length(): number {
    return this.lanes[0].key.length;
  }

  append(layer: number, kind: KvKind, rows: KvRows): void {
    checkLayer(this.geometry, layer);
    this.lanes[layer][kind].append(rows);
  }

  /** The dequantized cache, [kvHeads, tokens, headDim] fp16, zero-copy. */
  fp16Past(layer: number, kind: KvKind): Uint16Array {
    checkLayer(this.geometry, layer);
    return this.lanes[layer][kind].past.view();
  }

  truncate(length: number): void {
    checkTruncation(this.length, length);
    for (const layer of this.lanes) for (const kind of KV_KINDS) layer[kind].truncate(length);
  }

  bytes(): KvBytes {
    return sumKvBytes(this.lanes.flatMap((layer) => KV_KINDS.map((kind) => layer[kind].bytes())));
  }

  save(): Uint8Array {
    checkComplete(this.lanes, this.length);
    const tensors: Record<string, SafetensorEntry> = {};
    this.lanes.forEach((layer, i) => {
      for (const kind of KV_KINDS) {
        const lane = layer[kind];
        tensors[`layers.${i}.${kind}.coded`] = { dtype: 'U8', shape: [lane.codedBytes], data: lane.coded.subarray(0, lane.codedBytes) };
        tensors[`layers.${i}.${kind}.pending`] = { dtype: 'F16', shape: [this.length - lane.codedTokens, lane.quantizer.width], data: bytesOf(lane.pending) };
      }
    });
    return encodeBlob(kvStoreBlob(this.format), { 'reskv.geometry': JSON.stringify(this.geometry), 'reskv.tokens': String(this.length) }, tensors);
  }

  /** Restores a snapshot (the coded blocks are decoded again to rebuild the fp16 the graph reads). */
  static restore(bytes: Uint8Array, format: ScalarCacheFormat, geometry: KvGeometry): ScalarKvStore {
    const blob = decodeBlob(bytes, kvStoreBlob(format));
    checkSavedGeometry(blobJson(blob, 'reskv.geometry', kvGeometrySchema), geometry);
    const tokens = blobJson(blob, 'reskv.tokens', z.number().int().nonnegative());
    const store = new ScalarKvStore(format, geometry);
    const { numKvHeads: H, headDim: D } = geometry;
    store.lanes.forEach((layer, i) => {
      for (const kind of KV_KINDS) {
        const lane = layer[kind];
        const prefix = `layers.${i}.${kind}`;
        const pendingTokens = blob.tensors[`${prefix}.pending`]?.shape[0] ?? 0;
        if (pendingTokens > tokens || (tokens - pendingTokens) % lane.block !== 0 || pendingTokens >= lane.block) {
          throw new Error(`saved KV cache: ${prefix} has ${pendingTokens} fp16 tail tokens of ${tokens}, impossible for ${lane.block}-token blocks`);
        }
        lane.codedTokens = tokens - pendingTokens;
        lane.coded = blobTensor(blob, `${prefix}.coded`, 'U8', [lane.codedBytes]);
        lane.pending = asUint16(blobTensor(blob, `${prefix}.pending`, 'F16', [pendingTokens, lane.quantizer.width]));
        lane.past.append(tokenRowsAsKvRows(lane.quantizer.decode(lane.coded, lane.codedTokens), H, D));
        lane.past.append(tokenRowsAsKvRows(lane.pending, H, D));
      }
    });
    return store;
  }
}
