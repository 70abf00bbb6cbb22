// Hugging Face config.json -> ModelConfig for the supported decoder families, validated with zod.
// Defaults follow transformers' LlamaConfig / MistralConfig / Qwen2Config / GemmaConfig.
import { z } from 'zod';
import type { Architecture, ModelConfig, RopeConfig } from './config.js';
import { supportedArchitectures } from './config.js';

const positiveInt = z.number().int().positive();

/**
 * A size field with an upper bound, checked before anything is allocated from it: the largest
 * published decoders stay far below (Llama-3.1-405B: 126 layers, hidden 16384, MLP 53248; Gemma:
 * vocabulary 256000; Qwen2.5-1M: 1010000 positions).
 */
const size = (max: number) => positiveInt.max(max, { error: (issue) => `${String(issue.input)} is beyond ${max}, the largest this reader accepts` });
export const sizeLimits = {
  layers: 1024,
  hidden: 65536,
  intermediate: 262144,
  heads: 1024,
  headDim: 1024,
  vocab: 4_194_304,
  positions: 16_777_216,
} as const;

const ropeScalingSchema = z
  .object({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    factor: z.number().positive().optional(),
    low_freq_factor: z.number().positive().optional(),
    high_freq_factor: z.number().positive().optional(),
    original_max_position_embeddings: positiveInt.optional(),
  })
  .nullable()
  .optional();

const hfConfigSchema = z.object({
  model_type: z.string(),
  hidden_size: size(sizeLimits.hidden),
  intermediate_size: size(sizeLimits.intermediate),
  num_hidden_layers: size(sizeLimits.layers),
  num_attention_heads: size(sizeLimits.heads),
  num_key_value_heads: size(sizeLimits.heads).nullable().optional(),
  head_dim: size(sizeLimits.headDim).nullable().optional(),
  vocab_size: size(sizeLimits.vocab),
  max_position_embeddings: size(sizeLimits.positions).optional(),
  rms_norm_eps: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  rope_scaling: ropeScalingSchema,
  hidden_act: z.string().optional(),
  hidden_activation: z.string().nullable().optional(),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  mlp_bias: z.boolean().optional(),
  sliding_window: positiveInt.nullable().optional(),
  use_sliding_window: z.boolean().optional(),
  max_window_layers: z.number().int().nonnegative().optional(),
  // Gemma-2
  query_pre_attn_scalar: z.number().positive().optional(),
  partial_rotary_factor: z.number().positive().max(1).optional(),
  attn_logit_softcapping: z.number().positive().nullable().optional(),
  final_logit_softcapping: z.number().positive().nullable().optional(),
});

export type HfConfigJson = z.input<typeof hfConfigSchema>;

/** Popular decoder families this reader does not run, with what the graphs lack for them. */
const missingFeatures: Record<string, string> = {
  gemma3: 'QK-norm, a second RoPE base for its local layers and 5:1 sliding-window layers',
  gemma3_text: 'QK-norm, a second RoPE base for its local layers and 5:1 sliding-window layers',
  qwen3: 'QK-norm (q_norm / k_norm per head)',
  olmo2: 'QK-norm and norms after each block instead of before',
  mixtral: 'mixture-of-experts feed-forward layers',
  qwen2_moe: 'mixture-of-experts feed-forward layers',
  phi3: 'fused qkv_proj / gate_up_proj weights',
};

