// EngineModel: the engine's service API. Opens an imported model with a KV cache format, keeps several
// conversations on it (a chat through the model's chat template, or plain text continuation after BOS
// for models without one), streams replies token by token with timing, changes an RVQ conversation's
// depth while it runs (from the next token on), reports live figures, saves and restores
// conversations, and cancels at any token. Transport-free: everything crossing its edges is plain
// data, so a worker thread, the HTTP API and the CLI call it the same way.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { kvFigures } from '../../quant/index.js';
import { writeFileAtomic } from '../atomic-file.js';
import type { ChatModelInfo } from '../chat-model-info.js';
import { defaultLibraryDir, loadLibraryTokenizer } from '../model/library.js';
import { manifestFileName, readManifest } from '../model/manifest.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { cacheChoiceSchema, checkDepth, openCacheRuntime, storeDepths } from './cache-runtime.js';
import type { CacheChoice, CacheRuntime, LayerDepths } from './cache-runtime.js';
import { ChatConversation } from './chat.js';
import { fittingContext, freeMemory } from './fit.js';
import type { ChatMessage, ChatTokenizer } from './chat.js';
import { conversationIdSchema } from './conversation-id.js';
import { Conversation } from './conversation.js';
import type { ConversationHistory, ConversationSetup, OverflowPolicy, ReplyResult } from './conversation.js';
import type { GenerationOptionsInput, StopReason } from './generate.js';
import { KvCodeStore } from './kv-code-store.js';
import type { KvBytes, KvKind, KvStore } from './kv-store.js';
import { parseOptions } from './sampler.js';
import type { SessionOptionsInput } from './session.js';
import type { GenerationTiming } from './timing.js';

export interface EngineOpenOptions {
  /** A model id in the library, or a library model folder. */
  model: string;
  library?: string;
  cache?: CacheChoice;
  session?: SessionOptionsInput;
  /** Tokens of context to plan memory for (default: the model's, shortened to what fits). */
  context?: number;
  /** Free memory to compare with (default: the machine's now). */
  freeBytes?: number;
}

/** What the API reports of an open model (ChatModelInfo), plus its library folder. */
export interface EngineModelInfo extends ChatModelInfo {
  folder: string;
}

export interface ConversationFigures {
  id: string;
  /** Tokens of the conversation's history (the store lacks at most the last sampled one). */
  tokens: number;
  cachedTokens: number;
  kv: KvBytes;
  /** fp16 bytes / all held bytes (kvFigures). */
  compressionRatio: number;
  /** fp16 bytes / (all held bytes + codebook bytes). */
  compressionWithCodebooks: number;
  codebookBytes: number;
  /** Held bits per cached value (kvFigures): what the store holds at its depths, depth bytes included. */
  bitsPerValue: number;
  bytesPerToken: number;
  /** rvq: each layer's depth for new tokens; else null. */
  depths: LayerDepths | null;
  /** The last reply's timing (prefill/decode tokens/s, p50/p95 latency), null before any. */
  lastReply: GenerationTiming | null;
  residentBytes: number;
}

export interface TokenEvent {
  conversationId: string;
  tokenId: number | null;
  index: number;
  text: string;
  latencyMs: number;
}

export interface ReplySummary {
  conversationId: string;
  text: string;
  tokens: number[];
  stopReason: StopReason;
  seed: number;
  timing: GenerationTiming;
  droppedTurns: number;
  figures: ConversationFigures;
}

export interface NewConversation {
  id?: string;
  /** Chat models: a system message. */
  system?: string;
  overflow?: OverflowPolicy;
}

/** A conversation's history without its cache: what the same model under another cache format continues from. */
export interface ConversationCopy extends ConversationHistory {
  overflow: OverflowPolicy;
  /** Chat models: the messages; null for text continuation. */
  messages: ChatMessage[] | null;
}

export interface DepthChange {
  depth: number;
  layer?: number;
  kind?: KvKind;
}

const newConversationSchema = z.strictObject({ id: conversationIdSchema.optional(), system: z.string().optional(), overflow: z.enum(['error', 'drop-oldest-turns']).optional() });
const savedExtension = '.reskv-conversation';

interface OpenConversation {
  conversation: Conversation<KvStore>;
  chat: ChatConversation<KvStore> | null;
  controller: AbortController | null;
  pendingDepths: DepthChange[];
  lastReply: GenerationTiming | null;
}

