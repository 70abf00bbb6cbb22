// The generation loop and stores driving real ONNX Runtime sessions of the fp graph (float16 cache):
// a tiny random model from the model team's exporter, and the stories260K fixture.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Conversation } from '../../../main/engine/conversation.js';
import { FpGraphDecoder } from '../../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import { generate } from '../../../main/engine/generate.js';
import type { Fp16PastStore } from '../../../main/engine/kv-store.js';
import { stepFeeds } from '../../../main/engine/graph-feeds.js';
import { ScalarKvStore } from '../../../main/engine/scalar-kv-store.js';
import { createSession } from '../../../main/engine/session.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import { readLlama2cTokenizer } from '../../../main/model/tokenizer-llama2c.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { tinyConfig } from './tiny-model.js';

const geometry = (c: ModelConfig) => ({ numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim });
const noEos = { eosIds: [] as number[], decode: (ids: readonly number[]) => ids.join(' ') };

/** Greedy decoding written out by hand against the session: present fed back as past. */
async function handGreedy(session: ort.InferenceSession, c: ModelConfig, prompt: number[], steps: number): Promise<number[]> {
  let cache: Record<string, ort.Tensor> = {};
  for (let i = 0; i < c.numLayers; i++) for (const k of ['key', 'value']) cache[`past_key_values.${i}.${k}`] = new ort.Tensor('float16', new Uint16Array(0), [1, c.numKvHeads, 0, c.headDim]);
  let ids = prompt;
  let past = 0;
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const result = await session.run({ ...stepFeeds(ids, past), ...cache });
    const logits = (result.logits.data as Float32Array).subarray((ids.length - 1) * c.vocabSize);
    let best = 0;
    for (let j = 1; j < c.vocabSize; j++) if (logits[j] > logits[best]) best = j;
    out.push(best);
    past += ids.length;
    ids = [best];
    cache = {};
    for (const [name, t] of Object.entries(result)) if (name.startsWith('present.')) cache[name.replace('present.', 'past_key_values.')] = t as ort.Tensor;
  }
  return out;
}

describe('FpGraphDecoder on a tiny random model', () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    const created = await createSession(buildDecoderGraph(tinyConfig, new RandomWeights(tinyConfig, 3), { cacheType: 'float16' }), { threads: 1 });
    session = created.session;
    expect(created.provider).toBe('cpu'); // no GPU provider on this machine; the fallback reports it
  });

  it('generates exactly what the graph gives run by hand, whatever the prefill chunking', async () => {
    const prompt = [1, 7, 30, 12, 5];
    const expected = await handGreedy(session, tinyConfig, prompt, 12);
    for (const prefillChunk of [512, 2]) {
      const store = new Fp16KvStore(geometry(tinyConfig));
      const result = await generate({ decoder: new FpGraphDecoder(session, tinyConfig), store, tokenizer: noEos, input: prompt, options: { maxTokens: 12, prefillChunk } });
      expect(result.tokens).toEqual(expected);
      expect(store.length).toBe(prompt.length + 11);
      expect(store.bytes().fedPerStep).toBe(store.bytes().held);
      expect(store.copiedBytes()).toBe(0); // every step kept the graph's present as the store's buffer
    }
  });

  it('stops at the model context and rejects a store of another model', async () => {
    const decoder = new FpGraphDecoder(session, tinyConfig);
    const result = await generate({ decoder, store: new Fp16KvStore(geometry(tinyConfig)), tokenizer: noEos, input: [1, 2], options: { maxTokens: 100 } });
    expect(result.stopReason).toBe('context-full');
    expect(result.tokens.length).toBe(tinyConfig.maxPositions - 1);
    await expect(decoder.step([1], new Fp16KvStore({ numLayers: 2, numKvHeads: 2, headDim: 4 }))).rejects.toThrow(/does not match the model/);
  });

  it('refuses a session that is not an fp graph', async () => {
    const other = await ort.InferenceSession.create(buildDecoderGraph({ ...tinyConfig, numLayers: 1 }, new RandomWeights({ ...tinyConfig, numLayers: 1 }, 3), { cacheType: 'float16' }));
    expect(() => new FpGraphDecoder(other, tinyConfig)).toThrow(/lacks the inputs past_key_values\.1\.key/);
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('stories260K through the engine', () => {
  let decoder: FpGraphDecoder;
  let config: ModelConfig;
  const tokenizer = () => readLlama2cTokenizer(fixtures.tok512, 512);
  beforeAll(async () => {
    const ck = readLlama2cCheckpoint(fixtures.stories260K);
    config = ck.config;
    const { session } = await createSession(buildDecoderGraph(ck.config, ck.weights, { cacheType: 'float16' }));
    ck.weights.close();
    decoder = new FpGraphDecoder(session, config);
  });

  it('tells the known story greedily with the fp16 cache, and with q8_0 applied to the cache', async () => {
    const tok = tokenizer();
    for (const store of [new Fp16KvStore(geometry(config)), new ScalarKvStore('q8_0', geometry(config))]) {
      const result = await generate({ decoder, store, tokenizer: tok, input: [tok.bosId as number], options: { maxTokens: 40 } });
      expect(result.text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
      expect(result.timing.decodeTokens).toBe(39);
    }
  });

  it('saves a conversation and continues it after a restore exactly as without', async () => {
    const tok = tokenizer();
    const g = geometry(config);
    const setup = { decoder, tokenizer: tok, stores: { create: (): Fp16PastStore => new Fp16KvStore(g), restore: (b: Uint8Array): Fp16PastStore => Fp16KvStore.restore(b, g) } };
    const run = async (chat: Conversation<Fp16PastStore>, prompt: number[]) => {
      const stream = chat.reply(prompt, { maxTokens: 20, temperature: 0.9, seed: 5 });
      for (;;) {
        const next = await stream.next();
        if (next.done) return next.value;
      }
    };
    const chat = new Conversation(setup, { preamble: [tok.bosId as number] });
    await run(chat, tok.encode('Tom had a red ball.'));
    const restored = Conversation.restore(chat.save(), setup, 'fp16');
    const next = tok.encode(' One day');
    expect((await run(restored, next)).tokens).toEqual((await run(chat, next)).tokens);
  });
});
