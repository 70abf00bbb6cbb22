// llama.cpp-style per-token block quantization (ggml-quants.c, quantize_row_q8_0_ref / q4_0_ref):
// each token row is cut into blocks of 32 values (the last one zero-padded), each block stores an fp16
// scale d and 32 small integers.
//   q8_0: d = absmax / 127, q = round(x / d) in int8, x^ = q * d                 -> 34 bytes / 32 values
//   q4_0: d = m / -8 with m the value of largest magnitude, q = min(15, trunc(x / d + 8.5)),
//         x^ = (q - 8) * d; byte j holds q[j] (low nibble) and q[j + 16] (high)   -> 18 bytes / 32 values
import { float16BitsToFloat32, float32ToFloat16Bits } from './fp16.js';
import type { KvQuantizer } from './quantizer.js';
import { tokenCount } from './grouping.js';
import { checkStoredBytes } from './quantizer.js';

const BLOCK = 32;

/** C's roundf: halves away from zero. */
function roundAway(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

export function blockQuantizer(format: 'q8_0' | 'q4_0', width: number): KvQuantizer {
  const blocks = Math.ceil(width / BLOCK);
  const blockBytes = format === 'q8_0' ? 2 + BLOCK : 2 + BLOCK / 2;
  const rowBytes = blocks * blockBytes;
  const values = new Float32Array(BLOCK);

  /** Copies block b of a row into `values`, zero-padding past the row's end. */
  const loadBlock = (rows: Float32Array, row: number, b: number): void => {
    for (let j = 0; j < BLOCK; j++) {
      const c = b * BLOCK + j;
      values[j] = c < width ? rows[row + c] : 0;
    }
  };

  const quantizer: KvQuantizer = {
    name: format,
    width,
    storedBytes: (tokens) => tokens * rowBytes,
    encode(rows) {
      const tokens = tokenCount(rows, width);
      const bytes = new Uint8Array(tokens * rowBytes);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < tokens; i++) {
        for (let b = 0; b < blocks; b++) {
          loadBlock(rows, i * width, b);
          const at = i * rowBytes + b * blockBytes;
          let amax = 0;
          let max = 0;
          for (let j = 0; j < BLOCK; j++) {
            if (Math.abs(values[j]) > amax) {
              amax = Math.abs(values[j]);
              max = values[j];
            }
          }
          const d = format === 'q8_0' ? amax / 127 : max / -8;
          const id = d !== 0 ? 1 / d : 0;
          view.setUint16(at, float32ToFloat16Bits(d), true);
          if (format === 'q8_0') {
            for (let j = 0; j < BLOCK; j++) view.setInt8(at + 2 + j, roundAway(values[j] * id));
          } else {
            for (let j = 0; j < BLOCK / 2; j++) {
              const lo = Math.min(15, Math.trunc(values[j] * id + 8.5));
              const hi = Math.min(15, Math.trunc(values[j + BLOCK / 2] * id + 8.5));
              bytes[at + 2 + j] = lo | (hi << 4);
            }
          }
        }
      }
      return bytes;
    },
    decode(bytes, tokens) {
      checkStoredBytes(quantizer, bytes, tokens);
      const rows = new Float32Array(tokens * width);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < tokens; i++) {
        for (let b = 0; b < blocks; b++) {
          const at = i * rowBytes + b * blockBytes;
          const d = float16BitsToFloat32(view.getUint16(at, true));
          for (let j = 0; j < BLOCK; j++) {
            const c = b * BLOCK + j;
            if (c >= width) break;
            let q: number;
            if (format === 'q8_0') q = view.getInt8(at + 2 + j);
            else q = (j < BLOCK / 2 ? bytes[at + 2 + j] & 15 : bytes[at + 2 + j - BLOCK / 2] >> 4) - 8;
            rows[i * width + c] = q * d;
          }
        }
      }
      return rows;
    },
  };
  return quantizer;
}
