// Atomic file replacement (plain Node): write a temporary file beside the target, flush it, rename it
// over the target. A crash or a failed write leaves the previous file intact, never a half-written one.
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

function replaceVia(path: string, write: (temporary: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    write(temporary);
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  replaceVia(path, (temporary) => writeFileSync(temporary, data, { flush: true }));
}

export function copyFileAtomic(source: string, path: string): void {
  replaceVia(path, (temporary) => copyFileSync(source, temporary));
}
