// Conversations over SumDecoder, a deterministic test double for the loop only (see loop-doubles.ts).
import { describe, expect, it } from 'vitest';
import { Conversation, Conversations } from '../../../main/engine/conversation.js';
import type { ConversationSetup, ReplyResult } from '../../../main/engine/conversation.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import type { GenerationOptionsInput } from '../../../main/engine/generate.js';
import type { KvStore } from '../../../main/engine/kv-store.js';
import { percentile, summarizeTiming } from '../../../main/engine/timing.js';
import { SumDecoder, charTokenizer } from './loop-doubles.js';

const geometry = { numLayers: 1, numKvHeads: 1, headDim: 1 };

function setup(contextLength = 64): ConversationSetup<Fp16KvStore> & { decoder: SumDecoder } {
  return {
    decoder: new SumDecoder(contextLength),
    stores: { create: () => new Fp16KvStore(geometry), restore: (bytes) => Fp16KvStore.restore(bytes, geometry) },
    tokenizer: charTokenizer([]),
  };
}

async function reply(conversation: Conversation<Fp16KvStore>, prompt: number[], options: GenerationOptionsInput = { maxTokens: 3 }): Promise<ReplyResult> {
  const stream = conversation.reply(prompt, options);
  for (;;) {
    const next = await stream.next();
    if (next.done) return next.value;
  }
}

