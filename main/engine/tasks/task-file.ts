// Task files: JSONL, one item per line, in the shapes lm-evaluation-harness users know. A multiple-choice
// item {"prompt", "choices", "answer": i} is scored by the log-likelihood of each choice; a generation
// item {"prompt", "answer", "match"} by greedy generation up to a stop string or max_tokens. Either kind
// may give chat `messages` instead of a prompt (rendered with the model's chat template). Every line
// is checked with zod; a bad one is an error naming the file, the line number and the field.
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';

/** Largest task file read (bytes) and most items, so a wrong file cannot exhaust memory. */
export const maxTaskFileBytes = 16 * 2 ** 20;
export const maxTaskItems = 10_000;

const text = (max: number) => z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const messagesSchema = z
  .array(z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(100_000, 'must be at most 100000 characters') }))
  .min(1, 'must hold at least one message')
  .max(256, 'at most 256 messages');
const id = z.string().min(1).max(200).optional();

const choiceItemSchema = z.strictObject({
  id,
  prompt: z.string().max(100_000, 'must be at most 100000 characters').optional(),
  messages: messagesSchema.optional(),
  choices: z.array(text(10_000)).min(2, 'must list at least 2 choices').max(64, 'at most 64 choices'),
  answer: z.number().int('must be the index of the right choice (a whole number)').min(0, 'must be at least 0'),
});

const generationItemSchema = z.strictObject({
  id,
  prompt: z.string().max(100_000, 'must be at most 100000 characters').optional(),
  messages: messagesSchema.optional(),
  answer: text(10_000),
  match: z.enum(['exact', 'contains', 'regex']).default('contains'),
  stop: z.array(text(200)).max(16, 'at most 16 stop strings').default([]),
  max_tokens: z.number().int('must be a whole number').min(1, 'must be at least 1').max(4096, 'must be at most 4096').default(32),
});

export type ChoiceItem = z.output<typeof choiceItemSchema> & { kind: 'choice'; line: number };
export type GenerationItem = z.output<typeof generationItemSchema> & { kind: 'generation'; line: number };
export type TaskItem = ChoiceItem | GenerationItem;
export type TaskMatch = GenerationItem['match'];

/** Where a line failed: "tasks.jsonl line 3, field choices.1: must not be empty". */
export class TaskFileError extends Error {}

function issueText(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? `field ${i.path.join('.')}` : 'item'}: ${i.message}`)
    .join('; ');
}

function parseItem(value: unknown, where: string, line: number): TaskItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TaskFileError(`${where}: an item must be a JSON object`);
  const isChoice = 'choices' in value;
  const parsed = (isChoice ? choiceItemSchema : generationItemSchema).safeParse(value);
  if (!parsed.success) throw new TaskFileError(`${where}, ${issueText(parsed.error)}`);
  const item = parsed.data;
  if ((item.prompt === undefined) === (item.messages === undefined)) throw new TaskFileError(`${where}, field prompt: give either prompt or messages (chat), not ${item.prompt === undefined ? 'neither' : 'both'}`);
  if ('choices' in item) {
    if (item.answer >= item.choices.length) throw new TaskFileError(`${where}, field answer: ${item.answer} is not a choice index (0..${item.choices.length - 1})`);
    return { ...item, kind: 'choice', line };
  }
  const gen = item as z.output<typeof generationItemSchema>;
  if (gen.match === 'regex') {
    try {
      new RegExp(gen.answer);
    } catch (e) {
      throw new TaskFileError(`${where}, field answer: not a regular expression (${(e as Error).message})`);
    }
  }
  return { ...gen, kind: 'generation', line };
}

/** Parses a task file's text; blank lines are skipped, line numbers count from 1. */
export function parseTaskFile(content: string, file: string): TaskItem[] {
  const items: TaskItem[] = [];
  content.split(/\r?\n/).forEach((raw, index) => {
    if (raw.trim() === '') return;
    const where = `${file} line ${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new TaskFileError(`${where}: not valid JSON (${(e as Error).message})`);
    }
    if (items.length >= maxTaskItems) throw new TaskFileError(`${file}: more than ${maxTaskItems} items`);
    items.push(parseItem(value, where, index + 1));
  });
  if (items.length === 0) throw new TaskFileError(`${file}: holds no items (one JSON object per line)`);
  return items;
}

/** Reads and parses a task file (a regular file of at most maxTaskFileBytes). */
export function readTaskFile(path: string): TaskItem[] {
  let content: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > maxTaskFileBytes) throw new Error(`${stat.size} bytes, more than the ${maxTaskFileBytes} a task file may hold`);
    content = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TaskFileError(`task file ${path}: ${(e as Error).message}`);
  }
  return parseTaskFile(content, path);
}
