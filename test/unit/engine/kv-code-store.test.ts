import { describe, expect, it } from 'vitest';
import { RvqCodec, codeBits, createRng, groupsPerToken, packCodes, rvqBitsPerValue, rvqBytesPerToken, rvqCodeBytesPerToken, rvqScaleBytesPerToken, tokenWidth } from '../../../quant/index.js';
import type { KvKind, RvqSpec } from '../../../quant/index.js';
import { KvCodeStore } from '../../../main/engine/kv-code-store.js';
import { tokenMajorFloat32 } from '../../../main/engine/kv-rows.js';
import type { KvCodeStoreOptions } from '../../../main/engine/kv-code-store.js';
import { RvqTokenRecords } from '../../../main/engine/rvq-token-records.js';
import { headMajorRows, paperSpec, sampleCodes, storiesSpec, valueEncoder } from './rvq-fixtures.js';

/** The contract's record bytes for `codes` cut to `depth` stages: packCodes of the depth-prefix. */
function expectedRecord(spec: RvqSpec, codes: Uint32Array, codedDepth: number, token: number, depth: number): Uint8Array {
  const G = groupsPerToken(spec);
  const prefix = codes.subarray(token * codedDepth * G, (token * codedDepth + depth) * G);
  return packCodes(prefix, codeBits(spec), new Uint8Array(rvqCodeBytesPerToken(spec, depth)));
}

function recordOf(records: Pick<RvqTokenRecords, 'views'>, t: number): Uint8Array {
  const { records: bytes, recordBytes } = records.views();
  return bytes.subarray(t * recordBytes, (t + 1) * recordBytes);
}

/** Token t's record in one layer's K or V of a store, as the graph is fed it. */
const storeRecord = (store: KvCodeStore, layer: number, kind: KvKind, t: number) => recordOf({ views: () => store.past(layer, kind) }, t);

describe('RvqTokenRecords byte accounting', () => {
  it('holds exactly the contract bytes per token (46 for head_dim 128, 13 for stories260K)', () => {
    for (const [spec, perToken] of [[paperSpec, 46], [storiesSpec, 13]] as const) {
      const records = new RvqTokenRecords(spec);
      records.appendEncoded(sampleCodes(spec, 37));
      const b = records.bytes();
      expect(b.codes).toBe(37 * rvqCodeBytesPerToken(spec));
      expect(b.scales).toBe(37 * rvqScaleBytesPerToken(spec));
      expect(b.codes + b.scales).toBe(37 * perToken);
      expect(b.codes + b.scales).toBe(37 * rvqBytesPerToken(spec));
      expect(b.bookkeeping).toBe(37);
      expect(b.held).toBe(b.codes + b.scales + b.bookkeeping);
      expect(b.fp16).toBe(37 * tokenWidth(spec) * 2);
      expect((8 * (b.codes + b.scales)) / (37 * tokenWidth(spec))).toBe(rvqBitsPerValue(spec));
      expect(b.allocated).toBeGreaterThanOrEqual(b.held);
    }
  });

  it('packs each token record as the contract lays it out', () => {
    const encoded = sampleCodes(storiesSpec, 5);
    const records = new RvqTokenRecords(storiesSpec);
    records.appendEncoded(encoded);
    for (let t = 0; t < 5; t++) expect(recordOf(records, t)).toEqual(expectedRecord(storiesSpec, encoded.codes, 8, t, 8));
    expect(records.views().scales).toEqual(encoded.scales);
  });

  it('hands out zero-copy views that grow without re-copying each token', () => {
    const records = new RvqTokenRecords(paperSpec);
    let reallocations = 0;
    let previous = records.views().records.buffer;
    for (let t = 0; t < 100; t++) {
      records.appendEncoded(sampleCodes(paperSpec, 1, 8, t));
      const { buffer } = records.views().records;
      if (buffer !== previous) reallocations++;
      previous = buffer;
    }
    expect(reallocations).toBeLessThanOrEqual(Math.ceil(Math.log2(100 * 44)));
    expect(records.views().records.length).toBe(100 * 44);
  });

  it('keeps the first stages of deeper codes and rejects shallower ones', () => {
    const records = new RvqTokenRecords(storiesSpec, 3);
    const encoded = sampleCodes(storiesSpec, 4, 8);
    records.appendEncoded(encoded);
    for (let t = 0; t < 4; t++) expect(recordOf(records, t)).toEqual(expectedRecord(storiesSpec, encoded.codes, 8, t, 3));
    expect(() => records.appendEncoded(sampleCodes(storiesSpec, 1, 2))).toThrow(/depth 2.*depth 3/);
    expect(() => records.appendEncoded({ ...encoded, scales: new Uint16Array(1) })).toThrow(/scales/);
  });
});

