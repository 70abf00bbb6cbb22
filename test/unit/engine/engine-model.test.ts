// EngineModel, the engine's service API, on stories260K (no chat template: text continuation after
// BOS) with fp16, q8_0 and RVQ (a synthetic codebook set), and on a tiny random chat model.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCacheChoice } from '../../../main/engine/cache-runtime.js';
import { EngineModel } from '../../../main/engine/engine-model.js';
import type { ReplySummary, TokenEvent } from '../../../main/engine/engine-model.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { importModel } from '../../../main/library/import-model.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { createStoriesLibrary } from './engine-library.js';
import type { StoriesLibrary } from './engine-library.js';
import { tinyConfig } from './tiny-model.js';

const cpu = { providers: ['cpu' as const] };

async function drain(stream: AsyncGenerator<TokenEvent, ReplySummary>, onEvent?: (e: TokenEvent) => void): Promise<{ events: TokenEvent[]; summary: ReplySummary }> {
  const events: TokenEvent[] = [];
  for (;;) {
    const next = await stream.next();
    if (next.done) return { events, summary: next.value };
    events.push(next.value);
    onEvent?.(next.value);
  }
}

describe('parseCacheChoice', () => {
  it('reads formats and rvq:<set>, and names the choices on a bad one', () => {
    expect(parseCacheChoice('q4_0')).toEqual({ format: 'q4_0' });
    expect(parseCacheChoice('rvq:calib-1')).toEqual({ format: 'rvq', codebooks: 'calib-1' });
    expect(() => parseCacheChoice('q3')).toThrow(/unknown cache 'q3': expected one of fp16, q8_0, q4_0, kivi2, rvq/);
    expect(() => parseCacheChoice('fp16:x')).toThrow(/unknown cache/);
    expect(() => parseCacheChoice('rvq:')).toThrow(/unknown cache/);
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('EngineModel on stories260K', () => {
  let lib: StoriesLibrary;
  beforeAll(() => {
    lib = createStoriesLibrary();
  });
  afterAll(() => lib.cleanup());

  it('continues text after BOS with fp16 and q8_0, streaming timed tokens, same seed same text', async () => {
    for (const format of ['fp16', 'q8_0'] as const) {
      const model = await EngineModel.open({ model: 'stories', library: lib.library, cache: { format }, session: cpu });
      expect(model.info).toMatchObject({ id: 'stories', cache: format, provider: 'cpu', chat: false, contextLength: 512, maxDepth: null, codebookBytes: 0 });
      const a = model.createConversation();
      const b = model.createConversation({ id: 'second' });
      expect(model.ids()).toEqual([a, 'second']);
      const first = await drain(model.send(a, 'Once upon a time', { maxTokens: 20, temperature: 0.8, seed: 7 }));
      const second = await drain(model.send(b, 'Once upon a time', { maxTokens: 20, temperature: 0.8, seed: 7 }));
      expect(first.summary.text).toBe(second.summary.text);
      expect(first.summary.text.length).toBeGreaterThan(10);
      expect(first.events.map((e) => e.text).join('')).toBe(first.summary.text);
      expect(first.events.every((e) => e.conversationId === a && e.latencyMs >= 0)).toBe(true);
      const f = first.summary.figures;
      // BOS + prompt + 20 tokens; the last sampled token is not cached yet
      expect(f.tokens).toBe(f.cachedTokens + 1);
      expect(f.kv.fp16).toBe(f.cachedTokens * 5 * 2 * 32 * 2);
      expect(f.compressionRatio).toBeCloseTo(format === 'fp16' ? 1 : 16 / 8.5, 1);
      expect(f.lastReply?.decodeTokens).toBe(19);
      expect(f.residentBytes).toBeGreaterThan(0);
      await model.release();
    }
  });

  it('runs RVQ, and a depth change mid-reply applies from the next token and moves the byte figures', async () => {
    const model = await EngineModel.open({ model: 'stories', library: lib.library, cache: parseCacheChoice('rvq:synthetic'), session: cpu });
    expect(model.info).toMatchObject({ cache: 'rvq:synthetic', maxDepth: 4, codebookBytes: 5 * 2 * 4 * 16 * 32 * 4 });
    const id = model.createConversation();
    let changedAt = -1;
    let before = 0;
    const { summary } = await drain(model.send(id, 'Once upon a time', { maxTokens: 12 }), (e) => {
      if (e.index === 5) {
        before = model.figures(id).kv.codes;
        changedAt = model.figures(id).cachedTokens;
        model.setDepth(id, { depth: 1 });
      }
    });
    expect(changedAt).toBeGreaterThan(0);
    const f = summary.figures;
    expect(f.depths).toEqual({ key: [1, 1, 1, 1, 1], value: [1, 1, 1, 1, 1] });
    // one 32-channel group per token and kind at 4 bits a stage: depth 4 = 2 bytes, depth 1 = 1 byte (padded)
    expect(before).toBe(changedAt * 5 * 2 * 2);
    expect(f.kv.codes).toBe(f.cachedTokens * 5 * 2 * 1);
    expect(f.kv.scales).toBe(f.cachedTokens * 5 * 2 * 2);
    // held per row and token: 1 byte of codes, a 2-byte scale and the depth byte, against 64 fp16 bytes
    expect(f.bitsPerValue).toBe((8 * 4) / 32);
    expect(f.compressionRatio).toBeCloseTo(64 / 4, 5);
    expect(f.compressionWithCodebooks).toBeLessThan(1); // codebooks outweigh so short a cache
    // one layer's keys deeper again: its records widen to the deeper stride, and bits per value follow the held bytes
    const after = model.setDepth(id, { depth: 4, layer: 2, kind: 'key' });
    expect(after.depths?.key).toEqual([1, 1, 4, 1, 1]);
    expect(after.kv.held).toBeGreaterThan(f.kv.held);
    expect(after.bitsPerValue).toBe((16 * after.kv.held) / after.kv.fp16);
    await model.release();
  });

  it('cancels at a token and keeps what was generated', async () => {
    const model = await EngineModel.open({ model: 'stories', library: lib.library, session: cpu });
    const id = model.createConversation();
    const { events, summary } = await drain(model.send(id, 'Once upon a time', { maxTokens: 200 }), (e) => {
      if (e.index === 3) expect(model.cancel(id)).toBe(true);
    });
    expect(summary.stopReason).toBe('cancelled');
    expect(summary.tokens).toHaveLength(4);
    expect(events).toHaveLength(4);
    expect(model.cancel(id)).toBe(false);
    const controller = new AbortController();
    controller.abort();
    expect((await drain(model.send(id, ' Then', { maxTokens: 50 }, controller.signal))).summary.tokens).toHaveLength(0);
    await model.release();
  });

  it('saves conversations to a folder and a restarted model continues them identically', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'reskv-saved-'));
    try {
      for (const cache of [{ format: 'q8_0' as const }, { format: 'rvq' as const, codebooks: 'synthetic', depth: 3 }]) {
        const model = await EngineModel.open({ model: 'stories', library: lib.library, cache, session: cpu });
        const id = model.createConversation({ id: `saved-${cache.format}` });
        await drain(model.send(id, 'Once upon a time', { maxTokens: 10 }));
        const file = model.save(id, join(folder, cache.format));
        const expected = (await drain(model.send(id, ' The end.', { maxTokens: 15 }))).summary;
        await model.release();

        const restarted = await EngineModel.open({ model: 'stories', library: lib.library, cache, session: cpu });
        expect(restarted.restoreAll(join(folder, cache.format))).toEqual([id]);
        const cached = restarted.figures(id).cachedTokens;
        const again = (await drain(restarted.send(id, ' The end.', { maxTokens: 15 }))).summary;
        expect(again.text).toBe(expected.text);
        expect(again.timing.prefillTokens).toBe(expected.timing.prefillTokens); // nothing recomputed
        expect({ ...again.figures.kv, allocated: 0 }).toEqual({ ...expected.figures.kv, allocated: 0 }); // capacity differs: restored buffers are exact
        expect(cached).toBeGreaterThan(10);
        expect(() => restarted.restore(file)).toThrow(/already open/);
        await restarted.release();
      }
      const fp16 = await EngineModel.open({ model: 'stories', library: lib.library, session: cpu });
      expect(() => fp16.restore(join(folder, 'q8_0', 'saved-q8_0.reskv-conversation'))).toThrow(/saved-q8_0.reskv-conversation: .*fp16 cache/);
      await fp16.release();
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('continues a copied conversation under another cache: the next reply prefills the whole history, also after a save', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'reskv-copied-'));
    const fp16 = await EngineModel.open({ model: 'stories', library: lib.library, session: cpu });
    const rvq = await EngineModel.open({ model: 'stories', library: lib.library, cache: parseCacheChoice('rvq:synthetic'), session: cpu });
    try {
      const id = fp16.createConversation();
      const first = (await drain(fp16.send(id, 'Once upon a time', { maxTokens: 10, temperature: 0 }))).summary;
      const copy = fp16.copyConversation(id);
      expect(copy.messages).toBeNull();
      expect([...copy.preamble, ...copy.turns.flat()]).toHaveLength(first.figures.tokens);
      rvq.continueConversation('twin', copy);
      expect(rvq.figures('twin')).toMatchObject({ tokens: first.figures.tokens, cachedTokens: 0 });
      rvq.save('twin', folder);
      rvq.close('twin');
      expect(rvq.restoreAll(folder)).toEqual(['twin']);
      const original = (await drain(fp16.send(id, ' The end.', { maxTokens: 5, temperature: 0 }))).summary;
      const twin = (await drain(rvq.send('twin', ' The end.', { maxTokens: 5, temperature: 0 }))).summary;
      // the original feeds its last sampled token and the prompt; the twin every earlier token too
      expect(twin.timing.prefillTokens).toBe(original.timing.prefillTokens + first.figures.cachedTokens);
      expect(twin.figures.tokens).toBe(original.figures.tokens);
      expect(twin.figures.kv.held).toBeLessThan(original.figures.kv.held);
      expect(fp16.figures(id).tokens).toBe(original.figures.tokens); // the copy is independent
      expect(() => rvq.continueConversation('twin', copy)).toThrow(/already open/);
      expect(() => rvq.continueConversation('../x', copy)).toThrow(/id: may hold only/);
      expect(() => rvq.continueConversation('odd', { ...copy, turns: [[9999]] })).toThrow(/token 9999, outside model stories's vocabulary of 512/);
      expect(() => rvq.continueConversation('chat', { ...copy, messages: [] })).toThrow(/is a chat, but model stories continues text/);
    } finally {
      await fp16.release();
      await rvq.release();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('rejects bad inputs with messages that name the problem', async () => {
    await expect(EngineModel.open({ model: 'nope', library: lib.library })).rejects.toThrow(/no model 'nope' in the library/);
    await expect(EngineModel.open({ model: 'stories', library: lib.library, cache: { format: 'rvq', codebooks: 'other' } })).rejects.toThrow(/no codebook set "other" \(installed: synthetic\)/);
    await expect(EngineModel.open({ model: 'stories', library: lib.library, cache: { format: 'rvq', depth: 9 } })).rejects.toThrow(/depth must be a whole number from 1 to 4/);
    await expect(EngineModel.open({ model: 'stories', library: lib.library, cache: { format: 'q8_0', depth: 2 } })).rejects.toThrow(/apply to the rvq cache only/);
    await expect(EngineModel.open({ model: 'stories', library: lib.library, cache: { format: 'q5' } as never })).rejects.toThrow(/Invalid cache choice: format: /);
    await expect(EngineModel.open({ model: 'stories', library: lib.library, cache: { format: 'rvq', depth: 2.5 } })).rejects.toThrow(/Invalid cache choice: depth: must be an integer/);
    const model = await EngineModel.open({ model: 'stories', library: lib.library, cache: { format: 'rvq' }, session: cpu });
    const id = model.createConversation();
    expect(() => model.setDepth(id, { depth: 1000 })).toThrow(/depth must be a whole number from 1 to 4 .*, got 1000/);
    expect(() => model.setDepth(id, { depth: 2, layer: 7 })).toThrow(/layer must be 0..4/);
    expect(() => model.figures('missing')).toThrow(/no open conversation 'missing'/);
    expect(() => model.createConversation({ id: '../x' })).toThrow(/id: may hold only/);
    expect(() => model.createConversation({ system: 'be nice' })).toThrow(/no chat template/);
    // an empty prompt on a fresh conversation samples from BOS alone (unconditional, as llama2.c does)
    const fromBos = await drain(model.send(id, '', { maxTokens: 3, seed: 2 }));
    expect(fromBos.summary.tokens).toHaveLength(3);
    expect(fromBos.summary.figures.tokens).toBe(1 + 3);
    model.reset(id);
    await expect(drain(model.send(id, 'Hi', { maxTokens: 0 }))).rejects.toThrow(/maxTokens: must be at least 1/);
    await expect(drain(model.send(id, 'Hi', { temperature: -1 }))).rejects.toThrow(/temperature: must be at least 0/);
    await model.release();
    const fp16 = await EngineModel.open({ model: lib.folder, session: cpu });
    expect(() => fp16.setDepth(fp16.createConversation(), { depth: 2 })).toThrow(/fp16 cache has no residual depth/);
    await fp16.release();
  });
});

describe('EngineModel on a chat model', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'reskv-engine-chat-'));
    const config = { ...tinyConfig, vocabSize: 400, maxPositions: 256 };
    writeHfFolder(join(dir, 'hf'), config, new RandomWeights(config, 5));
    importModel(join(dir, 'hf'), { library: join(dir, 'library'), id: 'tiny-chat' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('talks through the chat template, keeps the system message over a reset, and saves the messages', async () => {
    const model = await EngineModel.open({ model: 'tiny-chat', library: join(dir, 'library'), session: cpu });
    expect(model.info.chat).toBe(true);
    const id = model.createConversation({ system: 'You are terse.' });
    const first = (await drain(model.send(id, 'hello', { maxTokens: 5 }))).summary;
    const second = (await drain(model.send(id, 'again', { maxTokens: 5 }))).summary;
    expect(second.timing.prefillTokens).toBeLessThan(second.figures.tokens - first.figures.tokens + 2); // only the new turn is fed
    model.save(id, dir);
    model.reset(id);
    expect(model.figures(id).tokens).toBe(0);
    model.close(id);
    expect(model.restore(join(dir, `${id}.reskv-conversation`))).toBe(id);
    expect(model.figures(id).tokens).toBe(second.figures.tokens);
    await model.release();
  });

  it('continues a copied chat under another cache with its messages', async () => {
    const fp16 = await EngineModel.open({ model: 'tiny-chat', library: join(dir, 'library'), session: cpu });
    const q8 = await EngineModel.open({ model: 'tiny-chat', library: join(dir, 'library'), cache: { format: 'q8_0' }, session: cpu });
    const id = fp16.createConversation({ system: 'You are terse.' });
    await drain(fp16.send(id, 'hello', { maxTokens: 5 }));
    const copy = fp16.copyConversation(id);
    expect(copy.messages?.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    q8.continueConversation('twin', copy);
    const before = q8.figures('twin').tokens;
    const reply = (await drain(q8.send('twin', 'again', { maxTokens: 5 }))).summary;
    expect(reply.figures.tokens).toBeGreaterThan(before);
    expect(reply.timing.prefillTokens).toBeGreaterThanOrEqual(before); // its cache was empty: the whole history is fed
    await fp16.release();
    await q8.release();
  });
});
