// Well-known folders for tests and benchmarks.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Screenshots, reports and other artefacts tests leave for people to look at (git-ignored). */
export const testOutputDir = join(repoRoot, 'test-output');
