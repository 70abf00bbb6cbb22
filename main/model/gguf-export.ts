// Writes a Llama-family model (ModelConfig + weights under Hugging Face names) as a GGUF file that
// llama.cpp runs, so that llama.cpp and ResKV can be timed on identical weights (bench:peer).
// Naming and layout follow llama.cpp's convert_hf_to_gguf.py for LlamaModel: q and k rows are
// permuted per head from Hugging Face's half-split RoPE pairs (i, i + d/2) to the adjacent pairs
// (2i, 2i + 1) llama.cpp rotates; RoPE scaling becomes per-frequency divisors (rope_freqs.weight);
// norms stay float32. The vocabulary is a stand-in SentencePiece one of the model's size (control
// tokens, the 256 byte tokens, numbered fillers): the benchmark feeds token ids, never text.
// The block-quantized types hold what ResKV's import of the same weights holds (see ggufStorage).
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { float32ArrayToFloat16 } from '../../quant/index.js';
import type { BlockQuantSpec } from '../../quant/weight-quant.js';
import { quantizeRows } from '../../quant/weight-quant.js';
import type { ModelConfig } from './config.js';
import { ropeInverseFrequencies } from './config.js';
import type { GgufTensorInfo, GgufTensorType, GgufValue } from './gguf.js';
import { encodeGgufHeader } from './gguf.js';
import { ggmlBlocks } from './gguf-blocks.js';
import type { GgmlBlockType } from './gguf-blocks.js';
import type { WeightSource } from './weights.js';
import { classifierQuantSpec, linearQuantSpecs } from './weights.js';

/** What the file stores: F32, F16, or block types (ggufStorage): Q4_1 and Q8_0 mirror ResKV's int4 and int8 imports. */
export type GgufExportType = Extract<GgufTensorType, 'F32' | 'F16' | 'Q4_1' | 'Q4_0' | 'Q8_0'>;

export interface GgufExportOptions {
  /** Storage of the matrices and embeddings (norms and RoPE divisors are always F32). Default F32. */
  type?: GgufExportType;
  /** general.name. */
  name?: string;
}

/** A tensor's storage: a float type, or a block type written from ResKV's quantization per `spec`. */
type Storage = { type: 'F32' | 'F16' } | { type: GgmlBlockType; spec: BlockQuantSpec };

/**
 * Per export type, the storage of the token embedding, the linear layers and the classifier. The block
 * types follow ResKV's import with --weights int4 (Q4_1) or int8 (Q8_0) (main/onnx/layers.ts): the
 * embedding is gathered from float16, the linear layers hold ResKV's codes, and the classifier is its
 * own 8-bit copy (Q8_0 from ResKV's symmetric 8-bit blocks of 128), so a tied model gets an
 * output.weight too; `classifier` is null when the classifier is the embedding (no output.weight).
 * Q4_0 stores the linear layers as ResKV's quantizer codes them symmetrically (zero 8), which no ResKV
 * import does: llama.cpp's own fastest 4-bit layout, for reference; the rest as Q4_1.
 */
function ggufStorage(type: GgufExportType, tiedEmbeddings: boolean): { embedding: Storage; linear: Storage; classifier: Storage | null } {
  if (type === 'F32' || type === 'F16') return { embedding: { type }, linear: { type }, classifier: tiedEmbeddings ? null : { type } };
  const specs: Record<typeof type, BlockQuantSpec> = { Q4_1: linearQuantSpecs.int4, Q4_0: { ...linearQuantSpecs.int4, symmetric: true }, Q8_0: linearQuantSpecs.int8 };
  const linear: Storage = { type, spec: specs[type] };
  return { embedding: { type: 'F16' }, linear, classifier: { type: 'Q8_0', spec: classifierQuantSpec } };
}

/** llama.cpp's llama_ftype of a file whose matrices are mostly `type`. */
const fileTypes: Record<GgufExportType, number> = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7 };

/** One GGUF tensor and its bytes. */
interface TensorSource extends GgufTensorInfo {
  bytes(): Uint8Array;
}

/** The Llama vocabulary's fixed part: unknown, begin and end of sequence, then one token per byte. */
const controlTokens = ['<unk>', '<s>', '</s>'];
const tokenTypes = { normal: 1, unknown: 2, control: 3, byte: 6 };

