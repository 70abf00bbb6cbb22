// llama2.c reader and tokenizer on bad input: every problem is an error naming the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../../main/model/checkpoint.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import { Llama2cTokenizer, readLlama2cTokenizer } from '../../../main/model/tokenizer-llama2c.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'reskv-llama2c-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function header(values: number[]): Buffer {
  return Buffer.from(new Int32Array(values).buffer);
}

describe('llama2.c checkpoint reader', () => {
  it('rejects a file shorter than the header, naming it', () => {
    const path = join(dir, 'tiny.bin');
    writeFileSync(path, Buffer.alloc(10));
    expect(() => readLlama2cCheckpoint(path)).toThrow(/tiny\.bin: truncated/);
  });

  it('rejects an absurd header', () => {
    const path = join(dir, 'garbage.bin');
    writeFileSync(path, header([64, 172, 5, 7, 4, 512, 512]));
    expect(() => readLlama2cCheckpoint(path)).toThrow(/garbage\.bin: not a llama2\.c checkpoint \(dim 64 not divisible by n_heads 7\)/);
    writeFileSync(path, header([-1, 172, 5, 8, 4, 512, 512]));
    expect(() => readLlama2cCheckpoint(path)).toThrow(/header dim = -1/);
    writeFileSync(path, header([0x616b3432, 1, 64, 172, 5, 8, 4, 512, 512]));
    expect(() => readLlama2cCheckpoint(path)).toThrow('garbage.bin: llama2.c export version 1 (magic "ak42"); only the legacy version 0 format');
  });

  it.skipIf(!haveFixtures(fixtures.stories260K))('rejects a truncated or padded copy of stories260K', () => {
    const real = readFileSync(fixtures.stories260K);
    const cut = join(dir, 'cut.bin');
    writeFileSync(cut, real.subarray(0, real.length - 4));
    expect(() => readLlama2cCheckpoint(cut)).toThrow(`cut.bin: truncated: ${real.length - 4} bytes, the header implies ${real.length}`);
    const padded = join(dir, 'padded.bin');
    writeFileSync(padded, Buffer.concat([real, Buffer.alloc(8)]));
    expect(() => readLlama2cCheckpoint(padded)).toThrow(/padded\.bin: 8 unexpected trailing bytes/);
  });

  it('reads an untied classifier when vocab_size is negative', () => {
    // dim 4, hidden 6, 1 layer, 2 heads, 1 kv head, vocab -3, seq 2
    const [dim, hidden, vocab, kvDim, seq, headDim] = [4, 6, 3, 2, 2, 2];
    const floats = vocab * dim + dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 3 * hidden * dim + dim + 2 * seq * (headDim / 2) + vocab * dim;
    const body = new Float32Array(floats).map((_, i) => i);
    const path = join(dir, 'untied.bin');
    writeFileSync(path, Buffer.concat([header([dim, hidden, 1, 2, 1, -vocab, seq]), Buffer.from(body.buffer)]));
    const { config, weights } = readLlama2cCheckpoint(path);
    expect(config.tiedEmbeddings).toBe(false);
    expect(weights.read('lm_head.weight')).toEqual(body.slice(floats - vocab * dim));
    expect(weights.read('model.layers.0.mlp.up_proj.weight')[0]).toBe(vocab * dim + dim + dim * dim + 2 * kvDim * dim + dim * dim + dim + 2 * hidden * dim);
    weights.close();
  });
});

