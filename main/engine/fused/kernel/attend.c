// ResKV fused attention kernel (WebAssembly SIMD, freestanding C: no libc).
// One layer's grouped-query attention of n new queries over a KV cache given as segments in position
// order: RVQ-coded tokens (stage-major bit-packed codes, fp16 scales, per-token depth; keys pre-RoPE),
// fp16 rows or float32 rows. Coded tokens are never materialized as a cache: each key is summed from
// its codebook rows, scaled, turned by RoPE and dotted with the queries; each value is summed and
// accumulated with the softmax weights. Tokens are rebuilt a block at a time (whole rows, all KV
// heads) into a buffer on the calling thread's stack; for one query over keys in groups of 32 (the
// decode step), each key group is instead summed, turned and dotted in registers (score_coded). The
// call runs in phases over token ranges so that two instances on one shared memory (kernel.ts's
// helper thread) can each take half of it; the exported attend() runs them all on one thread. The values of a long coded segment (chosen by the
// caller) are instead summed through per-stage weight histograms, one unit of work per query, KV head
// and stage (attend_histogram). Vectors are in "call order", the channel order of the head
// the caller chose (for RVQ: the codebooks' group order, so a group's entries are contiguous); the
// caller permutes queries in and outputs back and gives RoPE tables in that order.
// Also: greedy residual encoding of new group vectors (nearest entry by <r,c> - |c|^2/2, 4 entries
// per SIMD step from codebooks laid out [C/4][groupSize][4], up to 4 vectors per pass over a book),
// also over a range of the vectors so that two threads can share a call; or the same codes from an
// int8 screen of the books (encode params' E_SCREEN), or approximate ones from a k-means cluster
// index (E_INDEX, built by encode_index).
// Build (Debian clang + lld): see build.sh.
#include <stdint.h>
#include <wasm_simd128.h>
#include "exp4.h"

typedef v128_t f4;

#define SEGMENT_CODED 0
#define SEGMENT_F16 1
#define SEGMENT_F32 2

// Segment descriptor, one per (segment, kind): int32 fields.
enum {
  S_TYPE, S_TOKENS, S_POS0,
  S_DATA,       // coded: records; dense: rows [tokens, kvHeads*headDim]
  S_STRIDE,     // coded: record bytes
  S_SCALES,     // coded: fp16 bits [tokens, scaleCount]
  S_SCALE_COUNT,
  S_DEPTHS,     // coded: uint8 per token
  S_DEPTH,      // coded: stages read at most
  S_BOOKS,      // coded: float32 [depth, C, groupSize]
  S_C, S_GROUP_SIZE, S_BITS,
  S_ROTATED,    // keys already turned by RoPE at their positions (the fp16 cache), else pre-RoPE
  S_HISTOGRAM,  // coded values: 1 = summed through per-stage weight histograms (attend_histogram) instead of rows
  S_FIELDS = 16
};

// attend() parameter block: int32 fields.
enum {
  P_N, P_HEADS, P_KV_HEADS, P_HEAD_DIM,
  P_Q,          // float32 [n, heads, headDim] pre-RoPE, call order
  P_Q_POS0,     // position of query 0 (query j sits at q_pos0 + j and sees keys at positions <= that)
  P_COS, P_SIN, // float32 [positions, headDim] call order; sin carries the rotation sign
  P_PARTNER_XOR,// RoPE partner of call-order channel i is i ^ partner_xor (>= 4), else P_PARTNER table
  P_PARTNER,    // int32 [headDim]
  P_OUT,        // float32 [n, heads, headDim] call order
  P_SCRATCH,    // float32: n*heads*total (weights) + n*heads*headDim (rotated q) (+ 2*headDim, unused)
  P_SEGMENTS, P_SEGMENT_COUNT,
  P_SCALE_BITS, // float32 bits of 1/sqrt(headDim)
  P_HISTOGRAM_WEIGHTS, // float32 [n, kvHeads, quads, tokens of histogram segments, 4]: see attend_softmax
  P_HALF_COS, P_HALF_SIN, // float32 [positions, headDim / 2]: the tables at the call positions without
                // bit 16, where the partner is i ^ 16 (sharing the cos, the sin negated); else 0
};

static inline float as_float(uint32_t u) { union { uint32_t u; float f; } x = { u }; return x.f; }

static inline float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  float m = as_float((uint32_t)(h & 0x7fff) << 13) * as_float(0x77800000u); // * 2^112: normals and subnormals
  union { float f; uint32_t u; } x = { m };
  x.u |= sign;
  return x.f;
}

// 4 fp16 values at p -> float32 (finite inputs; the cache never holds inf/NaN): each half sign-extended
// and shifted left 13 puts its sign at bit 31 and its exponent and mantissa at bits 13-27 (the mask
// clears the sign's copies in bits 28-30), a float 2^-112 times the half's value, normal or subnormal;
// the multiply by 2^112 is exact and keeps the sign (as half_to_float, in three operations fewer)
static inline f4 load_half4(const uint16_t *p) {
  v128_t bits = wasm_v128_and(wasm_i32x4_shl(wasm_i32x4_load16x4(p), 13), wasm_i32x4_splat((int32_t)0x8fffe000u));
  return wasm_f32x4_mul(bits, wasm_f32x4_splat(as_float(0x77800000u)));
}

static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

typedef uint32_t __attribute__((aligned(1))) unaligned_u32;

// code `index` of a record (LSB-first bit stream): one unaligned 32-bit read (bits <= 25; buffers
// carry slack past their end)
static inline uint32_t read_code(const uint8_t *record, uint32_t index, uint32_t bits) {
  uint32_t bit = index * bits;
  return (*(const unaligned_u32 *)(record + (bit >> 3)) >> (bit & 7)) & ((1u << bits) - 1);
}

static inline float exp1(float x) { return wasm_f32x4_extract_lane(exp4(wasm_f32x4_splat(x)), 0); }

// a thread's buffer (on its stack) for the rows of up to MAX_BLOCK tokens (all KV heads), float32
#define BLOCK_FLOATS 8192
#define MAX_BLOCK 32

// Stage sums of `floats` (constant after inlining: a multiple of 4, at most 32) channels of group g,
// from `books` (entries of gs floats) on, in registers: acc[v] = sum over stages of the entries'
// [4v, 4v+4), added in stage order.
static inline __attribute__((always_inline)) void sum_group(const int32_t floats, const uint8_t *record, const float *books, int32_t C, int32_t gs, int32_t bits, int32_t groups, int32_t g, int32_t depth, f4 *acc) {
  for (int32_t v = 0; v < floats / 4; v++) acc[v] = wasm_f32x4_splat(0);
  for (int32_t stage = 0; stage < depth; stage++) {
    const float *entry = books + (stage * C + (int32_t)read_code(record, stage * groups + g, bits)) * gs;
    for (int32_t v = 0; v < floats / 4; v++) acc[v] = wasm_f32x4_add(acc[v], wasm_v128_load(entry + 4 * v));
  }
}

// A coded token's stages read: its own depth, capped by the segment's
static inline int32_t token_depth(const int32_t *s, int32_t t) {
  const uint8_t held = ((const uint8_t *)(uintptr_t)s[S_DEPTHS])[t];
  return held < s[S_DEPTH] ? held : s[S_DEPTH];
}

// Scale of KV head h of coded token t (1 without scales)
static inline float token_scale(const int32_t *s, int32_t t, int32_t h) {
  const int32_t S = s[S_SCALE_COUNT];
  return S > 0 ? half_to_float(((const uint16_t *)(uintptr_t)s[S_SCALES])[(int64_t)t * S + (S == 1 ? 0 : h)]) : 1.0f;
}

// One token's row of a segment, all KV heads [kv_heads * d] (call order: head h at [h*d, (h+1)*d);
// for RVQ the group order, group g at [g*gs, (g+1)*gs)), float32, scales applied.
static void read_row(const int32_t *s, int32_t t, int32_t kv_heads, int32_t d, float *out) {
  const int32_t type = s[S_TYPE], width = kv_heads * d;
  if (type == SEGMENT_F32) {
    const float *row = (const float *)(uintptr_t)s[S_DATA] + (int64_t)t * width;
    for (int32_t i = 0; i < width; i += 4) wasm_v128_store(out + i, wasm_v128_load(row + i));
    return;
  }
  if (type == SEGMENT_F16) {
    const uint16_t *row = (const uint16_t *)(uintptr_t)s[S_DATA] + (int64_t)t * width;
    for (int32_t i = 0; i < width; i += 4) wasm_v128_store(out + i, load_half4(row + i));
    return;
  }
  const uint8_t *record = (const uint8_t *)(uintptr_t)s[S_DATA] + (int64_t)t * s[S_STRIDE];
  const int32_t depth = token_depth(s, t), C = s[S_C], gs = s[S_GROUP_SIZE], bits = s[S_BITS];
  const int32_t groups = width / gs;
  const float *books = (const float *)(uintptr_t)s[S_BOOKS];
  if (gs == 32 && d % 32 == 0) {
    // the common size unrolled: a group's sums stay in registers until scaled and stored
    for (int32_t g = 0; g < groups; g++) {
      const f4 scale = wasm_f32x4_splat(token_scale(s, t, g * 32 / d));
      f4 acc[8];
      sum_group(32, record, books, C, 32, bits, groups, g, depth, acc);
      for (int32_t v = 0; v < 8; v++) wasm_v128_store(out + g * 32 + 4 * v, wasm_f32x4_mul(acc[v], scale));
    }
    return;
  }
  for (int32_t g = 0; g < groups; g++) {
    f4 acc[4];
    for (int32_t i = 0; i + 16 <= gs; i += 16) {
      sum_group(16, record, books + i, C, gs, bits, groups, g, depth, acc);
      for (int32_t v = 0; v < 4; v++) wasm_v128_store(out + g * gs + i + 4 * v, acc[v]);
    }
    for (int32_t i = gs / 16 * 16; i < gs; i += 4) {
      sum_group(4, record, books + i, C, gs, bits, groups, g, depth, acc);
      wasm_v128_store(out + g * gs + i, acc[0]);
    }
  }
  for (int32_t h = 0; h < kv_heads; h++) {
    const f4 scale = wasm_f32x4_splat(token_scale(s, t, h));
    for (int32_t i = h * d; i < (h + 1) * d; i += 4) wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(out + i), scale));
  }
}

