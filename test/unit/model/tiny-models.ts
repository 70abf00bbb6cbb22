// Tiny model configs covering every supported architecture and the features the issue lists:
// GQA ratio > 1, rope_theta != 10000, llama3 rope scaling, Gemma head_dim != hidden/heads, tied and untied,
// Gemma-2's soft-capping, query_pre_attn_scalar and sandwich norms, sliding windows shorter than the tests' sequences.
import type { ModelConfig } from '../../../main/model/config.js';

const base: ModelConfig = {
  architecture: 'llama',
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  intermediateSize: 48,
  vocabSize: 300,
  maxPositions: 256,
  normEps: 1e-5,
  normWeightOffset: 0,
  activation: 'silu',
  qkvBias: false,
  tiedEmbeddings: false,
  embeddingScale: 1,
  rope: { theta: 10000, style: 'half', scaling: null },
};

const gemma: ModelConfig = { ...base, architecture: 'gemma', headDim: 12, normWeightOffset: 1, activation: 'gelu_tanh', tiedEmbeddings: true, embeddingScale: Math.sqrt(32), normEps: 1e-6 };

export const tinyModels: Record<string, ModelConfig> = {
  'llama3 (GQA 2, theta 500000, llama3 scaling, untied)': {
    ...base,
    rope: { theta: 500000, style: 'half', scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 512 } },
  },
  'llama (MHA, tied)': { ...base, numKvHeads: 4, tiedEmbeddings: true },
  'mistral (GQA 4, theta 1e6, 4-token sliding window)': { ...base, architecture: 'mistral', numKvHeads: 1, rope: { theta: 1e6, style: 'half', scaling: null }, slidingWindow: { size: 4, layers: [0, 1] } },
  'qwen2 (qkv biases, tied, GQA 2)': { ...base, architecture: 'qwen2', qkvBias: true, tiedEmbeddings: true, normEps: 1e-6, rope: { theta: 1e6, style: 'half', scaling: null } },
  'gemma (head_dim 12 != 32/4, GeLU-tanh, (1+w) norm, scaled embeddings)': { ...gemma, numKvHeads: 1 },
  // caps small enough to bite on random weights; the scalar differs from head_dim so it is not ignored
  'gemma2 (soft-capped scores and logits, query_pre_attn_scalar 20, sandwich norms, window 4 on layer 0)': {
    ...gemma,
    architecture: 'gemma2',
    attentionScalar: 20,
    attentionSoftcap: 1.5,
    logitSoftcap: 2,
    sandwichNorms: true,
    slidingWindow: { size: 4, layers: [0] },
  },
};
