// The local API's model list (backend worker): the library models it offers, with their caches.
import { basename } from 'node:path';
import type { ApiModel, CacheName } from '../api/types.js';
import { codebookSetName } from '../engine/cache-runtime.js';
import { listModels } from '../model/library.js';
import { calibrationSummaries } from './calibrations.js';
import { libraryFor } from './settings.js';

/** The scalar formats every model runs; rvq needs codebooks. */
const scalarCaches = ['fp16', 'q8_0', 'q4_0', 'kivi2'] as const;

/**
 * Library models that can run (a readable manifest), with the caches a request may choose: rvq:<set>
 * for each codebook set (up to the depth both kinds have, when its codebooks are readable), and
 * plain rvq for the default set (see codebookSetName) when there is one.
 */
export function listApiModels(dataDir: string): ApiModel[] {
  const models: ApiModel[] = [];
  for (const { folder, manifest } of listModels(libraryFor(dataDir))) {
    if (!manifest) continue;
    const maxDepths: Record<CacheName, number> = {};
    let sets: ReturnType<typeof calibrationSummaries> = [];
    try {
      sets = calibrationSummaries(folder, manifest);
    } catch {
      // unreadable codebooks: only the scalar formats are on offer
    }
    for (const set of sets) if (set.key && set.value) maxDepths[`rvq:${set.name}`] = Math.min(set.key.depth, set.value.depth);
    let defaultSet: string | null = null;
    try {
      defaultSet = codebookSetName(manifest);
    } catch {
      // no codebooks, or several without a default: plain rvq is not on offer
    }
    // a damaged set stays on offer (without a depth): a request for it fails naming the file, never falls back to fp16
    const named = sets.map((set) => `rvq:${set.name}`).sort();
    if (defaultSet !== null && maxDepths[`rvq:${defaultSet}`] !== undefined) maxDepths.rvq = maxDepths[`rvq:${defaultSet}`];
    models.push({ id: basename(folder), importedAt: manifest.importedAt, caches: [...scalarCaches, ...(defaultSet === null ? [] : ['rvq']), ...named], maxDepths });
  }
  return models;
}
