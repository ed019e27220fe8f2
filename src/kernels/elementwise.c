/* Elementwise and reduction kernels. Loops are written so the compiler can
 * vectorize the contiguous cases (-O2, no fast-math). */
#include "kernels/elementwise.h"

#include "kernels/isa.h"

/* offsets of row r's first element in the two operands */
static void row_offsets(const cnnc__bcast *it, int64_t r, int64_t *oa, int64_t *ob) {
    int64_t a = 0, b = 0;
    for (int d = it->ndim - 2; d >= 0; d--) {
        int64_t i = r % it->shape[d];
        r /= it->shape[d];
        a += i * it->stride[0][d];
        b += i * it->stride[1][d];
    }
    *oa = a;
    *ob = b;
}

/* The contiguous loops as plain loops the compiler vectorizes. No software prefetch of
 * the output lines ahead (a Zen 3 measured it faster): on Zen 5 it made every case
 * slower, 1 thread, min of 20-300 calls, ms: a product of two [8, 64, 56, 56]
 * (L3-resident) 0.33-0.34 -> 0.25-0.31, + a per-plane [64, 1, 1] 0.19-0.20 -> 0.14-0.18,
 * the same over [8, 64, 112, 112] (in memory) 1.73-1.89 -> 1.00-1.13, a product of two
 * [16 M] 6.0-6.8 -> 5.7-5.9. */
#define BINARY_SPAN(...) /* the body, with t its index */                    \
    do {                                                                       \
        for (int64_t t = 0; t < n; t++) __VA_ARGS__;                           \
    } while (0)

#define BINARY_LOOP(EXPR)                                                      \
    do {                                                                       \
        if (sa == 1 && sb == 1)                                                \
            BINARY_SPAN({ float x = pa[t], y = pb[t]; o[t] = (EXPR); });       \
        else if (sa == 1 && sb == 0) {                                         \
            float y = pb[0];                                                   \
            BINARY_SPAN({ float x = pa[t]; o[t] = (EXPR); });                  \
        } else if (sa == 0 && sb == 1) {                                       \
            float x = pa[0];                                                   \
            BINARY_SPAN({ float y = pb[t]; o[t] = (EXPR); });                  \
        } else                                                                 \
            for (int64_t j = 0; j < n; j++) { float x = pa[j * sa], y = pb[j * sb]; o[j] = (EXPR); } \
    } while (0)

/* Visits the part of each output row that falls in [begin, end): row r, columns
 * [c0, c1), with the operands' offsets at column c0. */
#define FOR_ROW_SPANS(it, begin, end, ...)                                     \
    do {                                                                       \
        int last_ = (it)->ndim - 1;                                            \
        int64_t len_ = (it)->shape[last_];                                     \
        for (int64_t i_ = (begin); i_ < (end);) {                              \
            int64_t r = i_ / len_, c0 = i_ % len_;                             \
            int64_t c1 = len_ < c0 + ((end) - i_) ? len_ : c0 + ((end) - i_);  \
            int64_t oa, ob;                                                    \
            row_offsets(it, r, &oa, &ob);                                      \
            oa += c0 * (it)->stride[0][last_];                                 \
            ob += c0 * (it)->stride[1][last_];                                 \
            int64_t n = c1 - c0;                                               \
            __VA_ARGS__;                                                       \
            i_ += n;                                                           \
        }                                                                      \
    } while (0)

#define BINARY_BODY                                                            \
    int last = it->ndim - 1;                                                   \
    int64_t sa = it->stride[0][last], sb = it->stride[1][last];                \
    FOR_ROW_SPANS(it, begin, end, {                                            \
        const float *pa = a + oa, *pb = b + ob;                                \
        float *o = out + r * it->shape[last] + c0;                             \
        switch (op) {                                                          \
        case CNNC__BINOP_ADD: BINARY_LOOP(x + y); break;                       \
        case CNNC__BINOP_SUB: BINARY_LOOP(x - y); break;                       \
        case CNNC__BINOP_MUL: BINARY_LOOP(x * y); break;                       \
        case CNNC__BINOP_DIV: BINARY_LOOP(x / y); break;                       \
        default: break;                                                        \
        }                                                                      \
    })

/* out = operand 0 broadcast or strided (a copy: the same bits at any level) */
#define EXPAND_BODY                                                            \
    int last = it->ndim - 1;                                                   \
    int64_t sa = it->stride[0][last];                                          \
    FOR_ROW_SPANS(it, begin, end, {                                            \
        (void)ob;                                                              \
        float *o = out + r * it->shape[last] + c0;                             \
        const float *pa = a + oa;                                              \
        if (sa == 1) {                                                         \
            for (int64_t j = 0; j < n; j++) o[j] = pa[j];                      \
        } else if (sa == 0) { /* a broadcast value: a fill */                  \
            const float v = pa[0];                                             \
            for (int64_t j = 0; j < n; j++) o[j] = v;                          \
        } else                                                                 \
            for (int64_t j = 0; j < n; j++) o[j] = pa[j * sa];                 \
    })

