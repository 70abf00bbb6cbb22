// ONNX Runtime's node placements: a child process creates a session with the verbose log on (ORT
// writes it natively to stderr, so it cannot be caught in-process) and the parent parses the
// "Node placements" lines.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { repoRoot } from '../support/paths.js';

/** Node names per provider from the "Node placements" lines of ORT's verbose log. */
export function parsePlacements(log: string): Map<string, string[]> {
  const placed = new Map<string, string[]>();
  let provider: string | null = null;
  for (const line of log.split('\n')) {
    if (!line.includes('VerifyEachNodeIsAssignedToAnEp]')) continue;
    const header = /Node\(s\) placed on \[(\w+)\]/.exec(line);
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s{3}\S+ \((.+)\)\s*$/.exec(line);
    if (header) {
      provider = header[1];
      placed.set(provider, []);
    } else if (node && provider) {
      placed.get(provider)!.push(node[1]);
    }
  }
  return placed;
}

/** Runs test/gpu/`script` with `args`; expects it to succeed; returns its stdout and the placements from its stderr. */
export function runWithPlacements(script: string, args: string[] = []): { stdout: string; placed: Map<string, string[]> } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'test/gpu', script), ...args], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 256 * 2 ** 20, env: process.env });
  expect(run.status, run.stderr.slice(-2000)).toBe(0);
  return { stdout: run.stdout, placed: parsePlacements(run.stderr) };
}
