// Matrix-vector products for the fused path's float32 weights at one token (GEMV): y = W x with W
// stored [rows, cols] row-major (PyTorch's [out, in]), so each output is a dot product of a contiguous
// row with x and the whole matrix is read once, front to back. Eight rows at a time share each load of
// x (eight 16-byte weight loads in flight; measured ~8% faster on one thread than four rows by eight
// columns, the same as one row by sixteen, a 4-row tiled layout or loads touching the next block
// ahead), then four, then single rows for the rest. A decode step at one token is
// bound by reading the weights (0.54 GB for SmolLM2-135M), not by arithmetic: wasm SIMD has no fused
// multiply-add before relaxed SIMD (behind a flag in Node 20), and a separate multiply and add per
// four weights is far below what memory delivers.
//
// A task is a list of products that read their inputs before any writes its output (q, k and v of one
// x; gate and up): params = [count, then per product: w, x, y, rows, cols] (byte offsets, int32).
// Its rows, numbered across the products with each product's count rounded up to a multiple of 8, are
// split in chunks that threads take in turn from a shared row counter (gemv_shared): each take is a
// quarter of the rows left, at most `size` (a multiple of 8) and at least one 8-row block, so the last
// takes are small and the two threads finish within a small chunk of each other (guided
// self-scheduling); gemv runs them all on the calling thread. Chunks start on a product's 8-row blocks,
// so each row is summed the same way however the rows are chunked and whichever thread took them.
// Built into the fused kernel module with attend.c and layers.c (build.sh); kernel-layers.ts uses it.
#include <stdint.h>
#include <wasm_simd128.h>

typedef struct {
  const float *w;
  const float *x;
  float *y;
  int32_t rows;
  int32_t cols;
} Product;

// the four lanes of a, b, c, d each summed, as one vector [sum a, sum b, sum c, sum d]
static inline v128_t sum4(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
  v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

#define MULTIPLY_ADD(a, w, x) a = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_v128_load(w), x))

// rows [from, to) of one product (from a multiple of 8): blocks of 8 rows by 4 columns where cols is a
// multiple of 4, then blocks of 4 rows by 8 columns (the rest of the columns one by one), then single rows
static void rows_range(const Product *p, int32_t from, int32_t to) {
  const int32_t n = p->cols, wide = n & ~7;
  const float *x = p->x;
  int32_t r = from;
  for (; (n & 3) == 0 && r + 8 <= to; r += 8) {
    const float *w = p->w + (int64_t)r * n;
    v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (int32_t c = 0; c < n; c += 4) {
      v128_t xc = wasm_v128_load(x + c);
      MULTIPLY_ADD(a0, w + c, xc);
      MULTIPLY_ADD(a1, w + n + c, xc);
      MULTIPLY_ADD(a2, w + 2 * n + c, xc);
      MULTIPLY_ADD(a3, w + 3 * n + c, xc);
      MULTIPLY_ADD(a4, w + 4 * n + c, xc);
      MULTIPLY_ADD(a5, w + 5 * n + c, xc);
      MULTIPLY_ADD(a6, w + 6 * n + c, xc);
      MULTIPLY_ADD(a7, w + 7 * n + c, xc);
    }
    wasm_v128_store(p->y + r, sum4(a0, a1, a2, a3));
    wasm_v128_store(p->y + r + 4, sum4(a4, a5, a6, a7));
  }
  for (; r + 4 <= to; r += 4) {
    const float *w0 = p->w + (int64_t)r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
    v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int32_t c = 0; c < wide; c += 8) {
      v128_t xa = wasm_v128_load(x + c), xb = wasm_v128_load(x + c + 4);
      MULTIPLY_ADD(a0, w0 + c, xa);
      MULTIPLY_ADD(b0, w0 + c + 4, xb);
      MULTIPLY_ADD(a1, w1 + c, xa);
      MULTIPLY_ADD(b1, w1 + c + 4, xb);
      MULTIPLY_ADD(a2, w2 + c, xa);
      MULTIPLY_ADD(b2, w2 + c + 4, xb);
      MULTIPLY_ADD(a3, w3 + c, xa);
      MULTIPLY_ADD(b3, w3 + c + 4, xb);
    }
    v128_t y = sum4(wasm_f32x4_add(a0, b0), wasm_f32x4_add(a1, b1), wasm_f32x4_add(a2, b2), wasm_f32x4_add(a3, b3));
    float tail[4] = {0, 0, 0, 0};
    for (int32_t c = wide; c < n; c++) {
      tail[0] += w0[c] * x[c];
      tail[1] += w1[c] * x[c];
      tail[2] += w2[c] * x[c];
      tail[3] += w3[c] * x[c];
    }
    wasm_v128_store(p->y + r, wasm_f32x4_add(y, wasm_v128_load(tail)));
  }
  for (; r < to; r++) {
    const float *w = p->w + (int64_t)r * n;
    float s = 0;
    for (int32_t c = 0; c < n; c++) s += w[c] * x[c];
    p->y[r] = s;
  }
}

static inline int32_t padded(int32_t rows) { return (rows + 7) & ~7; }

// rows [from, to) numbered across the task's products (padded)
static void task_range(const int32_t *params, int32_t from, int32_t to) {
  const Product *p = (const Product *)(params + 1);
  for (int32_t i = 0, first = 0; i < params[0] && first < to; first += padded(p[i].rows), i++) {
    int32_t a = from > first ? from - first : 0, b = to - first < p[i].rows ? to - first : p[i].rows;
    if (a < b) rows_range(&p[i], a, b);
  }
}

static int32_t task_rows(const int32_t *params) {
  const Product *p = (const Product *)(params + 1);
  int32_t total = 0;
  for (int32_t i = 0; i < params[0]; i++) total += padded(p[i].rows);
  return total;
}

__attribute__((export_name("gemv"))) void gemv(const int32_t *params) { task_range(params, 0, task_rows(params)); }

// `next`: the first row not yet taken (0 when the task is posted)
__attribute__((export_name("gemv_shared"))) void gemv_shared(const int32_t *params, int32_t *next, int32_t size) {
  const int32_t total = task_rows(params);
  int32_t from = __atomic_load_n(next, __ATOMIC_SEQ_CST);
  while (from < total) {
    int32_t take = ((total - from) / 4 + 7) & ~7;
    take = take > size ? size : take < 8 ? 8 : take;
    // on failure `from` is reloaded with the row the other thread left it at
    if (!__atomic_compare_exchange_n(next, &from, from + take, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) continue;
    task_range(params, from, from + take < total ? from + take : total);
    from = __atomic_load_n(next, __ATOMIC_SEQ_CST);
  }
}
