// Options shared by the engine's commands (generate, chat, eval, bench): the model (a library id or
// folder, or a checkpoint imported on the way, progress on stderr), the cache and its depth, the
// ONNX Runtime threads, and sampling. Every bad value is a CliUsageError naming the option.
import type { CacheChoice } from '../engine/cache-runtime.js';
import { parseCacheChoice } from '../engine/cache-runtime.js';
import type { GenerationOptionsInput } from '../engine/generate.js';
import { executionProviders } from '../engine/session.js';
import type { ExecutionProvider, SessionOptionsInput } from '../engine/session.js';
import { defaultLibraryDir } from '../model/library.js';
import { resolveLibraryModel } from './calibrate.js';
import { CliUsageError } from './command.js';

export const modelOptions = {
  model: { type: 'string' },
  library: { type: 'string' },
  cache: { type: 'string' },
  depth: { type: 'string' },
  window: { type: 'string' },
  threads: { type: 'string' },
  providers: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

export const samplingFlags = {
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
} as const;

export const modelHelp = `  --model M         a model id in the library, a library model folder, or a checkpoint
                    (llama2.c .bin or Hugging Face folder; imported first if needed)
  --library DIR     library folder (default: $RESKV_LIBRARY or the per-user data folder)
  --cache C         fp16 (default), q8_0, q4_0, kivi2, rvq or rvq:<codebook set>
  --depth D         rvq: residual stages kept (default: the codebooks' depth)
  --window R        rvq: newest tokens kept in fp16 until they leave the window (default 0)
  --threads N       ONNX Runtime threads (default: its own choice)
  --providers LIST  execution providers to try in order, e.g. webgpu,cpu or cuda,cpu;
                    auto: the best this machine has (default cpu)
  --json            machine-readable output`;

export const samplingHelp = `  --max-tokens N    tokens to generate at most (default 256)
  --temperature T   0 = greedy (default 0)
  --top-k K         keep the K likeliest tokens (0 = off)
  --top-p P         nucleus sampling (1 = off)
  --repetition-penalty R   1 = off
  --seed S          sampling seed (same seed, same text)`;

/** A number option, or undefined when absent. */
export function numberOption(flag: string, text: string | undefined, integer = true): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) throw new CliUsageError(`--${flag} must be ${integer ? 'a whole number' : 'a number'}, got '${text}'`);
  return value;
}

/** Comma-separated whole numbers, e.g. "128,512,2048". */
export function numberList(flag: string, text: string): number[] {
  return text.split(',').map((part) => numberOption(flag, part) as number);
}

export interface ModelArgs {
  folder: string;
  cache: CacheChoice;
  session: SessionOptionsInput;
}

/** The model folder (importing a checkpoint when needed), cache choice and session options. */
export function modelArgs(values: { model?: string; library?: string; cache?: string; depth?: string; window?: string; threads?: string; providers?: string }): ModelArgs {
  if (!values.model) throw new CliUsageError('--model is required (see --help)');
  let cache: CacheChoice;
  try {
    cache = parseCacheChoice(values.cache ?? 'fp16');
  } catch (e) {
    throw new CliUsageError(`--cache: ${(e as Error).message}`);
  }
  const depth = numberOption('depth', values.depth);
  const window = numberOption('window', values.window);
  if ((depth !== undefined || window !== undefined) && cache.format !== 'rvq') throw new CliUsageError(`--depth and --window apply to --cache rvq only, not ${cache.format}`);
  if (depth !== undefined && depth < 1) throw new CliUsageError(`--depth must be at least 1, got ${depth}`);
  if (window !== undefined && window < 0) throw new CliUsageError(`--window must be at least 0, got ${window}`);
  const threads = numberOption('threads', values.threads) ?? 0;
  if (threads < 0) throw new CliUsageError(`--threads must be at least 0, got ${threads}`);
  const named = values.providers ?? 'cpu';
  const providers = (named === 'auto' ? [...executionProviders] : named.split(',')) as ExecutionProvider[];
  const unknown = providers.find((p) => !(executionProviders as readonly string[]).includes(p));
  if (unknown !== undefined) throw new CliUsageError(`--providers: unknown provider '${unknown}' (known: ${executionProviders.join(', ')}, or auto)`);
  let imported = false;
  const folder = resolveLibraryModel(values.model, values.library ?? defaultLibraryDir(), (m) => {
    imported = true;
    process.stderr.write(`\r${m.padEnd(60)}`);
  });
  if (imported) process.stderr.write('\n');
  return { folder, cache: { ...cache, ...(depth !== undefined ? { depth } : {}), ...(window !== undefined ? { recentWindow: window } : {}) }, session: { threads, providers } };
}

/** Sampling options from the flags (validated by the engine, whose message names the field). */
export function samplingArgs(values: Partial<Record<keyof typeof samplingFlags, string>>): GenerationOptionsInput {
  const options: Record<string, number | undefined> = {
    maxTokens: numberOption('max-tokens', values['max-tokens']),
    temperature: numberOption('temperature', values.temperature, false),
    topK: numberOption('top-k', values['top-k']),
    topP: numberOption('top-p', values['top-p'], false),
    repetitionPenalty: numberOption('repetition-penalty', values['repetition-penalty'], false),
    seed: numberOption('seed', values.seed),
  };
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

/** Runs `open`, turning an engine error about the user's settings (depth, codebooks, options) into a usage error. */
export async function asUsage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const message = (e as Error).message;
    if (/^Invalid generation options|depth must be|no codebook set|no RVQ codebooks|several codebook sets|recent window must be/.test(message)) throw new CliUsageError(message);
    throw e;
  }
}

export const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
