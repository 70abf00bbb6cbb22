// Decoder graphs with the Hugging Face Optimum interface: input_ids, attention_mask, position_ids
// (int64) and per-layer past K/V in; logits and the updated cache out. The cache handling is a
// strategy so the fp, capture and rvq graphs share one transformer body.
import type { ModelConfig } from '../model/config.js';
import { attentionWindow } from '../model/config.js';
import type { WeightSource } from '../model/weights.js';
import type { BlockQuantSpec } from '../../quant/weight-quant.js';
import type { TensorStore } from './builder.js';
import { DataType, GraphBuilder, inlineTensors } from './builder.js';
import type { WeightType } from './layers.js';
import { ModelGraph } from './layers.js';

export type CacheType = 'float32' | 'float16';

export interface DecoderGraphOptions {
  weightType?: WeightType;
  /** int8/int4: another block size or zero-point choice than the default (for measuring them). */
  linearQuant?: BlockQuantSpec;
  /** int8/int4: MatMulNBits accuracy_level (default 4, int8 activations; 0: float32, exact). */
  accuracyLevel?: 0 | 4;
  /** Element type of past/present K/V in the fp graph. */
  cacheType?: CacheType;
  /** Inline (default) or external data. */
  store?: TensorStore;
  /**
   * Element type of attention_mask, position_ids and the index ranges over the context (default
   * int64, Optimum's). int32 keeps them on a WebGPU device, whose provider runs no int64 kernels.
   */
  indexType?: 'int64' | 'int32';
}

/** Per-graph positions and mask shared by every layer. */
export interface StepContext {
  m: ModelGraph;
  /** RoPE tables at the new tokens' positions. */
  newTables: { cos: string; sin: string };
  /** int64 [1] tensors: number of new tokens, number of past tokens. */
  seqLen: string;
  pastLen: string;
  /** A scalar of the graph's index type (DecoderGraphOptions.indexType). */
  indexConstant(value: number): string;
}

/** How a layer's K/V cache enters and leaves the graph. */
export interface CacheStrategy {
  /** Declares graph inputs (called once before the layers). */
  declareInputs(m: ModelGraph): void;
  /**
   * Given the new tokens' pre-RoPE keys and values [batch, kvHeads, n, headDim], declares the
   * layer's outputs and returns the post-RoPE keys and the values attention runs over.
   */
  layer(ctx: StepContext, layer: number, keysPreRope: string, values: string): { keys: string; values: string };
}

