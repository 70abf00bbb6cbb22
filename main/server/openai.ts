// ResKV's OpenAI-compatible API (plain Node, mounted by the loopback HTTP server under /v1):
// GET /v1/models, POST /v1/chat/completions and POST /v1/completions, streamed as server-sent
// events or answered whole. Requests are checked with zod and against the model list (the model
// exists, its cache and depth are on offer) before the backend queues them on the model.
// ResKV extras: reskv_cache and reskv_depth choose the KV cache; usage reports its bytes.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { ApiModel, ChatMessage, CompletionRequest, CompletionResult } from '../api/types.js';
import type { Backend } from '../backend/client.js';
import { ApiArgumentError } from '../backend/errors.js';
import { decodeUrlPath, errorBody, HttpError, readJsonBody, sendJson } from './http-io.js';
import { chatCompletionBodySchema, completionBodySchema, type ChatCompletionBody, type CompletionBody } from './openai-schema.js';

/** Defaults where OpenAI's request leaves a field out. */
const defaultMaxTokens = 256;
const defaultTemperature = 1;

type Kind = 'chat' | 'text';

function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  const param = issue.path.map(String).join('.');
  throw new HttpError(400, `${param || 'request'}: ${issue.message}`, { param: param || undefined, code: 'invalid_value' });
}

async function findModel(backend: Backend, id: string): Promise<ApiModel> {
  const model = ((await backend.call('completions.models', [])) as ApiModel[]).find((m) => m.id === id);
  if (!model) throw new HttpError(404, `The model '${id}' does not exist in the ResKV library (GET /v1/models lists them)`, { param: 'model', code: 'model_not_found' });
  return model;
}

/** The backend request from a validated OpenAI body, checked against what the model offers. */
function backendRequest(model: ApiModel, body: ChatCompletionBody | CompletionBody, input: CompletionRequest['input']): CompletionRequest {
  const cache = body.reskv_cache ?? (model.caches.includes('rvq') ? 'rvq' : 'fp16');
  if (!model.caches.includes(cache)) {
    const hint = cache === 'rvq' || cache.startsWith('rvq:') ? (Object.keys(model.maxDepths).length === 0 ? 'it has no RVQ codebooks: calibrate it first (Models view or reskv calibrate)' : 'no such codebook set') : 'unknown cache';
    throw new HttpError(400, `model ${model.id} cannot run reskv_cache '${cache}' (${hint}); it offers ${model.caches.join(', ')}`, { param: 'reskv_cache', code: 'invalid_value' });
  }
  const depth = body.reskv_depth ?? null;
  const maxDepth = model.maxDepths[cache];
  if (depth !== null && maxDepth === undefined) throw new HttpError(400, `reskv_depth applies to the rvq caches only (this request uses ${cache})`, { param: 'reskv_depth', code: 'invalid_value' });
  if (depth !== null && depth > maxDepth) throw new HttpError(400, `reskv_depth must be at most ${maxDepth}, the depth of the codebooks of ${model.id}'s ${cache}`, { param: 'reskv_depth', code: 'invalid_value' });
  const maxTokens = ('max_completion_tokens' in body ? body.max_completion_tokens : null) ?? body.max_tokens ?? defaultMaxTokens;
  const stop = body.stop ?? [];
  return {
    requestId: randomUUID(),
    model: model.id,
    cache,
    depth,
    input,
    sampling: {
      maxTokens,
      temperature: body.temperature ?? defaultTemperature,
      topK: body.top_k ?? 0,
      topP: body.top_p ?? 1,
      repetitionPenalty: body.reskv_repetition_penalty ?? 1,
      seed: body.seed ?? null,
      stop: typeof stop === 'string' ? [stop] : stop,
    },
  };
}

function usage(result: CompletionResult) {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
    reskv_kv_bytes: result.kvBytes,
    reskv_kv_bytes_fp16: result.kvBytesFp16,
    reskv_cache: result.cache,
    reskv_depth: result.depth,
  };
}

/** The response's frame: `chat.completion[.chunk]` or `text_completion`, with one choice. */
function responseShape(kind: Kind, model: string) {
  const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const frame = (object: string, choice: Record<string, unknown> | null, extra: Record<string, unknown> = {}) => ({
    id,
    object,
    created,
    model,
    choices: choice ? [{ index: 0, ...choice, logprobs: null }] : [],
    ...extra,
  });
  if (kind === 'chat') {
    return {
      whole: (r: CompletionResult) => frame('chat.completion', { message: { role: 'assistant', content: r.text, refusal: null }, finish_reason: r.finishReason }, { usage: usage(r) }),
      start: () => frame('chat.completion.chunk', { delta: { role: 'assistant', content: '' }, finish_reason: null }),
      delta: (text: string) => frame('chat.completion.chunk', { delta: { content: text }, finish_reason: null }),
      end: (r: CompletionResult) => frame('chat.completion.chunk', { delta: {}, finish_reason: r.finishReason }),
      usage: (r: CompletionResult) => frame('chat.completion.chunk', null, { usage: usage(r) }),
    };
  }
  return {
    whole: (r: CompletionResult) => frame('text_completion', { text: r.text, finish_reason: r.finishReason }, { usage: usage(r) }),
    start: () => null,
    delta: (text: string) => frame('text_completion', { text, finish_reason: null }),
    end: (r: CompletionResult) => frame('text_completion', { text: '', finish_reason: r.finishReason }),
    usage: (r: CompletionResult) => frame('text_completion', null, { usage: usage(r) }),
  };
}

