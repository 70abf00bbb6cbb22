// Recognizes what a user points at: a llama2.c checkpoint file (plus its tokenizer.bin) or a
// Hugging Face model folder, and opens it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readHfCheckpoint } from './hf.js';
import { readLlama2cCheckpoint } from './llama2c.js';
import type { LoadedCheckpoint } from './weights.js';

export type CheckpointFormat = 'llama2c' | 'huggingface';

export interface OpenedCheckpoint extends LoadedCheckpoint {
  format: CheckpointFormat;
  /** llama2.c: the tokenizer.bin file; Hugging Face: the model folder. */
  tokenizerPath: string;
}

export interface OpenCheckpointOptions {
  /** llama2.c only: the tokenizer file (default: tokenizer.bin or the single tok*.bin beside the checkpoint). */
  tokenizer?: string;
}

export function openCheckpoint(path: string, options: OpenCheckpointOptions = {}): OpenedCheckpoint {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'config.json'))) throw new Error(`${path}: a folder without config.json is not a Hugging Face model`);
    return { ...readHfCheckpoint(path), format: 'huggingface', tokenizerPath: path };
  }
  const tokenizerPath = options.tokenizer ?? findLlama2cTokenizer(path);
  if (!existsSync(tokenizerPath)) throw new Error(`${tokenizerPath}: tokenizer file not found`);
  return { ...readLlama2cCheckpoint(path), format: 'llama2c', tokenizerPath };
}

function findLlama2cTokenizer(checkpoint: string): string {
  const folder = dirname(checkpoint);
  if (existsSync(join(folder, 'tokenizer.bin'))) return join(folder, 'tokenizer.bin');
  const candidates = readdirSync(folder).filter((f) => /^tok.*\.bin$/.test(f));
  if (candidates.length === 1) return join(folder, candidates[0]);
  throw new Error(`${basename(checkpoint)}: cannot tell which llama2.c tokenizer belongs to it (found ${candidates.length ? candidates.join(', ') : 'no tokenizer.bin or tok*.bin'} beside it); name one with --tokenizer`);
}
