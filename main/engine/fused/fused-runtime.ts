// The fused CPU path for a library model: its split-graph segments (written beside the model's other
// graphs on first use, referencing the same weights file) opened on the CPU provider, and the kernel.
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { writeFileAtomic } from '../../atomic-file.js';
import { expectedWeightShapes } from '../../model/config.js';
import type { ModelConfig } from '../../model/config.js';
import { DamagedFileError, hashFiles } from '../../model/file-hashes.js';
import { readManifest, verifyModelFiles, writeManifest } from '../../model/manifest.js';
import type { ModelManifest } from '../../model/manifest.js';
import { readExactly } from '../../model/read-exactly.js';
import type { WeightSource } from '../../model/weights.js';
import { existingExternalTensors } from '../../onnx/external-data.js';
import type { SessionOptionsInput } from '../session.js';
import { FusedKernel } from './kernel.js';
import { KernelLayers, KernelLayersTooLarge, kernelLayersGap } from './kernel-layers.js';
import type { LayerWeightReader } from './kernel-layers.js';
import { SEGMENT_SPIN_US, buildSplitSegment, openSplitSessions, splitGraphVersion } from './split-graph.js';

export interface FusedParts {
  kernel: FusedKernel;
  sessions: ort.InferenceSession[];
  /** The dense layers in the kernel for one-token steps, or null: those steps run the segments too. */
  layers: KernelLayers | null;
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
  const kernel = new FusedKernel();
  const sessions = await openSplitSessions(splitSegmentFiles(folder, manifest), session, SEGMENT_SPIN_US);
  try {
    return { kernel, sessions, layers: openKernelLayers(folder, manifest, kernel) };
  } catch (error) {
    await Promise.all(sessions.map((s) => s.release()));
    kernel.close();
    throw error;
  }
}

/**
 * Whether one-token steps run on the kernel layers (RESKV_KERNEL_LAYERS=1, the default) or on the
 * segments (0). On the idle 2-core VM (SmolLM2-135M geometry, 2026-12-05 08:04-08:11): bench:step, the
 * fp16 step 0.78x the segments' time at 128 tokens and 0.85x at 2048, rvq d8 0.80x and 0.90x; bench:peer
 * back to back, fused fp16 50.5 against 62.7 ms at 128 and 72.4 against 89.3 at 2048. With one core kept
 * busy about even (0.92-1.05x, 08:19). The cost: the float32 weights a second time, in kernel memory
 * (+513 MiB resident for SmolLM2-135M, per fused runtime open).
 */
function kernelLayersChosen(): boolean {
  const chosen = process.env.RESKV_KERNEL_LAYERS;
  if (chosen !== undefined && chosen !== '0' && chosen !== '1') throw new Error(`RESKV_KERNEL_LAYERS must be 0 or 1, got ${JSON.stringify(chosen)}`);
  return chosen !== '0';
}

/** The kernel layers of a float32 library model when chosen, or null: not chosen, a model they lack a feature of, or weights past the kernel memory. */
function openKernelLayers(folder: string, manifest: ModelManifest, kernel: FusedKernel): KernelLayers | null {
  if (!kernelLayersChosen() || kernelLayersGap(manifest.config, manifest.weightType)) return null;
  const fd = openSync(join(folder, manifest.weightsFile), 'r');
  try {
    return KernelLayers.load(kernel, manifest.config, weightsFileReader(fd, manifest));
  } catch (error) {
    if (error instanceof KernelLayersTooLarge) return null;
    throw error;
  } finally {
    closeSync(fd);
  }
}

/**
 * Tensors of the model's weights file (checked against its hash on open) by the manifest's table:
 * float32 matrices the graphs multiply by are stored transposed ([in, out], `<name>.T`), and turned
 * back to [out, in] here; the rest as they are.
 */
function weightsFileReader(fd: number, manifest: ModelManifest): LayerWeightReader {
  const { weightsFile, weightsTable } = manifest;
  return (name, into, rows, cols) => {
    const transposed = !weightsTable[name] && weightsTable[`${name}.T`] !== undefined;
    const entry = weightsTable[transposed ? `${name}.T` : name];
    if (!entry) throw new Error(`${weightsFile} has no tensor ${name}; re-import the model`);
    if (entry.length !== into.byteLength) throw new Error(`${weightsFile}: tensor ${name} holds ${entry.length} bytes, expected ${into.byteLength} (float32 [${rows}, ${cols}])`);
    const stored = transposed ? new Float32Array(rows * cols) : into;
    readExactly(fd, new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength), entry.offset, () => `${weightsFile} ends inside tensor ${name}`);
    if (transposed) transposeInto(stored, cols, rows, into);
  };
}

/** to = from^T for from [rows, cols] row-major, in tiles (both sides stay in cache). */
function transposeInto(from: Float32Array, rows: number, cols: number, to: Float32Array): void {
  const TILE = 64;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      for (let r = r0; r < Math.min(r0 + TILE, rows); r++) for (let c = c0; c < Math.min(c0 + TILE, cols); c++) to[c * rows + r] = from[r * cols + c];
    }
  }
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