// x (call order) turned by RoPE at `pos` into out
static void rope(const int32_t *p, const float *x, int32_t pos, float *out) {
  const int32_t d = p[P_HEAD_DIM], m = p[P_PARTNER_XOR];
  const float *cos = (const float *)(uintptr_t)p[P_COS] + (int64_t)pos * d;
  const float *sin = (const float *)(uintptr_t)p[P_SIN] + (int64_t)pos * d;
  if (m >= 4) {
    for (int32_t i = 0; i < d; i += 4) {
      f4 r = wasm_f32x4_mul(wasm_v128_load(x + i), wasm_v128_load(cos + i));
      wasm_v128_store(out + i, wasm_f32x4_add(r, wasm_f32x4_mul(wasm_v128_load(x + (i ^ m)), wasm_v128_load(sin + i))));
    }
    return;
  }
  const int32_t *partner = (const int32_t *)(uintptr_t)p[P_PARTNER];
  for (int32_t i = 0; i < d; i++) out[i] = x[i] * cos[i] + x[partner[i]] * sin[i];
}

static inline float dot(const float *a, const float *b, int32_t d) {
  f4 acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);
  int32_t i = 0;
  for (; i + 8 <= d; i += 8) {
    acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
  }
  for (; i < d; i += 4) acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  return hsum(wasm_f32x4_add(acc0, acc1));
}

// o[k][c] += sum over b < rows of w[k][b] * rows[b * stride + c], for `heads` (constant after inlining)
// outputs, `chunk` (4 or 8) channels at a time: the vector loads are shared by the heads and the sums
// stay in registers, added token by token as one token at a time would.
static inline __attribute__((always_inline)) void accumulate_values(const int32_t heads, const int32_t chunk, int32_t d, const float *rows, int32_t stride, int32_t count, const float *const *w, float *const *o) {
  for (int32_t c = 0; c < d; c += chunk) {
    f4 acc[4][2];
    for (int32_t k = 0; k < heads; k++) for (int32_t l = 0; l < chunk / 4; l++) acc[k][l] = wasm_v128_load(o[k] + c + 4 * l);
    for (int32_t b = 0; b < count; b++) {
      f4 x[2];
      for (int32_t l = 0; l < chunk / 4; l++) x[l] = wasm_v128_load(rows + b * stride + c + 4 * l);
      for (int32_t k = 0; k < heads; k++) {
        const f4 wk = wasm_f32x4_splat(w[k][b]);
        for (int32_t l = 0; l < chunk / 4; l++) acc[k][l] = wasm_f32x4_add(acc[k][l], wasm_f32x4_mul(wk, x[l]));
      }
    }
    for (int32_t k = 0; k < heads; k++) for (int32_t l = 0; l < chunk / 4; l++) wasm_v128_store(o[k] + c + 4 * l, acc[k][l]);
  }
}

static void accumulate_any(int32_t heads, int32_t d, const float *rows, int32_t stride, int32_t count, const float *const *w, float *const *o) {
  if (d % 8 == 0) {
    if (heads == 4) accumulate_values(4, 8, d, rows, stride, count, w, o);
    else if (heads == 3) accumulate_values(3, 8, d, rows, stride, count, w, o);
    else if (heads == 2) accumulate_values(2, 8, d, rows, stride, count, w, o);
    else accumulate_values(1, 8, d, rows, stride, count, w, o);
  } else {
    if (heads == 4) accumulate_values(4, 4, d, rows, stride, count, w, o);
    else if (heads == 3) accumulate_values(3, 4, d, rows, stride, count, w, o);
    else if (heads == 2) accumulate_values(2, 4, d, rows, stride, count, w, o);
    else accumulate_values(1, 4, d, rows, stride, count, w, o);
  }
}

// One attend() call's shape and scratch. The call runs in phases so that two threads can share it:
// begin (queries turned), keys (scores of a token range), softmax, values (a token range into an
// output), end (a second output added, then normalized). Tokens are numbered across the segments.
typedef struct {
  const int32_t *p, *segments;
  int32_t n, heads, kv_heads, d, group, q_pos0, count, total, width, block;
  float *weights; // [n, heads, total]
  float *q;       // [n, heads, d] turned and scaled; after softmax row r's first float is 1/sum
} Attention;

static inline Attention attention(const int32_t *p) {
  Attention a;
  a.p = p;
  a.n = p[P_N], a.heads = p[P_HEADS], a.kv_heads = p[P_KV_HEADS], a.d = p[P_HEAD_DIM];
  a.group = a.heads / a.kv_heads, a.q_pos0 = p[P_Q_POS0], a.count = p[P_SEGMENT_COUNT];
  a.segments = (const int32_t *)(uintptr_t)p[P_SEGMENTS];
  a.total = 0;
  for (int32_t g = 0; g < a.count; g++) a.total += a.segments[2 * g * S_FIELDS + S_TOKENS];
  a.width = a.kv_heads * a.d;
  // a block of rows and one turned key fit in a thread's buffer
  a.block = (BLOCK_FLOATS - a.d) / a.width < MAX_BLOCK ? (BLOCK_FLOATS - a.d) / a.width : MAX_BLOCK;
  a.weights = (float *)(uintptr_t)p[P_SCRATCH];
  a.q = a.weights + (int64_t)a.n * a.heads * a.total;
  return a;
}

__attribute__((export_name("attend_tokens"))) int32_t attend_tokens(const int32_t *p) { return attention(p).total; }

__attribute__((export_name("attend_begin"))) void attend_begin(const int32_t *p) {
  const Attention a = attention(p);
  if (a.width + a.d > BLOCK_FLOATS) __builtin_trap();
  const float scale = as_float((uint32_t)p[P_SCALE_BITS]);
  const float *q_in = (const float *)(uintptr_t)p[P_Q];
  for (int32_t r = 0; r < a.n * a.heads; r++) {
    float *qr = a.q + (int64_t)r * a.d;
    rope(p, q_in + (int64_t)r * a.d, a.q_pos0 + r / a.heads, qr);
    for (int32_t i = 0; i < a.d; i += 4) wasm_v128_store(qr + i, wasm_f32x4_mul(wasm_v128_load(qr + i), wasm_f32x4_splat(scale)));
  }
}

// Scores of coded key t at `pos` for one query (its turned, scaled q heads at q), into scores[h * stride],
// for groups of 32 and the RoPE partner 16 channels on (rotate-half with strided groups: in the group,
// vector v < 4 pairs with v + 4, sharing the cos, the sin negated: the half tables), G (constant after
// inlining) q heads per KV head. Each group's sums stay in registers: turned there and dotted with the
// G heads; the token's scale multiplies the scores (RoPE and the dot are linear) instead of every channel.
static inline __attribute__((always_inline)) void score_coded(const int32_t G, const Attention *a, const int32_t *s, int32_t t, int32_t pos, float *scores, int32_t stride) {
  const int32_t d = a->d, per_head = d / 32, groups = a->kv_heads * per_head;
  const uint8_t *record = (const uint8_t *)(uintptr_t)s[S_DATA] + (int64_t)t * s[S_STRIDE];
  const int32_t depth = token_depth(s, t), C = s[S_C], bits = s[S_BITS];
  const float *books = (const float *)(uintptr_t)s[S_BOOKS];
  const float *cos = (const float *)(uintptr_t)a->p[P_HALF_COS] + (int64_t)pos * (d / 2);
  const float *sin = (const float *)(uintptr_t)a->p[P_HALF_SIN] + (int64_t)pos * (d / 2);
  for (int32_t kh = 0; kh < a->kv_heads; kh++) {
    f4 part[4];
    for (int32_t k = 0; k < 4; k++) part[k] = wasm_f32x4_splat(0);
    for (int32_t gh = 0; gh < per_head; gh++) {
      f4 acc[8];
      sum_group(32, record, books, C, 32, bits, groups, kh * per_head + gh, depth, acc);
      const float *q = a->q + (int64_t)kh * G * d + gh * 32;
      for (int32_t v = 0; v < 4; v++) {
        const f4 c = wasm_v128_load(cos + gh * 16 + 4 * v), sn = wasm_v128_load(sin + gh * 16 + 4 * v);
        const f4 low = wasm_f32x4_add(wasm_f32x4_mul(acc[v], c), wasm_f32x4_mul(acc[v + 4], sn));
        const f4 high = wasm_f32x4_sub(wasm_f32x4_mul(acc[v + 4], c), wasm_f32x4_mul(acc[v], sn));
        for (int32_t k = 0; k < G; k++) {
          part[k] = wasm_f32x4_add(part[k], wasm_f32x4_mul(low, wasm_v128_load(q + k * d + 4 * v)));
          part[k] = wasm_f32x4_add(part[k], wasm_f32x4_mul(high, wasm_v128_load(q + k * d + 16 + 4 * v)));
        }
      }
    }
    // the G horizontal sums at once (lanes of a 4x4 transpose), times the token's scale
    const f4 p01 = wasm_f32x4_add(wasm_i32x4_shuffle(part[0], part[1], 0, 4, 1, 5), wasm_i32x4_shuffle(part[0], part[1], 2, 6, 3, 7));
    const f4 p23 = wasm_f32x4_add(wasm_i32x4_shuffle(part[2], part[3], 0, 4, 1, 5), wasm_i32x4_shuffle(part[2], part[3], 2, 6, 3, 7));
    const f4 sums = wasm_f32x4_mul(wasm_f32x4_add(wasm_i32x4_shuffle(p01, p23, 0, 1, 4, 5), wasm_i32x4_shuffle(p01, p23, 2, 3, 6, 7)), wasm_f32x4_splat(token_scale(s, t, kh)));
    float *out = scores + (int64_t)kh * G * stride;
    out[0] = wasm_f32x4_extract_lane(sums, 0);
    if (G > 1) out[stride] = wasm_f32x4_extract_lane(sums, 1);
    if (G > 2) out[2 * stride] = wasm_f32x4_extract_lane(sums, 2);
    if (G > 3) out[3 * stride] = wasm_f32x4_extract_lane(sums, 3);
  }
}

