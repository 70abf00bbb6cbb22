// The fp16 cache of the fused path: per layer, keys and values as fp16 token rows [tokens, kvHeads *
// headDim] in kernel memory, appended in place (capacity doubles, so a step writes only its new
// tokens), read by the kernel where they lie. Saves and restores in Fp16KvStore's format, so a
// conversation saved on either path restores on the other.
import { float32ArrayToFloat16 } from '../../../quant/index.js';
import { Fp16KvStore } from '../fp16-kv-store.js';
import { checkKvRows } from '../kv-rows.js';
import { KV_KINDS, checkGeometry, checkLayer, checkTruncation, kvBytes } from '../kv-store.js';
import type { KvBytes, KvGeometry, KvKind, KvRows, KvStore } from '../kv-store.js';
import type { FusedKernel } from './kernel.js';

interface Lane {
  at: number;
  capacity: number;
  tokens: number;
}

const lanesOf = new FinalizationRegistry<{ kernel: FusedKernel; lanes: Lane[] }>(({ kernel, lanes }) => {
  for (const lane of lanes) if (lane.capacity > 0) kernel.release(lane.at);
});

export class KernelFp16KvStore implements KvStore {
  readonly format = 'fp16' as const;
  readonly geometry: KvGeometry;
  private readonly width: number;
  private readonly lanes: Record<KvKind, Lane>[];

  constructor(
    readonly kernel: FusedKernel,
    geometry: KvGeometry,
  ) {
    checkGeometry(geometry);
    this.geometry = { ...geometry };
    this.width = geometry.numKvHeads * geometry.headDim;
    const lane = (): Lane => ({ at: 0, capacity: 0, tokens: 0 });
    this.lanes = Array.from({ length: geometry.numLayers }, () => ({ key: lane(), value: lane() }));
    lanesOf.register(this, { kernel, lanes: this.lanes.flatMap((l) => [l.key, l.value]) });
  }

  get length(): number {
    return this.lanes[0].key.tokens;
  }

  /** Kernel-memory offset of one layer's K or V rows [length, W] fp16 (valid until the next append). */
  rowsAt(layer: number, kind: KvKind): number {
    checkLayer(this.geometry, layer);
    return this.lanes[layer][kind].at;
  }

  append(layer: number, kind: KvKind, rows: KvRows): void {
    const { numKvHeads: H, headDim: D } = this.geometry;
    checkKvRows(rows, H, D);
    const W = this.width;
    const out = this.reserve(layer, kind, rows.count);
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < rows.count; t++) {
        const from = (h * rows.tokens + rows.start + t) * D;
        const src = rows.data.subarray(from, from + D);
        const dst = out.subarray(t * W + h * D, t * W + (h + 1) * D);
        if (src instanceof Uint16Array) dst.set(src);
        else float32ArrayToFloat16(src, dst);
      }
    }
  }

  /** append() for `count` token-major float32 rows [count, kvHeads * headDim] (the layout the lanes keep) at kernel offset `at`. */
  appendTokenRowsAt(layer: number, kind: KvKind, at: number, count: number): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`token count ${count} is not a whole number`);
    this.kernel.toHalf(at, this.reserve(layer, kind, count).byteOffset, count * this.width);
  }

  /** Room for `count` more tokens in one lane (capacity doubles): their fp16 rows, now counted as held. */
  private reserve(layer: number, kind: KvKind, count: number): Uint16Array {
    checkLayer(this.geometry, layer);
    const lane = this.lanes[layer][kind];
    const W = this.width;
    const total = lane.tokens + count;
    if (total > lane.capacity) {
      const capacity = Math.max(total, 2 * lane.capacity, 64);
      const at = this.kernel.alloc(2 * capacity * W);
      if (lane.capacity > 0) {
        this.kernel.u16(at, lane.tokens * W).set(this.kernel.u16(lane.at, lane.tokens * W));
        this.kernel.release(lane.at);
      }
      Object.assign(lane, { at, capacity });
    }
    const out = this.kernel.u16(lane.at + 2 * lane.tokens * W, count * W);
    lane.tokens = total;
    return out;
  }

  truncate(length: number): void {
    checkTruncation(this.length, length);
    for (const layer of this.lanes) for (const kind of KV_KINDS) layer[kind].tokens = Math.min(layer[kind].tokens, length);
  }

  bytes(): KvBytes {
    const uncoded = 2 * this.geometry.numLayers * this.length * this.width * 2;
    const allocated = this.lanes.reduce((n, l) => n + 2 * this.width * (l.key.capacity + l.value.capacity), 0);
    return kvBytes({ tokens: this.length, codes: 0, scales: 0, uncoded, bookkeeping: 0, fp16: uncoded, allocated, fedPerStep: uncoded });
  }

  /** An Fp16KvStore holding the same tokens (head-major), for saving. */
  private toFp16KvStore(): Fp16KvStore {
    const store = new Fp16KvStore(this.geometry);
    const { numKvHeads: H, headDim: D } = this.geometry;
    this.lanes.forEach((layer, i) => {
      for (const kind of KV_KINDS) {
        const lane = layer[kind];
        const rows = this.kernel.u16(lane.at, lane.tokens * this.width).slice();
        const data = new Uint16Array(rows.length);
        for (let t = 0; t < lane.tokens; t++) for (let h = 0; h < H; h++) data.set(rows.subarray(t * this.width + h * D, t * this.width + (h + 1) * D), (h * lane.tokens + t) * D);
        store.append(i, kind, { data, tokens: lane.tokens, start: 0, count: lane.tokens });
      }
    });
    return store;
  }

  save(): Uint8Array {
    return this.toFp16KvStore().save();
  }

  static restore(bytes: Uint8Array, kernel: FusedKernel, geometry: KvGeometry): KernelFp16KvStore {
    const saved = Fp16KvStore.restore(bytes, geometry);
    const store = new KernelFp16KvStore(kernel, geometry);
    for (let i = 0; i < geometry.numLayers; i++) {
      for (const kind of KV_KINDS) store.append(i, kind, { data: saved.fp16Past(i, kind), tokens: saved.length, start: 0, count: saved.length });
    }
    return store;
  }
}
