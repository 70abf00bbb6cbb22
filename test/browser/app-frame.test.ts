// Builds the app, starts ResKV headless (the real loopback server and HTTP bridge), and checks in
// headless Chromium that the frame renders under the production CSP and its navigation works.
import { join } from 'node:path';
import { build } from 'electron-vite';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeadlessServer, type HeadlessServer } from '../../main/server/http-server.js';
import { collectPageErrors, launchChromium, saveScreenshot } from '../support/browser.js';
import { repoRoot } from '../support/paths.js';

let server: HeadlessServer;
let browser: Browser;

beforeAll(async () => {
  await build({ configFile: join(repoRoot, 'electron.vite.config.ts'), root: repoRoot, logLevel: 'warn' });
  server = await startHeadlessServer({
    port: 0,
    rendererDir: join(repoRoot, 'out', 'renderer'),
    token: 'browser-test-token',
    host: { name: 'ResKV', version: 'test' },
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('app frame (headless mode)', () => {
  it('renders the navigation, switches views and reaches the backend', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    const errors = collectPageErrors(page);
    await page.goto(`${server.url}#token=browser-test-token`);

    const nav = page.getByRole('navigation', { name: 'Views' });
    await expect.poll(() => nav.getByRole('button').allTextContents()).toEqual(['Chat', 'Tradeoffs', 'Cost', 'Models', 'Settings']);
    expect(await page.locator('#view-title').textContent()).toBe('Chat');
    // The token moved from the URL into session storage.
    expect(new URL(page.url()).hash).toBe('');

    for (const title of ['Tradeoffs', 'Cost', 'Models', 'Settings', 'Chat']) {
      await nav.getByRole('button', { name: title }).click();
      await expect.poll(() => page.locator('#view-title').textContent()).toBe(title);
      expect(await nav.getByRole('button', { name: title }).getAttribute('aria-current')).toBe('page');
    }
    // Views without an engine behind them say so instead of pretending to work.
    expect(await page.getByRole('status').first().textContent()).toContain('Not available yet');

    // Settings shows what the backend reported over the HTTP bridge.
    await nav.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByText('Headless (plain Node)').count()).toBe(1);
    expect(await page.getByText(process.versions.node, { exact: true }).count()).toBe(1);
    await saveScreenshot(page, 'settings');

    await nav.getByRole('button', { name: 'Chat' }).click();
    await saveScreenshot(page, 'app-frame');
    expect(errors).toEqual([]);
    await page.close();
  });
});
