import { describe, expect, it } from 'vitest';
import { attention, attentionOutputError, meanCosine, mse, snrDb } from '../../../quant/metrics.js';

describe('metrics', () => {
  const exact = new Float32Array([1, 2, 3, 4]);
  const approx = new Float32Array([1, 2, 3, 5]);

  it('computes MSE, SNR and cosine by their definitions', () => {
    expect(mse(exact, approx)).toBe(0.25);
    expect(snrDb(exact, approx)).toBeCloseTo(10 * Math.log10(30 / 1), 10);
    expect(meanCosine(exact, approx, 2)).toBeCloseTo((1 + (3 * 3 + 4 * 5) / (5 * Math.sqrt(34))) / 2, 10);
    expect(meanCosine(new Float32Array([0, 0, 1, 0]), new Float32Array([0, 0, 0, 1]), 2)).toBe(0.5);
    expect(() => mse(exact, approx.subarray(1))).toThrow(/differ in length/);
  });

  it('computes attention softmax(qK^T/sqrt(d))V', () => {
    // d = 2, one query (2, 0), keys (1, 0) and (0, 0): logits 2/sqrt2 and 0
    const out = attention(new Float32Array([2, 0]), new Float32Array([1, 0, 0, 0]), new Float32Array([10, 0]), 2, 1);
    const p = Math.exp(Math.SQRT2) / (Math.exp(Math.SQRT2) + 1);
    expect(out[0]).toBeCloseTo(10 * p, 10);
  });

  it('measures relative attention-output error', () => {
    const q = new Float32Array([2, 0]);
    const k = new Float32Array([1, 0, 0, 0]);
    const v = new Float32Array([10, 0]);
    expect(attentionOutputError(q, k, v, k, v, 2, 1)).toBe(0);
    const p = Math.exp(Math.SQRT2) / (Math.exp(Math.SQRT2) + 1);
    expect(attentionOutputError(q, k, v, new Float32Array([0, 0, 0, 0]), v, 2, 1)).toBeCloseTo(Math.abs(10 * p - 5) / (10 * p), 10);
  });
});
