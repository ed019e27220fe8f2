/* Depthwise convolution, AVX2 + FMA, square 3x3 and 5x5 filters on 2-d planes (the
 * MobileNet shapes): any H stride and padding, H dilation up to (K - 1) dil + 1 <=
 * DW_SLOTS rows, W stride 1 or 2, W dilation 1, W padding up to K, rows up to DW_MAX_W
 * wide (backward-weight: 3x3 only, its 9 accumulators fit the 16 registers). AVX2 has
 * no cheap masked loads, so each input row (dy row for backward-data) is first copied
 * into a zero-padded row buffer, and W stride 2 splits it into its even and odd phases
 * there: every tap is then an unmasked unit-stride load. The buffers form a small cache
 * of rows (consecutive output rows share input rows). Outputs go 32 at a time (four
 * 8-lane accumulators keep the FMA pipes busy), then the rest of the row; a partial
 * last vector is stored through a scratch vector. */
#include "kernels/conv_dw_internal.h"

#if CNNC__ISA_X86
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/lanes_avx2.h"

CNNC__ISA_TARGET_BEGIN("avx2,fma")

enum { DW_MAX_K = 5, DW_MAX_W = 512, DW_ROW = 640, DW_SLOTS = 8, DW_HALF = DW_ROW / 2 };

#define DW_INLINE static inline __attribute__((always_inline))

static int64_t ceil_to(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* Does the geometry fit these kernels (and their row buffers)? */
static bool fits(const cnnc__window *g, bool weight) {
    const int64_t k = g->k[1], s = g->stride[2];
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (k != g->k[2] || (k != 3 && (k != 5 || weight))) return false;
    if (g->dil[2] != 1 || (s != 1 && s != 2) || g->stride[1] < 1 || g->dil[1] < 1) return false;
    if (g->in[2] < 1 || g->out[2] < 1 || g->in[2] > DW_MAX_W || g->out[2] > DW_MAX_W) return false;
    if (g->pad[2] < 0 || g->pad[2] > k || (k - 1) * g->dil[1] + 1 > DW_SLOTS) return false;
    /* forward rows: writes up to pad + in2, reads up to 32-rounded out2 + taps; per
     * phase with stride 2. Backward-data dy rows: 32-rounded in2 / s + pad / s + K. */
    const int64_t fw = s == 1 ? ceil_to(g->out[2], 32) + k : ceil_to(g->out[2], 32) + k / 2 + 1;
    const int64_t fwr = s == 1 ? g->pad[2] + g->in[2] : (g->pad[2] + g->in[2] + 1) / 2;
    const int64_t bd = ceil_to((g->in[2] + s - 1) / s, 32) + g->pad[2] + 2 * k;
    const int64_t lim = s == 1 ? DW_ROW : DW_HALF;
    return fw <= lim && fwr <= lim && bd <= DW_ROW && g->out[2] + k <= DW_ROW;
}

/* A cache of padded rows of n floats: slot i % DW_SLOTS holds row tag[slot] (-1:
 * none yet), whose first len floats (per phase with stride 2) are read. The rows of
 * one output row span at most DW_SLOTS (fits), so they never evict each other. A
 * slot's padding is zeroed once; later rows only overwrite its data part. */
typedef struct row_cache {
    int64_t tag[DW_SLOTS];
    int64_t n, pad, len;
    int s;
    float buf[DW_SLOTS][DW_ROW];
} row_cache;

static void cache_init(row_cache *c, int64_t n, int64_t pad, int64_t len, int s) {
    for (int i = 0; i < DW_SLOTS; i++) c->tag[i] = -1;
    c->n = n, c->pad = pad, c->len = len, c->s = s;
}

/* Stride 1: buf[j] = row[j - pad] (0 outside [0, n)) for j < len.
 * Stride 2: even phase buf[m] = that of j = 2 m, odd phase buf[DW_HALF + m] of 2 m + 1.
 * Only the data part is written (the rest was zeroed), and with stride 2 zeros past it
 * up to the next 8 of each phase. */
static inline void pad_row(float *buf, const float *row, int64_t n, int64_t pad, int s) {
    if (s == 1) { /* rows are short: an inline copy beats a call */
        int64_t j = 0;
        for (; j + 8 <= n; j += 8) _mm256_storeu_ps(buf + pad + j, _mm256_loadu_ps(row + j));
        for (; j < n; j++) buf[pad + j] = row[j];
        return;
    }
    /* row[2 t] sits at j = 2 t + pad: phase pad % 2, index t + pad / 2; row[2 t + 1] at
     * phase (pad + 1) % 2, index t + (pad + 1) / 2. Both phases of 16 columns a step
     * (one pass: 56 of 112 columns took a scalar tail, and a second pass reloaded the
     * row: 16 -> 96 at 112x112, stride 2, 1 thread, batch 8: 17% of the depthwise's
     * time). Lanes past n load as zeros. */
    float *ev = (pad % 2 ? buf + DW_HALF : buf) + pad / 2;
    float *od = (pad % 2 ? buf : buf + DW_HALF) + (pad + 1) / 2;
    for (int64_t c = 0; c < n; c += 16) {
        const __m256 a = c + 8 <= n ? _mm256_loadu_ps(row + c) : _mm256_maskload_ps(row + c, cnnc__lanes_avx2(n - c));
        const __m256 b = c + 16 <= n ? _mm256_loadu_ps(row + c + 8)
                                     : _mm256_maskload_ps(row + c + 8, cnnc__lanes_avx2(n - c - 8));
        const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(ev + c / 2, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
        _mm256_storeu_ps(od + c / 2, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0))));
    }
}

