// The standard .safetensors format, on bytes (I/O lives in main/): u64 little-endian header length N,
// N bytes of JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}
// padded with spaces, then the data; offsets are relative to the data start. Validation follows the
// reference implementation: tensors tile the data section exactly (no gaps, no overlaps, nothing after).
import { z } from 'zod';
import { bfloat16ArrayToFloat32, float16ArrayToFloat32 } from './fp16.js';

const DTYPE_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U32: 4, U16: 2, U8: 1, BOOL: 1 } as const;

export type SafetensorDtype = keyof typeof DTYPE_BYTES;

export interface SafetensorEntry {
  dtype: SafetensorDtype;
  shape: number[];
  data: Uint8Array;
}

export interface SafetensorInfo {
  dtype: SafetensorDtype;
  shape: number[];
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
  metadata: Record<string, string>;
  tensors: Record<string, SafetensorInfo>;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Record<string, SafetensorEntry>;
}

/** Same cap as the reference implementation: a larger header is corrupt or hostile. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

export function dtypeByteSize(dtype: SafetensorDtype): number {
  return DTYPE_BYTES[dtype];
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export interface SafetensorsLayout {
  /** The first bytes of the file: u64 header length and the space-padded JSON header. */
  header: Uint8Array;
  /** Tensor names in the order their data follow the header. */
  order: string[];
}

/**
 * The header of a file holding tensors of these dtypes and shapes, and the order their data must be
 * written in (widest dtypes first, then by name, so every tensor stays aligned to its element size).
 * Lets a writer stream tensors one at a time after the header.
 */
export function safetensorsLayout(tensors: Record<string, { dtype: SafetensorDtype; shape: number[] }>, metadata?: Record<string, string>): SafetensorsLayout {
  const order = Object.keys(tensors).sort(
    (a, b) => DTYPE_BYTES[tensors[b].dtype] - DTYPE_BYTES[tensors[a].dtype] || (a < b ? -1 : a > b ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (metadata) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const name of order) {
    if (name === METADATA_KEY) throw new Error(`tensor name "${METADATA_KEY}" is reserved`);
    const { dtype, shape } = tensors[name];
    if (!(dtype in DTYPE_BYTES)) throw new Error(`tensor "${name}": unsupported dtype ${String(dtype)}`);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`tensor "${name}": shape [${shape.join(', ')}] is not a list of non-negative integers`);
    const length = elementCount(shape) * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8; // data starts 8-byte aligned
  const out = new Uint8Array(8 + padded);
  out.fill(0x20, 8);
  out.set(json, 8);
  const view = new DataView(out.buffer);
  view.setUint32(0, padded, true);
  view.setUint32(4, Math.floor(padded / 2 ** 32), true);
  return { header: out, order };
}

export function encodeSafetensors(tensors: Record<string, SafetensorEntry>, metadata?: Record<string, string>): Uint8Array {
  for (const [name, { dtype, shape, data }] of Object.entries(tensors)) {
    const expected = elementCount(shape) * (DTYPE_BYTES[dtype] ?? 0);
    if (dtype in DTYPE_BYTES && data.length !== expected) {
      throw new Error(`tensor "${name}": ${data.length} data bytes, but ${dtype} [${shape.join(', ')}] needs ${expected}`);
    }
  }
  const { header, order } = safetensorsLayout(tensors, metadata);
  const out = new Uint8Array(header.length + order.reduce((n, name) => n + tensors[name].data.length, 0));
  out.set(header);
  let at = header.length;
  for (const name of order) {
    out.set(tensors[name].data, at);
    at += tensors[name].data.length;
  }
  return out;
}

/** Reads the u64 header length from the first 8 bytes and checks it is plausible. */
export function safetensorsHeaderLength(first8: Uint8Array): number {
  if (first8.length < 8) throw new Error(`not a safetensors file: ${first8.length} bytes, need at least 8 for the header length`);
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const length = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (length < 2 || length > MAX_HEADER_BYTES) throw new Error(`not a safetensors file: header length ${length} is outside 2..${MAX_HEADER_BYTES}`);
  return length;
}

const tensorInfoSchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});
const metadataSchema = z.record(z.string(), z.string());

