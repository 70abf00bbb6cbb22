// Engine decode speed and cache bytes on the CPU, on a random model of a published geometry (SmolLM2-135M
// by default, or Llama-3.2-1B / Llama-3.1-8B; issues 5, 14 and 15; GPU providers: engine-speed-gpu.ts):
// the CPU path's fp16 cache (fused: split graph + attention kernel over fp16 rows appended in place)
// against RVQ depth 8 and depth 4 on the same path (the kernel attends the codes; groups of 32 inside
// the head, C 2048, per-head fp16 scales; random codebooks), and the fp16 cache on the graph path
// (the whole step as one ONNX graph; left out when its weights exceed what one in-memory ONNX model
// holds, 2 GB, e.g. the 8B) as before, at several context lengths, through the engine's
// stores, decoders and generation loop. The past is filled with random values / random codes (decode
// speed does not depend on them), then `steps` tokens are decoded greedily. Each context is measured
// in `rounds` rounds, the four caches interleaved, so that a shared CPU's slow spells fall on all of
// them; speed ratios (p50 latencies) are taken per round.
import { createRng, parseRvqSpec, rvqBytesPerToken, rvqCodeBytesPerToken, rvqCodebookBytes, scalesPerToken } from '../../quant/index.js';
import type { CodebookSet, Rng, RvqSpec } from '../../quant/index.js';
import { describeDecode, measureDecode, speedVsFp16 } from '../../main/engine/decode-measure.js';
import type { DecodeMeasurement } from '../../main/engine/decode-measure.js';
import { FpGraphDecoder } from '../../main/engine/fp-graph-decoder.js';
import { FusedDecoder, fusedCodebooks } from '../../main/engine/fused/fused-decoder.js';
import { FusedKernel } from '../../main/engine/fused/kernel.js';
import { KernelFp16KvStore } from '../../main/engine/fused/kernel-fp16-store.js';
import { kernelStorage } from '../../main/engine/fused/kernel-storage.js';
import { buildSplitSegment, openSplitSessions } from '../../main/engine/fused/split-graph.js';
import { Fp16KvStore } from '../../main/engine/fp16-kv-store.js';
import type { DecoderStep } from '../../main/engine/generate.js';
import type { BlockStorage } from '../../main/engine/growable.js';
import { KvCodeStore } from '../../main/engine/kv-code-store.js';
import { KV_KINDS } from '../../main/engine/kv-store.js';
import type { KvStore } from '../../main/engine/kv-store.js';
import { percentile } from '../../main/engine/timing.js';
import { createSession } from '../../main/engine/session.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import type { ModelConfig } from '../../main/model/config.js';
import type { WeightType } from '../../main/model/weights.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { weightBytes } from '../../main/model/weights.js';
import { llama31EightBGeometry, llama32OneBGeometry, smolLm2Geometry } from '../support/geometries.js';

export const geometries = {
  'smollm2-135m': { name: 'SmolLM2-135M', config: smolLm2Geometry },
  'llama-3.2-1b': { name: 'Llama-3.2-1B', config: llama32OneBGeometry },
  'llama-3.1-8b': { name: 'Llama-3.1-8B', config: llama31EightBGeometry },
} as const;
export type GeometryName = keyof typeof geometries;

/** Groups of 32 inside the head (strided), C 2048 (or `codebookSize`), depth 8, an fp16 scale per head. */
export const rvqSpecFor = (c: ModelConfig, codebookSize = 2048) =>
  parseRvqSpec({ headDim: c.headDim, numKvHeads: c.numKvHeads, groupSize: 32, codebookSize, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });

export const smolLm2RvqSpec = rvqSpecFor(smolLm2Geometry);

export interface EngineSpeedOptions {
  geometry?: GeometryName;
  weightType?: WeightType;
}

/** A published geometry whose positions reach past + steps (random weights: RoPE takes any position). */
export function benchConfig(name: GeometryName, pasts: readonly number[], steps: number): ModelConfig {
  const { config } = geometries[name];
  return { ...config, maxPositions: Math.max(config.maxPositions, ...pasts.map((p) => p + steps + 2)) };
}

