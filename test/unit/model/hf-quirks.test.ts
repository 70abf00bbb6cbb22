// Published configs of popular chat models (test/fixtures/hf-configs): parsed at full size, then
// shrunk to test sizes with every quirk kept, written with tiny random weights by our exporter, and
// run through the ONNX graph against the float64 reference. Also their EOS lists and chat templates.
import * as ort from 'onnxruntime-node';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../../main/model/config.js';
import { parameterCount } from '../../../main/model/config.js';
import type { HfExportOptions } from '../../../main/model/hf-export.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { modelConfigFromHf } from '../../../main/model/hf-config.js';
import { readHfCheckpoint } from '../../../main/model/hf.js';
import { ReferenceModel, referenceGreedy } from '../../../main/model/reference.js';
import { readHfTokenizer } from '../../../main/model/tokenizer-hf.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { importModel } from '../../../main/library/import-model.js';
import { calibrateModel } from '../../../main/engine/calibration/calibrate.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { repoRoot } from '../../support/paths.js';
import { asReply, engineGreedy, rvqRoundTrip } from './engine-greedy.js';
import { emptyFpCache, graphGreedy, maxLogitError, presentAsPast, stepFeeds } from './session.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'hf-configs');
const published = (model: string, file = 'config.json'): Record<string, unknown> => JSON.parse(readFileSync(join(fixtures, model, file), 'utf8'));

const dir = mkdtempSync(join(tmpdir(), 'reskv-quirks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let folders = 0;

/**
 * The published config at test sizes: 2 layers (Gemma-2 alternates), at most 2 KV heads with the
 * model's query group (at most 4), 8-channel heads — 12 where head_dim differs from hidden/heads —
 * 300 tokens (the exported tokenizer's) and a 4-token sliding window. Every other field (rope
 * scaling, biases, caps, which layers slide, tying, activation) is kept as published.
 */
function shrink(json: Record<string, unknown>): Record<string, unknown> {
  const heads = json.num_attention_heads as number;
  const kvHeads = (json.num_key_value_heads as number | undefined) ?? heads;
  const group = Math.min(heads / kvHeads, 4);
  const numKvHeads = Math.min(kvHeads, 2);
  const numHeads = numKvHeads * group;
  const ownHeadDim = json.head_dim !== undefined && json.head_dim !== (json.hidden_size as number) / heads;
  const headDim = ownHeadDim ? 12 : 8;
  const small: Record<string, unknown> = { ...json, num_hidden_layers: 2, num_attention_heads: numHeads, num_key_value_heads: numKvHeads, hidden_size: ownHeadDim ? 32 : numHeads * headDim, intermediate_size: 48, vocab_size: 300 };
  if (json.head_dim !== undefined) small.head_dim = headDim;
  // a window shorter than the tests' sequences, so that it matters
  if (typeof json.sliding_window === 'number') small.sliding_window = 4;
  // Gemma-2-9B's scalar equals its head_dim; keep that relation
  if (json.query_pre_attn_scalar !== undefined) small.query_pre_attn_scalar = ((json.query_pre_attn_scalar as number) * headDim) / (json.head_dim as number);
  return small;
}

/** A tiny model of `model` written by our exporter (its generation/tokenizer configs copied in). */
function tinyFolder(model: string, options: HfExportOptions = {}): { folder: string; config: ModelConfig } {
  const json = shrink(published(model));
  const config = modelConfigFromHf(json);
  const folder = join(dir, `m${folders++}`);
  writeHfFolder(folder, config, new RandomWeights(config, 11), { ...options, configJson: json });
  for (const file of ['generation_config.json', 'tokenizer_config.json']) if (existsSync(join(fixtures, model, file))) copyFileSync(join(fixtures, model, file), join(folder, file));
  return { folder, config };
}

/** The graph against the reference: prefill logits, cached steps' logits, then 12 greedy tokens. */
async function expectGraphMatchesReference(folder: string): Promise<ModelConfig> {
  const ck = readHfCheckpoint(folder);
  const weights = readAllWeights(ck.weights);
  const session = await ort.InferenceSession.create(buildDecoderGraph(ck.config, ck.weights));
  ck.weights.close();
  const ref = new ReferenceModel(ck.config, weights);
  const prompt = [5, 17, 250, 3, 99];
  const first = await session.run({ ...stepFeeds(prompt, 0), ...emptyFpCache(ck.config) });
  expect(maxLogitError(ref, prompt, first.logits.data as Float32Array)).toBeLessThan(1e-4);
  const second = await session.run({ ...stepFeeds([42, 7], prompt.length), ...presentAsPast(first) });
  expect(maxLogitError(ref, [42, 7], second.logits.data as Float32Array)).toBeLessThan(1e-4);
  expect(await graphGreedy(session, ck.config, prompt, 12)).toEqual(referenceGreedy(new ReferenceModel(ck.config, weights), prompt, 12));
  return ck.config;
}

// parameter counts as the model cards state them (embedding counted once when tied)
const models: { model: string; parameters: number; quirks: Partial<ModelConfig>; export?: HfExportOptions }[] = [
  {
    model: 'Llama-3.1-8B-Instruct',
    parameters: 8_030_261_248,
    quirks: { tiedEmbeddings: false, rope: { theta: 500000, style: 'half', scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } } },
  },
  {
    model: 'Llama-3.2-1B-Instruct',
    parameters: 1_235_814_400,
    quirks: { tiedEmbeddings: true, headDim: 64, rope: { theta: 500000, style: 'half', scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } } },
    export: { tiedAs: 'lm_head' },
  },
  { model: 'Qwen2.5-7B-Instruct', parameters: 7_615_616_512, quirks: { qkvBias: true, tiedEmbeddings: false, numKvHeads: 4, maxPositions: 32768 } },
  { model: 'Mistral-7B-Instruct-v0.3', parameters: 7_248_023_552, quirks: { architecture: 'mistral', vocabSize: 32768, maxPositions: 32768, rope: { theta: 1e6, style: 'half', scaling: null } } },
  { model: 'gemma-7b', parameters: 8_537_680_896, quirks: { headDim: 256, normWeightOffset: 1, embeddingScale: Math.sqrt(3072), activation: 'gelu_tanh', tiedEmbeddings: true } },
  {
    model: 'gemma-2-9b-it',
    parameters: 9_241_705_984,
    quirks: {
      architecture: 'gemma2',
      headDim: 256,
      attentionScalar: 256,
      attentionSoftcap: 50,
      logitSoftcap: 30,
      sandwichNorms: true,
      maxPositions: 8192,
      slidingWindow: { size: 4096, layers: Array.from({ length: 21 }, (_, i) => 2 * i) },
      embeddingScale: Math.sqrt(3584),
    },
  },
  { model: 'SmolLM2-135M-Instruct', parameters: 134_515_008, quirks: { tiedEmbeddings: true, numHeads: 9, numKvHeads: 3, rope: { theta: 100000, style: 'half', scaling: null } } },
];