/** Throws unless llama.cpp's `llama` architecture computes what ResKV computes for `c`. */
export function checkGgufExportable(c: ModelConfig): void {
  const problems: string[] = [];
  if (c.architecture !== 'llama' && c.architecture !== 'mistral') problems.push(`architecture ${c.architecture} (llama and mistral only)`);
  if (c.qkvBias) problems.push('q/k/v biases');
  if (c.activation !== 'silu') problems.push(`activation ${c.activation}`);
  if (c.normWeightOffset !== 0) problems.push(`norm weight offset ${c.normWeightOffset}`);
  if (c.embeddingScale !== 1) problems.push(`embedding scale ${c.embeddingScale}`);
  if (c.slidingWindow) problems.push(`a ${c.slidingWindow.size}-token sliding window`);
  if (c.attentionScalar !== undefined && c.attentionScalar !== c.headDim) problems.push(`attention scalar ${c.attentionScalar}`);
  if (c.attentionSoftcap !== undefined || c.logitSoftcap !== undefined) problems.push('soft-capping');
  if (c.sandwichNorms) problems.push('sandwich norms');
  if (c.vocabSize < controlTokens.length + 256) problems.push(`vocabulary of ${c.vocabSize} (the stand-in vocabulary needs ${controlTokens.length + 256})`);
  if (problems.length > 0) throw new Error(`GGUF export: unsupported model (${problems.join('; ')})`);
}

/** The GGUF metadata of `c` under llama.cpp's `llama` architecture keys. */
export function ggufLlamaMetadata(c: ModelConfig, options: GgufExportOptions = {}): Map<string, GgufValue> {
  const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
  const f32 = (value: number): GgufValue => ({ type: 'float32', value });
  const tokens = [...controlTokens, ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)];
  const types = [tokenTypes.unknown, tokenTypes.control, tokenTypes.control, ...new Array<number>(256).fill(tokenTypes.byte)];
  for (let i = tokens.length; i < c.vocabSize; i++) {
    tokens.push(`\u2581t${i}`);
    types.push(tokenTypes.normal);
  }
  return new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: options.name ?? 'reskv-export' }],
    ['general.alignment', u32(32)],
    ['general.file_type', u32(fileTypes[options.type ?? 'F32'])],
    ['llama.context_length', u32(c.maxPositions)],
    ['llama.embedding_length', u32(c.hiddenSize)],
    ['llama.block_count', u32(c.numLayers)],
    ['llama.feed_forward_length', u32(c.intermediateSize)],
    ['llama.attention.head_count', u32(c.numHeads)],
    ['llama.attention.head_count_kv', u32(c.numKvHeads)],
    ['llama.attention.key_length', u32(c.headDim)],
    ['llama.attention.value_length', u32(c.headDim)],
    ['llama.attention.layer_norm_rms_epsilon', f32(c.normEps)],
    ['llama.rope.freq_base', f32(c.rope.theta)],
    ['llama.rope.dimension_count', u32(c.headDim)],
    ['llama.vocab_size', u32(c.vocabSize)],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'float32', value: tokens.map((_, i) => (types[i] === tokenTypes.normal ? -i : 0)) }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', value: types }],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ]);
}

/**
 * Reorders the rows of a [heads*d, cols] projection from Hugging Face's RoPE pairing (i, i + d/2)
 * to llama.cpp's (2i, 2i + 1): row h*d + 2i + a takes row h*d + a*d/2 + i (convert_hf_to_gguf's permute).
 */
export function interleaveRopeRows(w: Float32Array, heads: number, headDim: number): Float32Array {
  const cols = w.length / (heads * headDim);
  const half = headDim / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let a = 0; a < 2; a++) {
        const from = (h * headDim + a * half + i) * cols;
        out.set(w.subarray(from, from + cols), (h * headDim + 2 * i + a) * cols);
      }
    }
  }
  return out;
}

/** `values` ([rows, cols] when 2-D) stored as `storage`. */
function encodeTensor(name: string, values: Float32Array, shape: readonly number[], storage: Storage): Uint8Array {
  if (!('spec' in storage)) {
    const stored = storage.type === 'F16' ? float32ArrayToFloat16(values) : values;
    return new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
  }
  if (shape.length !== 2) throw new Error(`GGUF export: ${name} as ${storage.type} must be a matrix, its shape is [${shape.join(', ')}]`);
  const [rows, cols] = shape;
  return ggmlBlocks(name, storage.type, quantizeRows(values, rows, cols, storage.spec), rows, cols, storage.spec);
}