export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const headerLength = safetensorsHeaderLength(bytes);
  const dataStart = 8 + headerLength;
  if (fileSize < dataStart) throw new Error(`safetensors file truncated: ${fileSize} bytes, header alone needs ${dataStart}`);
  if (bytes.length < dataStart) throw new Error(`safetensors header needs ${dataStart} bytes, only ${bytes.length} given`);
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (e) {
    throw new Error(`safetensors header is not valid UTF-8 JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('safetensors header is not a JSON object');

  let metadata: Record<string, string> = {};
  const tensors: Record<string, SafetensorInfo> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === METADATA_KEY) {
      const parsed = metadataSchema.safeParse(value);
      if (!parsed.success) throw new Error(`safetensors ${METADATA_KEY} must map strings to strings`);
      metadata = parsed.data;
      continue;
    }
    const parsed = tensorInfoSchema.safeParse(value);
    if (!parsed.success) {
      const problem = parsed.error.issues.map((i) => `${i.path.join('.') || 'entry'}: ${i.message}`).join('; ');
      throw new Error(`safetensors tensor "${name}": malformed entry (${problem})`);
    }
    const { dtype, shape, data_offsets } = parsed.data;
    if (!(dtype in DTYPE_BYTES)) throw new Error(`safetensors tensor "${name}": unsupported dtype ${dtype}`);
    const typed = dtype as SafetensorDtype;
    const [begin, end] = data_offsets;
    const expected = elementCount(shape) * DTYPE_BYTES[typed];
    if (end < begin || end - begin !== expected) {
      throw new Error(`safetensors tensor "${name}": data_offsets [${begin}, ${end}] hold ${end - begin} bytes, ${dtype} [${shape.join(', ')}] needs ${expected}`);
    }
    tensors[name] = { dtype: typed, shape, dataOffsets: [begin, end] };
  }

  // The tensors must tile [0, dataLength) exactly.
  const dataLength = fileSize - dataStart;
  const ordered = Object.entries(tensors).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let cursor = 0;
  let previous = '';
  for (const [name, info] of ordered) {
    const [begin, end] = info.dataOffsets;
    if (begin < cursor) throw new Error(`safetensors tensor "${name}" overlaps "${previous}" (starts at ${begin}, "${previous}" ends at ${cursor})`);
    if (begin > cursor) throw new Error(`safetensors tensor "${name}" starts at ${begin}, leaving a gap after byte ${cursor}`);
    if (end > dataLength) throw new Error(`safetensors tensor "${name}" ends at data byte ${end}, beyond the ${dataLength} data bytes in the file (truncated?)`);
    cursor = end;
    previous = name;
  }
  if (cursor !== dataLength) throw new Error(`safetensors file has ${dataLength - cursor} unexpected bytes after the last tensor`);
  return { dataStart, metadata, tensors };
}

/** Parses a whole file held in memory; tensor data are views into `bytes` (no copy). */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, bytes.length);
  const tensors: Record<string, SafetensorEntry> = {};
  for (const [name, info] of Object.entries(header.tensors)) {
    const [begin, end] = info.dataOffsets;
    tensors[name] = { dtype: info.dtype, shape: info.shape, data: bytes.subarray(header.dataStart + begin, header.dataStart + end) };
  }
  return { metadata: header.metadata, tensors };
}

/** Copies little-endian bytes into a fresh typed array (copying also fixes misalignment). */
/** A copy of exactly these bytes, aligned at 0. (Typed-array slice copies; a Node Buffer's own
 * slice() would return a view of its whole pool, so call Uint8Array's.) */
function alignedCopy(data: Uint8Array): ArrayBuffer {
  return Uint8Array.prototype.slice.call(data).buffer as ArrayBuffer;
}

/** A floating-point tensor's values as float32 (F32 copied, F16/BF16/F64 converted). */
export function safetensorToFloat32(entry: SafetensorEntry): Float32Array {
  switch (entry.dtype) {
    case 'F32':
      return new Float32Array(alignedCopy(entry.data));
    case 'F16':
      return float16ArrayToFloat32(new Uint16Array(alignedCopy(entry.data)));
    case 'BF16':
      return bfloat16ArrayToFloat32(new Uint16Array(alignedCopy(entry.data)));
    case 'F64':
      return Float32Array.from(new Float64Array(alignedCopy(entry.data)));
    default:
      throw new Error(`tensor of dtype ${entry.dtype} is not floating point`);
  }
}

/** The bytes of a float32 array, for building a SafetensorEntry. */
export function float32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
