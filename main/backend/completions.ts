// The local API's model list (backend worker): the library models it offers, with their caches.
import { basename } from 'node:path';
import type { ApiModel } from '../api/types.js';
import { codebookSetName } from '../engine/cache-runtime.js';
import { listModels } from '../model/library.js';
import { calibrationSummaries } from './calibrations.js';
import { libraryFor } from './settings.js';

/** The scalar formats every model runs; rvq needs codebooks. */
const scalarCaches = ['fp16', 'q8_0', 'q4_0', 'kivi2'] as const;

/**
 * Library models that can run (a readable manifest), with the caches a request may choose: rvq
 * when the model's default codebook set (see codebookSetName) is readable, up to the depth both of
 * its kinds have.
 */
export function listApiModels(dataDir: string): ApiModel[] {
  const models: ApiModel[] = [];
  for (const { folder, manifest } of listModels(libraryFor(dataDir))) {
    if (!manifest) continue;
    let maxDepth: number | null = null;
    try {
      const set = calibrationSummaries(folder, manifest).find((c) => c.name === codebookSetName(manifest));
      if (set?.key && set.value) maxDepth = Math.min(set.key.depth, set.value.depth);
    } catch {
      // no codebooks, or several without a default: plain rvq is not on offer
    }
    models.push({ id: basename(folder), importedAt: manifest.importedAt, caches: maxDepth === null ? [...scalarCaches] : [...scalarCaches, 'rvq'], maxDepth });
  }
  return models;
}
