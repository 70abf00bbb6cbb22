// Fp16KvStore: the baseline cache, fp16 keys and values per layer, each an Fp16Past in the Optimum past
// layout [kvHeads, tokens, headDim], so `fp16Past` hands the fp graph the buffer itself (fed per step:
// the whole cache). Fed the graph's present, a step copies nothing; other appends re-lay (Fp16Past).
import { z } from 'zod';
import type { SafetensorEntry } from '../../quant/index.js';
import { Fp16Past } from './fp16-past.js';
import { KV_KINDS, checkComplete, checkGeometry, checkLayer, checkSavedGeometry, checkTruncation, kvBytes, kvGeometrySchema } from './kv-store.js';
import type { Fp16PastStore, KvBytes, KvGeometry, KvKind, KvRows } from './kv-store.js';
import { asUint16, blobJson, blobTensor, bytesOf, decodeBlob, encodeBlob, kvStoreBlob } from './store-blob.js';

export class Fp16KvStore implements Fp16PastStore {
  readonly format = 'fp16' as const;
  readonly geometry: KvGeometry;
  private readonly lanes: Record<KvKind, Fp16Past>[];

  constructor(geometry: KvGeometry) {
    checkGeometry(geometry);
    this.geometry = { ...geometry };
    const lane = () => new Fp16Past(geometry.numKvHeads, geometry.headDim);
    this.lanes = Array.from({ length: geometry.numLayers }, () => ({ key: lane(), value: lane() }));
  }

  get length(): number {
    return this.lanes[0].key.length;
  }

  append(layer: number, kind: KvKind, rows: KvRows): void {
    checkLayer(this.geometry, layer);
    this.lanes[layer][kind].append(rows);
  }

  fp16Past(layer: number, kind: KvKind): Uint16Array {
    checkLayer(this.geometry, layer);
    return this.lanes[layer][kind].view();
  }

  truncate(length: number): void {
    checkTruncation(this.length, length);
    for (const layer of this.lanes) for (const kind of KV_KINDS) layer[kind].truncate(length);
  }

  bytes(): KvBytes {
    const { numLayers, numKvHeads, headDim } = this.geometry;
    const uncoded = 2 * numLayers * this.length * numKvHeads * headDim * 2;
    return kvBytes({ tokens: this.length, codes: 0, scales: 0, uncoded, bookkeeping: 0, fp16: uncoded, allocated: uncoded, fedPerStep: uncoded });
  }

  /** Bytes the store has copied re-laying its lanes so far (none when it keeps the graph's present). */
  copiedBytes(): number {
    return this.lanes.reduce((n, layer) => n + layer.key.copiedBytes + layer.value.copiedBytes, 0);
  }

  save(): Uint8Array {
    checkComplete(this.lanes, this.length);
    const { numKvHeads: H, headDim: D } = this.geometry;
    const tensors: Record<string, SafetensorEntry> = {};
    this.lanes.forEach((layer, i) => {
      for (const kind of KV_KINDS) tensors[`layers.${i}.${kind}`] = { dtype: 'F16', shape: [H, this.length, D], data: bytesOf(layer[kind].view()) };
    });
    return encodeBlob(kvStoreBlob('fp16'), { 'reskv.geometry': JSON.stringify(this.geometry), 'reskv.tokens': String(this.length) }, tensors);
  }

  /** Restores a snapshot into a store of `geometry` (the same, or an error). */
  static restore(bytes: Uint8Array, geometry: KvGeometry): Fp16KvStore {
    const blob = decodeBlob(bytes, kvStoreBlob('fp16'));
    checkSavedGeometry(blobJson(blob, 'reskv.geometry', kvGeometrySchema), geometry);
    const tokens = blobJson(blob, 'reskv.tokens', z.number().int().nonnegative());
    const store = new Fp16KvStore(geometry);
    store.lanes.forEach((layer, i) => {
      for (const kind of KV_KINDS) layer[kind].load(asUint16(blobTensor(blob, `layers.${i}.${kind}`, 'F16', [geometry.numKvHeads, tokens, geometry.headDim])));
    });
    return store;
  }
}
