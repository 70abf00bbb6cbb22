// Block-quantized linear weights: our packing must mean to ONNX Runtime's MatMulNBits exactly what
// dequantizeRows says it means (layout, nibble order, zero points, padding of a short last block).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DataType, GraphBuilder, inlineTensors } from '../../../main/onnx/builder.js';
import { createRng } from '../../../quant/index.js';
import type { BlockQuantSpec } from '../../../quant/weight-quant.js';
import { blockQuantizedBytes, blocksPerRow, dequantizeRows, quantizeRows, zeroPointBytesPerRow } from '../../../quant/weight-quant.js';

async function matMulNBits(w: Float32Array, n: number, k: number, spec: BlockQuantSpec, a: Float32Array, m: number): Promise<Float32Array> {
  const q = quantizeRows(w, n, k, spec);
  const g = new GraphBuilder(inlineTensors);
  const blocks = blocksPerRow(k, spec);
  const inputs = [
    g.input('a', DataType.FLOAT, [1, 'm', k]),
    g.initializer('b', DataType.UINT8, [n, blocks, (spec.blockSize * spec.bits) / 8], () => q.packed),
    g.initializer('scales', DataType.FLOAT, [n * blocks], () => new Uint8Array(q.scales.buffer)),
  ];
  if (q.zeroPoints) inputs.push(g.initializer('zero_points', DataType.UINT8, [q.zeroPoints.length], () => q.zeroPoints!));
  g.op('MatMulNBits', inputs, { K: k, N: n, bits: spec.bits, block_size: spec.blockSize }, 'y', 'com.microsoft');
  g.output('y', DataType.FLOAT, [1, 'm', n]);
  const session = await ort.InferenceSession.create(g.encode('matmul-nbits'));
  const out = await session.run({ a: new ort.Tensor('float32', a, [1, m, k]) });
  await session.release();
  return out.y.data as Float32Array;
}

describe('weight block quantization (MatMulNBits layout)', () => {
  const specs: BlockQuantSpec[] = [
    { bits: 4, blockSize: 32, symmetric: true },
    { bits: 4, blockSize: 32, symmetric: false },
    { bits: 4, blockSize: 128, symmetric: false },
    { bits: 8, blockSize: 64, symmetric: true },
    { bits: 8, blockSize: 128, symmetric: false },
  ];
  for (const spec of specs) {
    it(`${spec.bits}-bit, blocks of ${spec.blockSize}, ${spec.symmetric ? 'symmetric' : 'zero points'}: ONNX Runtime computes x dequant(W)^T`, async () => {
      const rng = createRng(spec.bits * 1000 + spec.blockSize + (spec.symmetric ? 1 : 0));
      const [n, k, m] = [24, 200, 3]; // K not a multiple of the block: the last block is padded
      const w = Float32Array.from({ length: n * k }, () => rng.normal());
      const a = Float32Array.from({ length: m * k }, () => rng.normal());
      const y = await matMulNBits(w, n, k, spec, a, m);
      const deq = dequantizeRows(quantizeRows(w, n, k, spec), n, k, spec);
      let worst = 0;
      let errorSquares = 0;
      let exactSquares = 0;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let viaDeq = 0;
          let exact = 0;
          for (let c = 0; c < k; c++) {
            viaDeq += a[i * k + c] * deq[j * k + c];
            exact += a[i * k + c] * w[j * k + c];
          }
          worst = Math.max(worst, Math.abs(viaDeq - y[i * n + j]));
          errorSquares += (exact - y[i * n + j]) ** 2;
          exactSquares += exact ** 2;
        }
      expect(worst).toBeLessThan(1e-4);
      // and the quantized product is near the float one: relative RMS error about step / sqrt(12) / sigma
      const relative = Math.sqrt(errorSquares / exactSquares);
      expect(relative).toBeLessThan(spec.bits === 8 ? 0.01 : 0.15);
      expect(relative).toBeGreaterThan(0);
    });
  }

  it('reconstructs each value within half a step, and zero exactly', () => {
    const spec: BlockQuantSpec = { bits: 4, blockSize: 32, symmetric: false };
    const w = Float32Array.from({ length: 64 }, (_, i) => (i === 5 ? 0 : Math.sin(i) * (i < 32 ? 1 : 0.01)));
    const q = quantizeRows(w, 1, 64, spec);
    const deq = dequantizeRows(q, 1, 64, spec);
    for (let i = 0; i < 64; i++) expect(Math.abs(deq[i] - w[i])).toBeLessThanOrEqual(q.scales[i >> 5] / 2 + 1e-7);
    expect(deq[5]).toBe(0);
  });

  it('counts its bytes: codes, float32 scales, packed zero points', () => {
    expect(blockQuantizedBytes(10, 200, { bits: 4, blockSize: 32, symmetric: false })).toBe(10 * (7 * 16 + 7 * 4 + 4));
    expect(zeroPointBytesPerRow(200, { bits: 4, blockSize: 32, symmetric: false })).toBe(4);
    expect(blockQuantizedBytes(10, 256, { bits: 8, blockSize: 128, symmetric: true })).toBe(10 * (256 + 8));
    expect(() => quantizeRows(new Float32Array(8), 1, 8, { bits: 3 as 4, blockSize: 32, symmetric: true })).toThrow(/bits must be 4 or 8/);
  });
});
