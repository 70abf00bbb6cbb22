// reskv tasks in-process on stories260K (synthetic RVQ codebooks) with items of the shipped example
// sets: the accuracy table, changed items and drift as printed, --json, and bad input as usage errors.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CliUsageError } from '../../../main/cli/command.js';
import { commands } from '../../../main/cli/commands.js';
import { accuracyTable, driftTable, tasksCommand } from '../../../main/cli/tasks.js';
import { parseTaskFile } from '../../../main/engine/tasks/task-file.js';
import { repoRoot } from '../../support/paths.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { createStoriesLibrary } from './engine-library.js';
import type { StoriesLibrary } from './engine-library.js';

const example = (name: string) => readFileSync(join(repoRoot, 'assets', 'tasks', name), 'utf8');

describe('shipped task examples', () => {
  it('parse: a multiple-choice cloze set and a generation set', () => {
    const cloze = parseTaskFile(example('tinystories-cloze.jsonl'), 'tinystories-cloze.jsonl');
    const generation = parseTaskFile(example('tinystories-generation.jsonl'), 'tinystories-generation.jsonl');
    expect(cloze.length).toBeGreaterThanOrEqual(20);
    expect(cloze.every((i) => i.kind === 'choice')).toBe(true);
    expect(generation.length).toBeGreaterThanOrEqual(10);
    expect(generation.every((i) => i.kind === 'generation')).toBe(true);
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('reskv tasks', () => {
  let lib: StoriesLibrary;
  let dir: string;
  let file: string;
  beforeAll(() => {
    lib = createStoriesLibrary();
    dir = mkdtempSync(join(tmpdir(), 'reskv-tasks-cli-'));
    file = join(dir, 'tasks.jsonl');
    writeFileSync(file, [...example('tinystories-cloze.jsonl').split('\n').slice(0, 3), ...example('tinystories-generation.jsonl').split('\n').slice(0, 2)].join('\n'));
  });
  afterAll(() => {
    lib.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => vi.restoreAllMocks());

  const run = async (args: string[]) => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const code = await tasksCommand.run(['--model', 'stories', '--library', lib.library, ...args]);
    return { code, out: log.mock.calls.map((c) => c.join(' ')).join('\n') };
  };

  it('is registered', () => {
    expect(commands).toContain(tasksCommand);
  });

  it('--json holds every outcome, interval and drift curve; the printed tables show them per cache, kind and depth', async () => {
    const args = ['--file', file, '--formats', 'q8_0,rvq', '--depths', '1,4', '--drift-prompts', '2', '--drift-tokens', '8', '--json'];
    const { code, out } = await run(args);
    expect(code).toBe(0);
    const check = JSON.parse(out);
    expect(check.caches.map((c: { label: string }) => c.label)).toEqual(['fp16', 'q8_0', 'rvq:synthetic d1', 'rvq:synthetic d4']);
    expect(check.caches[0].outcomes).toHaveLength(5);
    const all = check.caches[2].comparisons.find((c: { kind: string }) => c.kind === 'all');
    expect(all.items).toBe(5);
    expect(all.interval[0]).toBeLessThanOrEqual(all.difference);
    expect(all.interval[1]).toBeGreaterThanOrEqual(all.difference);
    expect(check.drift.map((d: { klByPosition: number[] }) => d.klByPosition.length)).toEqual([8, 8, 8]);
    expect(check.drift[0].firstDivergence).toHaveLength(2);
    const table = accuracyTable(check);
    expect(table).toMatch(/^cache\s+items\s+kind\s+accuracy\s+fp16\s+diff \(pts\)\s+95% CI \(pts\)/);
    for (const label of ['q8_0', 'rvq:synthetic d1', 'rvq:synthetic d4']) for (const kind of ['choice', 'generation', 'all']) expect(table).toMatch(new RegExp(`^${label}\\s+\\d+\\s+${kind}\\s`, 'm'));
    expect(driftTable(check, 8).split('\n')).toHaveLength(4);
  }, 300_000);

  it('refuses bad input naming the line, field or option', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"prompt": "a", "answer": "b", "match": "fuzzy"}\n');
    await expect(run(['--file', bad])).rejects.toThrow(/bad.jsonl line 1, field match/);
    await expect(run(['--file', bad])).rejects.toBeInstanceOf(CliUsageError);
    await expect(run(['--file', file, '--drift-tokens', '0'])).rejects.toThrow('--drift-tokens must be at least 1, got 0');
    await expect(run(['--file', file, '--formats', 'q9'])).rejects.toThrow(/--formats: unknown cache 'q9'/);
    await expect(run(['--file', file, '--depths', '9'])).rejects.toThrow(/depth must be a whole number from 1 to 4/);
    await expect(run([])).rejects.toThrow('--file is required');
  }, 120_000);
});