static inline const float *cached_row(row_cache *c, const float *plane, int64_t i) {
    const int slot = (int)(i % DW_SLOTS);
    float *buf = c->buf[slot];
    if (c->tag[slot] == i) return buf;
    if (c->tag[slot] < 0) {
        memset(buf, 0, (size_t)c->len * sizeof(float));
        if (c->s == 2) memset(buf + DW_HALF, 0, (size_t)c->len * sizeof(float));
    }
    pad_row(buf, plane + i * c->n, c->n, c->pad, c->s);
    c->tag[slot] = i;
    return buf;
}

/* buf[q] = padded row rows[q] where ok[q], for the K rows of one output row. */
static inline void cached_rows(row_cache *c, const float *plane, const int64_t *rows, const bool *ok,
                        int K, const float **buf) {
    for (int q = 0; q < K; q++) buf[q] = ok[q] ? cached_row(c, plane, rows[q]) : NULL;
}

/* The padded input rows the forward and backward-weight read: stride 1, up to the
 * 8-rounded output width plus the taps; stride 2, per phase half that. */
static void cache_init_in(row_cache *c, const cnnc__window *g) {
    const int64_t k = g->k[2], s = g->stride[2], o = ceil_to(g->out[2], 8);
    int64_t len = s == 1 ? o + k : o + k / 2 + 1;
    const int64_t wr = s == 1 ? g->pad[2] + g->in[2] : (g->pad[2] + g->in[2] + 1) / 2;
    cache_init(c, g->in[2], g->pad[2], len > wr ? len : wr, (int)s);
}

/* buf[q1], ok[q1]: the padded input rows output row p1 reads (forward and backward-weight). */
static inline void in_rows(row_cache *c, const float *x, const cnnc__window *g, int64_t p1, int K,
                           const float **buf, bool *ok) {
    int64_t rows[DW_MAX_K];
    for (int q1 = 0; q1 < K; q1++) {
        rows[q1] = p1 * g->stride[1] - g->pad[1] + q1 * g->dil[1];
        ok[q1] = rows[q1] >= 0 && rows[q1] < g->in[1];
    }
    cached_rows(c, x, rows, ok, K, buf);
}

/* Stores v to row[0, n) (n <= 8; whole when n == 8). */
DW_INLINE void store_n(float *row, int64_t n, __m256 v) {
    if (n >= 8) {
        _mm256_storeu_ps(row, v);
    } else if (n > 0) {
        float t[8];
        _mm256_storeu_ps(t, v);
        memcpy(row, t, (size_t)n * sizeof(float));
    }
}

/* ---- forward -------------------------------------------------------------------------- */

/* NC (1..4) vectors of 8 outputs of a row from o, bias included: tap (q1, q2) reads
 * buf[q1] at o + q2 (stride 1) or phase q2 % 2 at o + q2 / 2. */
