// Installs an `rvq` decoder graph for a codebook set (quant/'s codebook file) into an imported
// model's library folder. The graph references the model's existing weights file; the codebooks are
// initializers inside the graph, and a copy of the codebook file is kept beside it.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { copyFileAtomic, writeFileAtomic } from '../atomic-file.js';
import { decodeCodebooks } from '../../quant/index.js';
import { existingExternalTensors } from '../onnx/external-data.js';
import { buildRvqDecoderGraph } from '../onnx/rvq-cache.js';
import { expectedWeightShapes } from './config.js';
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
  const graphFile = `rvq-${name}.onnx`;
  const codebooksCopy = `codebooks-${name}.safetensors`;
  copyFileAtomic(codebookFile, join(modelFolder, codebooksCopy));
  writeFileAtomic(join(modelFolder, graphFile), graph);
  const updated: ModelManifest = { ...manifest, rvq: { ...manifest.rvq, [name]: { graph: graphFile, codebooks: codebooksCopy } } };
  writeManifest(modelFolder, updated);
  return updated;
}
