// A uniform sample of at most `capacity` tokens from a stream of captured K/V (reservoir sampling,
// Vitter's algorithm R, with quant/'s seeded PRNG): every token seen so far is held with equal
// probability capacity/seen. A token is kept or dropped for all layers and both K and V at once, so
// the sample is the same set of tokens everywhere. Storage grows by doubling up to the capacity.
import { createRng } from '../../../quant/index.js';
import type { Rng } from '../../../quant/index.js';
import type { LayerKv } from './kv-capture.js';

export class KvReservoir {
  /** Tokens offered so far. */
  seen = 0;
  private allocated = 0;
  private store: LayerKv[];
  private readonly rng: Rng;

  constructor(
    readonly numLayers: number,
    /** Channels per token row (kvHeads*headDim). */
    readonly width: number,
    readonly capacity: number,
    seed: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`the sample must hold at least one token, got ${capacity}`);
    this.rng = createRng(seed);
    this.store = [];
  }

  /** Tokens held (min(seen, capacity)). */
  get held(): number {
    return Math.min(this.seen, this.capacity);
  }

  /** Offers the n tokens of one captured chunk (rows [n, width] per layer and kind). */
  add(layers: readonly LayerKv[]): void {
    if (layers.length !== this.numLayers) throw new RangeError(`captured ${layers.length} layers, the sample has ${this.numLayers}`);
    const n = layers[0].key.length / this.width;
    for (let i = 0; i < n; i++) {
      const slot = this.seen < this.capacity ? this.seen : this.rng.int(this.seen + 1);
      this.seen++;
      if (slot >= this.capacity) continue;
      if (slot >= this.allocated) this.grow();
      const w = this.width;
      for (let l = 0; l < this.numLayers; l++) {
        this.store[l].key.set(layers[l].key.subarray(i * w, (i + 1) * w), slot * w);
        this.store[l].value.set(layers[l].value.subarray(i * w, (i + 1) * w), slot * w);
      }
    }
  }

  /** The held token rows per layer ([held, width] views, valid until the next add). */
  rows(): LayerKv[] {
    const end = this.held * this.width;
    return this.store.map(({ key, value }) => ({ key: key.subarray(0, end), value: value.subarray(0, end) }));
  }

  private grow(): void {
    this.allocated = Math.min(this.capacity, Math.max(1024, 2 * this.allocated));
    const size = this.allocated * this.width;
    this.store = Array.from({ length: this.numLayers }, (_, l) => {
      const key = new Float32Array(size);
      const value = new Float32Array(size);
      if (this.store[l]) {
        key.set(this.store[l].key);
        value.set(this.store[l].value);
      }
      return { key, value };
    });
  }
}