/** Builds the transformer around `cache`; returns the serialized model. */
export function buildTransformerGraph(config: ModelConfig, weights: WeightSource, cache: CacheStrategy, options: DecoderGraphOptions, graphName: string): Uint8Array {
  const g = new GraphBuilder(options.store ?? inlineTensors);
  const m = new ModelGraph(g, config, weights, options.weightType ?? 'float32', options.linearQuant, options.accuracyLevel);
  const { numHeads, numKvHeads, vocabSize } = config;

  const index = options.indexType === 'int32' ? DataType.INT32 : DataType.INT64;
  const inputIds = g.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', index, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', index, ['batch_size', 'sequence_length']);
  cache.declareInputs(m);

  // allowed[b, 0, i, j]: key j is visible to new token i (causal, and not padding)
  const seqLen = g.op('Shape', [inputIds], { start: 1, end: 2 });
  const totalLen = g.op('Shape', [attentionMask], { start: 1, end: 2 });
  const pastLen = g.op('Sub', [totalLen, seqLen]);
  const scalar = (x: string) => (index === DataType.INT64 ? g.op('Squeeze', [x, g.int64([0])]) : g.op('Cast', [g.op('Squeeze', [x, g.int64([0])])], { to: index }));
  const indexConstant = (value: number) => (index === DataType.INT64 ? g.int64([value], []) : g.int32([value], []));
  const keyIndex = g.op('Range', [indexConstant(0), scalar(totalLen), indexConstant(1)]);
  const queryIndex = g.op('Range', [scalar(pastLen), scalar(totalLen), indexConstant(1)]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [keyIndex, g.int64([0])]), g.op('Unsqueeze', [queryIndex, g.int64([1])])]);
  const notPadding = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: DataType.BOOL }), g.int64([1, 2])]);
  const allowed = g.op('And', [causal, notPadding]);
  // sliding-window layers: also query position - key position < window
  let windowed: string | undefined;
  const allowedIn = (layer: number): string => {
    const window = attentionWindow(config, layer);
    if (window === null) return allowed;
    const distance = () => g.op('Sub', [g.op('Unsqueeze', [queryIndex, g.int64([1])]), g.op('Unsqueeze', [keyIndex, g.int64([0])])]);
    windowed ??= g.op('And', [allowed, g.op('Less', [distance(), index === DataType.INT64 ? g.int64([window], []) : g.int32([window], [])])]);
    return windowed;
  };
  const ctx: StepContext = { m, newTables: m.ropeTables(positionIds), seqLen, pastLen, indexConstant };

  let x = g.scope('weights', () => embedTokens(m, inputIds));

  // node names are scoped by what they do (weights, kv-cache, attention) for per-part profiles
  for (let i = 0; i < config.numLayers; i++) {
    const { q, k, v } = g.scope('weights', () => {
      const rows = layerProjections(m, x, i);
      return { q: m.splitHeads(rows.q, numHeads), k: m.splitHeads(rows.k, numKvHeads), v: m.splitHeads(rows.v, numKvHeads) };
    });
    const kv = g.scope('kv-cache', () => cache.layer(ctx, i, k, v));
    const attn = g.scope('attention', () => m.attention(m.rope(q, ctx.newTables), kv.keys, kv.values, allowedIn(i)));
    const residual = x;
    x = g.scope('weights', () => layerOutput(m, residual, attn, i));
  }

  const flat = g.scope('weights', () => logitsRows(m, x));
  const logitsShape = g.op('Concat', [g.op('Shape', [inputIds]), g.int64([vocabSize])], { axis: 0 });
  g.op('Reshape', [flat, logitsShape], {}, 'logits');
  g.output('logits', DataType.FLOAT, ['batch_size', 'sequence_length', vocabSize]);
  return g.encode(graphName);
}

/** Token embeddings [batch, n, hidden] of int64 ids [batch, n] (Gemma scales them by sqrt(hidden)). */
export function embedTokens(m: ModelGraph, inputIds: string): string {
  const { g, config } = m;
  const x = m.embed(inputIds);
  return config.embeddingScale === 1 ? x : g.op('Mul', [x, g.float([config.embeddingScale], [])]);
}

/** Layer `i`'s normed input projected to token rows q [b, n, heads*d], k and v [b, n, kvHeads*d] (pre-RoPE). */
export function layerProjections(m: ModelGraph, x: string, i: number): { q: string; k: string; v: string } {
  const { hiddenSize: hidden, numHeads, numKvHeads, headDim } = m.config;
  const p = `model.layers.${i}.`;
  const xn = m.rmsNorm(x, `${p}input_layernorm.weight`);
  return {
    q: m.linear(xn, `${p}self_attn.q_proj`, numHeads * headDim, hidden),
    k: m.linear(xn, `${p}self_attn.k_proj`, numKvHeads * headDim, hidden),
    v: m.linear(xn, `${p}self_attn.v_proj`, numKvHeads * headDim, hidden),
  };
}

/** Layer `i`'s output: x + o_proj(attn), then the MLP block with its residual. attn is [b, n, heads*d]. */
export function layerOutput(m: ModelGraph, x: string, attn: string, i: number): string {
  const { g, config } = m;
  const { hiddenSize: hidden, numHeads, headDim, intermediateSize } = config;
  const p = `model.layers.${i}.`;
  // Gemma-2 (sandwichNorms) normalizes each block's output before the residual add
  const outputNorm = (y: string, name: string) => (config.sandwichNorms ? m.rmsNorm(y, `${p}${name}.weight`) : y);
  const h = g.op('Add', [x, outputNorm(m.linear(attn, `${p}self_attn.o_proj`, hidden, numHeads * headDim), 'post_attention_layernorm')]);
  const hn = m.rmsNorm(h, `${p}${config.sandwichNorms ? 'pre_feedforward' : 'post_attention'}_layernorm.weight`);
  const gate = m.activation(m.linear(hn, `${p}mlp.gate_proj`, intermediateSize, hidden));
  const up = m.linear(hn, `${p}mlp.up_proj`, intermediateSize, hidden);
  return g.op('Add', [h, outputNorm(m.linear(g.op('Mul', [gate, up]), `${p}mlp.down_proj`, hidden, intermediateSize), 'post_feedforward_layernorm')]);
}

