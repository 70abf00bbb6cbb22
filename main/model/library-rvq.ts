// Installs an `rvq` decoder graph for a codebook set (quant/'s codebook file) into an imported
// model's library folder. The graph references the model's existing weights file; the codebooks are
// initializers inside the graph, and a copy of the codebook file is kept beside it. A set's files
// carry a generation in their names, so replacing a set writes new files and switches the manifest.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { copyFileAtomic, processIsAlive, writeFileAtomic } from '../atomic-file.js';
import { decodeCodebooks } from '../../quant/index.js';
import { existingExternalTensors } from '../onnx/external-data.js';
import { buildRvqDecoderGraph } from '../onnx/rvq-cache.js';
import { expectedWeightShapes } from './config.js';
import { hashFiles } from './file-hashes.js';
import type { FileHashes } from './file-hashes.js';
import type { ModelManifest } from './manifest.js';
import { readManifest, writeManifest } from './manifest.js';
import type { WeightSource } from './weights.js';

export function installRvqGraph(modelFolder: string, codebookFile: string, name = 'default'): ModelManifest {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`codebook set name "${name}" may hold only letters, digits, '.', '_' and '-'`);
  const manifest = readManifest(modelFolder);
  let codebooks;
  try {
    // a plain Uint8Array copy: Node Buffers' slice() shares memory, which quant/'s decoder does not expect
    codebooks = decodeCodebooks(new Uint8Array(readFileSync(codebookFile)));
  } catch (e) {
    throw new Error(`${basename(codebookFile)}: ${(e as Error).message}`, { cause: e });
  }
  // Every weight is already in the weights file; nothing may be read from a checkpoint here.
  const missing = (tensor: string): never => {
    throw new Error(`${manifest.weightsFile} has no tensor ${tensor}; re-import the model`);
  };
  const weights: WeightSource = { shapes: expectedWeightShapes(manifest.config), read: missing, readRows: missing, close: () => {} };
  const graph = buildRvqDecoderGraph(manifest.config, weights, codebooks, {
    weightType: manifest.weightType,
    store: existingExternalTensors(manifest.weightsFile, manifest.weightsTable),
  });
  // fresh names, then one manifest rename switches to them: a crash leaves the old set or the new, never a mix
  const generation = `${process.pid}-${Date.now().toString(36)}`;
  const graphFile = `rvq-${name}.${generation}.onnx`;
  const codebooksCopy = `codebooks-${name}.${generation}.safetensors`;
  try {
    copyFileAtomic(codebookFile, join(modelFolder, codebooksCopy));
    writeFileAtomic(join(modelFolder, graphFile), graph);
    const entry = { graph: graphFile, codebooks: codebooksCopy };
    return switchRvqSets(modelFolder, manifest, { ...manifest.rvq, [name]: entry }, hashFiles(modelFolder, [graphFile, codebooksCopy]));
  } catch (err) {
    // not switched: the new files are nobody's (a kill here leaves them to sweepModelFolder)
    if (readManifest(modelFolder).rvq[name]?.graph !== graphFile) for (const file of [graphFile, codebooksCopy]) rmSync(join(modelFolder, file), { force: true });
    throw err;
  }
}

/** Removes a codebook set: the manifest first (one rename), then its files. */
export function removeRvqSet(modelFolder: string, name: string): ModelManifest {
  const manifest = readManifest(modelFolder);
  if (!manifest.rvq[name]) throw new Error(`model '${manifest.id}' has no codebook set '${name}'`);
  return switchRvqSets(modelFolder, manifest, Object.fromEntries(Object.entries(manifest.rvq).filter(([set]) => set !== name)), {});
}

/** Writes the manifest with `sets` (the switch), then deletes the files no set names any more. */
function switchRvqSets(modelFolder: string, manifest: ModelManifest, sets: ModelManifest['rvq'], added: FileHashes): ModelManifest {
  const dropped = Object.values(manifest.rvq).flatMap((set) => [set.graph, set.codebooks]);
  const kept = new Set(Object.values(sets).flatMap((set) => [set.graph, set.codebooks]));
  const files = manifest.files && { ...Object.fromEntries(Object.entries(manifest.files).filter(([file]) => !dropped.includes(file) || kept.has(file))), ...added };
  const updated: ModelManifest = { ...manifest, rvq: sets, ...(files ? { files } : {}) };
  writeManifest(modelFolder, updated);
  for (const file of dropped) if (!kept.has(file)) rmSync(join(modelFolder, file), { force: true });
  return updated;
}

/** A codebook set's graph or codebook file, with the process that wrote it when the name carries one. */
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
