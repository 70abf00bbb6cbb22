// npm run bench:kernel [-- --past 128,2048 --rounds 5 --baseline GIT-REF|FILE.wasm --threads 1,2 --search screened,clustered --values auto,rows,histogram]
// The fused attention kernel alone, A/B: the committed attend.wasm (on 1 and on 2 threads) against the one at GIT-REF (by default
// the kernel before issue 15's kernel work) or in FILE.wasm, on the same inputs, in interleaved rounds so that a shared
// CPU's slow spells fall on both. SmolLM2-135M geometry (30 layers, 9 q heads / 3 KV heads x 64), RVQ
// groups of 32 inside the head (strided), C 2048, an fp16 scale per head, random codebooks per layer and
// kind, random codes. Per decoded token (all layers): the new token's greedy encode (K and V) at depth
// 8 and 4, and one query's attention over the coded past at depth 8 and 4 (plus the new token, f32).
// --values: how the committed build sums the coded values, one variant per thread count and choice:
// auto (per segment by attention.ts's HISTOGRAM_TOKENS_PER_STAGE x depth), rows (always rebuilt), histogram (always).
// Prints ms per token (median and range of the rounds) and the speedup per round (median, range), and
// checks that both builds agree: identical codes, attention outputs within float tolerance.
// The committed builds also encode with the other searches (--search, RESKV_ENCODE_SEARCH's syntax;
// "encode dN <search>" rows, where the baseline runs its exact encode), with the share of codes equal
// to the exact encode's (screened: all; clustered: random books and rows, no quality figure, see
// bench:encode-quality) and, per build, exact / that search's encode time per round.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createRng, float32ToFloat16Bits, rvqCodeBytesPerToken } from '../../quant/index.js';
import type { Rng } from '../../quant/index.js';
import { RopeTables, Scratch, attendLayer } from '../../main/engine/fused/attention.js';
import type { AttendOptions, KernelSegment } from '../../main/engine/fused/attention.js';
import { FusedKernel } from '../../main/engine/fused/kernel.js';
import { EXACT_SEARCH, KernelRvqCodec, encodeSearchFromEnv, headCallOrder } from '../../main/engine/fused/kernel-codec.js';
import type { EncodeSearch } from '../../main/engine/fused/kernel-codec.js';
import { percentile } from '../../main/engine/timing.js';
import { smolLm2Geometry } from '../support/geometries.js';
import { randomCodebooks, smolLm2RvqSpec } from './engine-speed.js';

/** The last commit before issue 15's kernel work. */
const BEFORE_KERNEL_WORK = '9148c20feccd0ecb27c93f0a6df852546df4ae66';

const { values: args } = parseArgs({
  options: {
    past: { type: 'string', default: '128,2048' },
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '3' },
    baseline: { type: 'string', default: BEFORE_KERNEL_WORK },
    threads: { type: 'string', default: '1,2' },
    search: { type: 'string', default: 'screened,clustered' },
    values: { type: 'string', default: 'auto' },
  },
});
const pasts = args.past.split(',').map(Number);
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const threadCounts = args.threads.split(',').map((t) => (Number(t) === 2 ? 2 : 1));
const searches = args.search.split(',').filter((name) => encodeSearchFromEnv(EXACT_SEARCH, name).kind !== 'exact');
const valueModes = args.values.split(',');
const histogramTokensPerStage: Record<string, number | undefined> = { auto: undefined, rows: Infinity, histogram: 0 };
for (const mode of valueModes) if (!(mode in histogramTokensPerStage)) throw new Error(`--values: auto, rows or histogram, got ${JSON.stringify(mode)}`);
const config = { ...smolLm2Geometry, maxPositions: Math.max(...pasts) + 2 };
const spec = smolLm2RvqSpec;
const { numLayers: L, numHeads: H, numKvHeads: KVH, headDim: d } = config;
const W = KVH * d;
const depths = [8, 4] as const;
const kinds = ['key', 'value'] as const;

/** One kernel build with every layer's codebooks, coded pasts and scratch. */
class Variant {
  readonly kernel: FusedKernel;
  readonly codecs: { key: KernelRvqCodec; value: KernelRvqCodec }[];
  /** The same books with each other search (the committed builds only), and ms to set each up for every layer. */
  readonly searchCodecs = new Map<string, { codecs: { key: KernelRvqCodec; value: KernelRvqCodec }[]; ms: number }>();
  private readonly scratch: Scratch;
  private readonly rope: RopeTables;
  private readonly lanes = new Map<string, { records: number; scales: number; depths: number; stride: number }>();

