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

  /** Token `id`'s raw bytes as stored in the file. */
  piece(id: number): Uint8Array {
    return this.pieceBytes[id];
  }

  /** Token `id`'s merge score. */
  score(id: number): number {
    return this.scores[id];
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
    return this.merge(tokens);
  }

  /**
   * run.c's merge rule (repeatedly merge the adjacent pair whose merged token scores highest, the
   * leftmost among equals) with a linked list and a heap of candidate pairs instead of rescanning
   * the sequence for every merge: O(n log n) rather than O(n^2), same result.
   */
  private merge(initial: number[]): number[] {
    const n = initial.length;
    const id = Int32Array.from(initial);
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const heap = new PairHeap();
    const offer = (left: number) => {
      const right = next[left];
      if (left < 0 || right < 0) return;
      const merged = this.idOf.get(latin1(this.pieceBytes[id[left]]) + latin1(this.pieceBytes[id[right]]));
      if (merged !== undefined) heap.push({ score: this.scores[merged], left, leftId: id[left], rightId: id[right], merged });
    };
    for (let i = 0; i + 1 < n; i++) offer(i);
    const removed = new Uint8Array(n);
    for (let pair = heap.pop(); pair; pair = heap.pop()) {
      const right = next[pair.left];
      // stale: a symbol of the pair was merged away or changed since the pair was offered
      if (removed[pair.left] || right < 0 || id[pair.left] !== pair.leftId || id[right] !== pair.rightId) continue;
      id[pair.left] = pair.merged;
      removed[right] = 1;
      next[pair.left] = next[right];
      if (next[right] >= 0) prev[next[right]] = pair.left;
      offer(prev[pair.left]);
      offer(pair.left);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0 && i < n; i = next[i]) out.push(id[i]);
    return out;
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

interface Pair {
  score: number;
  /** Original index of the pair's left symbol: list order, so the smaller one is further left. */
  left: number;
  leftId: number;
  rightId: number;
  merged: number;
}

/** Binary max-heap of pairs: higher score first, then the leftmost. */
class PairHeap {
  private readonly items: Pair[] = [];

  private before(a: Pair, b: Pair): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  push(p: Pair): void {
    const items = this.items;
    items.push(p);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): Pair | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(items[l], items[best])) best = l;
        if (r < items.length && this.before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

/** Bytes as a string of the same length (one char per byte): a map key that keeps raw bytes apart. */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
