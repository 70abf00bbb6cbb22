// Capacity-doubling buffers: appends copy the existing data only when the capacity runs out
// (amortised O(1) per element), and the live prefix is handed out as a zero-copy subarray.
// GrowableBytes takes its memory from a BlockStorage: the JS heap by default, or memory another
// reader works in (the fused kernel's), so that a store's own bytes are what that reader reads.

type GrowableArray = Uint8Array | Uint16Array;

/** `array` itself when it holds `needed` elements, else a larger one (at least double) with the first `used` copied. */
export function withCapacity<T extends GrowableArray>(array: T, needed: number, used: number): T {
  if (needed <= array.length) return array;
  const grown = new (array.constructor as new (length: number) => T)(Math.max(needed, 2 * array.length, 16));
  grown.set(array.subarray(0, used));
  return grown;
}

/** A zeroed block of bytes. Views are taken fresh: an allocation in the same storage may move its memory. */
export interface ByteBlock {
  /** Usable bytes. */
  readonly capacity: number;
  /** Bytes the block takes from its storage (its capacity and any allocator overhead). */
  readonly allocatedBytes: number;
  /** A view of the whole block, valid until the storage's next allocation. */
  view(): Uint8Array;
  release(): void;
}

/** Where GrowableBytes take their memory. */
export interface BlockStorage {
  alloc(bytes: number): ByteBlock;
}

export const heapStorage: BlockStorage = {
  alloc(bytes) {
    const data = new Uint8Array(bytes);
    return { capacity: bytes, allocatedBytes: bytes, view: () => data, release: () => {} };
  },
};

/** A capacity-doubling byte buffer in a BlockStorage (no block until something is held). */
export class GrowableBytes {
  private block: ByteBlock | null = null;

  constructor(private readonly storage: BlockStorage) {}

  get capacity(): number {
    return this.block?.capacity ?? 0;
  }

  get allocatedBytes(): number {
    return this.block?.allocatedBytes ?? 0;
  }

  /** Holds at least `needed` bytes (growing to at least double), the first `used` kept. */
  reserve(needed: number, used: number): void {
    if (needed > this.capacity) this.moveTo(Math.max(needed, 2 * this.capacity, 16), used);
  }

  /** Holds `capacity` bytes, the first `used` kept: a shrunk buffer really gives its memory back. */
  resize(capacity: number, used: number): void {
    if (capacity !== this.capacity) this.moveTo(capacity, used);
  }

  private moveTo(capacity: number, used: number): void {
    const next = capacity > 0 ? this.storage.alloc(capacity) : null;
    if (this.block) {
      // views after the allocation: it may have moved the old block's memory
      next?.view().set(this.block.view().subarray(0, Math.min(used, capacity)));
      this.block.release();
    }
    this.block = next;
  }

  /** The first `length` bytes (valid until the storage's next allocation). */
  bytes(length: number): Uint8Array {
    return (this.block?.view() ?? new Uint8Array(0)).subarray(0, length);
  }

  /** The first `length` 16-bit elements (blocks start 2-byte aligned). */
  u16(length: number): Uint16Array {
    const bytes = this.bytes(2 * length);
    return new Uint16Array(bytes.buffer, bytes.byteOffset, length);
  }
}
