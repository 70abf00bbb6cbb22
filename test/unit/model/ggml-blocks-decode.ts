// ggml's Q4_1 and Q8_0 blocks decoded as ggml's dequantize_row_q4_1 / dequantize_row_q8_0 do
// (ggml-quants.c), written from the format's description, independently of the GGUF writer.
import { float16BitsToFloat32 } from '../../../quant/index.js';

/** `count` values from Q4_1 blocks: fp16 d, fp16 m, 16 bytes; byte j = value j (low nibble), value j + 16 (high). */
export function decodeQ4_1(bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let block = 0; block < count / 32; block++) {
    const at = block * 20;
    const d = float16BitsToFloat32(view.getUint16(at, true));
    const m = float16BitsToFloat32(view.getUint16(at + 2, true));
    for (let j = 0; j < 16; j++) {
      const byte = bytes[at + 4 + j];
      out[block * 32 + j] = (byte & 15) * d + m;
      out[block * 32 + j + 16] = (byte >> 4) * d + m;
    }
  }
  return out;
}

/** `count` values from Q8_0 blocks: fp16 d, 32 int8. */
export function decodeQ8_0(bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let block = 0; block < count / 32; block++) {
    const at = block * 34;
    const d = float16BitsToFloat32(view.getUint16(at, true));
    for (let j = 0; j < 32; j++) out[block * 32 + j] = view.getInt8(at + 2 + j) * d;
  }
  return out;
}
