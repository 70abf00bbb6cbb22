// Starts ResKV headless (the real loopback server and HTTP bridge) with a fresh
// data folder, plus headless Chromium, for browser tests.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startHeadlessServer, type HeadlessServer } from '../../main/server/http-server.js';
import type { Backend } from '../../main/backend/client.js';
import { calibrateStoriesSmall, importStories260K as importFixture, startSourceBackend } from './backend.js';
import { collectPageErrors, launchChromium } from './browser.js';
import { ReplyGate, type RecordedBackend } from './reply-gate.js';
import { repoRoot } from './paths.js';

export interface HeadlessApp {
  server: HeadlessServer;
  backend: Backend;
  /** Holds a reply at a streamed piece (reply-gate.ts): a test stops it there without racing the decode. */
  gate: ReplyGate;
  /** The backend as the server calls it, for the page's calls (each lets a held reply one piece on), recorded. */
  served: RecordedBackend;
  browser: Browser;
  dataDir: string;
  /** Opens the app in a new page, authenticated; `errors` collects console and page errors. */
  open(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

const token = 'browser-test-token';

export async function startHeadlessApp(): Promise<HeadlessApp> {
  const gate = new ReplyGate();
  const { backend, dataDir } = await startSourceBackend(undefined, gate);
  const served = gate.serving(backend);
  // out/renderer was built by the browser project's global setup (build-app.ts).
  const server = await startHeadlessServer({ port: 0, rendererDir: join(repoRoot, 'out', 'renderer'), token, backend: served });
  const browser = await launchChromium();
  return {
    server,
    backend,
    gate,
    served,
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
      gate.open();
      await backend.close();
    },
  };
}

/** Imports the stories260K fixture into the app's backend; its library folder. */
export function importStories260K(app: HeadlessApp): Promise<string> {
  return importFixture(app.backend, app.dataDir);
}

/** The app with stories260K imported and calibrated, `rvq:small` (calibrateStoriesSmall). */
export async function startCalibratedStoriesApp(): Promise<HeadlessApp> {
  const app = await startHeadlessApp();
  try {
    await calibrateStoriesSmall(await importStories260K(app));
    return app;
  } catch (error) {
    await app.close();
    throw error;
  }
}
