// The backend's engine host (runs in the backend worker): opens library models with a cache format
// (one EngineModel per model and cache, kept loaded), runs conversations for the Chat view and
// one-shot completions for the local API, streams tokens as events, and keeps every conversation on
// disk (transcript + KV cache, saved as one step by conversation-files.ts) so a restarted app
// continues without recomputing. Work on one loaded model is queued: requests run one after
// another, never concurrently on the same session.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BackendEvent, CacheName, ChatFigures, ChatModelInfo, ChatSession, CompletionRequest, CompletionResult, SamplingOptions } from '../api/types.js';
import { parseCacheChoice } from '../engine/cache-runtime.js';
import { EngineModel, findLibraryModel, type ConversationFigures } from '../engine/engine-model.js';
import type { GenerationOptionsInput } from '../engine/generate.js';
import { ConversationFiles } from './conversation-files.js';
import type { Transcript } from './conversation-files.js';
import { libraryFor, loadSettings } from './settings.js';

interface LoadedModel {
  engine: Promise<EngineModel>;
  /** Tail of the model's work queue. */
  queue: Promise<unknown>;
}

/** The engine's generation options from the API's (a null seed: the engine draws one). */
function generationOptions({ seed, ...rest }: SamplingOptions): GenerationOptionsInput {
  return { ...rest, ...(seed === null ? {} : { seed }) };
}

/** The API's figures from the engine's (plain data; the deepest layer's depth). */
function chatFigures(f: ConversationFigures): ChatFigures {
  const { codes, scales, uncoded, bookkeeping, held, fp16, fedPerStep } = f.kv;
  return {
    tokens: f.tokens,
    cachedTokens: f.cachedTokens,
    kv: { codes, scales, uncoded, bookkeeping, held, fp16, fedPerStep },
    compressionRatio: f.compressionRatio,
    compressionWithCodebooks: f.compressionWithCodebooks,
    codebookBytes: f.codebookBytes,
    bitsPerValue: f.bitsPerValue,
    bytesPerToken: f.bytesPerToken,
    depth: f.depths ? Math.max(...f.depths.key, ...f.depths.value) : null,
    lastReply: f.lastReply && {
      prefillTokens: f.lastReply.prefillTokens,
      prefillTokensPerSecond: f.lastReply.prefillTokensPerSecond,
      decodeTokensPerSecond: f.lastReply.decodeTokensPerSecond,
      firstTokenMs: f.lastReply.firstTokenMs,
      latencyP50Ms: f.lastReply.latencyP50Ms,
      latencyP95Ms: f.lastReply.latencyP95Ms,
    },
    residentBytes: f.residentBytes,
  };
}

export class EngineHost {
  private readonly loaded = new Map<string, LoadedModel>();
  /** Conversations whose cache is loaded now, by id. */
  private readonly live = new Map<string, { key: string; transcript: Transcript }>();
  /** Local-API requests queued or running, by request id. */
  private readonly requests = new Map<string, AbortController>();
  /** Counts loaded caches retired by codebooksChanged, for unique keys. */
  private retired = 0;

  private readonly saved: ConversationFiles;

  constructor(
    private readonly dataDir: string,
    private readonly publish: (event: BackendEvent) => void,
  ) {
    this.saved = new ConversationFiles(join(dataDir, 'conversations'));
    this.saved.sweep(); // what saves killed mid-way left behind
  }

  /** What each loaded model reports (its provider and those passed over among it); failed loads are left out. */
  async loadedModels(): Promise<ChatModelInfo[]> {
    const engines = await Promise.allSettled([...this.loaded.values()].map((entry) => entry.engine));
    return engines.flatMap((e) => (e.status === 'fulfilled' ? [e.value.info] : []));
  }

  /** Loads (once) the model with the cache; returns its key. */
  private load(model: string, cache: CacheName): string {
    const folder = findLibraryModel(model, libraryFor(this.dataDir));
    const key = `${folder}\n${cache}`;
    if (!this.loaded.has(key)) {
      const { providers, threads } = loadSettings(this.dataDir).settings;
      const engine = EngineModel.open({ model: folder, cache: parseCacheChoice(cache), session: { providers, threads } });
      engine.catch(() => this.loaded.delete(key)); // a failed load is retried next time
      this.loaded.set(key, { engine, queue: Promise.resolve() });
    }
    return key;
  }

