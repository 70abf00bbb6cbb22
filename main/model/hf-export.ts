// Our own exporter of Hugging Face-format model folders, used to make tiny random models for tests
// and a full-size random model for import measurements (nothing is downloaded). Writes config.json,
// safetensors (sharded with an index above maxShardBytes), a byte-level BPE tokenizer.json,
// tokenizer_config.json with a ChatML chat template, and generation_config.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SafetensorDtype, SafetensorEntry } from '../../quant/index.js';
import { encodeSafetensors, float32ArrayToFloat16 } from '../../quant/index.js';
import type { ModelConfig } from './config.js';
import { expectedWeightShapes } from './config.js';
import { singleFileName, shardIndexName } from './hf.js';
import { hfConfigJson } from './hf-config.js';
import type { WeightSource } from './weights.js';

export interface HfExportOptions {
  dtype?: Extract<SafetensorDtype, 'F32' | 'F16' | 'BF16'>;
  /** Start a new shard when one would exceed this many bytes (default: one file). */
  maxShardBytes?: number;
  /**
   * Tied models: the name the one embedding tensor is saved under, the other recorded as its alias
   * in the safetensors metadata, as transformers saves shared tensors (default embed_tokens).
   */
  tiedAs?: 'embed_tokens' | 'lm_head';
  /** config.json to write instead of ours: a published config shrunk to test sizes, quirks kept. */
  configJson?: Record<string, unknown>;
}

const embeddingName = 'model.embed_tokens.weight';
const classifierName = 'lm_head.weight';

/** Deterministic pseudo-random weights, generated per tensor on demand (no model held in memory). */
export class RandomWeights implements WeightSource {
  readonly shapes: Map<string, number[]>;

  constructor(
    private readonly config: ModelConfig,
    private readonly seed: number,
  ) {
    this.shapes = expectedWeightShapes(config);
  }

  read(name: string): Float32Array {
    const shape = this.shapes.get(name);
    if (!shape) throw new Error(`unknown weight tensor ${name}`);
    const random = mulberry32(this.seed ^ hashString(name));
    const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
    // Norm gains near 1 (Gemma stores w with (1 + w), so near 0); matrices ~ U(-a, a) with
    // a = sqrt(3 / fan_in) so activations stay O(1); embeddings O(1).
    const isNorm = name.endsWith('norm.weight');
    const base = isNorm && this.config.normWeightOffset === 0 ? 1 : 0;
    const amplitude = isNorm ? 0.2 : name.includes('embed_tokens') || name.startsWith('lm_head') ? 1 : Math.sqrt(3 / shape[shape.length - 1]);
    for (let i = 0; i < out.length; i++) out[i] = base + amplitude * (2 * random() - 1);
    return out;
  }

  close(): void {}
}

/** Writes `weights` (shapes per `config`) as a Hugging Face folder. */
export function writeHfFolder(folder: string, config: ModelConfig, weights: WeightSource, options: HfExportOptions = {}): void {
  const dtype = options.dtype ?? 'F32';
  const maxShard = options.maxShardBytes ?? Infinity;
  mkdirSync(folder, { recursive: true });
  const configJson = options.configJson ?? { ...hfConfigJson(config), torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype] };
  writeFileSync(join(folder, 'config.json'), JSON.stringify(configJson, null, 2));

  const shards: Record<string, SafetensorEntry>[] = [{}];
  const aliases: Record<string, string>[] = [{}];
  let shardBytes = 0;
  for (const [name, shape] of expectedWeightShapes(config)) {
    const data = encodeValues(weights.read(name), dtype);
    if (shardBytes > 0 && shardBytes + data.length > maxShard) {
      shards.push({});
      aliases.push({});
      shardBytes = 0;
    }
    const [stored, alias] = config.tiedEmbeddings && name === embeddingName && options.tiedAs === 'lm_head' ? [classifierName, embeddingName] : [name, classifierName];
    shards[shards.length - 1][stored] = { dtype, shape, data };
    if (config.tiedEmbeddings && name === embeddingName) aliases[aliases.length - 1][alias] = stored;
    shardBytes += data.length;
  }
  const shardName = (i: number) => (shards.length === 1 ? singleFileName : `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  shards.forEach((tensors, i) => {
    writeFileSync(join(folder, shardName(i)), encodeSafetensors(tensors, { format: 'pt', ...aliases[i] }));
    for (const [name, t] of Object.entries(tensors)) {
      weightMap[name] = shardName(i);
      totalSize += t.data.length;
    }
    shards[i] = {}; // release the shard's bytes before encoding the next one
  });
  if (shards.length > 1) writeFileSync(join(folder, shardIndexName), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2));
  writeTokenizerFiles(folder, config.vocabSize);
}

function encodeValues(values: Float32Array, dtype: NonNullable<HfExportOptions['dtype']>): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (dtype === 'F16') return new Uint8Array(float32ArrayToFloat16(values).buffer);
  // bfloat16: the top half of the float32 bits, rounded to nearest even
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16;
  return new Uint8Array(out.buffer);
}

const exportedSpecialTokens = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
const exportedMerges: [string, string][] = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['i', 'n'], ['Ġ', 'a'], ['o', 'n']];

/** A byte-level BPE tokenizer (GPT-2 byte alphabet, a few merges) with ChatML special tokens. */
function writeTokenizerFiles(folder: string, vocabSize: number): void {
  const vocab: Record<string, number> = {};
  exportedSpecialTokens.forEach((t, i) => (vocab[t] = i));
  for (const ch of byteLevelAlphabet()) vocab[ch] = Object.keys(vocab).length;
  for (const [a, b] of exportedMerges) vocab[a + b] = Object.keys(vocab).length;
  const size = Object.keys(vocab).length;
  if (size > vocabSize) throw new Error(`the exported tokenizer needs ${size} tokens; vocab_size ${vocabSize} is too small`);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: exportedSpecialTokens.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: exportedMerges.map(([a, b]) => `${a} ${b}`) },
  };
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(tokenizer));
  const chatTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|im_start|>', eos_token: '<|im_end|>', chat_template: chatTemplate, tokenizer_class: 'GPT2Tokenizer' }, null, 2));
  writeFileSync(join(folder, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: [0, 2] }, null, 2));
}

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
function byteLevelAlphabet(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(printable(b) ? b : next++));
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
