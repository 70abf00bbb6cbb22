// The fused kernel alone, on 1 and on 2 threads: its greedy encode gives quant's codes, and one
// layer's attention over a coded past (mixed per-token depths, a depth cap), an fp16 window and new
// float32 tokens, with several queries under the causal mask, matches a float64 reference computed in
// the channel order from the same codes. Groups of 32 inside 64-channel heads (strided), as in the
// speed benchmarks; past 64 tokens so that the 2-thread kernel splits the attention.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RvqCodec, codeBits, createRng, float16BitsToFloat32, float32ToFloat16Bits, packCodes, parseRvqSpec, rvqCodeBytesPerToken } from '../../../quant/index.js';
import { RopeTables, Scratch, attendLayer } from '../../../main/engine/fused/attention.js';
import type { AttendOptions, KernelSegment } from '../../../main/engine/fused/attention.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';
import { KernelRvqCodec, headCallOrder } from '../../../main/engine/fused/kernel-codec.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { ropeInverseFrequencies, ropePair } from '../../../main/model/config.js';
import { smolLm2Geometry } from '../../support/geometries.js';

const config: ModelConfig = { ...smolLm2Geometry, numHeads: 6, numKvHeads: 2, headDim: 64, maxPositions: 256 };
const { numHeads: H, numKvHeads: KVH, headDim: d } = config;
const W = KVH * d;
const spec = parseRvqSpec({ headDim: d, numKvHeads: KVH, groupSize: 32, codebookSize: 64, depth: 4, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const groups = W / spec.groupSize;
const rng = createRng(11);
const books = Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, (_, i) => rng.normal() / (1 + Math.floor(i / (spec.codebookSize * spec.groupSize))));
const perm = headCallOrder(spec)!;

/** Kernels on 1 and 2 threads, the second with its helper up. */
const kernels: Record<1 | 2, FusedKernel> = { 1: new FusedKernel(undefined, { threads: 1 }), 2: new FusedKernel(undefined, { threads: 2 }) };

beforeAll(async () => {
  for (let waited = 0; kernels[2].threads !== 2; waited += 10) {
    if (waited > 10_000) throw new Error('the helper thread did not start');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
});
afterAll(() => {
  for (const kernel of Object.values(kernels)) kernel.close();
});

describe('the fused kernel', () => {
  it.each([1, 2] as const)("encodes greedily as quant's codec does (%i threads)", (threads) => {
    const rows = Float32Array.from({ length: 5 * W }, () => 3 * rng.normal());
    const expected = new RvqCodec(spec, books).encode(rows, 3);
    const encoded = new KernelRvqCodec(kernels[threads], spec, books).encode(rows, 3);
    expect(encoded.codes).toEqual(expected.codes);
    expect(encoded.scales).toEqual(expected.scales);
  });

  // past: 100 coded tokens (depths 1..4 held, 3 read), 3 fp16 window tokens; 3 new float32 tokens
  const coded = 100;
  const windowTokens = 3;
  const n = 3;
  const qPos0 = coded + windowTokens;
  const held = Uint8Array.from({ length: coded }, () => 1 + rng.int(4));
  const readDepth = 3;
  const codes = {
    key: Uint32Array.from({ length: coded * spec.depth * groups }, () => rng.int(spec.codebookSize)),
    value: Uint32Array.from({ length: coded * spec.depth * groups }, () => rng.int(spec.codebookSize)),
  };
  const scales = { key: Uint16Array.from({ length: coded * KVH }, () => float32ToFloat16Bits(0.5 + rng.next())), value: Uint16Array.from({ length: coded * KVH }, () => float32ToFloat16Bits(0.5 + rng.next())) };
  const window = { key: Uint16Array.from({ length: windowTokens * W }, () => float32ToFloat16Bits(rng.normal())), value: Uint16Array.from({ length: windowTokens * W }, () => float32ToFloat16Bits(rng.normal())) };
  const fresh = { key: Float32Array.from({ length: n * W }, () => rng.normal()), value: Float32Array.from({ length: n * W }, () => rng.normal()) };
  const q = Float32Array.from({ length: n * H * d }, () => rng.normal());

  /** Token t's row in call order (float64): the coded rows summed from the books and scaled, then the window's, then the new ones. */
  function callRow(kind: 'key' | 'value', t: number): Float64Array {
    const row = new Float64Array(W);
    if (t < coded) {
      const depth = Math.min(held[t], readDepth);
      for (let g = 0; g < groups; g++) {
        for (let s = 0; s < depth; s++) {
          const entry = codes[kind][(t * spec.depth + s) * groups + g];
          for (let i = 0; i < spec.groupSize; i++) row[g * spec.groupSize + i] += books[(s * spec.codebookSize + entry) * spec.groupSize + i];
        }
      }
      for (let k = 0; k < W; k++) row[k] *= float16BitsToFloat32(scales[kind][t * KVH + Math.floor(k / d)]);
    } else if (t < qPos0) {
      for (let k = 0; k < W; k++) row[k] = float16BitsToFloat32(window[kind][(t - coded) * W + k]);
    } else {
      row.set(fresh[kind].subarray((t - qPos0) * W, (t - qPos0 + 1) * W));
    }
    return row;
  }

  /** Channel-order x (one head, float64) turned by RoPE at pos. */
  const inverse = ropeInverseFrequencies(config);
  function rope(x: Float64Array, pos: number): Float64Array {
    return x.map((v, c) => {
      const { partner, freq, sign } = ropePair(config, c);
      const angle = pos * inverse[freq];
      return v * Math.cos(angle) + sign * x[partner] * Math.sin(angle);
    });
  }
  /** One head of a call-order row in channel order. */
  const channels = (row: ArrayLike<number>, at: number) => {
    const x = new Float64Array(d);
    for (let i = 0; i < d; i++) x[perm[i]] = row[at + i];
    return x;
  };

  function reference(): Float64Array {
    const total = qPos0 + n;
    const keys = Array.from({ length: total }, (_, t) => callRow('key', t));
    const values = Array.from({ length: total }, (_, t) => callRow('value', t));
    const out = new Float64Array(n * H * d);
    for (let j = 0; j < n; j++) {
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / (H / KVH));
        const qr = rope(Float64Array.from(q.subarray((j * H + h) * d, (j * H + h + 1) * d)), qPos0 + j);
        const seen = qPos0 + j + 1;
        const scores = Array.from({ length: seen }, (_, t) => {
          const k = rope(channels(keys[t], kh * d), t);
          return qr.reduce((sum, v, c) => sum + v * k[c], 0) / Math.sqrt(d);
        });
        const top = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - top));
        const sum = weights.reduce((a, b) => a + b, 0);
        for (let t = 0; t < seen; t++) {
          const v = channels(values[t], kh * d);
          for (let c = 0; c < d; c++) out[(j * H + h) * d + c] += (weights[t] / sum) * v[c];
        }
      }
    }
    return out;
  }

  function run(kernel: FusedKernel, options: AttendOptions = {}): Float32Array {
    const scratch = new Scratch(kernel);
    const codec = { key: new KernelRvqCodec(kernel, spec, books), value: new KernelRvqCodec(kernel, spec, books) };
    const stride = rvqCodeBytesPerToken(spec);
    const segment = (kind: 'key' | 'value') => {
      const records = new Uint8Array(coded * stride);
      for (let t = 0; t < coded; t++) packCodes(codes[kind].subarray(t * spec.depth * groups, (t + 1) * spec.depth * groups), codeBits(spec), records.subarray(t * stride, (t + 1) * stride));
      const at = { records: kernel.alloc(records.length), scales: kernel.alloc(2 * scales[kind].length), depths: kernel.alloc(coded), window: kernel.alloc(2 * window[kind].length), fresh: kernel.alloc(4 * fresh[kind].length) };
      kernel.u8(at.records, records.length).set(records);
      kernel.u16(at.scales, scales[kind].length).set(scales[kind]);
      kernel.u8(at.depths, coded).set(held);
      kernel.u16(at.window, window[kind].length).set(window[kind]);
      kernel.f32(at.fresh, fresh[kind].length).set(fresh[kind]);
      const codedSegment: KernelSegment = { type: 'coded', tokens: coded, records: at.records, stride, scales: at.scales, scaleCount: KVH, depths: at.depths, depth: readDepth, books: codec[kind].booksAt, codebookSize: spec.codebookSize, groupSize: spec.groupSize, bits: codec[kind].bits };
      return [codedSegment, { type: 'f16', tokens: windowTokens, data: at.window }, { type: 'f32', tokens: n, data: at.fresh }] as const;
    };
    const [keys, values] = [segment('key'), segment('value')];
    const qCall = new Float32Array(q.length);
    for (let r = 0; r < n * H; r++) for (let i = 0; i < d; i++) qCall[r * d + i] = q[r * d + perm[i]];
    const out = attendLayer(kernel, scratch, config, new RopeTables(kernel, config, perm), qCall, qPos0, keys.map((key, i) => ({ key, value: values[i] })), options);
    const attn = new Float32Array(out.length);
    for (let r = 0; r < n * H; r++) for (let i = 0; i < d; i++) attn[r * d + perm[i]] = out[r * d + i];
    return attn;
  }

  it('attends a coded past, an fp16 window and new tokens as the float64 reference does, on 1 and 2 threads', () => {
    const expected = reference();
    const [one, two] = [run(kernels[1]), run(kernels[2])];
    const worst = (a: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - expected[i])));
    expect(worst(one)).toBeLessThan(1e-4);
    expect(worst(two)).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(one, (x, i) => Math.abs(x - two[i])))).toBeLessThan(1e-5);
    // however the chunks fall between the threads, the same result
    for (let repeat = 0; repeat < 20; repeat++) expect(run(kernels[2])).toEqual(two);
  });

  it("sums the coded past's values through per-stage histograms as the float64 reference does, on 1 and 2 threads", () => {
    const expected = reference();
    const histograms = { histogramTokensPerStage: 0 };
    const [one, two] = [run(kernels[1], histograms), run(kernels[2], histograms)];
    const worst = (a: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - expected[i])));
    expect(worst(one)).toBeLessThan(1e-4);
    expect(worst(two)).toBeLessThan(1e-4);
    // the histogram path, not the rows: its sums differ from the rows' in the last bits
    expect(two).not.toEqual(run(kernels[2]));
    for (let repeat = 0; repeat < 20; repeat++) expect(run(kernels[2], histograms)).toEqual(two);
  });
});
