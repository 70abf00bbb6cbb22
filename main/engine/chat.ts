// Chat on top of a Conversation: the model's own chat template renders the whole message list each
// turn, and only what differs from the cached tokens is fed. Templates that re-render earlier turns
// (a reply re-tokenized differently, an end-of-turn marker added after it) are handled by rewinding
// the conversation to the longest common prefix first. When the rendered chat outgrows the context,
// the caller chooses an error or dropping the oldest exchanges (system messages stay).
import type { ChatMessage } from '../model/tokenizer-hf.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { z } from 'zod';
import { Conversation } from './conversation.js';
import type { ConversationSetup, ReplyResult } from './conversation.js';
import { ContextOverflowError, parseGenerationOptions } from './generate.js';
import type { GenerationEvent, GenerationOptionsInput } from './generate.js';
import type { KvStore } from './kv-store.js';

export type { ChatMessage };

/** A tokenizer with a chat template (the model team's HfTokenizer is one). */
export interface ChatTokenizer extends Pick<TextTokenizer, 'decode' | 'eosIds'> {
  encodeChat(messages: readonly ChatMessage[]): number[];
}

const messagesSchema = z.array(z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string() }));

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

export class ChatConversation<S extends KvStore> {
  private history: ChatMessage[];

  /** `conversation` should have no preamble (the template writes BOS) and its 'error' overflow policy. */
  constructor(
    readonly conversation: Conversation<S>,
    private readonly tokenizer: ChatTokenizer,
    private readonly contextLength: number,
    private readonly overflow: 'error' | 'drop-oldest-turns' = 'error',
    system?: string,
  ) {
    this.history = system ? [{ role: 'system', content: system }] : [];
  }

  /** A chat holding `messages` already, on `conversation` (which holds their rendering's tokens). */
  static continuing<S extends KvStore>(
    conversation: Conversation<S>,
    tokenizer: ChatTokenizer,
    contextLength: number,
    overflow: 'error' | 'drop-oldest-turns',
    messages: readonly ChatMessage[],
  ): ChatConversation<S> {
    const chat = new ChatConversation(conversation, tokenizer, contextLength, overflow);
    chat.history = messages.map((m) => ({ ...m }));
    return chat;
  }

  get messages(): readonly ChatMessage[] {
    return this.history;
  }

  /** The rendered prompt for `messages`, dropping the oldest exchanges by the overflow policy. */
  private render(messages: ChatMessage[], maxTokens: number): { messages: ChatMessage[]; ids: number[] } {
    let ids = this.tokenizer.encodeChat(messages);
    if (this.overflow === 'drop-oldest-turns') {
      const room = Math.min(maxTokens, Math.floor(this.contextLength / 4));
      const system = messages.filter((m) => m.role === 'system');
      let rest = messages.filter((m) => m.role !== 'system');
      while (ids.length + room > this.contextLength && rest.length > 1) {
        const drop = rest.findIndex((m, i) => i > 0 && m.role === 'user'); // the oldest exchange ends before the next user message
        rest = drop > 0 ? rest.slice(drop) : rest.slice(-1);
        messages = [...system, ...rest];
        ids = this.tokenizer.encodeChat(messages);
      }
    }
    if (ids.length > this.contextLength) throw new ContextOverflowError(ids.length, this.contextLength);
    return { messages, ids };
  }

  /** Sends a user message and streams the assistant's reply, which then joins the messages. */
  async *say(text: string, options: GenerationOptionsInput = {}, signal?: AbortSignal): AsyncGenerator<GenerationEvent, ReplyResult & { droppedMessages: number }> {
    const asked: ChatMessage[] = [...this.history, { role: 'user', content: text }];
    const { messages, ids } = this.render(asked, parseGenerationOptions(options).maxTokens);
    // at least the last token is fed, for its logits, even when the whole rendering is cached already
    const keep = Math.min(commonPrefix(this.conversation.tokens, ids), ids.length - 1);
    this.conversation.rewind(keep);
    const result = yield* this.conversation.reply(ids.slice(keep), options, signal);
    this.history = [...messages, { role: 'assistant', content: result.text }];
    return { ...result, droppedMessages: asked.length - messages.length };
  }

  /** Forgets the last user message and its reply (tokens and cache: see Conversation.undoLastTurn). */
  undoLastExchange(): void {
    if (this.history.at(-1)?.role !== 'assistant' || this.history.at(-2)?.role !== 'user') throw new Error(`conversation ${this.conversation.id} has no exchange to undo`);
    this.conversation.undoLastTurn();
    this.history = this.history.slice(0, -2);
  }

  /** The conversation snapshot with the messages attached. */
  save(): Uint8Array {
    return this.conversation.save(JSON.stringify(this.history));
  }

  static restore<S extends KvStore>(
    bytes: Uint8Array,
    setup: ConversationSetup<S> & { tokenizer: ChatTokenizer },
    format: S['format'],
    overflow: 'error' | 'drop-oldest-turns' = 'error',
  ): ChatConversation<S> {
    const { conversation, attachment } = Conversation.restoreWithAttachment(bytes, setup, format);
    let parsed: unknown;
    try {
      parsed = JSON.parse(attachment);
    } catch {
      throw new Error('saved chat carries no message list');
    }
    const messages = messagesSchema.safeParse(parsed);
    if (!messages.success) throw new Error(`saved chat messages are invalid: ${z.prettifyError(messages.error)}`);
    return ChatConversation.continuing(conversation, setup.tokenizer, setup.decoder.contextLength, overflow, messages.data);
  }
}
