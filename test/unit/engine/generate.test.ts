// The generation loop over SumDecoder, a deterministic test double for the loop only (see loop-doubles.ts).
import { describe, expect, it } from 'vitest';
import { ContextOverflowError, generate, parseGenerationOptions } from '../../../main/engine/generate.js';
import type { GenerationEvent, GenerationRequest } from '../../../main/engine/generate.js';
import type { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import { SumDecoder, charTokenizer } from './loop-doubles.js';

function request(decoder: SumDecoder, extra: Partial<GenerationRequest<Fp16KvStore>> = {}): GenerationRequest<Fp16KvStore> {
  return { decoder, store: SumDecoder.store(), tokenizer: charTokenizer([0]), input: [1, 2], ...extra };
}

describe('generate', () => {
  it('prefills, then decodes greedily through the store (hand-computed: 4, 1, 3, 7)', async () => {
    const decoder = new SumDecoder();
    const events: GenerationEvent[] = [];
    const result = await generate(request(decoder, { options: { maxTokens: 4 } }), (e) => events.push(e));
    // prompt [1,2]: sum 3 + position 1 -> 4; then sum 7 + 2 -> 1; sum 8 + 3 -> 3; sum 11 + 4 -> 7
    expect(result.tokens).toEqual([4, 1, 3, 7]);
    expect(result.text).toBe('dacg');
    expect(result.stopReason).toBe('max-tokens');
    expect(decoder.calls).toEqual([[1, 2], [4], [1], [3]]);
    expect(events.map((e) => [e.tokenId, e.text])).toEqual([[4, 'd'], [1, 'a'], [3, 'c'], [7, 'g']]);
    const { timing } = result;
    expect(timing.prefillTokens).toBe(2);
    expect(timing.decodeTokens).toBe(3);
    expect(timing.latencyP95Ms).toBeGreaterThanOrEqual(timing.latencyP50Ms);
    expect(timing.decodeMs).toBeGreaterThanOrEqual(0);
    // 5 tokens cached (the last sampled one is not fed), 1 layer x K and V x 1 value x 2 bytes
    expect(result.cache).toMatchObject({ tokens: 5, uncoded: 5 * 2 * 2, fp16: 5 * 2 * 2 });
    expect(result.residentBytes).toBeGreaterThan(0);
  });

  it('stops on an end-of-sequence id, which is returned but not shown', async () => {
    const result = await generate(request(new SumDecoder(), { tokenizer: charTokenizer([3]) }));
    expect(result).toMatchObject({ tokens: [4, 1, 3], text: 'da', stopReason: 'eos' });
  });

  it('catches a stop string spanning two tokens and does not emit it', async () => {
    const events: GenerationEvent[] = [];
    const result = await generate(request(new SumDecoder(), { options: { stop: ['ac'] } }), (e) => events.push(e));
    expect(result).toMatchObject({ tokens: [4, 1, 3], text: 'd', stopReason: 'stop-string' });
    expect(events.map((e) => e.text)).toEqual(['d', '', '']); // 'a' held back until 'c' decided it
  });

  it('releases held-back text when the stop string never completes', async () => {
    const events: GenerationEvent[] = [];
    const result = await generate(request(new SumDecoder(), { options: { stop: ['gx'], maxTokens: 4 } }), (e) => events.push(e));
    expect(result.text).toBe('dacg');
    expect(events.at(-1)).toMatchObject({ tokenId: null, text: 'g', index: 4 });
  });

  it('is reproducible for a seed when sampling', async () => {
    const run = async (seed: number) => (await generate(request(new SumDecoder(), { options: { temperature: 1.5, seed, maxTokens: 30 } }))).tokens;
    expect(await run(9)).toEqual(await run(9));
    expect(await run(9)).not.toEqual(await run(10));
  });

  it('cancels at any token: before the start, during prefill, and after a streamed token', async () => {
    const before = new AbortController();
    before.abort();
    const idle = new SumDecoder();
    expect(await generate(request(idle, { signal: before.signal }))).toMatchObject({ tokens: [], stopReason: 'cancelled' });
    expect(idle.calls).toEqual([]);

    const duringPrefill = new AbortController();
    const chunked = new SumDecoder();
    chunked.beforeStep = (call) => call === 1 && duringPrefill.abort();
    const store = SumDecoder.store();
    const r1 = await generate(request(chunked, { store, input: [1, 2, 3, 4, 5, 6, 7], options: { prefillChunk: 3 }, signal: duringPrefill.signal }));
    expect(r1).toMatchObject({ tokens: [], stopReason: 'cancelled' });
    expect(chunked.calls).toEqual([[1, 2, 3]]);
    expect(store.length).toBe(3);

    const afterToken = new AbortController();
    const decoder = new SumDecoder();
    const r2 = await generate(request(decoder, { signal: afterToken.signal }), (e) => e.index === 1 && afterToken.abort());
    expect(r2).toMatchObject({ tokens: [4, 1], text: 'da', stopReason: 'cancelled' });
    expect(decoder.calls.length).toBe(2);
  });

  it('lets events in between tokens: a cancel from an event lands at the next token, though the step never waits', async () => {
    // SumDecoder's step finishes without waiting, as the kernel layers' does; the abort comes as an
    // event scheduled at the first token, as a message from the backend's client would
    const controller = new AbortController();
    const decoder = new SumDecoder(1000);
    const result = await generate(request(decoder, { options: { maxTokens: 500 }, signal: controller.signal }), (e) => e.index === 0 && setImmediate(() => controller.abort()));
    expect(result).toMatchObject({ tokens: [4], stopReason: 'cancelled' });
    expect(decoder.calls).toEqual([[1, 2]]);
  });

  it('rejects a prompt longer than the context and stops when the context is full', async () => {
    await expect(generate(request(new SumDecoder(6), { input: [1, 2, 3, 4, 5, 6, 7] }))).rejects.toThrow(ContextOverflowError);
    await expect(generate(request(new SumDecoder(6), { input: [1, 2, 3, 4, 5, 6, 7] }))).rejects.toThrow(/needs 7 positions but the model's context holds 6/);
    const store = SumDecoder.store();
    const result = await generate(request(new SumDecoder(6), { store }));
    expect(result.stopReason).toBe('context-full');
    expect(store.length).toBe(6);
    expect(result.tokens.length).toBe(5); // the last one sampled from position 5's logits
  });

  it('rolls the store back when a step fails half way, and reports the failure', async () => {
    const decoder = new SumDecoder();
    decoder.beforeStep = (call, store) => {
      if (call === 1 && store.length === 2) throw new Error('graph failed'); // after 2 of the 3 prompt tokens
    };
    const store = SumDecoder.store();
    await expect(generate(request(decoder, { store, input: [1, 2, 3] }))).rejects.toThrow('graph failed');
    expect(store.length).toBe(0);
  });

  it('rejects bad options and bad input, naming the problem', async () => {
    expect(() => parseGenerationOptions({ maxTokens: 0 })).toThrow(/maxTokens: must be at least 1/);
    expect(() => parseGenerationOptions({ stop: [''] })).toThrow(/stop\.0: must not be empty/);
    expect(() => parseGenerationOptions({ prefillChunk: 1.5 })).toThrow(/prefillChunk: must be an integer/);
    await expect(generate(request(new SumDecoder(), { options: { topP: 2 } }))).rejects.toThrow(/topP: must be at most 1/);
    await expect(generate(request(new SumDecoder(), { input: [] }))).rejects.toThrow(/at least one input token/);
    await expect(generate(request(new SumDecoder(), { input: [1, 99] }))).rejects.toThrow(/token 99 is outside the vocabulary/);
  });
});
