// The GGUF v3 container (ggml's model file, read by llama.cpp), on bytes: the writing half only,
// enough to hand llama.cpp the same weights ResKV runs (bench:peer). Layout, all little-endian:
//   "GGUF", u32 version 3, u64 tensor count, u64 metadata count,
//   metadata: string key, u32 value type, value (strings are u64 length + UTF-8; arrays are
//   u32 item type + u64 count + items),
//   tensor infos: string name, u32 dimension count, u64 dims (ne[0] first: the fastest-varying
//   dimension, so a row-major [rows, cols] matrix is written [cols, rows]), u32 ggml type,
//   u64 offset into the data section (a multiple of the alignment),
//   zero padding to the alignment, then the data section.

export const ggufAlignment = 32;

/** ggml tensor types this writer produces (the ids are ggml's). */
export const ggufTensorTypes = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 8 } as const;
export type GgufTensorType = keyof typeof ggufTensorTypes;
/** Values per block and bytes per block (the float types: blocks of one value); blocks run along a row. */
export const ggufBlockLayouts: Record<GgufTensorType, { values: number; bytes: number }> = {
  F32: { values: 1, bytes: 4 },
  F16: { values: 1, bytes: 2 },
  Q4_0: { values: 32, bytes: 18 },
  Q4_1: { values: 32, bytes: 20 },
  Q8_0: { values: 32, bytes: 34 },
};

/** Metadata value type ids of the GGUF format. */
export const ggufValueTypes = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9 } as const;

export type GgufArrayItemType = 'uint32' | 'int32' | 'float32' | 'string';
export type GgufValue =
  | { type: 'uint32' | 'int32' | 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufArrayItemType; value: readonly (number | string)[] };

export interface GgufTensorInfo {
  name: string;
  /** Row-major (PyTorch / safetensors order); written reversed, as ggml's ne. */
  shape: readonly number[];
  type: GgufTensorType;
}

export interface GgufLayout {
  /** Everything before the data section, padding included. */
  header: Uint8Array;
  /** Per tensor (in the given order): its byte offset from the start of the data section, and its byte length. */
  tensors: { offset: number; bytes: number }[];
  /** Bytes of the data section, the last tensor's padding included. */
  dataBytes: number;
}

/** Bytes of a tensor's data; throws when its rows (the last dimension) are not whole blocks of its type. */
export function ggufTensorBytes(info: GgufTensorInfo): number {
  const { values, bytes } = ggufBlockLayouts[info.type];
  const rowLength = info.shape[info.shape.length - 1];
  if (rowLength % values !== 0) throw new Error(`GGUF: tensor ${info.name} is ${info.type}, whose rows must be a multiple of ${values} values long, not ${rowLength}`);
  return (info.shape.reduce((n, d) => n * d, 1) / values) * bytes;
}

const alignUp = (n: number) => Math.ceil(n / ggufAlignment) * ggufAlignment;

/** The header of a GGUF file holding `tensors` (data written afterwards at the returned offsets). */
export function encodeGgufHeader(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorInfo[]): GgufLayout {
  const out = new ByteWriter();
  out.bytes(new TextEncoder().encode('GGUF'));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.size);
  for (const [key, value] of metadata) {
    out.string(key);
    writeValue(out, key, value);
  }
  const names = new Set<string>();
  const placed: GgufLayout['tensors'] = [];
  let offset = 0;
  for (const info of tensors) {
    if (names.has(info.name)) throw new Error(`GGUF: tensor ${info.name} appears twice`);
    names.add(info.name);
    if (info.shape.length < 1 || info.shape.length > 4 || !info.shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw new Error(`GGUF: tensor ${info.name} has shape [${info.shape.join(', ')}]; ggml takes 1 to 4 positive dimensions`);
    }
    out.string(info.name);
    out.u32(info.shape.length);
    for (const d of [...info.shape].reverse()) out.u64(d);
    out.u32(ggufTensorTypes[info.type]);
    out.u64(offset);
    const bytes = ggufTensorBytes(info);
    placed.push({ offset, bytes });
    offset = alignUp(offset + bytes);
  }
  out.pad();
  return { header: out.finish(), tensors: placed, dataBytes: offset };
}

function writeValue(out: ByteWriter, key: string, v: GgufValue): void {
  out.u32(ggufValueTypes[v.type]);
  if (v.type === 'array') {
    out.u32(ggufValueTypes[v.itemType]);
    out.u64(v.value.length);
    for (const item of v.value) writeScalar(out, key, v.itemType, item);
  } else writeScalar(out, key, v.type, v.value);
}

function writeScalar(out: ByteWriter, key: string, type: Exclude<GgufValue['type'], 'array'>, value: number | string | boolean): void {
  const mismatch = () => new Error(`GGUF metadata ${key}: ${JSON.stringify(value)} is not a ${type}`);
  if (type === 'string') {
    if (typeof value !== 'string') throw mismatch();
    out.string(value);
  } else if (type === 'bool') {
    if (typeof value !== 'boolean') throw mismatch();
    out.u8(value ? 1 : 0);
  } else if (type === 'float32') {
    if (typeof value !== 'number') throw mismatch();
    out.f32(value);
  } else {
    const [min, max] = type === 'uint32' ? [0, 2 ** 32 - 1] : [-(2 ** 31), 2 ** 31 - 1];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw mismatch();
    if (type === 'uint32') out.u32(value);
    else out.i32(value);
  }
}

/** Little-endian appends into a growing buffer. */
class ByteWriter {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  private length = 0;

  private room(n: number): number {
    if (this.length + n > this.buffer.length) {
      const grown = new Uint8Array(Math.max(2 * this.buffer.length, this.length + n));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  /** The view over `n` new bytes: room() may replace the buffer, so nothing reads this.view before it. */
  private next(n: number): [DataView, number] {
    const at = this.room(n);
    return [this.view, at];
  }

  u8(v: number): void {
    const [view, at] = this.next(1);
    view.setUint8(at, v);
  }
  u32(v: number): void {
    const [view, at] = this.next(4);
    view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const [view, at] = this.next(4);
    view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const [view, at] = this.next(4);
    view.setFloat32(at, v, true);
  }
  u64(v: number): void {
    const [view, at] = this.next(8);
    view.setBigUint64(at, BigInt(v), true);
  }
  bytes(b: Uint8Array): void {
    const at = this.room(b.length);
    this.buffer.set(b, at);
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  /** Zero bytes up to the next multiple of the alignment (bytes past `length` were never written). */
  pad(): void {
    this.room(alignUp(this.length) - this.length);
  }
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}