/** Random codebooks of `spec` for every layer, K and V (decode speed does not depend on their values). */
export function randomCodebooks(numLayers: number, spec: RvqSpec, rng: Rng): CodebookSet {
  const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, () => rng.normal());
  return { keySpec: spec, valueSpec: spec, layers: Array.from({ length: numLayers }, () => ({ key: book(), value: book() })) };
}

/**
 * Appends `tokens` random past tokens to every layer's keys and values of `store`: random values in an
 * fp16 store, random codes (one draw shared by the layers) with unit scales in an RVQ store.
 */
export function appendRandomPast(store: KvStore, tokens: number, rng: Rng): KvStore {
  const { numLayers, numKvHeads, headDim } = store.geometry;
  if (store instanceof KvCodeStore) {
    for (const [kind, spec] of [['key', store.options.keySpec], ['value', store.options.valueSpec]] as const) {
      const records = Uint8Array.from({ length: tokens * rvqCodeBytesPerToken(spec) }, () => rng.int(256));
      const scales = new Uint16Array(tokens * scalesPerToken(spec)).fill(0x3c00);
      // with graph codes and no recent window the rows are only checked for shape; the records are stored
      const rows = { data: new Float32Array(tokens * numKvHeads * headDim), tokens, start: 0, count: tokens };
      for (let i = 0; i < numLayers; i++) store.append(i, kind, rows, { records, depth: spec.depth, scales });
    }
    return store;
  }
  for (let i = 0; i < numLayers; i++) {
    for (const kind of KV_KINDS) store.append(i, kind, { data: Float32Array.from({ length: tokens * numKvHeads * headDim }, () => rng.normal()), tokens, start: 0, count: tokens });
  }
  return store;
}

/** An RVQ store of `spec` at `depth` holding `past` random tokens in every layer (see appendRandomPast), on the heap or in `storage`. */
export function randomRvqStore(numLayers: number, spec: RvqSpec, depth: number, past: number, rng: Rng, storage?: BlockStorage): KvStore {
  const store = new KvCodeStore({ numLayers, keySpec: spec, valueSpec: spec, storage });
  store.setDepth(depth);
  return appendRandomPast(store, past, rng);
}

export interface SpeedAtContext {
  context: number;
  /** The last round's measurements (bytes do not change between rounds): fp16 and rvq on the fused CPU path. */
  fp16: DecodeMeasurement;
  /** fp16 on the graph path, the baseline before the fused path (null when the model is too big for one graph). */
  fp16Graph: DecodeMeasurement | null;
  /** Fused fp16 speed as a multiple of the graph path's, per round and median (null without the graph path). */
  fp16Speedup: { rounds: number[]; median: number } | null;
  /** p50 latencies (ms) per round: fused fp16, rvq d8, rvq d4, graph fp16. */
  latencies: Record<'fp16' | 'rvq8' | 'rvq4' | 'fp16Graph', number[]>;
  rvq: Record<8 | 4, DecodeMeasurement>;
  /** RVQ speed as a fraction of fp16's in each round, and their median (nearest rank). */
  speedRatios: Record<8 | 4, { rounds: number[]; median: number }>;
  /** What the paper's formula gives for the RVQ store's codes + scales at depth d (every layer, K and V). */
  formulaBytes: Record<8 | 4, number>;
}

