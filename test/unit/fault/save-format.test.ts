// The saved-conversation format against golden files (issue 18 item 7): a fixed conversation must
// save to exactly the committed bytes, and the committed bytes must restore to that conversation, so
// a format change (even a symmetric one that round-trips) fails here until the golden files and the
// format version move together. Regenerate with RESKV_WRITE_GOLDEN=1 only for a deliberate change.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Conversation } from '../../../main/engine/conversation.js';
import type { ConversationSetup } from '../../../main/engine/conversation.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import type { KvGeometry } from '../../../main/engine/kv-store.js';
import { ConversationFiles, savedConversationFormat } from '../../../main/backend/conversation-files.js';

const golden = join(import.meta.dirname, 'golden');
/** A saved-conversations folder holding one conversation, as ConversationFiles writes it. */
const savedDir = join(golden, 'saved');
const goldenCache = join(savedDir, 'golden-1', 'cache.1-golden.reskv');
const geometry: KvGeometry = { numLayers: 2, numKvHeads: 1, headDim: 4 };

const setup: ConversationSetup<Fp16KvStore> = {
  decoder: {
    contextLength: 64,
    vocabSize: 32,
    step: () => Promise.reject(new Error('the golden conversation never runs the model')),
  },
  stores: { create: () => new Fp16KvStore(geometry), restore: (bytes) => Fp16KvStore.restore(bytes, geometry) },
  tokenizer: { decode: (tokens) => tokens.join(' '), eosIds: [2] },
};

/** BOS, two turns, five cached tokens whose K/V values are fixed (exact in fp16). */
function goldenConversation(): Conversation<Fp16KvStore> {
  const conversation = new Conversation(setup, { id: 'golden-1', preamble: [1], turns: [[7, 8], [9, 10, 11]], overflow: 'drop-oldest-turns' });
  const tokens = 5;
  for (let layer = 0; layer < geometry.numLayers; layer++) {
    for (const kind of ['key', 'value'] as const) {
      const data = Float32Array.from({ length: tokens * geometry.headDim }, (_, i) => (layer * 100 + (kind === 'key' ? 0 : 50) + i) / 8);
      conversation.store.append(layer, kind, { data, tokens, start: 0, count: tokens });
    }
  }
  return conversation;
}

function expectGolden(name: string, bytes: Uint8Array): void {
  const path = name;
  if (process.env.RESKV_WRITE_GOLDEN === '1' || !existsSync(path)) {
    if (process.env.CI === 'true') throw new Error(`${path} is missing: golden files are committed, not written in CI`);
    writeFileSync(path, bytes);
  }
  expect(Buffer.from(bytes).equals(readFileSync(path)), `${name} differs from the golden file`).toBe(true);
}

describe('saved conversation format (golden files)', () => {
  it('a conversation saves to exactly the golden bytes', () => {
    expectGolden(goldenCache, goldenConversation().save('{"note":"attachment"}'));
  });

  it('the golden bytes restore to the conversation: tokens, turns, overflow, attachment and cache', () => {
    const bytes = new Uint8Array(readFileSync(goldenCache));
    const { conversation, attachment } = Conversation.restoreWithAttachment(bytes, setup, 'fp16');
    expect(conversation.id).toBe('golden-1');
    expect(conversation.history).toEqual({ preamble: [1], turns: [[7, 8], [9, 10, 11]] });
    expect(conversation.overflow).toBe('drop-oldest-turns');
    expect(attachment).toBe('{"note":"attachment"}');
    expect(conversation.store.length).toBe(5);
    expect(Array.from(conversation.store.fp16Past(1, 'value').slice(0, 2))).toEqual([0x4cb0, 0x4cb8]); // 150/8 = 18.75, 151/8 = 18.875 in fp16
  });

  it("the golden saved folder loads: the pointer's transcript and the cache it names, checked by sha256", () => {
    const { transcript, cache } = new ConversationFiles(savedDir).load('golden-1');
    expect(transcript.messages.map((m) => m.content)).toEqual(['the cat', 'sat on a mat']);
    expect(Buffer.from(cache).equals(readFileSync(goldenCache))).toBe(true);
  });

  it("a fresh save writes the golden pointer's shape (format, keys, cache entry)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'reskv-golden-'));
    try {
      const files = new ConversationFiles(dir);
      const { transcript, cache } = new ConversationFiles(savedDir).load('golden-1');
      files.save(transcript, cache);
      const shape = (path: string) => {
        const pointer = JSON.parse(readFileSync(path, 'utf8')) as { format: string; transcript: object; cache: { file: string; bytes: number; sha256: string } };
        return { format: pointer.format, keys: Object.keys(pointer), transcript: pointer.transcript, cache: { ...pointer.cache, file: pointer.cache.file.replace(/^cache\.\d+-[0-9a-z]+/, 'cache.N') } };
      };
      expect(shape(join(dir, 'golden-1', 'conversation.json'))).toEqual(shape(join(savedDir, 'golden-1', 'conversation.json')));
      expect(shape(join(dir, 'golden-1', 'conversation.json')).format).toBe(savedConversationFormat);
      // a transcript whose keys come in another order (a fork adds forkedFrom last) reads back
      const forked = { ...transcript, id: 'golden-2', forkedFrom: 'golden-1' };
      files.save(forked, cache);
      expect(files.readTranscript('golden-2')).toEqual(forked);
      // a previous saved folder, copied, reads the same after a save replaced it
      cpSync(join(savedDir, 'golden-1'), join(dir, 'copy', 'golden-1'), { recursive: true });
      expect(new ConversationFiles(join(dir, 'copy')).readTranscript('golden-1')).toEqual(transcript);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
