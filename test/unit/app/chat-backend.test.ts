// Conversations through the backend worker on the real stories260K model: streamed tokens, saved
// transcripts and caches, a restarted backend resuming without recomputation, bad input rejected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendEvent, ChatSession, SamplingOptions } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { ApiArgumentError } from '../../../main/backend/errors.js';
import { importStories260K, startSourceBackend } from '../../support/backend.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

const greedy: SamplingOptions = { maxTokens: 24, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: null, stop: [] };

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('chat through the backend worker (stories260K)', () => {
  let backend: Backend;
  let dataDir: string;
  const events: BackendEvent[] = [];

  beforeAll(async () => {
    ({ backend, dataDir } = await startSourceBackend());
    backend.subscribe((e) => events.push(e));
    await importStories260K(backend, dataDir);
  });

  afterAll(async () => {
    await backend?.close();
  });

  it('streams a reply, keeps the transcript and reports figures', async () => {
    const started = (await backend.call('chat.start', ['stories260K', 'fp16', null])) as ChatSession;
    expect(started.open?.info).toMatchObject({ id: 'stories260K', cache: 'fp16', provider: 'cpu', chat: false });
    const after = (await backend.call('chat.send', [started.id, 'Once upon a time', greedy])) as ChatSession;
    const tokens = events.filter((e): e is Extract<BackendEvent, { type: 'chat-token' }> => e.type === 'chat-token' && e.conversationId === started.id);
    expect(tokens.length).toBeGreaterThan(0);
    const reply = after.messages.at(-1)!;
    expect(reply.role).toBe('assistant');
    expect(reply.content).toBe(tokens.map((t) => t.text).join(''));
    expect(reply.content.length).toBeGreaterThan(20);
    const figures = after.open!.figures;
    expect(figures.cachedTokens).toBeGreaterThan(20);
    // fp16: 640 bytes per cached token (5 layers x K,V x 4 heads x 8 dims x 2 bytes)
    expect(figures.kv.fp16).toBe(figures.cachedTokens * 640);
    expect(figures.kv.held).toBe(figures.kv.fp16);
    expect(figures.lastReply?.decodeTokensPerSecond).toBeGreaterThan(0);
  });

  it('a q8_0 conversation holds fewer bytes; a restarted backend resumes it and continues', async () => {
    const started = (await backend.call('chat.start', ['stories260K', 'q8_0', null])) as ChatSession;
    const first = (await backend.call('chat.send', [started.id, 'Tom had a red ball.', greedy])) as ChatSession;
    expect(first.open!.figures.kv.held).toBeLessThan(first.open!.figures.kv.fp16);

    await backend.close();
    ({ backend } = await startSourceBackend(dataDir));
    backend.subscribe((e) => events.push(e));
    const saved = (await backend.call('chat.list', [])) as ChatSession[];
    expect(saved.map((s) => s.id)).toContain(started.id);
    const resumed = (await backend.call('chat.resume', [started.id])) as ChatSession;
    expect(resumed.messages).toEqual(first.messages);
    expect(resumed.open!.figures.cachedTokens).toBe(first.open!.figures.cachedTokens);
    const second = (await backend.call('chat.send', [started.id, 'He', greedy])) as ChatSession;
    expect(second.messages).toHaveLength(4);
  });

  it('forks a conversation under another cache: same messages, its cache refilled by its next reply, independent after', async () => {
    const started = (await backend.call('chat.start', ['stories260K', 'fp16', null])) as ChatSession;
    const first = (await backend.call('chat.send', [started.id, 'Once upon a time', greedy])) as ChatSession;
    const twin = (await backend.call('chat.fork', [started.id, 'q8_0'])) as ChatSession;
    expect(twin).toMatchObject({ model: 'stories260K', cache: 'q8_0', forkedFrom: started.id, messages: first.messages });
    expect(twin.id).not.toBe(started.id);
    expect(twin.open?.info.cache).toBe('q8_0');
    expect(twin.open?.figures).toMatchObject({ tokens: first.open!.figures.tokens, cachedTokens: 0 });
    const saved = (await backend.call('chat.list', [])) as ChatSession[];
    expect(saved.find((s) => s.id === twin.id)).toMatchObject({ cache: 'q8_0', forkedFrom: started.id, messages: first.messages });

    const original = (await backend.call('chat.send', [started.id, 'The dog', greedy])) as ChatSession;
    const copy = (await backend.call('chat.send', [twin.id, 'The dog', greedy])) as ChatSession;
    expect(copy.messages.slice(0, 3)).toEqual(original.messages.slice(0, 3));
    expect(copy.messages).toHaveLength(4);
    // the twin's first reply prefills the whole history, the original only its last token and the message
    const [a, b] = [original.open!.figures, copy.open!.figures];
    expect(b.lastReply!.prefillTokens).toBe(a.lastReply!.prefillTokens + first.open!.figures.cachedTokens);
    expect(b.kv.held).toBeLessThan(b.kv.fp16);
    expect(a.kv.held).toBe(a.kv.fp16);

    // independent after: removing the twin leaves the original as it was
    await backend.call('chat.remove', [twin.id]);
    const resumed = (await backend.call('chat.resume', [started.id])) as ChatSession;
    expect(resumed.messages).toEqual(original.messages);
  });

  it('rejects bad forks with messages naming the problem', async () => {
    const fp = (await backend.call('chat.start', ['stories260K', 'fp16', null])) as ChatSession;
    await expect(backend.call('chat.fork', [fp.id, ''])).rejects.toThrow(/^Cache to compare with: choose a cache to compare with$/);
    await expect(backend.call('chat.fork', ['', 'q8_0'])).rejects.toThrow(/^Conversation: /);
    await expect(backend.call('chat.fork', [fp.id, 'zip9'])).rejects.toThrow(/unknown cache 'zip9'/);
    await expect(backend.call('chat.fork', [fp.id, 'fp16'])).rejects.toThrow(/already uses the fp16 cache/);
    await expect(backend.call('chat.fork', [fp.id, 'rvq'])).rejects.toThrow(/model stories260K has no RVQ codebooks yet/);
    await expect(backend.call('chat.fork', ['chat-nope', 'q8_0'])).rejects.toThrow(/conversation 'chat-nope' cannot be read/);
    const saved = (await backend.call('chat.remove', [fp.id])) as ChatSession[];
    expect(saved.filter((s) => s.forkedFrom === fp.id)).toEqual([]); // no failed fork left anything behind
  });

  it('rejects bad requests with clear messages', async () => {
    await expect(backend.call('chat.start', ['no-such-model', 'fp16', null])).rejects.toThrow(/no model 'no-such-model'/);
    await expect(backend.call('chat.start', ['stories260K', 'zip9', null])).rejects.toThrow(/unknown cache 'zip9'/);
    await expect(backend.call('chat.send', ['chat-nope', 'hi', greedy])).rejects.toThrow(/not open/);
    await expect(backend.call('chat.send', ['x', 'hi', { ...greedy, temperature: -1 }])).rejects.toThrow(/^Temperature: must be at least 0$/);
    const fp = (await backend.call('chat.start', ['stories260K', 'fp16', null])) as ChatSession;
    await expect(backend.call('chat.setDepth', [fp.id, 4])).rejects.toThrow(/no residual depth/);
    expect(await backend.call('chat.remove', [fp.id])).not.toContainEqual(expect.objectContaining({ id: fp.id }));
  });

  it('answers a message longer than the context as bad arguments (context_length_exceeded), not a backend failure', async () => {
    const fp = (await backend.call('chat.start', ['stories260K', 'fp16', null])) as ChatSession;
    const error = await backend.call('chat.send', [fp.id, 'Once upon a time '.repeat(300), greedy]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiArgumentError);
    expect(error).toMatchObject({ code: 'context_length_exceeded', message: expect.stringMatching(/the prompt needs \d+ positions but the model's context holds 512/) });
    // the conversation is untouched and still answers
    const after = (await backend.call('chat.send', [fp.id, 'Once upon a time', greedy])) as ChatSession;
    expect(after.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    await backend.call('chat.remove', [fp.id]);
  });

  it('keeps each reply with its facts, regenerates the last reply, and drops the oldest turns when asked instead of refusing', async () => {
    const fp = (await backend.call('chat.start', ['stories260K', 'fp16', null])) as ChatSession;
    const opening = 'Once upon a time '.repeat(25);
    const first = (await backend.call('chat.send', [fp.id, opening, greedy])) as ChatSession;
    const reply = first.messages.at(-1)!;
    expect(reply.reply).toMatchObject({ depth: null, tokens: 24, end: 'max-tokens', droppedTurns: 0, duringJobs: [] });
    expect(reply.reply!.decodeTokensPerSecond).toBeGreaterThan(0);

    // greedy: the same history gives the same reply again, in place of the old one
    const again = (await backend.call('chat.regenerate', [fp.id, greedy])) as ChatSession;
    expect(again.messages.map((m) => m.content)).toEqual(first.messages.map((m) => m.content));
    expect(again.open!.figures.tokens).toBe(first.open!.figures.tokens);

    // a message that fits alone but not after the history: refused, then sent dropping the oldest turn
    const used = first.open!.figures.tokens;
    const perRepeat = (used - 1 - 24) / 25; // BOS, the opening, the reply
    const long = 'Once upon a time '.repeat(Math.ceil((512 - used + 16) / perRepeat));
    const refused = await backend.call('chat.send', [fp.id, long, greedy]).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'context_length_exceeded' });
    const dropped = (await backend.call('chat.send', [fp.id, long, greedy, true])) as ChatSession;
    expect(dropped.messages).toHaveLength(4); // the transcript keeps what the model no longer sees
    expect(dropped.messages.at(-1)!.reply).toMatchObject({ droppedTurns: 1, tokens: 24, end: 'max-tokens' });
    expect(dropped.open!.figures.tokens).toBeLessThan(512);
    await backend.call('chat.remove', [fp.id]);
  });
});