// Scores of dense key t (fp16 or float32 rows, already turned by RoPE: the fp16 cache and its new
// tokens) for one query, into scores[h * stride], G (constant after inlining) q heads per KV head: each
// key vector is converted once and dotted with the G heads in registers instead of through the row
// buffer, in dot()'s order (two accumulators, 8 channels a step, then hsum), so the scores are the same bits.
static inline __attribute__((always_inline)) void score_dense(const int32_t G, const Attention *a, const int32_t *s, int32_t t, float *scores, int32_t stride) {
  const int32_t d = a->d;
  const int64_t at = (int64_t)t * a->width;
  const uint16_t *halves = (const uint16_t *)(uintptr_t)s[S_DATA] + at;
  const float *floats = (const float *)(uintptr_t)s[S_DATA] + at;
  const int32_t f16 = s[S_TYPE] == SEGMENT_F16;
  for (int32_t kh = 0; kh < a->kv_heads; kh++) {
    const float *q = a->q + (int64_t)kh * G * d;
    f4 acc0[4], acc1[4];
    for (int32_t k = 0; k < G; k++) acc0[k] = acc1[k] = wasm_f32x4_splat(0);
    int32_t i = 0;
    for (; i + 8 <= d; i += 8) {
      const int32_t c = kh * d + i;
      const f4 x0 = f16 ? load_half4(halves + c) : wasm_v128_load(floats + c);
      const f4 x1 = f16 ? load_half4(halves + c + 4) : wasm_v128_load(floats + c + 4);
      for (int32_t k = 0; k < G; k++) {
        acc0[k] = wasm_f32x4_add(acc0[k], wasm_f32x4_mul(wasm_v128_load(q + k * d + i), x0));
        acc1[k] = wasm_f32x4_add(acc1[k], wasm_f32x4_mul(wasm_v128_load(q + k * d + i + 4), x1));
      }
    }
    for (; i < d; i += 4) {
      const f4 x = f16 ? load_half4(halves + kh * d + i) : wasm_v128_load(floats + kh * d + i);
      for (int32_t k = 0; k < G; k++) acc0[k] = wasm_f32x4_add(acc0[k], wasm_f32x4_mul(wasm_v128_load(q + k * d + i), x));
    }
    for (int32_t k = 0; k < G; k++) scores[(int64_t)(kh * G + k) * stride] = hsum(wasm_f32x4_add(acc0[k], acc1[k]));
  }
}

// whether score_dense takes segment s's keys: one query, dense keys already turned, at most 4 q heads per KV head
static inline int32_t dense_in_registers(const Attention *a, const int32_t *s) {
  return a->n == 1 && s[S_TYPE] != SEGMENT_CODED && s[S_ROTATED] && a->group <= 4;
}

// whether score_coded takes segment s's keys: one query, pre-RoPE coded keys in groups of 32 inside
// the heads, the partner 16 channels on with half tables, at most 4 q heads per KV head
static inline int32_t scores_in_registers(const Attention *a, const int32_t *s) {
  return a->n == 1 && s[S_TYPE] == SEGMENT_CODED && !s[S_ROTATED] && s[S_GROUP_SIZE] == 32 && a->d % 32 == 0 && a->p[P_PARTNER_XOR] == 16 && a->p[P_HALF_COS] != 0 && a->group <= 4;
}

// scores of tokens [lo, hi): every key rebuilt once, turned, dotted with the queries that see it
__attribute__((export_name("attend_keys"))) void attend_keys(const int32_t *p, int32_t lo, int32_t hi) {
  const Attention a = attention(p);
  const int32_t n = a.n, heads = a.heads, d = a.d, width = a.width, total = a.total;
  float buffer[BLOCK_FLOATS];
  float *turned = buffer + a.block * width;
  int32_t base = 0;
  for (int32_t g = 0; g < a.count; base += a.segments[2 * g * S_FIELDS + S_TOKENS], g++) {
    const int32_t *s = a.segments + 2 * g * S_FIELDS;
    const int32_t pos0 = s[S_POS0];
    const int32_t from = lo - base > 0 ? lo - base : 0, to = hi - base < s[S_TOKENS] ? hi - base : s[S_TOKENS];
    if (scores_in_registers(&a, s)) {
      for (int32_t t = from; t < to; t++) {
        float *scores = a.weights + base + t;
        if (pos0 + t > a.q_pos0) for (int32_t h = 0; h < heads; h++) scores[(int64_t)h * total] = -3.0e38f;
        else if (a.group == 3) score_coded(3, &a, s, t, pos0 + t, scores, total);
        else if (a.group == 4) score_coded(4, &a, s, t, pos0 + t, scores, total);
        else if (a.group == 2) score_coded(2, &a, s, t, pos0 + t, scores, total);
        else score_coded(1, &a, s, t, pos0 + t, scores, total);
      }
      continue;
    }
    if (dense_in_registers(&a, s)) {
      for (int32_t t = from; t < to; t++) {
        float *scores = a.weights + base + t;
        if (pos0 + t > a.q_pos0) for (int32_t h = 0; h < heads; h++) scores[(int64_t)h * total] = -3.0e38f;
        else if (a.group == 3) score_dense(3, &a, s, t, scores, total);
        else if (a.group == 4) score_dense(4, &a, s, t, scores, total);
        else if (a.group == 2) score_dense(2, &a, s, t, scores, total);
        else score_dense(1, &a, s, t, scores, total);
      }
      continue;
    }
    for (int32_t t0 = from; t0 < to; t0 += a.block) {
      // a block's rows rebuilt back to back (their codebook reads overlap), then turned and scored
      const int32_t rows = to - t0 < a.block ? to - t0 : a.block;
      for (int32_t b = 0; b < rows; b++) if (pos0 + t0 + b - a.q_pos0 < n) read_row(s, t0 + b, a.kv_heads, d, buffer + b * width);
      for (int32_t t = t0; t < t0 + rows; t++) {
        const int32_t pos = pos0 + t;
        const int32_t first = pos - a.q_pos0 > 0 ? pos - a.q_pos0 : 0; // first query that sees this key
        for (int32_t j = 0; j < first && j < n; j++) for (int32_t h = 0; h < heads; h++) a.weights[((int64_t)j * heads + h) * total + base + t] = -3.0e38f;
        if (first >= n) continue;
        for (int32_t kh = 0; kh < a.kv_heads; kh++) {
          const float *key = buffer + (t - t0) * width + kh * d;
          if (!s[S_ROTATED]) {
            rope(p, key, pos, turned);
            key = turned;
          }
          for (int32_t j = first; j < n; j++) {
            for (int32_t h = kh * a.group; h < (kh + 1) * a.group; h++) a.weights[((int64_t)j * heads + h) * total + base + t] = dot(a.q + ((int64_t)j * heads + h) * d, key, d);
          }
        }
      }
    }
  }
}

// Values through histograms (S_HISTOGRAM): for one query, q head, group and stage s of a coded segment,
//   sum_t w_t * scale_t * C_s[code_t] = sum_e (sum over t with code_t = e of w_t * scale_t) * C_s[e],
// so the softmax weights are scattered into one histogram per (query, KV head, group, stage), 4 q heads
// to an entry, and each stage's codebook is read once, in order, instead of one random row per token.
// A fixed cost of C x groupSize multiply-adds per histogram against a per-token one of depth rows:
// it pays on long pasts (attention.ts chooses per segment from its token count).

// q heads of a KV head taken 4 at a time (the lanes of a histogram entry)
static inline int32_t quads(const Attention *a) { return (a->group + 3) / 4; }

static inline int32_t is_histogram(const int32_t *s) { return s[S_TYPE] == SEGMENT_CODED && s[S_HISTOGRAM]; }

