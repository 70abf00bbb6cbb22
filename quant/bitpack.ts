// Fixed-width code packing into an LSB-first little-endian bit stream (see the RVQ contract):
// code i occupies stream bits [bitOffset + i*bits, bitOffset + (i+1)*bits), value bit j (LSB = 0) is
// stream bit bitOffset + i*bits + j, and stream bit k is bit (k % 8) of byte floor(k / 8).
// Bits of `out` outside the written range are preserved, so records can be packed back to back.

/** Bytes needed to hold `count` codes of `bits` bits starting at stream bit `bitOffset`. */
export function packedByteLength(count: number, bits: number, bitOffset = 0): number {
  return Math.ceil((bitOffset + count * bits) / 8);
}

function checkWidth(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) {
    throw new RangeError(`code width must be an integer from 1 to 32 bits, got ${bits}`);
  }
}

export function packCodes(codes: ArrayLike<number>, bits: number, out?: Uint8Array, bitOffset = 0): Uint8Array {
  checkWidth(bits);
  const needed = packedByteLength(codes.length, bits, bitOffset);
  const bytes = out ?? new Uint8Array(needed);
  if (bytes.length < needed) {
    throw new RangeError(`packing ${codes.length} codes of ${bits} bits at bit ${bitOffset} needs ${needed} bytes, buffer has ${bytes.length}`);
  }
  const limit = 2 ** bits;
  let pos = bitOffset;
  for (let i = 0; i < codes.length; i++) {
    let v = codes[i];
    if (!(Number.isInteger(v) && v >= 0 && v < limit)) {
      throw new RangeError(`code ${i} = ${v} does not fit in ${bits} bits`);
    }
    for (let left = bits; left > 0; ) {
      const byte = pos >>> 3;
      const shift = pos & 7;
      const take = Math.min(8 - shift, left);
      const mask = ((1 << take) - 1) << shift;
      bytes[byte] = (bytes[byte] & ~mask) | ((v << shift) & mask);
      v = Math.floor(v / (1 << take)); // not >>>: a 32-bit code must stay unsigned
      pos += take;
      left -= take;
    }
  }
  return bytes;
}

export function unpackCodes(bytes: Uint8Array, bits: number, count: number, out?: Uint32Array, bitOffset = 0): Uint32Array {
  checkWidth(bits);
  const needed = packedByteLength(count, bits, bitOffset);
  if (bytes.length < needed) {
    throw new RangeError(`unpacking ${count} codes of ${bits} bits at bit ${bitOffset} needs ${needed} bytes, buffer has ${bytes.length}`);
  }
  const codes = out ?? new Uint32Array(count);
  if (codes.length < count) throw new RangeError(`output holds ${codes.length} codes, ${count} requested`);
  let pos = bitOffset;
  for (let i = 0; i < count; i++) {
    let v = 0;
    for (let got = 0; got < bits; ) {
      const shift = pos & 7;
      const take = Math.min(8 - shift, bits - got);
      v += ((bytes[pos >>> 3] >>> shift) & ((1 << take) - 1)) * 2 ** got;
      pos += take;
      got += take;
    }
    codes[i] = v;
  }
  return codes;
}
