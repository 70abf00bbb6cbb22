// Saved engine state (a KV store, a conversation): a safetensors file (quant's codec) whose metadata
// names the file format version and kind and carries a CRC-32 over the metadata and every tensor's
// bytes, so a truncated, edited or bit-flipped snapshot is rejected instead of decoding to garbage.
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { decodeSafetensors, encodeSafetensors } from '../../quant/index.js';
import type { SafetensorDtype, SafetensorEntry } from '../../quant/index.js';
import type { KvFormat } from './kv-store.js';

const FORMAT_KEY = 'reskv.format';
const KIND_KEY = 'reskv.kind';
const CRC_KEY = 'reskv.crc32';

/** What a blob holds: its format version string, its kind, and how errors name it. */
export interface BlobType {
  format: string;
  kind: string;
  label: string;
}

export const KV_STORE_FILE_FORMAT = 'reskv-kv-store/1';

export function kvStoreBlob(kind: KvFormat): BlobType {
  return { format: KV_STORE_FILE_FORMAT, kind, label: 'saved KV cache' };
}

export interface StoreBlob {
  label: string;
  metadata: Record<string, string>;
  tensors: Record<string, SafetensorEntry>;
}

/** CRC-32 (IEEE, as zlib and PNG) over the metadata (sorted, checksum excluded) then each tensor's name, dtype, shape and bytes, by name. */
function checksum(metadata: Record<string, string>, tensors: Record<string, SafetensorEntry>): string {
  const text = new TextEncoder();
  const meta = Object.entries(metadata)
    .filter(([k]) => k !== CRC_KEY)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let crc = crc32(text.encode(JSON.stringify(meta)));
  for (const name of Object.keys(tensors).sort()) {
    const { dtype, shape, data } = tensors[name];
    crc = crc32(text.encode(`${name}:${dtype}:${shape.join('x')}`), crc);
    // zlib.crc32 returns 0 for a view of a zero-length ArrayBuffer whatever the running value (Node 20.19):
    // an empty tensor leaves the running CRC as it is, as the CRC definition does
    if (data.length > 0) crc = crc32(data, crc);
  }
  return crc.toString(16).padStart(8, '0');
}

export function encodeBlob(type: BlobType, metadata: Record<string, string>, tensors: Record<string, SafetensorEntry>): Uint8Array {
  const full = { ...metadata, [FORMAT_KEY]: type.format, [KIND_KEY]: type.kind };
  return encodeSafetensors(tensors, { ...full, [CRC_KEY]: checksum(full, tensors) });
}

/** Parses and verifies a blob of `type`; every failure is an Error saying what is wrong. */
export function decodeBlob(bytes: Uint8Array, type: BlobType): StoreBlob {
  const { label } = type;
  let file: Omit<StoreBlob, 'label'>;
  try {
    file = decodeSafetensors(bytes);
  } catch (e) {
    throw new Error(`${label} is corrupt or not a ResKV snapshot: ${(e as Error).message}`, { cause: e });
  }
  const { metadata, tensors } = file;
  if (metadata[FORMAT_KEY] !== type.format) {
    throw new Error(`${label} has format ${JSON.stringify(metadata[FORMAT_KEY] ?? null)}; this build reads ${type.format}`);
  }
  if (metadata[KIND_KEY] !== type.kind) throw new Error(`${label} holds a ${metadata[KIND_KEY]} store, not ${type.kind}`);
  const expected = checksum(metadata, tensors);
  if (metadata[CRC_KEY] !== expected) {
    throw new Error(`${label} is corrupt: checksum ${metadata[CRC_KEY] ?? '(missing)'} does not match the content (${expected})`);
  }
  return { label, metadata, tensors };
}

/** A metadata entry parsed as JSON and validated. */
export function blobJson<T>(blob: StoreBlob, key: string, schema: z.ZodType<T>): T {
  const raw = blob.metadata[key];
  if (raw === undefined) throw new Error(`${blob.label} lacks metadata "${key}"`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error(`${blob.label} metadata "${key}" is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${blob.label} metadata "${key}" is invalid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** A tensor's bytes (copied, so they are aligned and owned), after checking its dtype and shape. */
export function blobTensor(blob: StoreBlob, name: string, dtype: SafetensorDtype, shape: readonly number[]): Uint8Array {
  const entry = blob.tensors[name];
  if (!entry) throw new Error(`${blob.label} lacks tensor "${name}"`);
  if (entry.dtype !== dtype || entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${blob.label} tensor "${name}" is ${entry.dtype} [${entry.shape.join(', ')}], expected ${dtype} [${shape.join(', ')}]`);
  }
  return entry.data.slice();
}

/** fp16/uint16 tensor data as a Uint16Array (little-endian platform, as safetensors). */
export function asUint16(bytes: Uint8Array): Uint16Array {
  return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
}

/** A typed array's bytes, for a SafetensorEntry. */
export function bytesOf(array: Uint8Array | Uint16Array | Int32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}
