// The fused CPU path for a library model: its split-graph segments (written beside the model's other
// graphs on first use, referencing the same weights file) opened on the CPU provider, and the kernel.
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { writeFileAtomic } from '../../atomic-file.js';
import { expectedWeightShapes } from '../../model/config.js';
import type { ModelConfig } from '../../model/config.js';
import { DamagedFileError, hashFiles } from '../../model/file-hashes.js';
import { readManifest, verifyModelFiles, writeManifest } from '../../model/manifest.js';
import type { ModelManifest } from '../../model/manifest.js';
import type { WeightSource } from '../../model/weights.js';
import { existingExternalTensors } from '../../onnx/external-data.js';
import type { SessionOptionsInput } from '../session.js';
import { FusedKernel } from './kernel.js';
import { SEGMENT_SPIN_US, buildSplitSegment, openSplitSessions, splitGraphVersion } from './split-graph.js';

export interface FusedParts {
  kernel: FusedKernel;
  sessions: ort.InferenceSession[];
}

/** The fused path's segment graphs in a model folder: split-0.onnx .. split-<layers>.onnx. */
export function splitSegmentFileNames(config: ModelConfig): string[] {
  return Array.from({ length: config.numLayers + 1 }, (_, i) => `split-${i}.onnx`);
}

/** The manifest records these segments, by this builder's version, and their bytes match its hashes. */
function segmentsIntact(folder: string, manifest: ModelManifest, names: readonly string[]): boolean {
  const { split, files } = manifest;
  if (!files || split?.version !== splitGraphVersion || split.files.join() !== names.join()) return false;
  try {
    verifyModelFiles(folder, manifest, names);
    return true;
  } catch (error) {
    if (error instanceof DamagedFileError) return false;
    throw error;
  }
}

/**
 * Segment files of a library model, checked against the hashes the manifest records; built from the
 * (hashed) weights when missing, damaged or written by another version: files first, then one manifest
 * write records them. A manifest without hashes (written before they were recorded) gets none, so its
 * segments are rebuilt on every open.
 */
function splitSegmentFiles(folder: string, manifest: ModelManifest): string[] {
  const names = splitSegmentFileNames(manifest.config);
  const paths = names.map((name) => join(folder, name));
  // the manifest on disk: one held since before the segments were recorded would rebuild them again
  if (segmentsIntact(folder, readManifest(folder), names)) return paths;
  const missing = (tensor: string): never => {
    throw new Error(`${manifest.weightsFile} has no tensor ${tensor}; re-import the model`);
  };
  const weights: WeightSource = { shapes: expectedWeightShapes(manifest.config), read: missing, readRows: missing, close: () => {} };
  const store = existingExternalTensors(manifest.weightsFile, manifest.weightsTable);
  paths.forEach((path, i) => writeFileAtomic(path, buildSplitSegment(manifest.config, weights, i, { weightType: manifest.weightType, store })));
  // read again just before the switch, not to undo a change made since this open began (a codebook set installed)
  const current = readManifest(folder);
  if (current.files) writeManifest(folder, { ...current, split: { version: splitGraphVersion, files: names }, files: { ...current.files, ...hashFiles(folder, names) } });
  return paths;
}

export async function openFusedParts(folder: string, manifest: ModelManifest, session: SessionOptionsInput = {}): Promise<FusedParts> {
  return { kernel: new FusedKernel(), sessions: await openSplitSessions(splitSegmentFiles(folder, manifest), session, SEGMENT_SPIN_US) };
}

/**
 * The attention feature of `config` the kernel lacks (it scores q.k / sqrt(head_dim) over every past
 * token, without soft-capping), or null when the fused path computes the model exactly.
 */
export function fusedKernelGap(config: ModelConfig): string | null {
  if (config.slidingWindow) return 'sliding-window attention';
  if (config.attentionSoftcap) return 'attention soft-capping';
  if (config.attentionScalar !== undefined && config.attentionScalar !== config.headDim) return 'query_pre_attn_scalar';
  return null;
}
