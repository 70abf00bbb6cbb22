// The RVQ store's recent window (beyond the paper, as KIVI keeps its key tail): the last R tokens of
// one layer's K or V kept as fp16 rows [tokens, W]; tokens pushed past R leave from the front, oldest
// first, to be encoded. The buffer is sized R once, so the window never reallocates.

export class RecentWindow {
  readonly size: number;
  readonly width: number;
  private rows: Uint16Array;
  private count = 0;

  constructor(size: number, width: number) {
    this.size = size;
    this.width = width;
    this.rows = new Uint16Array(size * width);
  }

  get length(): number {
    return this.count;
  }

  /** Appends fp16 rows [n, W]; returns the rows that no longer fit, [e, W] oldest first (a copy). */
  push(rows: Uint16Array): Uint16Array {
    const W = this.width;
    const n = rows.length / W;
    const evict = Math.max(0, this.count + n - this.size);
    const fromWindow = Math.min(evict, this.count);
    const fromRows = evict - fromWindow;
    const evicted = new Uint16Array(evict * W);
    evicted.set(this.rows.subarray(0, fromWindow * W));
    evicted.set(rows.subarray(0, fromRows * W), fromWindow * W);
    this.rows.copyWithin(0, fromWindow * W, this.count * W);
    this.count -= fromWindow;
    this.rows.set(rows.subarray(fromRows * W), this.count * W);
    this.count += n - fromRows;
    return evicted;
  }

  truncate(length: number): void {
    this.count = length;
  }

  /** Zero-copy view [tokens, W]. */
  view(): Uint16Array {
    return this.rows.subarray(0, this.count * this.width);
  }

  /** Restores saved rows (at most `size` tokens). */
  load(rows: Uint16Array): void {
    if (rows.length > this.rows.length) throw new Error(`saved recent window holds ${rows.length / this.width} tokens, the window size is ${this.size}`);
    this.rows.set(rows);
    this.count = rows.length / this.width;
  }

  get allocatedBytes(): number {
    return this.rows.byteLength;
  }
}
