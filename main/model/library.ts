// The model library: one folder per imported model holding manifest.json, the ONNX graphs, one
// external-data weights file they share, and the tokenizer files. An import is written into a
// hidden temporary folder and renamed into place only when complete.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parameterCount } from './config.js';
import { buildCaptureGraph, buildDecoderGraph } from '../onnx/decoder.js';
import { ExternalTensorFile } from '../onnx/external-data.js';
import type { WeightType } from './weights.js';
import { defaultWeightType, weightBytes } from './weights.js';
import type { OpenCheckpointOptions } from './checkpoint.js';
import { openCheckpoint } from './checkpoint.js';
import type { ModelManifest } from './manifest.js';
import { allFileNames, manifestFormat, tokenizerFileNames, readManifest, verifyModelFiles, writeManifest } from './manifest.js';
import { hashFiles } from './file-hashes.js';
import { processIsAlive } from '../atomic-file.js';
import { sweepModelFolder } from './library-rvq.js';
import { readHfTokenizer, tokenizerFiles } from './tokenizer-hf.js';
import type { TextTokenizer } from './tokenizer.js';
import { readLlama2cTokenizer } from './tokenizer-llama2c.js';
import { defaultDataDir } from '../data-dir.js';

/** The model library inside a ResKV data folder, unless RESKV_LIBRARY names another place. */
export function libraryDirIn(dataDir: string): string {
  return process.env.RESKV_LIBRARY ?? join(dataDir, 'models');
}

/** The library of the default data folder (RESKV_DATA_DIR or the platform's app-data folder). */
export function defaultLibraryDir(): string {
  return libraryDirIn(defaultDataDir());
}

export interface ImportProgress {
  bytesDone: number;
  bytesTotal: number;
  /** The hidden folder being written (renamed into place when complete). */
  partialFolder: string;
}

export interface ImportOptions extends OpenCheckpointOptions {
  library?: string;
  /** Folder name in the library (default: from the checkpoint's name). */
  id?: string;
  /** Stored weight format (default: by model size, defaultWeightType). */
  weightType?: WeightType;
  onProgress?: (p: ImportProgress) => void;
}

const weightsFileName = 'weights.bin';
const graphFiles = { fp: 'fp.onnx', fpHalfCache: 'fp-kv16.onnx', capture: 'capture.onnx' };

