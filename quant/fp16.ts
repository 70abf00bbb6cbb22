// IEEE 754 binary16 and bfloat16 conversions.
// float32ToFloat16Bits rounds the exact input (a JS double) to the nearest half, ties to even,
// producing subnormals below 2^-14, +-Infinity above 65504 (from 65520 up, the tie rounds to inf),
// and a quiet NaN that keeps the sign.

const scratch = new DataView(new ArrayBuffer(8));

/** Rounds m (0 <= m, exactly representable) to an integer, ties to even. */
function roundHalfEven(m: number): number {
  const f = Math.floor(m);
  const frac = m - f;
  return frac > 0.5 || (frac === 0.5 && (f & 1) === 1) ? f + 1 : f;
}

export function float32ToFloat16Bits(x: number): number {
  scratch.setFloat64(0, x);
  const hi = scratch.getUint32(0);
  const sign = (hi >>> 16) & 0x8000;
  const exp = (hi >>> 20) & 0x7ff; // biased double exponent
  if (exp === 0x7ff) return Number.isNaN(x) ? sign | 0x7e00 : sign | 0x7c00;
  const a = Math.abs(x);
  const e = exp - 1023; // a in [2^e, 2^(e+1)) for normal doubles
  if (e < -14) {
    // Half subnormal: a = m * 2^-24. Scaling by a power of two is exact; m may round up to 1024,
    // which is exactly the encoding of the smallest normal.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  if (e > 15) return sign | 0x7c00;
  // Normal: a = m * 2^(e-10) with m in [1024, 2048). A carry to 2048 rolls into the exponent,
  // and past exponent 30 into 0x7c00 (infinity), both by plain addition.
  const m = roundHalfEven(a * 2 ** (10 - e));
  return sign | (((e + 15) << 10) + (m - 1024));
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

export function bfloat16BitsToFloat32(h: number): number {
  scratch.setUint32(0, (h & 0xffff) << 16);
  return scratch.getFloat32(0);
}

/**
 * float32ToFloat16Bits for every element, on the float32 bits (a float32 is exact, so rounding its
 * bits is rounding its value): ~30x faster than a call per element, for the caches' per-step appends.
 */
export function float32ArrayToFloat16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkLength(src.length, dst.length);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const f = bits[i];
    const sign = (f >>> 16) & 0x8000;
    const a = f & 0x7fffffff;
    if (a >= 0x477ff000) {
      // from 65520 up (the tie rounds to infinity), infinity, NaN (quiet, sign kept)
      dst[i] = sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00);
    } else if (a >= 0x38800000) {
      // normal half: rebias the exponent, round the 13 dropped mantissa bits half to even (a carry rolls into the exponent)
      const h = a - 0x38000000;
      dst[i] = sign | ((h + 0xfff + ((h >>> 13) & 1)) >>> 13);
    } else if (a >= 0x33000000) {
      // subnormal half (from 2^-25): the significand shifted to units of 2^-24, rounded half to even
      const e = a >>> 23;
      const mantissa = (a & 0x7fffff) | 0x800000;
      const shift = 126 - e;
      const m = mantissa >>> shift;
      const rest = mantissa & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      dst[i] = sign | (m + (rest > half || (rest === half && (m & 1) === 1) ? 1 : 0));
    } else {
      dst[i] = sign; // below 2^-25 (a tie at 2^-25 itself goes to even: above), float32 subnormals, zero
    }
  }
  return dst;
}

let halfTable: Float32Array | undefined;

/** All 65536 halves decoded once (256 KiB), so array conversion is a table lookup. */
function float16Table(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = float16BitsToFloat32(h);
  }
  return halfTable;
}

export function float16ArrayToFloat32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  checkLength(src.length, dst.length);
  const table = float16Table();
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]];
  return dst;
}

export function bfloat16ArrayToFloat32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  checkLength(src.length, dst.length);
  // bfloat16 is the top half of a float32: shift the bits into place through an integer view.
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return dst;
}

function checkLength(srcLength: number, dstLength: number): void {
  if (dstLength < srcLength) {
    throw new RangeError(`destination holds ${dstLength} values, source has ${srcLength}`);
  }
}