/** Runs the measurement, printing a line per cache; returns the figures. */
export async function runEngineSpeed(pasts: readonly number[], steps: number, rounds: number, log: (line: string) => void = console.log, options: EngineSpeedOptions = {}): Promise<SpeedAtContext[]> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a whole number of at least 1, got ${rounds}`);
  const weightType = options.weightType ?? 'float32';
  const geometryName = options.geometry ?? 'smollm2-135m';
  const c = benchConfig(geometryName, pasts, steps);
  const spec = rvqSpecFor(c);
  const rng = createRng(1);
  const set = randomCodebooks(c.numLayers, spec, rng);
  const weights = new RandomWeights(c, 1);
  const geometry = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim };

  const started = performance.now();
  // one in-memory ONNX model holds at most 2 GB (protobuf); the fused path's segments are one layer each
  const wholeGraph = weightBytes(c, weightType).onDisk < 1.5 * 2 ** 30;
  const fpSession = wholeGraph ? await createSession(buildDecoderGraph(c, weights, { cacheType: 'float16', weightType }), { providers: ['cpu'] }) : null;
  // segments built and opened one at a time, so only one segment's serialized bytes are held beside the sessions
  const splitSessions: Awaited<ReturnType<typeof openSplitSessions>> = [];
  for (let i = 0; i <= c.numLayers; i++) splitSessions.push(...(await openSplitSessions([buildSplitSegment(c, weights, i, { weightType })])));
  log(`built and loaded in ${((performance.now() - started) / 1000).toFixed(0)} s; resident ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`);
  const kernel = new FusedKernel();
  const fpGraph = fpSession && (new FpGraphDecoder(fpSession.session, c) as DecoderStep<KvStore>);
  const fused = new FusedDecoder(splitSessions, c, kernel, fusedCodebooks(kernel, set));
  log(`provider cpu; ${geometries[geometryName].name} geometry (${c.numLayers} layers, ${c.numKvHeads} KV heads x ${c.headDim}), random ${weightType} weights; rvq groups of 32 inside the head (strided), C 2048, fp16 scale per head`);
  log(`fused: weights in ONNX Runtime (${c.numLayers + 1} segment sessions, default threads sleeping between runs), attention in the WebAssembly SIMD kernel (${kernel.threads} thread${kernel.threads === 1 ? '' : 's'}); graph: ${fpGraph ? 'one ONNX graph per step (default threads)' : 'left out (the weights exceed one in-memory ONNX model)'}`);
  log(`codebooks (float32, all layers, K and V): ${((2 * c.numLayers * rvqCodebookBytes(spec)) / 2 ** 20).toFixed(1)} MiB for depth 8 (depth 4 reads the first half: ${((2 * c.numLayers * rvqCodebookBytes(spec, 4)) / 2 ** 20).toFixed(1)} MiB)`);

  const filledFp16 = (past: number, store: KvStore) => appendRandomPast(store, past, rng);
  // in kernel memory, as the fused runtime's stores are
  const filledRvq = (past: number, depth: number) => randomRvqStore(c.numLayers, spec, depth, past, rng, kernelStorage(kernel));

  const results: SpeedAtContext[] = [];
  try {
    for (const past of pasts) {
      const ratios: Record<8 | 4, number[]> = { 8: [], 4: [] };
      const speedups: number[] = [];
      const latencies: SpeedAtContext['latencies'] = { fp16: [], rvq8: [], rvq4: [], fp16Graph: [] };
      let last: Pick<SpeedAtContext, 'fp16' | 'rvq' | 'fp16Graph'> | undefined;
      for (let round = 1; round <= rounds; round++) {
        log(`context ${past} (+${steps} decoded), round ${round} of ${rounds}:`);
        const fp16 = await measureDecode('fp16 fused', fused, filledFp16(past, new KernelFp16KvStore(kernel, geometry)), steps, 42);
        log(describeDecode(fp16));
        const at = async (depth: 8 | 4) => {
          const m = await measureDecode(`rvq d${depth} fused`, fused, filledRvq(past, depth), steps, 42);
          log(describeDecode(m, fp16));
          ratios[depth].push(speedVsFp16(m, fp16));
          return m;
        };
        const rvq = { 8: await at(8), 4: await at(4) };
        const fp16Graph = fpGraph && (await measureDecode('fp16 graph', fpGraph, filledFp16(past, new Fp16KvStore(geometry)), steps, 42));
        if (fp16Graph) {
          log(describeDecode(fp16Graph, fp16));
          speedups.push(speedVsFp16(fp16, fp16Graph));
          latencies.fp16Graph.push(fp16Graph.latencyP50Ms);
        }
        latencies.fp16.push(fp16.latencyP50Ms);
        latencies.rvq8.push(rvq[8].latencyP50Ms);
        latencies.rvq4.push(rvq[4].latencyP50Ms);
        last = { fp16, rvq, fp16Graph };
      }
      const { fp16, fp16Graph, rvq: { 8: rvq8, 4: rvq4 } } = last!;
      const speedRatios = { 8: { rounds: ratios[8], median: percentile(ratios[8], 50) }, 4: { rounds: ratios[4], median: percentile(ratios[4], 50) } };
      for (const depth of [8, 4] as const) {
        log(`  rvq depth ${depth} speed vs fused fp16 at ${past}, per round: ${ratios[depth].map((r) => r.toFixed(2)).join(', ')}; median ${speedRatios[depth].median.toFixed(2)}x`);
      }
      const formula = (depth: number) => rvq8.bytes.tokens * 2 * c.numLayers * rvqBytesPerToken(spec, depth);
      const fp16Speedup = fp16Graph ? { rounds: speedups, median: percentile(speedups, 50) } : null;
      results.push({ context: past, fp16, fp16Graph, fp16Speedup, latencies, rvq: { 8: rvq8, 4: rvq4 }, speedRatios, formulaBytes: { 8: formula(8), 4: formula(4) } });
    }
  } finally {
    kernel.close();
    await fpSession?.session.release();
    await Promise.all(splitSessions.map((session) => session.release()));
  }
  return results;
}

const spread = (values: number[]) => (values.length === 0 ? '-' : `${percentile(values, 50).toFixed(1)} (${Math.min(...values).toFixed(1)}-${Math.max(...values).toFixed(1)})`);

/** The issue 15 speed targets as MET/MISSED lines, with the per-context medians and spreads. */
export function speedTargetLines(results: readonly SpeedAtContext[], verdict: (met: boolean) => string): string[] {
  const lines = ['| context | fused fp16 p50 ms | rvq d8 p50 ms | rvq d4 p50 ms | graph fp16 p50 ms | d8 vs fp16 | d4 vs fp16 | fused vs graph fp16 |', '|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    const l = r.latencies;
    lines.push(`| ${r.context} | ${spread(l.fp16)} | ${spread(l.rvq8)} | ${spread(l.rvq4)} | ${spread(l.fp16Graph)} | ${r.speedRatios[8].median.toFixed(2)}x | ${r.speedRatios[4].median.toFixed(2)}x | ${r.fp16Speedup ? `${r.fp16Speedup.median.toFixed(2)}x` : '-'} |`);
  }
  lines.push('(medians of the per-round p50 latencies, min-max over rounds in brackets; ratios: median of per-round ratios)');
  const at = (context: number) => results.find((r) => r.context === context);
  for (const [context, target] of [[2048, 0.8], [8192, 1.0]] as const) {
    const r = at(context);
    if (!r) continue;
    // against the faster of ResKV's two fp16 paths (the issue's "best fp16"), from the median latencies
    const fused = percentile(r.latencies.fp16, 50);
    const best = r.latencies.fp16Graph.length > 0 ? Math.min(fused, percentile(r.latencies.fp16Graph, 50)) : fused;
    const ratio = best / percentile(r.latencies.rvq8, 50);
    lines.push(`RVQ d8 >= ${target.toFixed(1)}x fused fp16 at ${context}: ${r.speedRatios[8].median.toFixed(2)}x — ${verdict(r.speedRatios[8].median >= target)}`);
    lines.push(`RVQ d8 >= ${target.toFixed(1)}x best ResKV fp16 (faster of graph and fused) at ${context}: ${ratio.toFixed(2)}x — ${verdict(ratio >= target)}`);
  }
  for (const r of results) {
    const d8 = percentile(r.latencies.rvq8, 50);
    const d4 = percentile(r.latencies.rvq4, 50);
    lines.push(`RVQ d4 faster than d8 at ${r.context}: ${d4.toFixed(1)} vs ${d8.toFixed(1)} ms — ${verdict(d4 < d8)}`);
  }
  for (const r of results) {
    if (r.fp16Speedup) lines.push(`fp16 before (graph) -> after (fused) at ${r.context}: ${percentile(r.latencies.fp16Graph, 50).toFixed(1)} -> ${percentile(r.latencies.fp16, 50).toFixed(1)} ms p50, ${r.fp16Speedup.median.toFixed(2)}x`);
  }
  return lines;
}