// For each histogram segment: the unnormalized softmax weights times the token's value scale, 4 q heads
// of a KV head to a vector (zero lanes past the group): [n, kvHeads, quads, tokens, 4] at
// P_HISTOGRAM_WEIGHTS, the segments one after another.
static void histogram_weights(const Attention *a) {
  float *out = (float *)(uintptr_t)a->p[P_HISTOGRAM_WEIGHTS];
  const int32_t Q = quads(a);
  int32_t base = 0;
  for (int32_t g = 0; g < a->count; base += a->segments[(2 * g + 1) * S_FIELDS + S_TOKENS], g++) {
    const int32_t *s = a->segments + (2 * g + 1) * S_FIELDS;
    if (!is_histogram(s)) continue;
    const int32_t T = s[S_TOKENS], S = s[S_SCALE_COUNT];
    const uint16_t *scales = (const uint16_t *)(uintptr_t)s[S_SCALES];
    for (int32_t j = 0; j < a->n; j++) {
      for (int32_t kh = 0; kh < a->kv_heads; kh++) {
        for (int32_t quad = 0; quad < Q; quad++, out += 4 * T) {
          const int32_t lanes = a->group - quad * 4 < 4 ? a->group - quad * 4 : 4;
          const float *w = a->weights + ((int64_t)j * a->heads + kh * a->group + quad * 4) * a->total + base;
          for (int32_t t = 0; t < T; t++) {
            const float scale = S > 0 ? half_to_float(scales[(int64_t)t * S + (S == 1 ? 0 : kh)]) : 1.0f;
            for (int32_t l = 0; l < 4; l++) out[4 * t + l] = l < lanes ? w[(int64_t)l * a->total + t] * scale : 0;
          }
        }
      }
    }
  }
}

// softmax rows (unnormalized exp; the sum divides the output in attend_end); zeroes the output
__attribute__((export_name("attend_softmax"))) void attend_softmax(const int32_t *p) {
  const Attention a = attention(p);
  const int32_t total = a.total, d = a.d;
  float *out = (float *)(uintptr_t)p[P_OUT];
  for (int32_t row = 0; row < a.n * a.heads; row++) {
    float *w = a.weights + (int64_t)row * total;
    f4 mx = wasm_f32x4_splat(-3.0e38f);
    int32_t i = 0;
    for (; i + 4 <= total; i += 4) mx = wasm_f32x4_max(mx, wasm_v128_load(w + i));
    float m = wasm_f32x4_extract_lane(mx, 0);
    for (int32_t l = 1; l < 4; l++) { float v = l == 1 ? wasm_f32x4_extract_lane(mx, 1) : l == 2 ? wasm_f32x4_extract_lane(mx, 2) : wasm_f32x4_extract_lane(mx, 3); if (v > m) m = v; }
    for (; i < total; i++) if (w[i] > m) m = w[i];
    f4 sum = wasm_f32x4_splat(0);
    const f4 mv = wasm_f32x4_splat(m);
    for (i = 0; i + 4 <= total; i += 4) {
      f4 e = exp4(wasm_f32x4_sub(wasm_v128_load(w + i), mv));
      wasm_v128_store(w + i, e);
      sum = wasm_f32x4_add(sum, e);
    }
    float total_sum = hsum(sum);
    for (; i < total; i++) { w[i] = exp1(w[i] - m); total_sum += w[i]; }
    // masked keys gave exp(-huge) = 0 exactly (clamped at -87: ~1e-38, below float32 resolution of the sum)
    float *o = out + (int64_t)row * d;
    for (int32_t c = 0; c < d; c += 4) wasm_v128_store(o + c, wasm_f32x4_splat(0));
    // stash 1/sum in the rotated-q row, no longer needed
    a.q[(int64_t)row * d] = 1.0f / total_sum;
  }
  histogram_weights(&a);
}

// values of tokens [lo, hi), every one rebuilt once, added with the weights of the queries that see
// it into out [n, heads, d] (zeroed by the caller)
__attribute__((export_name("attend_values"))) void attend_values(const int32_t *p, int32_t lo, int32_t hi, float *out) {
  const Attention a = attention(p);
  const int32_t n = a.n, heads = a.heads, d = a.d, width = a.width, total = a.total, group = a.group;
  float buffer[BLOCK_FLOATS];
  int32_t base = 0;
  for (int32_t g = 0; g < a.count; base += a.segments[(2 * g + 1) * S_FIELDS + S_TOKENS], g++) {
    const int32_t *s = a.segments + (2 * g + 1) * S_FIELDS;
    if (is_histogram(s)) continue; // attend_histogram's units
    const int32_t pos0 = s[S_POS0];
    const int32_t from = lo - base > 0 ? lo - base : 0, to = hi - base < s[S_TOKENS] ? hi - base : s[S_TOKENS];
    for (int32_t t = from; t < to;) {
      const int32_t rows = to - t < a.block ? to - t : a.block;
      if (pos0 + t + rows - 1 <= a.q_pos0) {
        // every query sees these tokens: rebuild their rows, then add them to each q head's output
        // chunk by chunk, the chunk's sums in registers (the same sums, token by token)
        for (int32_t b = 0; b < rows; b++) read_row(s, t + b, a.kv_heads, d, buffer + b * width);
        for (int32_t j = 0; j < n; j++) {
          for (int32_t kh = 0; kh < a.kv_heads; kh++) {
            for (int32_t h = kh * group; h < (kh + 1) * group; h += 4) {
              const int32_t together = (kh + 1) * group - h < 4 ? (kh + 1) * group - h : 4;
              const float *w[4];
              float *o[4];
              for (int32_t k = 0; k < together; k++) {
                w[k] = a.weights + ((int64_t)j * heads + h + k) * total + base + t;
                o[k] = out + ((int64_t)j * heads + h + k) * d;
              }
              accumulate_any(together, d, buffer + kh * d, width, rows, w, o);
            }
          }
        }
        t += rows;
        continue;
      }
      const int32_t pos = pos0 + t;
      const int32_t first = pos - a.q_pos0 > 0 ? pos - a.q_pos0 : 0;
      if (first < n) {
        read_row(s, t, a.kv_heads, d, buffer);
        for (int32_t kh = 0; kh < a.kv_heads; kh++) {
          const float *vec = buffer + kh * d;
          for (int32_t j = first; j < n; j++) {
            for (int32_t h = kh * group; h < (kh + 1) * group; h++) {
              const f4 w = wasm_f32x4_splat(a.weights[((int64_t)j * heads + h) * total + base + t]);
              float *o = out + ((int64_t)j * heads + h) * d;
              for (int32_t c = 0; c < d; c += 4) wasm_v128_store(o + c, wasm_f32x4_add(wasm_v128_load(o + c), wasm_f32x4_mul(w, wasm_v128_load(vec + c))));
            }
          }
        }
      }
      t++;
    }
  }
}

// the histogram units of a call: per histogram segment, one per query, KV head, quad of q heads and stage read
__attribute__((export_name("attend_histogram_units"))) int32_t attend_histogram_units(const int32_t *p) {
  const Attention a = attention(p);
  int32_t units = 0;
  for (int32_t g = 0; g < a.count; g++) {
    const int32_t *s = a.segments + (2 * g + 1) * S_FIELDS;
    if (is_histogram(s)) units += a.n * a.kv_heads * quads(&a) * s[S_DEPTH];
  }
  return units;
}

// the most entries (codebook size x groups in a head) of one unit's histograms: 4 floats each, on the stack
#define MAX_HISTOGRAM 8192

// o[k][0..8) += sum over e of hist[e][k] * book[e * gs + 0..8), for `lanes` (constant after inlining) q heads
static inline __attribute__((always_inline)) void histogram_pass(const int32_t lanes, const f4 *hist, int32_t C, const float *book, int32_t gs, float *const *o) {
  f4 acc[4][2];
  for (int32_t k = 0; k < lanes; k++) acc[k][0] = acc[k][1] = wasm_f32x4_splat(0);
  for (int32_t e = 0; e < C; e++) {
    const f4 x0 = wasm_v128_load(book + (int64_t)e * gs), x1 = wasm_v128_load(book + (int64_t)e * gs + 4);
    for (int32_t k = 0; k < lanes; k++) {
      const f4 wk = wasm_v128_load32_splat((const float *)(hist + e) + k);
      acc[k][0] = wasm_f32x4_add(acc[k][0], wasm_f32x4_mul(wk, x0));
      acc[k][1] = wasm_f32x4_add(acc[k][1], wasm_f32x4_mul(wk, x1));
    }
  }
  for (int32_t k = 0; k < lanes; k++) {
    wasm_v128_store(o[k], wasm_f32x4_add(wasm_v128_load(o[k]), acc[k][0]));
    wasm_v128_store(o[k] + 4, wasm_f32x4_add(wasm_v128_load(o[k] + 4), acc[k][1]));
  }
}

