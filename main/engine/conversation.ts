// Conversations: each holds its own KV store and the token history the store was built from
// (a preamble such as BOS or a system prompt, then turns of prompt + reply tokens, already formatted
// by the caller's chat template). A reply feeds only the tokens the store lacks. When a prompt does
// not fit the context the caller chooses: an error, or dropping the oldest turns (the cache is then
// rebuilt, since every later position shifts). A conversation saves to one checksummed snapshot
// (history + store) and is restored without recomputing the prefix.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { TextTokenizer } from '../model/tokenizer.js';
import { ContextOverflowError, parseGenerationOptions, streamGeneration } from './generate.js';
import type { DecoderStep, GenerationEvent, GenerationOptionsInput, GenerationResult } from './generate.js';
import type { KvStore } from './kv-store.js';
import { blobJson, blobTensor, bytesOf, decodeBlob, encodeBlob } from './store-blob.js';
import type { BlobType } from './store-blob.js';

/** Creates empty stores of one configuration and restores saved ones (validating they match it). */
export interface StoreFactory<S extends KvStore> {
  create(): S;
  restore(bytes: Uint8Array): S;
}

export interface ConversationSetup<S extends KvStore> {
  decoder: DecoderStep<S>;
  stores: StoreFactory<S>;
  tokenizer: Pick<TextTokenizer, 'decode' | 'eosIds'>;
}

export type OverflowPolicy = 'error' | 'drop-oldest-turns';

export interface ConversationOptions {
  id?: string;
  /** Tokens always kept first (BOS, a system prompt). */
  preamble?: readonly number[];
  /**
   * Turns already in the history but not in the store (another conversation's history, see
   * `Conversation.history`): the next reply feeds them all before its prompt.
   */
  turns?: readonly (readonly number[])[];
  overflow?: OverflowPolicy;
}

/** A conversation's tokens by part, without its store. */
export interface ConversationHistory {
  preamble: number[];
  turns: number[][];
}

export interface ReplyResult extends GenerationResult {
  /** Oldest turns dropped to make room before this reply. */
  droppedTurns: number;
}

const CONVERSATION_FORMAT = 'reskv-conversation/1';
const conversationBlob = (kind: string): BlobType => ({ format: CONVERSATION_FORMAT, kind, label: 'saved conversation' });
const overflowSchema = z.enum(['error', 'drop-oldest-turns']);

export class Conversation<S extends KvStore> {
  readonly id: string;
  readonly overflow: OverflowPolicy;
  private readonly setup: ConversationSetup<S>;
  private readonly preamble: number[];
  private readonly turns: number[][] = [];
  private kv: S;
  private busy = false;

  constructor(setup: ConversationSetup<S>, options: ConversationOptions = {}) {
    this.setup = setup;
    this.id = options.id ?? randomUUID();
    this.preamble = [...(options.preamble ?? [])];
    this.overflow = options.overflow ?? 'error';
    this.turns.push(...(options.turns ?? []).map((turn) => [...turn]));
    this.kv = setup.stores.create();
  }

  /** The store (to change its depth or read its bytes between replies). */
  get store(): S {
    return this.kv;
  }

  /** Preamble and every turn, in order. */
  get tokens(): number[] {
    return [...this.preamble, ...this.turns.flat()];
  }

  /** The preamble and turns, copied (a conversation with another store continues from them). */
  get history(): ConversationHistory {
    return { preamble: [...this.preamble], turns: this.turns.map((turn) => [...turn]) };
  }

  get turnCount(): number {
    return this.turns.length;
  }

  /**
   * Forgets every token from `length` on (the preamble is kept): later turns are dropped, the turn
   * holding position `length` is cut there, and the store keeps at most `length` tokens.
   */
  rewind(length: number): void {
    if (this.busy) throw new Error(`conversation ${this.id} is generating a reply`);
    const total = this.tokens.length;
    if (!Number.isInteger(length) || length < this.preamble.length || length > total) {
      throw new RangeError(`cannot rewind ${total} tokens to ${length} (the preamble holds ${this.preamble.length})`);
    }
    let at = this.preamble.length;
    const kept: number[][] = [];
    for (const turn of this.turns) {
      if (at >= length) break;
      kept.push(turn.slice(0, length - at));
      at += turn.length;
    }
    this.turns.splice(0, this.turns.length, ...kept);
    if (this.kv.length > length) this.kv.truncate(length);
  }

  /**
   * Forgets the last turn (its prompt and reply) and leaves the store as that turn's reply found it: a
   * reply feeds every token but its last sampled one, so the store then held the history before the
   * turn less its last token. A reply to the same prompt then repeats the same computation (at
   * temperature 0, the same reply), without prefilling the history again.
   */
  undoLastTurn(): void {
    const last = this.turns.at(-1);
    if (!last) throw new Error(`conversation ${this.id} has no turn to undo`);
    const before = this.tokens.length - last.length;
    this.rewind(before);
    const fed = Math.max(0, before - 1);
    if (this.kv.length > fed) this.kv.truncate(fed);
  }

  /** Makes room for `prompt` by the overflow policy; returns how many turns were dropped. */
  private makeRoom(prompt: readonly number[], maxTokens: number): number {
    const context = this.setup.decoder.contextLength;
    const needed = () => this.preamble.length + this.turns.reduce((n, t) => n + t.length, 0) + prompt.length;
    let dropped = 0;
    if (this.overflow === 'drop-oldest-turns') {
      const replyRoom = Math.min(maxTokens, Math.floor(context / 4));
      while (this.turns.length > 0 && needed() + replyRoom > context) {
        this.turns.shift();
        dropped++;
      }
      if (dropped > 0) this.kv.truncate(0); // every position shifts: recompute, keeping the store's settings (depths)
    }
    if (needed() > context) throw new ContextOverflowError(needed(), context);
    return dropped;
  }

