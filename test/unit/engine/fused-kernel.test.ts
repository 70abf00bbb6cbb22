// The fused kernel alone, on 1 and on 2 threads: its greedy encode gives quant's codes, and one
// layer's attention over a coded past (mixed per-token depths, a depth cap), an fp16 window and new
// float32 tokens, with several queries under the causal mask, matches a float64 reference computed in
// the channel order from the same codes. Groups of 32 inside 64-channel heads (strided), as in the
// speed benchmarks; past 64 tokens so that the 2-thread kernel splits the attention.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RvqCodec, codeBits, createRng, float16BitsToFloat32, float32ToFloat16Bits, groupLayout, packCodes, parseRvqSpec, rvqCodeBytesPerToken } from '../../../quant/index.js';
import { RopeTables, Scratch, attendLayer } from '../../../main/engine/fused/attention.js';
import type { AttendOptions, KernelSegment } from '../../../main/engine/fused/attention.js';
import { FusedKernel } from '../../../main/engine/fused/kernel.js';
import { EXACT_SEARCH, KernelRvqCodec, SCREENED_SEARCH, encodeSearchFromEnv, headCallOrder } from '../../../main/engine/fused/kernel-codec.js';
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
  it.each([
    [1, EXACT_SEARCH],
    [2, EXACT_SEARCH],
    [1, SCREENED_SEARCH],
    [2, SCREENED_SEARCH],
  ] as const)("encodes greedily as quant's codec does (%i threads, %o)", (threads, search) => {
    const rows = Float32Array.from({ length: 5 * W }, () => 3 * rng.normal());
    const expected = new RvqCodec(spec, books).encode(rows, 3);
    const encoded = new KernelRvqCodec(kernels[threads], spec, books, search).encode(rows, 3);
    expect(encoded.codes).toEqual(expected.codes);
    expect(encoded.scales).toEqual(expected.scales);
  });

  it('screens with the exact codes where entries nearly tie, with 2048 entries, and an all-zero group', () => {
    // near-duplicate entries (a 1e-4 nudge) make the int8 scores tie often; a zero row leaves residuals of 0
    const big = parseRvqSpec({ ...spec, codebookSize: 2048, depth: 3 });
    const base = Float32Array.from({ length: 3 * 2048 * big.groupSize }, () => rng.normal());
    for (let e = 1; e < 3 * 2048; e += 2) for (let t = 0; t < big.groupSize; t++) base[e * big.groupSize + t] = base[(e - 1) * big.groupSize + t] + 1e-4 * rng.normal();
    const rows = Float32Array.from({ length: 6 * W }, () => 2 * rng.normal());
    rows.fill(0, 0, W);
    const expected = new RvqCodec(big, base).encode(rows);
    for (const threads of [1, 2] as const) expect(new KernelRvqCodec(kernels[threads], big, base, SCREENED_SEARCH).encode(rows).codes).toEqual(expected.codes);
  });

  it('screens with the exact search\'s codes where residuals and entries are tiny (subnormal scales)', () => {
    // unscaled rows equal to stage-0 entries plus ~1e-40 (subnormal) leave residuals the int8 screen
    // cannot scale without a floor; later stages hold entries of ~1e-22 and exact zeros (as trained books do)
    const tiny = parseRvqSpec({ ...spec, codebookSize: 256, depth: 4, scale: 'none' });
    const n = tiny.codebookSize * tiny.groupSize;
    const tinyBooks = Float32Array.from({ length: 4 * n }, (_, i) => (i < n ? rng.normal() : i < 3 * n ? 1e-22 * rng.normal() : 0));
    const layout = groupLayout(tiny);
    const rows = new Float32Array(8 * W);
    for (let t = 0; t < 8; t++) {
      for (let g = 0; g < groups; g++) {
        const entry = rng.int(tiny.codebookSize);
        for (let i = 0; i < tiny.groupSize; i++) rows[t * W + layout.channelMap[g * tiny.groupSize + i]] = tinyBooks[entry * tiny.groupSize + i] + (t % 2) * 1e-40 * rng.normal();
      }
    }
    const exact = new KernelRvqCodec(kernels[1], tiny, tinyBooks, EXACT_SEARCH).encode(rows);
    expect(new KernelRvqCodec(kernels[1], tiny, tinyBooks, SCREENED_SEARCH).encode(rows).codes).toEqual(exact.codes);
  });

  it("screens with the exact search's codes where a whole stage ties (more waiting candidates than the screen holds)", () => {
    // stage 1's entries 1..2047 are one row (entry 0 lies far away): every one is within the bound, 512
    // blocks of candidates rescored in batches; the exact search keeps the lowest index, 1
    const tied = parseRvqSpec({ ...spec, codebookSize: 2048, depth: 3 });
    const n = 2048 * tied.groupSize;
    const row = Float32Array.from({ length: tied.groupSize }, () => rng.normal());
    const tiedBooks = Float32Array.from({ length: 3 * n }, (_, i) => (i >= n && i < 2 * n ? row[i % tied.groupSize] + (i < n + tied.groupSize ? 100 : 0) : rng.normal()));
    const rows = Float32Array.from({ length: 5 * W }, () => 2 * rng.normal());
    const exact = new KernelRvqCodec(kernels[1], tied, tiedBooks, EXACT_SEARCH).encode(rows);
    expect(exact.codes.filter((_, i) => Math.floor(i / groups) % 3 === 1).every((c) => c === 1)).toBe(true);
    for (const threads of [1, 2] as const) expect(new KernelRvqCodec(kernels[threads], tied, tiedBooks, SCREENED_SEARCH).encode(rows).codes).toEqual(exact.codes);
  });

  it("screens with the exact search's codes where a batch of candidates was rescored before a last lone one", () => {
    // stage 1's entries 1..256 are one row, the rest lie far away: 65 blocks of candidates, the first 64
    // rescored as a batch (best: entry 1), then block 64 with entry 256 alone, which must not be taken
    // for the only candidate (found on trained stories260K books, where 65+ blocks fell within the bound)
    const tied = parseRvqSpec({ ...spec, codebookSize: 2048, depth: 2 });
    const gs = tied.groupSize;
    const row = Float32Array.from({ length: gs }, () => rng.normal());
    const tiedBooks = Float32Array.from({ length: 2 * 2048 * gs }, (_, i) => {
      const entry = Math.floor(i / gs) - 2048;
      return entry < 0 ? rng.normal() : row[i % gs] + (entry >= 1 && entry <= 256 ? 0 : 100);
    });
    const rows = Float32Array.from({ length: 3 * W }, () => 2 * rng.normal());
    const exact = new KernelRvqCodec(kernels[1], tied, tiedBooks, EXACT_SEARCH).encode(rows);
    expect(exact.codes.filter((_, i) => Math.floor(i / groups) % 2 === 1).every((c) => c === 1)).toBe(true);
    expect(new KernelRvqCodec(kernels[1], tied, tiedBooks, SCREENED_SEARCH).encode(rows).codes).toEqual(exact.codes);
  });

  it('gives up the screen for the exact search where most entries fall within its bound, keeps it elsewhere', () => {
    // stage 1 all one row (entry 0 far): every search there rescores 511 blocks; random books rescore about one entry
    const big = parseRvqSpec({ ...spec, codebookSize: 2048, depth: 2 });
    const gs = big.groupSize;
    const row = Float32Array.from({ length: gs }, () => rng.normal());
    const tiedBooks = Float32Array.from({ length: 2 * 2048 * gs }, (_, i) => (i < 2048 * gs ? rng.normal() : row[i % gs] + (i < 2049 * gs ? 100 : 0)));
    const randomBooks = Float32Array.from({ length: 2 * 2048 * gs }, () => rng.normal());
    // 8 searches a token: 600 tokens pass the trial, the next call is judged
    const rows = Float32Array.from({ length: 600 * W }, () => 2 * rng.normal());
    const next = Float32Array.from({ length: 5 * W }, () => 2 * rng.normal());
    for (const [books, kept] of [[tiedBooks, 'exact'], [randomBooks, 'screened']] as const) {
      const exact = new KernelRvqCodec(kernels[1], big, books, EXACT_SEARCH);
      const screened = new KernelRvqCodec(kernels[1], big, books, SCREENED_SEARCH);
      expect(screened.encode(rows).codes).toEqual(exact.encode(rows).codes);
      expect(screened.searching).toBe('screened');
      expect(screened.encode(next).codes).toEqual(exact.encode(next).codes);
      expect(screened.searching).toBe(kept);
      expect(screened.encode(next).codes).toEqual(exact.encode(next).codes);
    }
  });

  it("screens with the exact search's codes where the int8 copy errs by nearly its bound", () => {
    // residual: all ones; channel scales 1/127 (entry 0: all -1). Entry 1, the best, sits 0.49 of a step
    // above the grid in every channel, so its screen score is low by nearly the bound's 0.5 sum |r_i| S_i;
    // entry 2, on the grid, scores 0.005 less exactly but 0.12 more in the screen
    const edge = parseRvqSpec({ ...spec, codebookSize: 64, depth: 1, scale: 'none' });
    const gs = edge.groupSize;
    const edgeBooks = new Float32Array(64 * gs).fill(-0.5);
    for (let t = 0; t < gs; t++) {
      edgeBooks[t] = -1;
      edgeBooks[gs + t] = 10.49 / 127;
      edgeBooks[2 * gs + t] = (t < 15 ? 11 : 10) / 127;
    }
    const rows = new Float32Array(3 * W).fill(1);
    const exact = new KernelRvqCodec(kernels[1], edge, edgeBooks, EXACT_SEARCH).encode(rows);
    expect(Array.from(exact.codes).every((c) => c === 1)).toBe(true);
    expect(new KernelRvqCodec(kernels[1], edge, edgeBooks, SCREENED_SEARCH).encode(rows).codes).toEqual(exact.codes);
  });

  it.each([16, 64])(
    "screens with the exact search's codes for groups of %i, an outlier channel, a zero channel and a book smaller than a tile",
    (groupSize) => {
      // per stage and channel scales: channel 0 a thousand times the others, channel 1 all zero; 8 entries
      const shaped = parseRvqSpec({ ...spec, groupSize, codebookSize: 8, depth: 4, scale: 'none' });
      const shapedBooks = Float32Array.from({ length: 4 * 8 * groupSize }, (_, i) => (i % groupSize === 0 ? 1000 : i % groupSize === 1 ? 0 : 1) * rng.normal());
      const rows = Float32Array.from({ length: 7 * W }, (_, i) => (i % 3 === 0 ? 800 : 1) * rng.normal());
      const exact = new KernelRvqCodec(kernels[1], shaped, shapedBooks, EXACT_SEARCH).encode(rows);
      for (const threads of [1, 2] as const) expect(new KernelRvqCodec(kernels[threads], shaped, shapedBooks, SCREENED_SEARCH).encode(rows).codes).toEqual(exact.codes);
    },
  );

  describe('the clustered (approximate) search', () => {
    // Stage 0's 256 entries lie in 16 tight, far-apart clumps (shuffled); stage 1 is plain noise, small.
    // No scales, so that rows near entries stay near them.
    const clumped = parseRvqSpec({ ...spec, codebookSize: 256, depth: 2, scale: 'none' });
    const C = clumped.codebookSize;
    const gs = clumped.groupSize;
    const centers = Array.from({ length: 16 }, () => Float32Array.from({ length: gs }, () => 4 * rng.normal()));
    const order = Array.from({ length: C }, (_, i) => i).sort(() => rng.next() - 0.5);
    const clumpedBooks = new Float32Array(2 * C * gs);
    order.forEach((c, i) => {
      for (let t = 0; t < gs; t++) clumpedBooks[c * gs + t] = centers[i % 16][t] + 0.3 * rng.normal();
    });
    for (let i = C * gs; i < 2 * C * gs; i++) clumpedBooks[i] = 0.2 * rng.normal();
    // token rows whose every group lies near a stage-0 entry
    const rowsNearEntries = (tokens: number) => {
      const rows = new Float32Array(tokens * W);
      const layout = groupLayout(clumped);
      for (let t = 0; t < tokens; t++) {
        for (let g = 0; g < groups; g++) {
          const entry = rng.int(C);
          for (let i = 0; i < gs; i++) rows[t * W + layout.channelMap[g * gs + i]] = clumpedBooks[entry * gs + i] + 0.1 * rng.normal();
        }
      }
      return rows;
    };
    const squaredError = (codec: RvqCodec, rows: Float32Array, encoded: ReturnType<RvqCodec['encode']>) => codec.decode(encoded).reduce((sum, x, i) => sum + (x - rows[i]) ** 2, 0);

    it('probing every cluster gives the exact codes', () => {
      const rows = Float32Array.from({ length: 7 * W }, () => 3 * rng.normal());
      const expected = new RvqCodec(spec, books).encode(rows);
      const every = new KernelRvqCodec(kernels[1], spec, books, { kind: 'clustered', clusters: 16, probes: 16, iterations: 3 }).encode(rows);
      expect(every.codes).toEqual(expected.codes);
    });

    it('finds the exact codes of vectors near clumped entries, and its decoded rows are its codes read back', () => {
      const rows = rowsNearEntries(40);
      const reference = new RvqCodec(clumped, clumpedBooks);
      const expected = reference.encode(rows);
      const codec = new KernelRvqCodec(kernels[1], clumped, clumpedBooks, { kind: 'clustered', clusters: 16, probes: 2, iterations: 6 });
      const { encoded, decoded } = codec.encodeDecoded(rows);
      // stage 0: the nearest entry lies in the nearest clump, which the search probes
      const first = (codes: Uint32Array) => codes.filter((_, i) => Math.floor(i / groups) % 2 === 0);
      expect(first(encoded.codes)).toEqual(first(expected.codes));
      // the rows the kernel attends (call order, scales applied) are the sums of the entries it coded
      const readBack = reference.decode(encoded);
      for (let t = 0; t < 40; t++) for (let k = 0; k < W; k++) expect(decoded[t * W + k]).toBeCloseTo(readBack[t * W + codec.layout.channelMap[k]], 4);
      expect(Math.max(...encoded.codes)).toBeLessThan(C);
    });

    it('loses little against the exact search when the residual has no clumps, and the more probes the less', () => {
      const rows = rowsNearEntries(60);
      const reference = new RvqCodec(clumped, clumpedBooks);
      const exact = squaredError(reference, rows, reference.encode(rows));
      const [few, many] = [2, 12].map((probes) => squaredError(reference, rows, new KernelRvqCodec(kernels[1], clumped, clumpedBooks, { kind: 'clustered', clusters: 16, probes, iterations: 6 }).encode(rows)));
      expect(few).toBeGreaterThanOrEqual(exact * 0.999);
      expect(few).toBeLessThan(exact * 1.25);
      expect(many).toBeLessThanOrEqual(few);
    });

    it('gives the same codes on 2 threads as on 1', () => {
      const rows = Float32Array.from({ length: 9 * W }, () => 3 * rng.normal());
      const search = { kind: 'clustered', clusters: 16, probes: 3, iterations: 4 } as const;
      const [one, two] = [1, 2].map((t) => new KernelRvqCodec(kernels[t as 1 | 2], spec, books, search).encode(rows));
      expect(two.codes).toEqual(one.codes);
    });

    it('is chosen by RESKV_ENCODE_SEARCH, checked', () => {
      expect(encodeSearchFromEnv(EXACT_SEARCH, undefined)).toEqual(EXACT_SEARCH);
      expect(encodeSearchFromEnv(EXACT_SEARCH, 'exact')).toEqual(EXACT_SEARCH);
      expect(encodeSearchFromEnv(EXACT_SEARCH, 'screened')).toEqual(SCREENED_SEARCH);
      expect(encodeSearchFromEnv(EXACT_SEARCH, 'clustered:32:4')).toMatchObject({ kind: 'clustered', clusters: 32, probes: 4 });
      expect(() => encodeSearchFromEnv(EXACT_SEARCH, 'fast')).toThrow(/RESKV_ENCODE_SEARCH/);
      expect(() => encodeSearchFromEnv(EXACT_SEARCH, 'clustered:30:4')).toThrow(/multiple of 4/);
      expect(() => new KernelRvqCodec(kernels[1], spec, books, { kind: 'clustered', clusters: 128, probes: 4, iterations: 1 })).toThrow(/clusters/);
    });
  });

  // past: 100 coded tokens (depths 1..4 held, 3 read), 3 fp16 window tokens; up to 3 new float32 tokens
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

  /** The attention of the first `queries` new tokens (float64). */
  function reference(queries = n): Float64Array {
    const total = qPos0 + queries;
    const keys = Array.from({ length: total }, (_, t) => callRow('key', t));
    const values = Array.from({ length: total }, (_, t) => callRow('value', t));
    const out = new Float64Array(queries * H * d);
    for (let j = 0; j < queries; j++) {
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

  function run(kernel: FusedKernel, options: AttendOptions = {}, queries = n): Float32Array {
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
      return [codedSegment, { type: 'f16', tokens: windowTokens, data: at.window }, { type: 'f32', tokens: queries, data: at.fresh }] as const;
    };
    const [keys, values] = [segment('key'), segment('value')];
    const qCall = new Float32Array(queries * H * d);
    for (let r = 0; r < queries * H; r++) for (let i = 0; i < d; i++) qCall[r * d + i] = q[r * d + perm[i]];
    const out = attendLayer(kernel, scratch, config, new RopeTables(kernel, config, perm), qCall, qPos0, keys.map((key, i) => ({ key, value: values[i] })), options);
    const attn = new Float32Array(out.length);
    for (let r = 0; r < queries * H; r++) for (let i = 0; i < d; i++) attn[r * d + perm[i]] = out[r * d + i];
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

  it('gives a 2-thread kernel the same bits when its helper takes no chunk (starting up; a solo spell alike)', () => {
    const starting = new FusedKernel(undefined, { threads: 2 });
    try {
      // the helper's worker thread has not started yet: every chunk runs on this thread
      expect(starting.threads).toBe(1);
      expect(run(starting)).toEqual(run(kernels[2]));
      expect(run(starting, {}, 1)).toEqual(run(kernels[2], {}, 1));
    } finally {
      starting.close();
    }
  });

  it('scores one query (a decode step) from coded keys turned in registers as the float64 reference does, on 1 and 2 threads', () => {
    // attend.c's score_coded: one query, groups of 32, the RoPE partner 16 call positions on
    expect(new RopeTables(kernels[1], config, perm).partnerXor).toBe(16);
    const expected = reference(1);
    const [one, two] = [run(kernels[1], {}, 1), run(kernels[2], {}, 1)];
    const worst = (a: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - expected[i])));
    expect(worst(one)).toBeLessThan(1e-4);
    expect(worst(two)).toBeLessThan(1e-4);
    for (let repeat = 0; repeat < 20; repeat++) expect(run(kernels[2], {}, 1)).toEqual(two);
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
