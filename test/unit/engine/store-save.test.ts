import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, float32ToFloat16Bits } from '../../../quant/index.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import { KvCodeStore } from '../../../main/engine/kv-code-store.js';
import type { KvCodeStoreOptions } from '../../../main/engine/kv-code-store.js';
import { headMajorRows, storiesSpec, valueEncoder } from './rvq-fixtures.js';

const options = (recentWindow = 3): KvCodeStoreOptions => ({
  numLayers: 2,
  keySpec: storiesSpec,
  valueSpec: storiesSpec,
  recentWindow,
  encoders: { key: [valueEncoder(storiesSpec), valueEncoder(storiesSpec)], value: [valueEncoder(storiesSpec), valueEncoder(storiesSpec)] },
});

function feed(store: KvCodeStore | Fp16KvStore, tokens: number, first: number): void {
  for (let layer = 0; layer < 2; layer++) {
    for (const kind of ['key', 'value'] as const) store.append(layer, kind, { data: headMajorRows(storiesSpec, tokens, first), tokens, start: 0, count: tokens });
  }
}

/** A store with a depth change mid-conversation and a partly filled window. */
function busyStore(): KvCodeStore {
  const store = new KvCodeStore(options());
  feed(store, 9, 0);
  store.setDepth(3);
  store.setDepth(6, { layer: 1 });
  feed(store, 4, 9);
  return store;
}

describe('KvCodeStore save/restore', () => {
  it('round-trips records, scales, per-token depths, window and depths, and keeps working', () => {
    const store = busyStore();
    const restored = KvCodeStore.restore(store.save(), options());
    expect(restored.length).toBe(13);
    expect({ ...restored.bytes(), allocated: 0 }).toEqual({ ...store.bytes(), allocated: 0 }); // restored buffers are exact-size
    for (let layer = 0; layer < 2; layer++) {
      for (const kind of ['key', 'value'] as const) {
        expect(restored.past(layer, kind)).toEqual(store.past(layer, kind));
        expect(restored.depth(layer, kind)).toBe(store.depth(layer, kind));
      }
    }
    feed(store, 2, 13);
    feed(restored, 2, 13);
    expect(restored.past(1, 'key')).toEqual(store.past(1, 'key'));
  });

  it('rejects a corrupt, truncated or mismatched snapshot with a clear error', () => {
    const blob = busyStore().save();
    const flipped = blob.slice();
    flipped[flipped.length - 5] ^= 0x10;
    expect(() => KvCodeStore.restore(flipped, options())).toThrow(/corrupt: checksum/);
    expect(() => KvCodeStore.restore(blob.subarray(0, blob.length - 3), options())).toThrow(/corrupt.*truncated/);
    expect(() => KvCodeStore.restore(new Uint8Array(4), options())).toThrow(/saved KV cache is corrupt or not a ResKV snapshot/);
    expect(() => KvCodeStore.restore(blob, options(5))).toThrow(/recent window of 3 tokens/);
    expect(() => KvCodeStore.restore(blob, { ...options(), numLayers: 1, encoders: undefined })).toThrow(/2 layers/);
    expect(() => KvCodeStore.restore(blob, { ...options(), valueSpec: { ...storiesSpec, codebookSize: 1024 } })).toThrow(/value spec/);
    expect(() => Fp16KvStore.restore(blob, { numLayers: 2, numKvHeads: 4, headDim: 8 })).toThrow(/rvq store, not fp16/);
  });

  it('rejects a snapshot whose metadata was edited, even with a consistent layout', () => {
    const { metadata, tensors } = decodeSafetensors(busyStore().save());
    const edited = encodeSafetensors(tensors, { ...metadata, 'reskv.format': 'reskv-kv-store/9' });
    expect(() => KvCodeStore.restore(edited, options())).toThrow(/format "reskv-kv-store\/9"/);
    const tampered = encodeSafetensors(tensors, { ...metadata, 'reskv.tokens': '12' });
    expect(() => KvCodeStore.restore(tampered, options())).toThrow(/checksum/);
  });
});

