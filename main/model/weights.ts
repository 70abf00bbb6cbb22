// Lazy access to a checkpoint's tensors under Hugging Face names, so a converter holds one tensor
// at a time rather than the whole model.
import type { ModelConfig } from './config.js';

export interface WeightSource {
  /** Row-major shape of every tensor, Hugging Face names; exactly expectedWeightShapes(config). */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** The tensor as float32 (converted from the stored dtype), read from disk on demand. */
  read(name: string): Float32Array;
  close(): void;
}

/** A checkpoint as the readers return it. */
export interface LoadedCheckpoint {
  config: ModelConfig;
  weights: WeightSource;
}

/** Reads every tensor into memory (for small models: tests, the reference forward). */
export function readAllWeights(source: WeightSource): Map<string, Float32Array> {
  const all = new Map<string, Float32Array>();
  for (const name of source.shapes.keys()) all.set(name, source.read(name));
  return all;
}
