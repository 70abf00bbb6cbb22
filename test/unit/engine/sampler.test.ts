import { describe, expect, it } from 'vitest';
import { Sampler, argmax, candidateDistribution, parseSamplingOptions, penalizeRepetition } from '../../../main/engine/sampler.js';

const logits = Float32Array.from([2, 1, 0, -1]);
// softmax([2, 1, 0, -1]) by hand: e^2, e^1, e^0, e^-1 over their sum 11.1073...
const Z = Math.exp(2) + Math.exp(1) + 1 + Math.exp(-1);
const softmax = [Math.exp(2) / Z, Math.exp(1) / Z, 1 / Z, Math.exp(-1) / Z]; // 0.6439, 0.2369, 0.0871, 0.0321

describe('repetition penalty (CTRL / HF rule)', () => {
  it('divides positive logits and multiplies negative ones, once per distinct token', () => {
    const out = penalizeRepetition(Float32Array.from([2, 1, 0, -1]), [0, 3, 0, 3], 2);
    expect(Array.from(out)).toEqual([1, 1, 0, -2]);
    expect(Array.from(penalizeRepetition(logits, [1], 0.5))).toEqual([2, 2, 0, -1]);
    expect(Array.from(logits)).toEqual([2, 1, 0, -1]); // input untouched
  });

  it('changes the greedy choice', () => {
    const sampler = new Sampler({ temperature: 0, repetitionPenalty: 4 });
    expect(sampler.next(Float32Array.from([2, 1.5, 0]), [])).toBe(0);
    expect(sampler.next(Float32Array.from([2, 1.5, 0]), [0])).toBe(1); // 2/4 = 0.5 < 1.5
  });
});

describe('candidate distribution', () => {
  it('is the softmax at temperature 1 and sharpens at lower temperature', () => {
    const all = candidateDistribution(logits, { temperature: 1, topK: 0, topP: 1 });
    expect(all.ids).toEqual([0, 1, 2, 3]);
    all.probs.forEach((p, i) => expect(p).toBeCloseTo(softmax[i], 12));
    const cold = candidateDistribution(logits, { temperature: 0.5, topK: 0, topP: 1 });
    const z2 = Math.exp(4) + Math.exp(2) + 1 + Math.exp(-2);
    expect(cold.probs[0]).toBeCloseTo(Math.exp(4) / z2, 12);
  });

  it('top-k keeps the k best, renormalised, and keeps ties at the k-th logit', () => {
    const top2 = candidateDistribution(logits, { temperature: 1, topK: 2, topP: 1 });
    expect(top2.ids).toEqual([0, 1]);
    expect(top2.probs[0]).toBeCloseTo(Math.exp(2) / (Math.exp(2) + Math.exp(1)), 12);
    expect(candidateDistribution(Float32Array.from([3, 1, 1, 0]), { temperature: 1, topK: 2, topP: 1 }).ids).toEqual([0, 1, 2]);
  });

  it('top-k agrees with a plain sort on random logits full of duplicates', () => {
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(next() * 300);
      const values = Float32Array.from({ length: n }, () => Math.floor(next() * 12) - 6);
      const k = 1 + Math.floor(next() * n);
      const kth = [...values].sort((a, b) => b - a)[k - 1];
      const expected = [...values.keys()].filter((i) => values[i] >= kth);
      expect(candidateDistribution(values, { temperature: 1, topK: k, topP: 1 }).ids).toEqual(expected);
    }
  });

  it('top-p keeps the smallest most-likely set reaching p', () => {
    // cumulative in order: 0.6439, 0.8808, 0.9679, 1
    expect(candidateDistribution(logits, { temperature: 1, topK: 0, topP: 0.6 }).ids).toEqual([0]);
    expect(candidateDistribution(logits, { temperature: 1, topK: 0, topP: 0.7 }).ids).toEqual([0, 1]);
    const p9 = candidateDistribution(logits, { temperature: 1, topK: 0, topP: 0.9 });
    expect(p9.ids).toEqual([0, 1, 2]);
    expect(p9.probs[2]).toBeCloseTo(softmax[2] / (softmax[0] + softmax[1] + softmax[2]), 12);
    // applied after top-k
    expect(candidateDistribution(logits, { temperature: 1, topK: 2, topP: 0.99 }).ids).toEqual([0, 1]);
  });

  it('top-p over a large flat vocabulary finds the nucleus through the threshold search', () => {
    const big = new Float32Array(50_000).fill(0);
    big[123] = 12; // e^12 / (e^12 + 49999) = 0.765
    expect(candidateDistribution(big, { temperature: 1, topK: 0, topP: 0.7 }).ids).toEqual([123]);
    const wide = candidateDistribution(big, { temperature: 1, topK: 0, topP: 0.8 });
    const pTail = 1 / (Math.exp(12) + 49_999);
    expect(wide.ids.length).toBe(1 + Math.ceil((0.8 - Math.exp(12) * pTail) / pTail));
    expect(wide.ids.slice(0, 3)).toEqual([123, 0, 1]); // equal tokens by id
  });
});

describe('Sampler', () => {
  const vocab = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);

  it('is greedy at temperature 0', () => {
    expect(new Sampler().next(vocab, [])).toBe(argmax(vocab));
    expect(argmax(Float32Array.from([1, 3, 3]))).toBe(1);
  });

  it('gives the same tokens for the same seed and different ones for another', () => {
    const draw = (seed: number) => {
      const sampler = new Sampler({ temperature: 1.2, topK: 20, topP: 0.95, seed });
      return Array.from({ length: 40 }, () => sampler.next(vocab, []));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(new Set(draw(42)).size).toBeGreaterThan(1);
  });

  it('draws tokens with their probabilities', () => {
    const sampler = new Sampler({ temperature: 1, seed: 1 });
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) counts[sampler.next(logits, [])]++;
    counts.forEach((c, i) => expect(c / 20_000).toBeCloseTo(softmax[i], 1));
  });

  it('reports a drawn seed when none is given, and rejects NaN logits', () => {
    const sampler = new Sampler({ temperature: 1 });
    expect(Number.isInteger(sampler.seed)).toBe(true);
    expect(() => sampler.next(Float32Array.from([0, NaN]), [])).toThrow(/NaN logit \(token 1\)/);
  });

  it('rejects absurd options, naming the field', () => {
    expect(() => parseSamplingOptions({ temperature: -1 })).toThrow(/temperature: must be at least 0/);
    expect(() => parseSamplingOptions({ temperature: 1e9 })).toThrow(/temperature: must be at most 100/);
    expect(() => parseSamplingOptions({ topK: 2.5 })).toThrow(/topK: must be an integer/);
    expect(() => parseSamplingOptions({ topP: 1.5 })).toThrow(/topP: must be at most 1/);
    expect(() => parseSamplingOptions({ topP: 0 })).toThrow(/topP: must be greater than 0/);
    expect(() => parseSamplingOptions({ repetitionPenalty: -2 })).toThrow(/repetitionPenalty/);
    expect(() => parseSamplingOptions({ seed: 2 ** 40 })).toThrow(/seed: must fit in 32 bits/);
    expect(() => parseSamplingOptions({ temprature: 1 })).toThrow(/temprature/);
    expect(() => parseSamplingOptions({ temperature: '1' })).toThrow(/temperature/);
    expect(parseSamplingOptions({})).toEqual({ temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 });
  });
});
