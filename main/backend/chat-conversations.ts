// The Chat view's conversations (backend worker): start, resume, fork, send, stop, change depth and
// remove, each on its model's queue, streaming tokens as events and keeping every conversation on
// disk (transcript + KV cache, saved as one step by conversation-files.ts) so a restarted app
// continues without recomputing.
import { randomUUID } from 'node:crypto';
import type { BackendEvent, CacheName, ChatFigures, ChatSession, SamplingOptions, TranscriptMessage } from '../api/types.js';
import type { ConversationCopy, EngineModel } from '../engine/engine-model.js';
import { chatFigures, deepest, generationOptions } from './api-shapes.js';
import type { ConversationFiles, Transcript } from './conversation-files.js';
import type { ModelPool, PooledModel } from './model-pool.js';

interface LiveConversation {
  model: PooledModel;
  transcript: Transcript;
}

/** Titles of the background jobs that ran at any time between two instants (ISO times). */
export type JobsDuring = (from: string, to: string) => string[];

function newConversationId(): string {
  return `chat-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
}

export class ChatConversations {
  /** Conversations whose cache is loaded now, by id. */
  private readonly live = new Map<string, LiveConversation>();

  constructor(
    private readonly pool: ModelPool,
    private readonly saved: ConversationFiles,
    private readonly publish: (event: BackendEvent) => void,
    private readonly jobsDuring: JobsDuring,
  ) {
    saved.sweep(); // what saves killed mid-way left behind
  }

  /** Whether an open conversation holds the model (it keeps it loaded until close). */
  uses(model: PooledModel): boolean {
    return [...this.live.values()].some((live) => live.model === model);
  }

  private async session(id: string): Promise<ChatSession> {
    const live = this.live.get(id);
    if (!live) return { ...this.saved.readTranscript(id), open: null };
    const engine = await live.model.engine;
    return { ...live.transcript, open: { info: engine.info, figures: chatFigures(engine.figures(id)) } };
  }

  /** Saves the conversation's transcript and cache as one step. */
  private persist(engine: EngineModel, transcript: Transcript): void {
    this.saved.save(transcript, engine.snapshot(transcript.id));
  }

  private liveConversation(id: string): LiveConversation {
    const live = this.live.get(id);
    if (!live) throw new Error(`conversation '${id}' is not open: resume it first`);
    return live;
  }

  /** Saved conversations, newest first; one that cannot be read is listed with its problem. */
  list(): ChatSession[] {
    return this.saved.list().map((c) =>
      c.problem === null ? { ...c.transcript, open: null } : { id: c.id, model: '', cache: '', createdAt: c.modifiedAt, updatedAt: c.modifiedAt, messages: [], open: null, problem: c.problem },
    );
  }

  async start(modelName: string, cache: CacheName, system: string | null): Promise<ChatSession> {
    const model = this.pool.open(modelName, cache);
    const id = newConversationId();
    const transcript = await model.run((engine) => {
      engine.createConversation({ id, ...(system ? { system } : {}) });
      const now = new Date().toISOString();
      const t: Transcript = { id, model: engine.info.id, cache, createdAt: now, updatedAt: now, messages: system ? [{ role: 'system', content: system }] : [] };
      this.persist(engine, t);
      return t;
    });
    this.live.set(id, { model, transcript });
    return this.session(id);
  }

  async resume(id: string): Promise<ChatSession> {
    if (this.live.has(id)) return this.session(id);
    const { transcript, cache, cacheFile } = this.saved.load(id);
    const model = this.pool.open(transcript.model, transcript.cache);
    await model.run((engine) => engine.restoreSnapshot(cache, cacheFile));
    this.live.set(id, { model, transcript });
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
    const model = this.pool.open(source.transcript.model, cache);
    const [from, to] = await Promise.all([source.model.engine, model.engine]);
    if (to.info.cache === from.info.cache) throw new Error(`conversation '${id}' already uses the ${from.info.cache} cache: compare it with another format`);
    // on the source's queue: after its running reply, so the copy holds whole exchanges
    const { copy, transcript: original } = await source.model.run((engine) => ({ copy: engine.copyConversation(id), transcript: source.transcript }));
    const twinId = newConversationId();
    const transcript = await model.run((engine) => {
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
    this.live.set(twinId, { model, transcript });
    return this.session(twinId);
  }

  /**
   * Reopens conversation `id` from its history, edited by `edit`, with an empty cache (the next reply
   * prefills the history), keeping its residual depth.
   */
  private rebuild(engine: EngineModel, id: string, edit: (copy: ConversationCopy) => ConversationCopy): void {
    const depth = deepest(engine.figures(id));
    const copy = edit(engine.copyConversation(id));
    engine.close(id);
    engine.continueConversation(id, copy);
    if (depth !== null) engine.setDepth(id, { depth });
  }

  /** Streams one reply on the model's queue (already there), then keeps it with its facts and saves. */
  private async reply(engine: EngineModel, live: LiveConversation, text: string, options: SamplingOptions, earlier: TranscriptMessage[]): Promise<void> {
    const { id } = live.transcript;
    const depth = deepest(engine.figures(id));
    const startedAt = new Date().toISOString();
    const stream = engine.send(id, text, generationOptions(options));
    let next = await stream.next();
    while (!next.done) {
      const { index, text: piece, latencyMs } = next.value;
      this.publish({ type: 'chat-token', conversationId: id, index, text: piece, latencyMs });
      next = await stream.next();
    }
    const now = new Date().toISOString();
    const { tokens, stopReason, timing, droppedTurns } = next.value;
    const reply = { depth, tokens: tokens.length, decodeTokensPerSecond: timing.decodeTokensPerSecond, end: stopReason, droppedTurns, duringJobs: this.jobsDuring(startedAt, now) };
    live.transcript = {
      ...live.transcript,
      updatedAt: now,
      messages: [...earlier, { role: 'user', content: text }, { role: 'assistant', content: next.value.text, reply }],
    };
    this.persist(engine, live.transcript);
    this.publish({ type: 'chat-figures', conversationId: id, figures: chatFigures(next.value.figures) });
  }

  /** With `dropOldestTurns` the conversation drops its oldest turns from now on when the context is full. */
  async send(id: string, text: string, options: SamplingOptions, dropOldestTurns = false): Promise<ChatSession> {
    const live = this.liveConversation(id);
    await live.model.run(async (engine) => {
      if (dropOldestTurns && engine.copyConversation(id).overflow !== 'drop-oldest-turns') {
        this.rebuild(engine, id, (copy) => ({ ...copy, overflow: 'drop-oldest-turns' }));
      }
      await this.reply(engine, live, text, options, live.transcript.messages);
    });
    return this.session(id);
  }

  /** Replaces the last reply with a new one to the same message, from the cache as it was before that message. */
  async regenerate(id: string, options: SamplingOptions): Promise<ChatSession> {
    const live = this.liveConversation(id);
    await live.model.run(async (engine) => {
      const { messages } = live.transcript;
      const asked = messages.at(-2);
      if (messages.at(-1)?.role !== 'assistant' || asked?.role !== 'user') throw new Error(`conversation '${id}' has no reply to regenerate`);
      engine.undoLastReply(id);
      await this.reply(engine, live, asked.content, options, messages.slice(0, -2));
    });
    return this.session(id);
  }

  /** Stops a reply at its next token (not queued: it must reach a running reply). */
  async cancel(id: string): Promise<boolean> {
    return (await this.liveConversation(id).model.engine).cancel(id);
  }

  /** Applies at once (from the next token when a reply is running). */
  async setDepth(id: string, depth: number): Promise<ChatFigures> {
    const engine = await this.liveConversation(id).model.engine;
    const figures = chatFigures(engine.setDepth(id, { depth }));
    this.publish({ type: 'chat-figures', conversationId: id, figures });
    return figures;
  }

  async remove(id: string): Promise<ChatSession[]> {
    const live = this.live.get(id);
    if (live) {
      (await live.model.engine).close(id);
      this.live.delete(id);
    }
    this.saved.remove(id);
    return this.list();
  }

  /** Forgets the open conversations (their models are released by the pool). */
  close(): void {
    this.live.clear();
  }
}
