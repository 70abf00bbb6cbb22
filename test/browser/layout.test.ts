// The app at 1400 px wide (a laptop window) with real content: stories260K imported and calibrated, a
// small depth sweep kept and a chat reply. Models, Settings, Tasks, Tradeoffs and Chat must not scroll
// sideways (the page's or any element's scroll width within its client width). Chat and Tradeoffs are
// saved as README screenshots in assets/screenshots/.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSnapshot } from '../../main/api/types.js';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import { importStories260K, startHeadlessApp, type HeadlessApp } from '../support/headless-app.js';
import { repoRoot } from '../support/paths.js';
import { fixtures, haveFixtures } from '../support/shared.js';

const width = 1400;

/**
 * What scrolls sideways: the page, the main area, or any element inside it that scrolls (tables in
 * .table-scroll included: at 1400 px nothing should need to). Plain JS run in the page (the node
 * tsconfig has no DOM types).
 */
const findOverflow = `(() => {
  const wide = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) wide.push('page: ' + root.scrollWidth + ' > ' + root.clientWidth);
  const main = document.querySelector('main');
  if (main.scrollWidth > main.clientWidth + 1) wide.push('main: ' + main.scrollWidth + ' > ' + main.clientWidth);
  for (const el of main.querySelectorAll('*')) {
    const x = getComputedStyle(el).overflowX;
    if ((x === 'auto' || x === 'scroll') && el.scrollWidth > el.clientWidth + 1) wide.push(el.tagName.toLowerCase() + '.' + el.className + ': ' + el.scrollWidth + ' > ' + el.clientWidth);
  }
  return wide;
})()`;

const overflowing = (page: Page) => page.evaluate<string[]>(findOverflow);

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('layout at 1400 px', () => {
  let app: HeadlessApp;

  beforeAll(async () => {
    app = await startHeadlessApp();
    const folder = await importStories260K(app);
    await calibrateModel(folder, { text: { kind: 'files', paths: [fixtures.validSample] }, settings: { depth: 4, codebookSize: 64, groupSize: 16, maxVectors: 2000, name: 'strided' } });
    const job = (await app.backend.call('tradeoffs.run', [
      'stories260K',
      { textPath: fixtures.validSample, maxTokens: 128, codebookSets: ['strided'], maxDepth: null, scalarBaselines: true, latencyContext: 32, latencySteps: 4 },
    ])) as JobSnapshot;
    let state = job.state;
    while (state === 'running') {
      await new Promise((r) => setTimeout(r, 200));
      state = ((await app.backend.call('jobs.list', [])) as JobSnapshot[]).find((j) => j.id === job.id)!.state;
    }
    if (state !== 'done') throw new Error(`the sweep for the layout test ${state}`);
  }, 240_000);

  afterAll(async () => {
    await app?.close();
  });

  it('Models, Settings, Tasks, Tradeoffs and Chat fit without horizontal scrolling', async () => {
    const { page } = await app.open();
    await page.setViewportSize({ width, height: 900 });
    const nav = page.getByRole('navigation', { name: 'Views' });
    const shots = join(repoRoot, 'assets', 'screenshots');
    await mkdir(shots, { recursive: true });

    await nav.getByRole('button', { name: 'Chat' }).click();
    await expect.poll(() => page.getByLabel('KV cache').locator('option').allTextContents(), { timeout: 30_000 }).toContain('rvq:strided');
    await page.getByLabel('KV cache').selectOption('rvq:strided');
    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.getByLabel('Message', { exact: true }).fill('Once upon a time');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.message-assistant:not(.streaming)').count(), { timeout: 60_000 }).toBe(1);
    await page.waitForTimeout(500);
    expect(await overflowing(page)).toEqual([]);
    await page.screenshot({ path: join(shots, 'chat-1400.png') });

    await nav.getByRole('button', { name: 'Tradeoffs' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Measured points' }).count(), { timeout: 30_000 }).toBe(1);
    await page.waitForTimeout(500);
    expect(await overflowing(page)).toEqual([]);
    await page.screenshot({ path: join(shots, 'tradeoffs-1400.png') });

    for (const [view, ready] of [
      ['Models', 'Installed models'],
      ['Settings', 'Save settings'],
      ['Tasks', 'Run task check'],
    ] as const) {
      await nav.getByRole('button', { name: view }).click();
      await expect.poll(() => page.getByText(ready).or(page.getByRole('table', { name: ready })).count(), { timeout: 30_000 }).toBeGreaterThan(0);
      if (view === 'Models') await page.getByRole('button', { name: 'Calibration' }).first().click();
      await page.waitForTimeout(300);
      expect(await overflowing(page), view).toEqual([]);
    }
    await page.close();
  });
});
