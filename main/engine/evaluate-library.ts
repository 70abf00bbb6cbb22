// Teacher-forced evaluation of an imported model's cache formats (evaluate.ts) from cache choices:
// each choice opens its runtime (graph + stores), fp16 is the reference, and every row carries the
// measured bytes beside the codebook bytes its format needs and which of K/V it quantizes (RVQ on
// the keys only or the values only is an ablation of the full rvq cache). Also the table the CLI and
// the benchmark print.
import { kvFigures } from '../../quant/index.js';
import { onlySuffix, openCacheRuntime } from './cache-runtime.js';
import type { CacheChoice, CacheRuntime } from './cache-runtime.js';
import { KV_KINDS } from './kv-store.js';
import { evaluateFormats } from './evaluate.js';
import type { EvaluatedFormat, EvaluationOptions, FormatEvaluation } from './evaluate.js';
import type { ModelManifest } from '../model/manifest.js';
import type { SessionOptionsInput } from './session.js';

export interface NamedChoice {
  name: string;
  choice: CacheChoice;
}

export interface LibraryEvaluation extends FormatEvaluation {
  cache: string;
  /** What the format quantizes; the rest of the cache stays fp16. */
  quantizes: Quantized;
  /** Float32 codebook bytes the format needs (every layer, the kinds it codes; 0 for scalar formats). */
  codebookBytes: number;
  /** Perplexity change vs the reference, in percent. */
  perplexityChangePercent: number;
}

/** Perplexity change of `perplexity` against the reference's, in percent. */
export const perplexityChangePercent = (perplexity: number, reference: number): number => (100 * (perplexity - reference)) / reference;

export type Quantized = 'none' | 'keys and values' | 'keys only' | 'values only';

function quantizedBy(runtime: CacheRuntime): Quantized {
  if (runtime.format === 'fp16') return 'none';
  return runtime.rvq?.only ? `${onlySuffix(runtime.rvq.only)} only` : 'keys and values';
}

/** A row name: the cache ("rvq:<set>[/keys|/values]"), then " d<depth>" and " R<window>" where given. */
export function choiceName(cache: string, depth?: number, recentWindow = 0): string {
  return `${cache}${depth === undefined ? '' : ` d${depth}`}${recentWindow > 0 ? ` R${recentWindow}` : ''}`;
}

export interface DefaultLineup {
  /** RVQ depths to evaluate (default: each set's full depth). */
  depths?: readonly number[];
  /** RVQ recent window (default 0). */
  recentWindow?: number;
  /** Also RVQ on the keys only and on the values only, per set and depth (default true; they take no recent window, so none with one). */
  oneKind?: boolean;
}

/**
 * The default lineup: fp16, q8_0, q4_0, KIVI-2, then every installed codebook set at each depth: the
 * rvq cache, then (without a recent window) keys-only and values-only RVQ.
 */
export function defaultChoices(manifest: ModelManifest, lineup: DefaultLineup = {}): NamedChoice[] {
  const { depths, recentWindow = 0, oneKind = true } = lineup;
  const choices: NamedChoice[] = (['fp16', 'q8_0', 'q4_0', 'kivi2'] as const).map((format) => ({ name: format, choice: { format } }));
  for (const set of Object.keys(manifest.rvq).sort()) {
    for (const depth of depths ?? [undefined]) {
      choices.push({ name: choiceName(`rvq:${set}`, depth, recentWindow), choice: { format: 'rvq', codebooks: set, depth, recentWindow } });
      if (!oneKind || recentWindow > 0) continue;
      for (const only of KV_KINDS) choices.push({ name: choiceName(`rvq:${set}/${onlySuffix(only)}`, depth), choice: { format: 'rvq', codebooks: set, depth, only } });
    }
  }
  return choices;
}

/** Scores every choice against the first (the reference, normally fp16) over `tokens`. */
export async function evaluateLibraryModel(
  folder: string,
  manifest: ModelManifest,
  tokens: readonly number[],
  choices: readonly NamedChoice[],
  options: EvaluationOptions & { session?: SessionOptionsInput } = {},
): Promise<LibraryEvaluation[]> {
  const runtimes: CacheRuntime[] = [];
  try {
    for (const { choice } of choices) runtimes.push(await openCacheRuntime(folder, manifest, choice, options.session));
    const formats: EvaluatedFormat[] = runtimes.map((r, k) => ({ name: choices[k].name, decoder: r.decoder, createStore: () => r.stores.create() }));
    const results = await evaluateFormats(tokens, formats, options);
    const reference = results[0].perplexity;
    return results.map((r, k) => ({ ...r, cache: runtimes[k].label, quantizes: quantizedBy(runtimes[k]), codebookBytes: runtimes[k].rvq?.codebookBytes ?? 0, perplexityChangePercent: perplexityChangePercent(r.perplexity, reference) }));
  } finally {
    for (const r of runtimes) await r.release();
  }
}

/**
 * A fixed-width table. KV held: every byte the cache holds (codes, scales, fp16 values and the RVQ
 * store's per-token depth bytes, listed beside it); bits/value and the ratios are kvFigures of those
 * bytes, as every view shows them. `context`: the token count at which the compression ratio is stated
 * counting the codebooks, from the measured bytes per token.
 */
export function evaluationTable(rows: readonly LibraryEvaluation[], context: number): string {
  const header = ['format', 'bits/value', 'perplexity', 'vs fp16', 'KL(fp16||f)', 'top-1', 'KV held', 'of it depth bytes', 'fp16 bytes', 'x smaller', 'codebooks', `x at ${context} incl. codebooks`];
  const lines = rows.map((r) => {
    const { bytes } = r;
    const measured = kvFigures({ tokens: bytes.tokens, held: bytes.held, fp16: bytes.fp16, codebooks: r.codebookBytes });
    const atContext = kvFigures({ tokens: context, held: measured.bytesPerToken * context, fp16: (bytes.fp16 / bytes.tokens) * context, codebooks: r.codebookBytes });
    return [
      r.name,
      r.bitsPerValue.toFixed(3),
      r.perplexity.toFixed(4),
      `${r.perplexityChangePercent >= 0 ? '+' : ''}${r.perplexityChangePercent.toFixed(2)}%`,
      r.meanKl.toFixed(5),
      `${(100 * r.top1Agreement).toFixed(2)}%`,
      String(bytes.held),
      String(bytes.bookkeeping),
      String(bytes.fp16),
      measured.compression.toFixed(2),
      String(r.codebookBytes),
      atContext.compressionWithCodebooks.toFixed(3),
    ];
  });
  return textTable([header, ...lines]);
}

/** Rows as fixed-width text: the first column left-aligned, the others right-aligned. */
export function textTable(rows: readonly string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n');
}
