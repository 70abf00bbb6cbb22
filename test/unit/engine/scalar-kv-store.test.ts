import { describe, expect, it } from 'vitest';
import { float16ArrayToFloat32, float32ArrayToFloat16, scalarQuantizer } from '../../../quant/index.js';
import type { KvKind } from '../../../quant/index.js';
import { tokenMajorFloat32, tokenRowsAsKvRows } from '../../../main/engine/kv-rows.js';
import { ScalarKvStore, tokensPerBlock } from '../../../main/engine/scalar-kv-store.js';
import { headMajorRows } from './rvq-fixtures.js';

const geometry = { numLayers: 2, numKvHeads: 4, headDim: 8 };
const W = 32;

function feed(store: ScalarKvStore, tokens: number, chunk: number): void {
  for (let at = 0; at < tokens; at += chunk) {
    const n = Math.min(chunk, tokens - at);
    for (let layer = 0; layer < 2; layer++) {
      for (const kind of ['key', 'value'] as const) store.append(layer, kind, { data: headMajorRows(geometry, n, at), tokens: n, start: 0, count: n });
    }
  }
}

/** What the fp graph should read: the tokens rounded to fp16, then through quant's quantizer, as fp16 head-major. */
function expectedPast(format: 'q8_0' | 'kivi2', kind: KvKind, tokens: number, coded: number): Uint16Array {
  const all = tokenMajorFloat32({ data: headMajorRows(geometry, tokens), tokens, start: 0, count: tokens }, 4, 8);
  const rounded = float16ArrayToFloat32(float32ArrayToFloat16(all));
  const q = scalarQuantizer(format, W, kind);
  const rows = rounded.slice();
  rows.set(q.decode(q.encode(rounded.subarray(0, coded * W)), coded));
  return float32ArrayToFloat16(tokenRowsAsKvRows(rows, 4, 8).data as Float32Array);
}

describe('ScalarKvStore', () => {
  it('finds the token block of each quantizer from its storage', () => {
    expect(tokensPerBlock(scalarQuantizer('q8_0', W, 'key'))).toBe(1);
    expect(tokensPerBlock(scalarQuantizer('q4_0', W, 'value'))).toBe(1);
    expect(tokensPerBlock(scalarQuantizer('kivi2', W, 'key'))).toBe(32);
    expect(tokensPerBlock(scalarQuantizer('kivi2', W, 'value'))).toBe(1);
  });

  it('stores q8_0 per token, exactly the quantizer bytes, and feeds the dequantized values', () => {
    const store = new ScalarKvStore('q8_0', geometry);
    feed(store, 9, 4);
    const q = scalarQuantizer('q8_0', W, 'key');
    const b = store.bytes();
    expect(b.codes).toBe(2 * 2 * q.storedBytes(9));
    expect(b.codes).toBe(2 * 2 * 9 * 34); // one 34-byte block per 32-value token
    expect(b.uncoded).toBe(0);
    expect(b.fp16).toBe(2 * 2 * 9 * W * 2);
    expect(b.fedPerStep).toBe(b.fp16);
    expect(store.fp16Past(1, 'key')).toEqual(expectedPast('q8_0', 'key', 9, 9));
  });

  it('keeps KIVI keys of an unfilled 32-token block in fp16, independent of chunking', () => {
    const whole = new ScalarKvStore('kivi2', geometry);
    const single = new ScalarKvStore('kivi2', geometry);
    feed(whole, 40, 40);
    feed(single, 40, 1);
    for (const store of [whole, single]) {
      const key = scalarQuantizer('kivi2', W, 'key');
      const value = scalarQuantizer('kivi2', W, 'value');
      expect(store.bytes().codes).toBe(2 * (key.storedBytes(32) + value.storedBytes(40)));
      expect(store.bytes().uncoded).toBe(2 * 8 * W * 2);
      expect(store.fp16Past(0, 'key')).toEqual(expectedPast('kivi2', 'key', 40, 32));
      expect(store.fp16Past(0, 'value')).toEqual(expectedPast('kivi2', 'value', 40, 40));
    }
  });

  it('truncates into a coded block and round-trips through save/restore', () => {
    const store = new ScalarKvStore('kivi2', geometry);
    feed(store, 40, 7);
    store.truncate(35);
    expect(store.length).toBe(35);
    expect(store.bytes().uncoded).toBe(2 * 3 * W * 2);
    const restored = ScalarKvStore.restore(store.save(), 'kivi2', geometry);
    expect(restored.bytes().codes).toBe(store.bytes().codes);
    for (const kind of ['key', 'value'] as const) expect(restored.fp16Past(1, kind)).toEqual(store.fp16Past(1, kind));
    store.truncate(20); // cuts the only key block: its tokens return to the fp16 tail as dequantized values
    expect(store.bytes().uncoded).toBe(2 * 20 * W * 2);
    expect(store.fp16Past(0, 'key')).toEqual(expectedPast('kivi2', 'key', 40, 32).filter((_, i) => i % (40 * 8) < 20 * 8));
    expect(() => ScalarKvStore.restore(store.save(), 'q4_0', geometry)).toThrow(/kivi2 store, not q4_0/);
    expect(() => ScalarKvStore.restore(store.save(), 'kivi2', { ...geometry, numLayers: 3 })).toThrow(/geometry/);
  });
});
