// The ONNX Runtime nearest-entry search against quant/'s TypeScript encoder kernel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignWithEncoder, createRng } from '../../../quant/index.js';
import { OrtNearestEntry } from '../../../main/engine/calibration/nearest-entry-graph.js';

function squaredDistance(batch: Float32Array, i: number, book: Float32Array, c: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) s += (batch[i * dim + t] - book[c * dim + t]) ** 2;
  return s;
}

describe('OrtNearestEntry', () => {
  let search: OrtNearestEntry;
  beforeAll(async () => {
    search = await OrtNearestEntry.create({ providers: ['cpu'] });
  });
  afterAll(() => search.release());

  // dims odd and even; 32768 entries make the 700-vector batch run in two pieces of at most 512
  it.each([
    [777, 64, 7],
    [3000, 256, 32],
    [700, 32768, 3],
  ])('assigns %i vectors to %i entries of %i channels as the TypeScript encoder does (ties aside)', async (count, entries, dim) => {
    const rng = createRng(count + entries);
    const batch = Float32Array.from({ length: count * dim }, () => rng.normal());
    const book = Float32Array.from({ length: entries * dim }, () => rng.normal());
    const fromOrt = await search.assign(batch, book, { entries, dim });
    const fromTs = await assignWithEncoder(batch, book, { entries, dim });
    expect(fromOrt).toBeInstanceOf(Uint32Array);
    expect(fromOrt.length).toBe(count);
    let differ = 0;
    for (let i = 0; i < count; i++) {
      if (fromOrt[i] === fromTs[i]) continue;
      differ++;
      // float32 vs float64 rounding may split a near tie, never a real difference
      const a = squaredDistance(batch, i, book, fromOrt[i], dim);
      const b = squaredDistance(batch, i, book, fromTs[i], dim);
      expect(Math.abs(a - b)).toBeLessThan(1e-4 * Math.max(1, b));
    }
    expect(differ).toBeLessThanOrEqual(Math.ceil(count / 100));
  });

  it('breaks exact ties towards the lower index, like the encoder', async () => {
    const dim = 4;
    const book = Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]); // entries 0 and 2 equal
    const batch = Float32Array.from([0.9, 0.1, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0.1]);
    const expected = await assignWithEncoder(batch, book, { entries: 4, dim });
    expect([...(await search.assign(batch, book, { entries: 4, dim }))]).toEqual([...expected]);
    expect([...expected]).toEqual([0, 0, 3]);
  });

  it('rejects a codebook that does not match its shape', async () => {
    await expect(search.assign(new Float32Array(8), new Float32Array(10), { entries: 4, dim: 2 })).rejects.toThrow(/do not fit 4 entries of 2/);
  });
});