static void binary_base(cnnc__binop op, float *out, const float *a, const float *b,
                        const cnnc__bcast *it, int64_t begin, int64_t end) {
    BINARY_BODY;
}

static void expand_base(float *out, const float *a, const cnnc__bcast *it, int64_t begin,
                        int64_t end) {
    EXPAND_BODY;
}

#if CNNC__ISA_X86
/* The same loops compiled for AVX2 and AVX-512 (one IEEE operation per element: the
 * same bits at any vector width; no FMA, nothing to contract). AVX2 against the
 * baseline's 4 lanes, 1 thread, Zen 3, [8, 64, 56, 56] (L3-resident), min of 10 x 20
 * calls: mul 0.42-0.44 ms -> 0.35, + a [64, 1, 1] 0.28 -> 0.20. */
CNNC__ISA_TARGET_BEGIN("avx2")
static void binary_avx2(cnnc__binop op, float *out, const float *a, const float *b,
                        const cnnc__bcast *it, int64_t begin, int64_t end) {
    BINARY_BODY;
}
static void expand_avx2(float *out, const float *a, const cnnc__bcast *it, int64_t begin,
                        int64_t end) {
    EXPAND_BODY;
}
CNNC__ISA_TARGET_END

#if defined(__clang__)
CNNC__ISA_TARGET_BEGIN("avx512f")
#else
CNNC__ISA_TARGET_BEGIN("avx512f,prefer-vector-width=512")
#endif
static void binary_avx512(cnnc__binop op, float *out, const float *a, const float *b,
                          const cnnc__bcast *it, int64_t begin, int64_t end) {
    BINARY_BODY;
}
/* The broadcasts too, which ran 16-byte stores at the baseline level: a gradient's
 * expansion over a whole input (Zen 5, 1 thread, [8, 64, 56, 56], bench rows, 3
 * alternations, ms: sum (all) forward + backward 0.23-0.34 -> 0.22-0.23, mean over
 * (2, 3) 0.26-0.38 -> 0.22-0.26). */
static void expand_avx512(float *out, const float *a, const cnnc__bcast *it, int64_t begin,
                          int64_t end) {
    EXPAND_BODY;
}
CNNC__ISA_TARGET_END
#endif

void cnnc__k_binary(cnnc__binop op, float *out, const float *a, const float *b,
                    const cnnc__bcast *it, int64_t begin, int64_t end) {
#if CNNC__ISA_X86
    /* bit-identical to the baseline loops, so the level may be read here */
    if (cnnc__isa_active() >= CNNC__ISA_AVX512) return binary_avx512(op, out, a, b, it, begin, end);
    if (cnnc__isa_active() >= CNNC__ISA_AVX2) return binary_avx2(op, out, a, b, it, begin, end);
#endif
    binary_base(op, out, a, b, it, begin, end);
}

void cnnc__k_expand(float *out, const float *a, const cnnc__bcast *it, int64_t begin,
                    int64_t end) {
#if CNNC__ISA_X86
    if (cnnc__isa_active() >= CNNC__ISA_AVX512) return expand_avx512(out, a, it, begin, end);
    if (cnnc__isa_active() >= CNNC__ISA_AVX2) return expand_avx2(out, a, it, begin, end);
#endif
    expand_base(out, a, it, begin, end);
}

void cnnc__k_affine(float *out, const float *a, int64_t n, float alpha, float beta) {
    /* the one-operation forms round (and sign zeros) exactly as x * s and x + s */
    if (beta == 0.0f)
        for (int64_t i = 0; i < n; i++) out[i] = a[i] * alpha;
    else if (alpha == 1.0f)
        for (int64_t i = 0; i < n; i++) out[i] = a[i] + beta;
    else
        for (int64_t i = 0; i < n; i++) out[i] = a[i] * alpha + beta;
}

/* 16 float lanes over fixed 256-element blocks (each lane adds 16 values, so a
 * block's rounding error stays near 16 ulp), block sums added in double: fast
 * (the lanes vectorize) and accurate whatever n is. The order depends on n only. */
enum { SUM_LANES = 16, SUM_BLOCK = 256 };

