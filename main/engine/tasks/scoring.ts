// Scoring one task item under one KV cache. Multiple choice: the log-likelihood of each choice's tokens
// after the prompt, teacher-forced (the prompt is run once, each choice after it, the store cut back
// between them); the likeliest choice is the answer. Generation: greedy decoding (the engine's
// generation loop at temperature 0) up to a stop string, end of text or max_tokens, then the match.
import type { ChatMessage } from '../chat.js';
import { logSoftmax } from '../evaluate.js';
import type { EvaluatedFormat } from '../evaluate.js';
import { generate } from '../generate.js';
import type { TextTokenizer } from '../../model/tokenizer.js';
import type { ChoiceItem, GenerationItem, TaskItem, TaskMatch } from './task-file.js';

/** What scoring needs of the tokenizer; `encodeChat` only for items with chat messages. */
export type TaskTokenizer = Pick<TextTokenizer, 'bosId' | 'eosIds' | 'encode' | 'decode'> & { encodeChat?: (messages: readonly ChatMessage[]) => number[] };

export interface ItemOutcome {
  correct: boolean;
  /** The chosen choice's text, or the generated text. */
  answer: string;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

function withBos(tokenizer: TaskTokenizer, ids: number[]): number[] {
  return tokenizer.bosId === null ? ids : [tokenizer.bosId, ...ids];
}

function chatIds(tokenizer: TaskTokenizer, messages: readonly ChatMessage[], line: number): number[] {
  if (!tokenizer.encodeChat) throw new Error(`line ${line} gives chat messages, but the model has no chat template: give a prompt instead`);
  return tokenizer.encodeChat(messages);
}

/** The tokens an item's model input starts with: BOS + the prompt, or the chat template's rendering. */
export function itemInput(item: TaskItem, tokenizer: TaskTokenizer): number[] {
  const ids = item.messages ? chatIds(tokenizer, item.messages, item.line) : withBos(tokenizer, tokenizer.encode(item.prompt ?? ''));
  if (ids.length === 0) throw new Error(`line ${item.line}: the prompt gives no tokens and the model has no BOS token to start from`);
  return ids;
}

/**
 * Context and continuation tokens of each choice. A plain prompt is tokenized together with the
 * choice (as the model would read the text) and split where the prompt's own tokens stop matching;
 * a chat prompt ends with the template's generation prompt, so the choice is tokenized after it.
 */
export function choiceTokens(item: ChoiceItem, tokenizer: TaskTokenizer): { context: number[]; continuation: number[] }[] {
  return item.choices.map((choice, c) => {
    let context: number[];
    let continuation: number[];
    if (item.messages) {
      context = chatIds(tokenizer, item.messages, item.line);
      continuation = tokenizer.encode(choice);
    } else {
      const prompt = item.prompt ?? '';
      const full = tokenizer.encode(prompt + choice);
      const k = prompt === '' ? 0 : commonPrefix(tokenizer.encode(prompt), full);
      context = withBos(tokenizer, full.slice(0, k));
      continuation = full.slice(k);
    }
    if (continuation.length === 0) throw new Error(`line ${item.line}, choice ${c}: gives no tokens after the prompt`);
    if (context.length === 0) throw new Error(`line ${item.line}: the prompt gives no tokens and the model has no BOS token to start from`);
    return { context, continuation };
  });
}

/**
 * Sum of log p(continuation | context) for each choice under one cache. Choices sharing the context
 * share its prefill: the context (less its last token) runs once, each choice runs from that token.
 */
export async function choiceLogLikelihoods(format: EvaluatedFormat, choices: readonly { context: number[]; continuation: number[] }[]): Promise<number[]> {
  const { decoder } = format;
  const vocab = decoder.vocabSize;
  let store = format.createStore();
  let prefilled: number[] = [];
  const result: number[] = [];
  for (const { context, continuation } of choices) {
    const needed = context.length + continuation.length - 1;
    if (needed > decoder.contextLength) throw new Error(`${format.name}: a choice needs ${needed} positions, the model holds ${decoder.contextLength}`);
    const head = context.slice(0, -1);
    if (head.length !== prefilled.length || commonPrefix(head, prefilled) !== head.length) {
      store = format.createStore();
      if (head.length > 0) await decoder.step(head, store);
      prefilled = head;
    }
    const tokens = [context[context.length - 1], ...continuation];
    const logits = await decoder.step(tokens, store, { allLogits: true });
    if (logits.length !== tokens.length * vocab) throw new Error(`${format.name}: decoder returned ${logits.length / vocab} logit rows for ${tokens.length} tokens`);
    let sum = 0;
    continuation.forEach((target, i) => {
      sum += logSoftmax(logits.subarray(i * vocab, (i + 1) * vocab))[target];
    });
    result.push(sum);
    store.truncate(head.length);
  }
  return result;
}

/** Index of the largest log-likelihood (the first on a tie). */
export function chosenIndex(logLikelihoods: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < logLikelihoods.length; i++) if (logLikelihoods[i] > logLikelihoods[best]) best = i;
  return best;
}

/** Whether generated text answers: exact (equal after trimming), contains (a substring), regex (the pattern matches somewhere). */
export function matchesAnswer(output: string, answer: string, match: TaskMatch): boolean {
  if (match === 'exact') return output.trim() === answer.trim();
  if (match === 'contains') return output.includes(answer);
  return new RegExp(answer).test(output);
}

export async function scoreChoiceItem(format: EvaluatedFormat, item: ChoiceItem, tokenizer: TaskTokenizer): Promise<ItemOutcome> {
  const chosen = chosenIndex(await choiceLogLikelihoods(format, choiceTokens(item, tokenizer)));
  return { correct: chosen === item.answer, answer: item.choices[chosen] };
}

export async function scoreGenerationItem(format: EvaluatedFormat, item: GenerationItem, tokenizer: TaskTokenizer, signal?: AbortSignal): Promise<ItemOutcome> {
  const result = await generate({
    decoder: format.decoder,
    store: format.createStore(),
    tokenizer,
    input: itemInput(item, tokenizer),
    options: { temperature: 0, maxTokens: item.max_tokens, stop: item.stop },
    signal,
  });
  return { correct: matchesAnswer(result.text, item.answer, item.match), answer: result.text };
}

export function scoreItem(format: EvaluatedFormat, item: TaskItem, tokenizer: TaskTokenizer, signal?: AbortSignal): Promise<ItemOutcome> {
  return item.kind === 'choice' ? scoreChoiceItem(format, item, tokenizer) : scoreGenerationItem(format, item, tokenizer, signal);
}
