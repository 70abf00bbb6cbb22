// Teacher-forced evaluation of KV cache formats over a token stream: every format reads the same text
// in the same chunks (a runtime whose graph would attend a step's new tokens unquantized steps them
// one at a time, see SingleTokenSteps, so the chunk changes no figure), and each position's next-token
// distribution is compared with the reference format's (fp16): mean NLL and perplexity, mean
// KL(reference || format), top-1 agreement; plus the bytes each store holds at the end of a segment. Texts longer than the context are cut into back-to-back segments, each from an
// empty cache (non-overlapping perplexity).
import type { DecoderStep } from './generate.js';
import { kvFigures } from '../../quant/index.js';
import type { KvBytes, KvStore } from './kv-store.js';
import { sumKvBytes } from './kv-store.js';

export interface EvaluatedFormat {
  name: string;
  decoder: DecoderStep<KvStore>;
  createStore(): KvStore;
}

export interface FormatEvaluation {
  name: string;
  /** Positions scored (each predicts the next token). */
  positions: number;
  meanNll: number;
  perplexity: number;
  /** Mean KL(reference || this format) in nats (0 for the reference itself). */
  meanKl: number;
  top1Agreement: number;
  /** Stores at the end of each segment, summed (tokens: all tokens read). */
  bytes: KvBytes;
  /** Held bits per cached value (kvFigures). */
  bitsPerValue: number;
}

export interface EvaluationOptions {
  /** Tokens per forward pass (default 64). */
  chunk?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** log-softmax of one row, in float64. */
export function logSoftmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (x) => x - lse);
}

export function argmaxOf(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** KL(p || q) from log-probabilities. */
export function kl(logP: Float64Array, logQ: Float64Array): number {
  let d = 0;
  for (let i = 0; i < logP.length; i++) if (logP[i] > -Infinity) d += Math.exp(logP[i]) * (logP[i] - logQ[i]);
  return d;
}

/** Scores `formats[0]` (the reference) and the others over `tokens`. */
export async function evaluateFormats(tokens: readonly number[], formats: readonly EvaluatedFormat[], options: EvaluationOptions = {}): Promise<FormatEvaluation[]> {
  if (formats.length === 0) throw new Error('evaluation needs at least the reference format');
  if (tokens.length < 2) throw new Error(`evaluation needs at least 2 tokens, got ${tokens.length}`);
  const chunk = options.chunk ?? 64;
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`chunk must be a positive integer, got ${chunk}`);
  const vocab = formats[0].decoder.vocabSize;
  const context = Math.min(...formats.map((f) => f.decoder.contextLength));
  if (formats.some((f) => f.decoder.vocabSize !== vocab)) throw new Error('every format must use the same model (vocabulary sizes differ)');

  const totals = formats.map(() => ({ nll: 0, kl: 0, agree: 0, positions: 0, bytes: [] as KvBytes[] }));
  for (let segment = 0; segment < tokens.length - 1; segment += context) {
    const ids = tokens.slice(segment, Math.min(tokens.length, segment + context));
    const stores = formats.map((f) => f.createStore());
    for (let at = 0; at < ids.length; at += chunk) {
      if (options.signal?.aborted) throw new Error('evaluation cancelled');
      const piece = ids.slice(at, at + chunk);
      const rows = await Promise.all(formats.map((f, k) => f.decoder.step(piece, stores[k], { allLogits: true })));
      rows.forEach((r, k) => {
        if (r.length !== piece.length * vocab) throw new Error(`${formats[k].name}: decoder returned ${r.length / vocab} logit rows for ${piece.length} tokens`);
      });
      for (let i = 0; i < piece.length; i++) {
        const target = ids[at + i + 1];
        if (target === undefined) break; // the segment's last token predicts nothing scored here
        const logRef = logSoftmax(rows[0].subarray(i * vocab, (i + 1) * vocab));
        const refTop = argmaxOf(logRef);
        formats.forEach((_, k) => {
          const log = k === 0 ? logRef : logSoftmax(rows[k].subarray(i * vocab, (i + 1) * vocab));
          const t = totals[k];
          t.nll -= log[target];
          if (k > 0) t.kl += kl(logRef, log);
          if (argmaxOf(log) === refTop) t.agree++;
          t.positions++;
        });
      }
      options.onProgress?.(segment + Math.min(at + chunk, ids.length), tokens.length);
    }
    stores.forEach((s, k) => totals[k].bytes.push(s.bytes()));
  }

  return formats.map((f, k) => {
    const t = totals[k];
    const bytes = { ...sumKvBytes(t.bytes), tokens: tokens.length };
    return {
      name: f.name,
      positions: t.positions,
      meanNll: t.nll / t.positions,
      perplexity: Math.exp(t.nll / t.positions),
      meanKl: t.kl / t.positions,
      top1Agreement: t.agree / t.positions,
      bytes,
      bitsPerValue: kvFigures({ tokens: bytes.tokens, held: bytes.held, fp16: bytes.fp16, codebooks: 0 }).bitsPerValue,
    };
  });
}

