// Published model geometries for benchmarks with random weights (speed does not depend on the weights).
import type { ModelConfig } from '../../main/model/config.js';

/** What both configs below share. */
const llamaFamily = { normEps: 1e-5, normWeightOffset: 0, activation: 'silu', qkvBias: false, tiedEmbeddings: true, embeddingScale: 1 } as const;

/** HuggingFaceTB/SmolLM2-135M's config.json. */
export const smolLm2Geometry: ModelConfig = {
  architecture: 'llama',
  hiddenSize: 576,
  numLayers: 30,
  numHeads: 9,
  numKvHeads: 3,
  headDim: 64,
  intermediateSize: 1536,
  vocabSize: 49152,
  maxPositions: 8192,
  ...llamaFamily,
  rope: { theta: 100000, style: 'half', scaling: null },
};

const llama3Rope = (factor: number): ModelConfig['rope'] => ({ theta: 500000, style: 'half', scaling: { type: 'llama3', factor, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } });

/** meta-llama/Llama-3.2-1B's config.json (tied embeddings; one 2.5 GB bf16 model.safetensors). */
export const llama32OneBGeometry: ModelConfig = {
  ...smolLm2Geometry,
  hiddenSize: 2048,
  numLayers: 16,
  numHeads: 32,
  numKvHeads: 8,
  headDim: 64,
  intermediateSize: 8192,
  vocabSize: 128256,
  maxPositions: 131072,
  tiedEmbeddings: true,
  rope: llama3Rope(32),
};

/** meta-llama/Llama-3.1-8B's config.json (untied classifier; four ~5 GB bf16 shards). */
export const llama31EightBGeometry: ModelConfig = {
  ...llama32OneBGeometry,
  hiddenSize: 4096,
  numLayers: 32,
  headDim: 128,
  intermediateSize: 14336,
  tiedEmbeddings: false,
  rope: llama3Rope(8),
};