/** The library folder of a model id or folder, or an error naming where it looked. */
export function findLibraryModel(model: string, library = defaultLibraryDir()): string {
  if (existsSync(join(model, manifestFileName))) return model;
  if (!isAbsolute(model) && !model.includes('/') && !model.includes('\\') && existsSync(join(library, model, manifestFileName))) return join(library, model);
  throw new Error(`no model '${model}' in the library ${library} (import it first: reskv import <checkpoint>)`);
}

function isChatTokenizer(tokenizer: TextTokenizer): tokenizer is TextTokenizer & ChatTokenizer & { hasChatTemplate: boolean } {
  return 'encodeChat' in tokenizer && (tokenizer as { hasChatTemplate?: boolean }).hasChatTemplate === true;
}

export class EngineModel {
  private readonly open = new Map<string, OpenConversation>();
  private readonly setup: ConversationSetup<KvStore>;
  private nextId = 1;

  private constructor(
    readonly info: EngineModelInfo,
    private readonly runtime: CacheRuntime,
    private readonly tokenizer: TextTokenizer,
    private readonly chatTokenizer: ChatTokenizer | null,
    /** The model's weights file, named when the model computes NaN logits. */
    private readonly weightsFile: string,
  ) {
    this.setup = { decoder: runtime.decoder, stores: runtime.stores, tokenizer };
  }

  static async open(options: EngineOpenOptions): Promise<EngineModel> {
    const folder = findLibraryModel(options.model, options.library);
    const manifest = readManifest(folder);
    const tokenizer = loadLibraryTokenizer(folder, manifest);
    const cache = parseOptions(cacheChoiceSchema, options.cache ?? { format: 'fp16' }, 'cache choice');
    const context = fittingContext(folder, manifest, cache, options.context, options.freeBytes ?? freeMemory());
    const runtime = await openCacheRuntime(folder, manifest, cache, options.session);
    const spec = runtime.rvq?.set.keySpec;
    const info: EngineModelInfo = {
      id: manifest.id,
      folder,
      cache: runtime.label,
      provider: runtime.provider,
      skippedProviders: runtime.skippedProviders,
      chat: isChatTokenizer(tokenizer),
      contextLength: context,
      maxDepth: spec && !runtime.rvq!.only ? Math.max(spec.depth, runtime.rvq!.set.valueSpec.depth) : null,
      codebookBytes: runtime.rvq?.codebookBytes ?? 0,
    };
    return new EngineModel(info, runtime, tokenizer, isChatTokenizer(tokenizer) ? tokenizer : null, join(folder, manifest.weightsFile));
  }

  private get(id: string): OpenConversation {
    const open = this.open.get(id);
    if (!open) throw new Error(`no open conversation '${id}'`);
    return open;
  }

  private add(conversation: Conversation<KvStore>, chat: ChatConversation<KvStore> | null): string {
    if (this.open.has(conversation.id)) throw new Error(`a conversation '${conversation.id}' is already open`);
    this.open.set(conversation.id, { conversation, chat, controller: null, pendingDepths: [], lastReply: null });
    return conversation.id;
  }

  /** Starts a conversation; returns its id. */
  createConversation(options: NewConversation = {}): string {
    const { id = `c${this.nextId++}`, system, overflow = 'error' } = parseOptions(newConversationSchema, options, 'conversation options');
    if (this.chatTokenizer) {
      const conversation = new Conversation(this.setup, { id });
      return this.add(conversation, new ChatConversation(conversation, this.chatTokenizer, this.info.contextLength, overflow, system));
    }
    if (system !== undefined) throw new Error(`model ${this.info.id} has no chat template: it continues text and takes no system message`);
    const bos = this.tokenizer.bosId;
    return this.add(new Conversation(this.setup, { id, preamble: bos === null ? [] : [bos], overflow }), null);
  }

  /** A copy of a conversation's history (not its cache), for `continueConversation` under another cache format. */
  copyConversation(id: string): ConversationCopy {
    const open = this.get(id);
    if (open.controller) throw new Error(`conversation '${id}' is generating; copy it after the reply`);
    return { ...open.conversation.history, overflow: open.conversation.overflow, messages: open.chat ? [...open.chat.messages] : null };
  }

