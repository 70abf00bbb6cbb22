// ONNX Runtime sessions on the best execution provider this machine has. Each candidate (CUDA,
// DirectML, CoreML where the platform has them, the WebGPU provider bundled in onnxruntime-node, CPU
// last) is probed once per process with a tiny graph that is also run, float16 kernels included; a
// provider that runs it only without float16 (a WebGPU adapter without shader-f16) gets graphs
// rewritten float16-free (same values in float32). A session reports which provider runs it and why
// the ones before it were passed over.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { z } from 'zod';
import { DataType, GraphBuilder, inlineTensors } from '../onnx/builder.js';
import { hasHalfFloats, withoutHalfFloats } from '../onnx/half-free.js';
import { parseOptions } from './sampler.js';

/** In order of preference: native GPU providers, then WebGPU (any GPU through Vulkan, D3D12 or Metal), then CPU. */
export const executionProviders = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;
export type ExecutionProvider = (typeof executionProviders)[number];

/** Providers that can exist on a platform (DirectML is Windows-only, CoreML Apple-only). */
export function platformProviders(platform: NodeJS.Platform = process.platform): ExecutionProvider[] {
  return executionProviders.filter((p) => (p === 'dml' ? platform === 'win32' : p === 'coreml' ? platform === 'darwin' : true));
}

/**
 * onnxruntime-node ships CUDA's provider libraries only when its install step downloaded them (users
 * with internet); without them, trying CUDA only prints a native error. Looks for the library beside
 * the addon.
 */
function cudaProviderInstalled(): boolean {
  const binDir = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin');
  const find = (dir: string): boolean =>
    existsSync(dir) && readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? find(join(dir, e.name)) : e.name.includes('providers_cuda')));
  return find(binDir);
}

/** What the probe found out about one provider on this machine. */
export interface ProviderProbe {
  provider: ExecutionProvider;
  /** It created and ran the probe graph (float16-free at least). */
  available: boolean;
  /** It runs float16 kernels; false: graphs run float16-free (same values, float32 tensors). */
  halfFloats: boolean;
  /** Why it is unavailable or runs without float16; null when it runs everything. */
  reason: string | null;
}

/** x -> Cast float16 -> Add -> Cast float32 -> y = 2x: runs only where float16 kernels run. */
function probeGraph(): Uint8Array {
  const g = new GraphBuilder(inlineTensors);
  g.input('x', DataType.FLOAT, [3]);
  const half = g.op('Cast', ['x'], { to: DataType.FLOAT16 });
  g.op('Cast', [g.op('Add', [half, half])], { to: DataType.FLOAT }, 'y');
  g.output('y', DataType.FLOAT, [3]);
  return g.encode('reskv-probe');
}

const firstLine = (error: unknown) => (error as Error).message.split('\n')[0];

/** Creates the probe on `provider` and runs it; throws what the provider threw. */
async function runProbe(provider: ExecutionProvider, model: Uint8Array): Promise<void> {
  // fatal-only log: a provider failing the probe is an expected outcome, reported in the result
  const session = await ort.InferenceSession.create(model, { executionProviders: [provider], logSeverityLevel: 4 });
  try {
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3), [3]) });
    const y = Array.from(out.y.data as Float32Array);
    if (y.join() !== '2,4,6') throw new Error(`the probe graph computed ${y.join(', ')} instead of 2, 4, 6`);
  } finally {
    await session.release();
  }
}

async function probe(provider: ExecutionProvider): Promise<ProviderProbe> {
  const unavailable = (reason: string): ProviderProbe => ({ provider, available: false, halfFloats: false, reason });
  if (!platformProviders().includes(provider)) return unavailable(`not available on ${process.platform}`);
  if (provider === 'cuda' && !cudaProviderInstalled()) return unavailable("onnxruntime-node's CUDA provider libraries are not installed (its install step downloads them)");
  if (provider === 'webgpu' && !ort.listSupportedBackends().some((b) => b.name === 'webgpu')) return unavailable('this onnxruntime-node build has no WebGPU provider');
  try {
    await runProbe(provider, probeGraph());
    return { provider, available: true, halfFloats: true, reason: null };
  } catch (halfError) {
    try {
      await runProbe(provider, withoutHalfFloats(probeGraph()));
      return { provider, available: true, halfFloats: false, reason: `no float16 kernels (${firstLine(halfError)}): graphs run float16-free` };
    } catch (error) {
      return unavailable(firstLine(error));
    }
  }
}

const probes = new Map<ExecutionProvider, Promise<ProviderProbe>>();

/** The provider's probe, run once per process. */
export function probeProvider(provider: ExecutionProvider): Promise<ProviderProbe> {
  let found = probes.get(provider);
  if (!found) {
    found = probe(provider);
    probes.set(provider, found);
  }
  return found;
}