  /** Adds a turn (its prompt tokens) and streams the reply; the reply's tokens join the turn. */
  async *reply(prompt: readonly number[], options: GenerationOptionsInput = {}, signal?: AbortSignal): AsyncGenerator<GenerationEvent, ReplyResult> {
    if (this.busy) throw new Error(`conversation ${this.id} is already generating a reply`);
    // an empty prompt continues from what is there: BOS alone samples unconditionally, as llama2.c does
    if (prompt.length === 0 && this.tokens.length === this.kv.length) throw new Error('the prompt is empty and there is nothing to continue from (no BOS, no earlier reply): give some text');
    this.busy = true;
    try {
      const droppedTurns = this.makeRoom(prompt, parseGenerationOptions(options).maxTokens);
      const before = this.tokens.length;
      const all = [...this.tokens, ...prompt];
      const cached = this.kv.length; // the last reply token was sampled but never fed
      const turn = [...prompt];
      this.turns.push(turn);
      try {
        const { decoder, tokenizer } = this.setup;
        const result = yield* streamGeneration({ decoder, store: this.kv, tokenizer, input: all.slice(cached), cached: all.slice(0, cached), options, signal });
        turn.push(...result.tokens);
        return { ...result, droppedTurns };
      } catch (error) {
        this.turns.pop();
        if (this.kv.length > before) this.kv.truncate(before);
        throw error;
      }
    } finally {
      this.busy = false;
    }
  }

  /** A snapshot; `attachment` is any text the caller wants back on restore (a chat keeps its messages there). */
  save(attachment = ''): Uint8Array {
    if (this.busy) throw new Error(`conversation ${this.id} is generating; save it after the reply`);
    const store = this.kv.save();
    return encodeBlob(
      conversationBlob(this.kv.format),
      {
        'reskv.id': JSON.stringify(this.id),
        'reskv.preamble': String(this.preamble.length),
        'reskv.turns': JSON.stringify(this.turns.map((t) => t.length)),
        'reskv.overflow': JSON.stringify(this.overflow),
        'reskv.attachment': JSON.stringify(attachment),
      },
      {
        tokens: { dtype: 'I32', shape: [this.tokens.length], data: bytesOf(Int32Array.from(this.tokens)) },
        store: { dtype: 'U8', shape: [store.length], data: store },
      },
    );
  }

  /** Restores a saved conversation; its store must match `setup.stores` (checked by the store's restore). */
  static restore<S extends KvStore>(bytes: Uint8Array, setup: ConversationSetup<S>, format: S['format']): Conversation<S> {
    return Conversation.restoreWithAttachment(bytes, setup, format).conversation;
  }

  /** Restores a conversation and the attachment it was saved with. */
  static restoreWithAttachment<S extends KvStore>(bytes: Uint8Array, setup: ConversationSetup<S>, format: S['format']): { conversation: Conversation<S>; attachment: string } {
    const blob = decodeBlob(bytes, conversationBlob(format));
    const id = blobJson(blob, 'reskv.id', z.string().min(1));
    const preambleLength = blobJson(blob, 'reskv.preamble', z.number().int().nonnegative());
    const turnLengths = blobJson(blob, 'reskv.turns', z.array(z.number().int().positive()));
    const overflow = blobJson(blob, 'reskv.overflow', overflowSchema);
    const attachment = blobJson(blob, 'reskv.attachment', z.string());
    const total = preambleLength + turnLengths.reduce((a, b) => a + b, 0);
    const raw = blobTensor(blob, 'tokens', 'I32', [total]);
    const tokens = Array.from(new Int32Array(raw.buffer, raw.byteOffset, total));
    const bad = tokens.find((t) => t < 0 || t >= setup.decoder.vocabSize);
    if (bad !== undefined) throw new Error(`saved conversation holds token ${bad}, outside this model's vocabulary of ${setup.decoder.vocabSize}`);
    const storeBytes = blob.tensors.store;
    if (!storeBytes || storeBytes.dtype !== 'U8') throw new Error('saved conversation lacks its KV cache');
    const store = setup.stores.restore(storeBytes.data.slice());
    if (store.length > total) throw new Error(`saved conversation's KV cache holds ${store.length} tokens, its history only ${total}`);
    let at = preambleLength;
    const turns = turnLengths.map((length) => tokens.slice(at, (at += length)));
    const conversation = new Conversation(setup, { id, preamble: tokens.slice(0, preambleLength), turns, overflow });
    conversation.kv = store;
    return { conversation, attachment };
  }
}

/** Several conversations at once, each with its own store, by id. */
export class Conversations<S extends KvStore> {
  private readonly open = new Map<string, Conversation<S>>();

  constructor(
    private readonly setup: ConversationSetup<S>,
    private readonly format: S['format'],
  ) {}

  private add(conversation: Conversation<S>): Conversation<S> {
    if (this.open.has(conversation.id)) throw new Error(`a conversation with id ${conversation.id} is already open`);
    this.open.set(conversation.id, conversation);
    return conversation;
  }

  create(options: ConversationOptions = {}): Conversation<S> {
    return this.add(new Conversation(this.setup, options));
  }

  restore(bytes: Uint8Array): Conversation<S> {
    return this.add(Conversation.restore(bytes, this.setup, this.format));
  }

  get(id: string): Conversation<S> {
    const conversation = this.open.get(id);
    if (!conversation) throw new Error(`no open conversation with id ${id}`);
    return conversation;
  }

  close(id: string): boolean {
    return this.open.delete(id);
  }

  ids(): string[] {
    return [...this.open.keys()];
  }
}