// Unit u's values added into out [n, heads, d] (the weights from attend_softmax): the unit's histograms
// (one per group of its KV head) filled from every token of the segment that holds the stage, then the
// stage's codebook read once per 8 channels.
__attribute__((export_name("attend_histogram"))) void attend_histogram(const int32_t *p, int32_t u, float *out) {
  const Attention a = attention(p);
  const int32_t Q = quads(&a);
  const float *w = (const float *)(uintptr_t)p[P_HISTOGRAM_WEIGHTS];
  const int32_t *s = 0;
  for (int32_t g = 0; g < a.count && !s; g++) {
    const int32_t *segment = a.segments + (2 * g + 1) * S_FIELDS;
    if (!is_histogram(segment)) continue;
    const int32_t units = a.n * a.kv_heads * Q * segment[S_DEPTH];
    if (u < units) s = segment;
    else {
      u -= units;
      w += (int64_t)a.n * a.kv_heads * Q * segment[S_TOKENS] * 4;
    }
  }
  if (!s) __builtin_trap();
  const int32_t stage = u % s[S_DEPTH], quad = u / s[S_DEPTH] % Q, kh = u / (s[S_DEPTH] * Q) % a.kv_heads, j = u / (s[S_DEPTH] * Q * a.kv_heads);
  const int32_t T = s[S_TOKENS], C = s[S_C], gs = s[S_GROUP_SIZE], bits = s[S_BITS], stride = s[S_STRIDE];
  const int32_t groups = a.width / gs, per_head = a.d / gs;
  if (per_head * C > MAX_HISTOGRAM || gs % 8 != 0) __builtin_trap();
  w += (((int64_t)j * a.kv_heads + kh) * Q + quad) * T * 4;
  f4 hist[MAX_HISTOGRAM];
  for (int32_t e = 0; e < per_head * C; e++) hist[e] = wasm_f32x4_splat(0);
  const uint8_t *records = (const uint8_t *)(uintptr_t)s[S_DATA], *held = (const uint8_t *)(uintptr_t)s[S_DEPTHS];
  const int32_t first = stage * groups + kh * per_head; // the code index of the head's first group at this stage
  for (int32_t t = 0; t < T; t++) {
    if (held[t] <= stage) continue;
    const f4 wt = wasm_v128_load(w + 4 * t);
    const uint8_t *record = records + (int64_t)t * stride;
    for (int32_t gh = 0; gh < per_head; gh++) {
      f4 *entry = hist + gh * C + read_code(record, first + gh, bits);
      *entry = wasm_f32x4_add(*entry, wt);
    }
  }
  const float *book = (const float *)(uintptr_t)s[S_BOOKS] + (int64_t)stage * C * gs;
  const int32_t lanes = a.group - quad * 4 < 4 ? a.group - quad * 4 : 4;
  for (int32_t gh = 0; gh < per_head; gh++) {
    for (int32_t c = 0; c < gs; c += 8) {
      float *o[4];
      for (int32_t k = 0; k < lanes; k++) o[k] = out + ((int64_t)j * a.heads + kh * a.group + quad * 4 + k) * a.d + gh * gs + c;
      const f4 *h = hist + gh * C;
      if (lanes == 4) histogram_pass(4, h, C, book + c, gs, o);
      else if (lanes == 3) histogram_pass(3, h, C, book + c, gs, o);
      else if (lanes == 2) histogram_pass(2, h, C, book + c, gs, o);
      else histogram_pass(1, h, C, book + c, gs, o);
    }
  }
}

// out (+ parts[0..count), outputs of token chunks and histogram units, added in order), divided by the softmax sums
__attribute__((export_name("attend_end"))) void attend_end(const int32_t *p, const float *parts, int32_t count) {
  const Attention a = attention(p);
  float *out = (float *)(uintptr_t)p[P_OUT];
  const int32_t floats = a.n * a.heads * a.d;
  for (int32_t k = 0; k < count; k++) {
    for (int32_t i = 0; i < floats; i += 4) wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(out + i), wasm_v128_load(parts + (int64_t)k * floats + i)));
  }
  for (int32_t row = 0; row < a.n * a.heads; row++) {
    const f4 inv = wasm_f32x4_splat(a.q[(int64_t)row * a.d]);
    float *o = out + (int64_t)row * a.d;
    for (int32_t c = 0; c < a.d; c += 4) wasm_v128_store(o + c, wasm_f32x4_mul(wasm_v128_load(o + c), inv));
  }
}

// Shared work: threads on one call take chunks of `size` tokens (or vectors) in turn from the counter
// at `next` until none are left; each chunk's result depends only on the chunk, never on which thread
// took it, so the call's result is the same however the chunks fell.
static inline int32_t take(int32_t *next) { return __atomic_fetch_add(next, 1, __ATOMIC_SEQ_CST); }

__attribute__((export_name("attend_keys_shared"))) void attend_keys_shared(const int32_t *p, int32_t *next, int32_t size) {
  const int32_t total = attend_tokens(p);
  for (int32_t k = take(next); k * size < total; k = take(next)) attend_keys(p, k * size, (k + 1) * size < total ? (k + 1) * size : total);
}

// chunk k's values into parts + k * n*heads*d: the token chunks, then the histogram units
__attribute__((export_name("attend_values_shared"))) void attend_values_shared(const int32_t *p, int32_t *next, int32_t size, float *parts) {
  const Attention a = attention(p);
  const int32_t floats = a.n * a.heads * a.d, chunks = (a.total + size - 1) / size, units = attend_histogram_units(p);
  for (int32_t k = take(next); k < chunks + units; k = take(next)) {
    float *part = parts + (int64_t)k * floats;
    for (int32_t i = 0; i < floats; i += 4) wasm_v128_store(part + i, wasm_f32x4_splat(0));
    if (k < chunks) attend_values(p, k * size, (k + 1) * size < a.total ? (k + 1) * size : a.total, part);
    else attend_histogram(p, k - chunks, part);
  }
}

__attribute__((export_name("attend"))) void attend(const int32_t *p) {
  const int32_t total = attend_tokens(p);
  attend_begin(p);
  attend_keys(p, 0, total);
  attend_softmax(p);
  attend_values(p, 0, total, (float *)(uintptr_t)p[P_OUT]);
  for (int32_t u = 0, units = attend_histogram_units(p); u < units; u++) attend_histogram(p, u, (float *)(uintptr_t)p[P_OUT]);
  attend_end(p, 0, 0);
}

// encode() parameter block: int32 fields.
enum {
  E_VECTORS,    // float32 [count, groupSize], scaled group vectors; overwritten by the last residual
  E_COUNT, E_GROUPS, // count = tokens * groups
  E_BOOKS,      // float32 [depth][C/4][groupSize][4] (entries interleaved by 4)
  E_BIAS,       // float32 [depth][C]: -|c|^2/2
  E_C, E_GROUP_SIZE, E_DEPTH,
  E_CODES,      // uint32 out [tokens][depth][groups]
  E_DECODED,    // float32 out [count, groupSize]: the chosen entries summed
  E_INDEX,      // 0, else a cluster index (I_ fields, encode_index) searched instead of E_BOOKS: approximate
  E_SCREEN,     // 0, else an int8 screen (X_ fields) searched instead of E_BOOKS: the exact codes, faster
};

// int8 screen of a codec's stage books: every entry scored from an int8 copy (a scale per stage and
// channel) against the residual rounded to int16 (i32x4.dot_i16x8_s), with a bound on that score's
// error that is the same for every entry; only the entries whose bound reaches the best lower bound
// are scored exactly, in stage_codes' order, so the codes are the exact search's. int32 fields:
enum {
  X_CODES,      // int8 [depth][C/4][groupSize/2][4][2]: entry c's channels (2k, 2k+1) at block c/4, pair k, lane c%4
  X_CHANNEL,    // float32 [depth][groupSize]: channel scales; channel i of an entry ~ code * scale_i within scale_i/2, |code| <= 127
  X_STAGE,      // float32 [depth][2]: the largest |codes|_1 of an entry, the largest |bias|
  X_PLAIN,      // float32 [depth][C][groupSize]: the books as rows (exact scores, residual updates)
  X_RESCORED,   // int32, added to: blocks of candidates rescored, all searches (the codec gives up the screen where they are many)
};

// Cluster index of a codec's stage books (approximate search): each stage's C entries split by k-means
// into K clusters; an entry is searched only when its cluster's centroid is among the P nearest to the
// residual. int32 fields:
enum {
  I_CLUSTERS,   // K (multiple of 4)
  I_PROBES,     // P <= MAX_PROBES
  I_CENTROIDS,  // float32 [depth][K/4][groupSize][4]
  I_CENTROID_BIAS, // float32 [depth][K]: -|centroid|^2/2
  I_BOOKS,      // float32 [depth][padded/4][groupSize][4]: entries in cluster order, each cluster padded to 4
  I_BIAS,       // float32 [depth][padded]: -|c|^2/2, padding -3.4e38 (never chosen)
  I_ENTRY,      // int32 [depth][padded]: the codebook index of each position
  I_STARTS,     // int32 [depth][K + 1]: cluster k holds positions [starts[k], starts[k+1])
  I_PADDED,     // positions per stage: C + 3K
  I_FIELDS
};
#define MAX_PROBES 64
#define MAX_CLUSTERS 512
#define MAX_GROUP 64
#define MAX_SCREENED 4096 // codebook size the screen's per-call score buffer (on the stack) holds
#define MAX_PASS 4 // vectors screened in one pass over a stage's book (6 or 8 measured slower: V8 spills)

// Scores of a block of 4 entries ([groupSize][4] at `block`, biases at `bias`) against V residuals,
// each summed as (bias + even dims) + odd dims: 2V accumulator chains side by side.
static inline __attribute__((always_inline)) void block_scores(const int32_t V, float *const *r, const float *block, const float *bias, int32_t gs, f4 *score) {
  f4 a0[4], a1[4];
  for (int32_t v = 0; v < V; v++) {
    a0[v] = wasm_v128_load(bias);
    a1[v] = wasm_f32x4_splat(0);
  }
  for (int32_t i = 0; i < gs; i += 2) {
    const f4 e0 = wasm_v128_load(block + 4 * i), e1 = wasm_v128_load(block + 4 * i + 4);
    for (int32_t v = 0; v < V; v++) {
      a0[v] = wasm_f32x4_add(a0[v], wasm_f32x4_mul(e0, wasm_f32x4_splat(r[v][i])));
      a1[v] = wasm_f32x4_add(a1[v], wasm_f32x4_mul(e1, wasm_f32x4_splat(r[v][i + 1])));
    }
  }
  for (int32_t v = 0; v < V; v++) score[v] = wasm_f32x4_add(a0[v], a1[v]);
}

