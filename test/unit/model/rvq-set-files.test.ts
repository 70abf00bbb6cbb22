// A codebook set's name rule and file names live in one place (main/model/library-rvq.ts): installing
// names the files, calibration settings check the name, and the folder sweep recognises what was named.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { calibrationSettingsSchema } from '../../../main/engine/calibration/calibrate.js';
import { rvqSetFiles, sweepModelFolder } from '../../../main/model/library-rvq.js';
import type { ModelManifest } from '../../../main/model/manifest.js';

let folder: string | undefined;
afterEach(() => {
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('codebook set names', () => {
  it('names a set\'s files with its generation and refuses names that cannot be file names', () => {
    expect(rvqSetFiles('strided.v2', '123-k0')).toEqual({ graph: 'rvq-strided.v2.123-k0.onnx', codebooks: 'codebooks-strided.v2.123-k0.safetensors' });
    for (const bad of ['', '../x', '.hidden', 'a b', 'a/b']) expect(() => rvqSetFiles(bad, '1-a')).toThrow(/may hold only letters, digits/);
  });

  it('calibration settings apply the same rule', () => {
    expect(calibrationSettingsSchema.safeParse({ name: 'ok_1.2-x' }).success).toBe(true);
    const bad = calibrationSettingsSchema.safeParse({ name: '../x' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].message).toMatch(/may hold only letters, digits/);
  });

  it('the folder sweep removes unnamed set files of dead writers and keeps a live writer\'s', () => {
    folder = mkdtempSync(join(tmpdir(), 'reskv-set-files-'));
    // pid 2^22+1 exceeds Linux's pid_max, so no process holds it
    const dead = rvqSetFiles('old', `${2 ** 22 + 1}-a`);
    const live = rvqSetFiles('new', `${process.pid}-b`);
    for (const file of [...Object.values(dead), ...Object.values(live)]) writeFileSync(join(folder, file), '');
    const swept = sweepModelFolder(folder, { rvq: {} } as unknown as ModelManifest);
    expect(swept.sort()).toEqual(Object.values(dead).sort());
    expect(readdirSync(folder).sort()).toEqual(Object.values(live).sort());
  });
});
