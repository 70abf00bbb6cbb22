// Engine decode speed and cache bytes on a GPU execution provider (WebGPU, CUDA; SwiftShader here):
// the graph path, which GPU providers run (the fused path is CPU only): the fp16 cache (fp graph)
// against RVQ depth 8 and depth 4 (the GPU-shaped rvq graph), random weights of a published geometry
// and random codebooks (see engine-speed.ts), fp16 and RVQ interleaved in `rounds` rounds; the speed
// ratio (speedVsFp16: p50 latencies) is taken per round. The cache stays on the device between steps
// (fpDeviceOutputs, rvqDeviceOutputs): each measurement's first step uploads the whole past (what
// every step uploaded before the device cache), the next ones only the new token's inputs; both are
// printed as bytes uploaded host -> device per step.
import { spawnSync } from 'node:child_process';
import { createRng, rvqBytesPerToken, rvqCodebookBytes } from '../../quant/index.js';
import { describeDecode, measureDecode, speedVsFp16 } from '../../main/engine/decode-measure.js';
import type { DecodeMeasurement } from '../../main/engine/decode-measure.js';
import { FpGraphDecoder, fpDeviceOutputs } from '../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../main/engine/fp16-kv-store.js';
import type { DecoderStep } from '../../main/engine/generate.js';
import type { KvStore } from '../../main/engine/kv-store.js';
import { RvqGraphDecoder, rvqDeviceOutputs } from '../../main/engine/rvq-graph-decoder.js';
import { percentile } from '../../main/engine/timing.js';
import { createSession } from '../../main/engine/session.js';
import type { ExecutionProvider } from '../../main/engine/session.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../main/onnx/rvq-cache.js';
import { appendRandomPast, benchConfig, geometries, randomCodebooks, randomRvqStore, rvqSpecFor } from './engine-speed.js';
import type { GeometryName } from './engine-speed.js';

export interface GpuSpeedAtContext {
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

/**
 * Runs the measurement on `provider`, printing a line per cache; returns the figures. `layers` cuts the
 * geometry to its first layers (same widths): a software GPU loads a 30-layer rvq graph for minutes.
 */
export async function runGpuEngineSpeed(pasts: readonly number[], steps: number, rounds: number, provider: ExecutionProvider, geometryName: GeometryName = 'smollm2-135m', log: (line: string) => void = console.log, layers?: number): Promise<GpuSpeedAtContext[]> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a whole number of at least 1, got ${rounds}`);
  const full = benchConfig(geometryName, pasts, steps);
  if (layers !== undefined && (!Number.isInteger(layers) || layers < 1 || layers > full.numLayers)) throw new RangeError(`--layers must be a whole number from 1 to ${full.numLayers}, got ${layers}`);
  const c = { ...full, numLayers: layers ?? full.numLayers };
  const spec = rvqSpecFor(c);
  const rng = createRng(1);
  const set = randomCodebooks(c.numLayers, spec, rng);
  const weights = new RandomWeights(c, 1);
  const kvGeometry = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim };

  const fpSession = await createSession(buildDecoderGraph(c, weights, { cacheType: 'float16' }), { providers: [provider] }, { deviceOutputs: fpDeviceOutputs });
  const rvqSession = await createSession(buildRvqDecoderGraph(c, weights, set), { providers: [provider] }, { deviceOutputs: rvqDeviceOutputs });
  for (const s of [fpSession, rvqSession]) if (s.provider !== provider) throw new Error(`${provider} could not run the graph: ${s.skipped.map((k) => `${k.provider}: ${k.reason}`).join('; ')}`);
  const fpDecoder = new FpGraphDecoder(fpSession.session, c, fpSession.deviceOutputs);
  const rvqDecoder = new RvqGraphDecoder(rvqSession.session, c, set, rvqSession.deviceOutputs);
  const fp = recordingUploads(fpDecoder);
  const rvq = recordingUploads(rvqDecoder as DecoderStep<KvStore> & Uploads);
  log(`provider ${provider} on ${deviceName()}${fpSession.halfFree ? ' (no float16 kernels: graphs run float16-free)' : ''}`);
  log(`cache on the device between steps: ${fpSession.deviceOutputs.length > 0 && rvqSession.deviceOutputs.length > 0 ? 'yes' : `no (${provider} keeps no outputs on the device)`}`);
  log(`${geometries[geometryName].name} geometry (${c.numLayers}${c.numLayers < full.numLayers ? ` of its ${full.numLayers}` : ''} layers, ${c.numKvHeads} KV heads x ${c.headDim}), random weights; rvq groups of 32 inside the head (strided), C 2048, fp16 scale per head`);
  log(`codebooks (float32, all layers, K and V): ${((2 * c.numLayers * rvqCodebookBytes(spec)) / 2 ** 20).toFixed(1)} MiB for depth 8`);

  const filledRvq = (past: number, depth: number) => randomRvqStore(c.numLayers, spec, depth, past, rng);
  const results: GpuSpeedAtContext[] = [];
  try {
    for (const past of pasts) {
      const ratios: Record<8 | 4, number[]> = { 8: [], 4: [] };
      let last: Pick<GpuSpeedAtContext, 'fp16' | 'rvq'> | undefined;
      for (let round = 1; round <= rounds; round++) {
        log(`context ${past} (+${steps} decoded), round ${round} of ${rounds}:`);
        fp.uploads.length = 0;
        const fp16 = await measureDecode('fp16', fp.decoder, appendRandomPast(new Fp16KvStore(kvGeometry), past, rng), steps, 42);
        log(describeDecode(fp16));
        log(describeUploads(fp.uploads));
        const at = async (depth: 8 | 4) => {
          rvq.uploads.length = 0;
          const m = await measureDecode(`rvq depth ${depth}`, rvq.decoder, filledRvq(past, depth), steps, 42);
          log(describeDecode(m, fp16));
          log(describeUploads(rvq.uploads));
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
    fpDecoder.releaseDevice();
    rvqDecoder.releaseDevice();
    await fpSession.session.release();
    await rvqSession.session.release();
  }
  return results;
}

interface Uploads {
  uploadedBytes: number;
}

/** The decoder with the bytes each of its steps uploaded (host -> device) recorded. */
function recordingUploads(decoder: DecoderStep<KvStore> & Uploads): { decoder: DecoderStep<KvStore>; uploads: number[] } {
  const uploads: number[] = [];
  const step: DecoderStep<KvStore>['step'] = async (tokens, store, options) => {
    const logits = await decoder.step(tokens, store, options);
    uploads.push(decoder.uploadedBytes);
    return logits;
  };
  return { decoder: { contextLength: decoder.contextLength, vocabSize: decoder.vocabSize, step }, uploads };
}

/** The first step uploads the whole past (as every step did before the cache stayed on the device); the rest are the device-resident steps. */
function describeUploads(uploads: readonly number[]): string {
  const kib = (b: number) => (b / 1024).toFixed(2);
  const rest = uploads.slice(1);
  const after = rest.length ? `${kib(percentile(rest, 50))} KiB (median of ${rest.length}, max ${kib(Math.max(...rest))})` : 'no further step';
  return `               uploaded host->device per step: before (whole past, as the first step) ${kib(uploads[0])} KiB; after (past on the device) ${after}`;
}