DW_INLINE void fwd_group(const int K, const int S, const int NC, float *yr, const float *buf[],
                         const bool ok[], const float *w, float bias, int64_t o, int64_t out2) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int c = 0; c < NC; c++) acc[c] = _mm256_set1_ps(bias);
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++) {
        if (!ok[q1]) continue;
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) {
            const __m256 wv = _mm256_set1_ps(w[q1 * K + q2]);
            const float *src = S == 1 ? buf[q1] + o + q2 : buf[q1] + (q2 % 2) * DW_HALF + o + q2 / 2;
#pragma GCC unroll 4
            for (int c = 0; c < NC; c++)
                acc[c] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src + 8 * c), acc[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < NC; c++) store_n(yr + o + 8 * c, out2 - o - 8 * c, acc[c]);
}

/* A whole output row: groups of four vectors (independent FMA chains), then the rest. */
DW_INLINE void fwd_row(const int K, const int S, float *yr, const float *buf[], const bool ok[],
                       const float *w, float bias, int64_t out2) {
    const int64_t nv = (out2 + 7) / 8;
    int64_t v = 0;
    for (; v + 4 <= nv; v += 4) fwd_group(K, S, 4, yr, buf, ok, w, bias, 8 * v, out2);
    switch (nv - v) {
    case 3: fwd_group(K, S, 3, yr, buf, ok, w, bias, 8 * v, out2); break;
    case 2: fwd_group(K, S, 2, yr, buf, ok, w, bias, 8 * v, out2); break;
    case 1: fwd_group(K, S, 1, yr, buf, ok, w, bias, 8 * v, out2); break;
    default: break;
    }
}

DW_INLINE void fwd_body(const int K, const int S, float *y, const float *x, const float *w,
                        float bias, const cnnc__window *g) {
    row_cache cache;
    cache_init_in(&cache, g);
    for (int64_t p1 = 0; p1 < g->out[1]; p1++) {
        const float *buf[DW_MAX_K];
        bool ok[DW_MAX_K];
        in_rows(&cache, x, g, p1, K, buf, ok);
        fwd_row(K, S, y + p1 * g->out[2], buf, ok, w, bias, g->out[2]);
    }
}

static void fwd_3_1(float *y, const float *x, const float *w, float b, const cnnc__window *g) {
    fwd_body(3, 1, y, x, w, b, g);
}
static void fwd_3_2(float *y, const float *x, const float *w, float b, const cnnc__window *g) {
    fwd_body(3, 2, y, x, w, b, g);
}
static void fwd_5_1(float *y, const float *x, const float *w, float b, const cnnc__window *g) {
    fwd_body(5, 1, y, x, w, b, g);
}
static void fwd_5_2(float *y, const float *x, const float *w, float b, const cnnc__window *g) {
    fwd_body(5, 2, y, x, w, b, g);
}

bool cnnc__dw_sq_forward_avx2(float *y, const float *x, const float *w, float bias,
                              const cnnc__window *g) {
    if (!fits(g, false)) return false;
    const bool s2 = g->stride[2] == 2;
    if (g->k[1] == 3)
        (s2 ? fwd_3_2 : fwd_3_1)(y, x, w, bias, g);
    else
        (s2 ? fwd_5_2 : fwd_5_1)(y, x, w, bias, g);
    return true;
}

/* ---- backward data -------------------------------------------------------------------- */

/* Per phase a of W (positions S l + a) and tap q2: does the tap reach the phase
 * ((a + pad2 - q2) divisible by S), and where it reads the padded dy row (stored from
 * index K): l + K + (a + pad2 - q2) / S. */
typedef struct bwd_taps {
    int64_t off[2][DW_MAX_K];
    bool on[2][DW_MAX_K];
} bwd_taps;

static void make_bwd_taps(bwd_taps *t, int K, int S, int64_t pad2) {
    for (int a = 0; a < S; a++)
        for (int q = 0; q < K; q++) {
            const int64_t num = a + pad2 - q;
            t->on[a][q] = num % S == 0;
            t->off[a][q] = K + num / S;
        }
}

/* NC (1..4 / S) vectors of 8 per phase from l: dx positions S l .. S (l + 8 NC); stride
 * 2 interleaves the phases' vectors. */
