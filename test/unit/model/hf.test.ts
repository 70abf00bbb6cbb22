// Hugging Face folders written by our exporter: reading, shape checks, error reporting, and graph
// logits against the reference forward for every supported architecture.
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bfloat16BitsToFloat32 } from '../../../quant/index.js';
import type { ModelConfig } from '../../../main/model/config.js';
import type { HfExportOptions } from '../../../main/model/hf-export.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { readHfCheckpoint } from '../../../main/model/hf.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import { readHfTokenizer } from '../../../main/model/tokenizer-hf.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { emptyFpCache, maxLogitError, presentAsPast, stepFeeds } from './session.js';
import { rewriteSafetensorsHeader } from './safetensors-edit.js';
import type { SafetensorsJsonHeader } from './safetensors-edit.js';
import { tinyModels } from './tiny-models.js';

const dir = mkdtempSync(join(tmpdir(), 'reskv-hf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let folders = 0;
const freshFolder = () => join(dir, `m${folders++}`);

describe.each(Object.entries(tinyModels))('%s', (_, config) => {
  it('round-trips through our exporter and the fp graph matches the reference within 1e-4', async () => {
    const folder = freshFolder();
    const source = new RandomWeights(config, 7);
    writeHfFolder(folder, config, source);
    const ck = readHfCheckpoint(folder);
    expect(ck.config).toEqual(config);
    const weights = readAllWeights(ck.weights);
    for (const [name, w] of weights) expect(w).toEqual(source.read(name));

    const session = await ort.InferenceSession.create(buildDecoderGraph(ck.config, ck.weights));
    ck.weights.close();
    const ref = new ReferenceModel(config, weights);
    const prompt = [5, 17, 250, 3, 99];
    const first = await session.run({ ...stepFeeds(prompt, 0), ...emptyFpCache(config) });
    expect(maxLogitError(ref, prompt, first.logits.data as Float32Array)).toBeLessThan(1e-4);
    const next = [42, 7];
    const second = await session.run({ ...stepFeeds(next, prompt.length), ...presentAsPast(first) });
    expect(maxLogitError(ref, next, second.logits.data as Float32Array)).toBeLessThan(1e-4);
  });
});

describe('Hugging Face reader', () => {
  const config = tinyModels['llama3 (GQA 2, theta 500000, llama3 scaling, untied)'];

  /** A fresh exported folder, and a writer of its config.json with `changes` applied. */
  function exported(c: ModelConfig = config, options: HfExportOptions = {}): { folder: string; setConfig: (changes: Record<string, unknown>) => void } {
    const folder = freshFolder();
    writeHfFolder(folder, c, new RandomWeights(c, 1), options);
    const json = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    return { folder, setConfig: (changes) => writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...json, ...changes })) };
  }

  it('reads bf16 shards through the index', () => {
    const folder = freshFolder();
    const source = new RandomWeights(config, 3);
    writeHfFolder(folder, config, source, { dtype: 'BF16', maxShardBytes: 20_000 });
    const index = JSON.parse(readFileSync(join(folder, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(2);
    const ck = readHfCheckpoint(folder);
    const name = 'model.layers.1.mlp.down_proj.weight';
    const original = source.read(name);
    const read = ck.weights.read(name);
    // bf16 keeps 8 mantissa bits: relative error below 2^-8
    for (let i = 0; i < original.length; i++) expect(Math.abs(read[i] - original[i])).toBeLessThanOrEqual(Math.abs(original[i]) / 256);
    expect(bfloat16BitsToFloat32(new Uint32Array(Float32Array.of(read[0]).buffer)[0] >>> 16)).toBe(read[0]);
    ck.weights.close();
  });

  it('names an unsupported model_type and lists the supported ones', () => {
    const { folder, setConfig } = exported();
    setConfig({ model_type: 'gpt2' });
    expect(() => readHfCheckpoint(folder)).toThrow('config.json: model_type "gpt2" is not supported (supported: llama, mistral, qwen2, gemma, gemma2)');
  });

  it('reports a tensor whose shape disagrees with config.json', () => {
    const { folder, setConfig } = exported();
    setConfig({ intermediate_size: 64 });
    expect(() => readHfCheckpoint(folder)).toThrow("model.safetensors: tensor model.layers.0.mlp.gate_proj.weight has shape [48,32], config.json implies [64,32] (dimension 0 is config.json's intermediate_size)");
  });

  it('reports truncated, missing and mislabeled files by name', () => {
    const folder = freshFolder();
    writeHfFolder(folder, config, new RandomWeights(config, 1), { maxShardBytes: 40_000 });
    const index = JSON.parse(readFileSync(join(folder, 'model.safetensors.index.json'), 'utf8'));
    const shard = index.weight_map['model.norm.weight'] as string;
    expect(shard).toMatch(/^model-0000\d-of-0000\d\.safetensors$/);
    const path = join(folder, shard);
    const bytes = readFileSync(path);
    truncateSync(path, bytes.length - 100);
    expect(() => readHfCheckpoint(folder)).toThrow(new RegExp(`^${shard}: .*truncated`));
    unlinkSync(path);
    expect(() => readHfCheckpoint(folder)).toThrow(`${shard}: missing (named by model.safetensors.index.json)`);
    writeFileSync(path, Buffer.from('{"not":"safetensors"}'));
    expect(() => readHfCheckpoint(folder)).toThrow(new RegExp(`^${shard}: not a safetensors file`));
    writeFileSync(join(folder, 'config.json'), '{"model_type": "llama", ');
    expect(() => readHfCheckpoint(folder)).toThrow(/^config\.json: not valid JSON/);
    unlinkSync(join(folder, 'config.json'));
    expect(() => readHfCheckpoint(folder)).toThrow('config.json: missing');
  });

  it('bounds config sizes before allocating anything, naming the file and field', () => {
    const { folder, setConfig } = exported();
    // unbounded, 1e9 layers would build a billion expected tensor shapes before any check
    setConfig({ num_hidden_layers: 1e9 });
    expect(() => readHfCheckpoint(folder)).toThrow('config.json: invalid config (num_hidden_layers: 1000000000 is beyond 1024, the largest this reader accepts)');
    setConfig({ vocab_size: 2 ** 40 });
    expect(() => readHfCheckpoint(folder)).toThrow('config.json: invalid config (vocab_size: 1099511627776 is beyond 4194304, the largest this reader accepts)');
    setConfig({ hidden_size: 1e7 });
    expect(() => readHfCheckpoint(folder)).toThrow(/^config\.json: invalid config \(hidden_size: 10000000 is beyond 65536/);
    // in bounds but not what the weights hold
    setConfig({ vocab_size: 400 });
    expect(() => readHfCheckpoint(folder)).toThrow("model.safetensors: tensor model.embed_tokens.weight has shape [300,32], config.json implies [400,32] (dimension 0 is config.json's vocab_size)");
    setConfig({ num_hidden_layers: 3 });
    expect(() => readHfCheckpoint(folder)).toThrow(/^model\.safetensors: missing tensors model\.layers\.2\.input_layernorm\.weight, .* and 4 more$/);
  });

  it('names the file holding a dtype it cannot read or a header that lies about offsets', () => {
    const { folder } = exported();
    const path = join(folder, 'model.safetensors');
    const original = readFileSync(path);
    const rewriteHeader = (edit: (header: SafetensorsJsonHeader) => void) => rewriteSafetensorsHeader(path, original, edit);
    const norm = 'model.norm.weight'; // 32 float32 values: 128 bytes
    rewriteHeader((h) => (h[norm].dtype = 'F8_E4M3'));
    expect(() => readHfCheckpoint(folder)).toThrow('model.safetensors: safetensors tensor "model.norm.weight": unsupported dtype F8_E4M3');
    rewriteHeader((h) => {
      h[norm].dtype = 'I32';
    });
    expect(() => readHfCheckpoint(folder)).toThrow('model.safetensors: tensor model.norm.weight has dtype I32; expected F32, F16 or BF16');
    rewriteHeader((h) => (h[norm].data_offsets = [h[norm].data_offsets[0] + 4, h[norm].data_offsets[1] + 4]));
    expect(() => readHfCheckpoint(folder)).toThrow(/^model\.safetensors: safetensors tensor "[^"]+" (overlaps|starts at)/);
    rewriteHeader((h) => (h[norm].data_offsets = [h[norm].data_offsets[0], h[norm].data_offsets[1] + 1e15]));
    expect(() => readHfCheckpoint(folder)).toThrow(/^model\.safetensors: safetensors tensor "model\.norm\.weight": data_offsets \[\d+, \d+\] hold \d+ bytes, F32 \[32\] needs 128$/);
  });

  it('follows metadata aliases of a tied embedding saved once, and requires lm_head.weight when untied without one', () => {
    const tied = { ...config, tiedEmbeddings: true };
    const source = new RandomWeights(tied, 1);
    const embedding = source.read('model.embed_tokens.weight');
    // stored only as lm_head.weight, as TinyStories-656K is
    const asClassifier = freshFolder();
    writeHfFolder(asClassifier, tied, source, { tiedAs: 'lm_head' });
    const first = readHfCheckpoint(asClassifier);
    expect(first.weights.read('model.embed_tokens.weight')).toEqual(embedding);
    first.weights.close();
    // without the alias, a tied config still takes the classifier (transformers ties them regardless)
    const file = join(asClassifier, 'model.safetensors');
    rewriteSafetensorsHeader(file, readFileSync(file), (h) => delete h.__metadata__);
    expect(readHfCheckpoint(asClassifier).weights.read('model.embed_tokens.weight')).toEqual(embedding);
    // stored once as the embedding, config.json untied, the file names lm_head.weight its alias: tied in fact
    const { folder, setConfig } = exported(tied, { tiedAs: 'embed_tokens' });
    setConfig({ tie_word_embeddings: false });
    const aliased = readHfCheckpoint(folder);
    expect(aliased.config.tiedEmbeddings).toBe(true);
    expect([...aliased.weights.shapes.keys()]).not.toContain('lm_head.weight');
    aliased.weights.close();
    // no alias: the classifier is missing
    const path = join(folder, 'model.safetensors');
    rewriteSafetensorsHeader(path, readFileSync(path), (h) => delete h.__metadata__);
    expect(() => readHfCheckpoint(folder)).toThrow('model.safetensors: missing tensor lm_head.weight (config.json says tie_word_embeddings = false)');
    // an alias naming no tensor
    rewriteSafetensorsHeader(path, readFileSync(path), (h) => Object.assign(h, { __metadata__: { 'lm_head.weight': 'output.weight' } }));
    expect(() => readHfCheckpoint(folder)).toThrow("model.safetensors: missing tensor lm_head.weight (the metadata's alias output.weight names no tensor)");
  });

  it('rejects impossible configs with the field named', () => {
    const { folder, setConfig } = exported();
    setConfig({ num_key_value_heads: 3 });
    expect(() => readHfCheckpoint(folder)).toThrow('config.json: num_attention_heads 4 is not a multiple of num_key_value_heads 3');
    setConfig({ hidden_size: -1 });
    expect(() => readHfCheckpoint(folder)).toThrow(/config\.json: invalid config \(hidden_size: /);
    setConfig({ rope_scaling: { rope_type: 'yarn', factor: 4 } });
    expect(() => readHfCheckpoint(folder)).toThrow('config.json: rope_scaling type "yarn" is not supported (llama3, linear)');
  });
});

describe('Hugging Face tokenizer', () => {
  it('encodes, decodes, renders the chat template and knows the eos ids', () => {
    const folder = freshFolder();
    const config = tinyModels['llama (MHA, tied)'];
    writeHfFolder(folder, config, new RandomWeights(config, 1));
    const tok = readHfTokenizer(folder);
    const text = 'the cat sat on the mat, naïvely';
    const ids = tok.encode(text);
    expect(ids.length).toBeLessThan(new TextEncoder().encode(text).length); // merges applied
    expect(tok.decode(ids)).toBe(text);
    expect(tok.eosIds).toEqual([0, 2]);
    expect(tok.bosId).toBeNull();
    const prompt = tok.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
    expect(prompt).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.encode(prompt)).toContain(1); // <|im_start|> is one special token
    expect(tok.decode(tok.encode(prompt))).toBe('user\nHi\nassistant\n');
  });

  it('adds BOS exactly when the tokenizer\'s post-processor would, and not twice in chat prompts', () => {
    const folder = freshFolder();
    const config = tinyModels['llama (MHA, tied)'];
    writeHfFolder(folder, config, new RandomWeights(config, 1));
    const json = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8'));
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [0], tokens: ['<|endoftext|>'] } },
    };
    writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(json));
    const tok = readHfTokenizer(folder);
    expect(tok.bosId).toBe(0);
    expect(tok.encode('hi')[0]).not.toBe(0);
    const chat = tok.encodeChat([{ role: 'user', content: 'hi' }]);
    expect(chat.slice(0, 2)).toEqual([0, 1]);
    const config2 = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8'));
    writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify({ ...config2, bos_token: '<|endoftext|>', chat_template: '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}' }));
    expect(readHfTokenizer(folder).encodeChat([{ role: 'user', content: 'hi' }]).filter((id) => id === 0)).toHaveLength(1);
  });

  it('reads a chat template kept in chat_template.jinja', () => {
    const folder = freshFolder();
    const config = tinyModels['llama (MHA, tied)'];
    writeHfFolder(folder, config, new RandomWeights(config, 1));
    const tokenizerConfig = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8'));
    delete tokenizerConfig.chat_template;
    writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
    writeFileSync(join(folder, 'chat_template.jinja'), '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}');
    expect(readHfTokenizer(folder).applyChatTemplate([{ role: 'user', content: 'hello' }])).toBe('[user] hello\n');
    writeFileSync(join(folder, 'chat_template.jinja'), '{% for m in messages %}');
    expect(() => readHfTokenizer(folder)).toThrow(/^chat_template cannot be parsed/);
  });

  it('names a missing tokenizer.json', () => {
    expect(() => readHfTokenizer(freshFolder())).toThrow('tokenizer.json: missing');
  });
});
