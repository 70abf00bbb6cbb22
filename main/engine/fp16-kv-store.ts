// Fp16KvStore: the baseline cache, fp16 keys and values per layer in the Optimum past layout
// [kvHeads, tokens, headDim] (batch 1), so `fp16Past` hands the fp graph the buffer itself.
// Head-major growth cannot keep spare capacity and stay contiguous, so each append re-lays the layer
// into an exact-size buffer: one copy of the cache per step (copiedPerStep), nothing copied to feed it.
import { z } from 'zod';
import type { SafetensorEntry } from '../../quant/index.js';
import { checkKvRows, writeHeadMajorFp16 } from './kv-rows.js';
import { KV_KINDS, checkGeometry, checkLayer, kvBytes } from './kv-store.js';
import type { Fp16PastStore, KvBytes, KvGeometry, KvKind, KvRows } from './kv-store.js';
import { asUint16, blobJson, blobTensor, bytesOf, decodeStoreBlob, encodeStoreBlob } from './store-blob.js';

const geometrySchema = z.strictObject({ numLayers: z.number().int(), numKvHeads: z.number().int(), headDim: z.number().int() });

export class Fp16KvStore implements Fp16PastStore {
  readonly format = 'fp16' as const;
  readonly geometry: KvGeometry;
  private readonly layers: Record<KvKind, Uint16Array>[];

  constructor(geometry: KvGeometry) {
    checkGeometry(geometry);
    this.geometry = { ...geometry };
    this.layers = Array.from({ length: geometry.numLayers }, () => ({ key: new Uint16Array(0), value: new Uint16Array(0) }));
  }

  get length(): number {
    return this.layers[0].key.length / (this.geometry.numKvHeads * this.geometry.headDim);
  }

  private tokensIn(layer: number, kind: KvKind): number {
    return this.layers[layer][kind].length / (this.geometry.numKvHeads * this.geometry.headDim);
  }

  append(layer: number, kind: KvKind, rows: KvRows): void {
    checkLayer(this.geometry, layer);
    const { numKvHeads: H, headDim: D } = this.geometry;
    checkKvRows(rows, H, D);
    const old = this.layers[layer][kind];
    const have = this.tokensIn(layer, kind);
    const total = have + rows.count;
    const next = new Uint16Array(H * total * D);
    for (let h = 0; h < H; h++) next.set(old.subarray(h * have * D, (h + 1) * have * D), h * total * D);
    writeHeadMajorFp16(rows, H, D, next, total, have);
    this.layers[layer][kind] = next;
  }

  fp16Past(layer: number, kind: KvKind): Uint16Array {
    checkLayer(this.geometry, layer);
    return this.layers[layer][kind];
  }

  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.length) throw new RangeError(`cannot truncate ${this.length} tokens to ${length}`);
    const { numKvHeads: H, headDim: D } = this.geometry;
    for (const layer of this.layers) {
      for (const kind of KV_KINDS) {
        const old = layer[kind];
        const have = old.length / (H * D);
        const next = new Uint16Array(H * length * D);
        for (let h = 0; h < H; h++) next.set(old.subarray(h * have * D, (h * have + length) * D), h * length * D);
        layer[kind] = next;
      }
    }
  }

  bytes(): KvBytes {
    const { numLayers, numKvHeads, headDim } = this.geometry;
    const n = this.length;
    const values = 2 * numLayers * n * numKvHeads * headDim * 2;
    return kvBytes({ tokens: n, codes: 0, scales: 0, values, bookkeeping: 0, fp16: values, allocated: values, fedPerStep: values });
  }

  /** Bytes re-laid per decode step (the whole cache, see the header comment). */
  copiedPerStep(): number {
    return this.bytes().values;
  }

  private checkComplete(): void {
    this.layers.forEach((layer, i) => {
      for (const kind of KV_KINDS) {
        if (this.tokensIn(i, kind) !== this.length) throw new Error(`layer ${i} ${kind} holds ${this.tokensIn(i, kind)} tokens, layer 0 key ${this.length}: a step was left half done`);
      }
    });
  }

  save(): Uint8Array {
    this.checkComplete();
    const { numKvHeads: H, headDim: D } = this.geometry;
    const tensors: Record<string, SafetensorEntry> = {};
    this.layers.forEach((layer, i) => {
      for (const kind of KV_KINDS) tensors[`layers.${i}.${kind}`] = { dtype: 'F16', shape: [H, this.length, D], data: bytesOf(layer[kind]) };
    });
    return encodeStoreBlob('fp16', { 'reskv.geometry': JSON.stringify(this.geometry), 'reskv.tokens': String(this.length) }, tensors);
  }

  /** Restores a snapshot into a store of `geometry` (the same, or an error). */
  static restore(bytes: Uint8Array, geometry: KvGeometry): Fp16KvStore {
    const blob = decodeStoreBlob(bytes, 'fp16');
    const saved = blobJson(blob, 'reskv.geometry', geometrySchema);
    if (saved.numLayers !== geometry.numLayers || saved.numKvHeads !== geometry.numKvHeads || saved.headDim !== geometry.headDim) {
      throw new Error(`saved KV cache geometry ${JSON.stringify(saved)} differs from this model's ${JSON.stringify(geometry)}`);
    }
    const tokens = blobJson(blob, 'reskv.tokens', z.number().int().nonnegative());
    const store = new Fp16KvStore(geometry);
    store.layers.forEach((layer, i) => {
      for (const kind of KV_KINDS) layer[kind] = asUint16(blobTensor(blob, `layers.${i}.${kind}`, 'F16', [geometry.numKvHeads, tokens, geometry.headDim]));
    });
    return store;
  }
}
