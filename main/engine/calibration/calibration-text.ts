// Where calibration tokens come from: the user's plain-text files (documents separated by
// <|endoftext|>, as the TinyStories files are; a file without it is one document), or text the model
// samples itself at temperature 1 from its start token (data-free calibration). Documents become
// capture chunks of at most the model's context, the first starting with the model's BOS token.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ModelManifest } from '../../model/manifest.js';
import type { TextTokenizer } from '../../model/tokenizer.js';
import { FpGraphDecoder } from '../fp-graph-decoder.js';
import { Fp16KvStore } from '../fp16-kv-store.js';
import { generate } from '../generate.js';
import { createSession } from '../session.js';
import type { SessionOptionsInput } from '../session.js';

export const DOCUMENT_SEPARATOR = '<|endoftext|>';

/** Documents of a text: split at the separator, trimmed, empty ones dropped. */
export function splitDocuments(text: string): string[] {
  return text
    .split(DOCUMENT_SEPARATOR)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
}

export interface TextFileRecord {
  file: string;
  sha256: string;
  documents: number;
}

/** The documents of one text (file bytes, or text held in memory) and its record under `name`; `role` names the text in errors. */
export function textDocuments(name: string, bytes: Uint8Array, role = 'calibration text'): { documents: string[]; file: TextFileRecord } {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.includes('\u0000')) throw new Error(`${role} ${name} holds NUL bytes: it is not a plain-text file`);
  const documents = splitDocuments(text);
  if (documents.length === 0) throw new Error(`${role} ${name} is empty`);
  return { documents, file: { file: basename(name), sha256: createHash('sha256').update(bytes).digest('hex'), documents: documents.length } };
}

/** Reads a UTF-8 text file into documents, recorded (name, sha256, documents) for the codebook metadata. */
export function readTextFile(path: string): { documents: string[]; file: TextFileRecord } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`calibration text ${path}: ${(e as Error).message}`, { cause: e });
  }
  return textDocuments(path, bytes);
}

/** Token ids of a document as the model sees a fresh one: BOS (when the model has one), then the text. */
export function documentTokens(tokenizer: TextTokenizer, document: string): number[] {
  const ids = tokenizer.encode(document);
  return tokenizer.bosId === null ? ids : [tokenizer.bosId, ...ids];
}

/** Splits token sequences into capture chunks of at most `context` tokens (each chunk starts at position 0). */
export function captureChunks(sequences: readonly number[][], context: number): number[][] {
  const chunks: number[][] = [];
  for (const ids of sequences) for (let at = 0; at < ids.length; at += context) chunks.push(ids.slice(at, at + context));
  return chunks.filter((c) => c.length > 0);
}

export interface SelfGenerationOptions {
  /** Tokens to generate in all (each sample runs to its end-of-sequence token or the context). */
  tokens: number;
  seed: number;
  session?: SessionOptionsInput;
  signal?: AbortSignal;
  onProgress?: (generated: number) => void;
}

/**
 * Data-free calibration text: samples at temperature 1 from the model's fp graph (fp16 cache), each
 * sample from the start token (BOS, else the first end-of-sequence id) with seed `seed + i`.
 * Returns the token sequences, start token included.
 */
export async function sampleOwnText(folder: string, manifest: ModelManifest, tokenizer: TextTokenizer, options: SelfGenerationOptions): Promise<number[][]> {
  const start = tokenizer.bosId ?? tokenizer.eosIds[0];
  if (start === undefined) throw new Error(`${manifest.id} has neither a BOS nor an end-of-sequence token to start sampling from; calibrate on text instead`);
  const { config } = manifest;
  const { session } = await createSession(join(folder, manifest.graphs.fpHalfCache), options.session);
  try {
    const decoder = new FpGraphDecoder(session, config);
    const sequences: number[][] = [];
    let generated = 0;
    while (generated < options.tokens) {
      options.signal?.throwIfAborted();
      const store = new Fp16KvStore({ numLayers: config.numLayers, numKvHeads: config.numKvHeads, headDim: config.headDim });
      const maxTokens = Math.min(options.tokens - generated, config.maxPositions - 1);
      const result = await generate({
        decoder,
        store,
        tokenizer,
        input: [start],
        options: { temperature: 1, seed: (options.seed + sequences.length) >>> 0, maxTokens },
        signal: options.signal,
      });
      options.signal?.throwIfAborted();
      sequences.push([start, ...result.tokens]);
      generated += result.tokens.length;
      options.onProgress?.(generated);
    }
    return sequences;
  } finally {
    await session.release();
  }
}
