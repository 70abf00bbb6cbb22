// npm run bench:kernel-values [-- --past 1024,2048,3072,4096,6144,8192 --depths 8,4 --reps 15 --threads 1]
// Where the kernel's value histograms pay: one layer's attention of one query over a coded past (and the new
// token), with the coded values rebuilt row by row against summed through per-stage histograms
// (attention.ts's histogramTokensPerStage Infinity vs 0), the two calls alternating. The keys' work is the
// same in both, so the difference is the values'. SmolLM2-135M geometry (9 q / 3 KV heads x 64), groups of
// 32 inside the head, C 2048, random codebooks and codes. Prints the fastest and median call of each way
// (ms), the speed ratios, and per depth the past from which the histograms' median is faster at every
// longer past, in tokens per stage read, against the threshold attention.ts uses (HISTOGRAM_TOKENS_PER_STAGE).
// Needs a quiet machine: under load the calls vary several-fold.
import { parseArgs } from 'node:util';
import { createRng, float32ToFloat16Bits, rvqCodeBytesPerToken } from '../../quant/index.js';
import { HISTOGRAM_TOKENS_PER_STAGE, RopeTables, Scratch, attendLayer } from '../../main/engine/fused/attention.js';
import type { KernelSegment } from '../../main/engine/fused/attention.js';
import { FusedKernel } from '../../main/engine/fused/kernel.js';
import { KernelRvqCodec, headCallOrder } from '../../main/engine/fused/kernel-codec.js';
import { percentile } from '../../main/engine/timing.js';
import { smolLm2Geometry } from '../support/geometries.js';
import { randomCodebooks, smolLm2RvqSpec } from './engine-speed.js';

const { values: args } = parseArgs({
  options: {
    past: { type: 'string', default: '1024,2048,3072,4096,6144,8192' },
    depths: { type: 'string', default: '8,4' },
    reps: { type: 'string', default: '15' },
    threads: { type: 'string', default: '1' },
  },
});
const pasts = args.past.split(',').map(Number);
const depths = args.depths.split(',').map(Number);
const reps = Number(args.reps);
const spec = smolLm2RvqSpec;
const config = { ...smolLm2Geometry, maxPositions: Math.max(...pasts) + 2 };
const { numHeads: H, numKvHeads: KVH, headDim: d } = config;
const ways = { rows: Infinity, histograms: 0 } as const;

async function main(): Promise<void> {
  const rng = createRng(5);
  const kernel = new FusedKernel(undefined, { threads: args.threads === '2' ? 2 : 1 });
  for (let waited = 0; args.threads === '2' && kernel.threads !== 2; waited += 10) {
    if (waited > 10_000) throw new Error('the helper thread did not start');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const [books] = randomCodebooks(1, spec, rng).layers;
  const codec = { key: new KernelRvqCodec(kernel, spec, books.key), value: new KernelRvqCodec(kernel, spec, books.value) };
  const scratch = new Scratch(kernel);
  const rope = new RopeTables(kernel, config, headCallOrder(spec)!);
  const q = Float32Array.from({ length: H * d }, () => rng.normal());
  const freshAt = kernel.alloc(4 * KVH * d);
  kernel.f32(freshAt, KVH * d).set(Float32Array.from({ length: KVH * d }, () => rng.normal()));
  const fresh: KernelSegment = { type: 'f32', tokens: 1, data: freshAt };
  console.log(`value histograms vs rows: one layer, one query, SmolLM2-135M geometry (${H} q / ${KVH} KV heads x ${d}), C ${spec.codebookSize}, groups of ${spec.groupSize}, ${kernel.threads} thread(s); ${reps} calls each way, alternating; ms per call`);
  console.log(`${'past'.padEnd(6)} ${'depth'.padEnd(6)} ${'rows min / median'.padEnd(20)} ${'histograms min / median'.padEnd(24)} speed (min, median)`);
  for (const depth of depths) {
    // the smallest past from which the histograms' median call is faster at every longer past
    let evenAt: number | null = null;
    for (const past of [...pasts].sort((a, b) => a - b)) {
      const stride = rvqCodeBytesPerToken(spec, depth);
      const lane = { records: kernel.alloc(past * stride), scales: kernel.alloc(2 * past * KVH), depths: kernel.alloc(past) };
      kernel.u8(lane.records, past * stride).forEach((_, i, bytes) => (bytes[i] = rng.int(256)));
      kernel.u16(lane.scales, past * KVH).forEach((_, i, scales) => (scales[i] = float32ToFloat16Bits(0.5 + rng.next())));
      kernel.u8(lane.depths, past).fill(depth);
      const coded = (kind: 'key' | 'value'): KernelSegment => ({ type: 'coded', tokens: past, stride, ...lane, scaleCount: KVH, depth, books: codec[kind].booksAt, codebookSize: spec.codebookSize, groupSize: spec.groupSize, bits: codec[kind].bits });
      const segments = [{ key: coded('key'), value: coded('value') }, { key: fresh, value: fresh }];
      const times = { rows: [] as number[], histograms: [] as number[] };
      for (let rep = 0; rep <= reps; rep++) {
        for (const way of ['rows', 'histograms'] as const) {
          const t0 = performance.now();
          attendLayer(kernel, scratch, config, rope, q, past, segments, { histogramTokensPerStage: ways[way] });
          // the first call of each way warms up
          if (rep > 0) times[way].push(performance.now() - t0);
        }
      }
      const [rows, histograms] = [times.rows, times.histograms].map((t) => ({ min: Math.min(...t), median: percentile(t, 50) }));
      if (histograms.median >= rows.median) evenAt = null;
      else evenAt ??= past;
      const pair = (t: { min: number; median: number }) => `${t.min.toFixed(3)} / ${t.median.toFixed(3)}`;
      console.log(`${String(past).padEnd(6)} ${String(depth).padEnd(6)} ${pair(rows).padEnd(20)} ${pair(histograms).padEnd(24)} ${(rows.min / histograms.min).toFixed(2)}x, ${(rows.median / histograms.median).toFixed(2)}x`);
      for (const at of Object.values(lane)) kernel.release(at);
    }
    const even = evenAt === null ? `not faster at ${Math.max(...pasts)} tokens` : `faster from ${evenAt} tokens on = ${Math.round(evenAt / depth)} per stage`;
    console.log(`depth ${depth}: histograms ${even}; attention.ts switches at ${HISTOGRAM_TOKENS_PER_STAGE} per stage = ${HISTOGRAM_TOKENS_PER_STAGE * depth} tokens`);
  }
  kernel.close();
}

await main();
