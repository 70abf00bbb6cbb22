// Engine decode speed and cache bytes on a random model of a published geometry (SmolLM2-135M by
// default, or Llama-3.2-1B) on a named execution provider (CPU by default, or WebGPU / CUDA): the fp16
// cache (fp graph) against RVQ depth 8 and depth 4 (rvq graph; groups of
// 32 inside the head, C 2048, per-head fp16 scales; random codebooks), at several context lengths,
// through the engine's stores, decoders and generation loop. The past is filled with random values /
// random codes (decode speed does not depend on them), then `steps` tokens are decoded greedily.
// Each context is measured in `rounds` rounds, fp16 and RVQ interleaved, so that a shared CPU's slow
// spells fall on all three caches; the speed ratio (speedVsFp16: p50 latencies) is taken per round.
import { spawnSync } from 'node:child_process';
import { createRng, parseRvqSpec, rvqBytesPerToken, rvqCodeBytesPerToken, rvqCodebookBytes, scalesPerToken } from '../../quant/index.js';
import type { CodebookSet } from '../../quant/index.js';
import { describeDecode, measureDecode, speedVsFp16 } from '../../main/engine/decode-measure.js';
import type { DecodeMeasurement } from '../../main/engine/decode-measure.js';
import { FpGraphDecoder } from '../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../main/engine/fp16-kv-store.js';
import type { DecoderStep } from '../../main/engine/generate.js';
import { KvCodeStore } from '../../main/engine/kv-code-store.js';
import { KV_KINDS } from '../../main/engine/kv-store.js';
import type { KvStore } from '../../main/engine/kv-store.js';
import { RvqGraphDecoder } from '../../main/engine/rvq-graph-decoder.js';
import { percentile } from '../../main/engine/timing.js';
import { createSession } from '../../main/engine/session.js';
import type { ExecutionProvider } from '../../main/engine/session.js';
import type { ModelConfig } from '../../main/model/config.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../main/onnx/rvq-cache.js';
import { llama32OneBGeometry, smolLm2Geometry } from '../support/geometries.js';

export const geometries = { 'smollm2-135m': { name: 'SmolLM2-135M', config: smolLm2Geometry }, 'llama-3.2-1b': { name: 'Llama-3.2-1B', config: llama32OneBGeometry } } as const;
export type GeometryName = keyof typeof geometries;

/** Groups of 32 inside the head (strided), C 2048, depth 8, an fp16 scale per head. */
export const rvqSpecFor = (c: ModelConfig) =>
  parseRvqSpec({ headDim: c.headDim, numKvHeads: c.numKvHeads, groupSize: 32, codebookSize: 2048, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });

export const smolLm2RvqSpec = rvqSpecFor(smolLm2Geometry);

export interface EngineSpeedOptions {
  geometry?: GeometryName;
  /** The provider to run on (the benchmark names it, so figures do not depend on the machine). */
  provider?: ExecutionProvider;
}

export interface SpeedAtContext {
  context: number;
  /** The last round's measurements (bytes do not change between rounds). */
  fp16: DecodeMeasurement;
  rvq: Record<8 | 4, DecodeMeasurement>;
  /** RVQ speed as a fraction of fp16's in each round, and their median (nearest rank). */
  speedRatios: Record<8 | 4, { rounds: number[]; median: number }>;
  /** What the paper's formula gives for the RVQ store's codes + scales at depth d (every layer, K and V). */
  formulaBytes: Record<8 | 4, number>;
}

/**
 * The GPU a GPU provider runs on, as far as this machine tells (onnxruntime-node does not report
 * its WebGPU adapter): SwiftShader when Vulkan is pointed at it, else nvidia-smi's name where present.
 */
function deviceName(): string {
  if ((process.env.VK_ICD_FILENAMES ?? '').includes('swiftshader')) return 'SwiftShader (software Vulkan on the CPU; not a GPU speed)';
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { encoding: 'utf8' });
  return smi.status === 0 && smi.stdout.trim() ? smi.stdout.trim().split('\n').join(', ') : 'an adapter onnxruntime-node does not name';
}