  constructor(
    readonly name: string,
    bytes: Uint8Array | undefined,
    threads: 1 | 2,
    books: ReturnType<typeof randomCodebooks>,
    private readonly options: AttendOptions = {},
  ) {
    this.kernel = new FusedKernel(bytes, { threads });
    const codecs = (chosen: EncodeSearch) => books.layers.map((layer) => ({ key: new KernelRvqCodec(this.kernel, spec, layer.key, chosen), value: new KernelRvqCodec(this.kernel, spec, layer.value, chosen) }));
    this.codecs = codecs(EXACT_SEARCH);
    for (const name of bytes === undefined ? searches : []) {
      const t0 = performance.now();
      this.searchCodecs.set(name, { codecs: codecs(encodeSearchFromEnv(EXACT_SEARCH, name)), ms: performance.now() - t0 });
    }
    this.scratch = new Scratch(this.kernel);
    const order = headCallOrder(spec);
    if (!order) throw new Error('the bench spec has no call order');
    this.rope = new RopeTables(this.kernel, config, order);
  }

  /** Puts the same random past (records at `depth`, scales, depths) into this kernel's memory. */
  fill(past: number, depth: number, records: Uint8Array, scales: Uint16Array): void {
    const key = `${past}:${depth}`;
    if (this.lanes.has(key)) return;
    const { kernel } = this;
    const lane = { records: kernel.alloc(records.length), scales: kernel.alloc(2 * scales.length), depths: kernel.alloc(past), stride: records.length / past };
    kernel.u8(lane.records, records.length).set(records);
    kernel.u16(lane.scales, scales.length).set(scales);
    kernel.u8(lane.depths, past).fill(depth);
    this.lanes.set(key, lane);
  }

  /** Every layer's K and V encode of one token row each; returns the codes (for the agreement check). */
  encodeStep(rows: Float32Array[], depth: number, search?: string): Uint32Array[] {
    const codecs = (search && this.searchCodecs.get(search)?.codecs) || this.codecs;
    const codes: Uint32Array[] = [];
    for (let i = 0; i < L; i++) for (const [k, kind] of kinds.entries()) codes.push(codecs[i][kind].encode(rows[2 * i + k], depth).codes);
    return codes;
  }

  /** Every layer's attention of one query over `past` coded tokens and the new one; returns the last layer's output. */
  attendStep(past: number, depth: number, q: Float32Array, fresh: Float32Array): Float32Array {
    const lane = this.lanes.get(`${past}:${depth}`);
    if (!lane) throw new Error(`no past of ${past} at depth ${depth}`);
    const freshAt = this.scratch.block('fresh', 4 * W);
    this.kernel.f32(freshAt, W).set(fresh);
    let out: Float32Array | undefined;
    for (let i = 0; i < L; i++) {
      const coded = (kind: (typeof kinds)[number]): KernelSegment => ({
        type: 'coded',
        tokens: past,
        ...lane,
        scaleCount: KVH,
        depth,
        books: this.codecs[i][kind].booksAt,
        codebookSize: spec.codebookSize,
        groupSize: spec.groupSize,
        bits: this.codecs[i][kind].bits,
      });
      const freshSegment: KernelSegment = { type: 'f32', tokens: 1, data: freshAt };
      out = attendLayer(this.kernel, this.scratch, config, this.rope, q, past, [
        { key: coded('key'), value: coded('value') },
        { key: freshSegment, value: freshSegment },
      ], this.options);
    }
    return out?.slice() ?? new Float32Array(0);
  }
}

function timeSteps(run: () => void): number {
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  return percentile(times, 50);
}

function randomPast(past: number, depth: number, rng: Rng): { records: Uint8Array; scales: Uint16Array } {
  const records = Uint8Array.from({ length: past * rvqCodeBytesPerToken(spec, depth) }, () => rng.int(256));
  const scales = Uint16Array.from({ length: past * KVH }, () => float32ToFloat16Bits(0.5 + rng.next()));
  return { records, scales };
}

const range = (xs: number[], digits: number) => `${percentile(xs, 50).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}]`;

