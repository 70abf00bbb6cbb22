// The `split` graph for the fused CPU path: the transformer's weights without its attention, as one
// ONNX model (so every weight is loaded once) run in L + 1 segments per step; ONNX Runtime computes
// only the nodes a run's requested outputs need. Attention over the cache runs in the kernel between
// segments.
//   segment 0:      input_ids [1, n]                    -> hidden.0, q.0, k.0, v.0
//   segment i < L:  resid = hidden.{i-1}, attn = layer i-1's attention output [1, n, heads*headDim]
//                                                       -> hidden.i (layer i-1's output), q.i, k.i, v.i
//   segment L:      resid, attn of the last layer       -> logits [1, n, vocab]
// q, k and v are token rows [1, n, heads*headDim] / [1, n, kvHeads*headDim], pre-RoPE.
import type { ModelConfig } from '../../model/config.js';
import type { WeightSource } from '../../model/weights.js';
import { DataType, GraphBuilder, inlineTensors } from '../../onnx/builder.js';
import type { DecoderGraphOptions } from '../../onnx/decoder.js';
import { embedTokens, embeddingTable, layerOutput, layerProjections, logitsRows } from '../../onnx/decoder.js';
import { ModelGraph } from '../../onnx/layers.js';

export const splitGraphName = 'reskv-split';

/** Output names of segment `i` (0..numLayers). */
export function segmentOutputs(config: ModelConfig, i: number): string[] {
  return i === config.numLayers ? ['logits'] : [`hidden.${i}`, `q.${i}`, `k.${i}`, `v.${i}`];
}

export function buildSplitGraph(config: ModelConfig, weights: WeightSource, options: Omit<DecoderGraphOptions, 'cacheType'> = {}): Uint8Array {
  const g = new GraphBuilder(options.store ?? inlineTensors);
  const m = new ModelGraph(g, config, weights, options.weightType ?? 'float32');
  const { hiddenSize: hidden, numHeads, numKvHeads, headDim, vocabSize, numLayers } = config;
  const inputIds = g.input('input_ids', DataType.INT64, [1, 'ids_length']);
  const resid = g.input('resid', DataType.FLOAT, [1, 'resid_length', hidden]);
  const attn = g.input('attn', DataType.FLOAT, [1, 'attn_length', numHeads * headDim]);
  const table = embeddingTable(m);
  const project = (x: string, i: number) => {
    g.op('Identity', [x], {}, `hidden.${i}`);
    g.output(`hidden.${i}`, DataType.FLOAT, [1, 'sequence_length', hidden]);
    const rows = layerProjections(m, x, i);
    for (const [name, value, width] of [['q', rows.q, numHeads * headDim], ['k', rows.k, numKvHeads * headDim], ['v', rows.v, numKvHeads * headDim]] as const) {
      g.op('Identity', [value], {}, `${name}.${i}`);
      g.output(`${name}.${i}`, DataType.FLOAT, [1, 'sequence_length', width]);
    }
  };
  project(embedTokens(m, inputIds, table), 0);
  for (let i = 1; i < numLayers; i++) project(layerOutput(m, resid, attn, i - 1), i);
  const logits = logitsRows(m, layerOutput(m, resid, attn, numLayers - 1), table);
  g.op('Reshape', [logits, g.int64([1, -1, vocabSize])], {}, 'logits');
  g.output('logits', DataType.FLOAT, [1, 'sequence_length', vocabSize]);
  return g.encode(splitGraphName);
}
