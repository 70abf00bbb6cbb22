// The fused path's fp16 cache in kernel memory: token-major appends (the fused decoder's) hold what
// head-major appends (KvRows, the other stores' input) hold, across lane growth.
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../quant/index.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';
import { KernelFp16KvStore } from '../../../main/engine/fused/kernel-fp16-store.js';
import { tokenMajorFloat32 } from '../../../main/engine/kv-rows.js';

const geometry = { numLayers: 2, numKvHeads: 3, headDim: 8 };

describe('KernelFp16KvStore', () => {
  it('takes token-major rows (appendTokenRows) as append takes the same tokens head-major', () => {
    const kernel = new FusedKernel(undefined, { threads: 1 });
    const headMajor = new KernelFp16KvStore(kernel, geometry);
    const tokenMajor = new KernelFp16KvStore(kernel, geometry);
    const rng = createRng(3);
    const { numKvHeads: H, headDim: D } = geometry;
    // 70 tokens in chunks: the lanes grow past their first 64 tokens
    for (const n of [1, 40, 1, 28]) {
      const rows = { data: Float32Array.from({ length: H * n * D }, () => rng.normal()), tokens: n, start: 0, count: n };
      for (let layer = 0; layer < 2; layer++) {
        for (const kind of ['key', 'value'] as const) {
          headMajor.append(layer, kind, rows);
          tokenMajor.appendTokenRows(layer, kind, tokenMajorFloat32(rows, H, D));
        }
      }
    }
    expect(tokenMajor.length).toBe(70);
    expect(tokenMajor.save()).toEqual(headMajor.save());
    expect(kernel.u16(tokenMajor.rowsAt(1, 'value'), 70 * H * D)).toEqual(kernel.u16(headMajor.rowsAt(1, 'value'), 70 * H * D));
    expect(() => tokenMajor.appendTokenRows(0, 'key', new Float32Array(25))).toThrow(/25 values, not whole rows of 24/);
    expect(() => tokenMajor.appendTokenRows(2, 'key', new Float32Array(24))).toThrow(/layer 2/);
    kernel.close();
  });
});