describe.each(models)('$model', ({ model, parameters, quirks, export: options }) => {
  it('reads the published config.json at full size', () => {
    const c = modelConfigFromHf(published(model));
    expect(c).toMatchObject(quirks);
    expect(parameterCount(c)).toBe(parameters);
  });

  it('tiny random weights with its quirks: the ONNX graph equals the float64 reference (logits and greedy tokens)', async () => {
    const { folder, config } = tinyFolder(model, options);
    const read = await expectGraphMatchesReference(folder);
    expect(read).toEqual(config);
  });
});

// The library path: import, calibrate, then the engine's rvq cache against the reference run
// through the same codebooks (the rvq graph carries each quirk too).
describe.each(['Llama-3.2-1B-Instruct', 'Qwen2.5-7B-Instruct', 'gemma-2-9b-it'])('%s through the engine', (model) => {
  it('greedy replies with a calibrated rvq cache equal the reference through the same codebooks', async () => {
    const { folder } = tinyFolder(model, { tiedAs: 'lm_head' });
    writeFileSync(join(folder, 'tokenizer_config.json'), '{}'); // plain continuation: prompt ids are the encoded text
    const library = join(dir, `library${folders++}`);
    const { folder: modelFolder } = importModel(folder, { library, id: 'tiny' });
    const text = 'The cat sat on the mat. In the morning the sun rose over the hills, and the children ran out to play. '.repeat(12);
    await calibrateModel(modelFolder, { text: { kind: 'text', name: 'inline', text }, settings: { depth: 2, codebookSize: 16, groupSize: 4, maxVectors: 1000, kmeansIterations: 3 } });
    const ck = readHfCheckpoint(folder);
    const weights = readAllWeights(ck.weights);
    ck.weights.close();
    const tok = readHfTokenizer(folder);
    const prompts = ['the hills', 'On the mat, the'];
    const replies = await engineGreedy(library, 'tiny', { format: 'rvq' }, prompts, 16);
    const roundTrip = rvqRoundTrip(modelFolder);
    for (const p of prompts) expect(replies.get(p), p).toEqual(asReply(referenceGreedy(new ReferenceModel(ck.config, weights, roundTrip), tok.encode(p), 16), tok.eosIds));
  }, 120_000);
});