// Stage codes of V residuals r[0..V) (V constant after inlining): one pass over the stage's codebook
// scores each block of 4 entries against all V (block_scores), so the book is read once per V vectors.
static inline __attribute__((always_inline)) void stage_codes(const int32_t V, float *const *r, const float *book, const float *bias, int32_t C, int32_t gs, int32_t *code) {
  f4 best[4], best_index[4];
  for (int32_t v = 0; v < V; v++) {
    best[v] = wasm_f32x4_splat(-3.4e38f);
    best_index[v] = wasm_i32x4_splat(0);
  }
  v128_t index = wasm_i32x4_make(0, 1, 2, 3);
  for (int32_t c = 0; c < C; c += 4) {
    f4 scores[4];
    block_scores(V, r, book + (int64_t)c * gs, bias + c, gs, scores);
    for (int32_t v = 0; v < V; v++) {
      const f4 score = scores[v];
      const v128_t better = wasm_f32x4_gt(score, best[v]);
      best[v] = wasm_v128_bitselect(score, best[v], better);
      best_index[v] = wasm_v128_bitselect(index, best_index[v], better);
    }
    index = wasm_i32x4_add(index, wasm_i32x4_splat(4));
  }
  // lanes hold the best of entries = lane (mod 4); ties go to the lower index
  for (int32_t v = 0; v < V; v++) {
    float bs = wasm_f32x4_extract_lane(best[v], 0);
    int32_t bi = wasm_i32x4_extract_lane(best_index[v], 0);
    for (int32_t l = 1; l < 4; l++) {
      float s = l == 1 ? wasm_f32x4_extract_lane(best[v], 1) : l == 2 ? wasm_f32x4_extract_lane(best[v], 2) : wasm_f32x4_extract_lane(best[v], 3);
      int32_t ix = l == 1 ? wasm_i32x4_extract_lane(best_index[v], 1) : l == 2 ? wasm_i32x4_extract_lane(best_index[v], 2) : wasm_i32x4_extract_lane(best_index[v], 3);
      if (s > bs || (s == bs && ix < bi)) { bs = s; bi = ix; }
    }
    code[v] = bi;
  }
}

// Best positions of V residuals among the entries of the P clusters whose centroids are nearest to
// each (scores as stage_codes'). Centroid scores for all V in one pass over the centroids; then per
// vector its top P clusters (insertion into a sorted list) and their entries, 4 positions per SIMD step
// with the residual's lanes splatted once.
static inline __attribute__((always_inline)) void probe_positions(const int32_t V, float *const *r, const int32_t *index, int32_t stage, int32_t gs, int32_t *position) {
  const int32_t K = index[I_CLUSTERS], P = index[I_PROBES], padded = index[I_PADDED];
  const float *centroids = (const float *)(uintptr_t)index[I_CENTROIDS] + (int64_t)stage * K * gs;
  const float *centroid_bias = (const float *)(uintptr_t)index[I_CENTROID_BIAS] + (int64_t)stage * K;
  const float *book = (const float *)(uintptr_t)index[I_BOOKS] + (int64_t)stage * padded * gs;
  const float *bias = (const float *)(uintptr_t)index[I_BIAS] + (int64_t)stage * padded;
  const int32_t *starts = (const int32_t *)(uintptr_t)index[I_STARTS] + (int64_t)stage * (K + 1);
  float scores[4][MAX_CLUSTERS];
  for (int32_t c = 0; c < K; c += 4) {
    f4 block[4];
    block_scores(V, r, centroids + (int64_t)c * gs, centroid_bias + c, gs, block);
    for (int32_t v = 0; v < V; v++) wasm_v128_store(scores[v] + c, block[v]);
  }
  for (int32_t v = 0; v < V; v++) {
    // the P best clusters, best first
    float top[MAX_PROBES];
    int32_t chosen[MAX_PROBES];
    int32_t held = 0;
    for (int32_t k = 0; k < K; k++) {
      const float s = scores[v][k];
      if (held == P && s <= top[P - 1]) continue;
      int32_t j = held < P ? held++ : P - 1;
      for (; j > 0 && top[j - 1] < s; j--) {
        top[j] = top[j - 1];
        chosen[j] = chosen[j - 1];
      }
      top[j] = s;
      chosen[j] = k;
    }
    f4 lanes[MAX_GROUP];
    for (int32_t i = 0; i < gs; i++) lanes[i] = wasm_f32x4_splat(r[v][i]);
    f4 best = wasm_f32x4_splat(-3.4e38f);
    v128_t best_at = wasm_i32x4_splat(0);
    for (int32_t j = 0; j < held; j++) {
      for (int32_t c = starts[chosen[j]]; c < starts[chosen[j] + 1]; c += 4) {
        const float *block = book + (int64_t)c * gs;
        f4 a[4] = { wasm_v128_load(bias + c), wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0) };
        for (int32_t i = 0; i < gs; i += 4) {
          for (int32_t l = 0; l < 4; l++) a[l] = wasm_f32x4_add(a[l], wasm_f32x4_mul(wasm_v128_load(block + 4 * (i + l)), lanes[i + l]));
        }
        const f4 score = wasm_f32x4_add(wasm_f32x4_add(a[0], a[1]), wasm_f32x4_add(a[2], a[3]));
        const v128_t better = wasm_f32x4_gt(score, best);
        best = wasm_v128_bitselect(score, best, better);
        best_at = wasm_v128_bitselect(wasm_i32x4_add(wasm_i32x4_splat(c), wasm_i32x4_make(0, 1, 2, 3)), best_at, better);
      }
    }
    float bs = wasm_f32x4_extract_lane(best, 0);
    int32_t bi = wasm_i32x4_extract_lane(best_at, 0);
    for (int32_t l = 1; l < 4; l++) {
      float s = l == 1 ? wasm_f32x4_extract_lane(best, 1) : l == 2 ? wasm_f32x4_extract_lane(best, 2) : wasm_f32x4_extract_lane(best, 3);
      int32_t ix = l == 1 ? wasm_i32x4_extract_lane(best_at, 1) : l == 2 ? wasm_i32x4_extract_lane(best_at, 2) : wasm_i32x4_extract_lane(best_at, 3);
      if (s > bs) { bs = s; bi = ix; }
    }
    position[v] = bi;
  }
}

// Estimated scores of V vectors against N blocks of 4 entries (int8 codes at `block`, blocks 4 gs bytes
// apart): out[v * stride + 4n + lane] = unit[v] <p_v, q> + bias, with p_v's int16 channel pairs
// splatted at pairs[v * gs/2 + k]. Each code load serves V vectors and each pair load N blocks.
static inline __attribute__((always_inline)) void screen_tile(const int32_t V, const int32_t N, const v128_t *pairs, const int8_t *block, const int32_t gs, const float *unit, const float *bias, float *out, int32_t stride) {
  v128_t acc[MAX_PASS][4];
  for (int32_t v = 0; v < V; v++) for (int32_t n = 0; n < N; n++) acc[v][n] = wasm_i32x4_splat(0);
  for (int32_t k = 0; k < gs / 2; k++) {
    v128_t e[4];
    for (int32_t n = 0; n < N; n++) e[n] = wasm_i16x8_load8x8(block + n * 4 * gs + 8 * k);
    for (int32_t v = 0; v < V; v++) {
      const v128_t pair = wasm_v128_load(pairs + v * (gs / 2) + k);
      for (int32_t n = 0; n < N; n++) acc[v][n] = wasm_i32x4_add(acc[v][n], wasm_i32x4_dot_i16x8(e[n], pair));
    }
  }
  for (int32_t v = 0; v < V; v++) {
    const f4 u = wasm_f32x4_splat(unit[v]);
    for (int32_t n = 0; n < N; n++) wasm_v128_store(out + v * stride + 4 * n, wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(acc[v][n]), u), wasm_v128_load(bias + 4 * n)));
  }
}

// screen_tile over a stage's C entries: tiles of N blocks, then single blocks. V x N accumulators
// plus N codes and a pair fit x64's 16 SIMD registers (V8 spills beyond that).
static inline __attribute__((always_inline)) void screen_dots(const int32_t V, const v128_t *pairs, const int8_t *codes, int32_t C, const int32_t gs, const float *unit, const float *bias, float *out, int32_t stride) {
  const int32_t N = V == 1 ? 4 : V == 2 ? 4 : V == 3 ? 3 : 2;
  int32_t c = 0;
  for (; c + 4 * N <= C; c += 4 * N) screen_tile(V, N, pairs, codes + c * gs, gs, unit, bias + c, out + c, stride);
  for (; c < C; c += 4) screen_tile(V, 1, pairs, codes + c * gs, gs, unit, bias + c, out + c, stride);
}

// The best of the entries of blocks at[0..n) (4 entries each) whose estimate y reaches `floor`,
// scored exactly in stage_codes' order ((bias + even channels) + odd channels), ties to the lower
// index, over the running best (*best, *best_at). A block's 4 entries are scored together.
static __attribute__((noinline)) void screen_rescore(const float *y, f4 floor, const int32_t *at, int32_t n, const float *bias, const float *r, const float *plain, int32_t gs, float *best, int32_t *best_at) {
  for (int32_t j = 0; j < n; j++) {
    const int32_t c = at[j], reached = wasm_i32x4_bitmask(wasm_f32x4_ge(wasm_v128_load(y + c), floor));
    // the block's 4 entries in the lanes, 4 channels at a time (a 4 x 4 transpose of their rows): each
    // lane's sums are the scalar ones, in the same order
    const float *e = plain + c * gs;
    f4 a0 = wasm_v128_load(bias + c), a1 = wasm_f32x4_splat(0);
    for (int32_t i = 0; i < gs; i += 4) {
      const f4 x0 = wasm_v128_load(e + i), x1 = wasm_v128_load(e + gs + i), x2 = wasm_v128_load(e + 2 * gs + i), x3 = wasm_v128_load(e + 3 * gs + i);
      const f4 lo01 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5), lo23 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
      const f4 hi01 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7), hi23 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
      a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_i64x2_shuffle(lo01, lo23, 0, 2), wasm_f32x4_splat(r[i])));
      a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_i64x2_shuffle(lo01, lo23, 1, 3), wasm_f32x4_splat(r[i + 1])));
      a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_i64x2_shuffle(hi01, hi23, 0, 2), wasm_f32x4_splat(r[i + 2])));
      a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_i64x2_shuffle(hi01, hi23, 1, 3), wasm_f32x4_splat(r[i + 3])));
    }
    float score[4];
    wasm_v128_store(score, wasm_f32x4_add(a0, a1));
    for (int32_t l = 0; l < 4; l++) {
      if ((reached & (1 << l)) && score[l] > *best) {
        *best = score[l];
        *best_at = c + l;
      }
    }
  }
}