static double sum_block(const float *x, int64_t n) {
    float p[SUM_LANES] = {0};
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int k = 0; k < SUM_LANES; k++) p[k] += x[i + k];
    for (int k = 0; i < n; i++, k++) p[k] += x[i];
    for (int w = SUM_LANES / 2; w > 0; w /= 2) /* pairwise */
        for (int k = 0; k < w; k++) p[k] += p[k + w];
    return (double)p[0];
}

#if CNNC__ISA_X86
#include <immintrin.h>

#include "kernels/lanes_avx2.h"

/* The same sums as sum_block, bit for bit (lane k of a vector is p[k]; the pairwise
 * steps are the same adds), four blocks at a time so four add chains overlap. */
__attribute__((target("avx512f"))) static inline double hsum_block(__m512 v) {
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xEE)); /* p[k] += p[k + 8] */
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x01)); /* p[k] += p[k + 4] */
    v = _mm512_add_ps(v, _mm512_shuffle_ps(v, v, 0x0E));    /* p[k] += p[k + 2] */
    v = _mm512_add_ps(v, _mm512_shuffle_ps(v, v, 0x01));    /* p[k] += p[k + 1] */
    return (double)_mm512_cvtss_f32(v);
}

__attribute__((target("avx512f"))) static double sum_avx512(const float *x, int64_t n) {
    double total = 0.0;
    int64_t i = 0;
    for (; i + 4 * SUM_BLOCK <= n; i += 4 * SUM_BLOCK) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = 0; k < SUM_BLOCK; k += SUM_LANES) {
            a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i + k));
            a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + SUM_BLOCK + k));
            a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 2 * SUM_BLOCK + k));
            a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 3 * SUM_BLOCK + k));
        }
        total += hsum_block(a0);
        total += hsum_block(a1);
        total += hsum_block(a2);
        total += hsum_block(a3);
    }
    for (; i < n; i += SUM_BLOCK) {
        const int64_t m = n - i < SUM_BLOCK ? n - i : SUM_BLOCK;
        __m512 a = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + SUM_LANES <= m; k += SUM_LANES) a = _mm512_add_ps(a, _mm512_loadu_ps(x + i + k));
        if (k < m) {
            const __mmask16 t = (__mmask16)((1u << (m - k)) - 1u);
            a = _mm512_mask_add_ps(a, t, a, _mm512_maskz_loadu_ps(t, x + i + k));
        }
        total += hsum_block(a);
    }
    return total;
}

/* AVX2: lanes 0-7 of sum_block's p in lo, 8-15 in hi, then its pairwise steps. */
__attribute__((target("avx2"))) static inline double hsum_block_avx2(__m256 lo, __m256 hi) {
    const __m256 v = _mm256_add_ps(lo, hi);                                  /* k + 8 */
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); /* k + 4 */
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));                                  /* k + 2 */
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 0x01));                           /* k + 1 */
    return (double)_mm_cvtss_f32(h);
}

/* sum_block of each of p[0..nb) (nb <= 2 blocks of m <= SUM_BLOCK floats) into s[],
 * their add chains overlapping; a full block's loop unrolled. */
__attribute__((target("avx2"))) static inline void blocks_avx2(const float *const *p, int nb,
                                                               int64_t m, double *s) {
    __m256 lo[2], hi[2];
    for (int b = 0; b < nb; b++) lo[b] = hi[b] = _mm256_setzero_ps();
    int64_t k = 0;
    if (m == SUM_BLOCK) {
#pragma GCC unroll 16
        for (; k < SUM_BLOCK; k += SUM_LANES)
            for (int b = 0; b < nb; b++) {
                lo[b] = _mm256_add_ps(lo[b], _mm256_loadu_ps(p[b] + k));
                hi[b] = _mm256_add_ps(hi[b], _mm256_loadu_ps(p[b] + k + 8));
            }
    }
    for (; k + SUM_LANES <= m; k += SUM_LANES)
        for (int b = 0; b < nb; b++) {
            lo[b] = _mm256_add_ps(lo[b], _mm256_loadu_ps(p[b] + k));
            hi[b] = _mm256_add_ps(hi[b], _mm256_loadu_ps(p[b] + k + 8));
        }
    if (k < m) { /* the lanes past the end keep their sums (a -0 stays -0) */
        const __m256i t0 = cnnc__lanes_avx2(m - k), t1 = cnnc__lanes_avx2(m - k - 8);
        for (int b = 0; b < nb; b++) {
            const __m256 v0 = _mm256_maskload_ps(p[b] + k, t0), v1 = _mm256_maskload_ps(p[b] + k + 8, t1);
            lo[b] = _mm256_blendv_ps(lo[b], _mm256_add_ps(lo[b], v0), _mm256_castsi256_ps(t0));
            hi[b] = _mm256_blendv_ps(hi[b], _mm256_add_ps(hi[b], v1), _mm256_castsi256_ps(t1));
        }
    }
    for (int b = 0; b < nb; b++) s[b] = hsum_block_avx2(lo[b], hi[b]);
}

