// Locates the read-only fixtures in ../shared (real model, held-out text) for tests and benchmarks.
// Set RESKV_SHARED to point elsewhere. In CI a missing fixture is an error; elsewhere tests skip loudly.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from './paths.js';

export const sharedDir = resolve(repoRoot, process.env.RESKV_SHARED ?? '../shared');

export const fixtures = {
  stories260K: join(sharedDir, 'models', 'stories260K', 'stories260K.bin'),
  tok512: join(sharedDir, 'models', 'stories260K', 'tok512.bin'),
  /** Hugging Face folder (safetensors, tied embedding stored only as lm_head.weight). */
  tinyStories656K: join(sharedDir, 'models', 'tinystories-656k'),
  validSample: join(sharedDir, 'data', 'tinystories-valid-sample.txt'),
} as const;

/**
 * True when every named fixture exists. Throws under CI=true when one is missing (CI must never
 * silently skip); otherwise prints a visible message so the skip is not mistaken for a pass.
 */
export function haveFixtures(...paths: string[]): boolean {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return true;
  const message = `ResKV shared fixtures missing (set RESKV_SHARED): ${missing.join(', ')}`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`SKIPPING: ${message}`);
  return false;
}
