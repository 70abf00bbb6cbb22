// The scalar baselines by format name: fp16 itself, llama.cpp blocks (block-quant.ts), KIVI (kivi.ts).
import type { ScalarFormat } from './accounting.js';
import { blockQuantizer } from './block-quant.js';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from './fp16.js';
import { kiviQuantizer } from './kivi.js';
import { tokenCount } from './grouping.js';
import { checkStoredBytes } from './quantizer.js';
import type { KvQuantizer, KvKind } from './quantizer.js';

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

/** A scalar baseline by format name (see scalarBitsPerValue for the nominal bits). */
export function scalarQuantizer(format: ScalarFormat, width: number, kind: KvKind): KvQuantizer {
  switch (format) {
    case 'fp16':
      return fp16Quantizer(width);
    case 'q8_0':
    case 'q4_0':
      return blockQuantizer(format, width);
    case 'kivi2':
      return kiviQuantizer(2, width, kind);
    case 'kivi3':
      return kiviQuantizer(3, width, kind);
    case 'kivi4':
      return kiviQuantizer(4, width, kind);
  }
}
