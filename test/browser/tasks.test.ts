// The Tasks view in headless Chromium with the real engine on stories260K and a small codebook set: a
// bad task file is refused naming its line and field; then a task check of some shipped example items
// (multiple choice and generation) runs from the form as a job, and its accuracy table with intervals,
// charts against depth, drift and changed items show what the kept run holds.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskHistory } from '../../main/api/types.js';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import { saveScreenshot } from '../support/browser.js';
import { importStories260K, startHeadlessApp, type HeadlessApp } from '../support/headless-app.js';
import { repoRoot } from '../support/paths.js';
import { fixtures, haveFixtures } from '../support/shared.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('Tasks view', () => {
  let app: HeadlessApp;
  let taskFile: string;
  let badFile: string;

  beforeAll(async () => {
    app = await startHeadlessApp();
    const folder = await importStories260K(app);
    await calibrateModel(folder, { text: { kind: 'files', paths: [fixtures.validSample] }, settings: { depth: 4, codebookSize: 64, groupSize: 16, maxVectors: 2000, name: 'small' } });
    // a few items of each shipped example set, so the check stays quick
    const firstLines = async (name: string, n: number) => (await readFile(join(repoRoot, 'assets', 'tasks', name), 'utf8')).split('\n').slice(0, n);
    const dir = await mkdtemp(join(tmpdir(), 'reskv-tasks-'));
    taskFile = join(dir, 'tasks.jsonl');
    await writeFile(taskFile, [...(await firstLines('tinystories-cloze.jsonl', 5)), ...(await firstLines('tinystories-generation.jsonl', 2))].join('\n'));
    badFile = join(dir, 'bad.jsonl');
    await writeFile(badFile, '{"prompt": "a", "choices": ["b", "c"], "answer": 0}\n{"prompt": "a", "choices": ["b"], "answer": 0}\n');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('refuses a bad task file, then runs a task check and shows intervals, drift and changed items', async () => {
    const { page, errors } = await app.open();
    await page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: 'Tasks' }).click();
    await expect.poll(() => page.getByText('No task check of stories260K kept yet').count()).toBe(1);

    await page.getByLabel('Task file').fill(badFile);
    await page.getByRole('button', { name: 'Run task check' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('bad.jsonl line 2, field choices: must list at least 2 choices');

    await page.getByLabel('Task file').fill(taskFile);
    await page.getByLabel('Caches').fill('q4_0,rvq');
    await page.getByLabel('RVQ depths').fill('1,4');
    await page.getByLabel('Drift prompts').fill('2');
    await page.getByLabel('Drift tokens').fill('12');
    await page.getByRole('button', { name: 'Run task check' }).click();
    const status = page.getByLabel(`Task check of stories260K on ${taskFile}`).getByRole('status');
    await expect.poll(() => status.textContent(), { timeout: 120_000 }).toMatch(/^done: 7 items under 4 caches; \d+ outcomes changed; kept/);

    const [run] = ((await app.backend.call('tasks.list', ['stories260K'])) as TaskHistory).runs;
    expect(run.caches.map((c) => c.label)).toEqual(['fp16', 'q4_0', 'rvq:small d1', 'rvq:small d4']);
    // per cache: multiple choice, generation and all items, each with its interval and verdict
    const table = page.getByRole('table', { name: 'Task accuracy against fp16' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(9);
    const d1 = run.caches[2].comparisons.find((c) => c.kind === 'all')!;
    const points = (x: number) => `${x > 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
    const row = table.getByRole('row', { name: /^rvq:small d1 \(all\)/ });
    expect(await row.locator('td').nth(4).textContent()).toBe(`[${points(d1.interval[0])}, ${points(d1.interval[1])}]`);
    expect(await row.locator('td').nth(8).textContent()).toBe(d1.verdict);

    // accuracy, first divergence and drift KL against depth (the rvq set a curve, q4_0 a reference line), KL along the text
    expect(await page.getByRole('figure').count()).toBe(4);
    const divergence = page.getByRole('figure', { name: 'First divergence against residual depth' });
    await expect.poll(() => divergence.locator('.recharts-line').count()).toBe(1);
    expect(await divergence.getByText('q4_0', { exact: true }).count()).toBe(1);
    const along = page.getByRole('figure', { name: 'KL along the generation' });
    expect(await along.locator('.recharts-line').count()).toBe(3);
    expect(run.drift.map((d) => d.klByPosition.length)).toEqual([12, 12, 12]);

    await expect.poll(() => page.getByRole('heading', { name: `Items whose outcome changed (${run.changed.length})` }).count()).toBe(1);
    if (run.changed.length > 0) expect(await page.getByRole('table', { name: 'Changed items' }).locator('tbody tr').count()).toBe(run.changed.length);
    expect(await page.getByTestId('task-verdict').textContent()).toContain(`7 items of ${taskFile}`);
    await saveScreenshot(page, 'tasks');
    // the refused file's request is the only failed one
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await page.close();
  });
});
