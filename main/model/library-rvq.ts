// A model's codebook sets in its library folder: removing a set and sweeping what killed processes
// left behind. A set's files carry a generation in their names, so replacing a set writes new files and
// switches the manifest (switchRvqSets). Installing a set builds a graph: main/library/install-rvq.ts.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { processIsAlive } from '../atomic-file.js';
import type { FileHashes } from './file-hashes.js';
import type { ModelManifest } from './manifest.js';
import { readManifest, writeManifest } from './manifest.js';

/** Removes a codebook set: the manifest first (one rename), then its files. */
export function removeRvqSet(modelFolder: string, name: string): ModelManifest {
  const manifest = readManifest(modelFolder);
  if (!manifest.rvq[name]) throw new Error(`model '${manifest.id}' has no codebook set '${name}'`);
  return switchRvqSets(modelFolder, manifest, Object.fromEntries(Object.entries(manifest.rvq).filter(([set]) => set !== name)), {});
}

/** Writes the manifest with `sets` (the switch), then deletes the files no set names any more. */
export function switchRvqSets(modelFolder: string, manifest: ModelManifest, sets: ModelManifest['rvq'], added: FileHashes): ModelManifest {
  const dropped = Object.values(manifest.rvq).flatMap((set) => [set.graph, set.codebooks]);
  const kept = new Set(Object.values(sets).flatMap((set) => [set.graph, set.codebooks]));
  const files = manifest.files && { ...Object.fromEntries(Object.entries(manifest.files).filter(([file]) => !dropped.includes(file) || kept.has(file))), ...added };
  const updated: ModelManifest = { ...manifest, rvq: sets, ...(files ? { files } : {}) };
  writeManifest(modelFolder, updated);
  for (const file of dropped) if (!kept.has(file)) rmSync(join(modelFolder, file), { force: true });
  return updated;
}

/** What a codebook set's name may hold: it becomes part of the set's file names. */
export const codebookSetName = { pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/, rule: "may hold only letters, digits, '.', '_' and '-'" };

/** A set's graph and codebook file names for one generation (`<pid>-<time>`, see sweepModelFolder). */
export function rvqSetFiles(name: string, generation: string): { graph: string; codebooks: string } {
  if (!codebookSetName.pattern.test(name)) throw new Error(`codebook set name "${name}" ${codebookSetName.rule}`);
  return { graph: `rvq-${name}.${generation}.onnx`, codebooks: `codebooks-${name}.${generation}.safetensors` };
}

/** A codebook set's graph or codebook file (as rvqSetFiles names them). */
const setFilePattern = /^(?:rvq-.+\.onnx|codebooks-.+\.safetensors)$/;
const writerPattern = /\.(\d+)-[0-9a-z]+\.(?:onnx|safetensors|tmp)$|^\.calibrating-.*-(\d+)\.safetensors$|\.(\d+)\.\d+\.tmp$/;

/**
 * Deletes what killed processes left in a model folder: temporary files (`*.tmp`, `.calibrating-*`)
 * and codebook-set files the manifest does not name. Files of a process still running are kept.
 */
export function sweepModelFolder(modelFolder: string, manifest: ModelManifest): string[] {
  const named = new Set(Object.values(manifest.rvq).flatMap((set) => [set.graph, set.codebooks]));
  const swept: string[] = [];
  for (const file of readdirSync(modelFolder)) {
    const leftover = file.endsWith('.tmp') || file.startsWith('.calibrating-') || (setFilePattern.test(file) && !named.has(file));
    if (!leftover) continue;
    const match = writerPattern.exec(file);
    const writer = match ? Number(match[1] ?? match[2] ?? match[3]) : NaN;
    if (Number.isInteger(writer) && processIsAlive(writer)) continue;
    rmSync(join(modelFolder, file), { force: true });
    swept.push(file);
  }
  return swept;
}
