// Atomic file replacement (plain Node): write a temporary file beside the target, flush it, rename it
// over the target. A crash or a failed write leaves the previous file intact, never a half-written one.
// Every write goes through `fileWrites`, the seam where tests inject faults (a full disk).
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The file operations atomic writes use (tests replace them to simulate ENOSPC). */
export const fileWrites = {
  write: (path: string, data: string | Uint8Array) => writeFileSync(path, data, { flush: true }),
  copy: (source: string, path: string) => copyFileSync(source, path),
  rename: (from: string, to: string) => renameSync(from, to),
};

/** Temporary name beside `path`; the pid lets a sweep tell a running writer's file from a killed one's. */
export function temporaryName(path: string): string {
  return `${path}.${process.pid}.${Date.now()}.tmp`;
}

function replaceVia(path: string, write: (temporary: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = temporaryName(path);
  try {
    write(temporary);
    fileWrites.rename(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    // fs errors from a write name no file (e.g. "ENOSPC: no space left on device, write")
    throw Object.assign(new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err }), code ? { code } : {});
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  replaceVia(path, (temporary) => fileWrites.write(temporary, data));
}

export function copyFileAtomic(source: string, path: string): void {
  replaceVia(path, (temporary) => fileWrites.copy(source, temporary));
}

/** Whether a process with this id runs (one of another user counts as running). */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
