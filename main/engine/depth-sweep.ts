// A residual-depth sweep of an imported model: quality (teacher-forced against fp16, evaluate.ts),
// measured KV bytes per token and decode latency (decode-measure.ts, in interleaved rounds) of fp16, optionally the scalar
// formats, and every chosen codebook set at each chosen depth. One graph session per codebook set
// serves all its depths (the rvq graph reads each store's depth), so a sweep holds 1-4 fp sessions
// plus one per set however many depths it measures.
import { kvFigures } from '../../quant/index.js';
import type { RvqSpec } from '../../quant/index.js';
import { checkDepth, openCacheRuntime } from './cache-runtime.js';
import type { CacheRuntime } from './cache-runtime.js';
import { measureDecodeRounds, prefill } from './decode-measure.js';
import type { RepeatedDecode } from './decode-measure.js';
import { perplexityChangePercent } from './evaluate-library.js';
import { evaluateFormats } from './evaluate.js';
import type { EvaluatedFormat, FormatEvaluation } from './evaluate.js';
import { KvCodeStore } from './kv-code-store.js';
import type { KvStore } from './kv-store.js';
import type { ModelManifest } from '../model/manifest.js';
import type { SessionOptionsInput } from './session.js';

export const scalarBaselineFormats = ['q8_0', 'q4_0', 'kivi2'] as const;

export interface DepthSweepPlan {
  /** Codebook sets, each measured at depths 1..maxDepth (capped at the set's depth; null: every depth). */
  sets: { name: string; maxDepth: number | null }[];
  /** Also measure q8_0, q4_0 and KIVI-2 (fp16 is always measured: it is the reference). */
  scalarBaselines: boolean;
  /**
   * Decode latency: tokens in the cache first (taken from the text, repeated if short), then tokens
   * decoded, in `rounds` interleaved rounds over all formats (default 1).
   */
  latency: { context: number; steps: number; rounds?: number };
  /** Tokens per forward pass of the evaluation (default 64). */
  chunk?: number;
}

export type DepthSweepProgress =
  | { phase: 'quality'; tokensDone: number; tokensTotal: number; formats: number }
  | { phase: 'latency'; pointsDone: number; pointsTotal: number; label: string };

export interface DepthSweepPoint {
  label: string;
  format: CacheRuntime['format'];
  /** rvq points: the set, its key and value specs, and the depth measured. */
  rvq: { set: string; keySpec: RvqSpec; valueSpec: RvqSpec; depth: number } | null;
  quality: FormatEvaluation & { perplexityChangePercent: number };
  /** Measured bytes the store held per token (codes + scales + fp16 values + per-token depth bytes). */
  kvBytesPerToken: number;
  fp16BytesPerToken: number;
  decode: RepeatedDecode;
  provider: string;
}

interface SweptFormat extends EvaluatedFormat {
  runtime: CacheRuntime;
  depth: number | null;
}

/** A store of an rvq runtime with every layer's keys and values at `depth`. */
export function storeAtDepth(runtime: CacheRuntime, depth: number): KvStore {
  const store = runtime.stores.create();
  if (!(store instanceof KvCodeStore) || !runtime.rvq) throw new Error(`${runtime.label} has no residual depth`);
  checkDepth(depth, runtime.rvq.set.keySpec);
  checkDepth(depth, runtime.rvq.set.valueSpec);
  store.setDepth(depth);
  return store;
}

/** `count` tokens from `tokens`, repeated from the start when it is shorter. */
function tokensFor(tokens: readonly number[], count: number): number[] {
  return Array.from({ length: count }, (_, i) => tokens[i % tokens.length]);
}

export async function sweepDepths(
  folder: string,
  manifest: ModelManifest,
  tokens: readonly number[],
  plan: DepthSweepPlan,
  options: { session?: SessionOptionsInput; signal?: AbortSignal; onProgress?: (p: DepthSweepProgress) => void } = {},
): Promise<DepthSweepPoint[]> {
  const { context, steps } = plan.latency;
  if (context + steps + 1 > manifest.config.maxPositions) {
    throw new RangeError(`decode latency at ${context} tokens + ${steps + 1} decoded exceeds ${manifest.id}'s ${manifest.config.maxPositions} positions`);
  }
  const runtimes: CacheRuntime[] = [];
  const open = async (choice: Parameters<typeof openCacheRuntime>[2]) => {
    const runtime = await openCacheRuntime(folder, manifest, choice, options.session);
    runtimes.push(runtime);
    return runtime;
  };
  try {
    const formats: SweptFormat[] = [];
    for (const format of ['fp16', ...(plan.scalarBaselines ? scalarBaselineFormats : [])] as const) {
      const runtime = await open({ format });
      formats.push({ name: format, decoder: runtime.decoder, createStore: () => runtime.stores.create(), runtime, depth: null });
    }
    for (const { name, maxDepth } of plan.sets) {
      const runtime = await open({ format: 'rvq', codebooks: name });
      const setDepth = Math.min(runtime.rvq!.set.keySpec.depth, runtime.rvq!.set.valueSpec.depth);
      for (let depth = 1; depth <= Math.min(setDepth, maxDepth ?? setDepth); depth++) {
        formats.push({ name: `rvq:${name} d${depth}`, decoder: runtime.decoder, createStore: () => storeAtDepth(runtime, depth), runtime, depth });
      }
    }

    const quality = await evaluateFormats(tokens, formats, {
      chunk: plan.chunk,
      signal: options.signal,
      onProgress: (tokensDone, tokensTotal) => options.onProgress?.({ phase: 'quality', tokensDone, tokensTotal, formats: formats.length }),
    });

    const prompt = tokensFor(tokens, context);
    const measuring: { label: string; decoder: SweptFormat['decoder']; store: KvStore }[] = [];
    for (const format of formats) {
      if (options.signal?.aborted) throw new Error('sweep cancelled');
      const store = format.createStore();
      await prefill(format.decoder, store, prompt);
      measuring.push({ label: format.name, decoder: format.decoder, store });
    }
    const rounds = plan.latency.rounds ?? 1;
    const decodes = await measureDecodeRounds(measuring, steps, rounds, prompt[prompt.length - 1], (pointsDone, pointsTotal, label) => {
      if (options.signal?.aborted) throw new Error('sweep cancelled');
      options.onProgress?.({ phase: 'latency', pointsDone, pointsTotal, label });
    });
    const points: DepthSweepPoint[] = formats.map((format, k) => {
      const { bytes } = quality[k];
      const { runtime } = format;
      return {
        label: format.name,
        format: runtime.format,
        rvq: runtime.rvq && format.depth !== null ? { set: runtime.rvq.name, keySpec: runtime.rvq.set.keySpec, valueSpec: runtime.rvq.set.valueSpec, depth: format.depth } : null,
        quality: { ...quality[k], perplexityChangePercent: perplexityChangePercent(quality[k].perplexity, quality[0].perplexity) },
        kvBytesPerToken: kvFigures({ tokens: bytes.tokens, held: bytes.held, fp16: bytes.fp16, codebooks: 0 }).bytesPerToken,
        fp16BytesPerToken: bytes.fp16 / bytes.tokens,
        decode: decodes[k],
        provider: runtime.provider,
      };
    });
    options.onProgress?.({ phase: 'latency', pointsDone: formats.length * rounds, pointsTotal: formats.length * rounds, label: 'done' });
    return points;
  } finally {
    for (const runtime of runtimes) await runtime.release();
  }
}
