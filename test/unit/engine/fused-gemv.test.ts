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

describe('FusedKernel layer steps (layers.c)', () => {
  const kernel = new FusedKernel(undefined, { threads: 1 });
  afterAll(() => kernel.close());
  const rng = createRng(3);
  // 11: two SIMD quads and a scalar tail of 3
  const n = 11;
  const row = (scale: number) => {
    const at = kernel.alloc(4 * n);
    kernel.f32(at, n).set(Float32Array.from({ length: n }, () => scale * rng.normal()));
    return at;
  };

  it('residualNorm adds the residual, then RMS-normalizes and scales by the weight; add 0 only normalizes', () => {
    const [x, add, w, out] = [row(1), row(1), row(1), row(0)];
    const before = kernel.f32(x, n).slice();
    const [a, weight] = [kernel.f32(add, n).slice(), kernel.f32(w, n).slice()];
    kernel.residualNorm(x, add, w, out, n, 1e-5);
    const sum = Array.from(before, (v, j) => v + a[j]);
    const scale = 1 / Math.sqrt(sum.reduce((s, v) => s + v * v, 0) / n + 1e-5);
    sum.forEach((v, j) => {
      expect(kernel.f32(x, n)[j]).toBeCloseTo(v, 6);
      expect(kernel.f32(out, n)[j]).toBeCloseTo(v * scale * weight[j], 5);
    });
    kernel.residualNorm(x, 0, w, out, n, 1e-5);
    sum.forEach((v, j) => expect(kernel.f32(x, n)[j]).toBeCloseTo(v, 6));
  });

  it('siluMul gives SiLU(gate) * up without overflow for large |gate|', () => {
    const [gate, up] = [row(4), row(1)];
    kernel.f32(gate, n).set([-120, 120], 0);
    kernel.f32(gate, n).set([-100], n - 1);
    const [g, u] = [kernel.f32(gate, n).slice(), kernel.f32(up, n).slice()];
    kernel.siluMul(gate, up, n);
    g.forEach((v, j) => expect(kernel.f32(gate, n)[j]).toBeCloseTo((v / (1 + Math.exp(-v))) * u[j], 5));
  });
});
