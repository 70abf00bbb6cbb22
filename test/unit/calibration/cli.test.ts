// reskv calibrate as a user runs it: a checkpoint imported on the way, results as text or JSON,
// progress on stderr, and bad arguments rejected as usage errors naming the option.
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { calibrateCommand } from '../../../main/cli/calibrate.js';
import { CliUsageError } from '../../../main/cli/command.js';
import { commands } from '../../../main/cli/commands.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { readManifest } from '../../../main/model/manifest.js';
import { createTinyLibrary, tinyConfig } from './tiny-library.js';
import type { TinyLibrary } from './tiny-library.js';

function captured(): { out: () => string; err: () => string } {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return { out: () => log.mock.calls.map((c) => c.join(' ')).join('\n'), err: () => err.mock.calls.map((c) => String(c[0])).join('') };
}

const small = ['--depth', '2', '--codebook-size', '16', '--max-vectors', '200', '--kmeans-iterations', '2'];

describe('reskv calibrate', () => {
  let lib: TinyLibrary;
  beforeAll(() => {
    lib = createTinyLibrary();
  });
  afterAll(() => lib.cleanup());
  afterEach(() => vi.restoreAllMocks());

  it('is registered', () => {
    expect(commands).toContain(calibrateCommand);
  });

  it('calibrates a library model on a text file, printing a summary and progress on stderr', async () => {
    const io = captured();
    expect(await calibrateCommand.run(['--model', 'tiny', '--library', lib.library, '--text', lib.textFile, ...small, '--group-size', '16', '--name', 'cli'])).toBe(0);
    expect(io.out()).toContain('calibrated tiny codebook set "cli" from text: stories.txt (12 documents)');
    // groups of 16 do not fit the 8-channel heads: they span the token's two KV heads, one scale per token
    expect(io.out()).toContain('keys:   C 16, depth 2, groups of 16 (strided, token span), fp16 scale per token: 1.5 bits/value');
    expect(io.err()).toMatch(/capturing K\/V: .*training .*layer 0 keys, stage 1.*saving codebooks and installing the rvq graph/s);
    expect(readManifest(lib.folder).rvq.cli).toBeDefined();
  });

  it('imports a checkpoint given as --model, then calibrates data-free and prints JSON', async () => {
    const checkpoint = join(lib.dir, 'other-hf');
    writeHfFolder(checkpoint, tinyConfig, new RandomWeights(tinyConfig, 8));
    const io = captured();
    expect(await calibrateCommand.run(['--model', checkpoint, '--library', lib.library, '--self-generated-tokens', '300', ...small, '--group-size', '8', '--json'])).toBe(0);
    const result = JSON.parse(io.out());
    expect(result).toMatchObject({ name: 'default', record: { model: 'other-hf', source: { kind: 'self-generated', temperature: 1, tokens: 300 } }, bitsPerValue: { key: 3, value: 3 } });
    expect(io.err()).toContain('importing');
    expect(io.err()).toContain('sampling calibration text');
    // a second run finds the imported model instead of importing again
    vi.restoreAllMocks();
    const again = captured();
    expect(await calibrateCommand.run(['--model', checkpoint, '--library', lib.library, '--self-generated-tokens', '300', ...small, '--group-size', '8', '--name', 'again'])).toBe(0);
    expect(again.err()).not.toContain('importing');
  });

  it.each([
    [[], /--model is required/],
    [['--model', 'tiny', '--depth', 'x'], /--depth must be a whole number, got 'x'/],
    [['--model', 'tiny', '--depth', '0'], /--depth: must be at least 1/],
    [['--model', 'tiny', '--codebook-size', '1000'], /codebookSize: must be a power of two/],
    [['--model', 'tiny', '--group-size', '5'], /groupSize: 5 must divide/],
    [['--model', 'tiny', '--key-grouping', 'diagonal'], /--key-grouping: /],
    [['--model', 'tiny', '--scale', 'channel'], /--scale: /],
    [['--model', 'tiny', '--seed=-1'], /--seed: must be at least 0/],
    [['--model', 'tiny', '--name', '../x'], /--name: may hold only/],
    [['--model', 'tiny', '--text', 'a.txt', '--self-generated-tokens', '10'], /either --text files or --self-generated-tokens/],
    [['--model', 'tiny', '--text', '/no/such/file.txt'], /--text: \/no\/such\/file.txt is not a file/],
    [['--model', 'tiny', '--self-generated-tokens', '0'], /--self-generated-tokens must be at least 1/],
    [['--model', 'no-such-model'], /'no-such-model' is neither a model in .* nor an existing path/],
    [['--model', 'tiny', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['--model', 'tiny', 'extra'], /unexpected argument 'extra'/],
  ])('rejects %j as a usage error', async (args, message) => {
    const run = calibrateCommand.run([...args, '--library', lib.library]);
    await expect(run).rejects.toThrow(CliUsageError);
    await expect(run).rejects.toThrow(message);
  });
});
