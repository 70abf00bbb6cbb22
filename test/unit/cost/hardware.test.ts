// The built-in hardware catalog passes its schema; user entries are validated, persisted atomically,
// and a bad entry or a corrupt file never costs the user what was already saved.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bandwidthBytesPerSecond, builtInHardware, HardwareCatalogError, memoryBytes, parseHardwareCatalog } from '../../../main/cost/hardware.js';
import type { HardwareEntry } from '../../../main/cost/hardware.js';
import { loadHardwareCatalog, loadUserHardware, removeUserHardware, saveUserHardware, USER_HARDWARE_FILE } from '../../../main/cost/hardware-store.js';

const catalogPath = join(import.meta.dirname, '..', '..', '..', 'assets', 'hardware-catalog.json');

describe('built-in hardware catalog', () => {
  it('the file on disk passes its schema', () => {
    const parsed = parseHardwareCatalog(JSON.parse(readFileSync(catalogPath, 'utf8')), catalogPath);
    expect(parsed.entries).toEqual(builtInHardware());
  });

  it('has every accelerator the issue asks for, with price sources and dates', () => {
    const ids = builtInHardware().map((h) => h.id);
    for (const id of ['h200', 'h100-sxm', 'h100-pcie', 'a100-80gb', 'a100-40gb', 'l40s', 'l4', 'a10', 'rtx-6000-ada', 'rtx-4090', 'rtx-3090', 'mi300x']) {
      expect(ids).toContain(id);
    }
    expect(builtInHardware().some((h) => h.vendor === 'Apple')).toBe(true);
    for (const h of builtInHardware()) {
      expect(h.purchase, h.id).not.toBeNull();
      expect(h.purchase!.approximate, `${h.id}: prices were recalled offline, so approximate`).toBe(true);
      if (h.cloud) expect(h.cloud.approximate).toBe(true);
    }
  });

  it('converts units exactly: GiB binary, GB/s and TB/s decimal', () => {
    const h100 = builtInHardware().find((h) => h.id === 'h100-sxm')!;
    expect(memoryBytes(h100)).toBe(80 * 2 ** 30);
    expect(bandwidthBytesPerSecond(h100)).toBe(3.35e12);
    expect(memoryBytes({ ...h100, memory: { value: 80, unit: 'GB' } })).toBe(80e9);
    expect(bandwidthBytesPerSecond(builtInHardware().find((h) => h.id === 'l40s')!)).toBe(864e9);
  });

  it('rejects duplicate ids and bad fields, naming them', () => {
    const [first] = builtInHardware();
    expect(() => parseHardwareCatalog({ format: 'reskv-hardware-catalog/1', entries: [first, first] }, 'x.json')).toThrow(/x\.json: entries\.1\.id: duplicate id/);
    expect(() => parseHardwareCatalog({ format: 'reskv-hardware-catalog/1', entries: [{ ...first, boardPowerW: 0 }] }, 'x.json')).toThrow(
      /entries\.0\.boardPowerW: must be greater than 0/,
    );
  });
});

describe('user hardware entries', () => {
  let dir: string;
  const mine: HardwareEntry = {
    id: 'my-rig',
    name: 'Workstation with 2x RTX A6000',
    vendor: 'NVIDIA',
    memory: { value: 48, unit: 'GiB' },
    memoryBandwidth: { value: 768, unit: 'GB/s' },
    fp16DenseTflops: 154.8,
    boardPowerW: 300,
    specSource: 'my datasheet',
    purchase: { usd: 4500, approximate: false, source: 'our invoice', date: '2024-03' },
    cloud: null,
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'reskv-hw-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('saves, reloads, updates and removes an entry; the catalog lists it as the user\'s', () => {
    expect(loadUserHardware(dir)).toEqual([]);
    saveUserHardware(dir, mine);
    expect(loadUserHardware(dir)).toEqual([mine]);
    saveUserHardware(dir, { ...mine, boardPowerW: 280 });
    expect(loadUserHardware(dir).map((e) => e.boardPowerW)).toEqual([280]);
    const catalog = loadHardwareCatalog(dir);
    expect(catalog.find((c) => c.entry.id === 'my-rig')?.origin).toBe('user');
    expect(catalog.filter((c) => c.origin === 'built-in')).toHaveLength(builtInHardware().length);
    expect(removeUserHardware(dir, 'my-rig')).toEqual([]);
    expect(() => removeUserHardware(dir, 'my-rig')).toThrow(/no user hardware entry with id 'my-rig'/);
    expect(readdirSync(dir)).toEqual([USER_HARDWARE_FILE]);
  });

  it('rejects a bad entry naming the field, and keeps the saved file byte for byte', () => {
    saveUserHardware(dir, mine);
    const before = readFileSync(join(dir, USER_HARDWARE_FILE), 'utf8');
    expect(() => saveUserHardware(dir, { ...mine, id: 'other', memoryBandwidth: { value: -1, unit: 'GB/s' } })).toThrow(
      /memoryBandwidth\.value: must be greater than 0/,
    );
    expect(() => saveUserHardware(dir, { ...mine, id: 'other', memory: { value: 48, unit: 'gigs' } })).toThrow(/memory\.unit/);
    expect(() => saveUserHardware(dir, { ...mine, id: 'h100-sxm' })).toThrow(/id: 'h100-sxm' is a built-in entry/);
    expect(readFileSync(join(dir, USER_HARDWARE_FILE), 'utf8')).toBe(before);
    expect(readdirSync(dir)).toEqual([USER_HARDWARE_FILE]);
  });

  it('reports a corrupt saved file by name and refuses to overwrite it', () => {
    const file = join(dir, USER_HARDWARE_FILE);
    writeFileSync(file, '{"format": "reskv-hardware-catalog/1", "entries": [');
    expect(() => loadUserHardware(dir)).toThrow(HardwareCatalogError);
    expect(() => loadHardwareCatalog(dir)).toThrow(new RegExp(`${USER_HARDWARE_FILE}: not valid JSON`));
    expect(() => saveUserHardware(dir, mine)).toThrow(/not valid JSON/);
    expect(readFileSync(file, 'utf8')).toBe('{"format": "reskv-hardware-catalog/1", "entries": [');
    writeFileSync(file, JSON.stringify({ format: 'reskv-hardware-catalog/1', entries: [{ ...mine, fp16DenseTflops: 'fast' }] }));
    expect(() => loadUserHardware(dir)).toThrow(/entries\.0\.fp16DenseTflops/);
  });
});
