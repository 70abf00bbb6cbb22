// The Electron main process and the preload must not load the engine: only the backend worker runs
// models. Builds the app with electron-vite (as `npm run build` does, into a temporary folder) and
// follows every import of out/main/main.js (its shared chunks included) and of the preload bundle.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build } from 'electron-vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../support/paths.js';

/** `import ... from "x"`, `export ... from "x"`, `import "x"`, `import("x")` and `require("x")`. */
const importPattern = /(?<![\w.$])(?:from|import|require)\s*\(?\s*["']([^"'\s]+)["']/g;

/** Every module `entry` reaches: its own chunks (relative paths) followed, packages listed by name. */
function reachedModules(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.includes(file)) continue;
    files.push(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(importPattern)) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier));
      else packages.add(specifier);
    }
  }
  return { files, packages };
}

const enginePackages = /^onnxruntime/;

describe('app bundles (electron-vite build)', () => {
  let outDir: string;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'reskv-build-'));
    await build({ configFile: join(repoRoot, 'electron.vite.config.ts'), root: repoRoot, logLevel: 'warn', build: { outDir } });
  }, 120_000);

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('the main process bundle does not reach onnxruntime (only the backend worker loads it)', () => {
    const main = reachedModules(join(outDir, 'main', 'main.js'));
    expect(main.packages).toContain('electron'); // the walk sees the bundle's imports
    expect([...main.packages].filter((p) => enginePackages.test(p))).toEqual([]);
    for (const file of main.files) expect(readFileSync(file, 'utf8'), file).not.toMatch(/onnxruntime/);

    // the check can fail: the worker's bundle does reach it
    const worker = reachedModules(join(outDir, 'main', 'backend-worker.js'));
    expect([...worker.packages].filter((p) => enginePackages.test(p))).not.toEqual([]);
  });

  it('the preload bundle is self-contained and does not reach onnxruntime', () => {
    const preload = join(outDir, 'preload', 'index.cjs');
    expect(existsSync(preload)).toBe(true);
    const { packages } = reachedModules(preload);
    expect([...packages].sort()).toEqual(['electron']);
    expect(readFileSync(preload, 'utf8')).not.toMatch(/onnxruntime/);
  });
});
