// No node of the decoder graphs gets wider with the number of layers: a WebGPU shader binds a few
// storage buffers (inputs + outputs), and a node joining every layer's tensors (the rvq graph's depth
// Split into 2 x layers outputs did) fails at the first run on a 30-layer model while the 2-layer test
// models pass. Structural, so it runs without a GPU (test/gpu/device-cache.test.ts runs 30 layers on one).
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { createRng, parseRvqSpec } from '../../../quant/index.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../../main/onnx/rvq-cache.js';
import { tinyConfig } from '../engine/tiny-model.js';

const spec = parseRvqSpec({ headDim: 8, numKvHeads: 1, groupSize: 4, codebookSize: 16, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });

function config(numLayers: number): ModelConfig {
  return { ...tinyConfig, numLayers, hiddenSize: 16, numHeads: 2, numKvHeads: 1, intermediateSize: 32 };
}

/** The most inputs + outputs of any node. */
function widest(model: Uint8Array): number {
  return Math.max(...onnxProto.onnx.ModelProto.decode(model).graph!.node!.map((n) => (n.input?.length ?? 0) + (n.output?.length ?? 0)));
}

const graphs = {
  fp: (c: ModelConfig) => buildDecoderGraph(c, new RandomWeights(c, 1), { cacheType: 'float16' }),
  rvq: (c: ModelConfig) => {
    const rng = createRng(1);
    const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, () => rng.normal());
    return buildRvqDecoderGraph(c, new RandomWeights(c, 1), { keySpec: spec, valueSpec: spec, layers: Array.from({ length: c.numLayers }, () => ({ key: book(), value: book() })) });
  },
};

describe('decoder graph node width', () => {
  it.each(Object.keys(graphs) as (keyof typeof graphs)[])('the %s graph has no node wider at 30 layers than at 2', (name) => {
    const narrow = widest(graphs[name](config(2)));
    expect(widest(graphs[name](config(30)))).toBe(narrow);
    // depth 8: the rvq codec joins its 8 stages (8 inputs + 1 output), nothing wider
    expect(narrow).toBeLessThanOrEqual(spec.depth + 1);
  });
});
