// One interface for every KV quantizer compared in ResKV (RVQ and the scalar baselines): token rows
// [tokens, width] in, the exact stored bytes out, and back. bits/value are measured from those bytes.
import { float16ArrayToFloat32, float32ArrayToFloat16 } from './fp16.js';
import { rvqBytesPerToken } from './accounting.js';
import type { ScalarFormat } from './accounting.js';
import { blockQuantizer } from './block-quant.js';
import { kiviQuantizer } from './kivi.js';
import type { RvqCodec } from './rvq-codec.js';

export interface KvQuantizer {
  readonly name: string;
  /** Channels per token row. */
  readonly width: number;
  /** Bytes stored for `tokens` rows, every scale and zero point included (RVQ codebooks excluded). */
  storedBytes(tokens: number): number;
  /** rows [tokens, width] -> exactly storedBytes(tokens) bytes. */
  encode(rows: Float32Array): Uint8Array;
  decode(bytes: Uint8Array, tokens: number): Float32Array;
}

/** Whether the quantizer codes keys (KIVI quantizes keys per channel) or values (per token). */
export type KvRole = 'key' | 'value';

export function quantizerBitsPerValue(quantizer: KvQuantizer, tokens: number): number {
  return (8 * quantizer.storedBytes(tokens)) / (tokens * quantizer.width);
}

/** rows -> stored bytes -> rows, checking the byte count the quantizer promised. */
export function roundTrip(quantizer: KvQuantizer, rows: Float32Array): Float32Array {
  const tokens = tokenCount(rows, quantizer.width);
  const bytes = quantizer.encode(rows);
  if (bytes.length !== quantizer.storedBytes(tokens)) throw new Error(`${quantizer.name} wrote ${bytes.length} bytes, promised ${quantizer.storedBytes(tokens)}`);
  return quantizer.decode(bytes, tokens);
}

/** Rows in a [tokens, width] batch; throws on a ragged batch. */
export function tokenCount(rows: Float32Array, width: number): number {
  if (rows.length % width !== 0) throw new RangeError(`rows hold ${rows.length} values, not a whole number of ${width}-channel tokens`);
  return rows.length / width;
}

/** Throws unless `bytes` is exactly what `tokens` rows occupy. */
export function checkStoredBytes(quantizer: KvQuantizer, bytes: Uint8Array, tokens: number): void {
  const expected = quantizer.storedBytes(tokens);
  if (bytes.length !== expected) throw new RangeError(`${quantizer.name}: ${bytes.length} bytes given, ${tokens} tokens occupy ${expected}`);
}

export function fp16Quantizer(width: number): KvQuantizer {
  const quantizer: KvQuantizer = {
    name: 'fp16',
    width,
    storedBytes: (tokens) => tokens * width * 2,
    encode: (rows) => {
      tokenCount(rows, width);
      return new Uint8Array(float32ArrayToFloat16(rows).buffer);
    },
    decode: (bytes, tokens) => {
      checkStoredBytes(quantizer, bytes, tokens);
      return float16ArrayToFloat32(new Uint16Array(bytes.slice().buffer));
    },
  };
  return quantizer;
}

/** RVQ through the common interface, storing token records of `depth` stages. */
export function rvqQuantizer(codec: RvqCodec, depth = codec.spec.depth): KvQuantizer {
  const recordBytes = rvqBytesPerToken(codec.spec, depth);
  const quantizer: KvQuantizer = {
    name: `rvq-d${depth}`,
    width: codec.width,
    storedBytes: (tokens) => tokens * recordBytes,
    encode: (rows) => codec.toRecords(codec.encode(rows, depth)),
    decode: (bytes, tokens) => {
      checkStoredBytes(quantizer, bytes, tokens);
      return codec.decode(codec.fromRecords(bytes, depth));
    },
  };
  return quantizer;
}

/** A scalar baseline by format name (see scalarBitsPerValue for the nominal bits). */
export function scalarQuantizer(format: ScalarFormat, width: number, role: KvRole): KvQuantizer {
  switch (format) {
    case 'fp16':
      return fp16Quantizer(width);
    case 'q8_0':
    case 'q4_0':
      return blockQuantizer(format, width);
    case 'kivi2':
      return kiviQuantizer(2, width, role);
    case 'kivi3':
      return kiviQuantizer(3, width, role);
    case 'kivi4':
      return kiviQuantizer(4, width, role);
  }
}
