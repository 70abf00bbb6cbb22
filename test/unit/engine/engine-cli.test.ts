// reskv generate, chat, eval and bench in-process on stories260K (synthetic RVQ codebooks): output as a
// user sees it, --json, and bad arguments as usage errors naming the option.
import { Readable, Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { benchCommand } from '../../../main/cli/bench.js';
import { chatCommand, chatLoop } from '../../../main/cli/chat.js';
import { CliUsageError } from '../../../main/cli/command.js';
import { commands } from '../../../main/cli/commands.js';
import { evalCommand } from '../../../main/cli/eval.js';
import { generateCommand } from '../../../main/cli/generate.js';
import { EngineModel } from '../../../main/engine/engine-model.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { createStoriesLibrary } from './engine-library.js';
import type { StoriesLibrary } from './engine-library.js';

function captured(): { out: () => string; stdout: () => string } {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return { out: () => log.mock.calls.map((c) => c.join(' ')).join('\n'), stdout: () => write.mock.calls.map((c) => String(c[0])).join('') };
}

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('engine commands', () => {
  let lib: StoriesLibrary;
  beforeAll(() => {
    lib = createStoriesLibrary();
  });
  afterAll(() => lib.cleanup());
  afterEach(() => vi.restoreAllMocks());

  it('are registered', () => {
    for (const c of [generateCommand, chatCommand, evalCommand, benchCommand]) expect(commands).toContain(c);
  });

  it('generate prints only the generated text, the same for the same seed; --json adds the figures', async () => {
    const args = ['--model', 'stories', '--library', lib.library, '--prompt', 'Once upon a time', '--max-tokens', '12', '--temperature', '0.9', '--seed', '5'];
    const a = captured();
    expect(await generateCommand.run(args)).toBe(0);
    const text = a.stdout();
    expect(text.trim().length).toBeGreaterThan(5);
    expect(text).not.toContain('Once upon a time');
    vi.restoreAllMocks();
    const b = captured();
    expect(await generateCommand.run([...args, '--cache', 'rvq:synthetic', '--depth', '2', '--json'])).toBe(0);
    const result = JSON.parse(b.out());
    expect(result).toMatchObject({ model: { cache: 'rvq:synthetic', provider: 'cpu' }, seed: 5, figures: { depths: { key: [2, 2, 2, 2, 2] } } });
    expect(result.tokens.length).toBeGreaterThan(0);
    vi.restoreAllMocks();
    // an empty prompt samples from BOS alone, as llama2.c does
    const c = captured();
    expect(await generateCommand.run(['--model', 'stories', '--library', lib.library, '--prompt', '', '--max-tokens', '6', '--seed', '3', '--json'])).toBe(0);
    expect(JSON.parse(c.out())).toMatchObject({ tokens: expect.any(Array), figures: { tokens: 1 + 6 } });
    vi.restoreAllMocks();
  });

  it('chat answers lines and runs /depth, /stats, /reset', async () => {
    const model = await EngineModel.open({ model: 'stories', library: lib.library, cache: { format: 'rvq' }, session: { providers: ['cpu'] } });
    let out = '';
    const output = new Writable({ write: (chunk, _enc, done) => ((out += String(chunk)), done()) });
    await chatLoop(model, model.createConversation(), Readable.from(['Once upon a time\n', '/depth 1\n', '/stats\n', '/depth 9\n', '/reset\n', '/stats\n', '/quit\n']), output, { maxTokens: 6 });
    await model.release();
    expect(out).toContain('stories with the rvq:synthetic cache on cpu (no chat template: text continuation)');
    expect(out).toMatch(/depth 1: [\d.]+ MiB held, 1\.000 bits\/value/); // 0.75 of codes and scale + the depth byte per 32 values
    expect(out).toContain('depths: keys [1 1 1 1 1], values [1 1 1 1 1]');
    expect(out).toContain('error: depth must be a whole number from 1 to 4');
    expect(out).toContain('conversation reset');
    expect(out).toMatch(/last reply: prefill [\d.]+ tok\/s, decode [\d.]+ tok\/s/);
  });

  it('eval prints a table of every format and JSON with measured bytes', async () => {
    const io = captured();
    expect(await evalCommand.run(['--model', 'stories', '--library', lib.library, '--text', fixtures.validSample, '--max-tokens', '80', '--depths', '4,1', '--json'])).toBe(0);
    const { results, tokens } = JSON.parse(io.out());
    expect(tokens).toBe(80);
    expect(results.map((r: { name: string }) => r.name)).toEqual(['fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq:synthetic d4', 'rvq:synthetic/keys d4', 'rvq:synthetic/values d4', 'rvq:synthetic d1', 'rvq:synthetic/keys d1', 'rvq:synthetic/values d1']);
    expect(results[0]).toMatchObject({ meanKl: 0, top1Agreement: 1, bitsPerValue: 16, perplexityChangePercent: 0, quantizes: 'none' });
    expect(results[4]).toMatchObject({ bitsPerValue: 1.25, codebookBytes: 5 * 2 * 4 * 16 * 32 * 4, quantizes: 'keys and values' });
    expect(results[5]).toMatchObject({ cache: 'rvq:synthetic/keys', quantizes: 'keys only', bitsPerValue: 8.5, codebookBytes: 5 * 4 * 16 * 32 * 4 });
    expect(results[6].bytes).toMatchObject({ codes: 80 * 5 * 2, scales: 80 * 5 * 2, uncoded: 80 * 5 * 32 * 2 });
    expect(results[7].bytes.codes).toBe(80 * 10);
    vi.restoreAllMocks();
    const table = captured();
    expect(await evalCommand.run(['--model', 'stories', '--library', lib.library, '--text', fixtures.validSample, '--documents', '3:4', '--max-tokens', '100', '--formats', 'q8_0,rvq/values', '--depths', '2'])).toBe(0);
    expect(table.out()).toMatch(/1 documents.*\nformat +bits\/value +perplexity/);
    expect(table.out()).toMatch(/\nq8_0 +8\.500 /);
    expect(table.out()).toMatch(/\nrvq\/values d2 +8\.375 /);
    expect(table.out()).toContain('/values: RVQ on the values only (keys fp16)');
  });

  it('bench measures decode at each context per cache', async () => {
    const io = captured();
    expect(await benchCommand.run(['--model', 'stories', '--library', lib.library, '--contexts', '16,64', '--steps', '4', '--caches', 'fp16,rvq', '--depths', '4,2', '--json'])).toBe(0);
    const { results } = JSON.parse(io.out());
    expect(results.map((r: { label: string; context: number }) => `${r.label}@${r.context}`)).toEqual(['fp16@16', 'rvq:synthetic d4@16', 'rvq:synthetic d2@16', 'fp16@64', 'rvq:synthetic d4@64', 'rvq:synthetic d2@64']);
    expect(results[4].bytes.codes).toBe(69 * 10 * 2); // 64 + 1 + 4 tokens, 2 bytes a token at depth 4
    expect(results[0].decodeTokensPerSecond).toBeGreaterThan(0);
    // speed against fp16 at the same context: fp16's median per-token latency over the format's
    expect(results[0].speedVsFp16).toBeUndefined();
    expect(results[4].speedVsFp16).toBeCloseTo(results[3].latencyP50Ms / results[4].latencyP50Ms, 10);
  });

  it.each([
    [generateCommand, ['--prompt', 'x'], /--model is required/],
    [generateCommand, ['--model', 'stories'], /--prompt is required/],
    [generateCommand, ['--model', 'stories', '--prompt', 'x', '--cache', 'q3'], /--cache: unknown cache 'q3'/],
    [generateCommand, ['--model', 'stories', '--prompt', 'x', '--depth', '3'], /--depth and --window apply to --cache rvq only/],
    [generateCommand, ['--model', 'stories', '--prompt', 'x', '--cache', 'rvq', '--depth', '99'], /depth must be a whole number from 1 to 4/],
    [generateCommand, ['--model', 'stories', '--prompt', 'x', '--max-tokens', 'many'], /--max-tokens must be a whole number, got 'many'/],
    [generateCommand, ['--model', 'stories', '--prompt', 'x', '--max-tokens', '0'], /maxTokens: must be at least 1/],
    [generateCommand, ['--model', 'stories', '--prompt', 'x', '--providers', 'tpu'], /unknown provider 'tpu'/],
    [generateCommand, ['--model', 'no-such', '--prompt', 'x'], /'no-such' is neither a model/],
    [chatCommand, ['--model', 'stories', '--json'], /chat is interactive/],
    [evalCommand, ['--model', 'stories'], /--text is required/],
    [evalCommand, ['--model', 'stories', '--text', fixtures.validSample, '--documents', '5:2'], /--documents must be A:B/],
    [evalCommand, ['--model', 'stories', '--text', fixtures.validSample, '--formats', 'fp8'], /--formats: unknown cache 'fp8'/],
    [evalCommand, ['--model', 'stories', '--text', fixtures.validSample, '--formats', 'rvq/kv'], /--formats: unknown cache 'rvq\/kv': after '\/' comes keys or values/],
    [evalCommand, ['--model', 'stories', '--text', fixtures.validSample, '--formats', 'q4_0', '--no-one-kind'], /--no-one-kind shapes the default formats/],
    [benchCommand, ['--model', 'stories', '--contexts', '4096'], /--contexts: 4096 is outside 1\.\.495/],
    [benchCommand, ['--model', 'stories', '--steps', '1'], /--steps must be at least 2/],
  ] as const)('%o rejects %j as a usage error', async (command, args, message) => {
    const run = command.run([...args, '--library', lib.library]);
    await expect(run).rejects.toThrow(CliUsageError);
    await expect(run).rejects.toThrow(message);
  });

  it('--help prints usage for each', async () => {
    for (const c of [generateCommand, chatCommand, evalCommand, benchCommand]) {
      const io = captured();
      expect(await c.run(['--help'])).toBe(0);
      expect(io.out()).toMatch(new RegExp(`^usage: reskv ${c.name} `));
      vi.restoreAllMocks();
    }
  });
});
