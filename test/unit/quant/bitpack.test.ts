import { describe, expect, it } from 'vitest';
import { packCodes, packedByteLength, unpackCodes } from '../../../quant/bitpack.js';

/** Deterministic codes covering 0, the maximum and values in between. */
function sampleCodes(bits: number, count: number): number[] {
  const max = 2 ** bits - 1;
  return Array.from({ length: count }, (_, i) => (i === 0 ? 0 : i === 1 ? max : (i * 2654435761) % (max + 1)));
}

describe('bit packing', () => {
  it('round-trips every width 1..16 (and 32), at byte and odd bit offsets', () => {
    for (const bits of [...Array.from({ length: 16 }, (_, i) => i + 1), 32]) {
      for (const bitOffset of [0, 3]) {
        const codes = sampleCodes(bits, 37);
        const bytes = packCodes(codes, bits, undefined, bitOffset);
        expect(bytes.length).toBe(packedByteLength(37, bits, bitOffset));
        expect(Array.from(unpackCodes(bytes, bits, 37, undefined, bitOffset))).toEqual(codes);
      }
    }
  });

  it('lays codes out LSB-first as the contract says', () => {
    // 3-bit codes 5 (101), 3 (011), 7 (111): stream bits 1,0,1, 1,1,0, 1,1,1 -> byte0 = 0b11011101, byte1 = 0b1
    expect(Array.from(packCodes([5, 3, 7], 3))).toEqual([0b11011101, 0b00000001]);
    // 11-bit code 0x5a5 at bit offset 4: low nibble 0x5 goes to bits 4..7 of byte 0.
    expect(Array.from(packCodes([0x5a5], 11, undefined, 4))).toEqual([0x50, 0x5a]);
  });

  it('preserves neighbouring bits in a shared buffer', () => {
    const out = new Uint8Array(3).fill(0xff);
    packCodes([0, 0], 5, out, 3); // clears stream bits 3..12 only
    expect(Array.from(out)).toEqual([0b00000111, 0b11100000, 0xff]);
  });

  it('rejects codes that do not fit, bad widths and short buffers', () => {
    expect(() => packCodes([8], 3)).toThrow(/does not fit in 3 bits/);
    expect(() => packCodes([1.5], 3)).toThrow(/does not fit/);
    expect(() => packCodes([1], 0)).toThrow(/width/);
    expect(() => packCodes([1, 2], 8, new Uint8Array(1))).toThrow(/needs 2 bytes/);
    expect(() => unpackCodes(new Uint8Array(1), 11, 1)).toThrow(/needs 2 bytes/);
  });
});
