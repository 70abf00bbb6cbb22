// Built-in model geometries, copied from each model's published config.json on Hugging Face
// (repository named in `source`; values as of the original releases). `publishedParameters` is
// the size the Hugging Face model page reports from the safetensors files, used by the tests to
// check parameterBreakdown().
import type { ModelGeometry } from './model-geometry.js';

export interface ModelPreset {
  id: string;
  geometry: ModelGeometry;
  publishedParameters: number;
}

export const modelPresets: readonly ModelPreset[] = [
  {
    id: 'llama-3-8b',
    geometry: {
      name: 'Llama-3-8B',
      source: 'meta-llama/Meta-Llama-3-8B config.json',
      numLayers: 32, hiddenSize: 4096, numHeads: 32, numKvHeads: 8, headDim: 128, intermediateSize: 14336,
      vocabSize: 128256, maxPositions: 8192, qkvBias: false, tiedEmbeddings: false,
    },
    publishedParameters: 8.03e9,
  },
  {
    id: 'llama-3-70b',
    geometry: {
      name: 'Llama-3-70B',
      source: 'meta-llama/Meta-Llama-3-70B config.json',
      numLayers: 80, hiddenSize: 8192, numHeads: 64, numKvHeads: 8, headDim: 128, intermediateSize: 28672,
      vocabSize: 128256, maxPositions: 8192, qkvBias: false, tiedEmbeddings: false,
    },
    publishedParameters: 70.6e9,
  },
  {
    id: 'llama-3.2-1b',
    geometry: {
      name: 'Llama-3.2-1B',
      source: 'meta-llama/Llama-3.2-1B config.json (head_dim 64, rope_scaling llama3 factor 32)',
      numLayers: 16, hiddenSize: 2048, numHeads: 32, numKvHeads: 8, headDim: 64, intermediateSize: 8192,
      vocabSize: 128256, maxPositions: 131072, qkvBias: false, tiedEmbeddings: true,
    },
    publishedParameters: 1.24e9,
  },
  {
    id: 'mistral-7b-v0.1',
    geometry: {
      name: 'Mistral-7B-v0.1',
      source: 'mistralai/Mistral-7B-v0.1 config.json',
      numLayers: 32, hiddenSize: 4096, numHeads: 32, numKvHeads: 8, headDim: 128, intermediateSize: 14336,
      vocabSize: 32000, maxPositions: 32768, qkvBias: false, tiedEmbeddings: false, slidingWindow: 4096,
    },
    publishedParameters: 7.24e9,
  },
  {
    id: 'gemma-7b',
    geometry: {
      name: 'Gemma-7B',
      source: 'google/gemma-7b config.json (head_dim 256, tied embeddings)',
      numLayers: 28, hiddenSize: 3072, numHeads: 16, numKvHeads: 16, headDim: 256, intermediateSize: 24576,
      vocabSize: 256000, maxPositions: 8192, qkvBias: false, tiedEmbeddings: true,
    },
    publishedParameters: 8.54e9,
  },
  {
    id: 'qwen2.5-7b',
    geometry: {
      name: 'Qwen2.5-7B',
      source: 'Qwen/Qwen2.5-7B config.json (q/k/v biases)',
      numLayers: 28, hiddenSize: 3584, numHeads: 28, numKvHeads: 4, headDim: 128, intermediateSize: 18944,
      vocabSize: 152064, maxPositions: 131072, qkvBias: true, tiedEmbeddings: false,
    },
    publishedParameters: 7.61e9,
  },
  {
    id: 'smollm2-135m',
    geometry: {
      name: 'SmolLM2-135M',
      source: 'HuggingFaceTB/SmolLM2-135M config.json (tied embeddings)',
      numLayers: 30, hiddenSize: 576, numHeads: 9, numKvHeads: 3, headDim: 64, intermediateSize: 1536,
      vocabSize: 49152, maxPositions: 8192, qkvBias: false, tiedEmbeddings: true,
    },
    publishedParameters: 135e6,
  },
];

export function findModelPreset(id: string): ModelPreset | undefined {
  const wanted = id.toLowerCase();
  return modelPresets.find((p) => p.id === wanted || p.geometry.name.toLowerCase() === wanted);
}