/** Every GGUF tensor of `c`, in file order, with its bytes from `weights`. */
export function ggufLlamaTensors(c: ModelConfig, weights: WeightSource, options: GgufExportOptions = {}): TensorSource[] {
  const plan = ggufStorage(options.type ?? 'F32', c.tiedEmbeddings);
  const shape = (hf: string) => {
    const s = weights.shapes.get(hf);
    if (!s) throw new Error(`GGUF export: the weights have no tensor ${hf}`);
    return s;
  };
  const tensor = (name: string, hf: string, storage: Storage, read = () => weights.read(hf)): TensorSource => ({
    name,
    shape: shape(hf),
    type: storage.type,
    bytes: () => encodeTensor(name, read(), shape(hf), storage),
  });
  const float32 = { type: 'F32' } as const;
  // half-split pairs become adjacent pairs; llama2.c-style weights already pair adjacent channels (the
  // permutation moves whole rows, so the blocks along a row quantize alike either way)
  const ropeRows = (name: string, hf: string, heads: number): TensorSource =>
    tensor(name, hf, plan.linear, () => (c.rope.style === 'half' ? interleaveRopeRows(weights.read(hf), heads, c.headDim) : weights.read(hf)));
  const tensors = [tensor('token_embd.weight', 'model.embed_tokens.weight', plan.embedding)];
  if (c.rope.scaling) {
    // llama.cpp divides each base frequency by rope_freqs[i]
    const base = ropeInverseFrequencies({ ...c, rope: { ...c.rope, scaling: null } });
    const scaled = ropeInverseFrequencies(c);
    const divisors = Float32Array.from(base, (f, i) => f / scaled[i]);
    tensors.push({ name: 'rope_freqs.weight', shape: [c.headDim / 2], type: 'F32', bytes: () => new Uint8Array(divisors.buffer) });
  }
  for (let i = 0; i < c.numLayers; i++) {
    const hf = `model.layers.${i}.`;
    const blk = `blk.${i}.`;
    tensors.push(
      tensor(`${blk}attn_norm.weight`, `${hf}input_layernorm.weight`, float32),
      ropeRows(`${blk}attn_q.weight`, `${hf}self_attn.q_proj.weight`, c.numHeads),
      ropeRows(`${blk}attn_k.weight`, `${hf}self_attn.k_proj.weight`, c.numKvHeads),
      tensor(`${blk}attn_v.weight`, `${hf}self_attn.v_proj.weight`, plan.linear),
      tensor(`${blk}attn_output.weight`, `${hf}self_attn.o_proj.weight`, plan.linear),
      tensor(`${blk}ffn_norm.weight`, `${hf}post_attention_layernorm.weight`, float32),
      tensor(`${blk}ffn_gate.weight`, `${hf}mlp.gate_proj.weight`, plan.linear),
      tensor(`${blk}ffn_up.weight`, `${hf}mlp.up_proj.weight`, plan.linear),
      tensor(`${blk}ffn_down.weight`, `${hf}mlp.down_proj.weight`, plan.linear),
    );
  }
  tensors.push(tensor('output_norm.weight', 'model.norm.weight', float32));
  // no output.weight: llama.cpp reuses token_embd (a tied model stored as floats)
  if (plan.classifier) tensors.push(tensor('output.weight', c.tiedEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight', plan.classifier));
  return tensors;
}

/** Writes `c` with `weights` to `path` (a temporary file renamed into place); returns its size in bytes. */
export function writeGgufModel(path: string, c: ModelConfig, weights: WeightSource, options: GgufExportOptions = {}): number {
  checkGgufExportable(c);
  const tensors = ggufLlamaTensors(c, weights, options);
  const layout = encodeGgufHeader(ggufLlamaMetadata(c, options), tensors);
  const temporary = `${path}.${process.pid}.tmp`;
  let written = 0;
  try {
    const fd = openSync(temporary, 'w');
    try {
      written += writeSync(fd, layout.header);
      const padTo = (offset: number) => (written += writeSync(fd, new Uint8Array(layout.header.length + offset - written)));
      tensors.forEach((t, i) => {
        const { offset, bytes } = layout.tensors[i];
        const data = t.bytes();
        if (data.length !== bytes) throw new Error(`GGUF export: ${t.name} gave ${data.length} bytes, its shape needs ${bytes}`);
        padTo(offset);
        written += writeSync(fd, data);
      });
      padTo(layout.dataBytes);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    return written;
  } catch (e) {
    rmSync(temporary, { force: true });
    throw e;
  }
}
