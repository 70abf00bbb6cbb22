// Conversations through the backend worker on the real stories260K model: streamed tokens, saved
// transcripts and caches, a restarted backend resuming without recomputation, bad input rejected.
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendEvent, ChatSession, JobSnapshot, SamplingOptions } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { startSourceBackend } from '../../support/backend.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

const greedy: SamplingOptions = { maxTokens: 24, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: null, stop: [] };

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('chat through the backend worker (stories260K)', () => {
  let backend: Backend;
  let dataDir: string;
  const events: BackendEvent[] = [];

  beforeAll(async () => {
    ({ backend, dataDir } = await startSourceBackend());
    backend.subscribe((e) => events.push(e));
    const source = await mkdtemp(join(tmpdir(), 'reskv-ckpt-'));
    await copyFile(fixtures.stories260K, join(source, 'stories260K.bin'));
    await copyFile(fixtures.tok512, join(source, 'tok512.bin'));
    const job = (await backend.call('models.import', [join(source, 'stories260K.bin')])) as JobSnapshot;
    const finished = () => events.some((e) => e.type === 'job' && e.job.id === job.id && e.job.state !== 'running');
    while (!finished()) await new Promise((r) => setTimeout(r, 50));
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

  it('rejects bad requests with clear messages', async () => {
    await expect(backend.call('chat.start', ['no-such-model', 'fp16', null])).rejects.toThrow(/no model 'no-such-model'/);
    await expect(backend.call('chat.start', ['stories260K', 'zip9', null])).rejects.toThrow(/unknown cache 'zip9'/);
    await expect(backend.call('chat.send', ['chat-nope', 'hi', greedy])).rejects.toThrow(/not open/);
    await expect(backend.call('chat.send', ['x', 'hi', { ...greedy, temperature: -1 }])).rejects.toThrow(/temperature/);
    const fp = (await backend.call('chat.start', ['stories260K', 'fp16', null])) as ChatSession;
    await expect(backend.call('chat.setDepth', [fp.id, 4])).rejects.toThrow(/no residual depth/);
    expect(await backend.call('chat.remove', [fp.id])).not.toContainEqual(expect.objectContaining({ id: fp.id }));
  });
});
