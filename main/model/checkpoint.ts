// Recognizes what a user points at: a llama2.c checkpoint file (plus its tokenizer.bin) or a
// Hugging Face model folder, and opens it.
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
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

/**
 * Throws unless `path` is a regular file (links followed): reading a FIFO would block the process
 * forever, and a device never ends. Checked before any read.
 */
export function requireRegularFile(path: string, what = 'file'): void {
  const stats = statSync(path);
  if (!stats.isFile()) throw new Error(`${path}: not a regular ${what} (a ${fileKind(stats)}); point at a ${what} on disk`);
}

function fileKind(stats: Stats): string {
  if (stats.isFIFO()) return 'named pipe (FIFO)';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'device';
  if (stats.isSocket()) return 'socket';
  return stats.isDirectory() ? 'folder' : 'special file';
}

export function openCheckpoint(path: string, options: OpenCheckpointOptions = {}): OpenedCheckpoint {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'config.json'))) throw new Error(`${path}: a folder without config.json is not a Hugging Face model`);
    for (const entry of readdirSync(path, { withFileTypes: true })) if (!entry.isDirectory()) requireRegularFile(join(path, entry.name));
    return { ...readHfCheckpoint(path), format: 'huggingface', tokenizerPath: path };
  }
  requireRegularFile(path, 'checkpoint file');
  rejectOtherFormats(path);
  const tokenizerPath = options.tokenizer ?? findLlama2cTokenizer(path);
  if (!existsSync(tokenizerPath)) throw new Error(`${tokenizerPath}: tokenizer file not found`);
  requireRegularFile(tokenizerPath, 'tokenizer file');
  return { ...readLlama2cCheckpoint(path), format: 'llama2c', tokenizerPath };
}

function findLlama2cTokenizer(checkpoint: string): string {
  const folder = dirname(checkpoint);
  if (existsSync(join(folder, 'tokenizer.bin'))) return join(folder, 'tokenizer.bin');
  const candidates = readdirSync(folder).filter((f) => /^tok.*\.bin$/.test(f));
  if (candidates.length === 1) return join(folder, candidates[0]);
  throw new Error(`${basename(checkpoint)}: cannot tell which llama2.c tokenizer belongs to it (found ${candidates.length ? candidates.join(', ') : 'no tokenizer.bin or tok*.bin'} beside it): keep only the model's own tokenizer beside it, named tokenizer.bin (the CLI's import also takes --tokenizer FILE)`);
}

/** Files users commonly point at that are not llama2.c checkpoints, with what to do instead. */
function rejectOtherFormats(path: string): void {
  const name = basename(path);
  if (/\.(safetensors|json)$/.test(name)) throw new Error(`${name}: point at the Hugging Face model folder that holds it, not at the file`);
  const head = new Uint8Array(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  const magic = String.fromCharCode(...head);
  if (magic === 'GGUF') throw new Error(`${name}: GGUF files are not supported; import the Hugging Face folder (safetensors) the GGUF was made from`);
  // zip (torch.save since 1.6) or the legacy pickle header 80 02 8a 0a
  if (magic === 'PK\x03\x04' || magic === '\x80\x02\x8a\x0a') throw new Error(`${name}: a PyTorch checkpoint (pickle) is not supported; import a folder with safetensors weights`);
}