describe('Fp16KvStore', () => {
  const geometry = { numLayers: 2, numKvHeads: 4, headDim: 8 };

  it('keeps the Optimum past layout [heads, tokens, headDim] and takes new tokens out of a present tensor', () => {
    const store = new Fp16KvStore(geometry);
    feed(store, 3, 0);
    // a present-style tensor: 3 past tokens + 2 new, only the new ones are taken
    for (let layer = 0; layer < 2; layer++) {
      for (const kind of ['key', 'value'] as const) store.append(layer, kind, { data: headMajorRows(storiesSpec, 5, 0), tokens: 5, start: 3, count: 2 });
    }
    const reference = new Fp16KvStore(geometry);
    feed(reference, 5, 0);
    expect(store.fp16Past(1, 'value')).toEqual(reference.fp16Past(1, 'value'));
    const past = store.fp16Past(0, 'key');
    expect(past.length).toBe(4 * 5 * 8);
    // value of head 2, token 4, channel 3 in the fixture: (4 % 97)/8 + (2*8+3)/1024, as fp16
    expect(past[(2 * 5 + 4) * 8 + 3]).toBe(float32ToFloat16Bits(4 / 8 + 19 / 1024));
  });

  it('accounts 2 bytes per value, all fed to the graph per step, and round-trips', () => {
    const store = new Fp16KvStore(geometry);
    feed(store, 6, 0);
    const b = store.bytes();
    expect(b).toMatchObject({ tokens: 6, codes: 0, scales: 0, uncoded: 2 * 2 * 6 * 32 * 2, fp16: 2 * 2 * 6 * 32 * 2, fedPerStep: 2 * 2 * 6 * 32 * 2 });
    expect(store.copiedBytes()).toBe(0); // the first append has nothing to re-lay
    const restored = Fp16KvStore.restore(store.save(), geometry);
    expect(restored.fp16Past(1, 'key')).toEqual(store.fp16Past(1, 'key'));
    expect(() => Fp16KvStore.restore(store.save(), { ...geometry, headDim: 16 })).toThrow(/geometry/);
    store.truncate(2);
    expect(store.length).toBe(2);
    expect(store.copiedBytes()).toBe(2 * 2 * 2 * 32 * 2); // 2 tokens of 32 fp16 values kept, per layer and K/V
    const shorter = new Fp16KvStore(geometry);
    feed(shorter, 2, 0);
    expect(store.fp16Past(0, 'value')).toEqual(shorter.fp16Past(0, 'value'));
  });

  it('keeps the graph\'s present as its buffer, copying nothing, when told it holds the fed past', () => {
    const store = new Fp16KvStore(geometry);
    feed(store, 3, 0);
    const copied = store.copiedBytes();
    const present = new Fp16KvStore(geometry);
    feed(present, 5, 0); // stands in for concat(past, new) as the graph returns it
    for (let layer = 0; layer < 2; layer++) {
      for (const kind of ['key', 'value'] as const) store.append(layer, kind, { data: present.fp16Past(layer, kind), tokens: 5, start: 3, count: 2, pastIsStore: true });
    }
    expect(store.fp16Past(1, 'value')).toBe(present.fp16Past(1, 'value'));
    expect(store.copiedBytes()).toBe(copied);
    expect(store.length).toBe(5);
  });

  it('rejects bad geometry and refuses to save a half-done step', () => {
    expect(() => new Fp16KvStore({ numLayers: 0, numKvHeads: 4, headDim: 8 })).toThrow(/numLayers/);
    const store = new Fp16KvStore(geometry);
    store.append(0, 'key', { data: headMajorRows(storiesSpec, 1), tokens: 1, start: 0, count: 1 });
    expect(() => store.save()).toThrow(/half done/);
  });
});
