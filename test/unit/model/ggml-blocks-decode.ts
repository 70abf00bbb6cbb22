// ggml's Q4_1, Q4_0 and Q8_0 blocks decoded as ggml's dequantize_row_q4_1 / _q4_0 / _q8_0 do
// (ggml-quants.c), written from the format's description, independently of the GGUF writer.
import { float16BitsToFloat32 } from '../../../quant/index.js';

/** `count` values from blocks of 32 values in `blockBytes` bytes each; `decode` fills one block's values. */
function decodeBlocks(bytes: Uint8Array, count: number, blockBytes: number, decode: (view: DataView, at: number, values: Float32Array) => void): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let block = 0; block < count / 32; block++) decode(view, block * blockBytes, out.subarray(block * 32, block * 32 + 32));
  return out;
}

/** Q4_1: fp16 d, fp16 m, 16 bytes; byte j = value j (low nibble), value j + 16 (high); w = q d + m. */
export function decodeQ4_1(bytes: Uint8Array, count: number): Float32Array {
  return decodeBlocks(bytes, count, 20, (view, at, values) => {
    const d = float16BitsToFloat32(view.getUint16(at, true));
    const m = float16BitsToFloat32(view.getUint16(at + 2, true));
    for (let j = 0; j < 16; j++) {
      const byte = view.getUint8(at + 4 + j);
      values[j] = (byte & 15) * d + m;
      values[j + 16] = (byte >> 4) * d + m;
    }
  });
}

/** Q4_0: fp16 d, 16 bytes as Q4_1's; w = (q - 8) d. */
export function decodeQ4_0(bytes: Uint8Array, count: number): Float32Array {
  return decodeBlocks(bytes, count, 18, (view, at, values) => {
    const d = float16BitsToFloat32(view.getUint16(at, true));
    for (let j = 0; j < 16; j++) {
      const byte = view.getUint8(at + 2 + j);
      values[j] = ((byte & 15) - 8) * d;
      values[j + 16] = ((byte >> 4) - 8) * d;
    }
  });
}

/** Q8_0: fp16 d, 32 int8; w = q d. */
export function decodeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  return decodeBlocks(bytes, count, 34, (view, at, values) => {
    const d = float16BitsToFloat32(view.getUint16(at, true));
    for (let j = 0; j < 32; j++) values[j] = view.getInt8(at + 2 + j) * d;
  });
}
