// "Does it fit?": before a model is opened, its weights (as ONNX Runtime holds them), the KV cache
// at the chosen context and format, the codebooks and a runtime reserve are compared with the
// machine's free memory. A refusal says what would fit instead: a shorter context, the RVQ cache,
// int4 weights. The byte accounting is main/model/memory.ts, which the Cost view's weights row uses too.
import { existsSync, statSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import type { ModelManifest } from '../model/manifest.js';
import type { CacheChoice } from './cache-runtime.js';
import { kvBytesPerTokenFp16 } from '../model/config.js';
import type { FitQuestion, MemoryNeed } from '../model/memory.js';
import { longestFittingContext, memoryNeed, paperRvqBytesPerToken, paperRvqCodebookBytes } from '../model/memory.js';

/** A depth some codebook set could have (quant/spec.ts allows 1..64 stages); undefined means the set's own. */
const plausibleDepth = (depth: number | undefined) => depth === undefined || (Number.isInteger(depth) && depth >= 1 && depth <= 64);

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** What would fit instead, for a refusal message. */
function alternatives(q: FitQuestion, free: number): string[] {
  const out: string[] = [];
  const shorter = longestFittingContext(q, free);
  if (shorter >= 256) out.push(`a context of at most ${shorter} tokens`);
  const rvqBytes = paperRvqBytesPerToken(q.config, 8);
  if (rvqBytes !== null && rvqBytes < q.kvBytesPerToken) {
    const withRvq = { ...q, kvBytesPerToken: rvqBytes, codebookBytes: paperRvqCodebookBytes(q.config, 8)! };
    const context = longestFittingContext(withRvq, free);
    if (context >= q.context) out.push(`the rvq cache at depth 8 (about ${gib(memoryNeed(withRvq).total)})`);
    else if (context >= 256) out.push(`the rvq cache at depth 8 with at most ${context} tokens`);
  }
  if (q.weightType !== 'int4') {
    const int4 = { ...q, weightType: 'int4' as const };
    if (memoryNeed(int4).total <= free) out.push(`int4 weights (re-import with --weights int4: about ${gib(memoryNeed(int4).total)})`);
  }
  return out;
}

export class DoesNotFitError extends Error {}

/** Throws DoesNotFitError naming the parts and what would fit, when `q` needs more than `free` bytes. */
export function checkFits(modelId: string, q: FitQuestion, free: number): MemoryNeed {
  const need = memoryNeed(q);
  if (need.total <= free) return need;
  const parts = `weights ${gib(need.weights)} (${q.weightType}), KV cache ${gib(need.kvCache)} at ${q.context} tokens, codebooks ${gib(need.codebooks)}, runtime ${gib(need.reserve)}`;
  const instead = alternatives(q, free);
  throw new DoesNotFitError(
    `model ${modelId} does not fit: it needs about ${gib(need.total)} (${parts}) and ${gib(free)} of memory is free.` +
      (instead.length ? ` It would fit with ${instead.join('; or ')}.` : ' Nothing smaller fits either: free memory or choose a smaller model.'),
  );
}

/** Bytes of RAM the operating system can hand out now (MemAvailable on Linux). */
export function freeMemory(): number {
  return freemem();
}

/**
 * The context to open `manifest`'s model with under `cache`: `context` when given (refused when it
 * does not fit), else the model's full context, shortened to what fits (at least 2048 tokens) when
 * the full one does not.
 */
export function fittingContext(folder: string, manifest: ModelManifest, cache: CacheChoice, context: number | undefined, free: number): number {
  const c = manifest.config;
  const set = cache.format === 'rvq' ? (manifest.rvq[cache.codebooks ?? 'default'] ?? Object.values(manifest.rvq)[0]) : undefined;
  const question: Omit<FitQuestion, 'context'> = {
    config: c,
    weightType: manifest.weightType,
    // an installed set's exact spec is in its codebook file; the paper setting at the chosen depth is close
    // (scalar formats are counted at fp16, an upper bound)
    // (a depth no spec can have is counted at fp16 here; opening the cache then refuses it, naming the set's depths)
    kvBytesPerToken: (cache.format === 'rvq' && plausibleDepth(cache.depth) ? paperRvqBytesPerToken(c, cache.depth ?? 8) : null) ?? kvBytesPerTokenFp16(c),
    codebookBytes: set && existsSync(join(folder, set.codebooks)) ? statSync(join(folder, set.codebooks)).size : 0,
  };
  if (context === undefined) {
    const longest = longestFittingContext(question, free);
    context = longest >= Math.min(2048, c.maxPositions) ? longest : c.maxPositions;
  }
  checkFits(manifest.id, { ...question, context }, free);
  return context;
}