// One vector's code from its estimates y (C entries): the largest y, then every entry within `reach`
// (2T) of it rescored exactly, unless it is the only one. Out of line and in small loops, so that V8
// keeps each loop's values in registers.
#define SCREEN_FOUND 64
static __attribute__((noinline)) int32_t screen_pick(const float *y, float reach, const float *bias, int32_t C, const float *r, const float *plain, int32_t gs, int32_t *rescored) {
  // 4 running maxima: fewer loop iterations (each with V8's interrupt check) and no chain of max latencies
  f4 top = wasm_f32x4_splat(-3.4e38f), top1 = top, top2 = top, top3 = top;
  int32_t c = 0;
  for (; c + 16 <= C; c += 16) {
    top = wasm_f32x4_pmax(top, wasm_v128_load(y + c));
    top1 = wasm_f32x4_pmax(top1, wasm_v128_load(y + c + 4));
    top2 = wasm_f32x4_pmax(top2, wasm_v128_load(y + c + 8));
    top3 = wasm_f32x4_pmax(top3, wasm_v128_load(y + c + 12));
  }
  for (; c < C; c += 4) top = wasm_f32x4_pmax(top, wasm_v128_load(y + c));
  top = wasm_f32x4_pmax(wasm_f32x4_pmax(top, top1), wasm_f32x4_pmax(top2, top3));
  const float m01 = wasm_f32x4_extract_lane(top, 0) > wasm_f32x4_extract_lane(top, 1) ? wasm_f32x4_extract_lane(top, 0) : wasm_f32x4_extract_lane(top, 1);
  const float m23 = wasm_f32x4_extract_lane(top, 2) > wasm_f32x4_extract_lane(top, 3) ? wasm_f32x4_extract_lane(top, 2) : wasm_f32x4_extract_lane(top, 3);
  const f4 floor = wasm_f32x4_splat((m01 > m23 ? m01 : m23) - reach);
  // the blocks holding an entry that reaches the floor, rescored SCREEN_FOUND blocks at a time
  int32_t found[SCREEN_FOUND], n = 0, flushed = 0;
  float best = -3.4e38f;
  int32_t best_at = 0;
  for (c = 0; c < C; c += 4) {
    // 4 blocks per test where 4 remain
    if (c % 16 == 0 && c + 16 <= C) {
      const v128_t any = wasm_v128_or(wasm_v128_or(wasm_f32x4_ge(wasm_v128_load(y + c), floor), wasm_f32x4_ge(wasm_v128_load(y + c + 4), floor)),
                                      wasm_v128_or(wasm_f32x4_ge(wasm_v128_load(y + c + 8), floor), wasm_f32x4_ge(wasm_v128_load(y + c + 12), floor)));
      if (!wasm_v128_any_true(any)) {
        c += 12;
        continue;
      }
    }
    if (!wasm_v128_any_true(wasm_f32x4_ge(wasm_v128_load(y + c), floor))) continue;
    found[n++] = c;
    if (n == SCREEN_FOUND) {
      screen_rescore(y, floor, found, n, bias, r, plain, gs, &best, &best_at);
      n = 0;
      flushed++;
    }
  }
  __atomic_fetch_add(rescored, flushed * SCREEN_FOUND + n, __ATOMIC_RELAXED);
  if (n == 1 && !flushed) {
    // a single entry in reach is the exact best: no rescoring (nor its row's cache miss)
    const int32_t reached = wasm_i32x4_bitmask(wasm_f32x4_ge(wasm_v128_load(y + found[0]), floor));
    if ((reached & (reached - 1)) == 0) return found[0] + __builtin_ctz(reached);
  }
  screen_rescore(y, floor, found, n, bias, r, plain, gs, &best, &best_at);
  return best_at;
}

// Positions (= codes) of V residuals (up to MAX_PASS) by the int8 screen (X_ fields). With the stage's
// channel scales S_i (floored at 1e-30 / 127), w_i = r_i S_i is rounded to int16 p_i with step u
// (max |w| / 32000, floored at 1e-12 / 32000 so that u and u dot are never subnormal; a subnormal w_i
// errs by less than the bound's 1e-30), and entry c's score is estimated as
// y_c = u <p, q_c> + bias_c. Writing A = sum |r_i| S_i, it is within
//   T = 0.502 A + u (0.501 max_c |q_c|_1 + gs) + 2e-5 max |bias| + 1e-30
// of the float32 exact score: |r_i||c_i - S_i q_ci| <= |r_i| S_i / 2 and |q_c . (w - u p)| <= (u/2) |q_c|_1;
// the rest covers float rounding in both scores and in w (relative 1e-6 of |bias| + 128 A, subnormal
// products included). So the exact best has y >= max_c y_c - 2T, and only those entries are rescored.
static inline __attribute__((always_inline)) void screen_positions(const int32_t V, float *const *r, const int32_t *screen, const float *bias, int32_t stage, int32_t C, int32_t gs, int32_t *position) {
  const int8_t *codes = (const int8_t *)(uintptr_t)screen[X_CODES] + (int64_t)stage * C * gs;
  const float *channel = (const float *)(uintptr_t)screen[X_CHANNEL] + (int64_t)stage * gs;
  const float *limits = (const float *)(uintptr_t)screen[X_STAGE] + 2 * stage;
  const float *plain = (const float *)(uintptr_t)screen[X_PLAIN] + (int64_t)stage * C * gs;
  v128_t pairs[MAX_PASS * MAX_GROUP / 2];
  float unit[MAX_PASS], reach[MAX_PASS];
  // rows padded by 32 entries: rows 16 KiB apart would share L1 sets
  const int32_t stride = C + 32;
  float y[MAX_PASS * (MAX_SCREENED + 32)];
  for (int32_t v = 0; v < V; v++) {
    f4 w[MAX_GROUP / 4];
    f4 most = wasm_f32x4_splat(0), l1 = wasm_f32x4_splat(0);
    for (int32_t i = 0; i < gs / 4; i++) {
      w[i] = wasm_f32x4_mul(wasm_v128_load(r[v] + 4 * i), wasm_v128_load(channel + 4 * i));
      most = wasm_f32x4_pmax(most, wasm_f32x4_abs(w[i]));
      l1 = wasm_f32x4_add(l1, wasm_f32x4_abs(w[i]));
    }
    const float m01 = wasm_f32x4_extract_lane(most, 0) > wasm_f32x4_extract_lane(most, 1) ? wasm_f32x4_extract_lane(most, 0) : wasm_f32x4_extract_lane(most, 1);
    const float m23 = wasm_f32x4_extract_lane(most, 2) > wasm_f32x4_extract_lane(most, 3) ? wasm_f32x4_extract_lane(most, 2) : wasm_f32x4_extract_lane(most, 3);
    const float m = m01 > m23 ? m01 : m23;
    const float u = (m > 1e-12f ? m : 1e-12f) / 32000.0f;
    for (int32_t i = 0; i < gs / 4; i++) {
      // p_4i..p_4i+3 as int16 pairs (p_4i, p_4i+1), (p_4i+2, p_4i+3) in int32 lanes 0 and 1
      const v128_t p = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_div(w[i], wasm_f32x4_splat(u))));
      const v128_t narrow = wasm_i16x8_narrow_i32x4(p, p);
      pairs[v * (gs / 2) + 2 * i] = wasm_i32x4_shuffle(narrow, narrow, 0, 0, 0, 0);
      pairs[v * (gs / 2) + 2 * i + 1] = wasm_i32x4_shuffle(narrow, narrow, 1, 1, 1, 1);
    }
    reach[v] = 2 * (0.502f * hsum(l1) + u * (0.501f * limits[0] + (float)gs) + 2e-5f * limits[1] + 1e-30f);
    unit[v] = u;
  }
  screen_dots(V, pairs, codes, C, gs, unit, bias, y, stride);
  int32_t *rescored = (int32_t *)(uintptr_t)(screen + X_RESCORED);
  for (int32_t v = 0; v < V; v++) position[v] = screen_pick(y + v * stride, reach[v], bias, C, r[v], plain, gs, rescored);
}

// Positions of the stage entries for V residuals (1..4): the exact search or the int8 screen, where
// position = code, or the cluster index's. One out-of-line function per search, each with V made a
// constant inside: inlining all three searches for every V into encode_range's loop made the exact
// search ~1.4x slower (bench:kernel).
#define BY_V(call) \
  if (V == 4) call(4); \
  else if (V == 3) call(3); \
  else if (V == 2) call(2); \
  else call(1)
