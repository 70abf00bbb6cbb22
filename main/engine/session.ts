// ONNX Runtime sessions with an execution-provider preference: each provider is tried in order
// (CUDA, DirectML, CoreML where the platform has them, CPU last) and the first that creates the
// session runs it; the result says which one did and why the others were passed over.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { parseOptions } from './sampler.js';

export const executionProviders = ['cuda', 'dml', 'coreml', 'cpu'] as const;
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

export const sessionOptionsSchema = z.strictObject({
  /** In order of preference; CPU is always tried last. Default: every provider of this platform. */
  providers: z.array(z.enum(executionProviders)).min(1, 'must name at least one provider').optional(),
  /** Threads inside one operator (0 = ONNX Runtime's default). */
  threads: z.number().int('must be an integer').min(0, 'must be at least 0').max(1024, 'must be at most 1024').default(0),
});

export type SessionOptionsInput = z.input<typeof sessionOptionsSchema>;

export interface CreatedSession {
  session: ort.InferenceSession;
  /** The provider that actually runs the session. */
  provider: ExecutionProvider;
  /** Providers tried before it, with the reason each failed. */
  skipped: { provider: ExecutionProvider; reason: string }[];
}

export async function createSession(model: Uint8Array | string, options: SessionOptionsInput = {}): Promise<CreatedSession> {
  const { providers, threads } = parseOptions(sessionOptionsSchema, options, 'session options');
  const available = platformProviders();
  const order = [...new Set([...(providers ?? available), 'cpu' as const])];
  const skipped: CreatedSession['skipped'] = [];
  for (const provider of order) {
    if (!available.includes(provider)) {
      skipped.push({ provider, reason: `not available on ${process.platform}` });
      continue;
    }
    if (provider === 'cuda' && !cudaProviderInstalled()) {
      skipped.push({ provider, reason: "onnxruntime-node's CUDA provider libraries are not installed (its install step downloads them)" });
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
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
      return { session, provider, skipped };
    } catch (error) {
      skipped.push({ provider, reason: (error as Error).message.split('\n')[0] });
    }
  }
  throw new Error(`no execution provider could run the model: ${skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')}`);
}