/** Parses config.json's object; `file` names it in errors. */
export function modelConfigFromHf(raw: unknown, file = 'config.json'): ModelConfig {
  const modelType = typeof raw === 'object' && raw !== null ? (raw as { model_type?: unknown }).model_type : undefined;
  if (!supportedArchitectures.includes(modelType as Architecture)) {
    const missing = typeof modelType === 'string' && Object.hasOwn(missingFeatures, modelType) ? `: it needs ${missingFeatures[modelType]}, which ResKV does not implement` : '';
    throw new Error(`${file}: model_type ${JSON.stringify(modelType)} is not supported${missing} (supported: ${supportedArchitectures.join(', ')})`);
  }
  const parsed = hfConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`${file}: invalid config (${problems})`);
  }
  const j = parsed.data;
  const architecture = j.model_type as Architecture;
  const isGemma = architecture === 'gemma' || architecture === 'gemma2';
  const isGemma2 = architecture === 'gemma2';
  const bad = (what: string) => new Error(`${file}: ${what}`);
  const numKvHeads = j.num_key_value_heads ?? j.num_attention_heads;
  if (j.num_attention_heads % numKvHeads !== 0) throw bad(`num_attention_heads ${j.num_attention_heads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  if (!j.head_dim && !isGemma && j.hidden_size % j.num_attention_heads !== 0) throw bad(`hidden_size ${j.hidden_size} is not divisible by num_attention_heads ${j.num_attention_heads}`);
  // GemmaConfig's and Gemma2Config's head_dim default to 256 rather than hidden/heads
  const headDim = j.head_dim ?? (isGemma ? 256 : j.hidden_size / j.num_attention_heads);
  if (headDim % 2 !== 0) throw bad(`head_dim ${headDim} is odd; RoPE needs channel pairs`);
  if (j.attention_bias && architecture !== 'qwen2') throw bad('attention_bias = true (biases on every attention projection) is not supported');
  if (j.mlp_bias) throw bad('mlp_bias = true is not supported');
  if (j.partial_rotary_factor !== undefined && j.partial_rotary_factor < 1) throw bad(`partial_rotary_factor ${j.partial_rotary_factor} (RoPE on part of each head) is not supported`);

  const activationName = isGemma ? (j.hidden_activation ?? j.hidden_act ?? 'gelu_pytorch_tanh') : (j.hidden_act ?? 'silu');
  // Gemma's "gelu" is run as the tanh approximation by transformers (see GemmaMLP).
  const activation = activationName === 'silu' ? 'silu' : isGemma || activationName === 'gelu_pytorch_tanh' ? 'gelu_tanh' : null;
  if (!activation) throw bad(`hidden_act "${activationName}" is not supported (silu, gelu_pytorch_tanh)`);

  const maxPositions = j.max_position_embeddings ?? { llama: 2048, mistral: 32768, qwen2: 32768, gemma: 8192, gemma2: 8192 }[architecture];
  // MistralConfig and Gemma2Config default the window to 4096; Qwen2 uses it only with use_sliding_window
  const window =
    architecture === 'mistral' || isGemma2 ? (j.sliding_window === undefined ? 4096 : j.sliding_window) : architecture === 'qwen2' && j.use_sliding_window ? j.sliding_window : null;
  const layers = Array.from({ length: j.num_hidden_layers }, (_, i) => i);
  // Mistral: every layer; Gemma-2: even layers; Qwen2: from max_window_layers on
  const windowLayers = isGemma2 ? layers.filter((i) => i % 2 === 0) : architecture === 'qwen2' ? layers.filter((i) => i >= (j.max_window_layers ?? 28)) : layers;
  // a window as long as the context changes nothing
  const slidingWindow = window && window < maxPositions && windowLayers.length > 0 ? { slidingWindow: { size: window, layers: windowLayers } } : {};
  // Gemma2Config's defaults; null turns a cap off
  const gemma2 = isGemma2
    ? {
        attentionScalar: j.query_pre_attn_scalar ?? 224,
        attentionSoftcap: (j.attn_logit_softcapping === undefined ? 50 : j.attn_logit_softcapping) ?? undefined,
        logitSoftcap: (j.final_logit_softcapping === undefined ? 30 : j.final_logit_softcapping) ?? undefined,
        sandwichNorms: true,
      }
    : {};

  return {
    architecture,
    hiddenSize: j.hidden_size,
    numLayers: j.num_hidden_layers,
    numHeads: j.num_attention_heads,
    numKvHeads,
    headDim,
    intermediateSize: j.intermediate_size,
    vocabSize: j.vocab_size,
    maxPositions,
    normEps: j.rms_norm_eps ?? 1e-6,
    normWeightOffset: isGemma ? 1 : 0,
    activation,
    qkvBias: architecture === 'qwen2',
    tiedEmbeddings: j.tie_word_embeddings ?? isGemma,
    embeddingScale: isGemma ? Math.sqrt(j.hidden_size) : 1,
    rope: { theta: j.rope_theta ?? 10000, style: 'half', scaling: ropeScaling(j.rope_scaling, bad) },
    ...gemma2,
    ...slidingWindow,
  };
}

function ropeScaling(s: z.infer<typeof ropeScalingSchema>, bad: (what: string) => Error): RopeConfig['scaling'] {
  if (!s) return null;
  const type = s.rope_type ?? s.type;
  if (type === 'default') return null;
  if (type === 'linear') {
    if (!s.factor) throw bad('rope_scaling (linear) needs factor');
    return { type: 'linear', factor: s.factor };
  }
  if (type === 'llama3') {
    if (!s.factor || !s.low_freq_factor || !s.high_freq_factor || !s.original_max_position_embeddings) {
      throw bad('rope_scaling (llama3) needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings');
    }
    if (s.high_freq_factor <= s.low_freq_factor) throw bad('rope_scaling (llama3): high_freq_factor must exceed low_freq_factor');
    return { type: 'llama3', factor: s.factor, lowFreqFactor: s.low_freq_factor, highFreqFactor: s.high_freq_factor, originalMaxPositions: s.original_max_position_embeddings };
  }
  throw bad(`rope_scaling type ${JSON.stringify(type)} is not supported (llama3, linear)`);
}

/** The config.json our exporter writes for `c` (inverse of modelConfigFromHf for supported models). */
export function hfConfigJson(c: ModelConfig): HfConfigJson & Record<string, unknown> {
  const s = c.rope.scaling;
  return {
    architectures: [{ llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', gemma: 'GemmaForCausalLM', gemma2: 'Gemma2ForCausalLM' }[c.architecture]],
    model_type: c.architecture,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxPositions,
    ...slidingWindowJson(c),
    rms_norm_eps: c.normEps,
    rope_theta: c.rope.theta,
    rope_scaling:
      s?.type === 'llama3'
        ? { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositions }
        : s?.type === 'linear'
          ? { rope_type: 'linear', factor: s.factor }
          : null,
    hidden_act: c.activation === 'silu' ? 'silu' : 'gelu_pytorch_tanh',
    tie_word_embeddings: c.tiedEmbeddings,
    torch_dtype: 'float32',
    ...(c.architecture === 'gemma2' ? { query_pre_attn_scalar: c.attentionScalar, attn_logit_softcapping: c.attentionSoftcap ?? null, final_logit_softcapping: c.logitSoftcap ?? null } : {}),
  };
}

/** config.json's window fields for `c` (each family states its windowed layers its own way). */
function slidingWindowJson(c: ModelConfig): Record<string, unknown> {
  const w = c.slidingWindow;
  if (!w) return { sliding_window: null };
  if (c.architecture === 'qwen2') return { sliding_window: w.size, use_sliding_window: true, max_window_layers: w.layers[0] };
  return { sliding_window: w.size };
}