static __attribute__((noinline)) void exact_positions(int32_t V, float *const *r, const float *book, const float *bias, int32_t C, int32_t gs, int32_t *position) {
#define EXACT(n) stage_codes(n, r, book, bias, C, gs, position)
  BY_V(EXACT);
}
static __attribute__((noinline)) void screened_positions(int32_t V, float *const *r, const int32_t *screen, const float *bias, int32_t stage, int32_t C, int32_t gs, int32_t *position) {
#define SCREENED(n) screen_positions(n, r, screen, bias, stage, C, gs, position)
  BY_V(SCREENED);
}
static __attribute__((noinline)) void probed_positions(int32_t V, float *const *r, const int32_t *index, int32_t stage, int32_t gs, int32_t *position) {
#define PROBED(n) probe_positions(n, r, index, stage, gs, position)
  BY_V(PROBED);
}

// greedy codes of vectors [lo, hi)
__attribute__((export_name("encode_range"))) void encode_range(const int32_t *p, int32_t lo, int32_t hi) {
  float *vectors = (float *)(uintptr_t)p[E_VECTORS];
  const int32_t groups = p[E_GROUPS], C = p[E_C], gs = p[E_GROUP_SIZE], depth = p[E_DEPTH];
  const int32_t *index = (const int32_t *)(uintptr_t)p[E_INDEX], *screen = (const int32_t *)(uintptr_t)p[E_SCREEN];
  if (index && (gs > MAX_GROUP || index[I_CLUSTERS] > MAX_CLUSTERS || index[I_PROBES] > MAX_PROBES || index[I_PROBES] < 1)) __builtin_trap();
  if (screen && (gs > MAX_GROUP || C > MAX_SCREENED || gs % 4 != 0)) __builtin_trap();
  uint32_t *codes = (uint32_t *)(uintptr_t)p[E_CODES];
  float *decoded = (float *)(uintptr_t)p[E_DECODED];
  for (int32_t i = lo * gs; i < hi * gs; i++) decoded[i] = 0;
  for (int32_t stage = 0; stage < depth; stage++) {
    // where a position's entry lies: the index's book in cluster order or the codec's, interleaved by 4
    // ([n/4][gs][4]), or the screen's plain rows
    const int32_t n = index ? index[I_PADDED] : C;
    const float *book = (const float *)(uintptr_t)(index ? index[I_BOOKS] : screen ? screen[X_PLAIN] : p[E_BOOKS]) + (int64_t)stage * n * gs;
    const float *b = (const float *)(uintptr_t)p[E_BIAS] + (int64_t)stage * C;
    const int32_t *entry_of = index ? (const int32_t *)(uintptr_t)index[I_ENTRY] + (int64_t)stage * n : 0;
    for (int32_t v0 = lo; v0 < hi;) {
      const int32_t V = hi - v0 >= 4 ? 4 : hi - v0;
      float *r[4];
      int32_t position[4];
      for (int32_t v = 0; v < V; v++) r[v] = vectors + (int64_t)(v0 + v) * gs;
      if (index) probed_positions(V, r, index, stage, gs, position);
      else if (screen) screened_positions(V, r, screen, b, stage, C, gs, position);
      else exact_positions(V, r, book, b, C, gs, position);
      for (int32_t v = 0; v < V; v++) {
        const int32_t token = (v0 + v) / groups, g = (v0 + v) % groups, at = position[v];
        codes[((int64_t)token * depth + stage) * groups + g] = (uint32_t)(index ? entry_of[at] : at);
        const float *entry = screen ? book + (int64_t)at * gs : book + (int64_t)(at & ~3) * gs + (at & 3);
        const int32_t step = screen ? 1 : 4;
        float *sum = decoded + (int64_t)(v0 + v) * gs;
        for (int32_t i = 0; i < gs; i++) {
          const float e = entry[step * i];
          r[v][i] -= e;
          sum[i] += e;
        }
      }
      v0 += V;
    }
  }
}

// Cluster index of stage books [depth][C][gs] (plain rows) into the arrays of `index` (allocated by the
// caller for K clusters and C + 3K positions): per stage, k-means (Lloyd) from K entries spread over the
// book, `iterations` rounds, then each entry filed under its nearest final centroid. A cluster left
// empty keeps its centroid and holds no entries. scratch: float32 [K * gs] + int32 [K] + int32 [C].
__attribute__((export_name("encode_index"))) void encode_index(const int32_t *index, const float *books, int32_t depth, int32_t C, int32_t gs, int32_t iterations, float *scratch) {
  const int32_t K = index[I_CLUSTERS], padded = index[I_PADDED];
  if (K % 4 != 0 || K > MAX_CLUSTERS || K > C || padded != C + 3 * K || gs > MAX_GROUP || gs % 4 != 0) __builtin_trap();
  float *sums = scratch;
  int32_t *counts = (int32_t *)(scratch + K * gs);
  int32_t *cluster = counts + K;
  for (int32_t stage = 0; stage < depth; stage++) {
    const float *rows = books + (int64_t)stage * C * gs;
    float *centroids = (float *)(uintptr_t)index[I_CENTROIDS] + (int64_t)stage * K * gs;
    float *centroid_bias = (float *)(uintptr_t)index[I_CENTROID_BIAS] + (int64_t)stage * K;
    for (int32_t k = 0; k < K; k++) {
      const float *row = rows + (int64_t)(k * (C / K)) * gs;
      for (int32_t i = 0; i < gs; i++) sums[k * gs + i] = row[i];
      counts[k] = 1;
    }
    for (int32_t round = 0; round <= iterations; round++) {
      // centroids = means (an empty cluster keeps its old centroid)
      for (int32_t k = 0; k < K; k++) {
        float norm = 0;
        for (int32_t i = 0; i < gs; i++) {
          float *at = centroids + (k >> 2) * 4 * gs + 4 * i + (k & 3);
          if (counts[k] > 0) *at = sums[k * gs + i] / (float)counts[k];
          norm += *at * *at;
        }
        centroid_bias[k] = -norm / 2;
      }
      for (int32_t c = 0; c < C; c += 4) {
        float *r[4];
        const int32_t V = C - c < 4 ? C - c : 4;
        for (int32_t v = 0; v < V; v++) r[v] = (float *)(uintptr_t)(rows + (int64_t)(c + v) * gs);
        if (V == 4) stage_codes(4, r, centroids, centroid_bias, K, gs, cluster + c);
        else for (int32_t v = 0; v < V; v++) stage_codes(1, r + v, centroids, centroid_bias, K, gs, cluster + c + v);
      }
      if (round == iterations) break;
      for (int32_t i = 0; i < K * gs; i++) sums[i] = 0;
      for (int32_t k = 0; k < K; k++) counts[k] = 0;
      for (int32_t c = 0; c < C; c++) {
        const int32_t k = cluster[c];
        counts[k]++;
        for (int32_t i = 0; i < gs; i++) sums[k * gs + i] += rows[(int64_t)c * gs + i];
      }
    }
    // entries filed by cluster, each cluster padded to a multiple of 4 positions
    int32_t *starts = (int32_t *)(uintptr_t)index[I_STARTS] + (int64_t)stage * (K + 1);
    float *book = (float *)(uintptr_t)index[I_BOOKS] + (int64_t)stage * padded * gs;
    float *bias = (float *)(uintptr_t)index[I_BIAS] + (int64_t)stage * padded;
    int32_t *entry_of = (int32_t *)(uintptr_t)index[I_ENTRY] + (int64_t)stage * padded;
    for (int32_t k = 0; k < K; k++) counts[k] = 0;
    for (int32_t c = 0; c < C; c++) counts[cluster[c]]++;
    starts[0] = 0;
    for (int32_t k = 0; k < K; k++) starts[k + 1] = starts[k] + (counts[k] + 3) / 4 * 4;
    for (int32_t at = 0; at < padded; at++) {
      bias[at] = -3.4e38f;
      entry_of[at] = 0;
      for (int32_t i = 0; i < gs; i++) book[(at >> 2) * 4 * gs + 4 * i + (at & 3)] = 0;
    }
    for (int32_t k = 0; k < K; k++) counts[k] = starts[k];
    for (int32_t c = 0; c < C; c++) {
      const int32_t at = counts[cluster[c]]++;
      float norm = 0;
      for (int32_t i = 0; i < gs; i++) {
        const float v = rows[(int64_t)c * gs + i];
        book[(at >> 2) * 4 * gs + 4 * i + (at & 3)] = v;
        norm += v * v;
      }
      bias[at] = -norm / 2;
      entry_of[at] = c;
    }
  }
}

__attribute__((export_name("encode"))) void encode(const int32_t *p) { encode_range(p, 0, p[E_COUNT]); }

__attribute__((export_name("encode_shared"))) void encode_shared(const int32_t *p, int32_t *next, int32_t size) {
  const int32_t count = p[E_COUNT];
  for (int32_t k = take(next); k * size < count; k = take(next)) encode_range(p, k * size, (k + 1) * size < count ? (k + 1) * size : count);
}

// Two encodes (a layer's keys and values, each with its own books and fields) as one shared task, one
// hand-off instead of two: chunks of `size` vectors of p, then of q, from the same counter.
__attribute__((export_name("encode_pair_shared"))) void encode_pair_shared(const int32_t *p, int32_t *next, int32_t size, const int32_t *q) {
  const int32_t first = (p[E_COUNT] + size - 1) / size, count = q[E_COUNT];
  for (int32_t k = take(next);; k = take(next)) {
    if (k < first) encode_range(p, k * size, (k + 1) * size < p[E_COUNT] ? (k + 1) * size : p[E_COUNT]);
    else if ((k - first) * size < count) encode_range(q, (k - first) * size, (k - first + 1) * size < count ? (k - first + 1) * size : count);
    else break;
  }
}
