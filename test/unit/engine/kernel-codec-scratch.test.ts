// The kernel codecs' per-call blocks come from one reused scratch per kernel: encoding allocates
// kernel memory only when a call is larger than any before, and every codec gives the same codes
// through it as on a fresh kernel.
import { describe, expect, it, vi } from 'vitest';
import { createRng, parseRvqSpec } from '../../../quant/index.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';
import { EXACT_SEARCH, KernelRvqCodec } from '../../../main/engine/fused/kernel-codec.js';

const spec = parseRvqSpec({ headDim: 64, numKvHeads: 2, groupSize: 32, codebookSize: 64, depth: 4, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const rng = createRng(5);
const books = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, () => rng.normal());
const rows = (tokens: number) => Float32Array.from({ length: tokens * 128 }, () => rng.normal());

describe('KernelRvqCodec scratch', () => {
  it('reuses its blocks across calls and codecs, with the codes a fresh kernel gives', () => {
    const kernel = new FusedKernel(undefined, { threads: 1 });
    const [a, b] = [books(), books()].map((set) => new KernelRvqCodec(kernel, spec, set, EXACT_SEARCH));
    const big = rows(8);
    a.encode(big);
    const held = kernel.allocatedBytes;
    const alloc = vi.spyOn(kernel, 'alloc');
    const one = rows(1);
    const codes = [a.encodeDecoded(one, 3), b.encodeDecoded(one, 4), a.encodeDecoded(big, 4)];
    expect(alloc).not.toHaveBeenCalled();
    expect(kernel.allocatedBytes).toBe(held);
    const fresh = new FusedKernel(undefined, { threads: 1 });
    const [freshA, freshB] = [a, b].map((codec) => new KernelRvqCodec(fresh, spec, booksOf(kernel, codec), EXACT_SEARCH));
    expect([freshA.encodeDecoded(one, 3), freshB.encodeDecoded(one, 4), freshA.encodeDecoded(big, 4)]).toEqual(codes);
    kernel.close();
    fresh.close();
  });
});

/** A codec's stage books as stored in its kernel's memory. */
function booksOf(kernel: FusedKernel, codec: KernelRvqCodec): Float32Array {
  return kernel.f32(codec.booksAt, spec.depth * spec.codebookSize * spec.groupSize).slice();
}
