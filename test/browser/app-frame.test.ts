// Builds the renderer, serves it from a loopback server with the production CSP, and checks in real
// headless Chromium that the app frame renders and its navigation works.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'electron-vite';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStaticFile } from '../../main/server/static-files.js';
import { collectPageErrors, launchChromium, saveScreenshot } from '../support/browser.js';
import { repoRoot } from '../support/paths.js';

let server: Server;
let baseUrl: string;
let browser: Browser;

beforeAll(async () => {
  await build({ configFile: join(repoRoot, 'electron.vite.config.ts'), root: repoRoot, logLevel: 'warn' });
  const root = join(repoRoot, 'out', 'renderer');
  server = createServer((req, res) => {
    serveStaticFile(root, req, res).then(
      (served) => {
        if (!served) res.writeHead(404).end('not found');
      },
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((done) => server?.close(done));
});

describe('app frame', () => {
  it('renders the navigation and switches views under the strict CSP', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    const errors = collectPageErrors(page);
    await page.goto(baseUrl);

    const nav = page.getByRole('navigation', { name: 'Views' });
    await expect.poll(() => nav.getByRole('button').allTextContents()).toEqual(['Chat', 'Tradeoffs', 'Cost', 'Models', 'Settings']);
    expect(await page.locator('#view-title').textContent()).toBe('Chat');

    for (const title of ['Tradeoffs', 'Cost', 'Models', 'Settings', 'Chat']) {
      await nav.getByRole('button', { name: title }).click();
      await expect.poll(() => page.locator('#view-title').textContent()).toBe(title);
      expect(await nav.getByRole('button', { name: title }).getAttribute('aria-current')).toBe('page');
    }
    // Views without a backend say so instead of pretending to work.
    expect(await page.getByRole('status').first().textContent()).toContain('Not available yet');

    // A bare browser has no bridge: Settings says so plainly.
    await nav.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByText('No ResKV backend').count()).toBe(1);

    await nav.getByRole('button', { name: 'Chat' }).click();
    await saveScreenshot(page, 'app-frame');
    expect(errors).toEqual([]);
    await page.close();
  });
});