/* sum_block's sums bit for bit, two blocks at a time (four add chains overlap). 1
 * thread, Zen 3, sum of [8, 64, 56, 56] (L3-resident), min of 7 x 300 calls: the
 * baseline loop 0.45 ms, this 0.10-0.13 (PyTorch 0.09-0.12); four blocks at a time
 * 0.16-0.18. The block's loop unrolled: min of 6 x 30 x 20 calls, 126-136 us -> 82-89
 * (one block at a time unrolled: the same). */
__attribute__((target("avx2"))) static double sum_avx2(const float *x, int64_t n) {
    double total = 0.0, s[2];
    int64_t i = 0;
    for (; i + 2 * SUM_BLOCK <= n; i += 2 * SUM_BLOCK) {
        blocks_avx2((const float *[2]){x + i, x + i + SUM_BLOCK}, 2, SUM_BLOCK, s);
        total += s[0];
        total += s[1];
    }
    for (; i < n; i += SUM_BLOCK) {
        blocks_avx2((const float *[1]){x + i}, 1, n - i < SUM_BLOCK ? n - i : SUM_BLOCK, s);
        total += s[0];
    }
    return total;
}

/* Rows x0 and x1 of n floats each, block by block side by side: a row's blocks
 * overlap the other's (the partial last blocks and the lanes' folds too). */
__attribute__((target("avx2"))) static void sum_rows2_avx2(const float *x0, const float *x1,
                                                           int64_t n, double *out) {
    double t0 = 0.0, t1 = 0.0, s[2];
    for (int64_t i = 0; i < n; i += SUM_BLOCK) {
        blocks_avx2((const float *[2]){x0 + i, x1 + i}, 2, n - i < SUM_BLOCK ? n - i : SUM_BLOCK, s);
        t0 += s[0];
        t1 += s[1];
    }
    out[0] = t0;
    out[1] = t1;
}
#endif

double cnnc__k_sum(const float *x, int64_t n) {
#if CNNC__ISA_X86
    /* bit-identical to the loop below, so the level may be read here */
    if (cnnc__isa_active() >= CNNC__ISA_AVX512) return sum_avx512(x, n);
    if (cnnc__isa_active() >= CNNC__ISA_AVX2) return sum_avx2(x, n);
#endif
    double total = 0.0;
    for (int64_t i = 0; i < n; i += SUM_BLOCK)
        total += sum_block(x + i, n - i < SUM_BLOCK ? n - i : SUM_BLOCK);
    return total;
}

void cnnc__k_sum_rows(const float *x, int64_t stride, int64_t rows, int64_t n, double *out) {
    int64_t r = 0;
#if CNNC__ISA_X86
    /* 512 rows, 1 thread, Zen 3, min of 100 x 10 calls, us: a row at a time -> two side
     * by side: 3136 floats a row (a spatial mean of [8, 64, 56, 56]) 106-119 -> 100-113,
     * 196 floats 13.7 -> 10.7, 64 floats 7.6 -> 4.1 */
    if (cnnc__isa_active() == CNNC__ISA_AVX2)
        for (; r + 2 <= rows; r += 2) sum_rows2_avx2(x + r * stride, x + (r + 1) * stride, n, out + r);
#endif
    for (; r < rows; r++) out[r] = cnnc__k_sum(x + r * stride, n);
}

void cnnc__k_reduce_acc(double *acc, const float *in, const cnnc__reduce_blocks *b, int first) {
    int64_t size = b->size[first];
    if (first == b->n - 2 && !b->reduce[first] && b->reduce[first + 1]) { /* kept rows, summed */
        enum { ROWS = 16 };
        double s[ROWS];
        for (int64_t i = 0; i < size; i += ROWS) {
            const int64_t rows = size - i < ROWS ? size - i : ROWS;
            cnnc__k_sum_rows(in + i * b->in_stride[first], b->in_stride[first], rows,
                             b->size[first + 1], s);
            for (int64_t r = 0; r < rows; r++) acc[(i + r) * b->out_stride[first]] += s[r];
        }
        return;
    }
    if (first == b->n - 1) {
        if (b->reduce[first])
            acc[0] += cnnc__k_sum(in, size);
        else
            for (int64_t i = 0; i < size; i++) acc[i] += (double)in[i];
        return;
    }
    for (int64_t i = 0; i < size; i++)
        cnnc__k_reduce_acc(acc + (b->reduce[first] ? 0 : i * b->out_stride[first]),
                           in + i * b->in_stride[first], b, first + 1);
}