/**
 * A failed backend call as the HTTP error it answers with: the caller's fault is a 400 (an input longer
 * than the context names the field that holds it, as OpenAI's `context_length_exceeded` does), the
 * backend's a 500.
 */
function failure(err: unknown, kind: Kind): HttpError {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof ApiArgumentError)) return new HttpError(500, message);
  const param = err.code === 'context_length_exceeded' ? (kind === 'chat' ? 'messages' : 'prompt') : undefined;
  return new HttpError(400, message, { param, code: err.code });
}

/**
 * Runs a request, answering whole or as server-sent events. A client that leaves before the end
 * cancels it (queued: it never runs; running: it stops at the next token).
 */
async function run(backend: Backend, res: ServerResponse, kind: Kind, request: CompletionRequest, stream: { includeUsage: boolean } | null): Promise<void> {
  const shape = responseShape(kind, request.model);
  const clientLeft = () => res.destroyed && !res.writableFinished;
  if (clientLeft()) return; // gone while the request was being read and checked
  res.on('close', () => {
    if (!res.writableFinished) backend.call('completions.cancel', [request.requestId]).catch(() => undefined);
  });
  if (!stream) {
    const result = await (backend.call('completions.create', [request]) as Promise<CompletionResult>).catch((err: unknown) => {
      if (clientLeft()) return null; // cancelled because the client left: nobody to answer
      throw failure(err, kind);
    });
    if (result && !clientLeft()) sendJson(res, 200, shape.whole(result));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  const send = (data: unknown) => {
    if (!res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
  };
  const first = shape.start();
  if (first) send(first);
  const unsubscribe = backend.subscribe((event) => {
    if (event.type === 'completion-delta' && event.requestId === request.requestId) send(shape.delta(event.text));
  });
  try {
    const result = (await backend.call('completions.create', [request])) as CompletionResult;
    send(shape.end(result));
    if (stream.includeUsage) send(shape.usage(result));
  } catch (err) {
    if (clientLeft()) return;
    const { status, message, detail } = failure(err, kind);
    send(errorBody(status, message, detail));
  } finally {
    unsubscribe();
  }
  if (!res.destroyed) res.end('data: [DONE]\n\n');
}

function chatMessages(body: ChatCompletionBody): ChatMessage[] {
  if (body.messages.at(-1)!.role !== 'user') throw new HttpError(400, "messages: the last message must be the user's", { param: 'messages', code: 'invalid_value' });
  return body.messages.map(({ role, content }) => ({ role: role === 'developer' ? 'system' : role, content }));
}

/**
 * Answers a request under /v1 (`pathname` starts with /v1/); the caller has checked Host and token.
 * Errors are thrown as HttpError or come from the backend.
 */
export async function handleOpenAiRequest(backend: Backend, req: IncomingMessage, res: ServerResponse, pathname: string, maxBodyBytes: number): Promise<void> {
  const route = pathname.replace(/\/+$/, '');
  const method = (expected: string) => {
    if (req.method !== expected) throw new HttpError(405, `${route} is called with ${expected}`);
  };
  if (route === '/v1/models' || route.startsWith('/v1/models/')) {
    method('GET');
    const models = ((await backend.call('completions.models', [])) as ApiModel[]).map((m) => ({
      id: m.id,
      object: 'model',
      created: Math.floor(Date.parse(m.importedAt) / 1000),
      owned_by: 'reskv',
      reskv_caches: m.caches,
      reskv_max_depths: m.maxDepths,
    }));
    if (route === '/v1/models') return sendJson(res, 200, { object: 'list', data: models });
    const id = decodeUrlPath(route.slice('/v1/models/'.length));
    const model = models.find((m) => m.id === id);
    if (!model) throw new HttpError(404, `The model '${id}' does not exist in the ResKV library`, { param: 'model', code: 'model_not_found' });
    return sendJson(res, 200, model);
  }
  if (route === '/v1/chat/completions') {
    method('POST');
    const body = parseBody(chatCompletionBodySchema, await readJsonBody(req, maxBodyBytes, null));
    const messages = chatMessages(body);
    const request = backendRequest(await findModel(backend, body.model), body, { kind: 'chat', messages });
    return run(backend, res, 'chat', request, body.stream ? { includeUsage: body.stream_options?.include_usage === true } : null);
  }
  if (route === '/v1/completions') {
    method('POST');
    const body = parseBody(completionBodySchema, await readJsonBody(req, maxBodyBytes, null));
    if (body.prompt.length === 0) throw new HttpError(400, 'prompt: must not be empty', { param: 'prompt', code: 'invalid_value' });
    const request = backendRequest(await findModel(backend, body.model), body, { kind: 'text', prompt: body.prompt });
    return run(backend, res, 'text', request, body.stream ? { includeUsage: body.stream_options?.include_usage === true } : null);
  }
  throw new HttpError(404, `no route ${req.method ?? ''} ${route}: ResKV answers /v1/models, /v1/chat/completions and /v1/completions`);
}
