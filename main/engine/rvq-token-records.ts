// One layer's keys or values held as RVQ token records (the contract's layout): per token the codes
// stage-major [stage][group] bit-packed at log2(C) bits and padded to a whole byte, in one
// capacity-doubling byte buffer at a stride of R_d = ceil(G*d*log2(C)/8) bytes for the current record
// depth d; the fp16 scales [tokens, scalesPerToken] in a separate buffer (the graph gets codes and
// scales as two tensors); and each token's own depth, so the graph can mask stages the token lacks.
// The buffers come from a BlockStorage (the heap, or the fused kernel's memory, which it reads in
// place); views are taken after the allocations of each change, which may move that memory.
import { codeBits, groupsPerToken, packCodes, RVQ_DEPTH_BYTES_PER_ROW, rvqCodeBytesPerToken, rvqScaleBytesPerToken, scalesPerToken, tokenWidth } from '../../quant/index.js';
import type { RvqEncoded, RvqSpec, SafetensorEntry } from '../../quant/index.js';
import { GrowableBytes, heapStorage } from './growable.js';
import type { BlockStorage } from './growable.js';
import { checkTruncation, kvBytes } from './kv-store.js';
import type { KvBytes } from './kv-store.js';
import { asUint16, blobTensor, bytesOf } from './store-blob.js';
import type { StoreBlob } from './store-blob.js';

/** Zero-copy views of the live records, what the rvq graph is fed (valid until the storage's next allocation). */
export interface RvqRecordViews {
  /** [tokens, recordBytes] */
  records: Uint8Array;
  recordBytes: number;
  /** [tokens, scalesPerToken] fp16 bits */
  scales: Uint16Array;
  /** [tokens]: stages each token holds; stages at or past it are zero padding. */
  depths: Uint8Array;
}

export class RvqTokenRecords {
  readonly spec: RvqSpec;
  private readonly groups: number;
  private readonly bits: number;
  private readonly scaleCount: number;
  private recordDepth: number;
  private stride: number;
  private count = 0;
  private readonly records: GrowableBytes;
  private readonly scales: GrowableBytes;
  private readonly depths: GrowableBytes;

  constructor(spec: RvqSpec, depth = spec.depth, storage: BlockStorage = heapStorage) {
    this.spec = spec;
    this.records = new GrowableBytes(storage);
    this.scales = new GrowableBytes(storage);
    this.depths = new GrowableBytes(storage);
    this.groups = groupsPerToken(spec);
    this.bits = codeBits(spec);
    this.scaleCount = scalesPerToken(spec);
    this.stride = rvqCodeBytesPerToken(spec, depth); // validates depth
    this.recordDepth = depth;
  }

  get length(): number {
    return this.count;
  }

  /** Depth of the records (tokens appended from now on get this many stages). */
  get depth(): number {
    return this.recordDepth;
  }

  /** Appends tokens coded to at least the current depth; deeper stages are dropped. */
  appendEncoded(encoded: RvqEncoded): void {
    const { tokens, depth, codes, scales } = encoded;
    const d = this.recordDepth;
    if (depth < d) throw new RangeError(`tokens coded to depth ${depth}, the store holds depth ${d}`);
    if (codes.length !== tokens * depth * this.groups) throw new RangeError(`${codes.length} codes for ${tokens} tokens of depth ${depth} x ${this.groups} groups`);
    if (scales.length !== tokens * this.scaleCount) throw new RangeError(`${scales.length} scales for ${tokens} tokens of ${this.scaleCount} scales`);
    const total = this.reserve(tokens);
    const records = this.records.bytes(total * this.stride);
    for (let t = 0; t < tokens; t++) {
      const at = (this.count + t) * this.stride;
      const record = records.subarray(at, at + this.stride);
      record.fill(0); // padding bits must be zero; packCodes keeps bits it does not write
      packCodes(codes.subarray(t * depth * this.groups, (t * depth + d) * this.groups), this.bits, record);
    }
    this.appendScales(scales, total);
  }

  /** Grows the buffers for `tokens` more; returns the new token count. */
  private reserve(tokens: number): number {
    const total = this.count + tokens;
    this.records.reserve(total * this.stride, this.count * this.stride);
    this.scales.reserve(2 * total * this.scaleCount, 2 * this.count * this.scaleCount);
    this.depths.reserve(total, this.count);
    return total;
  }

  /** Stores the new tokens' scales and depths, and counts them. */
  private appendScales(scales: Uint16Array, total: number): void {
    this.scales.u16(total * this.scaleCount).set(scales, this.count * this.scaleCount);
    this.depths.bytes(total).fill(this.recordDepth, this.count, total);
    this.count = total;
  }