DW_INLINE void bwd_group(const int K, const int S, const int NC, float *xr, const float *buf[],
                         const bool ok[], const float *w, const bwd_taps *t, int64_t l,
                         int64_t in2, bool accumulate) {
    __m256 acc[8], v[8]; /* S NC <= 4 when called; 8 keeps dead instantiations defined */
#pragma GCC unroll 4
    for (int c = 0; c < S * NC; c++) acc[c] = _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int q1 = 0; q1 < K; q1++) {
        if (!ok[q1]) continue;
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) {
            const __m256 wv = _mm256_set1_ps(w[q1 * K + q2]);
#pragma GCC unroll 2
            for (int a = 0; a < S; a++) {
                if (!t->on[a][q2]) continue;
                const float *src = buf[q1] + l + t->off[a][q2];
#pragma GCC unroll 4
                for (int c = 0; c < NC; c++)
                    acc[a * NC + c] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src + 8 * c), acc[a * NC + c]);
            }
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < NC; c++) {
        if (S == 1) {
            v[c] = acc[c];
        } else { /* acc[c]: even positions of 8 pairs, acc[NC + c]: the odd ones */
            const __m256 lo = _mm256_unpacklo_ps(acc[c], acc[NC + c]);
            const __m256 hi = _mm256_unpackhi_ps(acc[c], acc[NC + c]);
            v[2 * c] = _mm256_permute2f128_ps(lo, hi, 0x20);
            v[2 * c + 1] = _mm256_permute2f128_ps(lo, hi, 0x31);
        }
    }
    const int64_t i = l * S;
#pragma GCC unroll 4
    for (int c = 0; c < S * NC; c++) {
        const int64_t n = in2 - i - 8 * c;
        if (n <= 0) break;
        if (accumulate) {
            float old[8] = {0};
            memcpy(old, xr + i + 8 * c, (size_t)(n < 8 ? n : 8) * sizeof(float));
            v[c] = _mm256_add_ps(v[c], _mm256_loadu_ps(old));
        }
        store_n(xr + i + 8 * c, n, v[c]);
    }
}

/* A whole input row of dx: groups of 32 positions, then the rest. */
DW_INLINE void bwd_row(const int K, const int S, float *xr, const float *buf[], const bool ok[],
                       const float *w, const bwd_taps *t, int64_t in2, bool accumulate) {
    const int64_t nv = ((in2 + S - 1) / S + 7) / 8, G = 4 / S; /* vectors per phase */
    int64_t v = 0;
    for (; v + G <= nv; v += G) bwd_group(K, S, 4 / S, xr, buf, ok, w, t, 8 * v, in2, accumulate);
    switch (nv - v) {
    case 3: bwd_group(K, S, 3, xr, buf, ok, w, t, 8 * v, in2, accumulate); break;
    case 2: bwd_group(K, S, 2, xr, buf, ok, w, t, 8 * v, in2, accumulate); break;
    case 1: bwd_group(K, S, 1, xr, buf, ok, w, t, 8 * v, in2, accumulate); break;
    default: break;
    }
}

DW_INLINE void bwd_data_body(const int K, const int S, float *dx, const float *dy,
                             const float *w, const cnnc__window *g, bool accumulate) {
    /* dy rows padded by K in front; read up to the rounded phase width + K + pad */
    row_cache cache;
    const int64_t len = ceil_to((g->in[2] + S - 1) / S, 8) + g->pad[2] + 2 * K;
    cache_init(&cache, g->out[2], K, len > K + g->out[2] ? len : K + g->out[2], 1);
    bwd_taps taps;
    make_bwd_taps(&taps, K, S, g->pad[2]);
    const int64_t s1 = g->stride[1];
    for (int64_t i1 = 0; i1 < g->in[1]; i1++) {
        const float *buf[DW_MAX_K];
        int64_t rows[DW_MAX_K];
        bool ok[DW_MAX_K];
        for (int q1 = 0; q1 < K; q1++) {
            const int64_t num = i1 + g->pad[1] - q1 * g->dil[1];
            ok[q1] = num >= 0 && num % s1 == 0 && num / s1 < g->out[1];
            rows[q1] = ok[q1] ? num / s1 : 0;
        }
        cached_rows(&cache, dy, rows, ok, K, buf);
        bool any = false;
        for (int q1 = 0; q1 < K; q1++) any = any || ok[q1];
        float *xr = dx + i1 * g->in[2];
        if (any)
            bwd_row(K, S, xr, buf, ok, w, &taps, g->in[2], accumulate);
        else if (!accumulate)
            memset(xr, 0, (size_t)g->in[2] * sizeof(float));
    }
}