  /**
   * A model's codebook sets changed (one calibrated again or removed): later loads of its rvq caches
   * read the files afresh. A loaded rvq cache is released once its queued work is done, unless open
   * conversations use it: they keep it (under a retired key) until they are removed.
   */
  codebooksChanged(model: string): void {
    const prefix = `${findLibraryModel(model, libraryFor(this.dataDir))}\n`;
    for (const [key, entry] of [...this.loaded]) {
      if (!key.startsWith(`${prefix}rvq`)) continue;
      this.loaded.delete(key);
      const users = [...this.live.values()].filter((live) => live.key === key);
      if (users.length === 0) {
        void entry.queue.then(async () => (await entry.engine.catch(() => null))?.release());
        continue;
      }
      const retiredKey = `${key}\nretired ${++this.retired}`;
      this.loaded.set(retiredKey, entry);
      for (const live of users) live.key = retiredKey;
    }
  }

  /** Runs `work` after everything queued on that model. */
  private enqueue<T>(key: string, work: (engine: EngineModel) => Promise<T> | T): Promise<T> {
    const entry = this.loaded.get(key)!;
    const run = entry.queue.then(async () => work(await entry.engine));
    entry.queue = run.catch(() => undefined);
    return run;
  }

  private async session(id: string): Promise<ChatSession> {
    const live = this.live.get(id);
    if (!live) return { ...this.saved.readTranscript(id), open: null };
    const engine = await this.loaded.get(live.key)!.engine;
    return { ...live.transcript, open: { info: engine.info, figures: chatFigures(engine.figures(id)) } };
  }

  /** Saves the conversation's transcript and cache as one step. */
  private persist(engine: EngineModel, transcript: Transcript): void {
    this.saved.save(transcript, engine.snapshot(transcript.id));
  }

  /** Saved conversations, newest first; one that cannot be read is listed with its problem. */
  list(): ChatSession[] {
    return this.saved.list().map((c) =>
      c.problem === null ? { ...c.transcript, open: null } : { id: c.id, model: '', cache: '', createdAt: c.modifiedAt, updatedAt: c.modifiedAt, messages: [], open: null, problem: c.problem },
    );
  }

