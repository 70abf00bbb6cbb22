// One interface for every KV quantizer compared in ResKV (RVQ and the scalar baselines): token rows
// [tokens, width] in, the exact stored bytes out, and back. bits/value are measured from those bytes.
import { rvqBytesPerToken } from './accounting.js';
import { tokenCount } from './grouping.js';
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

/** Which of a layer's cached tensors: its keys or its values (the one word for it everywhere; KIVI quantizes keys per channel, values per token). */
export type KvKind = 'key' | 'value';

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

/** Throws unless `bytes` is exactly what `tokens` rows occupy. */
export function checkStoredBytes(quantizer: KvQuantizer, bytes: Uint8Array, tokens: number): void {
  const expected = quantizer.storedBytes(tokens);
  if (bytes.length !== expected) throw new RangeError(`${quantizer.name}: ${bytes.length} bytes given, ${tokens} tokens occupy ${expected}`);
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
