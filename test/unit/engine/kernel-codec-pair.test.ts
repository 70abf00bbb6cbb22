// A layer's keys and values encoded in one kernel call (encodeDecodedWith): one hand-off to the helper
// thread for both, and the same codes and rows as two encodeDecoded calls on one thread, however the
// chunks fall between the threads.
import { describe, expect, it, vi } from 'vitest';
import { createRng, parseRvqSpec } from '../../../quant/index.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';
import { KernelHelper } from '../../../main/engine/fused/kernel-helper.js';
import { EXACT_SEARCH, KernelRvqCodec, SCREENED_SEARCH } from '../../../main/engine/fused/kernel-codec.js';
import type { EncodeSearch } from '../../../main/engine/fused/kernel-codec.js';

const keySpec = parseRvqSpec({ headDim: 64, numKvHeads: 2, groupSize: 32, codebookSize: 64, depth: 4, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const valueSpec = parseRvqSpec({ ...keySpec, grouping: 'contiguous' });
const rng = createRng(9);
const books = () => Float32Array.from({ length: keySpec.depth * keySpec.codebookSize * keySpec.groupSize }, () => rng.normal());
const rows = (tokens: number) => Float32Array.from({ length: tokens * 128 }, () => rng.normal());

async function helped(): Promise<FusedKernel> {
  const kernel = new FusedKernel(undefined, { threads: 2 });
  for (const started = Date.now(); kernel.threads !== 2; ) {
    if (Date.now() - started > 10_000) throw new Error('the kernel helper did not start');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return kernel;
}

describe('KernelRvqCodec.encodeDecodedWith', () => {
  for (const search of [EXACT_SEARCH, SCREENED_SEARCH] as EncodeSearch[]) {
    it(`encodes keys and values in one shared call, as two single-thread calls do (${search.kind})`, async () => {
      const kernel = await helped();
      const alone = new FusedKernel(undefined, { threads: 1 });
      const [keys, values] = [books(), books()];
      const pair = { key: new KernelRvqCodec(kernel, keySpec, keys, search), value: new KernelRvqCodec(kernel, valueSpec, values, search) };
      const single = { key: new KernelRvqCodec(alone, keySpec, keys, search), value: new KernelRvqCodec(alone, valueSpec, values, search) };
      const share = vi.spyOn(KernelHelper.prototype, 'share');
      for (const [tokens, keyDepth, valueDepth] of [[1, 4, 4], [1, 2, 3], [9, 4, 1], [3, 1, 4]]) {
        const [k, v] = [rows(tokens), rows(tokens)];
        share.mockClear();
        const together = pair.key.encodeDecodedWith(k, keyDepth, pair.value, v, valueDepth);
        expect(share.mock.calls.map((call) => call[0])).toEqual(['pair']);
        expect(together).toEqual([single.key.encodeDecoded(k, keyDepth), single.value.encodeDecoded(v, valueDepth)]);
      }
      share.mockRestore();
      kernel.close();
      alone.close();
    });
  }
});
