// Integrity of the files a library model's manifest names (graphs, codebooks, weights, tokenizer):
// their size and sha256 are recorded when they are written (import, codebook install) and checked
// before the engine trusts them. sha256 runs at about 0.43 GiB/s here (Node 20, measured on a 1 GiB
// file), so a 16 GB weights file would take ~40 s: a file whose content was verified once is not hashed
// again while its identity (size, mtime, inode) is unchanged — remembered in this process and in a
// small stamp file beside the manifest — and its size is checked on every open.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-file.js';

export const fileHashSchema = z.strictObject({ bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) });
export type FileHash = z.infer<typeof fileHashSchema>;

/** A model's recorded hashes by file name (relative to its folder). */
export type FileHashes = Record<string, FileHash>;

/** A file the manifest names whose bytes are not the ones recorded (or that is missing). */
export class DamagedFileError extends Error {
  constructor(
    readonly file: string,
    readonly model: string,
    reason: string,
  ) {
    super(`${file} of model ${model} is damaged: ${reason}; re-import the model (or calibrate the codebook set again)`);
  }
}

export function hashFile(path: string): FileHash {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; bytes += n) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Hashes of files in a folder, by name. */
export function hashFiles(folder: string, names: readonly string[]): FileHashes {
  return Object.fromEntries(names.map((name) => [name, hashFile(join(folder, name))]));
}

const stampFileName = 'verified.json';
const stampSchema = z.record(z.string(), z.strictObject({ identity: z.string(), sha256: z.string() }));
type Stamps = z.infer<typeof stampSchema>;

/** Content verified in this process, by path: the identity it had and the hash it matched. */
const verified = new Map<string, { identity: string; sha256: string }>();

function identityOf(path: string): { identity: string; bytes: number } {
  const s = statSync(path, { bigint: true });
  return { identity: `${s.size}:${s.mtimeNs}:${s.ino}`, bytes: Number(s.size) };
}

function readStamps(folder: string): Stamps {
  try {
    return stampSchema.parse(JSON.parse(readFileSync(join(folder, stampFileName), 'utf8')));
  } catch {
    return {}; // no stamp (or a damaged one): everything is hashed again
  }
}

export interface VerifyOptions {
  /** Files larger than this whose content was not verified under their identity are checked by size only (listing). */
  hashUpTo?: number;
}

/**
 * Throws DamagedFileError for the first of `names` that is missing, has another size, or (unless
 * skipped by `hashUpTo`) another sha256 than `hashes` records. A manifest without hashes (written
 * before they were recorded) is not checked.
 */
export function verifyFiles(folder: string, model: string, hashes: FileHashes | undefined, names: readonly string[], options: VerifyOptions = {}): void {
  if (!hashes) return;
  let stamps: Stamps | null = null;
  let stamped = false;
  for (const name of names) {
    const expected = hashes[name];
    if (!expected) throw new DamagedFileError(name, model, 'the manifest records no hash for it');
    const path = join(folder, name);
    if (!existsSync(path)) throw new DamagedFileError(name, model, 'the file is missing');
    const { identity, bytes } = identityOf(path);
    if (bytes !== expected.bytes) throw new DamagedFileError(name, model, `${bytes} bytes, the manifest records ${expected.bytes}`);
    const known = verified.get(path) ?? (stamps ??= readStamps(folder))[name];
    if (known?.identity === identity && known.sha256 === expected.sha256) continue;
    if (options.hashUpTo !== undefined && bytes > options.hashUpTo) continue;
    const actual = hashFile(path).sha256;
    if (actual !== expected.sha256) throw new DamagedFileError(name, model, `its sha256 ${actual.slice(0, 12)}… differs from the manifest's ${expected.sha256.slice(0, 12)}…`);
    verified.set(path, { identity, sha256: actual });
    (stamps ??= readStamps(folder))[name] = { identity, sha256: actual };
    stamped = true;
  }
  if (stamped && stamps) {
    try {
      writeFileAtomic(join(folder, stampFileName), JSON.stringify(stamps));
    } catch {
      // a read-only library still opens; the files are hashed again next time
    }
  }
}
