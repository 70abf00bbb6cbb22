// Lazy access to a checkpoint's tensors under Hugging Face names, so a converter holds one tensor
// (or a slice of rows of one) at a time rather than the whole model; and the weight formats a model
// can be imported in, with their byte accounting.
import type { BlockQuantSpec } from '../../quant/weight-quant.js';
import { blockQuantizedBytes } from '../../quant/weight-quant.js';
import type { ModelConfig, WeightGeometry } from './config.js';
import { expectedWeightShapes, parameterCount } from './config.js';

export interface WeightSource {
  /** Row-major shape of every tensor, Hugging Face names; exactly expectedWeightShapes(config). */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** The tensor as float32 (converted from the stored dtype), read from disk on demand. */
  read(name: string): Float32Array;
  /** Rows [start, start + count) of a tensor (first axis) as float32, read from disk on demand. */
  readRows(name: string, start: number, count: number): Float32Array;
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

/** Values per slice when a large tensor is converted a slice of rows at a time (64 MB as float32). */
const sliceValues = 16 * 2 ** 20;

/** Calls `each` with consecutive slices of rows of a [rows, cols] tensor (bounded memory). */
export function forEachRowSlice(source: WeightSource, name: string, each: (rows: Float32Array, start: number, count: number) => void): void {
  const shape = source.shapes.get(name);
  if (!shape) throw new Error(`unknown weight tensor ${name}`);
  const rows = shape[0];
  const cols = shape.slice(1).reduce((a, b) => a * b, 1);
  const step = Math.max(1, Math.floor(sliceValues / cols));
  for (let start = 0; start < rows; start += step) {
    const count = Math.min(step, rows - start);
    each(source.readRows(name, start, count), start, count);
  }
}

export const weightTypes = ['float32', 'float16', 'int8', 'int4'] as const;
export type WeightType = (typeof weightTypes)[number];

/**
 * Block size and zero points of the quantized formats, chosen by measurement (bench:weight-quality
 * style check in test/bench/weight-formats.ts): see README "Weight formats".
 */
export const linearQuantSpecs: Record<'int8' | 'int4', BlockQuantSpec> = {
  int8: { bits: 8, blockSize: 128, symmetric: true },
  int4: { bits: 4, blockSize: 32, symmetric: false },
};

/** The classifier (logits) stays at 8 bits in both quantized formats: its error reaches every token. */
export const classifierQuantSpec: BlockQuantSpec = { bits: 8, blockSize: 128, symmetric: true };

export function isQuantized(t: WeightType): t is 'int8' | 'int4' {
  return t === 'int8' || t === 'int4';
}

/** Default format by model size: small models stay float32 (speed and quality), larger ones shrink. */
export function defaultWeightType(config: ModelConfig): WeightType {
  const params = parameterCount(config);
  return params < 500e6 ? 'float32' : params < 3e9 ? 'int8' : 'int4';
}

export interface WeightBytes {
  /** Bytes of the weights file. */
  onDisk: number;
  /**
   * Bytes ONNX Runtime holds on CPU: float16 matrices are cast to float32 once at load (constant
   * folding), so they count twice their file size; the float16 embedding is gathered as stored.
   */
  inMemory: number;
}

/** Weight bytes of a model in a format (initializers only; the 64-byte alignment is ignored). */
export function weightBytes(config: WeightGeometry, type: WeightType): WeightBytes {
  const shapes = expectedWeightShapes(config);
  let onDisk = 0;
  let inMemory = 0;
  for (const [name, shape] of shapes) {
    const values = shape.reduce((a, b) => a * b, 1);
    const isEmbedding = name === 'model.embed_tokens.weight';
    const isMatrix = shape.length === 2 && !isEmbedding;
    let disk: number;
    let memory: number;
    if (type === 'float32') disk = memory = values * 4;
    else if (isMatrix && isQuantized(type)) disk = memory = blockQuantizedBytes(shape[0], shape[1], name === 'lm_head.weight' ? classifierQuantSpec : linearQuantSpecs[type]);
    else {
      disk = values * 2;
      memory = isEmbedding ? disk : values * 4;
    }
    onDisk += disk;
    inMemory += memory;
  }
  // a tied model's classifier is the embedding: stored again, quantized, in the quantized formats
  if (config.tiedEmbeddings && isQuantized(type)) {
    const head = blockQuantizedBytes(config.vocabSize, config.hiddenSize, classifierQuantSpec);
    onDisk += head;
    inMemory += head;
  } else if (config.tiedEmbeddings && type === 'float16') {
    inMemory += config.vocabSize * config.hiddenSize * 4; // the Gemm's float32 copy
  }
  return { onDisk, inMemory };
}

const weightTypeAliases: Record<string, WeightType> = { fp32: 'float32', fp16: 'float16', float32: 'float32', float16: 'float16', int8: 'int8', int4: 'int4' };

/** A weight format as users type it (int4, int8, fp16, fp32 or float16/float32); throws naming the choices. */
export function parseWeightType(text: string): WeightType {
  const type = weightTypeAliases[text];
  if (!type) throw new Error(`weights must be one of int4, int8, fp16, fp32, got '${text}'`);
  return type;
}