/** logits [b*n, vocab] of norm(x) through the classifier (the embedding when tied), soft-capped where the model caps them. */
export function logitsRows(m: ModelGraph, x: string): string {
  const { g, config } = m;
  const logits = m.classifier(g.op('Reshape', [m.rmsNorm(x, 'model.norm.weight'), g.int64([-1, config.hiddenSize])]));
  return config.logitSoftcap ? m.softcap(logits, config.logitSoftcap) : logits;
}

/**
 * The baseline `fp` graph: past_key_values.{i}.key/value (post-RoPE, Optimum layout) in, present.{i}.*
 * (past + new) out, and new.{i}.* (the new tokens' rows alone: what a host copy appends while the
 * present stays on a GPU to be fed back).
 */
export function buildDecoderGraph(config: ModelConfig, weights: WeightSource, options: DecoderGraphOptions = {}): Uint8Array {
  const cacheElem = options.cacheType === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  const dims = ['batch_size', config.numKvHeads, 'past_sequence_length', config.headDim];
  const outDims = ['batch_size', config.numKvHeads, 'total_sequence_length', config.headDim];
  const newDims = ['batch_size', config.numKvHeads, 'sequence_length', config.headDim];
  const fp: CacheStrategy = {
    declareInputs(m) {
      for (let i = 0; i < config.numLayers; i++) {
        m.g.input(`past_key_values.${i}.key`, cacheElem, dims);
        m.g.input(`past_key_values.${i}.value`, cacheElem, dims);
      }
    },
    layer(ctx, i, keysPreRope, values) {
      const { g } = ctx.m;
      const toFloat = (x: string) => (cacheElem === DataType.FLOAT ? x : g.op('Cast', [x], { to: DataType.FLOAT }));
      const newKeys = ctx.m.rope(keysPreRope, ctx.newTables);
      const keys = g.op('Concat', [toFloat(`past_key_values.${i}.key`), newKeys], { axis: 2 });
      const allValues = g.op('Concat', [toFloat(`past_key_values.${i}.value`), values], { axis: 2 });
      const asCached = (t: string, name: string, shape: (string | number)[]) => {
        if (cacheElem === DataType.FLOAT) g.op('Identity', [t], {}, name);
        else g.op('Cast', [t], { to: cacheElem }, name);
        g.output(name, cacheElem, shape);
      };
      for (const [kind, all, fresh] of [['key', keys, newKeys], ['value', allValues, values]] as const) {
        asCached(all, `present.${i}.${kind}`, outDims);
        asCached(fresh, `new.${i}.${kind}`, newDims);
      }
      return { keys, values: allValues };
    },
  };
  return buildTransformerGraph(config, weights, fp, options, 'reskv-fp');
}

/**
 * The `capture` graph for codebook calibration: a full-sequence forward (no past) that also
 * outputs every layer's pre-RoPE keys and values, keys_pre_rope.{i} / values.{i} [batch, kvHeads, n, headDim].
 */
export function buildCaptureGraph(config: ModelConfig, weights: WeightSource, options: DecoderGraphOptions = {}): Uint8Array {
  const dims = ['batch_size', config.numKvHeads, 'sequence_length', config.headDim];
  const capture: CacheStrategy = {
    declareInputs() {},
    layer(ctx, i, keysPreRope, values) {
      const { g } = ctx.m;
      g.op('Identity', [keysPreRope], {}, `keys_pre_rope.${i}`);
      g.op('Identity', [values], {}, `values.${i}`);
      g.output(`keys_pre_rope.${i}`, DataType.FLOAT, dims);
      g.output(`values.${i}`, DataType.FLOAT, dims);
      return { keys: ctx.m.rope(keysPreRope, ctx.newTables), values };
    },
  };
  return buildTransformerGraph(config, weights, capture, options, 'reskv-capture');
}
