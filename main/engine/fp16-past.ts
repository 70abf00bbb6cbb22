// One layer's keys or values as fp16 in the Optimum past layout [kvHeads, tokens, headDim] (batch 1),
// exact-size so the graph is handed the buffer itself. Head-major growth cannot keep spare capacity
// and stay contiguous, so an append re-lays the lane into a new buffer (one copy of the lane), unless
// it is given the fp graph's fp16 present (past + new in this very layout), which is kept as it is.
import { float32ArrayToFloat16 } from '../../quant/index.js';
import { checkKvRows, writeHeadMajorFp16 } from './kv-rows.js';
import type { KvRows } from './kv-store.js';

export class Fp16Past {
  readonly heads: number;
  readonly headDim: number;
  private data: Uint16Array = new Uint16Array(0);
  /** Bytes copied by appends and truncations so far (a present kept as is copies none). */
  copiedBytes = 0;

  constructor(heads: number, headDim: number) {
    this.heads = heads;
    this.headDim = headDim;
  }

  get length(): number {
    return this.data.length / (this.heads * this.headDim);
  }

  /** [kvHeads, tokens, headDim] fp16 bits, zero-copy. */
  view(): Uint16Array {
    return this.data;
  }

  private relaid(tokens: number): Uint16Array {
    const { heads: H, headDim: D } = this;
    const have = this.length;
    const keep = Math.min(have, tokens);
    const next = new Uint16Array(H * tokens * D);
    for (let h = 0; h < H; h++) next.set(this.data.subarray(h * have * D, (h * have + keep) * D), h * tokens * D);
    this.copiedBytes += 2 * H * keep * D;
    return next;
  }

  append(rows: KvRows): void {
    checkKvRows(rows, this.heads, this.headDim);
    const at = this.length;
    if (rows.pastIsStore && rows.data instanceof Uint16Array && rows.start === at && rows.start + rows.count === rows.tokens) {
      this.data = rows.data;
      return;
    }
    const next = this.relaid(at + rows.count);
    writeHeadMajorFp16(rows, this.heads, this.headDim, next, at + rows.count, at);
    this.data = next;
  }

  /** Overwrites tokens [at, at + n) with token-major rows [n, kvHeads*headDim]. */
  overwrite(at: number, rows: Float32Array): void {
    const { heads: H, headDim: D } = this;
    const total = this.length;
    const n = rows.length / (H * D);
    if (at < 0 || at + n > total) throw new RangeError(`tokens [${at}, ${at + n}) are outside the ${total} held`);
    for (let t = 0; t < n; t++) {
      for (let h = 0; h < H; h++) {
        const from = (t * H + h) * D;
        float32ArrayToFloat16(rows.subarray(from, from + D), this.data.subarray((h * total + at + t) * D, (h * total + at + t + 1) * D));
      }
    }
  }

  truncate(tokens: number): void {
    this.data = this.relaid(tokens);
  }

  /** Restores saved [kvHeads, tokens, headDim] data. */
  load(data: Uint16Array): void {
    if (data.length % (this.heads * this.headDim) !== 0) throw new RangeError(`${data.length} values are not whole [${this.heads}, tokens, ${this.headDim}] rows`);
    this.data = data;
  }
}