  private static newConversationId(): string {
    return `chat-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  }

  async start(model: string, cache: CacheName, system: string | null): Promise<ChatSession> {
    const key = this.load(model, cache);
    const id = EngineHost.newConversationId();
    const transcript = await this.enqueue(key, (engine) => {
      engine.createConversation({ id, ...(system ? { system } : {}) });
      const now = new Date().toISOString();
      const t: Transcript = { id, model: engine.info.id, cache, createdAt: now, updatedAt: now, messages: system ? [{ role: 'system', content: system }] : [] };
      this.persist(engine, t);
      return t;
    });
    this.live.set(id, { key, transcript });
    return this.session(id);
  }

  async resume(id: string): Promise<ChatSession> {
    if (this.live.has(id)) return this.session(id);
    const { transcript, cache, cacheFile } = this.saved.load(id);
    const key = this.load(transcript.model, transcript.cache);
    await this.enqueue(key, (engine) => engine.restoreSnapshot(cache, cacheFile));
    this.live.set(id, { key, transcript });
    return this.session(id);
  }

  /**
   * A twin of a conversation under another cache format of the same model: a new saved conversation
   * with the same messages (the same tokens), whose empty cache the next reply fills by prefilling
   * the whole history first (its prefill figures count those tokens). The two are independent after.
   */
  async fork(id: string, cache: CacheName): Promise<ChatSession> {
    await this.resume(id);
    const source = this.liveConversation(id);
    const key = this.load(source.transcript.model, cache);
    const [from, to] = await Promise.all([this.loaded.get(source.key)!.engine, this.loaded.get(key)!.engine]);
    if (to.info.cache === from.info.cache) throw new Error(`conversation '${id}' already uses the ${from.info.cache} cache: compare it with another format`);
    // on the source's queue: after its running reply, so the copy holds whole exchanges
    const { copy, transcript: original } = await this.enqueue(source.key, (engine) => ({ copy: engine.copyConversation(id), transcript: source.transcript }));
    const twinId = EngineHost.newConversationId();
    const transcript = await this.enqueue(key, (engine) => {
      engine.continueConversation(twinId, copy);
      const now = new Date().toISOString();
      const t: Transcript = { ...original, id: twinId, cache, createdAt: now, updatedAt: now, forkedFrom: id };
      try {
        this.persist(engine, t);
      } catch (err) {
        engine.close(twinId); // nothing half-saved stays open
        throw err;
      }
      return t;
    });
    this.live.set(twinId, { key, transcript });
    return this.session(twinId);
  }

  private liveConversation(id: string) {
    const live = this.live.get(id);
    if (!live) throw new Error(`conversation '${id}' is not open: resume it first`);
    return live;
  }

  async send(id: string, text: string, options: SamplingOptions): Promise<ChatSession> {
    const live = this.liveConversation(id);
    await this.enqueue(live.key, async (engine) => {
      const stream = engine.send(id, text, generationOptions(options));
      let next = await stream.next();
      while (!next.done) {
        const { index, text: piece, latencyMs } = next.value;
        this.publish({ type: 'chat-token', conversationId: id, index, text: piece, latencyMs });
        next = await stream.next();
      }
      const now = new Date().toISOString();
      live.transcript = {
        ...live.transcript,
        updatedAt: now,
        messages: [...live.transcript.messages, { role: 'user', content: text }, { role: 'assistant', content: next.value.text }],
      };
      this.persist(engine, live.transcript);
      this.publish({ type: 'chat-figures', conversationId: id, figures: chatFigures(next.value.figures) });
    });
    return this.session(id);
  }

  /** Stops a reply at its next token (not queued: it must reach a running reply). */
  async cancel(id: string): Promise<boolean> {
    const live = this.liveConversation(id);
    return (await this.loaded.get(live.key)!.engine).cancel(id);
  }

  /** Applies at once (from the next token when a reply is running). */
  async setDepth(id: string, depth: number): Promise<ChatFigures> {
    const live = this.liveConversation(id);
    const figures = chatFigures((await this.loaded.get(live.key)!.engine).setDepth(id, { depth }));
    this.publish({ type: 'chat-figures', conversationId: id, figures });
    return figures;
  }

  async remove(id: string): Promise<ChatSession[]> {
    const live = this.live.get(id);
    if (live) {
      (await this.loaded.get(live.key)!.engine).close(id);
      this.live.delete(id);
    }
    this.saved.remove(id);
    return this.list();
  }

  /**
   * One request of the local API: a throwaway conversation on the model's queue, streaming its text
   * as completion-delta events. Chat messages go through the model's chat template (the earlier
   * ones as history, the last one, the user's, as the message); a model without a template
   * continues the messages' text joined by newlines.
   */
  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const { requestId, input, depth } = request;
    if (this.requests.has(requestId)) throw new Error(`a request '${requestId}' is already queued or running`);
    const key = this.load(request.model, request.cache);
    const controller = new AbortController();
    this.requests.set(requestId, controller);
    const cancelled = () => new Error(`request '${requestId}' was cancelled`);
    try {
      return await this.enqueue(key, async (engine) => {
        if (controller.signal.aborted) throw cancelled();
        const id = `api-${randomUUID()}`;
        let text: string;
        if (input.kind === 'text') {
          engine.createConversation({ id });
          text = input.prompt;
        } else if (engine.info.chat) {
          const last = input.messages.at(-1);
          if (last?.role !== 'user') throw new Error('the last message must be the user\'s');
          engine.continueConversation(id, { preamble: [], turns: [], overflow: 'error', messages: input.messages.slice(0, -1) });
          text = last.content;
        } else {
          engine.createConversation({ id });
          text = input.messages.map((m) => m.content).join('\n');
        }
        try {
          if (depth !== null) engine.setDepth(id, { depth });
          const stream = engine.send(id, text, generationOptions(request.sampling), controller.signal);
          let next = await stream.next();
          while (!next.done) {
            if (next.value.text) this.publish({ type: 'completion-delta', requestId, text: next.value.text });
            next = await stream.next();
          }
          const { figures, tokens, stopReason, seed } = next.value;
          if (stopReason === 'cancelled') throw cancelled();
          return {
            text: next.value.text,
            finishReason: stopReason === 'max-tokens' || stopReason === 'context-full' ? 'length' : 'stop',
            promptTokens: figures.tokens - tokens.length,
            completionTokens: tokens.length,
            kvBytes: figures.kv.held,
            kvBytesFp16: figures.kv.fp16,
            cache: engine.info.cache,
            depth: chatFigures(figures).depth,
            seed,
          };
        } finally {
          engine.close(id);
        }
      });
    } finally {
      this.requests.delete(requestId);
    }
  }

  /** Stops a local-API request, queued (it never runs) or running (at its next token). */
  cancelCompletion(requestId: string): boolean {
    const controller = this.requests.get(requestId);
    controller?.abort();
    return controller !== undefined;
  }

  async close(): Promise<void> {
    for (const { engine } of this.loaded.values()) await (await engine.catch(() => null))?.release();
    this.loaded.clear();
    this.live.clear();
  }
}
