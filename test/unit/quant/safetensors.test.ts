import { describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  float32Bytes,
  parseSafetensorsHeader,
  safetensorToFloat32,
  safetensorsHeaderLength,
} from '../../../quant/safetensors.js';
import { float32ArrayToFloat16 } from '../../../quant/fp16.js';

/** Builds a file by hand from a header object and a data section (for corrupt-file cases). */
function rawFile(header: unknown, data: Uint8Array, headerLengthOverride?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, headerLengthOverride ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const weights = new Float32Array([1, 2, 3, 4, 5, 6]);

describe('safetensors', () => {
  it('round-trips tensors and metadata, data 8-byte aligned', () => {
    const half = float32ArrayToFloat16(new Float32Array([0.5, -1, 3]));
    const bytes = encodeSafetensors(
      {
        w: { dtype: 'F32', shape: [2, 3], data: float32Bytes(weights) },
        h: { dtype: 'F16', shape: [3], data: new Uint8Array(half.buffer) },
        empty: { dtype: 'I32', shape: [0, 4], data: new Uint8Array(0) },
      },
      { format: 'test' },
    );
    const headerLength = safetensorsHeaderLength(bytes);
    expect((8 + headerLength) % 8).toBe(0);
    const file = decodeSafetensors(bytes);
    expect(file.metadata).toEqual({ format: 'test' });
    expect(file.tensors.w.shape).toEqual([2, 3]);
    expect(Array.from(safetensorToFloat32(file.tensors.w))).toEqual(Array.from(weights));
    expect(Array.from(safetensorToFloat32(file.tensors.h))).toEqual([0.5, -1, 3]);
    expect(file.tensors.empty.data.length).toBe(0);
  });

  it('reads tensors out of a Node Buffer (whose slice() shares its pool) without leaking the pool', () => {
    const bytes = encodeSafetensors({ h: { dtype: 'F16', shape: [2], data: new Uint8Array(float32ArrayToFloat16(new Float32Array([2, -0.25])).buffer) } });
    // Buffer.from(Uint8Array) copies into Node's shared 8 KiB pool at some offset.
    const pooled = Buffer.from(bytes);
    expect(pooled.buffer.byteLength).toBeGreaterThan(bytes.length);
    expect(Array.from(safetensorToFloat32(decodeSafetensors(pooled).tensors.h))).toEqual([2, -0.25]);
  });

  it('writes the standard layout other readers expect', () => {
    const bytes = encodeSafetensors({ x: { dtype: 'U8', shape: [2], data: new Uint8Array([7, 9]) } });
    const n = safetensorsHeaderLength(bytes);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({ x: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } });
    expect(Array.from(bytes.subarray(8 + n))).toEqual([7, 9]);
  });

  it('parses a header from a prefix of the file', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [6], data: float32Bytes(weights) } });
    const prefix = bytes.subarray(0, 8 + safetensorsHeaderLength(bytes));
    const header = parseSafetensorsHeader(prefix, bytes.length);
    expect(header.tensors.w).toEqual({ dtype: 'F32', shape: [6], dataOffsets: [0, 24] });
    expect(header.dataStart).toBe(prefix.length);
  });

  it('rejects entries whose bytes do not match the shape when encoding', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [7], data: float32Bytes(weights) } })).toThrow(/"w".*24 data bytes.*needs 28/);
  });

  const data = new Uint8Array(16);
  it.each([
    ['short file', new Uint8Array(4), /need at least 8/],
    ['absurd header length', rawFile({}, data, 2 ** 31), /header length/],
    ['truncated header', rawFile({}, new Uint8Array(0), 100), /truncated/],
    ['non-JSON header', (() => { const f = rawFile({ a: 1 }, data); f[8] = 0x7b; f[9] = 0x7b; return f; })(), /not valid UTF-8 JSON/],
    ['array header', rawFile([1], data), /not a JSON object/],
    ['unknown dtype', rawFile({ t: { dtype: 'F8', shape: [16], data_offsets: [0, 16] } }, data), /"t": unsupported dtype F8/],
    ['bad shape', rawFile({ t: { dtype: 'U8', shape: [-1], data_offsets: [0, 16] } }, data), /"t": malformed entry/],
    ['size mismatch', rawFile({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data), /"t".*needs 12/],
    ['overlap', rawFile({ a: { dtype: 'U8', shape: [10], data_offsets: [0, 10] }, b: { dtype: 'U8', shape: [10], data_offsets: [6, 16] } }, data), /"b" overlaps "a"/],
    ['gap', rawFile({ a: { dtype: 'U8', shape: [8], data_offsets: [8, 16] } }, data), /"a" starts at 8, leaving a gap/],
    ['truncated data', rawFile({ a: { dtype: 'U8', shape: [32], data_offsets: [0, 32] } }, data), /"a" ends at data byte 32.*truncated/],
    ['trailing bytes', rawFile({ a: { dtype: 'U8', shape: [8], data_offsets: [0, 8] } }, data), /8 unexpected bytes/],
    ['bad metadata', rawFile({ __metadata__: { n: 3 } }, new Uint8Array(0)), /__metadata__ must map strings to strings/],
  ])('rejects a %s', (_, bytes, message) => {
    expect(() => decodeSafetensors(bytes)).toThrow(message);
  });
});
