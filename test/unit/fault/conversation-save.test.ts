// Issue 17 findings 4 and 8 (transcripts): a conversation's transcript and cache are saved as one
// step (a full disk leaves the previous pair), a damaged transcript is listed with its reason instead
// of hiding the conversation, and the previous layout (transcript.json + <id>.reskv-conversation)
// still resumes and moves to the new one on its next save.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChatSession, SamplingOptions } from '../../../main/api/types.js';
import { fileWrites } from '../../../main/atomic-file.js';
import { EngineHost } from '../../../main/backend/engine-host.js';
import { createTinyLibrary } from '../calibration/tiny-library.js';
import type { TinyLibrary } from '../calibration/tiny-library.js';

const greedy: SamplingOptions = { maxTokens: 5, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: null, stop: [] };

describe('saved conversations', () => {
  let lib: TinyLibrary;
  let host: EngineHost;
  const savedLibrary = process.env.RESKV_LIBRARY;

  beforeAll(() => {
    lib = createTinyLibrary();
    process.env.RESKV_LIBRARY = lib.library;
    host = new EngineHost(lib.dir, () => {});
  });
  afterAll(async () => {
    await host.close();
    if (savedLibrary === undefined) delete process.env.RESKV_LIBRARY;
    else process.env.RESKV_LIBRARY = savedLibrary;
    lib.cleanup();
  });

  const conversations = () => join(lib.dir, 'conversations');

  it('a full disk during a save leaves the previous transcript with its own cache, and the error names the file', async () => {
    const started = await host.chat.start('tiny', 'fp16', null);
    const first = await host.chat.send(started.id, 'the cat', greedy);
    const spy = vi.spyOn(fileWrites, 'write').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    try {
      await expect(host.chat.send(started.id, 'the dog', greedy)).rejects.toThrow(/cannot write .*conversations\/chat-.*: ENOSPC/);
    } finally {
      spy.mockRestore();
    }
    // a restarted backend sees the conversation as it was saved: 2 messages over the cache of those 2
    const restarted = new EngineHost(lib.dir, () => {});
    try {
      const resumed = await restarted.chat.resume(started.id);
      expect(resumed.messages).toEqual(first.messages);
      expect(resumed.open!.figures.cachedTokens).toBe(first.open!.figures.cachedTokens);
      const next = await restarted.chat.send(started.id, 'the dog', greedy);
      expect(next.messages).toHaveLength(4);
    } finally {
      await restarted.close();
    }
    // one pointer and the one cache file it names
    expect(readdirSync(join(conversations(), started.id)).sort()).toEqual([expect.stringMatching(/^cache\.\d+-[0-9a-z]+\.reskv$/), 'conversation.json']);
  });

  it('a damaged transcript is listed with the reason, not hidden', async () => {
    const started = await host.chat.start('tiny', 'fp16', null);
    await host.chat.send(started.id, 'the cat', greedy);
    writeFileSync(join(conversations(), started.id, 'conversation.json'), '{"format": "reskv-saved-conversation/2", "transcr');
    const listed = host.chat.list().find((s: ChatSession) => s.id === started.id);
    expect(listed?.problem).toMatch(new RegExp(`conversation '${started.id}' cannot be read \\(.*conversation\\.json: .*JSON`));
    expect(listed?.messages).toEqual([]);
    // the others are listed as before
    expect(host.chat.list().filter((s) => !s.problem).length).toBeGreaterThan(0);
  });

  it('a damaged cache file is refused by its sha256, naming it', async () => {
    const started = await host.chat.start('tiny', 'fp16', null);
    await host.chat.send(started.id, 'the cat', greedy);
    await host.chat.remove(started.id).catch(() => []); // closes it
    const again = await host.chat.start('tiny', 'fp16', null);
    await host.chat.send(again.id, 'a big red ball', greedy);
    const folder = join(conversations(), again.id);
    const cacheFile = readdirSync(folder).find((f) => f.startsWith('cache.'))!;
    const bytes = readFileSync(join(folder, cacheFile));
    bytes[bytes.length - 3] ^= 0x40;
    writeFileSync(join(folder, cacheFile), bytes);
    const restarted = new EngineHost(lib.dir, () => {});
    try {
      await expect(restarted.chat.resume(again.id)).rejects.toThrow(new RegExp(`${cacheFile.replace(/\./g, '\\.')}: .*sha256 differs`));
    } finally {
      await restarted.close();
    }
  });

  it('resumes a conversation saved in the previous layout and moves it to the new one on its next save', async () => {
    const started = await host.chat.start('tiny', 'fp16', null);
    const first = await host.chat.send(started.id, 'the cat', greedy);
    const folder = join(conversations(), started.id);
    // the previous layout: transcript.json beside <id>.reskv-conversation (the same snapshot bytes)
    const pointer = JSON.parse(readFileSync(join(folder, 'conversation.json'), 'utf8')) as { transcript: unknown; cache: { file: string } };
    renameSync(join(folder, pointer.cache.file), join(folder, `${started.id}.reskv-conversation`));
    writeFileSync(join(folder, 'transcript.json'), JSON.stringify(pointer.transcript));
    rmSync(join(folder, 'conversation.json'));
    const restarted = new EngineHost(lib.dir, () => {});
    try {
      const resumed = await restarted.chat.resume(started.id);
      expect(resumed.messages).toEqual(first.messages);
      expect(resumed.open!.figures.cachedTokens).toBe(first.open!.figures.cachedTokens);
      await restarted.chat.send(started.id, 'the dog', greedy);
      expect(existsSync(join(folder, 'transcript.json'))).toBe(false);
      expect(existsSync(join(folder, `${started.id}.reskv-conversation`))).toBe(false);
      expect(existsSync(join(folder, 'conversation.json'))).toBe(true);
    } finally {
      await restarted.close();
    }
  });
});
