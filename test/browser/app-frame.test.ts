// The app frame in headless Chromium: renders under the production CSP, navigation works, and the
// renderer reaches the backend through the HTTP bridge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProvidersReport } from '../../main/api/types.js';
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
    await expect.poll(() => nav.getByRole('button').allTextContents()).toEqual(['Chat', 'Tradeoffs', 'Tasks', 'Cost', 'Report', 'Models', 'Settings']);
    expect(await page.locator('#view-title').textContent()).toBe('Chat');
    // The token moved from the URL into session storage.
    expect(new URL(page.url()).hash).toBe('');

    for (const title of ['Tradeoffs', 'Tasks', 'Cost', 'Report', 'Models', 'Settings', 'Chat']) {
      await nav.getByRole('button', { name: title }).click();
      await expect.poll(() => page.locator('#view-title').textContent()).toBe(title);
      expect(await nav.getByRole('button', { name: title }).getAttribute('aria-current')).toBe('page');
    }

    // Settings shows what the backend reported over the HTTP bridge.
    await nav.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByText('Headless (plain Node)').count()).toBe(1);
    expect(await page.getByText(process.versions.node, { exact: true }).count()).toBe(1);
    expect(await page.getByText(app.dataDir, { exact: true }).count()).toBe(1);
    // only the providers that work on this machine; the others named once, with why
    await expect.poll(() => page.getByText('CPU (always the last resort) — works here').count()).toBe(1);
    expect(await page.locator('label.check').filter({ hasText: 'not usable here' }).count()).toBe(0);
    const report = (await app.backend.call('settings.providers', [])) as ProvidersReport;
    const providers = page.getByRole('group', { name: /^Execution providers/ });
    expect(await providers.getByRole('checkbox').count()).toBe(report.providers.filter((p) => p.available).length);
    if (process.platform === 'linux') expect(await page.getByText('DirectML', { exact: false }).count()).toBe(0);
    // headless: this server is the API; the desktop app's port and token are not offered as if they applied
    expect(await page.getByLabel('Port').count()).toBe(0);
    expect(await page.getByLabel('Bearer token').count()).toBe(0);
    expect(await page.getByRole('note', { name: 'Local API in headless mode' }).textContent()).toContain(`${new URL(app.server.url).origin}/v1`);

    // Settings are validated by the backend and persist across a reload.
    await page.getByLabel('Threads per operator').fill('-1');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Threads: must be at least 0');
    await page.getByLabel('Threads per operator').fill('2');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => page.getByText('Saved.').count()).toBe(1);
    await saveScreenshot(page, 'settings');
    await page.reload();
    await nav.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByLabel('Threads per operator').inputValue()).toBe('2');

    await nav.getByRole('button', { name: 'Chat' }).click();
    await saveScreenshot(page, 'app-frame');
    // The one console error is the browser's log of the deliberately rejected save.
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await page.close();
  });
});
