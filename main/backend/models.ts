// The model library as the app sees it: summaries, import as a job, removal. Runs in the backend worker.
import { rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { ModelSummary } from '../api/types.js';
import { kvBytesPerTokenFp16 } from '../model/config.js';
import { importInWorker } from '../library/import-in-worker.js';
import { listModels } from '../model/library.js';
import { manifestFileName, manifestFormat } from '../model/manifest.js';
import { weightBytes } from '../model/weights.js';
import { calibrationDefaults, calibrationSummaries } from './calibrations.js';
import type { JobControl } from './jobs.js';
import { isModelFolder } from './library-folders.js';
import { libraryFor } from './settings.js';

export function listModelSummaries(dataDir: string): ModelSummary[] {
  return listModels(libraryFor(dataDir)).map(({ folder, manifest, problem, bytesOnDisk }) => ({
    id: basename(folder),
    folder,
    bytesOnDisk,
    info: manifest && {
      architecture: manifest.config.architecture,
      parameterCount: manifest.parameterCount,
      weightType: manifest.weightType,
      weightBytesOnDisk: manifest.weightsBytes,
      weightBytesInMemory: weightBytes(manifest.config, manifest.weightType).inMemory,
      numLayers: manifest.config.numLayers,
      numKvHeads: manifest.config.numKvHeads,
      headDim: manifest.config.headDim,
      maxPositions: manifest.config.maxPositions,
      kvBytesPerTokenFp16: kvBytesPerTokenFp16(manifest.config),
      importedAt: manifest.importedAt,
      source: manifest.source.path,
      calibrations: calibrationSummaries(folder, manifest),
      calibrationDefaults: calibrationDefaults(manifest),
    },
    problem: problem ?? null,
  }));
}

/**
 * Imports a checkpoint in its own worker thread (this one keeps serving chat and the API); a cancel
 * (the job's signal, or report throwing) stops it and removes the partial folder.
 */
export function importIntoLibrary(dataDir: string, path: string, control: JobControl): Promise<string> {
  return importInWorker(
    resolve(path),
    {
      library: libraryFor(dataDir),
      onProgress: ({ bytesDone, bytesTotal }) => control.report({ done: bytesDone, total: bytesTotal, unit: 'bytes', stage: 'converting weights' }),
    },
    control.signal,
  );
}

/** Deletes a model's folder; only a folder that carries our manifest (never any other folder). */
export function removeModel(dataDir: string, id: string): void {
  const entry = listModelSummaries(dataDir).find((m) => m.id === id);
  if (!entry) throw new Error(`no model '${id}' in the library`);
  if (!isModelFolder(entry.folder)) {
    throw new Error(`${entry.folder} is not a ResKV model folder (no ${manifestFileName} of format ${manifestFormat}): ResKV does not delete it; remove it yourself if it should go`);
  }
  rmSync(entry.folder, { recursive: true, force: true });
}