it("Gemma-2's sliding window changes what its even layers see once a sequence outgrows it", () => {
  const config = modelConfigFromHf(shrink(published('gemma-2-9b-it')));
  expect(config.slidingWindow).toEqual({ size: 4, layers: [0] });
  const weights = new RandomWeights(config, 11);
  const all = new Map([...weights.shapes.keys()].map((name) => [name, weights.read(name)]));
  const windowed = new ReferenceModel(config, all);
  const full = new ReferenceModel({ ...config, slidingWindow: undefined }, all);
  const gap = [5, 17, 250, 3, 99, 42].map((t) => {
    const [a, b] = [windowed.forward(t), full.forward(t)];
    return Math.max(...a.map((v, j) => Math.abs(v - b[j])));
  });
  expect(gap.slice(0, 4)).toEqual([0, 0, 0, 0]);
  expect(Math.min(...gap.slice(4))).toBeGreaterThan(1e-3);
});

it('generation stops at any id of an eos_token_id list', async () => {
  const { folder } = tinyFolder('Llama-3.1-8B-Instruct');
  writeFileSync(join(folder, 'tokenizer_config.json'), '{}');
  const library = join(dir, `library${folders++}`);
  const prompt = 'On the mat, the';
  writeFileSync(join(folder, 'generation_config.json'), JSON.stringify({ eos_token_id: [299] }));
  importModel(folder, { library, id: 'free' });
  const free = (await engineGreedy(library, 'free', { format: 'fp16' }, [prompt], 12)).get(prompt)!;
  // the second id of the list is a token the free run generates, first at position `at`
  const at = free.findIndex((t, i) => i >= 2 && free.indexOf(t) === i);
  expect(at).toBeGreaterThanOrEqual(2);
  writeFileSync(join(folder, 'generation_config.json'), JSON.stringify({ eos_token_id: [299, free[at]] }));
  importModel(folder, { library, id: 'stopping' });
  // the reply ends with the stop id (kept in the tokens, not in the text)
  expect((await engineGreedy(library, 'stopping', { format: 'fp16' }, [prompt], 12)).get(prompt)).toEqual(free.slice(0, at + 1));
}, 120_000);

describe('published generation and tokenizer configs', () => {
  it('several stop ids from generation_config.json eos_token_id lists', () => {
    expect(readHfTokenizer(tinyFolder('Llama-3.1-8B-Instruct').folder).eosIds).toEqual([128001, 128008, 128009]);
    expect(readHfTokenizer(tinyFolder('Qwen2.5-7B-Instruct').folder).eosIds).toEqual([151645, 151643]);
    expect(readHfTokenizer(tinyFolder('gemma-2-9b-it').folder).eosIds).toEqual([1, 107]);
    expect(readHfTokenizer(tinyFolder('SmolLM2-135M-Instruct').folder).eosIds).toEqual([2]);
    // without generation_config.json, config.json's list (as transformers falls back)
    const { folder } = tinyFolder('Llama-3.1-8B-Instruct');
    unlinkSync(join(folder, 'generation_config.json'));
    expect(readHfTokenizer(folder).eosIds).toEqual([128001, 128008, 128009]);
  });

  it("renders Llama 3.1's chat template: BOS in the template, system header with its default date, trimmed turns", () => {
    const tok = readHfTokenizer(tinyFolder('Llama-3.1-8B-Instruct').folder);
    expect(tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: ' Hi there ' }])).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it("renders Gemma-2's template (model role, BOS) and reports its refusal of a system message", () => {
    const tok = readHfTokenizer(tinyFolder('gemma-2-9b-it').folder);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Bye' }])).toBe(
      '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n',
    );
    expect(() => tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }])).toThrow("the model's chat template refused these messages: System role not supported");
  });

  it("renders Qwen2.5's template: its default system prompt, or the caller's", () => {
    const tok = readHfTokenizer(tinyFolder('Qwen2.5-7B-Instruct').folder);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }])).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.bosId).toBeNull(); // bos_token null: Qwen prompts start without one
  });

  it("renders SmolLM2's ChatML template with its default system prompt", () => {
    const tok = readHfTokenizer(tinyFolder('SmolLM2-135M-Instruct').folder);
    expect(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    // ChatML's markers are the exported tokenizer's special tokens: one id each
    expect(tok.encodeChat([{ role: 'user', content: 'Hi' }]).filter((id) => id === 1)).toHaveLength(3);
  });
});
