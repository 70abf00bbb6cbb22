// The fused path's fp16 cache in kernel memory: token-major appends from kernel memory (the fused
// decoder's, rounded to fp16 by the kernel) hold what head-major appends (KvRows, the other stores'
// input, rounded by quant's float32ArrayToFloat16) hold, bit for bit, across lane growth.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../quant/index.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';
import { KernelFp16KvStore } from '../../../main/engine/fused/kernel-fp16-store.js';
import { tokenMajorFloat32 } from '../../../main/engine/kv-rows.js';

const geometry = { numLayers: 2, numKvHeads: 3, headDim: 8 };

describe('KernelFp16KvStore', () => {
  it('takes token-major rows from kernel memory (appendTokenRowsAt) as append takes the same tokens head-major, to the same fp16 bits', () => {
    const kernel = new FusedKernel(undefined, { threads: 1 });
    const headMajor = new KernelFp16KvStore(kernel, geometry);
    const tokenMajor = new KernelFp16KvStore(kernel, geometry);
    const rng = createRng(3);
    const { numKvHeads: H, headDim: D } = geometry;
    // every rounding branch: overflow and its tie (65520), the largest half, normal ties (1 + 2^-11,
    // 1 + 3 * 2^-11), subnormals and their ties, below the smallest subnormal, signed zero, infinities, NaN
    const edges = [65520, 65519.996, 65504, Infinity, NaN, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -14, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 5 * 2 ** -26, 2 ** -26, 1e-40, 0];
    const value = (i: number) => (i < 2 * edges.length ? (i % 2 ? -1 : 1) * edges[i >> 1] : rng.normal() * 2 ** rng.int(48) * 2 ** -30);
    const at = kernel.alloc(4 * 40 * H * D);
    // 70 tokens in chunks: the lanes grow past their first 64 tokens
    for (const n of [1, 40, 1, 28]) {
      const rows = { data: Float32Array.from({ length: H * n * D }, (_, i) => value(i)), tokens: n, start: 0, count: n };
      for (let layer = 0; layer < 2; layer++) {
        for (const kind of ['key', 'value'] as const) {
          headMajor.append(layer, kind, rows);
          kernel.f32(at, n * H * D).set(tokenMajorFloat32(rows, H, D));
          tokenMajor.appendTokenRowsAt(layer, kind, at, n);
        }
      }
    }
    expect(tokenMajor.length).toBe(70);
    expect(tokenMajor.save()).toEqual(headMajor.save());
    expect(kernel.u16(tokenMajor.rowsAt(1, 'value'), 70 * H * D)).toEqual(kernel.u16(headMajor.rowsAt(1, 'value'), 70 * H * D));
    expect(() => tokenMajor.appendTokenRowsAt(0, 'key', at, 1.5)).toThrow(/token count 1.5/);
    expect(() => tokenMajor.appendTokenRowsAt(2, 'key', at, 1)).toThrow(/layer 2/);
    kernel.release(at);
    kernel.close();
  });
});
