// Hugging Face tokenizers (tokenizer.json + tokenizer_config.json) through @huggingface/tokenizers,
// chat templates through @huggingface/jinja, end-of-sequence ids from generation_config.json.
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile } from './hf.js';
import type { TextTokenizer } from './tokenizer.js';

/** The files readHfTokenizer reads (config.json for the stop ids when generation_config.json lacks them). */
export const tokenizerFiles = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json'] as const;

const tokenText = z.union([z.string(), z.object({ content: z.string() })]).nullable().optional();
const tokenizerConfigSchema = z.looseObject({
  bos_token: tokenText,
  eos_token: tokenText,
  chat_template: z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]).nullable().optional(),
});
const idOrIds = z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullable().optional();
const generationConfigSchema = z.looseObject({ eos_token_id: idOrIds });
const modelConfigEosSchema = z.looseObject({ eos_token_id: idOrIds.catch(undefined) });

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export class HfTokenizer implements TextTokenizer {
  readonly bosId: number | null;
  readonly eosIds: number[];
  private readonly chatTemplate: Template | null;
  private readonly bosText: string;
  private readonly eosText: string;

  constructor(
    private readonly tokenizer: Tokenizer,
    tokenizerConfig: z.infer<typeof tokenizerConfigSchema>,
    generationConfig: z.infer<typeof generationConfigSchema>,
  ) {
    const text = (t: z.infer<typeof tokenText>) => (typeof t === 'string' ? t : (t?.content ?? ''));
    this.bosText = text(tokenizerConfig.bos_token);
    this.eosText = text(tokenizerConfig.eos_token);
    // BOS only where the tokenizer itself would add it (its post-processor): Llama, Gemma yes;
    // SmolLM2, Qwen2 no.
    const withSpecials = tokenizer.encode('a', { add_special_tokens: true }).ids;
    const plain = tokenizer.encode('a', { add_special_tokens: false }).ids;
    this.bosId = withSpecials.length > plain.length && withSpecials[0] !== plain[0] ? withSpecials[0] : null;
    const genEos = generationConfig.eos_token_id;
    const eos = genEos === null || genEos === undefined ? tokenizer.token_to_id(this.eosText) : genEos;
    this.eosIds = eos === undefined ? [] : Array.isArray(eos) ? eos : [eos];
    const template = tokenizerConfig.chat_template;
    const source = Array.isArray(template) ? (template.find((t) => t.name === 'default') ?? template[0])?.template : template;
    try {
      this.chatTemplate = source ? new Template(source) : null;
    } catch (e) {
      throw new Error(`chat_template cannot be parsed (${(e as Error).message})`, { cause: e });
    }
  }

  get vocabSize(): number {
    return this.tokenizer.get_vocab(true).size;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: true });
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== null;
  }

  /** Ids of the chat prompt for `messages`, with BOS added unless the template already wrote it. */
  encodeChat(messages: readonly ChatMessage[]): number[] {
    const ids = this.encode(this.applyChatTemplate(messages));
    return this.bosId !== null && ids[0] !== this.bosId ? [this.bosId, ...ids] : ids;
  }

  /** The prompt text the model's own chat template makes of `messages` (generation prompt added). */
  applyChatTemplate(messages: readonly ChatMessage[]): string {
    if (!this.chatTemplate) throw new Error('this model has no chat_template in tokenizer_config.json');
    try {
      return this.chatTemplate.render({ messages, add_generation_prompt: true, bos_token: this.bosText, eos_token: this.eosText });
    } catch (e) {
      // e.g. Gemma's template raises 'System role not supported'
      throw new Error(`the model's chat template refused these messages: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** Loads the tokenizer files of a Hugging Face folder (tokenizer.json required). */
export function readHfTokenizer(folder: string): HfTokenizer {
  const json = readJsonFile(join(folder, 'tokenizer.json'), 'tokenizer.json');
  const configPath = join(folder, 'tokenizer_config.json');
  const config = parseWith(tokenizerConfigSchema, existsSync(configPath) ? readJsonFile(configPath, 'tokenizer_config.json') : {}, 'tokenizer_config.json');
  const genPath = join(folder, 'generation_config.json');
  const generation = parseWith(generationConfigSchema, existsSync(genPath) ? readJsonFile(genPath, 'generation_config.json') : {}, 'generation_config.json');
  // as transformers does without a generation_config.json: the stop ids of config.json
  const modelConfigPath = join(folder, 'config.json');
  if (generation.eos_token_id == null && existsSync(modelConfigPath)) generation.eos_token_id = modelConfigEosSchema.parse(readJsonFile(modelConfigPath, 'config.json')).eos_token_id;
  // newer exports keep the template beside tokenizer_config.json
  const jinjaPath = join(folder, 'chat_template.jinja');
  const templateJsonPath = join(folder, 'chat_template.json');
  if (!config.chat_template && existsSync(jinjaPath)) config.chat_template = readFileSync(jinjaPath, 'utf8');
  else if (!config.chat_template && existsSync(templateJsonPath)) {
    config.chat_template = parseWith(z.object({ chat_template: z.string() }), readJsonFile(templateJsonPath, 'chat_template.json'), 'chat_template.json').chat_template;
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json as object, config);
  } catch (e) {
    throw new Error(`tokenizer.json: cannot be loaded (${(e as Error).message})`, { cause: e });
  }
  return new HfTokenizer(tokenizer, config, generation);
}

function parseWith<T>(schema: z.ZodType<T>, raw: unknown, file: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
