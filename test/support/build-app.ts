// Vitest global setup for the browser project: builds the app once (main, preload, renderer into
// out/) before any browser test file starts, so files never rebuild under each other's feet.
import { join } from 'node:path';
import { build } from 'electron-vite';
import { repoRoot } from './paths.js';

export default async function buildApp(): Promise<void> {
  await build({ configFile: join(repoRoot, 'electron.vite.config.ts'), root: repoRoot, logLevel: 'warn' });
}
