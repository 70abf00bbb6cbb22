// Builds the app and starts ResKV headless (the real loopback server and HTTP bridge) with a fresh
// data folder, plus headless Chromium, for browser tests.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'electron-vite';
import type { Browser, Page } from 'playwright-core';
import { startHeadlessServer, type HeadlessServer } from '../../main/server/http-server.js';
import { collectPageErrors, launchChromium } from './browser.js';
import { repoRoot } from './paths.js';

export interface HeadlessApp {
  server: HeadlessServer;
  browser: Browser;
  dataDir: string;
  /** Opens the app in a new page, authenticated; `errors` collects console and page errors. */
  open(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

const token = 'browser-test-token';

export async function startHeadlessApp(): Promise<HeadlessApp> {
  await build({ configFile: join(repoRoot, 'electron.vite.config.ts'), root: repoRoot, logLevel: 'warn' });
  const dataDir = await mkdtemp(join(tmpdir(), 'reskv-data-'));
  const server = await startHeadlessServer({
    port: 0,
    rendererDir: join(repoRoot, 'out', 'renderer'),
    token,
    host: { name: 'ResKV', version: 'test', dataDir },
  });
  const browser = await launchChromium();
  return {
    server,
    browser,
    dataDir,
    async open() {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors = collectPageErrors(page);
      await page.goto(`${server.url}#token=${token}`);
      return { page, errors };
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
