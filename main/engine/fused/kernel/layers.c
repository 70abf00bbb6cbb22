// The kernel layers' elementwise steps between their products (kernel-layers.ts), on one thread: rows
// of the hidden or intermediate size, too small to share with the helper. Built into the fused kernel
// module with attend.c and matmul.c (build.sh).
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
