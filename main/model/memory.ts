// The memory a model needs, as pure byte accounting from its geometry (no files, no machine): its
// weights as ONNX Runtime holds them, the KV cache at a context and format, the codebooks and a
// runtime reserve. The fit check (main/engine/fit.ts) compares these with free memory before a model
// opens; the Cost view's weights row uses the same figures (memoryFigures).
import type { RvqSpec } from '../../quant/index.js';
import { parseRvqSpec, rvqBytesPerToken, rvqCodebookBytes } from '../../quant/index.js';
import type { WeightGeometry } from './config.js';
import { kvBytesPerTokenFp16 } from './config.js';
import type { WeightBytes, WeightType } from './weights.js';
import { weightBytes } from './weights.js';

/** ONNX Runtime, the Node process and the tokenizer, beyond weights and cache. */
const runtimeBaseBytes = 512 * 2 ** 20;

export interface MemoryNeed {
  weights: number;
  kvCache: number;
  codebooks: number;
  /** Runtime base plus one layer's K/V widened to float32 for attention (transient, per step). */
  reserve: number;
  total: number;
}

export interface FitQuestion {
  config: WeightGeometry;
  weightType: WeightType;
  context: number;
  /** KV bytes one token holds in the chosen cache format (every layer, K and V). */
  kvBytesPerToken: number;
  codebookBytes: number;
}

function transientPerToken(c: WeightGeometry): number {
  return 2 * c.numKvHeads * c.headDim * 4;
}

export function memoryNeed(q: FitQuestion): MemoryNeed {
  const weights = weightBytes(q.config, q.weightType).inMemory;
  const kvCache = q.context * q.kvBytesPerToken;
  const reserve = runtimeBaseBytes + q.context * transientPerToken(q.config);
  return { weights, kvCache, codebooks: q.codebookBytes, reserve, total: weights + kvCache + q.codebookBytes + reserve };
}

/** The longest context that fits in `free` bytes (0 when not even the weights fit). */
export function longestFittingContext(q: Omit<FitQuestion, 'context'>, free: number): number {
  const fixed = memoryNeed({ ...q, context: 0 }).total;
  return Math.max(0, Math.min(q.config.maxPositions, Math.floor((free - fixed) / (q.kvBytesPerToken + transientPerToken(q.config)))));
}

/** The paper's RVQ setting (groups of 32, C 2048) at `depth` for this geometry; null when no 32-group fits. */
export function paperRvqSpec(c: WeightGeometry, depth: number): RvqSpec | null {
  const base = { headDim: c.headDim, numKvHeads: c.numKvHeads, groupSize: 32, codebookSize: 2048, depth, grouping: 'strided' } as const;
  return c.headDim % 32 === 0 ? parseRvqSpec({ ...base, groupSpan: 'head', scale: 'head' })
    : (c.headDim * c.numKvHeads) % 32 === 0 ? parseRvqSpec({ ...base, groupSpan: 'token', scale: 'token' })
    : null;
}

/** K+V bytes per token, all layers, of an RVQ cache at the paper's setting and `depth` (null when none fits). */
export function paperRvqBytesPerToken(c: WeightGeometry, depth = 8): number | null {
  const spec = paperRvqSpec(c, depth);
  return spec ? 2 * c.numLayers * rvqBytesPerToken(spec) : null;
}

/** K+V float32 codebook bytes, all layers, at the paper's setting and `depth` (null when none fits). */
export function paperRvqCodebookBytes(c: WeightGeometry, depth = 8): number | null {
  const spec = paperRvqSpec(c, depth);
  return spec ? 2 * c.numLayers * rvqCodebookBytes(spec) : null;
}

/** A KV cache as the memory figures count it: fp16, or RVQ at the paper's setting and a depth. */
export type CacheFigure = { format: 'fp16' } | { format: 'rvq'; depth: number };

export interface MemoryFigures extends MemoryNeed {
  /** The weights file's bytes and what ONNX Runtime holds on CPU (float16 matrices widened to float32). */
  weightBytes: WeightBytes;
  kvBytesPerToken: number;
}

/**
 * The fit check's figures for a geometry at `context` tokens: weights, KV cache, codebooks, reserve
 * and their total, in bytes. RVQ is counted at the paper's setting (groups of 32, 2048 entries);
 * throws RangeError when no 32-channel group fits the geometry's K/V width.
 */
export function memoryFigures(g: WeightGeometry, weightType: WeightType, cache: CacheFigure, context: number): MemoryFigures {
  let kvBytesPerToken = kvBytesPerTokenFp16(g);
  let codebookBytes = 0;
  if (cache.format === 'rvq') {
    const spec = paperRvqSpec(g, cache.depth);
    if (!spec) throw new RangeError(`no RVQ groups of 32 fit head_dim ${g.headDim} x ${g.numKvHeads} KV heads`);
    kvBytesPerToken = 2 * g.numLayers * rvqBytesPerToken(spec);
    codebookBytes = 2 * g.numLayers * rvqCodebookBytes(spec);
  }
  const need = memoryNeed({ config: g, weightType, context, kvBytesPerToken, codebookBytes });
  return { ...need, weightBytes: weightBytes(g, weightType), kvBytesPerToken };
}
