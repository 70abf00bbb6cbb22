// The normalized description of a decoder-only transformer that every reader produces and every
// graph builder / reference forward consumes. One type for llama2.c files and Hugging Face folders.
import { z } from 'zod';

export const supportedArchitectures = ['llama', 'mistral', 'qwen2', 'gemma', 'gemma2'] as const;
export type Architecture = (typeof supportedArchitectures)[number];

const positiveInt = z.number().int().positive();

/** The schema validates configs read back from files (the library manifest); the type is its output. */
export const modelConfigSchema = z.object({
  architecture: z.enum(supportedArchitectures),
  hiddenSize: positiveInt,
  numLayers: positiveInt,
  numHeads: positiveInt,
  numKvHeads: positiveInt,
  headDim: positiveInt,
  intermediateSize: positiveInt,
  vocabSize: positiveInt,
  maxPositions: positiveInt,
  normEps: z.number().positive(),
  /** RMSNorm multiplies by (offset + w): 0 for Llama, 1 for Gemma. */
  normWeightOffset: z.number(),
  activation: z.enum(['silu', 'gelu_tanh']),
  qkvBias: z.boolean(),
  tiedEmbeddings: z.boolean(),
  /** Token embeddings are multiplied by this (Gemma: sqrt(hidden)). */
  embeddingScale: z.number().positive(),
  /** Attention scores are q.k / sqrt(this); headDim when absent (Gemma-2: query_pre_attn_scalar). */
  attentionScalar: z.number().positive().optional(),
  /** Gemma-2 soft-capping: attention scores and final logits become cap * tanh(x / cap). */
  attentionSoftcap: z.number().positive().optional(),
  logitSoftcap: z.number().positive().optional(),
  /**
   * Gemma-2's four norms per layer: post_attention_layernorm normalizes the attention output before
   * the residual add, pre_/post_feedforward_layernorm wrap the MLP the same way.
   */
  sandwichNorms: z.boolean().optional(),
  /**
   * Sliding-window attention: on these layers a token sees only the `size` newest positions, itself
   * included (transformers' masks). Mistral: every layer; Gemma-2: even layers; Qwen2: layers from
   * max_window_layers on.
   */
  slidingWindow: z.object({ size: positiveInt, layers: z.array(z.number().int().nonnegative()) }).optional(),
  rope: z.object({
    theta: z.number().positive(),
    /** 'interleaved': pairs (2i, 2i+1) rotate together (llama2.c); 'half': pairs (i, i + d/2) (Hugging Face). */
    style: z.enum(['interleaved', 'half']),
    scaling: z
      .discriminatedUnion('type', [
        // Llama 3: long wavelengths divided by factor, short ones kept, smooth in between
        z.object({ type: z.literal('llama3'), factor: z.number().positive(), lowFreqFactor: z.number().positive(), highFreqFactor: z.number().positive(), originalMaxPositions: positiveInt }),
        // linear position interpolation: every frequency divided by factor
        z.object({ type: z.literal('linear'), factor: z.number().positive() }),
      ])
      .nullable(),
  }),
});

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type RopeConfig = ModelConfig['rope'];

/** What sets a model's weight shapes, KV width and context (the Cost view's geometries have it too). */
export type WeightGeometry = Pick<ModelConfig, 'maxPositions' | 'numLayers' | 'hiddenSize' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize' | 'vocabSize' | 'qkvBias' | 'tiedEmbeddings' | 'sandwichNorms'>;

/** Row-major shapes of every weight tensor the config implies, under Hugging Face names. */
export function expectedWeightShapes(c: WeightGeometry): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  shapes.set('model.embed_tokens.weight', [c.vocabSize, c.hiddenSize]);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}input_layernorm.weight`, [c.hiddenSize]);
    shapes.set(`${p}self_attn.q_proj.weight`, [q, c.hiddenSize]);
    shapes.set(`${p}self_attn.k_proj.weight`, [kv, c.hiddenSize]);
    shapes.set(`${p}self_attn.v_proj.weight`, [kv, c.hiddenSize]);
    if (c.qkvBias) {
      shapes.set(`${p}self_attn.q_proj.bias`, [q]);
      shapes.set(`${p}self_attn.k_proj.bias`, [kv]);
      shapes.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    shapes.set(`${p}self_attn.o_proj.weight`, [c.hiddenSize, q]);
    shapes.set(`${p}post_attention_layernorm.weight`, [c.hiddenSize]);
    shapes.set(`${p}mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    shapes.set(`${p}mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    shapes.set(`${p}mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize]);
    if (c.sandwichNorms) {
      shapes.set(`${p}pre_feedforward_layernorm.weight`, [c.hiddenSize]);
      shapes.set(`${p}post_feedforward_layernorm.weight`, [c.hiddenSize]);
    }
  }
  shapes.set('model.norm.weight', [c.hiddenSize]);
  if (!c.tiedEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, c.hiddenSize]);
  return shapes;
}

