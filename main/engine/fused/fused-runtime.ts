// The fused CPU path for a library model: its split-graph segments (written beside the model's other
// graphs on first use, referencing the same weights file) opened on the CPU provider, and the kernel.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { writeFileAtomic } from '../../atomic-file.js';
import { expectedWeightShapes } from '../../model/config.js';
import type { ModelConfig } from '../../model/config.js';
import type { ModelManifest } from '../../model/manifest.js';
import type { WeightSource } from '../../model/weights.js';
import { existingExternalTensors } from '../../onnx/external-data.js';
import type { SessionOptionsInput } from '../session.js';
import { FusedKernel } from './kernel.js';
import { buildSplitSegment, openSplitSessions } from './split-graph.js';

export interface FusedParts {
  kernel: FusedKernel;
  sessions: ort.InferenceSession[];
}

/**
 * The fused path's segment graphs in a model folder (split-0.onnx .. split-<layers>.onnx): derived
 * from the hashed weights and rebuilt or compared byte for byte on every open, so the manifest does
 * not list them.
 */
export function splitSegmentFileNames(config: ModelConfig): string[] {
  return Array.from({ length: config.numLayers + 1 }, (_, i) => `split-${i}.onnx`);
}

/** Segment files of a library model, rewritten when missing or built by another version. */
function splitSegmentFiles(folder: string, manifest: ModelManifest): string[] {
  const weights: WeightSource = {
    shapes: expectedWeightShapes(manifest.config),
    read: (tensor) => {
      throw new Error(`${manifest.weightsFile} has no tensor ${tensor}; re-import the model`);
    },
    readRows: (tensor) => {
      throw new Error(`${manifest.weightsFile} has no tensor ${tensor}; re-import the model`);
    },
    close: () => {},
  };
  const store = existingExternalTensors(manifest.weightsFile, manifest.weightsTable);
  return splitSegmentFileNames(manifest.config).map((name, i) => {
    const file = join(folder, name);
    const bytes = buildSplitSegment(manifest.config, weights, i, { weightType: manifest.weightType, store });
    if (!existsSync(file) || !Buffer.from(bytes).equals(readFileSync(file))) writeFileAtomic(file, bytes);
    return file;
  });
}

export async function openFusedParts(folder: string, manifest: ModelManifest, session: SessionOptionsInput = {}): Promise<FusedParts> {
  return { kernel: new FusedKernel(), sessions: await openSplitSessions(splitSegmentFiles(folder, manifest), session) };
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
