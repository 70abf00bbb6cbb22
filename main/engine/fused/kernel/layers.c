// The kernel layers' elementwise steps between their products (kernel-layers.ts), and the fp16 cache's
// new token rows (RoPE, rounding to fp16: fused-decoder.ts), on one thread: rows of the hidden or
// intermediate size, too small to share with the helper. Built into the fused kernel module with
// attend.c and matmul.c (build.sh).
#include <stdint.h>
#include <wasm_simd128.h>
#include "exp4.h"

// x += add (unless add is 0), then out = x / sqrt(mean(x^2) + eps) * w: a residual add and the next
// RMSNorm in one pass over the row
__attribute__((export_name("residual_norm"))) void residual_norm(float *x, const float *add, const float *w, float *out, int32_t n, float eps) {
  const int32_t wide = n & ~3;
  v128_t squares = wasm_f32x4_splat(0);
  float tail = 0;
  for (int32_t j = 0; j < wide; j += 4) {
    v128_t v = wasm_v128_load(x + j);
    if (add) {
      v = wasm_f32x4_add(v, wasm_v128_load(add + j));
      wasm_v128_store(x + j, v);
    }
    squares = wasm_f32x4_add(squares, wasm_f32x4_mul(v, v));
  }
  for (int32_t j = wide; j < n; j++) {
    if (add) x[j] += add[j];
    tail += x[j] * x[j];
  }
  const float sum = wasm_f32x4_extract_lane(squares, 0) + wasm_f32x4_extract_lane(squares, 1) + wasm_f32x4_extract_lane(squares, 2) + wasm_f32x4_extract_lane(squares, 3) + tail;
  const float scale = 1.0f / __builtin_sqrtf(sum / (float)n + eps);
  const v128_t s = wasm_f32x4_splat(scale);
  for (int32_t j = 0; j < wide; j += 4) wasm_v128_store(out + j, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(x + j), s), wasm_v128_load(w + j)));
  for (int32_t j = wide; j < n; j++) out[j] = x[j] * scale * w[j];
}

// gate = SiLU(gate) * up, SiLU(g) = g * sigmoid(g); sigmoid from e = exp(-|g|) <= 1 (no overflow):
// 1 / (1 + e) for g >= 0, e / (1 + e) below
__attribute__((export_name("silu_mul"))) void silu_mul(float *gate, const float *up, int32_t n) {
  const int32_t wide = n & ~3;
  const v128_t one = wasm_f32x4_splat(1.0f);
  for (int32_t j = 0; j < wide; j += 4) {
    v128_t g = wasm_v128_load(gate + j);
    v128_t e = exp4(wasm_f32x4_neg(wasm_f32x4_abs(g)));
    v128_t d = wasm_f32x4_add(one, e);
    v128_t sigmoid = wasm_v128_bitselect(wasm_f32x4_div(one, d), wasm_f32x4_div(e, d), wasm_f32x4_ge(g, wasm_f32x4_splat(0)));
    wasm_v128_store(gate + j, wasm_f32x4_mul(wasm_f32x4_mul(g, sigmoid), wasm_v128_load(up + j)));
  }
  for (int32_t j = wide; j < n; j++) {
    v128_t e = exp4(wasm_f32x4_splat(gate[j] < 0 ? gate[j] : -gate[j]));
    float ej = wasm_f32x4_extract_lane(e, 0);
    float sigmoid = gate[j] >= 0 ? 1.0f / (1.0f + ej) : ej / (1.0f + ej);
    gate[j] = gate[j] * sigmoid * up[j];
  }
}

// Token rows [count, heads, d] (call order) at positions pos0.. turned by RoPE in place:
// x[i] = x[i] * cos[i] + x[partner[i]] * sin[i] with attention.ts's RopeTables ([positions, d], the sin
// signed; partner an involution), each product rounded to float32 and then their sum, as the graphs'
// rope() does; a pair's two channels are read before either is written
__attribute__((export_name("rope_rows"))) void rope_rows(float *x, int32_t count, int32_t heads, int32_t d, int32_t pos0, const float *cos, const float *sin, const int32_t *partner) {
  for (int32_t t = 0; t < count; t++) {
    const float *c = cos + (int64_t)(pos0 + t) * d, *s = sin + (int64_t)(pos0 + t) * d;
    for (int32_t h = 0; h < heads; h++) {
      float *row = x + ((int64_t)t * heads + h) * d;
      for (int32_t i = 0; i < d; i++) {
        const int32_t p = partner[i];
        if (p < i) continue;
        const float a = row[i], b = row[p];
        row[i] = a * c[i] + b * s[i];
        if (p != i) row[p] = b * c[p] + a * s[p];
      }
    }
  }
}

// float32 -> float16 bits, rounded to nearest even: quant/fp16.ts's float32ArrayToFloat16, the same
// branches (its tests hold this to the same bits)
static inline uint16_t half_bits(float v) {
  union { float f; uint32_t u; } x = { v };
  const uint32_t sign = (x.u >> 16) & 0x8000, a = x.u & 0x7fffffff;
  // from 65520 up (the tie rounds to infinity), infinity, NaN (quiet, sign kept)
  if (a >= 0x477ff000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00);
  // normal half: rebias the exponent, round the 13 dropped mantissa bits half to even
  if (a >= 0x38800000) {
    const uint32_t h = a - 0x38000000;
    return sign | ((h + 0xfff + ((h >> 13) & 1)) >> 13);
  }
  // subnormal half (from 2^-25): the significand in units of 2^-24, rounded half to even
  if (a >= 0x33000000) {
    const uint32_t shift = 126 - (a >> 23), mantissa = (a & 0x7fffff) | 0x800000;
    const uint32_t m = mantissa >> shift, rest = mantissa & ((1u << shift) - 1), half = 1u << (shift - 1);
    return sign | (m + (rest > half || (rest == half && (m & 1)) ? 1 : 0));
  }
  return sign;
}

// out[i] = float16 bits of x[i]
__attribute__((export_name("to_half"))) void to_half(const float *x, uint16_t *out, int32_t n) {
  for (int32_t i = 0; i < n; i++) out[i] = half_bits(x[i]);
}
