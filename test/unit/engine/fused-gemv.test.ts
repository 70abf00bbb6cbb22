// The fused kernel's float32 GEMV (matmul.c, built into attend.wasm): a task of several products (odd
// row and column counts included, to reach the 8-row, 4-row and single-row blocks, the 8-column tail
// and the 4-row blocks of columns not a multiple of 4) matches a float64 product on 1 thread and, bit
// for bit, with the helper thread taking row chunks.
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '../../../quant/index.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';

describe('FusedKernel.gemv', () => {
  const kernels = { 1: new FusedKernel(undefined, { threads: 1 }), 2: new FusedKernel(undefined, { threads: 2 }) };
  afterAll(() => Object.values(kernels).forEach((k) => k.close()));
  const shapes = [
    { rows: 4, cols: 8 },
    { rows: 7, cols: 13 },
    { rows: 300, cols: 64 },
    { rows: 130, cols: 36 },
    { rows: 21, cols: 10 },
  ];
  /** The same task in a kernel, from the same random numbers; its outputs. */
  const setUp = (kernel: FusedKernel) => {
    const rng = createRng(7);
    const products = shapes.map(({ rows, cols }) => {
      const p = { w: kernel.alloc(4 * rows * cols), x: kernel.alloc(4 * cols), y: kernel.alloc(4 * rows), rows, cols };
      kernel.f32(p.w, rows * cols).set(Float32Array.from({ length: rows * cols }, () => rng.normal()));
      kernel.f32(p.x, cols).set(Float32Array.from({ length: cols }, () => rng.normal()));
      return p;
    });
    const task = kernel.gemvTask(products);
    return { products, run: () => (kernel.gemv(task), products.map((p) => kernel.f32(p.y, p.rows).slice())) };
  };

  it('matches a float64 product on 1 thread', () => {
    const kernel = kernels[1];
    const { products, run } = setUp(kernel);
    const got = run();
    products.forEach((p, i) => {
      const w = kernel.f32(p.w, p.rows * p.cols);
      const x = kernel.f32(p.x, p.cols);
      for (let r = 0; r < p.rows; r++) {
        let exact = 0;
        let magnitude = 0;
        for (let c = 0; c < p.cols; c++) {
          exact += w[r * p.cols + c] * x[c];
          magnitude += Math.abs(w[r * p.cols + c] * x[c]);
        }
        expect(Math.abs(got[i][r] - exact)).toBeLessThanOrEqual(1e-6 * magnitude);
      }
    });
  });

  it('gives the same bits with the helper thread', async () => {
    for (let i = 0; i < 100 && kernels[2].threads !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(kernels[2].threads).toBe(2);
    expect(setUp(kernels[2]).run()).toEqual(setUp(kernels[1]).run());
  });
});
