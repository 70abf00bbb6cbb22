// The `split` graphs for the fused CPU path: the transformer's weights without its attention, as
// L + 1 ONNX models run one after another per step (ONNX Runtime runs a whole graph whatever outputs
// are asked for, so each segment is its own session). Attention over the cache runs in the kernel
// between segments.
//   segment 0:      input_ids [1, n]                    -> hidden.0, qkv.0
//   segment i < L:  resid = hidden.{i-1}, attn = layer i-1's attention output [1, n, heads*headDim]
//                                                       -> hidden.i (layer i-1's output), qkv.i
//   segment L:      resid, attn of the last layer       -> logits [1, n, vocab]
// qkv rows [1, n, (heads + 2 kvHeads) * headDim] hold each token's q, k and v side by side, pre-RoPE
// (one output: a decoded token's three are views of it). A tied embedding is in segments 0 and L both.
// q, k, v and gate/up stay separate MatMuls: joining their weights by a Concat that ONNX Runtime folds
// at session creation cut the MatMuls a layer from 7 to 4 but left ~160 MiB more resident (SmolLM2-135M,
// fp32, weights in the external file: 534 vs 375 MiB for the 31 sessions); joined weights would have to
// be stored joined.
import type * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../../model/config.js';
import type { WeightSource } from '../../model/weights.js';
import { DataType, GraphBuilder, inlineTensors } from '../../onnx/builder.js';
import type { DecoderGraphOptions } from '../../onnx/decoder.js';
import { embedTokens, layerOutput, layerProjections, logitsRows } from '../../onnx/decoder.js';
import { ModelGraph } from '../../onnx/layers.js';
import { createSession } from '../session.js';
import type { SessionOptionsInput } from '../session.js';

export const splitGraphName = 'reskv-split';

/**
 * Version of the segments this builder writes, recorded in the manifest beside their hashes: raise it
 * whenever the bytes change (a unit test pins a segment's hash), so that files written by an earlier
 * version are rebuilt instead of trusted.
 */
export const splitGraphVersion = 2;

/** Output names of segment `i` (0..numLayers). */
export function segmentOutputs(config: ModelConfig, i: number): string[] {
  return i === config.numLayers ? ['logits'] : [`hidden.${i}`, `qkv.${i}`];
}

/** Segment `i` (0..numLayers) as a serialized model. */
export function buildSplitSegment(config: ModelConfig, weights: WeightSource, i: number, options: Omit<DecoderGraphOptions, 'cacheType'> = {}): Uint8Array {
  const g = new GraphBuilder(options.store ?? inlineTensors);
  const m = new ModelGraph(g, config, weights, options.weightType ?? 'float32', options.linearQuant, options.accuracyLevel, 'fusable');
  const { hiddenSize: hidden, numHeads, numKvHeads, headDim, vocabSize, numLayers } = config;
  if (!Number.isInteger(i) || i < 0 || i > numLayers) throw new RangeError(`segment ${i} is outside 0..${numLayers}`);
  const layerInput = () => {
    const resid = g.input('resid', DataType.FLOAT, [1, 'sequence_length', hidden]);
    const attn = g.input('attn', DataType.FLOAT, [1, 'sequence_length', numHeads * headDim]);
    return layerOutput(m, resid, attn, i - 1);
  };
  if (i === numLayers) {
    g.op('Reshape', [logitsRows(m, layerInput()), g.int64([1, -1, vocabSize])], {}, 'logits');
    g.output('logits', DataType.FLOAT, [1, 'sequence_length', vocabSize]);
    return g.encode(`${splitGraphName}.${i}`);
  }
  const x = i === 0 ? embedTokens(m, g.input('input_ids', DataType.INT64, [1, 'sequence_length'])) : layerInput();
  g.op('Identity', [x], {}, `hidden.${i}`);
  g.output(`hidden.${i}`, DataType.FLOAT, [1, 'sequence_length', hidden]);
  const { q, k, v } = layerProjections(m, x, i);
  g.op('Concat', [q, k, v], { axis: -1 }, `qkv.${i}`);
  g.output(`qkv.${i}`, DataType.FLOAT, [1, 'sequence_length', (numHeads + 2 * numKvHeads) * headDim]);
  return g.encode(`${splitGraphName}.${i}`);
}

/** Every segment, 0..numLayers. */
export function buildSplitSegments(config: ModelConfig, weights: WeightSource, options: Omit<DecoderGraphOptions, 'cacheType'> = {}): Uint8Array[] {
  return Array.from({ length: config.numLayers + 1 }, (_, i) => buildSplitSegment(config, weights, i, options));
}

/**
 * The engine's segment pools spin this long before sleeping: on an idle machine a step took 0.93x the
 * time of sleeping pools at 128 tokens and 0.98x at 2048 (bench:step, 2026-12-05, fp16); on a loaded
 * one it was slower (1.08x), where the spin takes a core from other work.
 */
export const SEGMENT_SPIN_US = 50;

/**
 * Sessions of the segments (models or model files) on the CPU provider (the fused path is the CPU
 * path), with ONNX Runtime's thread count unless asked and pool threads that sleep between runs: every
 * session has its own pool, and pools spinning after each of a step's many short runs took the cores
 * from the running segment and the kernel (820 ms a step at 128 tokens against 47 ms sleeping, 63 ms
 * on one thread, 2 cores). `spinning` (microseconds): pool threads spin that long after each parallel
 * section instead of sleeping at once (bench:step A/Bs it; the engine opens them with SEGMENT_SPIN_US).
 */
export async function openSplitSessions(models: readonly (Uint8Array | string)[], session: SessionOptionsInput = {}, spinning: false | number = false): Promise<ort.InferenceSession[]> {
  const sessions: ort.InferenceSession[] = [];
  try {
    for (const model of models) sessions.push((await createSession(model, { ...session, providers: ['cpu'] }, { spinning })).session);
  } catch (error) {
    await Promise.all(sessions.map((s) => s.release()));
    throw error;
  }
  return sessions;
}