  /**
   * Lowering the depth cuts every stored record to its first d stages in place (stage-major, so the
   * depth-d prefix is the first G*d*log2(C) stream bits) and gives the freed bytes back; raising it
   * re-lays the records at the wider stride with zero padding, and only tokens appended later get
   * the extra stages. Either way each token's depth becomes min(its depth, d).
   */
  setDepth(depth: number): void {
    const next = rvqCodeBytesPerToken(this.spec, depth);
    const old = this.stride;
    const capacityTokens = Math.max(this.count, Math.floor(this.records.capacity / old));
    if (depth < this.recordDepth) {
      // record t moves to t*next <= t*old: it never overwrites a record not yet moved
      this.cutRecords(this.records.bytes(this.count * old), old, this.count, 0, depth);
      const depths = this.depths.bytes(this.count);
      for (let t = 0; t < this.count; t++) if (depths[t] > depth) depths[t] = depth;
      this.records.resize(capacityTokens * next, this.count * next);
    } else if (depth > this.recordDepth) {
      // re-laid from the last record down (record t moves to t*next >= t*old) after growing in place
      this.records.resize(capacityTokens * next, this.count * old);
      const records = this.records.bytes(this.count * next);
      for (let t = this.count - 1; t >= 0; t--) {
        records.copyWithin(t * next, t * old, (t + 1) * old);
        records.fill(0, t * next + old, (t + 1) * next);
      }
    }
    this.recordDepth = depth;
    this.stride = next;
  }

  /**
   * Writes `count` packed records of stride `srcStride` (a depth >= `depth`) as depth-`depth` records
   * from token `at` on: the stage-major depth-d prefix is the first G*d*log2(C) stream bits, so each
   * record is its first R_d bytes with the bits past the prefix cleared. src may be the records'
   * own view, and the records must already hold `at + count` records.
   */
  private cutRecords(src: Uint8Array, srcStride: number, count: number, at: number, depth: number): void {
    const stride = rvqCodeBytesPerToken(this.spec, depth);
    const tailBits = (this.groups * depth * this.bits) % 8;
    const records = this.records.bytes((at + count) * stride);
    for (let t = 0; t < count; t++) {
      const to = (at + t) * stride;
      records.set(src.subarray(t * srcStride, t * srcStride + stride), to);
      if (tailBits) records[to + stride - 1] &= (1 << tailBits) - 1;
    }
  }

  /**
   * Appends records already packed at depth `packedDepth` >= the current depth (the rvq graph's
   * new_codes, [tokens, R_packedDepth]) with their scales [tokens, S], cut to the current depth.
   */
  appendPacked(packed: Uint8Array, packedDepth: number, scales: Uint16Array): void {
    const d = this.recordDepth;
    if (packedDepth < d) throw new RangeError(`records packed at depth ${packedDepth}, the store holds depth ${d}`);
    const srcStride = rvqCodeBytesPerToken(this.spec, packedDepth);
    if (packed.length % srcStride !== 0) throw new RangeError(`${packed.length} bytes are not whole ${srcStride}-byte depth-${packedDepth} records`);
    const tokens = packed.length / srcStride;
    if (scales.length !== tokens * this.scaleCount) throw new RangeError(`${scales.length} scales for ${tokens} tokens of ${this.scaleCount} scales`);
    const total = this.reserve(tokens);
    this.cutRecords(packed, srcStride, tokens, this.count, d);
    this.appendScales(scales, total);
  }

  truncate(length: number): void {
    checkTruncation(this.count, length);
    this.count = length;
  }

  views(): RvqRecordViews {
    return {
      records: this.records.bytes(this.count * this.stride),
      recordBytes: this.stride,
      scales: this.scales.u16(this.count * this.scaleCount),
      depths: this.depths.bytes(this.count),
    };
  }

  bytes(): KvBytes {
    const n = this.count;
    const bytes = kvBytes({
      tokens: n,
      codes: n * this.stride,
      scales: n * rvqScaleBytesPerToken(this.spec),
      uncoded: 0,
      bookkeeping: n * RVQ_DEPTH_BYTES_PER_ROW,
      fp16: n * tokenWidth(this.spec) * 2,
      allocated: this.records.allocatedBytes + this.scales.allocatedBytes + this.depths.allocatedBytes,
      fedPerStep: 0,
    });
    bytes.fedPerStep = bytes.held; // the graph reads every view whole
    return bytes;
  }

  toTensors(prefix: string): Record<string, SafetensorEntry> {
    const { records, scales, depths } = this.views();
    return {
      [`${prefix}.records`]: { dtype: 'U8', shape: [this.count, this.stride], data: records },
      [`${prefix}.scales`]: { dtype: 'F16', shape: [this.count, this.scaleCount], data: bytesOf(scales) },
      [`${prefix}.depths`]: { dtype: 'U8', shape: [this.count], data: depths },
    };
  }

  /** Rebuilds records saved by toTensors, checking shapes and per-token depths against `depth`. */
  static fromTensors(blob: StoreBlob, prefix: string, spec: RvqSpec, depth: number, length: number, storage: BlockStorage = heapStorage): RvqTokenRecords {
    const store = new RvqTokenRecords(spec, depth, storage);
    const depths = blobTensor(blob, `${prefix}.depths`, 'U8', [length]);
    const bad = depths.findIndex((d) => d < 1 || d > depth);
    if (bad >= 0) throw new Error(`saved KV cache: token ${bad} of ${prefix} has depth ${depths[bad]}, outside 1..${depth}`);
    const records = blobTensor(blob, `${prefix}.records`, 'U8', [length, store.stride]);
    const scales = asUint16(blobTensor(blob, `${prefix}.scales`, 'F16', [length, store.scaleCount]));
    store.reserve(length);
    store.records.bytes(records.length).set(records);
    store.appendScales(scales, length);
    store.depths.bytes(length).set(depths);
    return store;
  }
}
