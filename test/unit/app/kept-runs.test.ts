// Kept runs per model (depth sweeps, task checks): newest first, capped, a damaged file reported and
// kept beside when the next run is saved.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keptRuns, keptRunsPerModel } from '../../../main/backend/kept-runs.js';

const dataDir = mkdtempSync(join(tmpdir(), 'reskv-kept-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const kept = keptRuns('checks', 'reskv-checks/1', z.strictObject({ id: z.string(), model: z.string() }), 'check');

describe('kept runs', () => {
  it('keeps runs newest first, at most keptRunsPerModel', () => {
    expect(kept.read(dataDir, 'm')).toEqual({ model: 'm', runs: [], problem: null });
    for (let i = 0; i < keptRunsPerModel + 2; i++) kept.keep(dataDir, { id: `r${i}`, model: 'm' });
    const { runs, problem } = kept.read(dataDir, 'm');
    expect(problem).toBeNull();
    expect(runs).toHaveLength(keptRunsPerModel);
    expect(runs[0].id).toBe(`r${keptRunsPerModel + 1}`);
  });

  it('reports a damaged file, and keeps it beside when the next run is saved', () => {
    mkdirSync(join(dataDir, 'checks'), { recursive: true });
    const file = join(dataDir, 'checks', 'd.json');
    writeFileSync(file, '{"format": "reskv-checks/1", "model": "d", "runs": [{"id": 1}]}');
    expect(kept.read(dataDir, 'd').problem).toMatch(/d\.json is invalid \(runs\.0\.id: .*\); it is kept beside as \.damaged when the next check is saved/);
    kept.keep(dataDir, { id: 'new', model: 'd' });
    expect(existsSync(`${file}.damaged`)).toBe(true);
    expect(readFileSync(`${file}.damaged`, 'utf8')).toContain('"id": 1');
    expect(kept.read(dataDir, 'd')).toEqual({ model: 'd', runs: [{ id: 'new', model: 'd' }], problem: null });
    expect(() => kept.read(dataDir, '../x')).toThrow();
  });
});
