// Installs a model into the library: converts a checkpoint into a library folder (graphs, weights,
// tokenizer, manifest). It builds graphs (main/onnx) from checkpoints (main/model), so it sits above
// both. An import is written into a hidden temporary folder and renamed into place only when complete.
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parameterCount } from '../model/config.js';
import { buildCaptureGraph, buildDecoderGraph } from '../onnx/decoder.js';
import { ExternalTensorFile } from '../onnx/external-data.js';
import type { WeightType } from '../model/weights.js';
import { defaultWeightType, weightBytes } from '../model/weights.js';
import type { OpenCheckpointOptions } from '../model/checkpoint.js';
import { openCheckpoint } from '../model/checkpoint.js';
import type { ModelManifest } from '../model/manifest.js';
import { allFileNames, manifestFormat, writeManifest } from '../model/manifest.js';
import { hashFiles } from '../model/file-hashes.js';
import { modelIdSchema } from '../model/model-id.js';
import { defaultLibraryDir, importingPrefix, removeAbandonedImports } from '../model/library.js';
import { readHfTokenizer, tokenizerFiles } from '../model/tokenizer-hf.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { readLlama2cTokenizer } from '../model/tokenizer-llama2c.js';

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
  const checked = modelIdSchema.safeParse(id);
  if (!checked.success) throw new Error(`model id "${id}": ${checked.error.issues[0]!.message}`);
  const folder = join(library, id);
  if (existsSync(folder)) throw new Error(`${folder} already exists: remove it or import under another id`);

  const ck = openCheckpoint(sourcePath, options);
  const weightType = options.weightType ?? defaultWeightType(ck.config);
  const temp = join(library, `${importingPrefix}${id}-${process.pid}-${Date.now()}`);
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


function modelIdFrom(sourcePath: string): string {
  const name = basename(sourcePath.replace(/[\\/]+$/, '')).replace(/\.bin$/, '');
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 128) || 'model';
}
