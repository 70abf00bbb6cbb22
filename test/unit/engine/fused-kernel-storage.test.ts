// A KvCodeStore whose coded tokens live in fused-kernel memory (kernelStorage) holds, saves and
// restores exactly what a heap store does, through growth, depth cuts and raises, truncation and
// memory growth between its changes (which detaches every view taken before).
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../quant/index.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';
import { kernelOffset, kernelStorage } from '../../../main/engine/fused/kernel-storage.js';
import type { BlockStorage } from '../../../main/engine/growable.js';
import { KvCodeStore } from '../../../main/engine/kv-code-store.js';
import { KV_KINDS } from '../../../main/engine/kv-store.js';
import { headMajorRows, storiesSpec, valueEncoder } from './rvq-fixtures.js';

const layers = 2;
const encoders = () => Array.from({ length: layers }, () => valueEncoder(storiesSpec));
const options = (recentWindow: number, storage?: BlockStorage) => ({ numLayers: layers, keySpec: storiesSpec, valueSpec: storiesSpec, recentWindow, encoders: { key: encoders(), value: encoders() }, storage });

function feed(store: KvCodeStore, tokens: number, first: number): void {
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of KV_KINDS) store.append(layer, kind, { data: headMajorRows(storiesSpec, tokens, first), tokens, start: 0, count: tokens });
  }
}

/** The same conversation on each store; `between` runs after every change (it grows kernel memory). */
function converse(stores: KvCodeStore[], between: () => void): void {
  const each = (change: (store: KvCodeStore) => void) => {
    stores.forEach(change);
    between();
  };
  each((s) => feed(s, 40, 0));
  each((s) => s.setDepth(3));
  each((s) => feed(s, 90, 40));
  each((s) => s.setDepth(6, { layer: 1 }));
  each((s) => feed(s, 7, 130));
  each((s) => s.truncate(101));
  each((s) => s.setDepth(2, { layer: 0, kind: 'value' }));
  each((s) => feed(s, 300, 101));
}

const expectSame = (store: KvCodeStore, heap: KvCodeStore) => {
  for (let layer = 0; layer < layers; layer++) for (const kind of KV_KINDS) expect(store.past(layer, kind)).toEqual(heap.past(layer, kind));
};

describe('KvCodeStore in kernel memory', () => {
  it.each([0, 3])('holds and saves what a heap store does (window %i), though the memory moves under it', (window) => {
    const kernel = new FusedKernel();
    const heap = new KvCodeStore(options(window));
    const store = new KvCodeStore(options(window, kernelStorage(kernel)));
    const grown: number[] = [];
    converse([heap, store], () => {
      const buffer = kernel.memory.buffer;
      // memory growth: views taken before are detached
      while (kernel.memory.buffer === buffer) grown.push(kernel.alloc(65536));
    });
    expect(store.length).toBe(401);
    expectSame(store, heap);
    const past = store.past(1, 'key');
    expect(kernelOffset(kernel, past.records)).toBe(past.records.byteOffset);
    expect(store.save()).toEqual(heap.save()); // the save format does not depend on where the codes live

    const restored = KvCodeStore.restore(heap.save(), options(window, kernelStorage(kernel)));
    expect(restored.past(0, 'value').records.buffer).toBe(kernel.memory.buffer);
    expectSame(restored, heap);
    feed(restored, 5, 401);
    feed(heap, 5, 401);
    expectSame(restored, heap);
    for (const at of grown) kernel.release(at);
  });

  it('counts exactly the kernel memory its coded tokens take', () => {
    const kernel = new FusedKernel();
    const before = kernel.allocatedBytes;
    const store = new KvCodeStore(options(0, kernelStorage(kernel)));
    converse([store], () => {});
    expect(kernel.allocatedBytes - before).toBe(store.bytes().allocated);
    expect(store.bytes().allocated).toBeGreaterThanOrEqual(store.bytes().held);
  });

  it('refuses to hand the kernel views of memory that is not its own', () => {
    const kernel = new FusedKernel();
    const heap = new KvCodeStore(options(0));
    feed(heap, 2, 0);
    expect(() => kernelOffset(kernel, heap.past(0, 'key').records)).toThrow(/not in this kernel's memory/);
    expect(kernelOffset(kernel, new Uint8Array(0))).toBe(0);
  });
});

describe('the kernel allocator', () => {
  it('never hands out memory a live block holds, through random allocations and releases', () => {
    const kernel = new FusedKernel();
    const rng = createRng(3);
    const live = new Map<number, { bytes: number; mark: number }>();
    for (let op = 0; op < 2000; op++) {
      if (live.size > 0 && rng.next() < 0.45) {
        const ats = [...live.keys()];
        const at = ats[Math.floor(rng.next() * ats.length)];
        const { bytes, mark } = live.get(at)!;
        expect(kernel.u8(at, bytes).every((b) => b === mark)).toBe(true);
        kernel.release(at);
        live.delete(at);
      } else {
        const bytes = 1 + Math.floor(rng.next() ** 3 * 200_000);
        const at = kernel.alloc(bytes);
        expect(at % 16).toBe(0);
        expect(kernel.u8(at, bytes).every((b) => b === 0)).toBe(true);
        const mark = 1 + (op % 255);
        kernel.u8(at, bytes).fill(mark);
        live.set(at, { bytes, mark });
      }
    }
    for (const [at, { bytes, mark }] of live) expect(kernel.u8(at, bytes).every((b) => b === mark)).toBe(true);
    expect(() => kernel.release(1)).toThrow(/no block at 1/);
  });

  it('puts the blocks growing buffers leave behind to use: memory stays near the live bytes', () => {
    const kernel = new FusedKernel();
    const start = kernel.memory.buffer.byteLength;
    // 30 buffers doubling in turn from 4 KiB to 1 MiB, as a store's lanes grow
    const buffers = Array.from({ length: 30 }, () => kernel.alloc(4096));
    for (let bytes = 8192; bytes <= 1 << 20; bytes *= 2) {
      buffers.forEach((at, i) => {
        buffers[i] = kernel.alloc(bytes);
        kernel.release(at);
      });
    }
    const live = kernel.allocatedBytes;
    expect(live).toBeGreaterThanOrEqual(30 << 21); // 1 MiB + slack rounds to 2 MiB blocks
    // without reuse the freed blocks would add about as much again
    expect(kernel.memory.buffer.byteLength - start).toBeLessThan(1.1 * live);
  });
});
