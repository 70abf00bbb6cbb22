// Lazy access to a checkpoint's tensors under Hugging Face names, so a converter holds one tensor
// at a time rather than the whole model.
import type { ModelConfig } from './config.js';
import { expectedWeightShapes } from './config.js';

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

/** Weights already in memory (tests, the exporter, small models). */
export class InMemoryWeights implements WeightSource {
  readonly shapes: Map<string, number[]>;

  constructor(
    config: ModelConfig,
    private readonly tensors: ReadonlyMap<string, Float32Array>,
  ) {
    this.shapes = expectedWeightShapes(config);
    for (const [name, shape] of this.shapes) {
      const t = tensors.get(name);
      if (!t) throw new Error(`missing weight tensor ${name}`);
      const n = shape.reduce((a, b) => a * b, 1);
      if (t.length !== n) throw new Error(`weight tensor ${name} has ${t.length} values, expected ${n} for shape [${shape}]`);
    }
  }

  read(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`unknown weight tensor ${name}`);
    return t;
  }

  close(): void {}
}

/** Reads every tensor into memory (for small models: tests, the reference forward). */
export function readAllWeights(source: WeightSource): Map<string, Float32Array> {
  const all = new Map<string, Float32Array>();
  for (const name of source.shapes.keys()) all.set(name, source.read(name));
  return all;
}
