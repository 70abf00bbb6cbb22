// The shape of a decoder-only transformer as far as cost goes: what sets its weight bytes, its KV
// bytes per token, its FLOPs per token and its context limit. Field names follow main/model's
// ModelConfig so a library model's config can be passed in as it is.
import { z } from 'zod';

const positiveInt = z.number().int('must be a whole number').min(1, 'must be at least 1');

export const modelGeometrySchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty'),
    /** Where the numbers come from (e.g. the Hugging Face repository of its config.json). */
    source: z.string().optional(),
    numLayers: positiveInt,
    hiddenSize: positiveInt,
    numHeads: positiveInt,
    numKvHeads: positiveInt,
    headDim: positiveInt,
    intermediateSize: positiveInt,
    vocabSize: positiveInt,
    /** max_position_embeddings: the longest context the model supports. */
    maxPositions: positiveInt,
    /** q/k/v projections carry biases (Qwen2). */
    qkvBias: z.boolean(),
    /** lm_head shares the token embedding matrix. */
    tiedEmbeddings: z.boolean(),
    /** sliding_window when the model uses it (Mistral-7B-v0.1: 4096); reported, not modelled. */
    slidingWindow: positiveInt.optional(),
  })
  .superRefine((g, ctx) => {
    if (g.numHeads % g.numKvHeads !== 0) {
      ctx.addIssue({ code: 'custom', path: ['numKvHeads'], message: `${g.numKvHeads} must divide numHeads (${g.numHeads})` });
    }
  });

export type ModelGeometry = z.infer<typeof modelGeometrySchema>;

export interface ParameterBreakdown {
  /** Token embedding table, vocab x hidden. */
  embedding: number;
  /** Every decoder layer: q/k/v/o projections (+ q/k/v biases), gated MLP (gate, up, down), two norms. */
  layers: number;
  finalNorm: number;
  /** Output projection; 0 when tied to the embedding. */
  lmHead: number;
  total: number;
}

/**
 * Parameters from the geometry. Attention: q and o are hidden x (heads*headDim), k and v are
 * hidden x (kvHeads*headDim) (grouped-query attention). MLP: three hidden x intermediate matrices
 * (SwiGLU / GeGLU, as in every architecture ResKV runs). RMSNorm: one hidden-sized weight each.
 */
export function parameterBreakdown(g: ModelGeometry): ParameterBreakdown {
  const qWidth = g.numHeads * g.headDim;
  const kvWidth = g.numKvHeads * g.headDim;
  const attention = 2 * g.hiddenSize * qWidth + 2 * g.hiddenSize * kvWidth + (g.qkvBias ? qWidth + 2 * kvWidth : 0);
  const mlp = 3 * g.hiddenSize * g.intermediateSize;
  const norms = 2 * g.hiddenSize;
  const embedding = g.vocabSize * g.hiddenSize;
  const layers = g.numLayers * (attention + mlp + norms);
  const finalNorm = g.hiddenSize;
  const lmHead = g.tiedEmbeddings ? 0 : g.vocabSize * g.hiddenSize;
  return { embedding, layers, finalNorm, lmHead, total: embedding + layers + finalNorm + lmHead };
}

/**
 * Parameters every token is multiplied by, so also what a decode step streams from memory: all but an
 * untied input embedding table, of which a token only gathers one row (a tied table is the lm_head).
 */
export function matmulParameters(p: ParameterBreakdown): number {
  return p.total - (p.lmHead > 0 ? p.embedding : 0);
}

/**
 * Forward FLOPs for one token whose attention spans `attended` positions: 2 per multiply-add with a
 * weight, plus QK^T and AV (2 * 2 * heads*headDim per attended position per layer).
 */
export function forwardFlopsPerToken(g: ModelGeometry, p: ParameterBreakdown, attended: number): number {
  return 2 * matmulParameters(p) + 4 * g.numLayers * g.numHeads * g.headDim * attended;
}

/** A library manifest's (or a Hugging Face config's) normalized ModelConfig as a cost geometry. */
export function geometryFromModelConfig(name: string, source: string, c: Omit<ModelGeometry, 'name' | 'source' | 'slidingWindow'>): ModelGeometry {
  return {
    name,
    source,
    numLayers: c.numLayers,
    hiddenSize: c.hiddenSize,
    numHeads: c.numHeads,
    numKvHeads: c.numKvHeads,
    headDim: c.headDim,
    intermediateSize: c.intermediateSize,
    vocabSize: c.vocabSize,
    maxPositions: c.maxPositions,
    qkvBias: c.qkvBias,
    tiedEmbeddings: c.tiedEmbeddings,
  };
}
