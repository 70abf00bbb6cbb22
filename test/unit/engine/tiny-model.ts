// A tiny Llama geometry for running real ONNX graphs in tests (weights from the model team's RandomWeights).
import type { ModelConfig } from '../../../main/model/config.js';

export const tinyConfig: ModelConfig = {
  architecture: 'llama', hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8, intermediateSize: 64,
  vocabSize: 48, maxPositions: 40, normEps: 1e-5, normWeightOffset: 0, activation: 'silu', qkvBias: false,
  tiedEmbeddings: false, embeddingScale: 1, rope: { theta: 10000, style: 'half', scaling: null },
};
