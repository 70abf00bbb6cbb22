// Decode latency in interleaved rounds on the real stories260K model (fp16 and q8_0 caches): the
// rounds alternate their order, every store is cut back to its context after each measurement (so
// every round decodes at the same context), and the summary is the rounds' median and range.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCacheRuntime, type CacheRuntime } from '../../../main/engine/cache-runtime.js';
import { measureDecodeRounds, prefill, roundOrder, summarizeRounds } from '../../../main/engine/decode-measure.js';
import { readManifest } from '../../../main/model/manifest.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { createStoriesLibrary, type StoriesLibrary } from './engine-library.js';

describe('latency rounds', () => {
  it('alternate their order', () => {
    expect([0, 1, 2, 3].map((round) => roundOrder(3, round))).toEqual([
      [0, 1, 2],
      [2, 1, 0],
      [0, 1, 2],
      [2, 1, 0],
    ]);
  });

  it('are summarized by their median and range', () => {
    expect(summarizeRounds([3, 1, 2])).toEqual({ medianMs: 2, lowMs: 1, highMs: 3 });
    expect(summarizeRounds([5])).toEqual({ medianMs: 5, lowMs: 5, highMs: 5 });
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('measureDecodeRounds (stories260K)', () => {
  let lib: StoriesLibrary;
  const runtimes: CacheRuntime[] = [];

  beforeAll(async () => {
    lib = createStoriesLibrary();
    const manifest = readManifest(lib.folder);
    for (const format of ['fp16', 'q8_0'] as const) runtimes.push(await openCacheRuntime(lib.folder, manifest, { format }));
  });

  afterAll(async () => {
    for (const runtime of runtimes) await runtime.release();
    lib?.cleanup();
  });

  it('measures each store once per round, in alternating order, always at the same context', async () => {
    const context = [1, 45, 67, 89, 12, 34, 56, 78, 90, 23];
    const entries = await Promise.all(
      runtimes.map(async (runtime) => {
        const store = runtime.stores.create();
        await prefill(runtime.decoder, store, context);
        return { label: runtime.label, decoder: runtime.decoder, store };
      }),
    );
    const order: string[] = [];
    const progress: number[] = [];
    const results = await measureDecodeRounds(entries, 4, 3, 7, (done, total, label) => {
      order.push(label);
      progress.push(done);
      expect(total).toBe(6);
    });
    const [fp16, q8] = runtimes.map((r) => r.label);
    expect(order).toEqual([fp16, q8, q8, fp16, fp16, q8]);
    expect(progress).toEqual([0, 1, 2, 3, 4, 5]);
    for (const [k, result] of results.entries()) {
      expect(result.roundsMs).toHaveLength(3);
      expect(result.medianMs).toBe([...result.roundsMs].sort((a, b) => a - b)[1]);
      expect(result.lowMs).toBe(Math.min(...result.roundsMs));
      expect(result.highMs).toBe(Math.max(...result.roundsMs));
      // each round decoded from the same 10 cached tokens; the store is back at 10 afterwards
      expect(result.last.context).toBe(10);
      expect(entries[k].store.length).toBe(10);
    }
  });

  it('refuses a round count that is not a whole number of at least 1', async () => {
    await expect(measureDecodeRounds([], 4, 0, 7)).rejects.toThrow(/latency rounds must be a whole number of at least 1, not 0/);
  });
});
