// The app frame in headless Chromium: renders under the production CSP, navigation works, and the
// renderer reaches the backend through the HTTP bridge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveScreenshot } from '../support/browser.js';
import { startHeadlessApp, type HeadlessApp } from '../support/headless-app.js';

let app: HeadlessApp;

beforeAll(async () => {
  app = await startHeadlessApp();
});

afterAll(async () => {
  await app?.close();
});

describe('app frame (headless mode)', () => {
  it('renders the navigation, switches views and reaches the backend', async () => {
    const { page, errors } = await app.open();

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
    expect(await page.getByText(app.dataDir, { exact: true }).count()).toBe(1);
    await saveScreenshot(page, 'settings');

    await nav.getByRole('button', { name: 'Chat' }).click();
    await saveScreenshot(page, 'app-frame');
    expect(errors).toEqual([]);
    await page.close();
  });
});
