// The coded past of a KvCodeStore's lanes copied into kernel memory, kept in step incrementally: a
// step copies only the records coded since the last one (a truncation or depth change, which bump the
// store's revision, recopy a lane). The kernel reads the mirror; the store stays the one that saves,
// restores and accounts. Mirrors are released when their store is collected.
import type { KvCodeStore, RvqPast } from '../kv-code-store.js';
import type { KvKind } from '../kv-store.js';
import type { FusedKernel } from './kernel.js';

/** One lane's coded tokens in kernel memory: records [tokens, stride], scales, per-token depths. */
export interface MirroredLane {
  records: number;
  scales: number;
  depths: number;
  tokens: number;
  stride: number;
}

interface Lane extends MirroredLane {
  capacity: number;
  scaleCount: number;
}

class StoreMirror {
  readonly lanes: Record<KvKind, Lane>[];
  revision = -1;

  constructor(numLayers: number) {
    const empty = (): Lane => ({ records: 0, scales: 0, depths: 0, tokens: 0, stride: 0, capacity: 0, scaleCount: 0 });
    this.lanes = Array.from({ length: numLayers }, () => ({ key: empty(), value: empty() }));
  }
}

export class CodedMirrors {
  private readonly mirrors = new WeakMap<KvCodeStore, StoreMirror>();
  private readonly registry: FinalizationRegistry<StoreMirror>;

  constructor(private readonly kernel: FusedKernel) {
    this.registry = new FinalizationRegistry((mirror) => {
      for (const layer of mirror.lanes) for (const lane of Object.values(layer)) this.releaseLane(lane);
    });
  }

  /** Brings the store's mirror up to date; returns its lanes. */
  sync(store: KvCodeStore): readonly Record<KvKind, MirroredLane>[] {
    let mirror = this.mirrors.get(store);
    if (!mirror) {
      mirror = new StoreMirror(store.geometry.numLayers);
      this.mirrors.set(store, mirror);
      this.registry.register(store, mirror);
    }
    const fresh = mirror.revision !== store.revision;
    mirror.revision = store.revision;
    mirror.lanes.forEach((layer, i) => {
      for (const kind of ['key', 'value'] as const) this.syncLane(layer[kind], store.past(i, kind), fresh);
    });
    return mirror.lanes;
  }

  private syncLane(lane: Lane, past: RvqPast, fresh: boolean): void {
    const { kernel } = this;
    const scaleCount = past.codedTokens > 0 ? past.scales.length / past.codedTokens : lane.scaleCount;
    if (fresh || past.recordBytes !== lane.stride || past.codedTokens < lane.tokens) lane.tokens = 0;
    lane.stride = past.recordBytes;
    lane.scaleCount = scaleCount;
    const tokens = past.codedTokens;
    if (tokens > lane.capacity) {
      const capacity = Math.max(tokens, 2 * lane.capacity, 64);
      const records = kernel.alloc(capacity * lane.stride);
      const scales = kernel.alloc(2 * capacity * Math.max(scaleCount, 1));
      const depths = kernel.alloc(capacity);
      if (lane.tokens > 0) {
        kernel.u8(records, lane.tokens * lane.stride).set(kernel.u8(lane.records, lane.tokens * lane.stride));
        kernel.u16(scales, lane.tokens * scaleCount).set(kernel.u16(lane.scales, lane.tokens * scaleCount));
        kernel.u8(depths, lane.tokens).set(kernel.u8(lane.depths, lane.tokens));
      }
      this.releaseLane(lane);
      Object.assign(lane, { records, scales, depths, capacity });
    } else if (lane.capacity > 0 && lane.stride * lane.capacity > kernel.capacity(lane.records)) {
      // a wider stride (raised depth) at the same capacity needs a larger records block
      kernel.release(lane.records);
      lane.records = kernel.alloc(lane.capacity * lane.stride);
      lane.tokens = 0;
    }
    const from = lane.tokens;
    kernel.u8(lane.records + from * lane.stride, (tokens - from) * lane.stride).set(past.records.subarray(from * lane.stride, tokens * lane.stride));
    kernel.u16(lane.scales + 2 * from * scaleCount, (tokens - from) * scaleCount).set(past.scales.subarray(from * scaleCount, tokens * scaleCount));
    kernel.u8(lane.depths + from, tokens - from).set(past.depths.subarray(from, tokens));
    lane.tokens = tokens;
  }

  private releaseLane(lane: Lane): void {
    if (lane.capacity === 0) return;
    this.kernel.release(lane.records);
    this.kernel.release(lane.scales);
    this.kernel.release(lane.depths);
    lane.capacity = 0;
  }
}