/** Every provider this platform can have, probed (for Settings). */
export function probeProviders(): Promise<ProviderProbe[]> {
  return Promise.all(platformProviders().map(probeProvider));
}

export const sessionOptionsSchema = z.strictObject({
  /** In order of preference; CPU is always tried last. Default: every provider, best first. */
  providers: z.array(z.enum(executionProviders)).min(1, 'must name at least one provider').optional(),
  /** Threads inside one operator (0 = ONNX Runtime's default). */
  threads: z.number().int('must be an integer').min(0, 'must be at least 0').max(1024, 'must be at most 1024').default(0),
});

export type SessionOptionsInput = z.input<typeof sessionOptionsSchema>;

export interface CreatedSession {
  session: ort.InferenceSession;
  /** The provider that actually runs the session. */
  provider: ExecutionProvider;
  /** Providers tried before it, with the reason each was passed over. */
  skipped: { provider: ExecutionProvider; reason: string }[];
  /** The graph runs float16-free: its float16 inputs and outputs are float32 tensors (same values). */
  halfFree: boolean;
  /** Outputs that stay in device memory (gpu-buffer tensors, fed back as inputs, never read); [] on the CPU. */
  deviceOutputs: string[];
}

/** Providers whose outputs onnxruntime-node can leave on the device ('gpu-buffer'). */
const deviceProviders: readonly ExecutionProvider[] = ['webgpu'];

/** The graph's output names (the graph file alone: external weights are not read). */
function outputNames(bytes: Uint8Array): string[] {
  return (onnxProto.onnx.ModelProto.decode(bytes).graph?.output ?? []).map((o) => o.name ?? '');
}

/** A model path's bytes and the folder its external data (weights) is found in. */
function loadModel(model: Uint8Array | string): { bytes: Uint8Array; folder: string | null } {
  return typeof model === 'string' ? { bytes: new Uint8Array(readFileSync(model)), folder: dirname(model) } : { bytes: model, folder: null };
}

/**
 * A session on the first provider of `options.providers` that runs the model. `deviceOutputs` picks
 * (from the graph's output names) the outputs a device provider keeps in its memory (the decoders feed
 * them back next step). `spinning: false` makes the intra-op pool's threads sleep between runs instead
 * of spinning (ONNX Runtime's default): for many short runs in a row, where spinning pools of idle
 * sessions would take the cores from the running one and from work done outside ONNX Runtime between runs;
 * a number spins that many microseconds after each parallel section before sleeping (intra_op.spin_duration_us).
 */
export async function createSession(
  model: Uint8Array | string,
  options: SessionOptionsInput = {},
  { spinning = true, deviceOutputs = () => [] }: { spinning?: boolean | number; deviceOutputs?: (outputs: readonly string[]) => string[] } = {},
): Promise<CreatedSession> {
  const { providers, threads } = parseOptions(sessionOptionsSchema, options, 'session options');
  const order = [...new Set([...(providers ?? platformProviders()), 'cpu' as const])];
  const skipped: CreatedSession['skipped'] = [];
  for (const provider of order) {
    const probed = await probeProvider(provider);
    if (!probed.available) {
      skipped.push({ provider, reason: probed.reason ?? 'unavailable' });
      continue;
    }
    try {
      const sessionOptions: ort.InferenceSession.SessionOptions = {
        executionProviders: [provider],
        graphOptimizationLevel: 'all',
        // decoding grows the past by a token per step, so every run has new input shapes: ORT's memory
        // patterns (planned per set of shapes) would be re-planned each step and never reused
        enableMemPattern: false,
        ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
      };
      // ORT's session config entries (session.<key>); applied to both ways of creating the session below
      const config: Record<string, string> =
        spinning === true ? {} : spinning === false ? { 'intra_op.allow_spinning': '0' } : { 'intra_op.allow_spinning': '1', 'intra_op.spin_duration_us': String(spinning) };
      sessionOptions.extra = { session: config };
      const { bytes, folder } = loadModel(model);
      const onDevice = deviceProviders.includes(provider) ? deviceOutputs(outputNames(bytes)) : [];
      if (onDevice.length > 0) sessionOptions.preferredOutputLocation = Object.fromEntries(onDevice.map((name) => [name, 'gpu-buffer' as const]));
      if (probed.halfFloats) {
        const session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
        return { session, provider, skipped, halfFree: false, deviceOutputs: onDevice };
      }
      const halfFree = hasHalfFloats(bytes);
      // external data (the weights file) is found beside the model file, not beside a buffer
      if (folder) config.model_external_initializers_file_folder_path = folder;
      const session = await ort.InferenceSession.create(halfFree ? withoutHalfFloats(bytes) : bytes, sessionOptions);
      return { session, provider, skipped, halfFree, deviceOutputs: onDevice };
    } catch (error) {
      skipped.push({ provider, reason: firstLine(error) });
    }
  }
  throw new Error(`no execution provider could run the model: ${skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')}`);
}