  /**
   * Starts conversation `id` holding a copy of another's history (this model's, under any cache
   * format); its cache starts empty, so the next reply prefills the whole history before its prompt.
   */
  continueConversation(id: string, copy: ConversationCopy): string {
    parseOptions(newConversationSchema, { id }, 'conversation options');
    if ((copy.messages !== null) !== (this.chatTokenizer !== null)) {
      throw new Error(`the copied conversation ${copy.messages ? 'is a chat' : 'continues text'}, but model ${this.info.id} ${this.chatTokenizer ? 'chats' : 'continues text'}: copy conversations within one model`);
    }
    const { vocabSize } = this.setup.decoder;
    const bad = [...copy.preamble, ...copy.turns.flat()].find((t) => !Number.isInteger(t) || t < 0 || t >= vocabSize);
    if (bad !== undefined) throw new Error(`the copied conversation holds token ${bad}, outside model ${this.info.id}'s vocabulary of ${vocabSize}`);
    const conversation = new Conversation(this.setup, { id, preamble: copy.preamble, turns: copy.turns, overflow: copy.overflow });
    const chat = copy.messages && this.chatTokenizer ? ChatConversation.continuing(conversation, this.chatTokenizer, this.info.contextLength, copy.overflow, copy.messages) : null;
    return this.add(conversation, chat);
  }

  ids(): string[] {
    return [...this.open.keys()];
  }

  /**
   * Sends a user message (chat) or more text to continue (plain models) and streams the reply.
   * `cancel(id)` or `signal` stops it at the next token; the reply so far is kept.
   */
  async *send(id: string, text: string, options: GenerationOptionsInput = {}, signal?: AbortSignal): AsyncGenerator<TokenEvent, ReplySummary> {
    const open = this.get(id);
    if (open.controller) throw new Error(`conversation '${id}' is already generating a reply`);
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal?.addEventListener('abort', abort);
    if (signal?.aborted) controller.abort();
    open.controller = controller;
    try {
      let stream: AsyncGenerator<{ tokenId: number | null; index: number; text: string; latencyMs: number }, ReplyResult>;
      if (open.chat) stream = open.chat.say(text, options, controller.signal);
      else {
        stream = open.conversation.reply(this.tokenizer.encode(text), options, controller.signal);
      }
      for (;;) {
        const next = await stream.next().catch((err: unknown) => {
          if (!(err instanceof Error && err.message.includes('NaN logit'))) throw err;
          throw new Error(`model ${this.info.id} (${this.weightsFile}): ${err.message}; its weights hold values that are not numbers (a damaged or badly converted checkpoint)`, { cause: err });
        });
        if (next.done) {
          open.lastReply = next.value.timing;
          this.applyDepths(open);
          const { text: replyText, tokens, stopReason, seed, timing, droppedTurns } = next.value;
          return { conversationId: id, text: replyText, tokens, stopReason, seed, timing, droppedTurns, figures: this.figures(id) };
        }
        // the loop is suspended before the next step: a depth change applies to the next token
        this.applyDepths(open);
        yield { conversationId: id, ...next.value };
      }
    } finally {
      signal?.removeEventListener('abort', abort);
      open.controller = null;
    }
  }

  /** Stops a running reply at its next token (false when none runs). */
  cancel(id: string): boolean {
    const open = this.get(id);
    open.controller?.abort();
    return open.controller !== null;
  }

  /**
   * Changes an RVQ conversation's depth (all layers, or one layer and/or kind): lowering cuts the
   * stored tokens, raising applies to tokens stored from now on. During a reply it applies from the
   * next token.
   */
  setDepth(id: string, change: DepthChange): ConversationFigures {
    const open = this.get(id);
    const set = this.runtime.rvq?.set;
    if (!set) throw new Error(`the ${this.info.cache} cache has no residual depth (open the model with the rvq cache)`);
    if (this.runtime.rvq?.only) throw new Error(`the ${this.info.cache} cache codes one kind at a fixed depth (open the model with rvq for live depth changes)`);
    const { depth, layer, kind } = change;
    if (layer !== undefined && (!Number.isInteger(layer) || layer < 0 || layer >= set.layers.length)) throw new RangeError(`layer must be 0..${set.layers.length - 1}, got ${layer}`);
    if (kind !== undefined && kind !== 'key' && kind !== 'value') throw new RangeError(`kind must be key or value, got ${String(kind)}`);
    for (const k of kind ? [kind] : (['key', 'value'] as const)) checkDepth(depth, k === 'key' ? set.keySpec : set.valueSpec);
    open.pendingDepths.push({ depth, layer, kind });
    if (!open.controller) this.applyDepths(open);
    return this.figures(id);
  }

  private applyDepths(open: OpenConversation): void {
    const store = open.conversation.store;
    for (const { depth, layer, kind } of open.pendingDepths.splice(0)) if (store instanceof KvCodeStore) store.setDepth(depth, { layer, kind });
  }