async function main(): Promise<void> {
  const rng = createRng(3);
  const baselineBytes = new Uint8Array(
    args.baseline.endsWith('.wasm') ? readFileSync(args.baseline) : execFileSync('git', ['show', `${args.baseline}:main/engine/fused/kernel/attend.wasm`], { maxBuffer: 1 << 24 }),
  );
  const books = randomCodebooks(L, spec, rng);
  const variants = [
    new Variant(`baseline ${args.baseline.endsWith('.wasm') ? args.baseline : args.baseline.slice(0, 9)}`, baselineBytes, 1, books),
    ...threadCounts.flatMap((threads) =>
      valueModes.map((mode) => new Variant(`committed, ${threads} thread${threads > 1 ? 's' : ''}${mode === 'auto' ? '' : `, ${mode}`}`, undefined, threads, books, { histogramTokensPerStage: histogramTokensPerStage[mode] })),
    ),
  ];
  // the helper threads start asynchronously
  for (const [i, v] of variants.entries()) {
    const want = i === 0 ? 1 : threadCounts[Math.floor((i - 1) / valueModes.length)];
    for (let waited = 0; v.kernel.threads !== want; waited += 10) {
      if (waited > 10_000) throw new Error(`${v.name}: the helper thread did not start`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  console.log(`kernel A/B: ${variants.map((v) => v.name).join(' vs ')}; SmolLM2-135M geometry (${L} layers, ${H} q / ${KVH} KV heads x ${d}), C ${spec.codebookSize}, groups of ${spec.groupSize}; ${rounds} rounds x ${steps} steps, ms per decoded token (all layers), median [range]`);
  const rows = Array.from({ length: 2 * L }, () => Float32Array.from({ length: W }, () => rng.normal()));
  const q = Float32Array.from({ length: H * d }, () => rng.normal());
  const fresh = Float32Array.from({ length: W }, () => rng.normal());
  const cases: { name: string; run: (v: Variant) => Uint32Array[] | Float32Array }[] = [];
  for (const depth of depths) cases.push({ name: `encode d${depth}`, run: (v) => v.encodeStep(rows, depth) });
  for (const name of searches) {
    console.log(`encode search ${name}: setting up every layer's ${2 * L} codecs took ${variants.slice(1).map((v) => `${v.searchCodecs.get(name)!.ms.toFixed(0)} ms`).join(', ')} (exact: the codecs alone)`);
    for (const depth of depths) cases.push({ name: `encode d${depth} ${name}`, run: (v) => v.encodeStep(rows, depth, name) });
  }
  for (const past of pasts) {
    for (const depth of depths) {
      const { records, scales } = randomPast(past, depth, rng);
      for (const v of variants) v.fill(past, depth, records, scales);
      cases.push({ name: `attend ${past} d${depth}`, run: (v) => v.attendStep(past, depth, q, fresh) });
    }
  }
  // agreement with the baseline first (also warms every build up)
  for (const c of cases) {
    const [a, ...others] = variants.map((v) => c.run(v));
    const lines = others.map((b, i) => {
      const name = variants[i + 1].name;
      if (Array.isArray(a) && Array.isArray(b)) {
        const agree = a.reduce((n, codes, k) => n + codes.filter((x, j) => x === b[k][j]).length, 0);
        return `${name}: codes agree ${agree}/${a.reduce((n, codes) => n + codes.length, 0)}`;
      }
      const [x, y] = [a as Float32Array, b as Float32Array];
      let worst = 0;
      for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j] - y[j]));
      return `${name}: outputs differ by at most ${worst.toExponential(2)} (largest |output| ${Math.max(...Array.from(x, Math.abs)).toFixed(3)})`;
    });
    console.log(`${c.name}: ${lines.join('; ')}`);
  }
  const times = cases.map(() => variants.map(() => [] as number[]));
  for (let round = 0; round < rounds; round++) {
    cases.forEach((c, k) => {
      // a different build goes first each round
      for (let i = 0; i < variants.length; i++) {
        const at = (i + round) % variants.length;
        times[k][at].push(timeSteps(() => c.run(variants[at])));
      }
    });
  }
  const columns = variants.map((v) => v.name.padEnd(26)).join(' ');
  console.log(`${'case'.padEnd(16)} ${columns} ${variants.slice(1).map((v) => `speedup (${v.name})`.padEnd(30)).join(' ')}`);
  cases.forEach((c, k) => {
    const [a, ...others] = times[k];
    const speedups = others.map((b) => range(a.map((t, r) => t / b[r]), 2) + 'x');
    console.log(`${c.name.padEnd(16)} ${times[k].map((t) => range(t, 2).padEnd(26)).join(' ')} ${speedups.map((x) => x.padEnd(30)).join(' ')}`);
  });
  for (const name of searches) {
    for (const depth of depths) {
      const [exact, other] = [`encode d${depth}`, `encode d${depth} ${name}`].map((c) => times[cases.findIndex((x) => x.name === c)]);
      const ratios = variants.slice(1).map((v, i) => `${v.name} ${range(exact[i + 1].map((t, r) => t / other[i + 1][r]), 2)}x`);
      console.log(`exact / ${name} encode time at d${depth}, per round: ${ratios.join('; ')}`);
    }
  }
  for (const v of variants) v.kernel.close();
}

await main();
