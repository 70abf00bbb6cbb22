// Settings persistence: defaults, validation naming the field, damaged files reported and kept.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSettings, libraryFor, loadSettings, saveSettings, settingsSchema } from '../../../main/backend/settings.js';

const freshDir = () => mkdtemp(join(tmpdir(), 'reskv-settings-'));

describe('settings', () => {
  it('starts from the defaults and saves what the operator chose', async () => {
    const dir = await freshDir();
    expect(loadSettings(dir)).toEqual({ settings: defaultSettings, problem: null });
    const chosen = { ...defaultSettings, providers: ['cpu' as const], threads: 2, libraryDir: join(dir, 'lib'), localApi: { enabled: true, port: 9000, token: 'secret-token' } };
    saveSettings(dir, chosen);
    expect(loadSettings(dir)).toEqual({ settings: chosen, problem: null });
    if (!process.env.RESKV_LIBRARY) expect(libraryFor(dir)).toBe(join(dir, 'lib'));
  });

  it('rejects absurd values naming the field', () => {
    const bad = (patch: object) => settingsSchema.safeParse({ ...defaultSettings, ...patch });
    expect(bad({ threads: -1 }).error?.issues[0].path).toEqual(['threads']);
    expect(bad({ providers: ['tpu'] }).success).toBe(false);
    expect(bad({ localApi: { enabled: true, port: 80, token: null } }).error?.issues[0].path).toEqual(['localApi', 'port']);
    expect(bad({ localApi: { enabled: true, port: 9000, token: 'short' } }).error?.issues[0].path).toEqual(['localApi', 'token']);
  });

  it('reports a damaged file, keeps it until the next save, then keeps a copy beside', async () => {
    const dir = await freshDir();
    const file = join(dir, 'settings.json');
    await writeFile(file, '{"threads": "many"');
    const state = loadSettings(dir);
    expect(state.settings).toEqual(defaultSettings);
    expect(state.problem).toMatch(/settings\.json cannot be read/);
    expect(await readFile(file, 'utf8')).toBe('{"threads": "many"');

    await writeFile(file, JSON.stringify({ ...defaultSettings, threads: 100000 }));
    expect(loadSettings(dir).problem).toMatch(/threads: must be at most 256/);

    saveSettings(dir, defaultSettings);
    expect(existsSync(`${file}.damaged`)).toBe(true);
    expect(loadSettings(dir).problem).toBeNull();
  });
});