describe('RvqTokenRecords depth changes mid-conversation', () => {
  it('lowering repacks every record to its first d stages and frees the bytes', () => {
    const spec = paperSpec;
    const records = new RvqTokenRecords(spec);
    const encoded = sampleCodes(spec, 20);
    records.appendEncoded(encoded);
    const before = records.bytes();
    records.setDepth(3);
    const after = records.bytes();
    expect(after.codes).toBe(20 * rvqCodeBytesPerToken(spec, 3)); // ceil(4*3*11/8) = 17
    expect(after.codes).toBe(20 * 17);
    expect(after.allocated).toBeLessThan(before.allocated);
    expect(before.allocated - after.allocated).toBeGreaterThanOrEqual(20 * (44 - 17));
    expect(Array.from(records.views().depths)).toEqual(Array(20).fill(3));
    for (let t = 0; t < 20; t++) expect(recordOf(records, t)).toEqual(expectedRecord(spec, encoded.codes, 8, t, 3));
  });

  it('raising applies to new tokens; old records are re-laid with zero padding and keep their depth', () => {
    const spec = storiesSpec; // G = 1, 11-bit codes: record bytes at depth 2, 5, 4 = 3, 7, 6
    const records = new RvqTokenRecords(spec);
    const first = sampleCodes(spec, 6, 8, 1);
    records.appendEncoded(first);
    records.setDepth(2);
    records.setDepth(5);
    const second = sampleCodes(spec, 4, 8, 2);
    records.appendEncoded(second);
    expect(Array.from(records.views().depths)).toEqual([2, 2, 2, 2, 2, 2, 5, 5, 5, 5]);
    expect(records.views().recordBytes).toBe(7);
    expect(records.bytes().codes).toBe(10 * 7); // padding of the depth-2 records is held, and counted
    for (let t = 0; t < 6; t++) {
      const padded = new Uint8Array(7);
      padded.set(expectedRecord(spec, first.codes, 8, t, 2));
      expect(recordOf(records, t)).toEqual(padded);
    }
    for (let t = 0; t < 4; t++) expect(recordOf(records, 6 + t)).toEqual(expectedRecord(spec, second.codes, 8, t, 5));

    records.setDepth(4); // per-token depth = min(old, 4)
    expect(Array.from(records.views().depths)).toEqual([2, 2, 2, 2, 2, 2, 4, 4, 4, 4]);
    expect(records.bytes().codes).toBe(10 * 6);
    for (let t = 0; t < 4; t++) expect(recordOf(records, 6 + t)).toEqual(expectedRecord(spec, second.codes, 8, t, 4));
    for (let t = 0; t < 6; t++) {
      const padded = new Uint8Array(6);
      padded.set(expectedRecord(spec, first.codes, 8, t, 2));
      expect(recordOf(records, t)).toEqual(padded);
    }
  });

  it('takes records packed at full depth (the rvq graph\'s new_codes) cut to the current depth', () => {
    const spec = paperSpec;
    const encoded = sampleCodes(spec, 5);
    const packed = new Uint8Array(5 * 44);
    for (let t = 0; t < 5; t++) packed.set(expectedRecord(spec, encoded.codes, 8, t, 8), t * 44);
    const full = new RvqTokenRecords(spec);
    full.appendPacked(packed, 8, encoded.scales);
    const viaCodes = new RvqTokenRecords(spec);
    viaCodes.appendEncoded(encoded);
    expect(full.views()).toEqual(viaCodes.views());
    const cut = new RvqTokenRecords(spec, 3);
    cut.appendPacked(packed, 8, encoded.scales);
    for (let t = 0; t < 5; t++) expect(recordOf(cut, t)).toEqual(expectedRecord(spec, encoded.codes, 8, t, 3));
    expect(() => cut.appendPacked(packed.subarray(0, 43), 8, encoded.scales)).toThrow(/whole 44-byte/);
    expect(() => new RvqTokenRecords(spec).appendPacked(packed.subarray(0, 17 * 5), 3, encoded.scales)).toThrow(/depth 3.*depth 8/);
  });

  it('rejects impossible depths', () => {
    const records = new RvqTokenRecords(storiesSpec);
    expect(() => records.setDepth(9)).toThrow(/depth/);
    expect(() => records.setDepth(0)).toThrow(/depth/);
    expect(() => new RvqTokenRecords(storiesSpec, 1.5)).toThrow(/depth/);
  });
});

