// Installs an `rvq` decoder graph for a codebook set (quant/'s codebook file) into an imported
// model's library folder. The graph references the model's existing weights file; the codebooks are
// initializers inside the graph, and a copy of the codebook file is kept beside it. A set's files
// carry a generation in their names, so replacing a set writes new files and switches the manifest.
import { readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { copyFileAtomic, writeFileAtomic } from '../atomic-file.js';
import { decodeCodebooks } from '../../quant/index.js';
import { existingExternalTensors } from '../onnx/external-data.js';
import { buildRvqDecoderGraph, rvqGraphVersion } from '../onnx/rvq-cache.js';
import { expectedWeightShapes } from '../model/config.js';
import { hashFiles } from '../model/file-hashes.js';
import type { ModelManifest } from '../model/manifest.js';
import { readManifest } from '../model/manifest.js';
import { rvqSetFiles, switchRvqSets } from '../model/library-rvq.js';
import type { WeightSource } from '../model/weights.js';

export function installRvqGraph(modelFolder: string, codebookFile: string, name = 'default'): ModelManifest {
  const { graph: graphFile, codebooks: codebooksCopy } = rvqSetFiles(name, `${process.pid}-${Date.now().toString(36)}`);
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
  try {
    copyFileAtomic(codebookFile, join(modelFolder, codebooksCopy));
    writeFileAtomic(join(modelFolder, graphFile), graph);
    const entry = { graph: graphFile, codebooks: codebooksCopy, version: rvqGraphVersion };
    return switchRvqSets(modelFolder, manifest, { ...manifest.rvq, [name]: entry }, hashFiles(modelFolder, [graphFile, codebooksCopy]));
  } catch (err) {
    // not switched: the new files are nobody's (a kill here leaves them to sweepModelFolder)
    if (readManifest(modelFolder).rvq[name]?.graph !== graphFile) for (const file of [graphFile, codebooksCopy]) rmSync(join(modelFolder, file), { force: true });
    throw err;
  }
}
