// ChatConversation over a tiny random model with the exporter's ChatML tokenizer (real ONNX Runtime session).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatConversation } from '../../../main/engine/chat.js';
import { Conversation } from '../../../main/engine/conversation.js';
import type { ConversationSetup } from '../../../main/engine/conversation.js';
import { FpGraphDecoder } from '../../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import type { Fp16PastStore } from '../../../main/engine/kv-store.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { readHfTokenizer } from '../../../main/model/tokenizer-hf.js';
import type { HfTokenizer } from '../../../main/model/tokenizer-hf.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { tinyConfig } from './tiny-model.js';

const config: ModelConfig = { ...tinyConfig, vocabSize: 400, maxPositions: 256 };
const geometry = { numLayers: config.numLayers, numKvHeads: config.numKvHeads, headDim: config.headDim };

async function drain<T>(stream: AsyncGenerator<unknown, T>): Promise<T> {
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value;
  }
}

describe('ChatConversation', () => {
  let folder: string;
  let tok: HfTokenizer;
  let setup: ConversationSetup<Fp16PastStore>;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'reskv-chat-'));
    const weights = new RandomWeights(config, 5);
    writeHfFolder(folder, config, weights);
    tok = readHfTokenizer(folder);
    const decoder = new FpGraphDecoder(await ort.InferenceSession.create(buildDecoderGraph(config, weights, { cacheType: 'float16' })), config);
    setup = { decoder, tokenizer: tok, stores: { create: (): Fp16PastStore => new Fp16KvStore(geometry), restore: (b): Fp16PastStore => Fp16KvStore.restore(b, geometry) } };
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('feeds what the template adds each turn and keeps the cache equal to a fresh rendering', async () => {
    const chat = new ChatConversation(new Conversation(setup), tok, config.maxPositions, 'error', 'Be terse.');
    const first = await drain(chat.say('Hi there', { maxTokens: 6 }));
    expect(chat.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    expect(chat.messages[2].content).toBe(first.text);
    const second = await drain(chat.say('Tell me more', { maxTokens: 6 }));
    const rendered = tok.encodeChat(chat.messages.slice(0, 4));
    expect(chat.conversation.tokens.slice(0, rendered.length)).toEqual(rendered);
    // the same chat rendered at once into a fresh conversation replies the same (greedy)
    const fresh = await drain(new Conversation(setup).reply(rendered, { maxTokens: 6 }));
    expect(second.tokens).toEqual(fresh.tokens);
    // saved and restored, the chat goes on exactly as the original
    const restored = ChatConversation.restore(chat.save(), { ...setup, tokenizer: tok }, 'fp16');
    expect(restored.messages).toEqual(chat.messages);
    const [a, b] = [await drain(chat.say('And then?', { maxTokens: 5 })), await drain(restored.say('And then?', { maxTokens: 5 }))];
    expect(b.tokens).toEqual(a.tokens);
    expect(() => ChatConversation.restore(new Conversation(setup).save(), { ...setup, tokenizer: tok }, 'fp16')).toThrow(/no message list/);
  });

  it('rejects a chat that outgrows the context, or drops the oldest exchanges when asked', async () => {
    const long = 'word '.repeat(12);
    // one exchange fits, two do not
    const context = tok.encodeChat([{ role: 'system', content: 'Be terse.' }, { role: 'user', content: long }]).length + 20;
    const strict = new ChatConversation(new Conversation(setup), tok, context, 'error');
    await drain(strict.say(long, { maxTokens: 4 }));
    await expect(drain(strict.say(long, { maxTokens: 4 }))).rejects.toThrow(new RegExp(`positions but the model's context holds ${context}`));
    expect(strict.messages.length).toBe(2);

    const dropping = new ChatConversation(new Conversation(setup), tok, context, 'drop-oldest-turns', 'Be terse.');
    await drain(dropping.say(long, { maxTokens: 4 }));
    const next = await drain(dropping.say(long, { maxTokens: 4 }));
    expect(next.droppedMessages).toBe(2);
    expect(dropping.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    const rendered = tok.encodeChat(dropping.messages.slice(0, 2));
    expect(dropping.conversation.tokens.slice(0, rendered.length)).toEqual(rendered);
  });
});
