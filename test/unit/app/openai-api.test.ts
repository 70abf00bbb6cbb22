// The OpenAI-compatible local API, driven by the official `openai` client against the real backend
// worker and HTTP server on stories260K: chat (whole and streamed), completions, the model list,
// ResKV's cache extras, errors in OpenAI's shape, the token, queued concurrent requests, a client
// leaving mid-stream.
import { copyFile, mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackendEvent, CompletionRequest, JobSnapshot } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { importIntoLibrary } from '../../../main/backend/models.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { readHfTokenizer } from '../../../main/model/tokenizer-hf.js';
import { startHeadlessServer, type HeadlessServer } from '../../../main/server/http-server.js';
import { startSourceBackend } from '../../support/backend.js';
import { ReplyGate, type RecordedBackend } from '../../support/reply-gate.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { tinyModels } from '../model/tiny-models.js';

const token = 'local-api-test-token';
const maxBodyBytes = 64 * 1024;
/** stories260K: 5 layers x K,V x 4 KV heads x 8 dims x 2 bytes per cached token in fp16. */
const fp16BytesPerToken = 640;

/** The ResKV extras the usage object carries. */
interface ResKvUsage extends OpenAI.CompletionUsage {
  reskv_kv_bytes: number;
  reskv_kv_bytes_fp16: number;
  reskv_cache: string;
  reskv_depth: number | null;
}

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('OpenAI-compatible local API (stories260K, official client)', () => {
  let backend: Backend;
  /** Holds a long request after a streamed piece: the cancellation tests do not race the decode. */
  const gate = new ReplyGate();
  /** What the server calls the backend through (each call lets a held reply one piece on). */
  let served: RecordedBackend;
  let server: HeadlessServer;
  let client: OpenAI;
  let tinyChatSource: string;
  const events: BackendEvent[] = [];
  const chat = (extra: Record<string, unknown> = {}) => ({
    model: 'stories260K',
    messages: [{ role: 'user' as const, content: 'Once upon a time' }],
    max_tokens: 24,
    temperature: 0,
    ...extra,
  });
  const deltas = (id: string) => events.filter((e) => e.type === 'completion-delta' && e.requestId === id).length;
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise((r) => setTimeout(r, 5));
  };
  /** A backend request that runs until the context is full unless cancelled. */
  const longRequest = (requestId: string): CompletionRequest => ({
    requestId,
    model: 'stories260K',
    cache: 'fp16',
    depth: null,
    input: { kind: 'text', prompt: 'Once upon a time' },
    sampling: { maxTokens: 100_000, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 7, stop: [] },
  });
  /** A raw request, for what the client would not send. */
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(new URL(path, server.url), { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers } });

  beforeAll(async () => {
    let dataDir: string;
    ({ backend, dataDir } = await startSourceBackend(undefined, gate));
    backend.subscribe((e) => events.push(e));
    const source = await mkdtemp(join(tmpdir(), 'reskv-ckpt-'));
    await copyFile(fixtures.stories260K, join(source, 'stories260K.bin'));
    await copyFile(fixtures.tok512, join(source, 'tok512.bin'));
    const control = { report: () => undefined, signal: new AbortController().signal };
    await importIntoLibrary(dataDir, join(source, 'stories260K.bin'), control);
    // a tiny random-weight model with a chat template (ChatML), for chat rendering
    const tinyConfig = tinyModels['llama (MHA, tied)'];
    tinyChatSource = join(source, 'tiny-chat');
    writeHfFolder(tinyChatSource, tinyConfig, new RandomWeights(tinyConfig, 3));
    await importIntoLibrary(dataDir, tinyChatSource, control);
    served = gate.serving(backend);
    server = await startHeadlessServer({ port: 0, rendererDir: null, backend: served, token, maxBodyBytes });
    client = new OpenAI({ baseURL: `${server.url}v1`, apiKey: token, maxRetries: 0 });
  }, 60_000); // two imports, each in its own worker thread

  afterEach(() => gate.open()); // a test that failed holding it leaves the others free

  afterAll(async () => {
    await server?.close();
    await backend?.close();
  });

  it('lists the library models with the caches they offer', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models).toEqual([
      { id: 'stories260K', object: 'model', created: expect.any(Number), owned_by: 'reskv', reskv_caches: ['fp16', 'q8_0', 'q4_0', 'kivi2'], reskv_max_depths: {} },
      { id: 'tiny-chat', object: 'model', created: expect.any(Number), owned_by: 'reskv', reskv_caches: ['fp16', 'q8_0', 'q4_0', 'kivi2'], reskv_max_depths: {} },
    ]);
    expect(await client.models.retrieve('stories260K')).toMatchObject({ id: 'stories260K' });
  });

  it('answers a chat completion whole, with usage and KV bytes', async () => {
    const reply = await client.chat.completions.create(chat({ reskv_cache: 'q8_0' }) as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(reply).toMatchObject({ object: 'chat.completion', model: 'stories260K' });
    expect(reply.id).toMatch(/^chatcmpl-/);
    const [choice] = reply.choices;
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content!.length).toBeGreaterThan(20);
    expect(['stop', 'length']).toContain(choice.finish_reason);
    const usage = reply.usage as ResKvUsage;
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeLessThanOrEqual(24);
    expect(usage.prompt_tokens).toBeGreaterThan(1);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(usage.reskv_cache).toBe('q8_0');
    expect(usage.reskv_depth).toBeNull();
    // the cache holds every token but at most the last sampled one
    expect(usage.reskv_kv_bytes_fp16 / fp16BytesPerToken).toBeGreaterThanOrEqual(usage.total_tokens - 1);
    expect(usage.reskv_kv_bytes_fp16 / fp16BytesPerToken).toBeLessThanOrEqual(usage.total_tokens);
    expect(usage.reskv_kv_bytes).toBeLessThan(usage.reskv_kv_bytes_fp16);
  });

  it('streams a chat completion: role first, deltas that make the whole reply, finish_reason, usage', async () => {
    const whole = await client.chat.completions.create(chat() as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect((whole.usage as ResKvUsage).reskv_kv_bytes).toBe((whole.usage as ResKvUsage).reskv_kv_bytes_fp16);
    const stream = await client.chat.completions.create({ ...chat(), stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const withText = chunks.filter((c) => c.choices[0]?.delta.content);
    expect(withText.length).toBeGreaterThan(1);
    // greedy: the same reply as the whole answer, piece by piece
    expect(withText.map((c) => c.choices[0].delta.content).join('')).toBe(whole.choices[0].message.content);
    const finishing = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finishing.map((c) => c.choices[0].finish_reason)).toEqual([whole.choices[0].finish_reason]);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(whole.usage);
  });

  it('continues text through /v1/completions, whole and streamed', async () => {
    const params = { model: 'stories260K', prompt: 'Once upon a time', max_tokens: 12, temperature: 0, stop: ['zzz'] };
    const whole = await client.completions.create(params);
    expect(whole).toMatchObject({ object: 'text_completion', model: 'stories260K' });
    expect(whole.choices[0].text.length).toBeGreaterThan(5);
    expect(whole.choices[0].finish_reason).toBe(whole.usage!.completion_tokens === 12 ? 'length' : 'stop');
    const stream = await client.completions.create({ ...params, stream: true });
    let text = '';
    const reasons: (string | null)[] = [];
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      text += chunk.choices[0].text;
      reasons.push(chunk.choices[0].finish_reason);
    }
    expect(text).toBe(whole.choices[0].text);
    expect(reasons.filter(Boolean)).toEqual([whole.choices[0].finish_reason]);
  });

  it("renders a chat model's messages with its template: system, earlier turns, then the user's", async () => {
    const messages = [
      { role: 'system' as const, content: 'You are terse.' },
      { role: 'user' as const, content: 'Hi there' },
      { role: 'assistant' as const, content: 'Hello.' },
      { role: 'user' as const, content: 'How are you?' },
    ];
    const reply = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4, temperature: 0 });
    const rendered = readHfTokenizer(tinyChatSource).encodeChat(messages);
    expect(reply.usage?.prompt_tokens).toBe(rendered.length);
    expect(reply.usage?.completion_tokens).toBeGreaterThan(0);
    // 'developer' is OpenAI's newer name for the system role
    const developer = await client.chat.completions.create({ model: 'tiny-chat', messages: [{ ...messages[0], role: 'developer' }, ...messages.slice(1)], max_tokens: 4, temperature: 0 });
    expect(developer.choices[0].message.content).toBe(reply.choices[0].message.content);
    expect(developer.usage?.prompt_tokens).toBe(rendered.length);
  });

  it('rejects invalid fields with 400 naming the field', async () => {
    const bad = async (extra: Record<string, unknown>) => {
      const error = await client.chat.completions.create(chat(extra) as OpenAI.ChatCompletionCreateParamsNonStreaming).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      return error as InstanceType<typeof OpenAI.BadRequestError>;
    };
    const temperature = await bad({ temperature: 7 });
    expect(temperature).toMatchObject({ status: 400, param: 'temperature', type: 'invalid_request_error' });
    expect(temperature.message).toMatch(/temperature/);
    expect(await bad({ messages: [] })).toMatchObject({ param: 'messages' });
    expect(await bad({ messages: [{ role: 'tool', content: 'x' }] })).toMatchObject({ param: 'messages.0.role' });
    expect(await bad({ n: 2 })).toMatchObject({ param: 'n' });
    expect(await bad({ tools: [{ type: 'function', function: { name: 'f' } }] })).toMatchObject({ param: 'tools', message: expect.stringMatching(/tools: tools are not supported/) });
    expect(await bad({ messages: [{ role: 'assistant', content: 'x' }] })).toMatchObject({ param: 'messages', message: expect.stringMatching(/last message must be the user's/) });
    const rvq = await bad({ reskv_cache: 'rvq' });
    expect(rvq).toMatchObject({ param: 'reskv_cache' });
    expect(rvq.message).toMatch(/no RVQ codebooks/);
    expect(await bad({ reskv_cache: 'zip9' })).toMatchObject({ param: 'reskv_cache', message: expect.stringMatching(/unknown cache.*offers fp16, q8_0, q4_0, kivi2/) });
    expect(await bad({ reskv_cache: 'q4_0', reskv_depth: 2 })).toMatchObject({ param: 'reskv_depth', message: expect.stringMatching(/rvq caches only/) });
    const tooLong = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time '.repeat(300), max_tokens: 4 }).catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(OpenAI.BadRequestError);
    const overflow = { param: 'prompt', code: 'context_length_exceeded', message: expect.stringMatching(/the prompt needs \d+ positions but the model's context holds 512/) };
    expect(tooLong).toMatchObject(overflow);
    expect(await bad({ messages: [{ role: 'user', content: 'Once upon a time '.repeat(300) }] })).toMatchObject({ ...overflow, param: 'messages' });
    expect(await bad({ model: 'tiny-chat', messages: [{ role: 'user', content: 'the '.repeat(600) }] })).toMatchObject({ ...overflow, param: 'messages', message: expect.stringMatching(/context holds 256/) });
    // streamed: the error arrives in the stream (headers went first), still naming the field
    const streamed = await post('/v1/chat/completions', JSON.stringify({ ...chat({ messages: [{ role: 'user', content: 'Once upon a time '.repeat(300) }] }), stream: true }));
    expect(await streamed.text()).toContain(JSON.stringify({ param: 'messages', code: 'context_length_exceeded' }).slice(1, -1));
    // an empty user message: 400 naming it (it used to be a 500, which OpenAI clients retry)
    expect(await bad({ messages: [{ role: 'user', content: '' }] })).toMatchObject({ param: 'messages.0.content', message: expect.stringMatching(/must not be empty/) });
    expect(await bad({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: [] }] })).toMatchObject({ param: 'messages.1.content' });
  });

  it('answers an unknown model with 404 model_not_found', async () => {
    const error = await client.chat.completions.create(chat({ model: 'gpt-4o' }) as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    await expect(client.models.retrieve('gpt-4o')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('requires the bearer token (401)', async () => {
    const stranger = new OpenAI({ baseURL: `${server.url}v1`, apiKey: 'wrong-token-wrong', maxRetries: 0 });
    await expect(stranger.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const res = await fetch(new URL('/v1/models', server.url));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: 'invalid_api_key' } });
  });

  it('answers malformed JSON with 400, an oversize body with 413, a wrong method with 405, an unknown route with 404', async () => {
    const malformed = await post('/v1/chat/completions', '{"model": "stories260K",');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: { message: 'request body is not valid JSON', type: 'invalid_request_error', param: null, code: null } });
    const notObject = await post('/v1/chat/completions', '[1, 2]');
    expect(notObject.status).toBe(400);

    const huge = JSON.stringify({ ...chat(), messages: [{ role: 'user', content: 'x'.repeat(maxBodyBytes) }] });
    const oversize = await post('/v1/chat/completions', huge);
    expect(oversize.status).toBe(413);
    expect(await oversize.json()).toMatchObject({ error: { code: 'request_too_large' } });

    const wrongMethod = await fetch(new URL('/v1/chat/completions', server.url), { headers: { authorization: `Bearer ${token}` } });
    expect(wrongMethod.status).toBe(405);
    expect((await post('/v1/embeddings', '{}')).status).toBe(404);
    // API-only: no renderer and no bridge on this server
    expect((await post('/api/app.info', '[]')).status).toBe(404);
  });

  it('queues concurrent requests on the model: each gets its own reply', async () => {
    const prompts = ['Once upon a time', 'The little dog', 'Lily had a red ball'];
    const alone = [];
    for (const content of prompts) alone.push(await client.chat.completions.create(chat({ messages: [{ role: 'user', content }] }) as OpenAI.ChatCompletionCreateParamsNonStreaming));
    const together = await Promise.all(
      prompts.map((content, i) =>
        i === 1
          ? client.chat.completions.create({ ...chat({ messages: [{ role: 'user', content }] }), stream: true }).then(async (stream) => {
              let text = '';
              for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
              return text;
            })
          : client.chat.completions.create(chat({ messages: [{ role: 'user', content }] }) as OpenAI.ChatCompletionCreateParamsNonStreaming).then((r) => r.choices[0].message.content),
      ),
    );
    expect(together).toEqual(alone.map((r) => r.choices[0].message.content));
    expect(new Set(together).size).toBe(3);
  });

  it.each([
    ['mid-stream', true],
    ['while waiting for a whole answer', false],
  ])('cancels the request of a client that leaves %s, and keeps serving', async (_, stream) => {
    // a long request holds the model's queue, so the client's waits behind it; the gate holds the long
    // one at its first piece, and each server call lets it one piece on (so the worker reads the call)
    const blockerId = stream ? 'blocker-stream' : 'blocker-whole';
    gate.hold();
    const blocker = backend.call('completions.create', [longRequest(blockerId)]);
    await until(() => deltas(blockerId) > 0);
    const before = events.length;
    const called = served.calls.length;
    const serverCalled = (method: string) => served.calls.slice(called).includes(method);
    await new Promise<void>((resolve, reject) => {
      const req = request(new URL('/v1/chat/completions', server.url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', () => {
          req.destroy(); // the stream's first chunk (the role) came: leave
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', resolve);
      req.end(JSON.stringify({ ...chat(), stream }));
      if (!stream) void until(() => serverCalled('completions.create')).then(() => req.destroy()); // queued behind the blocker: leave
      setTimeout(() => reject(new Error('no first chunk')), 30_000);
    });
    await until(() => serverCalled('completions.cancel')); // the server saw the client leave
    expect(served.calls.slice(called)).toEqual(['completions.models', 'completions.create', 'completions.cancel']);
    const cancelled = backend.call('completions.cancel', [blockerId]);
    gate.open();
    expect(await cancelled).toBe(true);
    await expect(blocker).rejects.toThrow(/cancelled/);
    // at most one piece per server call: the blocker was far from its context's end
    expect(deltas(blockerId)).toBeLessThanOrEqual(4);
    // the next request runs after the abandoned one's turn: that one never produced text
    const next = await client.chat.completions.create(chat() as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(next.choices[0].message.content!.length).toBeGreaterThan(0);
    const producers = new Set(events.slice(before).flatMap((e) => (e.type === 'completion-delta' && e.requestId !== blockerId ? [e.requestId] : [])));
    expect(producers.size).toBe(1); // the next request's only
  });

  it('cancels a running request at its next token and a queued one before it starts', async () => {
    // the gate holds running-1 right after its first piece: both cancels are in the worker's queue
    // before its next token
    gate.hold();
    const running = backend.call('completions.create', [longRequest('running-1')]);
    const queued = backend.call('completions.create', [longRequest('queued-1')]);
    await until(() => deltas('running-1') > 0);
    const cancels = [backend.call('completions.cancel', ['queued-1']), backend.call('completions.cancel', ['running-1'])];
    gate.open();
    expect(await Promise.all(cancels)).toEqual([true, true]);
    await expect(running).rejects.toThrow(/request 'running-1' was cancelled/);
    await expect(queued).rejects.toThrow(/request 'queued-1' was cancelled/);
    expect(deltas('running-1')).toBe(1);
    expect(deltas('queued-1')).toBe(0);
    expect(await backend.call('completions.cancel', ['running-1'])).toBe(false);
  });

  it('runs the rvq caches once the model has codebooks: the default set by default, any set by name, at a requested residual depth', async () => {
    const calibrate = async (name: string, depth: number) => {
      const settings = { name, depth, codebookSize: 256, maxVectors: 1000, kmeansIterations: 3 };
      const job = (await backend.call('models.calibrate', ['stories260K', { text: { kind: 'sample' }, settings }])) as JobSnapshot;
      const state = () => events.flatMap((e) => (e.type === 'job' && e.job.id === job.id ? [e.job.state] : [])).at(-1);
      while ((state() ?? 'running') === 'running') await new Promise((r) => setTimeout(r, 50));
      expect(state()).toBe('done');
    };
    await calibrate('default', 2);
    await calibrate('shallow', 1);

    expect(await client.models.retrieve('stories260K')).toMatchObject({
      reskv_caches: ['fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq', 'rvq:default', 'rvq:shallow'],
      reskv_max_depths: { rvq: 2, 'rvq:default': 2, 'rvq:shallow': 1 },
    });
    const full = (await client.chat.completions.create(chat() as OpenAI.ChatCompletionCreateParamsNonStreaming)).usage as ResKvUsage;
    expect(full).toMatchObject({ reskv_cache: 'rvq:default', reskv_depth: 2 });
    expect(full.reskv_kv_bytes).toBeLessThan(full.reskv_kv_bytes_fp16);
    const shallow = (await client.chat.completions.create(chat({ reskv_cache: 'rvq', reskv_depth: 1 }) as OpenAI.ChatCompletionCreateParamsNonStreaming)).usage as ResKvUsage;
    expect(shallow).toMatchObject({ reskv_cache: 'rvq:default', reskv_depth: 1 });
    // per token: depth 1 holds one code byte fewer per 32-value group than depth 2
    expect(shallow.reskv_kv_bytes / shallow.reskv_kv_bytes_fp16).toBeLessThan(full.reskv_kv_bytes / full.reskv_kv_bytes_fp16);

    const tooDeep = await client.chat.completions.create(chat({ reskv_cache: 'rvq', reskv_depth: 3 }) as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(tooDeep).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tooDeep).toMatchObject({ param: 'reskv_depth', message: expect.stringMatching(/at most 2/) });

    const named = (await client.chat.completions.create(chat({ reskv_cache: 'rvq:shallow' }) as OpenAI.ChatCompletionCreateParamsNonStreaming)).usage as ResKvUsage;
    expect(named).toMatchObject({ reskv_cache: 'rvq:shallow', reskv_depth: 1 });
    // same C and depth 1 as the default set's shallow request: the same bytes per token
    expect(named.reskv_kv_bytes / named.reskv_kv_bytes_fp16).toBeCloseTo(shallow.reskv_kv_bytes / shallow.reskv_kv_bytes_fp16, 12);
    const missing = await client.chat.completions.create(chat({ reskv_cache: 'rvq:nope' }) as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(missing).toMatchObject({ param: 'reskv_cache', message: expect.stringMatching(/no such codebook set/) });
    const deepForSet = await client.chat.completions.create(chat({ reskv_cache: 'rvq:shallow', reskv_depth: 2 }) as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(deepForSet).toMatchObject({ param: 'reskv_depth', message: expect.stringMatching(/at most 1/) });
  });
});