describe('Conversation', () => {
  it('feeds only what the store lacks on the next turn', async () => {
    const s = setup();
    const chat = new Conversation(s, { preamble: [1] });
    const first = await reply(chat, [2]);
    expect(first.tokens).toEqual([4, 1, 3]); // same cache as prompt [1, 2] in generate.test.ts
    expect(chat.tokens).toEqual([1, 2, 4, 1, 3]);
    expect(chat.store.length).toBe(4); // the last reply token is sampled, not yet fed
    s.decoder.calls.length = 0;
    await reply(chat, [5, 6]);
    expect(s.decoder.calls[0]).toEqual([3, 5, 6]);
  });

  it('rewinds into a turn, cutting the history and the store', async () => {
    const chat = new Conversation(setup(), { preamble: [1] });
    await reply(chat, [2]); // tokens 1 | 2 4 1 3, store holds 4
    await reply(chat, [5]);
    chat.rewind(3);
    expect(chat.tokens).toEqual([1, 2, 4]);
    expect(chat.turnCount).toBe(1);
    expect(chat.store.length).toBe(3);
    expect(() => chat.rewind(0)).toThrow(/preamble holds 1/);
    expect(() => chat.rewind(4)).toThrow(/cannot rewind 3 tokens to 4/);
  });

  it('undoes the last turn back to the store its reply found, so a second reply feeds the same chunks and repeats it', async () => {
    const s = setup();
    const chat = new Conversation(s, { preamble: [1] });
    await reply(chat, [2]);
    s.decoder.calls.length = 0;
    const original = await reply(chat, [5, 6]);
    const fed = s.decoder.calls.map((call) => [...call]);
    chat.undoLastTurn();
    expect(chat.tokens).toEqual([1, 2, 4, 1, 3]);
    expect(chat.store.length).toBe(4);
    s.decoder.calls.length = 0;
    const again = await reply(chat, [5, 6]);
    expect(s.decoder.calls).toEqual(fed);
    expect(again.tokens).toEqual(original.tokens);
    // the first turn back to the preamble alone, with an empty store
    chat.undoLastTurn();
    chat.undoLastTurn();
    expect(chat.tokens).toEqual([1]);
    expect(chat.store.length).toBe(0);
    expect(() => chat.undoLastTurn()).toThrow(/no turn to undo/);
  });

  it('keeps several conversations apart, each with its own store', async () => {
    const conversations = new Conversations(setup(), 'fp16');
    const a = conversations.create({ id: 'a' });
    const b = conversations.create({ id: 'b' });
    const [ra, rb] = await Promise.all([reply(a, [1, 2]), reply(b, [5])]);
    const alone = new Conversation(setup());
    expect(ra.tokens).toEqual((await reply(alone, [1, 2])).tokens);
    expect(rb.tokens).not.toEqual(ra.tokens);
    expect(a.store).not.toBe(b.store);
    expect(conversations.ids()).toEqual(['a', 'b']);
    expect(conversations.get('b')).toBe(b);
    expect(() => conversations.create({ id: 'a' })).toThrow(/already open/);
    expect(conversations.close('a')).toBe(true);
    expect(() => conversations.get('a')).toThrow(/no open conversation with id a/);
  });

  it('refuses a second reply while one is running', async () => {
    const chat = new Conversation(setup());
    const first = chat.reply([1], { maxTokens: 2 });
    await first.next();
    await expect(chat.reply([2]).next()).rejects.toThrow(/already generating/);
    while (!(await first.next()).done);
  });

  it('saves and restores a conversation, which continues exactly as the original', async () => {
    const s = setup();
    const conversations = new Conversations(s, 'fp16');
    const original = conversations.create({ id: 'story', preamble: [1] });
    await reply(original, [2]);
    const saved = original.save();
    conversations.close('story');
    const restored = conversations.restore(saved);
    expect(restored.id).toBe('story');
    expect(restored.tokens).toEqual(original.tokens);
    expect(restored.store.fp16Past(0, 'key')).toEqual(original.store.fp16Past(0, 'key'));
    const again = await reply(original, [6]);
    s.decoder.calls.length = 0;
    const fromSaved = await reply(restored, [6]);
    expect(fromSaved.tokens).toEqual(again.tokens);
    expect(s.decoder.calls[0]).toEqual([3, 6]); // the restored one did not recompute the prefix

    const corrupt = saved.slice();
    corrupt[corrupt.length - 1] ^= 1;
    expect(() => conversations.restore(corrupt)).toThrow(/saved conversation is corrupt: checksum/);
    expect(() => Conversation.restore<KvStore>(saved, s as ConversationSetup<KvStore>, 'rvq')).toThrow(/holds a fp16 store, not rvq/);
  });

  it('rejects a prompt that does not fit, or drops the oldest turns when asked', async () => {
    const strict = new Conversation(setup(12), { preamble: [1] });
    await reply(strict, [2, 3, 4]); // 1 + 3 + 3 = 7 tokens
    await expect(reply(strict, [5, 6, 7, 1, 2, 3])).rejects.toThrow(/needs 13 positions but the model's context holds 12/);
    expect(strict.turnCount).toBe(1);

    const s = setup(12);
    const dropping = new Conversation(s, { preamble: [1], overflow: 'drop-oldest-turns' });
    const firstTurn = await reply(dropping, [2, 3, 4]);
    expect(firstTurn.droppedTurns).toBe(0);
    s.decoder.calls.length = 0;
    const store = dropping.store;
    const second = await reply(dropping, [5, 6, 7, 1, 2, 3], { maxTokens: 2 });
    expect(dropping.store).toBe(store); // emptied and refilled, so settings such as a live depth survive
    expect(second.droppedTurns).toBe(1);
    expect(dropping.turnCount).toBe(1);
    expect(s.decoder.calls[0]).toEqual([1, 5, 6, 7, 1, 2, 3]); // cache rebuilt: preamble + the new turn
    expect(dropping.tokens.slice(0, 7)).toEqual([1, 5, 6, 7, 1, 2, 3]);
    await expect(reply(dropping, Array(12).fill(2))).rejects.toThrow(/needs 13 positions/);
  });
});

describe('timing summary', () => {
  it('takes nearest-rank percentiles of the decode latencies, excluding the first token', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 95)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
    const t = summarizeTiming(100, 50, [60, 10, 20, 30, 40]);
    expect(t).toEqual({
      prefillTokens: 100, prefillMs: 50, prefillTokensPerSecond: 2000, firstTokenMs: 60,
      decodeTokens: 4, decodeMs: 100, decodeTokensPerSecond: 40, latencyP50Ms: 20, latencyP95Ms: 40,
    });
  });
});
