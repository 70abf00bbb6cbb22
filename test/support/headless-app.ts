// Starts ResKV headless (the real loopback server and HTTP bridge) with a fresh
// data folder, plus headless Chromium, for browser tests.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import { startHeadlessServer, type HeadlessServer } from '../../main/server/http-server.js';
import type { Backend } from '../../main/backend/client.js';
import { importStories260K as importFixture, startSourceBackend } from './backend.js';
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
  // The chat tests stop a long reply mid-stream: on the kernel layers stories260K fills its 512-token
  // context in ~0.1 s, before a click lands, so the app's one-token steps run on the segments (read when
  // the backend's worker starts, at its first call; restored on close).
  const chosen = process.env.RESKV_KERNEL_LAYERS;
  process.env.RESKV_KERNEL_LAYERS = '0';
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
      if (chosen === undefined) delete process.env.RESKV_KERNEL_LAYERS;
      else process.env.RESKV_KERNEL_LAYERS = chosen;
    },
  };
}

/** Imports the stories260K fixture into the app's backend; its library folder. */
export function importStories260K(app: HeadlessApp): Promise<string> {
  return importFixture(app.backend, app.dataDir);
}

/**
 * The app with stories260K imported and a small RVQ codebook set, `rvq:small` (depth 4, 256 entries,
 * 4000 vectors: quick; the benchmarks calibrate properly).
 */
export async function startCalibratedStoriesApp(): Promise<HeadlessApp> {
  const app = await startHeadlessApp();
  try {
    const folder = await importStories260K(app);
    await calibrateModel(folder, {
      text: { kind: 'files', paths: [fixtures.validSample] },
      settings: { depth: 4, codebookSize: 256, maxVectors: 4000, name: 'small' },
    });
    return app;
  } catch (error) {
    await app.close();
    throw error;
  }
}