/** Runs the measurement, printing a line per cache; returns the figures. */
export async function runEngineSpeed(pasts: readonly number[], steps: number, rounds: number, log: (line: string) => void = console.log, options: EngineSpeedOptions = {}): Promise<SpeedAtContext[]> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a whole number of at least 1, got ${rounds}`);
  const geometry = geometries[options.geometry ?? 'smollm2-135m'];
  const provider = options.provider ?? 'cpu';
  // positions beyond the model's own are allowed for speed only (random weights, no text is judged)
  const c: ModelConfig = { ...geometry.config, maxPositions: Math.max(geometry.config.maxPositions, Math.max(...pasts) + steps + 2) };
  const spec = rvqSpecFor(c);
  const rng = createRng(1);
  const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, () => rng.normal());
  const set: CodebookSet = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: c.numLayers }, () => ({ key: book(), value: book() })) };
  const weights = new RandomWeights(c, 1);
  const kvGeometry = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim };
  const W = c.numKvHeads * c.headDim;

  const fpSession = await createSession(buildDecoderGraph(c, weights, { cacheType: 'float16' }), { providers: [provider] });
  const rvqSession = await createSession(buildRvqDecoderGraph(c, weights, set), { providers: [provider] });
  for (const s of [fpSession, rvqSession]) if (s.provider !== provider) throw new Error(`${provider} could not run the graph: ${s.skipped.map((k) => `${k.provider}: ${k.reason}`).join('; ')}`);
  const fp = new FpGraphDecoder(fpSession.session, c) as DecoderStep<KvStore>;
  const rvq = new RvqGraphDecoder(rvqSession.session, c, set) as DecoderStep<KvStore>;
  log(`provider ${provider}${provider === 'cpu' ? '' : ` on ${deviceName()}`}${fpSession.halfFree ? ' (no float16 kernels: graphs run float16-free)' : ''}`);
  log(`${geometry.name} geometry (${c.numLayers} layers, ${c.numKvHeads} KV heads x ${c.headDim}), random weights; rvq groups of 32 inside the head (strided), C 2048, fp16 scale per head`);
  log(`codebooks (float32, all layers, K and V): ${((2 * c.numLayers * rvqCodebookBytes(spec)) / 2 ** 20).toFixed(1)} MiB for depth 8 (depth 4 reads the first half: ${((2 * c.numLayers * rvqCodebookBytes(spec, 4)) / 2 ** 20).toFixed(1)} MiB)`);

  const filledFp16 = (past: number): KvStore => {
    const store = new Fp16KvStore(kvGeometry);
    for (let i = 0; i < c.numLayers; i++) {
      for (const kind of KV_KINDS) store.append(i, kind, { data: Float32Array.from({ length: past * W }, () => rng.normal()), tokens: past, start: 0, count: past });
    }
    return store;
  };
  const filledRvq = (past: number, depth: number): KvStore => {
    const store = new KvCodeStore({ numLayers: c.numLayers, keySpec: spec, valueSpec: spec });
    store.setDepth(depth);
    const records = Uint8Array.from({ length: past * rvqCodeBytesPerToken(spec) }, () => rng.int(256));
    const scales = new Uint16Array(past * scalesPerToken(spec)).fill(0x3c00);
    for (let i = 0; i < c.numLayers; i++) for (const kind of KV_KINDS) store.appendPacked(i, kind, records, spec.depth, scales);
    return store;
  };

  const results: SpeedAtContext[] = [];
  try {
    for (const past of pasts) {
      const ratios: Record<8 | 4, number[]> = { 8: [], 4: [] };
      let last: Pick<SpeedAtContext, 'fp16' | 'rvq'> | undefined;
      for (let round = 1; round <= rounds; round++) {
        log(`context ${past} (+${steps} decoded), round ${round} of ${rounds}:`);
        const fp16 = await measureDecode('fp16', fp, filledFp16(past), steps, 42);
        log(describeDecode(fp16));
        const at = async (depth: 8 | 4) => {
          const m = await measureDecode(`rvq depth ${depth}`, rvq, filledRvq(past, depth), steps, 42);
          log(describeDecode(m, fp16));
          ratios[depth].push(speedVsFp16(m, fp16));
          return m;
        };
        last = { fp16, rvq: { 8: await at(8), 4: await at(4) } };
      }
      const { fp16, rvq: { 8: rvq8, 4: rvq4 } } = last!;
      const speedRatios = { 8: { rounds: ratios[8], median: percentile(ratios[8], 50) }, 4: { rounds: ratios[4], median: percentile(ratios[4], 50) } };
      for (const depth of [8, 4] as const) {
        log(`  rvq depth ${depth} speed vs fp16 at ${past}, per round: ${ratios[depth].map((r) => r.toFixed(2)).join(', ')}; median ${speedRatios[depth].median.toFixed(2)}x`);
      }
      const formula = (depth: number) => rvq8.bytes.tokens * 2 * c.numLayers * rvqBytesPerToken(spec, depth);
      results.push({ context: past, fp16, rvq: { 8: rvq8, 4: rvq4 }, speedRatios, formulaBytes: { 8: formula(8), 4: formula(4) } });
    }
  } finally {
    await fpSession.session.release();
    await rvqSession.session.release();
  }
  return results;
}