export function parameterCount(c: WeightGeometry): number {
  let n = 0;
  for (const shape of expectedWeightShapes(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** What q.k is multiplied by before the softmax. */
export function attentionScale(c: ModelConfig): number {
  return 1 / Math.sqrt(c.attentionScalar ?? c.headDim);
}

/** The window `layer` attends within, or null for full causal attention. */
export function attentionWindow(c: ModelConfig, layer: number): number | null {
  return c.slidingWindow?.layers.includes(layer) ? c.slidingWindow.size : null;
}

/** cap * tanh(x / cap): Gemma-2's soft-capping of attention scores and logits. */
export function softcap(x: number, cap: number): number {
  return cap * Math.tanh(x / cap);
}

/** Bytes of fp16 K and V one token occupies across all layers. */
export function kvBytesPerTokenFp16(c: WeightGeometry): number {
  return 2 * c.numLayers * c.numKvHeads * c.headDim * 2;
}

/**
 * RoPE inverse frequencies theta^(-2i/d), i < d/2, with the configured scaling applied
 * (Llama 3: Meta's apply_scaling; wavelengths above original/lowFreqFactor divided by factor,
 * below original/highFreqFactor unchanged, smoothly interpolated in between).
 */
export function ropeInverseFrequencies(c: ModelConfig): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  const s = c.rope.scaling;
  for (let i = 0; i < half; i++) {
    let f = Math.pow(c.rope.theta, (-2 * i) / c.headDim);
    if (s?.type === 'linear') f /= s.factor;
    if (s?.type === 'llama3') {
      const wavelength = (2 * Math.PI) / f;
      const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
      const highWavelen = s.originalMaxPositions / s.highFreqFactor;
      if (wavelength > lowWavelen) f /= s.factor;
      else if (wavelength >= highWavelen) {
        const smooth = (s.originalMaxPositions / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    inv[i] = f;
  }
  return inv;
}

/** Partner channel and frequency index of channel c under the configured RoPE pairing. */
export function ropePair(c: ModelConfig, channel: number): { partner: number; freq: number; sign: number } {
  const half = c.headDim / 2;
  if (c.rope.style === 'interleaved') {
    const even = channel % 2 === 0;
    // (x0, x1) -> (x0 cos - x1 sin, x1 cos + x0 sin)
    return { partner: even ? channel + 1 : channel - 1, freq: channel >> 1, sign: even ? -1 : 1 };
  }
  const first = channel < half;
  return { partner: first ? channel + half : channel - half, freq: channel % half, sign: first ? -1 : 1 };
}

/**
 * RoPE of one token row [heads*headDim] at `position` into `out` (not `row` itself): channel c turns
 * with its partner by position * invFreq (from ropeInverseFrequencies). `inverse` turns back by the
 * same angle, undoing it exactly (RoPE is a rotation): how post-RoPE keys are brought back pre-RoPE.
 */
export function rotateRope(c: ModelConfig, invFreq: Float64Array, row: ArrayLike<number>, heads: number, position: number, out: Float32Array | Float64Array, inverse = false): void {
  const d = c.headDim;
  const turn = inverse ? -position : position;
  for (let ch = 0; ch < d; ch++) {
    const { partner, freq, sign } = ropePair(c, ch);
    const cos = Math.cos(turn * invFreq[freq]);
    const sin = sign * Math.sin(turn * invFreq[freq]);
    for (let h = 0; h < heads; h++) out[h * d + ch] = row[h * d + ch] * cos + row[h * d + partner] * sin;
  }
}