describe('llama2.c tokenizer reader', () => {
  it.skipIf(!haveFixtures(fixtures.tok512))('rejects a truncated tokenizer file, naming it', () => {
    const path = join(dir, 'tok-cut.bin');
    writeFileSync(path, readFileSync(fixtures.tok512).subarray(0, 3000));
    expect(() => readLlama2cTokenizer(path, 512)).toThrow(/tok-cut\.bin: truncated at byte/);
  });

  it('merges the highest-scoring pair first', () => {
    // vocab: <unk> <s> </s>, 256 byte tokens, then " ", "a", "b", "ab", " a", " ab"
    const pieces: [string, number][] = [['<unk>', 0], ['<s>', 0], ['</s>', 0]];
    for (let b = 0; b < 256; b++) pieces.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
    pieces.push([' ', -1], ['a', -1], ['b', -1], ['ab', -2], [' a', -3], [' ab', -4]);
    const parts: Buffer[] = [header([8])];
    for (const [p, score] of pieces) {
      const bytes = Buffer.from(p, 'utf8');
      parts.push(Buffer.from(new Float32Array([score]).buffer), header([bytes.length]), bytes);
    }
    const tok = new Llama2cTokenizer(Buffer.concat(parts), pieces.length);
    const id = (p: string) => pieces.findIndex(([q]) => q === p);
    // "ab" (-2) merges before " a" (-3); then " " + "ab" -> " ab"
    expect(tok.encode('ab')).toEqual([id(' ab')]);
    expect(tok.encode('ba')).toEqual([id(' '), id('b'), id('a')]);
    expect(tok.decode([1, ...tok.encode('ab ab')])).toBe('ab ab');
  });
});

/** run.c's encode() verbatim (rescans for the best pair after every merge): the oracle. */
function runCEncode(tok: Llama2cTokenizer, text: string): number[] {
  const key = (bytes: Uint8Array) => Array.from(bytes, (b) => String.fromCharCode(b)).join('');
  const idOf = new Map<string, number>();
  for (let id = tok.vocabSize - 1; id >= 0; id--) idOf.set(key(tok.piece(id)), id);
  const tokens = [idOf.get(' ')!];
  for (const ch of text) {
    const bytes = new TextEncoder().encode(ch);
    const id = idOf.get(key(bytes));
    if (id !== undefined) tokens.push(id);
    else tokens.push(...Array.from(bytes, (b) => b + 3));
  }
  for (;;) {
    let [best, at, merged] = [-1e10, -1, -1];
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = idOf.get(key(tok.piece(tokens[i])) + key(tok.piece(tokens[i + 1])));
      if (id !== undefined && tok.score(id) > best) [best, at, merged] = [tok.score(id), i, id];
    }
    if (at < 0) return tokens;
    tokens.splice(at, 2, merged);
  }
}

describe.skipIf(!haveFixtures(fixtures.tok512, fixtures.validSample))('llama2.c encoder on real text', () => {
  it('produces exactly run.c\'s tokens, and a long text stays fast', () => {
    const tok = readLlama2cTokenizer(fixtures.tok512, 512);
    const text = readFileSync(fixtures.validSample, 'utf8');
    for (const sample of [text.slice(0, 1200), text.slice(50_000, 51_000), 'Ünïcödé ☃ and 🚀 rockets, tabs\tand\nnewlines', '  double  spaces  ']) {
      const ids = tok.encode(sample);
      expect(ids).toEqual(runCEncode(tok, sample));
      expect(tok.decode([1, ...ids])).toBe(sample);
    }
    // the whole 190 kB sample (run.c's rescanning would take minutes)
    expect(tok.decode([1, ...tok.encode(text)])).toBe(text);
  });
});

describe('openCheckpoint', () => {
  it('names formats it does not read and says what to import instead', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['model.safetensors', Buffer.alloc(16), /model\.safetensors: point at the Hugging Face model folder/],
      ['model.gguf', Buffer.from('GGUF\x03\x00\x00\x00'), /model\.gguf: GGUF files are not supported/],
      ['pytorch_model.bin', Buffer.from('PK\x03\x04rest'), /pytorch_model\.bin: a PyTorch checkpoint \(pickle\) is not supported/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      expect(() => openCheckpoint(path)).toThrow(message);
    }
    expect(() => openCheckpoint(dir)).toThrow(/a folder without config\.json is not a Hugging Face model/);
  });

  it.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('finds the single tok*.bin beside a llama2.c checkpoint', () => {
    const ck = openCheckpoint(fixtures.stories260K);
    expect(ck.format).toBe('llama2c');
    expect(ck.tokenizerPath).toBe(fixtures.tok512);
    ck.weights.close();
  });
});