/** Converts a checkpoint into a library folder; returns its manifest and folder. */
export function importModel(sourcePath: string, options: ImportOptions = {}): { folder: string; manifest: ModelManifest } {
  const library = options.library ?? defaultLibraryDir();
  const id = options.id ?? modelIdFrom(sourcePath);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) throw new Error(`model id "${id}" may hold only letters, digits, '.', '_' and '-'`);
  const folder = join(library, id);
  if (existsSync(folder)) throw new Error(`${folder} already exists: remove it or import under another id`);

  const ck = openCheckpoint(sourcePath, options);
  const weightType = options.weightType ?? defaultWeightType(ck.config);
  const temp = join(library, `${tempPrefix}${id}-${process.pid}-${Date.now()}`);
  try {
    // the tokenizer is checked before the long weight conversion
    const tokenizer: TextTokenizer = ck.format === 'llama2c' ? readLlama2cTokenizer(ck.tokenizerPath, ck.config.vocabSize) : readHfTokenizer(ck.tokenizerPath);
    if (tokenizer.vocabSize > ck.config.vocabSize) throw new Error(`the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocabulary of ${ck.config.vocabSize}`);
    removeAbandonedImports(library);
    mkdirSync(library, { recursive: true });
    const bytesTotal = weightBytes(ck.config, weightType).onDisk;
    checkDiskRoom(library, bytesTotal + importReserveBytes, freeBytes(library));
    mkdirSync(temp, { recursive: true });
    let bytesDone = 0;
    options.onProgress?.({ bytesDone, bytesTotal, partialFolder: temp });
    const store = new ExternalTensorFile(join(temp, weightsFileName), (n) => {
      bytesDone += n;
      options.onProgress?.({ bytesDone, bytesTotal, partialFolder: temp });
    });
    try {
      writeFileSync(join(temp, graphFiles.fp), buildDecoderGraph(ck.config, ck.weights, { weightType, store }));
      writeFileSync(join(temp, graphFiles.fpHalfCache), buildDecoderGraph(ck.config, ck.weights, { weightType, store, cacheType: 'float16' }));
      writeFileSync(join(temp, graphFiles.capture), buildCaptureGraph(ck.config, ck.weights, { weightType, store }));
    } finally {
      store.close();
    }

    const tokenizerEntry: ModelManifest['tokenizer'] =
      ck.format === 'llama2c' ? { format: 'llama2c', file: 'tokenizer.bin' } : { format: 'huggingface', files: tokenizerFiles.filter((f) => existsSync(join(ck.tokenizerPath, f))) };
    if (tokenizerEntry.format === 'llama2c') copyFileSync(ck.tokenizerPath, join(temp, tokenizerEntry.file));
    else for (const f of tokenizerEntry.files) copyFileSync(join(ck.tokenizerPath, f), join(temp, f));
    const manifest: ModelManifest = {
      format: manifestFormat,
      id,
      source: { format: ck.format, path: resolve(sourcePath) },
      importedAt: new Date().toISOString(),
      config: ck.config,
      parameterCount: parameterCount(ck.config),
      weightType,
      weightsFile: weightsFileName,
      weightsBytes: store.bytesWritten,
      weightsTable: store.table,
      graphs: graphFiles,
      rvq: {},
      tokenizer: tokenizerEntry,
      bosId: tokenizer.bosId,
      eosIds: [...tokenizer.eosIds],
    };
    manifest.files = hashFiles(temp, allFileNames(manifest));
    writeManifest(temp, manifest);
    renameSync(temp, folder);
    return { folder, manifest };
  } catch (e) {
    rmSync(temp, { recursive: true, force: true });
    throw e;
  } finally {
    ck.weights.close();
  }
}

/** Room an import needs beyond the weights file: graphs, tokenizer, manifest. */
const importReserveBytes = 64 * 2 ** 20;

/** Bytes the current user may still write in the file system holding `folder`. */
export function freeBytes(folder: string): number {
  const fs = statfsSync(folder);
  return fs.bavail * fs.bsize;
}

/** Refuses before anything is written when the library's disk cannot take `needed` bytes. */
export function checkDiskRoom(folder: string, needed: number, free: number): void {
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  if (free < needed) throw new Error(`${folder}: not enough disk space for this import: it needs about ${gb(needed)}, ${gb(free)} free`);
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

/** The tokenizer stored with an imported model. */
export function loadLibraryTokenizer(folder: string, manifest: ModelManifest): TextTokenizer {
  verifyModelFiles(folder, manifest, tokenizerFileNames(manifest));
  return manifest.tokenizer.format === 'llama2c' ? readLlama2cTokenizer(join(folder, manifest.tokenizer.file), manifest.config.vocabSize) : readHfTokenizer(folder);
}

const tempPrefix = '.importing-';

/** Deletes temporary folders of imports whose process is gone (killed mid-import). */
function removeAbandonedImports(library: string): void {
  if (!existsSync(library)) return;
  for (const name of readdirSync(library)) {
    const pid = name.startsWith(tempPrefix) ? Number(name.match(/-(\d+)-\d+$/)?.[1]) : NaN;
    if (Number.isInteger(pid) && !processIsAlive(pid)) rmSync(join(library, name), { recursive: true, force: true });
  }
}

function modelIdFrom(sourcePath: string): string {
  const name = basename(sourcePath.replace(/[\\/]+$/, '')).replace(/\.bin$/, '');
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'model';
}