const twoLayers = (extra: Partial<KvCodeStoreOptions> = {}): KvCodeStoreOptions => ({
  numLayers: 2,
  keySpec: storiesSpec,
  valueSpec: { ...storiesSpec, grouping: 'strided' },
  encoders: { key: [valueEncoder(storiesSpec), valueEncoder(storiesSpec)], value: [valueEncoder(storiesSpec), valueEncoder(storiesSpec)] },
  ...extra,
});

/** Feeds `tokens` tokens to every layer's K and V, in chunks of `chunk`. */
function feed(store: KvCodeStore, tokens: number, chunk: number, first = 0): void {
  for (let at = first; at < first + tokens; at += chunk) {
    const n = Math.min(chunk, first + tokens - at);
    for (let layer = 0; layer < store.geometry.numLayers; layer++) {
      for (const kind of ['key', 'value'] as const) store.append(layer, kind, { data: headMajorRows(storiesSpec, n, at), tokens: n, start: 0, count: n });
    }
  }
}

describe('KvCodeStore', () => {
  it('sums exact accounting over layers and K/V and changes depth per layer', () => {
    const store = new KvCodeStore(twoLayers());
    feed(store, 10, 10);
    expect(store.length).toBe(10);
    const b = store.bytes();
    expect(b.codes + b.scales).toBe(2 * 2 * 10 * 13);
    expect(b.fp16).toBe(2 * 2 * 10 * 32 * 2);
    expect(b.fedPerStep).toBe(b.held);
    store.setDepth(4, { layer: 1, kind: 'key' });
    expect(store.depth(1, 'key')).toBe(4);
    expect(store.depth(1, 'value')).toBe(8);
    expect(store.bytes().codes).toBe(3 * 10 * 11 + 10 * 6);
    expect(() => store.setDepth(4, { layer: 2 })).toThrow(/layer 2/);
  });

  it('codes each token from its own values, in order', () => {
    const store = new KvCodeStore(twoLayers());
    feed(store, 7, 3);
    // token 5 fed alone as a [4 heads, 1 token, 8] block; as a token row its heads are concatenated
    const rows = headMajorRows(storiesSpec, 1, 5);
    expect(storeRecord(store, 0, 'key', 5)).toEqual(expectedRecord(storiesSpec, valueEncoder(storiesSpec).encode(rows, 8).codes, 8, 0, 8));
    expect(storeRecord(store, 0, 'key', 4)).not.toEqual(storeRecord(store, 0, 'key', 5));
  });

  it('keeps the last R tokens in fp16 and codes them as they leave, independent of chunking', () => {
    const chunked = new KvCodeStore(twoLayers({ recentWindow: 4 }));
    const single = new KvCodeStore(twoLayers({ recentWindow: 4 }));
    feed(chunked, 11, 11);
    feed(single, 11, 1);
    for (const store of [chunked, single]) {
      const past = store.past(1, 'value');
      expect(store.length).toBe(11);
      expect(past.codedTokens).toBe(7);
      expect(past.windowTokens).toBe(4);
      expect(past.window.length).toBe(4 * 32);
      const b = store.bytes();
      expect(b.uncoded).toBe(2 * 2 * 4 * 32 * 2);
      expect(b.codes).toBe(2 * 2 * 7 * 11);
      expect(b.fp16).toBe(2 * 2 * 11 * 32 * 2);
    }
    expect(chunked.past(1, 'value').records).toEqual(single.past(1, 'value').records);
    expect(chunked.past(1, 'value').window).toEqual(single.past(1, 'value').window);
  });

  it('takes the graph\'s codes for tokens of a batch that leave the window at once, encodes the others', () => {
    const store = new KvCodeStore(twoLayers({ recentWindow: 2 }));
    const rows = (n: number, first: number) => ({ data: headMajorRows(storiesSpec, n, first), tokens: n, start: 0, count: n });
    const graph = sampleCodes(storiesSpec, 5, 8, 9);
    const packed = new Uint8Array(5 * 11);
    for (let t = 0; t < 5; t++) packed.set(expectedRecord(storiesSpec, graph.codes, 8, t, 8), t * 11);
    store.append(0, 'key', rows(1, 0)); // token 0 waits in the window
    store.append(0, 'key', rows(5, 1), { records: packed, depth: 8, scales: graph.scales });
    // window held [0]; 6 tokens over R = 2: token 0 leaves from the window, tokens 1..3 from the batch
    expect(store.past(0, 'key')).toMatchObject({ codedTokens: 4, windowTokens: 2 });
    const fromWindow = valueEncoder(storiesSpec).encode(headMajorRows(storiesSpec, 1, 0), 8);
    expect(storeRecord(store, 0, 'key', 0)).toEqual(expectedRecord(storiesSpec, fromWindow.codes, 8, 0, 8));
    for (let t = 1; t < 4; t++) expect(storeRecord(store, 0, 'key', t)).toEqual(expectedRecord(storiesSpec, graph.codes, 8, t - 1, 8));
    expect(() => store.append(0, 'key', rows(1, 6), { records: packed.subarray(0, 11), depth: 8, scales: new Uint16Array(3) })).toThrow(/3 scales for 1 tokens/);
  });

  it('truncates into the window and into the coded tokens', () => {
    const store = new KvCodeStore(twoLayers({ recentWindow: 4 }));
    feed(store, 10, 10);
    store.truncate(8);
    expect(store.past(0, 'key')).toMatchObject({ codedTokens: 6, windowTokens: 2 });
    store.truncate(3);
    expect(store.past(0, 'key')).toMatchObject({ codedTokens: 3, windowTokens: 0 });
    expect(store.length).toBe(3);
    expect(() => store.truncate(4)).toThrow(/truncate/);
    store.setDepth(5);
    store.truncate(0); // what a conversation does when it drops turns: the live depth stays
    expect(store.length).toBe(0);
    expect(store.depth(1, 'value')).toBe(5);
  });

  it('takes token-major rows (appendTokenRows) as append takes the same tokens head-major, window and graph codes included', () => {
    const headMajor = new KvCodeStore(twoLayers({ recentWindow: 3 }));
    const tokenMajor = new KvCodeStore(twoLayers({ recentWindow: 3 }));
    const { numKvHeads: H, headDim: D } = storiesSpec;
    const graph = sampleCodes(storiesSpec, 4, 8, 5);
    const packed = new Uint8Array(4 * 11);
    for (let t = 0; t < 4; t++) packed.set(expectedRecord(storiesSpec, graph.codes, 8, t, 8), t * 11);
    // chunks of 1, 4 (its first token leaves the window at once: the graph's codes) and 2
    for (const [first, n, codes] of [[0, 1, undefined], [1, 4, { records: packed, depth: 8, scales: graph.scales }], [5, 2, undefined]] as const) {
      const rows = { data: headMajorRows(storiesSpec, n, first), tokens: n, start: 0, count: n };
      for (let layer = 0; layer < 2; layer++) {
        for (const kind of ['key', 'value'] as const) {
          headMajor.append(layer, kind, rows, codes);
          tokenMajor.appendTokenRows(layer, kind, tokenMajorFloat32(rows, H, D), codes);
        }
      }
    }
    expect(tokenMajor.past(1, 'value')).toMatchObject({ codedTokens: 4, windowTokens: 3 });
    expect(tokenMajor.save()).toEqual(headMajor.save());
    expect(() => tokenMajor.appendTokenRows(0, 'key', new Float32Array(31))).toThrow(/31 values, not whole rows of 32/);
  });

  it('needs encoders for raw values and checks the rows it is given', () => {
    const store = new KvCodeStore(twoLayers({ encoders: undefined }));
    expect(() => store.append(0, 'key', { data: headMajorRows(storiesSpec, 1), tokens: 1, start: 0, count: 1 })).toThrow(/no encoders/);
    // tokens the graph coded need no encoder
    const graph = sampleCodes(storiesSpec, 2, 8, 3);
    const packed = new Uint8Array(2 * 11);
    for (let t = 0; t < 2; t++) packed.set(expectedRecord(storiesSpec, graph.codes, 8, t, 8), t * 11);
    store.append(0, 'key', { data: headMajorRows(storiesSpec, 2), tokens: 2, start: 0, count: 2 }, { records: packed, depth: 8, scales: graph.scales });
    expect(store.length).toBe(2);
    expect(storeRecord(store, 0, 'key', 1)).toEqual(packed.subarray(11));
    const withEncoders = new KvCodeStore(twoLayers());
    expect(() => withEncoders.append(0, 'key', { data: new Float32Array(31), tokens: 1, start: 0, count: 1 })).toThrow(/K\/V rows hold 31/);
    expect(() => withEncoders.append(0, 'key', { data: headMajorRows(storiesSpec, 2), tokens: 2, start: 1, count: 2 })).toThrow(/outside/);
    expect(() => new KvCodeStore(twoLayers({ valueSpec: paperSpec }))).toThrow(/geometry/);
  });
});

describe('KvCodeStore with quant\'s RvqCodec', () => {
  it('stores exactly what the codec encodes, per token, and its scales', () => {
    const rng = createRng(7);
    const spec = { ...storiesSpec, codebookSize: 16, depth: 4 };
    const codec = new RvqCodec(spec, Float32Array.from({ length: 4 * 16 * 32 }, () => rng.normal() * 0.3));
    const store = new KvCodeStore({ numLayers: 1, keySpec: spec, valueSpec: spec, encoders: { key: [codec], value: [codec] } });
    const rows = { data: headMajorRows(spec, 6), tokens: 6, start: 0, count: 6 };
    store.append(0, 'key', rows);
    store.append(0, 'value', rows);
    const expected = codec.encode(tokenMajorFloat32(rows, 4, 8));
    for (let t = 0; t < 6; t++) expect(storeRecord(store, 0, 'key', t)).toEqual(expectedRecord(spec, expected.codes, 4, t, 4));
    expect(store.past(0, 'value').scales).toEqual(expected.scales);
    expect(store.bytes().codes).toBe(2 * 6 * rvqCodeBytesPerToken(spec));
  });
});
