// llama2.c's tokenizer.bin format and its encoder/decoder (run.c build_tokenizer / encode / decode):
// int32 max_token_length, then per token: float32 score, int32 byte length, the bytes.
// Ids 0/1/2 are <unk>, <s>, </s>; ids 3..258 are byte fallbacks <0x00>..<0xFF>.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { TextTokenizer } from './tokenizer.js';

const byteFallbackBase = 3;

export class Llama2cTokenizer implements TextTokenizer {
  readonly bosId = 1;
  readonly eosIds = [2];
  private readonly pieceBytes: Uint8Array[];
  private readonly scores: Float32Array;
  private readonly idOf = new Map<string, number>();

  /** Parses the file bytes; `vocabSize` comes from the model (the file does not store it). */
  constructor(bytes: Uint8Array, vocabSize: number, file = 'tokenizer.bin') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const need = (at: number, n: number, what: string) => {
      if (at + n > bytes.length) throw new Error(`${file}: truncated at byte ${at} reading ${what} (file has ${bytes.length} bytes, vocabulary ${vocabSize})`);
    };
    need(0, 4, 'max_token_length');
    const maxLength = view.getInt32(0, true);
    this.pieceBytes = [];
    this.scores = new Float32Array(vocabSize);
    let at = 4;
    for (let id = 0; id < vocabSize; id++) {
      need(at, 8, `token ${id}`);
      this.scores[id] = view.getFloat32(at, true);
      const len = view.getInt32(at + 4, true);
      if (len < 0 || len > maxLength) throw new Error(`${file}: token ${id} has length ${len} (max_token_length ${maxLength})`);
      at += 8;
      need(at, len, `token ${id} bytes`);
      const piece = bytes.slice(at, at + len);
      at += len;
      this.pieceBytes.push(piece);
      const key = latin1(piece);
      if (!this.idOf.has(key)) this.idOf.set(key, id);
    }
    if (at !== bytes.length) throw new Error(`${file}: ${bytes.length - at} unexpected trailing bytes after ${vocabSize} tokens`);
  }

  get vocabSize(): number {
    return this.pieceBytes.length;
  }

  /** run.c encode(): dummy-prefix space, code points (or byte fallback), then best-score merges. */
  encode(text: string): number[] {
    if (text === '') return [];
    const tokens: number[] = [];
    const space = this.idOf.get(' ');
    if (space !== undefined) tokens.push(space);
    const encoder = new TextEncoder();
    for (const ch of text) {
      const utf8 = encoder.encode(ch);
      const id = this.idOf.get(latin1(utf8));
      if (id !== undefined) tokens.push(id);
      else for (const b of utf8) tokens.push(b + byteFallbackBase);
    }
    for (;;) {
      let bestScore = -Infinity;
      let bestId = -1;
      let bestAt = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const merged = this.idOf.get(latin1(this.pieceBytes[tokens[i]]) + latin1(this.pieceBytes[tokens[i + 1]]));
        if (merged !== undefined && this.scores[merged] > bestScore) {
          bestScore = this.scores[merged];
          bestId = merged;
          bestAt = i;
        }
      }
      if (bestAt < 0) return tokens;
      tokens.splice(bestAt, 2, bestId);
    }
  }

  /** run.c decode(): byte tokens become raw bytes; a space after BOS is dropped; specials vanish. */
  decode(ids: readonly number[]): string {
    const out: number[] = [];
    let prev = -1;
    for (const id of ids) {
      if (id < 0 || id >= this.vocabSize) throw new Error(`token id ${id} outside vocabulary of ${this.vocabSize}`);
      if (id <= 2) {
        prev = id;
        continue;
      }
      if (id < byteFallbackBase + 256) out.push(id - byteFallbackBase);
      else {
        let piece = this.pieceBytes[id];
        if (prev === this.bosId && piece[0] === 0x20) piece = piece.subarray(1);
        out.push(...piece);
      }
      prev = id;
    }
    return new TextDecoder().decode(new Uint8Array(out));
  }
}

export function readLlama2cTokenizer(path: string, vocabSize: number): Llama2cTokenizer {
  return new Llama2cTokenizer(readFileSync(path), vocabSize, basename(path));
}

/** Bytes as a string of the same length (one char per byte): a map key that keeps raw bytes apart. */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