static void bwd_3_1(float *dx, const float *dy, const float *w, const cnnc__window *g, bool a) {
    bwd_data_body(3, 1, dx, dy, w, g, a);
}
static void bwd_3_2(float *dx, const float *dy, const float *w, const cnnc__window *g, bool a) {
    bwd_data_body(3, 2, dx, dy, w, g, a);
}
static void bwd_5_1(float *dx, const float *dy, const float *w, const cnnc__window *g, bool a) {
    bwd_data_body(5, 1, dx, dy, w, g, a);
}
static void bwd_5_2(float *dx, const float *dy, const float *w, const cnnc__window *g, bool a) {
    bwd_data_body(5, 2, dx, dy, w, g, a);
}

bool cnnc__dw_sq_backward_data_avx2(float *dx, const float *dy, const float *w,
                                    const cnnc__window *g, bool accumulate) {
    if (!fits(g, false)) return false;
    const bool s2 = g->stride[2] == 2;
    if (g->k[1] == 3)
        (s2 ? bwd_3_2 : bwd_3_1)(dx, dy, w, g, accumulate);
    else
        (s2 ? bwd_5_2 : bwd_5_1)(dx, dy, w, g, accumulate);
    return true;
}

/* ---- backward weight (3x3) ------------------------------------------------------------ */

DW_INLINE void bww_body(const int S, float *dw, const float *dy, const float *x,
                        const cnnc__window *g) {
    enum { K = 3 };
    row_cache cache;
    cache_init_in(&cache, g);
    __m256 acc[K][K];
    for (int q1 = 0; q1 < K; q1++)
        for (int q2 = 0; q2 < K; q2++) acc[q1][q2] = _mm256_setzero_ps();
    const int64_t out2 = g->out[2];
    float dyb[DW_ROW];
    for (int64_t p1 = 0; p1 < g->out[1]; p1++) {
        const float *buf[K];
        bool ok[K];
        in_rows(&cache, x, g, p1, K, buf, ok);
        const float *yr = dy + p1 * out2;
        const int64_t full = out2 / 8 * 8;
        if (full < out2) { /* the last partial vector of dy, zero past the row */
            memset(dyb + full, 0, 8 * sizeof(float));
            memcpy(dyb + full, yr + full, (size_t)(out2 - full) * sizeof(float));
        }
        for (int64_t o = 0; o < out2; o += 8) {
            const __m256 vy = _mm256_loadu_ps(o < full ? yr + o : dyb + o);
#pragma GCC unroll 3
            for (int q1 = 0; q1 < K; q1++) {
                if (!ok[q1]) continue;
#pragma GCC unroll 3
                for (int q2 = 0; q2 < K; q2++) {
                    const float *src = S == 1 ? buf[q1] + o + q2 : buf[q1] + (q2 % 2) * DW_HALF + o + q2 / 2;
                    acc[q1][q2] = _mm256_fmadd_ps(vy, _mm256_loadu_ps(src), acc[q1][q2]);
                }
            }
        }
    }
    for (int q1 = 0; q1 < K; q1++)
        for (int q2 = 0; q2 < K; q2++) {
            const __m256 v = acc[q1][q2];
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            s = _mm_add_ss(s, _mm_movehdup_ps(s));
            dw[q1 * K + q2] += _mm_cvtss_f32(s);
        }
}

static void bww_3_1(float *dw, const float *dy, const float *x, const cnnc__window *g) {
    bww_body(1, dw, dy, x, g);
}
static void bww_3_2(float *dw, const float *dy, const float *x, const cnnc__window *g) {
    bww_body(2, dw, dy, x, g);
}

bool cnnc__dw_sq_backward_weight_avx2(float *dw, const float *dy, const float *x,
                                      const cnnc__window *g) {
    if (!fits(g, true)) return false;
    (g->stride[2] == 2 ? bww_3_2 : bww_3_1)(dw, dy, x, g);
    return true;
}

CNNC__ISA_TARGET_END
#else
typedef int cnnc__dw_avx2_unused; /* ISO C: a translation unit is not empty */
#endif
