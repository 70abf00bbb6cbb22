// The model library: one folder per imported model holding manifest.json, the ONNX graphs, one
// external-data weights file they share, and the tokenizer files. Listing, tokenizers and clean-up
// live here; writing a model into the library (which builds graphs) is main/library/import-model.ts.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelManifest } from './manifest.js';
import { allFileNames, tokenizerFileNames, readManifest, verifyModelFiles } from './manifest.js';
import { processIsAlive } from '../atomic-file.js';
import { sweepModelFolder } from './library-rvq.js';
import { readHfTokenizer } from './tokenizer-hf.js';
import type { TextTokenizer } from './tokenizer.js';
import { readLlama2cTokenizer } from './tokenizer-llama2c.js';
import { defaultDataDir } from '../data-dir.js';
import { weightTypes } from './weights.js';

/** The model library inside a ResKV data folder, unless RESKV_LIBRARY names another place. */
export function libraryDirIn(dataDir: string): string {
  return process.env.RESKV_LIBRARY ?? join(dataDir, 'models');
}

/** The library of the default data folder (RESKV_DATA_DIR or the platform's app-data folder). */
export function defaultLibraryDir(): string {
  return libraryDirIn(defaultDataDir());
}

export interface LibraryEntry {
  folder: string;
  manifest: ModelManifest | null;
  /** Why the folder is not a usable model (unreadable or invalid manifest). */
  problem?: string;
  bytesOnDisk: number;
}

const listingHashLimit = 64 << 20;

/**
 * Every model folder in the library (temporary import folders are skipped). A model whose files do
 * not match its manifest is listed with its manifest and the problem (it does not open).
 */
export function listModels(library = defaultLibraryDir()): LibraryEntry[] {
  if (!existsSync(library)) return [];
  removeAbandonedImports(library);
  const entries: LibraryEntry[] = [];
  for (const name of readdirSync(library).sort()) {
    const folder = join(library, name);
    if (name.startsWith('.') || !statSync(folder).isDirectory()) continue;
    const bytesOnDisk = readdirSync(folder).reduce((n, f) => n + statSync(join(folder, f)).size, 0);
    try {
      const manifest = readManifest(folder);
      sweepModelFolder(folder, manifest);
      try {
        // listing hashes the small files (graphs, codebooks, tokenizer); the weights are hashed on open
        verifyModelFiles(folder, manifest, allFileNames(manifest), { hashUpTo: listingHashLimit });
        entries.push({ folder, manifest, bytesOnDisk });
      } catch (e) {
        entries.push({ folder, manifest, problem: (e as Error).message, bytesOnDisk });
      }
    } catch (e) {
      entries.push({ folder, manifest: null, problem: (e as Error).message, bytesOnDisk });
    }
  }
  return entries;
}

/**
 * The models imported from the same checkpoint as `manifest` (same source format and path), itself
 * included, widest weight format first: siblings that differ only in their weight format. Folders
 * whose manifest cannot be read are skipped (listModels reports them).
 */
export function weightSiblings(library: string, manifest: ModelManifest): { folder: string; manifest: ModelManifest }[] {
  if (!existsSync(library)) return [];
  const siblings: { folder: string; manifest: ModelManifest }[] = [];
  for (const name of readdirSync(library).sort()) {
    const folder = join(library, name);
    if (name.startsWith('.') || !statSync(folder).isDirectory()) continue;
    let other: ModelManifest;
    try {
      other = readManifest(folder);
    } catch {
      continue;
    }
    if (other.source.format === manifest.source.format && other.source.path === manifest.source.path) siblings.push({ folder, manifest: other });
  }
  return siblings.sort((a, b) => weightTypes.indexOf(a.manifest.weightType) - weightTypes.indexOf(b.manifest.weightType) || a.manifest.id.localeCompare(b.manifest.id));
}

/** The tokenizer stored with an imported model. */
export function loadLibraryTokenizer(folder: string, manifest: ModelManifest): TextTokenizer {
  verifyModelFiles(folder, manifest, tokenizerFileNames(manifest));
  return manifest.tokenizer.format === 'llama2c' ? readLlama2cTokenizer(join(folder, manifest.tokenizer.file), manifest.config.vocabSize) : readHfTokenizer(folder);
}

/** Name prefix of the hidden folder an import writes before renaming it into place. */
export const importingPrefix = '.importing-';

/** Deletes temporary folders of imports whose process is gone (killed mid-import). */
export function removeAbandonedImports(library: string): void {
  if (!existsSync(library)) return;
  for (const name of readdirSync(library)) {
    const pid = name.startsWith(importingPrefix) ? Number(name.match(/-(\d+)-\d+$/)?.[1]) : NaN;
    if (Number.isInteger(pid) && !processIsAlive(pid)) rmSync(join(library, name), { recursive: true, force: true });
  }
}
