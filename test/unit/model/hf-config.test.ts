// config.json normalization for published model families (values as in their config.json files).
import { describe, expect, it } from 'vitest';
import { kvBytesPerTokenFp16, parameterCount, ropeInverseFrequencies } from '../../../main/model/config.js';
import { modelConfigFromHf } from '../../../main/model/hf-config.js';

const smolLm2 = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_attention_heads: 9, num_hidden_layers: 30,
  num_key_value_heads: 3, max_position_embeddings: 8192, rms_norm_eps: 1e-5, rope_theta: 100000, rope_scaling: null, tie_word_embeddings: true, vocab_size: 49152, hidden_act: 'silu',
};
const llama31 = {
  model_type: 'llama', hidden_size: 4096, intermediate_size: 14336, num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, max_position_embeddings: 131072,
  rms_norm_eps: 1e-5, rope_theta: 500000, vocab_size: 128256, tie_word_embeddings: false,
  rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
};
const gemma2b = {
  model_type: 'gemma', hidden_size: 2048, intermediate_size: 16384, num_attention_heads: 8, num_hidden_layers: 18, num_key_value_heads: 1, head_dim: 256,
  hidden_act: 'gelu', max_position_embeddings: 8192, rms_norm_eps: 1e-6, rope_theta: 10000, vocab_size: 256000,
};
const mistral01 = {
  model_type: 'mistral', hidden_size: 4096, intermediate_size: 14336, num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, max_position_embeddings: 32768,
  rms_norm_eps: 1e-5, rope_theta: 10000, sliding_window: 4096, vocab_size: 32000, tie_word_embeddings: false,
};
const qwen2 = {
  model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, max_position_embeddings: 32768,
  rms_norm_eps: 1e-6, rope_theta: 1000000, sliding_window: 32768, use_sliding_window: false, tie_word_embeddings: true, vocab_size: 151936,
};

describe('modelConfigFromHf', () => {
  it('SmolLM2-135M: 134.5M parameters, 30 layers x 3 KV heads x 64', () => {
    const c = modelConfigFromHf(smolLm2);
    expect(c).toMatchObject({ headDim: 64, numKvHeads: 3, tiedEmbeddings: true, rope: { theta: 100000, style: 'half', scaling: null } });
    expect(parameterCount(c)).toBe(134515008);
    expect(kvBytesPerTokenFp16(c)).toBe(2 * 30 * 3 * 64 * 2);
  });

  it('Llama 3.1 8B: llama3 rope scaling divides long wavelengths by 8 and keeps short ones', () => {
    const c = modelConfigFromHf(llama31);
    expect(parameterCount(c)).toBe(8030261248);
    expect(kvBytesPerTokenFp16(c)).toBe(131072);
    const scaled = ropeInverseFrequencies(c);
    const plain = ropeInverseFrequencies({ ...c, rope: { ...c.rope, scaling: null } });
    for (let i = 0; i < plain.length; i++) {
      const wavelength = (2 * Math.PI) / plain[i];
      if (wavelength < 8192 / 4) expect(scaled[i]).toBe(plain[i]);
      else if (wavelength > 8192) expect(scaled[i]).toBeCloseTo(plain[i] / 8, 15);
      else expect(scaled[i] < plain[i] && scaled[i] > plain[i] / 8).toBe(true);
    }
    // values of transformers' _compute_llama3_parameters (float64) in the smooth band
    expect(scaled[29]).toBeCloseTo(0.002166570763503359, 15);
    expect(scaled[34]).toBeCloseTo(0.00017850781276799638, 15);
    expect(scaled.findIndex((f, i) => f !== plain[i])).toBe(29);
  });

  it('Gemma 2B: head_dim 256 from config, (1+w) norms, sqrt(hidden) embeddings, GeLU-tanh, tied by default', () => {
    const c = modelConfigFromHf(gemma2b);
    expect(c).toMatchObject({ headDim: 256, normWeightOffset: 1, embeddingScale: Math.sqrt(2048), activation: 'gelu_tanh', tiedEmbeddings: true });
    expect(parameterCount(c)).toBe(2506172416);
    expect(modelConfigFromHf({ ...gemma2b, head_dim: undefined }).headDim).toBe(256); // GemmaConfig's default
  });

  it('Mistral 7B v0.1: a 4096-token sliding window on every layer; Qwen2 ignores an unused window, else windows from max_window_layers', () => {
    expect(modelConfigFromHf(mistral01)).toMatchObject({ maxPositions: 32768, slidingWindow: { size: 4096, layers: Array.from({ length: 32 }, (_, i) => i) } });
    expect(modelConfigFromHf({ ...mistral01, sliding_window: null }).slidingWindow).toBeUndefined();
    const q = modelConfigFromHf(qwen2);
    expect(q).toMatchObject({ qkvBias: true, maxPositions: 32768, tiedEmbeddings: true, normEps: 1e-6 });
    expect(q.slidingWindow).toBeUndefined();
    expect(modelConfigFromHf({ ...qwen2, use_sliding_window: true, sliding_window: 4096, max_window_layers: 21 }).slidingWindow).toEqual({ size: 4096, layers: [21, 22, 23] });
    expect(parameterCount(q)).toBe(494032768);
  });

  it('rejects what it cannot run, naming it', () => {
    expect(() => modelConfigFromHf({ ...smolLm2, attention_bias: true })).toThrow('config.json: attention_bias = true (biases on every attention projection) is not supported');
    expect(() => modelConfigFromHf({ ...smolLm2, hidden_act: 'relu' })).toThrow('config.json: hidden_act "relu" is not supported (silu, gelu_pytorch_tanh)');
    expect(() => modelConfigFromHf({ ...smolLm2, model_type: 'phi3' })).toThrow('model_type "phi3" is not supported: it needs fused qkv_proj / gate_up_proj weights, which ResKV does not implement (supported: llama, mistral, qwen2, gemma, gemma2)');
    expect(() => modelConfigFromHf(null)).toThrow('model_type undefined is not supported');
    expect(() => modelConfigFromHf({ ...smolLm2, head_dim: 63 })).toThrow('head_dim 63 is odd');
    expect(() => modelConfigFromHf({ ...smolLm2, model_type: 'qwen3' })).toThrow('config.json: model_type "qwen3" is not supported: it needs QK-norm (q_norm / k_norm per head), which ResKV does not implement (supported: ');
    expect(() => modelConfigFromHf({ ...smolLm2, model_type: 'toString' })).toThrow('config.json: model_type "toString" is not supported (supported: ');
    expect(() => modelConfigFromHf({ ...smolLm2, partial_rotary_factor: 0.5 })).toThrow('config.json: partial_rotary_factor 0.5 (RoPE on part of each head) is not supported');
  });
});
