// The one interface every KV cache store implements (RVQ codes, fp16, scalar baselines), the byte
// accounting they all report, and the form in which a graph hands a store its new keys/values.
import { z } from 'zod';
import type { KvKind, ScalarFormat } from '../../quant/index.js';

export type { KvKind };
export const KV_KINDS: readonly KvKind[] = ['key', 'value'];

/** rvq-keys / rvq-values: RVQ on one kind only, the other fp16 (OneKindRvqStore). */
export type KvFormat = 'rvq' | 'rvq-keys' | 'rvq-values' | ScalarFormat;

/**
 * Bytes a store holds for the tokens it has, split by what they are. `held` is the sum of the four
 * parts; `allocated` adds the spare capacity of the growing buffers.
 */
export interface KvBytes {
  tokens: number;
  /** Packed quantized payload: RVQ token codes, scalar-format quants. */
  codes: number;
  /** fp16 scales (and KIVI zero points). */
  scales: number;
  /** fp16 numbers held uncoded: the fp16 cache, the RVQ store's recent window, a scalar store's pending block. */
  uncoded: number;
  /** Per-token bookkeeping the graph reads too (RVQ: each token's depth, 1 byte). */
  bookkeeping: number;
  held: number;
  /** What the same tokens take as an fp16 cache (2 bytes per value). */
  fp16: number;
  allocated: number;
  /** Bytes handed to the graph as the past on each step at this length. */
  fedPerStep: number;
}

export function kvBytes(parts: Omit<KvBytes, 'held'>): KvBytes {
  return { ...parts, held: parts.codes + parts.scales + parts.uncoded + parts.bookkeeping };
}

/** Sums accounting over layers / K and V; token counts are not summed (every part holds the same tokens). */
export function sumKvBytes(parts: readonly KvBytes[]): KvBytes {
  const total = kvBytes({ tokens: parts[0]?.tokens ?? 0, codes: 0, scales: 0, uncoded: 0, bookkeeping: 0, fp16: 0, allocated: 0, fedPerStep: 0 });
  for (const p of parts) {
    total.codes += p.codes;
    total.scales += p.scales;
    total.uncoded += p.uncoded;
    total.bookkeeping += p.bookkeeping;
    total.held += p.held;
    total.fp16 += p.fp16;
    total.allocated += p.allocated;
    total.fedPerStep += p.fedPerStep;
  }
  return total;
}

/**
 * One layer's new keys or values as the graphs return them (batch 1): `data` is [kvHeads, tokens,
 * headDim], float32 or fp16 bits, and the store takes tokens [start, start + count) of it (the fp
 * graph's `present` holds the past too; a capture-style output holds only the new tokens).
 */
export interface KvRows {
  data: Float32Array | Uint16Array;
  tokens: number;
  start: number;
  count: number;
  /**
   * The first `start` tokens of `data` are exactly the past the store fed the graph (the fp graph's
   * present = concat(past, new)), so an fp16 store may keep `data` itself instead of copying.
   */
  pastIsStore?: boolean;
}

export interface KvGeometry {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

export interface KvStore {
  readonly format: KvFormat;
  readonly geometry: KvGeometry;
  /** Tokens held (every layer, K and V, holds the same number after a complete step). */
  readonly length: number;
  /** Stores one layer's keys or values for the next tokens. */
  append(layer: number, kind: KvKind, rows: KvRows): void;
  /** Forgets every token from `length` on. */
  truncate(length: number): void;
  bytes(): KvBytes;
  /** A versioned, checksummed snapshot (restore with the store class's `restore`). */
  save(): Uint8Array;
}

/** A store the fp graph reads: one layer's K or V as fp16 bits [kvHeads, tokens, headDim] (the Optimum past, batch 1). */
export interface Fp16PastStore extends KvStore {
  fp16Past(layer: number, kind: KvKind): Uint16Array;
}

/** Throws unless `length` is a length a cache of `held` tokens can be cut to. */
export function checkTruncation(held: number, length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > held) throw new RangeError(`cannot truncate ${held} tokens to ${length}`);
}

/** Throws unless `layer` names one of the store's layers. */
export function checkLayer(geometry: KvGeometry, layer: number): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= geometry.numLayers) throw new RangeError(`layer ${layer} is outside 0..${geometry.numLayers - 1}`);
}

/** Throws unless the geometry is positive integers. */
export function checkGeometry(geometry: KvGeometry): void {
  for (const [field, value] of Object.entries(geometry)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${field} must be a positive integer, got ${value}`);
  }
}

export const kvGeometrySchema = z.strictObject({ numLayers: z.number().int(), numKvHeads: z.number().int(), headDim: z.number().int() });

/** Throws unless a saved geometry is the one expected. */
export function checkSavedGeometry(saved: KvGeometry, geometry: KvGeometry): void {
  if (saved.numLayers !== geometry.numLayers || saved.numKvHeads !== geometry.numKvHeads || saved.headDim !== geometry.headDim) {
    throw new Error(`saved KV cache geometry ${JSON.stringify(saved)} differs from this model's ${JSON.stringify(geometry)}`);
  }
}

/** Throws unless every layer's keys and values hold `length` tokens (a failed step can leave some layers ahead). */
export function checkComplete(layers: readonly Record<KvKind, { length: number }>[], length: number): void {
  layers.forEach((layer, i) => {
    for (const kind of KV_KINDS) {
      if (layer[kind].length !== length) throw new Error(`layer ${i} ${kind} holds ${layer[kind].length} tokens, layer 0 key ${length}: a step was left half done`);
    }
  });
}
