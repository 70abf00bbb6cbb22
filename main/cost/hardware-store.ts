// User-added hardware entries, persisted as a catalog document in a directory the caller chooses
// (the app's data folder). Writes are atomic (temporary file + rename), and a bad entry or a
// corrupt saved file never overwrites what is already saved.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { builtInHardware, HardwareCatalogError, parseHardwareCatalog, parseHardwareEntry } from './hardware.js';
import type { CatalogEntry, HardwareEntry } from './hardware.js';

export const USER_HARDWARE_FILE = 'hardware-user.json';

function userFile(dir: string): string {
  return join(dir, USER_HARDWARE_FILE);
}

/** The saved user entries; none when the file does not exist yet. */
export function loadUserHardware(dir: string): HardwareEntry[] {
  const file = userFile(dir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new HardwareCatalogError(`${file}: cannot read (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new HardwareCatalogError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseHardwareCatalog(json, file).entries;
}

function writeUserHardware(dir: string, entries: HardwareEntry[]): void {
  const document = { format: 'reskv-hardware-catalog/1', entries };
  writeFileAtomic(userFile(dir), `${JSON.stringify(document, null, 2)}\n`);
}

/**
 * Validates `input` and saves it (replacing a user entry with the same id). Built-in ids are
 * reserved. Returns the saved user entries.
 */
export function saveUserHardware(dir: string, input: unknown): HardwareEntry[] {
  const entry = parseHardwareEntry(input);
  if (builtInHardware().some((b) => b.id === entry.id)) {
    throw new HardwareCatalogError(`id: '${entry.id}' is a built-in entry; choose another id`);
  }
  const entries = loadUserHardware(dir).filter((e) => e.id !== entry.id);
  entries.push(entry);
  writeUserHardware(dir, entries);
  return entries;
}

/** Removes a user entry; returns the remaining ones. */
export function removeUserHardware(dir: string, id: string): HardwareEntry[] {
  const entries = loadUserHardware(dir);
  const kept = entries.filter((e) => e.id !== id);
  if (kept.length === entries.length) throw new HardwareCatalogError(`no user hardware entry with id '${id}'`);
  writeUserHardware(dir, kept);
  return kept;
}

/**
 * Built-in entries followed by the user's (when a directory is given). A user entry whose id a later
 * release gave to a built-in one takes its place, so the user's figures are never silently dropped.
 */
export function loadHardwareCatalog(userDir?: string): CatalogEntry[] {
  const user = userDir === undefined ? [] : loadUserHardware(userDir);
  const userIds = new Set(user.map((e) => e.id));
  const builtIn = builtInHardware().filter((e) => !userIds.has(e.id));
  return [
    ...builtIn.map((entry): CatalogEntry => ({ entry, origin: 'built-in' })),
    ...user.map((entry): CatalogEntry => ({ entry, origin: 'user' })),
  ];
}
