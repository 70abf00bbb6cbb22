// Starts ResKV headless (the real loopback server and HTTP bridge) with a fresh
// data folder, plus headless Chromium, for browser tests.
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startHeadlessServer, type HeadlessServer } from '../../main/server/http-server.js';
import type { BackendEvent, JobSnapshot } from '../../main/api/types.js';
import type { Backend } from '../../main/backend/client.js';
import { startSourceBackend } from './backend.js';
import { collectPageErrors, launchChromium } from './browser.js';
import { repoRoot } from './paths.js';
import { fixtures } from './shared.js';

export interface HeadlessApp {
  server: HeadlessServer;
  backend: Backend;
  browser: Browser;
  dataDir: string;
  /** Opens the app in a new page, authenticated; `errors` collects console and page errors. */
  open(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

const token = 'browser-test-token';

export async function startHeadlessApp(): Promise<HeadlessApp> {
  // out/renderer was built by the browser project's global setup (build-app.ts).
  const { backend, dataDir } = await startSourceBackend();
  const server = await startHeadlessServer({ port: 0, rendererDir: join(repoRoot, 'out', 'renderer'), token, backend });
  const browser = await launchChromium();
  return {
    server,
    backend,
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
      await backend.close();
    },
  };
}

/** Imports the stories260K fixture through the backend (as the Models view does); its library folder. */
export async function importStories260K(app: HeadlessApp): Promise<string> {
  const events: BackendEvent[] = [];
  const unsubscribe = app.backend.subscribe((e) => events.push(e));
  const source = await mkdtemp(join(tmpdir(), 'reskv-ckpt-'));
  await copyFile(fixtures.stories260K, join(source, 'stories260K.bin'));
  await copyFile(fixtures.tok512, join(source, 'tok512.bin'));
  const job = (await app.backend.call('models.import', [join(source, 'stories260K.bin')])) as JobSnapshot;
  while (!events.some((e) => e.type === 'job' && e.job.id === job.id && e.job.state !== 'running')) await new Promise((r) => setTimeout(r, 50));
  unsubscribe();
  return join(app.dataDir, 'models', 'stories260K');
}