  /** Live figures of a conversation (plain data). */
  figures(id: string): ConversationFigures {
    const open = this.get(id);
    const store = open.conversation.store;
    const kv = store.bytes();
    const depths = store instanceof KvCodeStore ? storeDepths(store) : null;
    const codebookBytes = this.info.codebookBytes;
    const shown = kvFigures({ tokens: store.length, held: kv.held, fp16: kv.fp16, codebooks: codebookBytes });
    return {
      id,
      tokens: open.conversation.tokens.length,
      cachedTokens: store.length,
      kv,
      compressionRatio: shown.compression,
      compressionWithCodebooks: shown.compressionWithCodebooks,
      codebookBytes,
      bitsPerValue: shown.bitsPerValue,
      bytesPerToken: shown.bytesPerToken,
      depths,
      lastReply: open.lastReply,
      residentBytes: process.memoryUsage.rss(),
    };
  }

  /** Forgets a conversation's last prompt and reply, keeping the cache before them (to reply again). */
  undoLastReply(id: string): void {
    const open = this.get(id);
    if (open.controller) throw new Error(`conversation '${id}' is generating a reply`);
    if (open.chat) open.chat.undoLastExchange();
    else open.conversation.undoLastTurn();
    open.lastReply = null;
  }

  /** Forgets a conversation's history and cache (its depth settings stay). */
  reset(id: string): void {
    const open = this.get(id);
    if (open.controller) throw new Error(`conversation '${id}' is generating a reply`);
    if (open.chat && this.chatTokenizer) {
      const system = open.chat.messages.find((m) => m.role === 'system')?.content;
      const conversation = new Conversation(this.setup, { id });
      const store = open.conversation.store;
      if (store instanceof KvCodeStore) {
        const depths = storeDepths(store);
        for (let i = 0; i < depths.key.length; i++) for (const kind of ['key', 'value'] as const) (conversation.store as KvCodeStore).setDepth(depths[kind][i], { layer: i, kind });
      }
      open.chat = new ChatConversation(conversation, this.chatTokenizer, this.info.contextLength, open.conversation.overflow, system);
      open.conversation = conversation;
    } else open.conversation.rewind(this.tokenizer.bosId === null ? 0 : 1);
    open.lastReply = null;
  }

  close(id: string): boolean {
    const open = this.open.get(id);
    open?.controller?.abort();
    return this.open.delete(id);
  }

  /** A conversation's snapshot (history + KV cache), to restore with `restoreSnapshot`. */
  snapshot(id: string): Uint8Array {
    const open = this.get(id);
    if (open.controller) throw new Error(`conversation '${id}' is generating; save it after the reply`);
    return open.chat ? open.chat.save() : open.conversation.save();
  }

  /** Saves a conversation (history + KV cache) as <folder>/<id>.reskv-conversation, atomically; returns the file. */
  save(id: string, folder: string): string {
    const file = join(folder, `${id}${savedExtension}`);
    writeFileAtomic(file, this.snapshot(id));
    return file;
  }

  /** Restores a saved conversation file without recomputing it; returns its id. */
  restore(file: string): string {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch (e) {
      throw new Error(`cannot read saved conversation ${file}: ${(e as Error).message}`, { cause: e });
    }
    return this.restoreSnapshot(bytes, file);
  }

  /** Restores a snapshot (`label` names it in errors, e.g. its file); returns its id. */
  restoreSnapshot(bytes: Uint8Array, label: string): string {
    try {
      if (this.chatTokenizer) {
        const chat = ChatConversation.restore(bytes, { ...this.setup, tokenizer: this.chatTokenizer }, this.runtime.format);
        return this.add(chat.conversation, chat);
      }
      return this.add(Conversation.restore(bytes, this.setup, this.runtime.format), null);
    } catch (e) {
      throw new Error(`${label}: ${(e as Error).message} (was it saved with model ${this.info.id} and the ${this.info.cache} cache?)`, { cause: e });
    }
  }

  /** Restores every conversation saved in a folder; returns their ids. */
  restoreAll(folder: string): string[] {
    if (!existsSync(folder)) return [];
    return readdirSync(folder)
      .filter((f) => f.endsWith(savedExtension))
      .sort()
      .map((f) => this.restore(join(folder, f)));
  }

  async release(): Promise<void> {
    for (const id of this.ids()) this.close(id);
    await this.runtime.release();
  }
}
