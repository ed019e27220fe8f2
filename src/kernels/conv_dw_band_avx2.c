/* Depthwise convolution, AVX2 + FMA, on runs of planes by padded bands: square 3x3 /
 * 5x5 filters, the same stride (1 or 2) in H and W, dilation 1, padding up to K - 1
 * (backward-weight: 3x3; the widths each direction takes: narrow() below). A band of
 * input rows (dy rows for backward-data) is copied into a zero-bordered buffer (stride
 * 2 in W: split into its even and odd columns; the borders zeroed once per run,
 * padding rows once per run where they stay put), so that every tap is an unmasked
 * 8-lane load: no masks, no per-row bookkeeping. Blocks of output rows (8 rows of one
 * vector, 4 of two, 2 of three, 3 of two on rows of 4 or more vectors) keep 6 to 8 FMA
 * chains in flight, each input vector loaded once for every row whose taps read it. A row of
 * several vectors ends with one moved back to end at the row's end; a row of one
 * vector group writes up to 7 floats past itself, into the next row (or plane) of the
 * run, which is written afterwards; only a store past the run's end goes through a
 * scratch vector.
 * Forward: bias, then the taps in (q1, q2) order fused-multiply-added (a tap reading
 * padding adds w * 0: the bits of the taps skipped but for signed zeros and infinite
 * weights). Backward-data: stride 1 the forward of dy with the filter turned by 180
 * degrees; stride 2 dx's two column phases per dx row (the taps of each fixed by the
 * parities), interleaved. Backward-weight: one vector accumulator per tap over the
 * filter's planes in every image, reduced once.
 * The stride-1 forward on rows up to 8 outputs reads the planes in place instead (masked
 * loads, see direct() below); so does the stride-2 forward from rows split ahead
 * (cnnc__dwconv_split_rows: a fused 1x1 convolution's output, ops/conv.c's chain).
 * They replace conv_dw_avx2.c's per-plane row cache on these geometries: its tags,
 * zeroing and partial stores cost more than the FMAs on small planes (1 thread, batch
 * 8, ms forward / input grad / weight grad: 576x14x14 1.96 / 2.06 / 2.11 -> 0.72 /
 * 0.64 / 0.71; 960x7x7 1.56 / 1.63 / 1.59 -> 0.40 / 0.36 / 0.45), and, with 3x3
 * filters, on the forward's wide rows (narrow() below). */
#include "kernels/conv_dw_internal.h"

#if CNNC__ISA_X86
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/lanes_avx2.h"

CNNC__ISA_TARGET_BEGIN("avx2,fma")

enum { BD_FLOATS = 4096, BD_MAX_K = 5, BD_MARGIN = 8, BD_PF_BYTES = 4096, BD_PF_MAX = 256,
       BD_WIDE = 32, BD_WIDE_BAND = 6, BD_DIRECT = 8, BWW_BLOCK = 32 };
/* BD_WIDE_BAND: the forward's bands on rows wider than BD_WIDE, in output rows. Fills
 * and FMAs then alternate every few KB, so reading x from memory or L3 overlaps the
 * FMAs (a band as large as the buffer holds waits on its fill: 1 thread, batch 8, ms
 * bands of 30 / 12 / 6 / 3 rows: 32x112x112 2.1-2.2 / 1.8-2.2 / 1.6-1.8 / 1.6-1.9,
 * 144x56x56 2.1-2.2 / 1.8-2.0 / 1.8 / 1.9). */

#define BD_INLINE static inline __attribute__((always_inline))
/* A block size c for a case that happens only when c < n; else 1 (the case is dead,
 * and the instance stays within the accumulators). */
/* The forward instances start on a cache line: where they land otherwise moves their
 * loops across the op cache's lines (with code unchanged, 576x14x14 stride 2 ran 0.45
 * or 0.49 ms depending on what else the file held). */
#define BD_ALIGN __attribute__((aligned(64)))
#define BD_LT(c, n) ((c) < (n) ? (c) : 1)

/* One plane pass: a source plane [ih, iw] read through the buffer, a destination
 * plane [oh, ow] written (or, backward-weight, dy read). Buffer rows of ld floats
 * (stride 2: the even padded columns at 0, the odd ones at half); nv vectors of 8 per
 * destination row; band destination rows per fill. */
typedef struct bd_geom {
    int64_t ih, iw, oh, ow;
    int64_t ph, pw; /* leading padding: destination 0 reads source -ph, -pw first */
    int64_t ld, half, nv, band;
    int64_t rows; /* buffer rows a band fills at most */
    int64_t lead; /* fill: source column 0 at (stride 1) buffer column / (2) padded column lead */
} bd_geom;

static int64_t round8(int64_t v) { return (v + 7) / 8 * 8; }

/* v / 2 rounded toward negative infinity. */
static int64_t floor_half(int64_t v) { return v >= 0 ? v / 2 : -((1 - v) / 2); }

/* p[0 .. min(n, 8)) and zeros (n <= 0: all zeros; lanes past n are never read). */
BD_INLINE __m256 load_n(const float *p, int64_t n) {
    if (n >= 8) return _mm256_loadu_ps(p);
    if (n <= 0) return _mm256_setzero_ps();
    return _mm256_maskload_ps(p, cnnc__lanes_avx2(n));
}

/* load_n(p, n) where avail floats from p may be read: with avail >= 8 a plain load, its
 * lanes from n on cleared (the stride-2 fill's row tails, where the plane goes on:
 * 1 thread, batch 8, bias + ReLU6, min of 5 x 31, ms 576x14x14 0.483 -> 0.462,
 * 192x28x28 0.419 -> 0.417; the stride-1 fill's, 384x14x14 and 192x28x28, gained
 * nothing and keep the masked load). */
BD_INLINE __m256 load_in(const float *p, int64_t n, int64_t avail) {
    if (n >= 8 || n <= 0 || avail < 8) return load_n(p, n);
    return _mm256_and_ps(_mm256_loadu_ps(p), _mm256_castsi256_ps(cnnc__lanes_avx2(n)));
}

/* The lanes l of a load from column c of a source row of n floats that fall inside
 * it (0 <= c + l < n); the others read as zero. */
BD_INLINE __m256i row_lanes(int64_t c, int64_t n) {
    const __m256i l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i below = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(c < 0 ? -c : 0)), l);
    return _mm256_andnot_si256(below, cnnc__lanes_avx2(n - c));
}

/* v to dst, up to end: whole when 8 floats fit before end (the lanes past the row are
 * written again later), else its lanes before end. */
BD_INLINE void store_until(float *dst, const float *end, __m256 v) {
    cnnc__store_n_avx2(dst, v, end - dst);
}

/* cnnc__dw_prefetch_ahead on planes of at most BD_PF_MAX floats: larger ones ride the
 * hardware prefetcher (56x56: 0.1 - 0.3 ms slower with it; 28x28: no gain; nor with
 * the next band's source lines touched a part after each block of the current band:
 * 1 thread, batch 8, bias + ReLU6, 192x28x28 0.65-0.69 -> 0.68-0.73 ms, from L2 as
 * fast as from L3). */
BD_INLINE void prefetch_ahead(const float *p, int64_t n, int64_t ahead, bool write) {
    if (n <= BD_PF_MAX) cnnc__dw_prefetch_ahead(p, n, ahead, write);
}

/* The source's own epilogue on a plane's rows as they are read (cnnc__dw_fwd_ep's
 * xbias, xclamp): v + bias when add (not without a bias: -0 + 0 is +0), then clamped
 * (lo -inf, hi inf: not; the same bits). */
typedef struct bd_pre {
    __m256 bias, lo, hi;
    bool add;
} bd_pre;

/* v + bias clamped (PRE false: v), then lanes from n on zero (they hold padding). */
BD_INLINE __m256 pre_apply(__m256 v, const bool PRE, const bd_pre *pre, int64_t n) {
    if (!PRE) return v;
    if (pre->add) v = _mm256_add_ps(v, pre->bias);
    v = _mm256_min_ps(pre->hi, _mm256_max_ps(pre->lo, v));
    return n >= 8 ? v : _mm256_and_ps(v, _mm256_castsi256_ps(cnnc__lanes_avx2(n)));
}

/* Source row src [n] (avail >= n floats readable from src) into a buffer row, column c
 * at padded column c + lead: stride 1 buf[c + lead]; stride 2 the even padded columns
 * at buf[m], the odd at buf[half + m] (padded column 2 m + phase), through pre when PRE
 * (a compile-time constant: with the test inside the loops, stride-2 runs of small
 * planes lost 5-20%). Writes zeros past the data up to the next 8 (16). */
BD_INLINE void fill_row(const int S, const bool PRE, float *buf, const float *src, int64_t n,
                        int64_t avail, int64_t lead, int64_t half, const bd_pre *pre_in) {
    /* (a copy: the buffer's stores may alias *pre_in, a vector type, which the loops
     * then reloaded at every store) */
    const bd_pre pre_v = PRE ? *pre_in : (bd_pre){0}, *pre = &pre_v;
    if (S == 1) {
        int64_t c = 0;
        for (; c + 8 <= n; c += 8)
            _mm256_storeu_ps(buf + lead + c, pre_apply(_mm256_loadu_ps(src + c), PRE, pre, 8));
        if (c < n)
            _mm256_storeu_ps(buf + lead + c, pre_apply(load_n(src + c, n - c), PRE, pre, n - c));
        return;
    }
    /* x columns c + 2 t (even) and c + 2 t + 1 (odd), c a multiple of 16: with lead
     * even they sit in phases 0 and 1 at (c + lead) / 2 + t; with lead odd in phases 1
     * and 0, at (c + lead - 1) / 2 + t and (c + lead + 1) / 2 + t */
    float *ev_dst = lead % 2 ? buf + half + (lead - 1) / 2 : buf + lead / 2;
    float *od_dst = lead % 2 ? buf + (lead + 1) / 2 : buf + half + lead / 2;
    for (int64_t c = 0; c < n; c += 16) {
        const bool whole = c + 16 <= n; /* (plain loads: the masked ones cost a fill 2x) */
        const __m256 a =
            pre_apply(whole ? _mm256_loadu_ps(src + c) : load_in(src + c, n - c, avail - c), PRE,
                      pre, n - c);
        const __m256 b = pre_apply(whole ? _mm256_loadu_ps(src + c + 8)
                                         : load_in(src + c + 8, n - c - 8, avail - c - 8),
                                   PRE, pre, n - c - 8);
        const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(ev_dst + c / 2, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                             _mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
        _mm256_storeu_ps(od_dst + c / 2, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                             _mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0))));
    }
}

/* Buffer rows t < rows from source rows r0 + t (outside the plane: zeros) through pre
 * (NULL: none). zero[t]: row t holds zeros already (a small plane's padding rows stay
 * put from plane to plane: zeroed once per run). */
BD_INLINE void fill_band(const int S, const bool PRE, float *buf, bool *zero, const float *src,
                         int64_t r0, int64_t rows, const bd_geom *b, const bd_pre *pre) {
    for (int64_t t = 0; t < rows; t++) {
        const int64_t r = r0 + t;
        if (r >= 0 && r < b->ih) {
            fill_row(S, PRE, buf + t * b->ld, src + r * b->iw, b->iw, (b->ih - r) * b->iw,
                     b->lead, b->half, pre);
            zero[t] = false;
        } else if (!zero[t]) {
            memset(buf + t * b->ld, 0, (size_t)b->ld * sizeof(float));
            zero[t] = true;
        }
    }
}

/* Zeros [lo, hi) of row: a few floats, inline (memset calls per row cost as much as
 * a small plane's convolution when a run is one plane, as with the forward's
 * activation on 56x56 planes). */
BD_INLINE void zero_cols(float *row, int64_t lo, int64_t hi) {
    for (; lo + 8 <= hi; lo += 8) _mm256_storeu_ps(row + lo, _mm256_setzero_ps());
    for (; lo < hi; lo++) row[lo] = 0.0f;
}

/* Once per run: the columns of every buffer row that fills never write (the padding
 * and past the data) set to zero. */
static void clear_margins(int S, float *buf, bool *zero, const bd_geom *b) {
    for (int64_t t = 0; t < b->rows; t++) {
        zero[t] = false;
        float *row = buf + t * b->ld;
        if (S == 1) {
            zero_cols(row, 0, b->lead);
            zero_cols(row, b->lead + round8(b->iw), b->ld);
            continue;
        }
        const int64_t len = (b->iw + 15) / 16 * 8; /* each phase's written floats */
        for (int ph = 0; ph < 2; ph++) { /* phase 0's data from (lead + 1) / 2, 1's lead / 2 */
            float *p = row + ph * b->half;
            const int64_t start = ph ? b->lead / 2 : (b->lead + 1) / 2;
            zero_cols(p, 0, start);
            zero_cols(p, start + len, b->half);
        }
    }
}

/* ---- forward (and stride-1 backward-data) ----------------------------------------- */

/* Geometry of a forward pass: source [ih, iw] with leading padding ph, pw to a
 * destination [oh, ow]; false when K rows of the buffer do not fit. */
static bool fwd_geom(bd_geom *b, int K, int S, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                     int64_t ph, int64_t pw) {
    *b = (bd_geom){ih, iw, oh, ow, ph, pw, 0, 0, (ow + 7) / 8, 0, 0, S == 1 ? BD_MARGIN : pw};
    /* reads up to padded column 8 nv + K - 2 (stride 2: per phase 8 nv + (K - 1) / 2 - 1);
     * fills write up to lead + the 8-rounded iw (per phase (pw + 1) / 2 + iw / 2 + 8).
     * Stride 1 keeps the copies aligned: padded column c at buffer column c + lead - pw */
    if (S == 1) {
        const int64_t rd = BD_MARGIN - pw + 8 * b->nv + K - 1, wr = BD_MARGIN + round8(iw);
        b->ld = round8(rd > wr ? rd : wr);
    } else {
        const int64_t rd = 8 * b->nv + (K - 1) / 2, wr = (pw + 1) / 2 + (iw + 15) / 16 * 8;
        b->half = round8(rd > wr ? rd : wr);
        b->ld = 2 * b->half;
    }
    const int64_t cap = BD_FLOATS / b->ld;
    if (cap < K) return false;
    b->band = (cap - K) / S + 1;
    if (b->band > oh) b->band = oh;
    b->rows = (b->band - 1) * S + K;
    return true;
}

/* A plane's filter taps, bias and (CL) output clamp, each in all 8 lanes. */
typedef struct bd_taps {
    __m256 wv[BD_MAX_K * BD_MAX_K];
    __m256 bias, lo, hi;
} bd_taps;

/* xv, 8 floats of block row t (the first tap row's 0) at tap column q2 for vector v,
 * fused-multiply-added into every accumulator acc [NR][NV] of a destination row whose
 * taps read it. */
BD_INLINE void fwd_tap(const int K, const int S, const int NR, const int NV, __m256 *acc,
                       const __m256 *wv, int t, int q2, int v, __m256 xv) {
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++) {
        const int q1 = t - r * S;
        if (q1 >= 0 && q1 < K)
            acc[r * NV + v] = _mm256_fmadd_ps(wv[q1 * K + q2], xv, acc[r * NV + v]);
    }
}

/* fwd_block's taps at stride 1 read from the source plane x itself (t0 counted from its
 * first padded row): each load masked to the lanes inside its row (the others add
 * w * 0), the rows outside the plane skipped (the (q1, q2) order of the rows inside
 * kept). */
BD_INLINE void fwd_taps_direct(const int K, const int NR, const int NV, __m256 *acc,
                               const float *x, int64_t t0, const bd_geom *b, const __m256 *wv,
                               int64_t p0) {
    __m256i mk[4][BD_MAX_K]; /* [NV][K], the lanes of each load inside its row */
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) mk[v][q2] = row_lanes(p0 + 8 * v - b->pw + q2, b->iw);
#pragma GCC unroll 16
    for (int t = 0; t < NR - 1 + K; t++) {
        const int64_t ir = t0 + t - b->ph;
        if (ir < 0 || ir >= b->ih) continue;
        const float *row = x + ir * b->iw + p0 - b->pw;
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                fwd_tap(K, 1, NR, NV, acc, wv, t, q2, v,
                        _mm256_maskload_ps(row + q2 + 8 * v, mk[v][q2]));
    }
}

/* NR destination rows from yr (buffer rows from t0: the first one's first tap row),
 * NV vectors each from column p0, by input rows: each 8 floats of a buffer row loaded
 * once and fused-multiply-added into every destination row whose taps read them (for
 * each accumulator still in (q1, q2) order); every load one row pointer plus a
 * constant (perf showed per-tap address arithmetic around most FMAs otherwise). CL:
 * the sums clamped before they are stored (hardtanh's formula, as cnnc__k_act_forward:
 * the activation's separate pass over the plane took 5-8% of a 56x56 layer's time). D
 * (stride 1): buf is the source plane itself, read by fwd_taps_direct. */
BD_INLINE void fwd_block(const int K, const int S, const bool D, const bool CL, const int NR,
                         const int NV, float *yr, const float *end, const float *buf,
                         int64_t t0, const bd_geom *b, const bd_taps *tp, int64_t p0) {
    const __m256 *wv = tp->wv;
    __m256 acc[8]; /* [NR][NV], NR NV <= 8: flat and small, so kept in registers */
#pragma GCC unroll 32
    for (int a = 0; a < NR * NV; a++) acc[a] = tp->bias;
    if (D) {
        fwd_taps_direct(K, NR, NV, acc, buf, t0, b, wv, p0);
    } else {
        const float *base = buf + t0 * b->ld + (S == 1 ? b->lead - b->pw : 0) + p0;
#pragma GCC unroll 16
        for (int t = 0; t < (NR - 1) * S + K; t++) {
            const float *row = base + t * b->ld, *odd = row + b->half;
#pragma GCC unroll 8
            for (int q2 = 0; q2 < K; q2++) {
                const float *src = S == 1 ? row + q2 : (q2 % 2 ? odd : row) + q2 / 2;
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    fwd_tap(K, S, NR, NV, acc, wv, t, q2, v, _mm256_loadu_ps(src + 8 * v));
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m256 o = acc[r * NV + v];
            if (CL) o = _mm256_min_ps(tp->hi, _mm256_max_ps(tp->lo, o));
            store_until(yr + r * b->ow + p0 + 8 * v, end, o);
        }
}

/* The first column of a group of nv vectors from vector j in a row: 8 j, moved back
 * so that the group ends at the row's end (recomputing a few outputs), or 0 when the
 * group is the row's only one (its lanes past the row then land in the next row,
 * which the caller writes afterwards). Rows thus store nothing past themselves but
 * when they fit in one group. */
BD_INLINE int64_t group_at(int64_t j, int nv, int64_t ow) {
    const int64_t p = ow - 8 * nv < 8 * j ? ow - 8 * nv : 8 * j;
    return p > 0 ? p : 0;
}

/* NR rows: their vectors NV at a time, then the rest. */
BD_INLINE void fwd_rows(const int K, const int S, const bool D, const bool CL, const int NR,
                        const int NV, float *yr, const float *end, const float *buf,
                        int64_t t0, const bd_geom *b, const bd_taps *tp) {
    int64_t j = 0;
    for (; j + NV <= b->nv; j += NV)
        fwd_block(K, S, D, CL, NR, NV, yr, end, buf, t0, b, tp, group_at(j, NV, b->ow));
    if (j == b->nv) return; /* (NV 1 covers its rows; NV 2 leaves 1, NV 3 1 or 2) */
    const int64_t p = group_at(j, (int)(b->nv - j), b->ow);
    if (b->nv - j == 2)
        fwd_block(K, S, D, CL, NR, BD_LT(2, NV), yr, end, buf, t0, b, tp, p);
    else
        fwd_block(K, S, D, CL, NR, 1, yr, end, buf, t0, b, tp, p);
}

/* A band's nb rows from yr: blocks of NR rows, then the rest (a 7-row plane as 4 + 3). */
BD_INLINE void fwd_band(const int K, const int S, const bool D, const bool CL, const int NR,
                        const int NV, float *yr, int64_t nb, const float *end,
                        const float *buf, const bd_geom *b, const bd_taps *tp) {
    int64_t r = 0;
    for (; r + NR <= nb; r += NR)
        fwd_rows(K, S, D, CL, NR, NV, yr + r * b->ow, end, buf, r * S, b, tp);
    if (NR > 4 && r + 4 <= nb) {
        fwd_rows(K, S, D, CL, BD_LT(4, NR), NV, yr + r * b->ow, end, buf, r * S, b, tp);
        r += 4;
    }
    switch (nb - r) {
    case 3: fwd_rows(K, S, D, CL, BD_LT(3, NR), NV, yr + r * b->ow, end, buf, r * S, b, tp); break;
    case 2: fwd_rows(K, S, D, CL, BD_LT(2, NR), NV, yr + r * b->ow, end, buf, r * S, b, tp); break;
    case 1: fwd_rows(K, S, D, CL, 1, NV, yr + r * b->ow, end, buf, r * S, b, tp); break;
    default: break;
    }
}

/* Plane i's input epilogue from ep (NULL: none). */
BD_INLINE const bd_pre *pre_of(bd_pre *pre, const cnnc__dw_fwd_ep *ep, int64_t i) {
    if (!ep || (!ep->xbias && !ep->xclamp)) return NULL;
    pre->add = ep->xbias != NULL;
    pre->bias = _mm256_set1_ps(ep->xbias ? ep->xbias[i] : 0.0f);
    pre->lo = _mm256_set1_ps(ep->xclamp ? ep->xclamp->lo : -INFINITY);
    pre->hi = _mm256_set1_ps(ep->xclamp ? ep->xclamp->hi : INFINITY);
    return pre;
}

/* P's band of buffer rows from source row r0 (rows of them, ld floats each): the
 * plane's own rows where they all lie inside it, else copied into buf, the padding's
 * rows zero (the first and last bands). */
BD_INLINE const float *split_band(float *buf, const float *x, int64_t r0, int64_t rows,
                                  const bd_geom *b) {
    if (r0 >= 0 && r0 + rows <= b->ih) return x + r0 * b->ld;
    for (int64_t t = 0; t < rows; t++) {
        const int64_t r = r0 + t;
        if (r >= 0 && r < b->ih)
            memcpy(buf + t * b->ld, x + r * b->ld, (size_t)b->ld * sizeof(float));
        else
            memset(buf + t * b->ld, 0, (size_t)b->ld * sizeof(float));
    }
    return buf;
}

/* n planes: y [n planes, ystep apart, of oh x ow] from x [n planes, xstep apart, of
 * ih x iw], filters w [n, K K] (turned by 180 degrees when FLIP), bias [n] (NULL: zeros),
 * clamped when CL, with ep's input epilogue (ep NULL: none, planes consecutive). A row's
 * overhang past its plane lands in the next one only when the planes are consecutive.
 * P (stride 2): x's rows split already (cnnc__dwconv_split_rows, rows of ld floats), read
 * in place (split_band), no fill. */
BD_INLINE void fwd_planes(const int K, const int S, const bool D, const bool P, const bool FLIP,
                          const bool CL, float *y, const float *x, const float *w,
                          const float *bias, int64_t n, const bd_geom *b, float *buf,
                          const cnnc__dw_fwd_ep *ep) {
    const int64_t isz = b->ih * b->iw, osz = b->oh * b->ow, ystep = ep ? ep->ystep : osz;
    const int64_t xstep = ep && ep->xstep ? ep->xstep : isz;
    /* (two buffers, the next band filled before the current one computes so that the
     * taps never read lines still in the store queue, gained nothing: 1 thread, batch
     * 8, bias + ReLU6, min of 6 x 31, ms 384x14x14 0.416 -> 0.436, 192x28x28 0.688 ->
     * 0.685, 576x14x14 stride 2 0.483 -> 0.471) */
    bool zero[BD_FLOATS / 8]; /* per buffer row (rows of at least 8 floats) */
    if (!D && !P) clear_margins(S, buf, zero, b);
    bd_taps tp;
    if (CL) {
        tp.lo = _mm256_set1_ps(ep->clamp->lo);
        tp.hi = _mm256_set1_ps(ep->clamp->hi);
    }
    for (int64_t i = 0; i < n; i++) {
#pragma GCC unroll 32
        for (int q = 0; q < K * K; q++)
            tp.wv[q] = _mm256_set1_ps(w[i * K * K + (FLIP ? K * K - 1 - q : q)]);
        tp.bias = _mm256_set1_ps(bias ? bias[i] : 0.0f);
        bd_pre pre_v;
        const bd_pre *pre = pre_of(&pre_v, ep, i);
        float *yi = y + i * ystep;
        const float *end = ystep == osz ? y + n * osz : yi + osz;
        /* (not y: touching the next planes' destination lines for writing cost 3-8%,
         * 1 thread, batch 8, bias + ReLU6, min of 5 x 31, ms 384x14x14 0.415 -> 0.404,
         * 576x14x14 stride 2 0.462 -> 0.447, 960x7x7 0.269 -> 0.257; with x and y
         * evicted to memory first 0.435 -> 0.426, 0.496 -> 0.448, 0.276 -> 0.265) */
        prefetch_ahead(x + i * xstep, isz, BD_PF_BYTES, false);
        for (int64_t r0 = 0; r0 < b->oh; r0 += b->band) {
            const int64_t nb = b->oh - r0 < b->band ? b->oh - r0 : b->band;
            const int64_t rows = (nb - 1) * S + K;
            if (D) { /* (7 chains, a 7x7 plane in one block: direct() below) */
                fwd_band(K, S, D, CL, 7, 1, yi, b->oh, end, x + i * xstep, b, &tp);
                continue;
            }
            const float *src = buf;
            if (P)
                src = split_band(buf, x + i * xstep, r0 * S - b->ph, rows, b);
            else if (pre)
                fill_band(S, true, buf, zero, x + i * xstep, r0 * S - b->ph, rows, b, pre);
            else
                fill_band(S, false, buf, zero, x + i * xstep, r0 * S - b->ph, rows, b, NULL);
            float *yr = yi + r0 * b->ow;
            /* 6 to 8 chains: 8 rows of one vector, 4 of two, 2 of three, then 3 rows of
             * two (9 weights, 6 accumulators and a row's x vector in the 16 registers;
             * each x vector read for up to 3 rows; the rest of a row as 3 rows of one) */
            if (b->nv == 1)
                fwd_band(K, S, D, CL, 8, 1, yr, nb, end, src, b, &tp);
            else if (b->nv == 2)
                fwd_band(K, S, D, CL, 4, 2, yr, nb, end, src, b, &tp);
            else if (b->nv == 3)
                fwd_band(K, S, D, CL, 2, 3, yr, nb, end, src, b, &tp);
            else
                fwd_band(K, S, D, CL, 3, 2, yr, nb, end, src, b, &tp);
        }
    }
}

/* ---- backward-data, stride 2: dx's column phases ---------------------------------- */

/* Geometry: dy (the window's output: the source [ih, iw], rows copied at column
 * BD_MARGIN) to dx (the destination [oh, ow], nv vectors per column phase); band dx
 * rows per fill. */
static bool phase_geom(bd_geom *b, int K, const cnnc__window *g) {
    *b = (bd_geom){g->out[1], g->out[2], g->in[1], g->in[2], g->pad[1], g->pad[2], 0, 0,
                   (g->in[2] + 15) / 16, 0, 0, BD_MARGIN};
    /* reads up to BD_MARGIN + pw / 2 + 8 nv; fills write up to BD_MARGIN + 8-rounded ow */
    const int64_t rd = BD_MARGIN + b->pw / 2 + 8 * b->nv + 1, wr = BD_MARGIN + round8(b->iw);
    b->ld = round8(rd > wr ? rd : wr);
    /* dx rows [i0, i0 + B) read dy rows floor((i0 + ph - K + 1) / 2) .. (i0 + B - 1 + ph) / 2,
     * at most (B + K - 1) / 2 + 1 */
    const int64_t cap = BD_FLOATS / b->ld;
    if (cap < K + 1) return false;
    b->band = 2 * (cap - 1) - K;
    if (b->band > b->oh) b->band = b->oh;
    b->rows = (b->band + K - 1) / 2 + 1;
    return true;
}

/* Column phase accumulators of dx row i1 (row phase A = (i1 + ph) % 2, padding
 * parity PB = pw % 2) for NV vectors from j: tap (q1, q2) reaches the row when q1 has
 * A's parity, reading dy row (i1 + ph - q1) / 2 (buffer row minus pbase), and column
 * phase c = (q2 + PB) % 2 at dy column v + (c + pw - q2) / 2. */
BD_INLINE void phase_group(const int K, const int A, const int PB, const int NV, float *xr,
                           const float *end, const float *buf, int64_t i1, int64_t pbase,
                           const bd_geom *b, const __m256 *wv, int64_t j) {
    __m256 acc[2][2];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[0][v] = acc[1][v] = _mm256_setzero_ps();
    const int64_t col = BD_MARGIN + (b->pw - PB) / 2 + 8 * j;
#pragma GCC unroll 8
    for (int q1 = A; q1 < K; q1 += 2) {
        const float *row = buf + ((i1 + b->ph - q1) / 2 - pbase) * b->ld + col;
#pragma GCC unroll 8
        for (int q2 = 0; q2 < K; q2++) {
            const int c = (q2 + PB) % 2, d = (c + PB - q2) / 2;
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++)
                acc[c][v] = _mm256_fmadd_ps(wv[q1 * K + q2], _mm256_loadu_ps(row + d + 8 * v),
                                            acc[c][v]);
        }
    }
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) { /* positions 2 m and 2 m + 1 of the 8 pairs */
        const __m256 lo = _mm256_unpacklo_ps(acc[0][v], acc[1][v]);
        const __m256 hi = _mm256_unpackhi_ps(acc[0][v], acc[1][v]);
        float *dst = xr + 16 * (j + v);
        store_until(dst, end, _mm256_permute2f128_ps(lo, hi, 0x20));
        store_until(dst + 8, end, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
}

BD_INLINE void phase_row(const int K, const int A, const int PB, float *xr, const float *end,
                         const float *buf, int64_t i1, int64_t pbase, const bd_geom *b,
                         const __m256 *wv) {
    int64_t j = 0;
    for (; j + 2 <= b->nv; j += 2) phase_group(K, A, PB, 2, xr, end, buf, i1, pbase, b, wv, j);
    if (j < b->nv) phase_group(K, A, PB, 1, xr, end, buf, i1, pbase, b, wv, j);
}

/* n planes: dx [n, oh, ow] written from dy [n, ih, iw] (the source) and w [n, K K]. */
BD_INLINE void phase_planes(const int K, const int PB, float *dx, const float *dy,
                            const float *w, int64_t n, const bd_geom *b, float *buf) {
    const int64_t dsz = b->oh * b->ow, ssz = b->ih * b->iw; /* dx's, dy's */
    const float *end = dx + n * dsz;
    bool zero[BD_FLOATS / 8]; /* per buffer row (rows of at least 8 floats) */
    clear_margins(1, buf, zero, b);
    for (int64_t i = 0; i < n; i++) {
        __m256 wv[BD_MAX_K * BD_MAX_K];
#pragma GCC unroll 32
        for (int q = 0; q < K * K; q++) wv[q] = _mm256_set1_ps(w[i * K * K + q]);
        prefetch_ahead(dy + i * ssz, ssz, BD_PF_BYTES, false);
        prefetch_ahead(dx + i * dsz, dsz, BD_PF_BYTES, true);
        for (int64_t i0 = 0; i0 < b->oh; i0 += b->band) {
            const int64_t nb = b->oh - i0 < b->band ? b->oh - i0 : b->band;
            const int64_t pbase = floor_half(i0 + b->ph - K + 1);
            const int64_t rows = floor_half(i0 + nb - 1 + b->ph) - pbase + 1;
            fill_band(1, false, buf, zero, dy + i * ssz, pbase, rows, b, NULL);
            for (int64_t i1 = i0; i1 < i0 + nb; i1++) {
                float *xr = dx + i * dsz + i1 * b->ow;
                if ((i1 + b->ph) % 2)
                    phase_row(K, 1, PB, xr, end, buf, i1, pbase, b, wv);
                else
                    phase_row(K, 0, PB, xr, end, buf, i1, pbase, b, wv);
            }
        }
    }
}

/* ---- backward-weight (3x3) --------------------------------------------------------- */

/* acc[q] += over the band's nb dy rows from yr, each times the buffer rows of its tap
 * q (output row r's taps from buffer row r S). The accumulators stay in registers
 * over the band (kept in acc per row, their stores and loads matched the FMAs on
 * 7-wide rows). */
BD_INLINE void bww_band(const int S, __m256 acc[9], const float *yr, int64_t nb,
                        const float *buf, const bd_geom *b) {
    __m256 a[9];
#pragma GCC unroll 9
    for (int q = 0; q < 9; q++) a[q] = acc[q];
    const float *base = buf + (S == 1 ? b->lead - b->pw : 0);
    for (int64_t r = 0; r < nb; r++, yr += b->ow, base += S * b->ld)
        for (int64_t j = 0; j < b->nv; j++) {
            const __m256 vy = load_n(yr + 8 * j, b->ow - 8 * j);
#pragma GCC unroll 3
            for (int q1 = 0; q1 < 3; q1++) {
                const float *row = base + q1 * b->ld + 8 * j;
#pragma GCC unroll 3
                for (int q2 = 0; q2 < 3; q2++) {
                    const float *src = S == 1 ? row + q2 : row + (q2 % 2) * b->half + q2 / 2;
                    a[q1 * 3 + q2] = _mm256_fmadd_ps(vy, _mm256_loadu_ps(src), a[q1 * 3 + q2]);
                }
            }
        }
#pragma GCC unroll 9
    for (int q = 0; q < 9; q++) acc[q] = a[q];
}

static float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* dw [n, 9] += per filter the sums over its planes in every image of im. Filters in
 * blocks of BWW_BLOCK, whose accumulators wait in acc while the images go by: per image
 * the block's planes are one stream of consecutive planes (a filter's planes in every
 * image, one after the other, were a jump of an image per plane that the hardware
 * prefetcher followed late). Each filter's FMAs stay in the same order (images, then
 * bands), so the sums have the same bits whatever the block. */
BD_INLINE void bww_planes(const int S, float *dw, const float *dy, const float *x, int64_t n,
                          cnnc__dw_images im, const bd_geom *b, float *buf) {
    const int64_t isz = b->ih * b->iw, osz = b->oh * b->ow;
    bool zero[BD_FLOATS / 8]; /* per buffer row (rows of at least 8 floats) */
    clear_margins(S, buf, zero, b);
    __m256 acc[BWW_BLOCK][9]; /* [filters of the block][taps] */
    for (int64_t i0 = 0; i0 < n; i0 += BWW_BLOCK) {
        const int64_t nf = n - i0 < BWW_BLOCK ? n - i0 : BWW_BLOCK;
        for (int64_t f = 0; f < nf; f++)
            for (int q = 0; q < 9; q++) acc[f][q] = _mm256_setzero_ps();
        for (int64_t m = 0; m < im.n; m++)
            for (int64_t f = 0; f < nf; f++) {
                const float *xi = x + m * im.x_step + (i0 + f) * isz;
                const float *yi = dy + m * im.dy_step + (i0 + f) * osz;
                prefetch_ahead(xi, isz, isz * (int64_t)sizeof(float), false); /* the next plane */
                prefetch_ahead(yi, osz, osz * (int64_t)sizeof(float), false);
                for (int64_t r0 = 0; r0 < b->oh; r0 += b->band) {
                    const int64_t nb = b->oh - r0 < b->band ? b->oh - r0 : b->band;
                    fill_band(S, false, buf, zero, xi, r0 * S - b->ph, (nb - 1) * S + 3, b, NULL);
                    bww_band(S, acc[f], yi + r0 * b->ow, nb, buf, b);
                }
            }
        for (int64_t f = 0; f < nf; f++)
            for (int q = 0; q < 9; q++) dw[(i0 + f) * 9 + q] += hsum(acc[f][q]);
    }
}

/* ---- the instantiations and entry points ------------------------------------------ */

/* Square K x K (3 or 5; weight: 3), the same stride 1 or 2 in H and W, dilation 1,
 * padding up to K - 1 (the stride-1 input gradient's flipped padding is K - 1 - pad). */
static bool bd_fits(const cnnc__window *g, bool weight) {
    const int64_t k = g->k[1];
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (k != g->k[2] || (k != 3 && (k != 5 || weight))) return false;
    if (g->stride[1] != g->stride[2] || (g->stride[1] != 1 && g->stride[1] != 2)) return false;
    for (int d = 1; d < 3; d++)
        if (g->dil[d] != 1 || g->pad[d] < 0 || g->pad[d] > k - 1 || g->in[d] < 1 || g->out[d] < 1)
            return false;
    return true;
}

typedef void (*fwd_fn)(float *y, const float *x, const float *w, const float *bias, int64_t n,
                       const bd_geom *b, float *buf, const cnnc__dw_fwd_ep *ep);
typedef void (*phase_fn)(float *dx, const float *dy, const float *w, int64_t n, const bd_geom *b,
                         float *buf);
typedef void (*bww_fn)(float *dw, const float *dy, const float *x, int64_t n, cnnc__dw_images im,
                       const bd_geom *b, float *buf);
#define BD_FWD(K, S, D, P, CL, name)                                                        \
    static BD_ALIGN void name(float *y, const float *x, const float *w, const float *bias,    \
                              int64_t n, const bd_geom *b, float *buf,                       \
                              const cnnc__dw_fwd_ep *ep) {                                   \
        fwd_planes(K, S, D, P, false, CL, y, x, w, bias, n, b, buf, ep);                    \
    }
BD_FWD(3, 1, false, false, false, fwd_3_1)
BD_FWD(3, 2, false, false, false, fwd_3_2)
BD_FWD(5, 1, false, false, false, fwd_5_1)
BD_FWD(5, 2, false, false, false, fwd_5_2)
BD_FWD(3, 1, false, false, true, fwd_3_1_cl)
BD_FWD(3, 2, false, false, true, fwd_3_2_cl)
BD_FWD(5, 1, false, false, true, fwd_5_1_cl)
BD_FWD(5, 2, false, false, true, fwd_5_2_cl)
BD_FWD(3, 1, true, false, false, direct_3)
BD_FWD(5, 1, true, false, false, direct_5)
BD_FWD(3, 1, true, false, true, direct_3_cl)
BD_FWD(5, 1, true, false, true, direct_5_cl)
BD_FWD(3, 2, false, true, false, split_3)
BD_FWD(5, 2, false, true, false, split_5)
BD_FWD(3, 2, false, true, true, split_3_cl)
BD_FWD(5, 2, false, true, true, split_5_cl)
#undef BD_FWD
#define BD_FLIP(K)                                                                          \
    static void flip_##K(float *y, const float *x, const float *w, int64_t n,               \
                         const bd_geom *b, float *buf) {                                   \
        fwd_planes(K, 1, false, false, true, false, y, x, w, NULL, n, b, buf, NULL);        \
    }
BD_FLIP(3)
BD_FLIP(5)
#undef BD_FLIP
#define BD_PHASE(K, PB)                                                                     \
    static void phase_##K##_##PB(float *dx, const float *dy, const float *w, int64_t n,     \
                                 const bd_geom *b, float *buf) {                           \
        phase_planes(K, PB, dx, dy, w, n, b, buf);                                          \
    }
BD_PHASE(3, 0)
BD_PHASE(3, 1)
BD_PHASE(5, 0)
BD_PHASE(5, 1)
#undef BD_PHASE
static void bww_1(float *dw, const float *dy, const float *x, int64_t n, cnnc__dw_images im,
                  const bd_geom *b, float *buf) {
    bww_planes(1, dw, dy, x, n, im, b, buf);
}
static void bww_2(float *dw, const float *dy, const float *x, int64_t n, cnnc__dw_images im,
                  const bd_geom *b, float *buf) {
    bww_planes(2, dw, dy, x, n, im, b, buf);
}

static bool geom_of(bd_geom *b, const cnnc__window *g) {
    return fwd_geom(b, (int)g->k[1], (int)g->stride[1], g->in[1], g->in[2], g->out[1], g->out[2],
                    g->pad[1], g->pad[2]);
}

/* The 5x5 forward declines output rows wider than BD_WIDE, the backward-weight wider
 * output rows on input rows wider than 2 BD_WIDE, the stride-1 input gradient (the
 * flipped forward) input rows wider than 2 BD_WIDE: there, bound by memory,
 * conv_dw_avx2.c's row cache is as fast or faster (1 thread, batch 8, ms row cache /
 * bands: 32x112x112 weight grad 1.82-1.89 / 2.08-2.58, stride 2 96x112x112 3.65-3.88 /
 * 3.83-4.19; input grad 32x112x112 2.10 / 2.40), while the other input gradients still
 * gain (144x56x56 2.94 -> 2.73, 96x112x112 stride 2 4.49 -> 3.71) and so do the 56-wide
 * weight gradients, since the bands read a block of filters' planes an image at a time
 * (128x56x56 2.37-2.40 -> 2.17-2.25, 144x56x56 2.66-2.73 -> 2.39-2.59).
 * The 3x3 forward gains on wide rows with blocks of 3 rows of two vectors and bands of
 * BD_WIDE_BAND rows (1 thread, batch 8, bias, min of 15, three alternations, ms row
 * cache -> bands: 144x56x56 2.47-2.51 -> 1.73-1.77, 128x56x56 2.18-2.31 -> 1.52-1.55,
 * 32x112x112 1.85-1.91 -> 1.51-1.60, 96x112x112 stride 2 3.29-3.39 -> 2.81-2.91; from
 * L2, GFLOP/s: 16x56x56 28 -> 42-55, 4x112x112 33 -> 46, 8x112x112 stride 2 18 ->
 * 22-27). */
static bool narrow(const cnnc__window *g) { return g->out[2] <= BD_WIDE; }

/* Stride 1 on rows up to BD_DIRECT outputs, without an input epilogue: the taps read
 * the planes themselves by masked loads (fwd_block's D), no buffer, whole planes in
 * blocks of 7 rows. On 7x7 planes the copy into the buffer and its 4 + 3 row blocks
 * were most of the time (1 thread, batch 8, bias + ReLU6, thread CPU time, min of 51,
 * planes from L3, ms: 960x7x7 0.36 -> 0.27-0.29, from L2 96x7x7 0.037 -> 0.029).
 * Wider rows lose: two to four masked loads per 8 outputs cost more than the copy
 * (576x14x14 0.63 -> 0.69, 192x28x28 0.65 -> 0.98; with 7-row blocks in the
 * buffer's path 7x7 gained nothing). */
static bool direct(const cnnc__window *g, const cnnc__dw_fwd_ep *ep) {
    return g->stride[1] == 1 && g->out[2] <= BD_DIRECT && (!ep || (!ep->xbias && !ep->xclamp));
}

/* The whole plane as one band read in place (rows of iw floats). */
static bd_geom direct_geom(const cnnc__window *g) {
    return (bd_geom){g->in[1], g->in[2], g->out[1], g->out[2], g->pad[1], g->pad[2], g->in[2], 0,
                     (g->out[2] + 7) / 8, g->out[1], 0, 0};
}

/* ---- stride-2 sources split ahead (cnnc__dwconv_split_rows) ------------------------ */

/* Outputs 24 or more wide, or a multiple of 8: the rows' vector groups then end inside
 * the row (the last moved back), so the in-place reads never pass the plane's last row
 * (a row of 9 .. 15 or 17 .. 23 outputs is one group from column 0, read up to 7 floats
 * past it). */
bool cnnc__dwconv_split_fits(cnnc__isa isa, const cnnc__window *g) {
    const int64_t ow = g->out[2];
    return isa == CNNC__ISA_AVX2 && bd_fits(g, false) && g->stride[1] == 2 && ow >= 8 &&
           (ow >= 24 || ow % 8 == 0) &&
           (narrow(g) || g->k[1] == 3) && cnnc__dwconv_split_ld(g) * g->k[1] <= BD_FLOATS;
}

/* The geometry of split planes: rows of ld floats, the odd columns from half; bands
 * of as many rows as the buffer holds (the ones it copies: split_band). */
static bd_geom split_geom(const cnnc__window *g) {
    const int64_t k = g->k[1], ld = cnnc__dwconv_split_ld(g);
    bd_geom b = {g->in[1], ld, g->out[1], g->out[2], g->pad[1], g->pad[2], ld,
                 cnnc__dwconv_split_half(g), (g->out[2] + 7) / 8, 0, 0, 0};
    b.band = (BD_FLOATS / ld - k) / 2 + 1;
    if (b.band > b.oh) b.band = b.oh;
    b.rows = (b.band - 1) * 2 + k;
    return b;
}

/* 16 floats of a source row of n from column c (the lanes outside it zero: masked
 * loads only at its ends). */
BD_INLINE void load_pair(__m256 v[2], const float *src, int64_t c, int64_t n) {
    if (c >= 0 && c + 16 <= n) {
        v[0] = _mm256_loadu_ps(src + c);
        v[1] = _mm256_loadu_ps(src + c + 8);
        return;
    }
    v[0] = _mm256_maskload_ps(src + c, row_lanes(c, n));
    v[1] = _mm256_maskload_ps(src + c + 8, row_lanes(c + 8, n));
}

/* Row src [iw] to dst [ld]: the padded columns 2 q + phase (q < half, then the odd ones)
 * gathered 8 at a time from the 16 source floats from 2 q + phase - pw, the lanes
 * outside the row zero. */
static void split_row(float *dst, const float *src, int64_t iw, const bd_geom *b) {
    for (int ph = 0; ph < 2; ph++) {
        float *d = dst + ph * b->half;
        const int64_t cnt = ph ? b->ld - b->half : b->half;
        for (int64_t q = 0; q < cnt; q += 8) {
            __m256 v[2];
            load_pair(v, src, 2 * q + ph - b->pw, iw); /* the source column of d[q] on */
            const __m256 e = _mm256_shuffle_ps(v[0], v[1], _MM_SHUFFLE(2, 0, 2, 0));
            cnnc__store_n_avx2(d + q, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                          _mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))),
                               cnt - q);
        }
    }
}

/* (as each row is split, the row `rows` further down is fetched into L2: a caller
 * going down a plane band by band then finds its next band there. Without, the loads
 * waited on memory: 17% of MobileNetV2's 16 -> 96 -> 24 chain at 1 thread, batch 8;
 * with, min of 21, ms 9.0-9.1 -> 8.5-8.8 (into L1: 8.6-8.9; two bands ahead: 8.7-8.9)) */
void cnnc__dwconv_split_rows(cnnc__isa isa, float *dst, const float *src, int64_t rows,
                             const cnnc__window *g) {
    (void)isa;
    const bd_geom b = split_geom(g);
    const int64_t iw = g->in[2];
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < iw; c += 16) __builtin_prefetch(src + (r + rows) * iw + c, 0, 2);
        split_row(dst + r * b.ld, src + r * iw, iw, &b);
    }
}

bool cnnc__dw_band_forward_avx2(float *y, const float *x, const float *w, const float *bias,
                                int64_t n, const cnnc__window *g, const cnnc__dw_fwd_ep *ep) {
    /* groups of 8 planes channels-last first (on geometries the bands below always take:
     * consecutive planes, 3x3, narrow rows), the rest here */
    const int64_t done = cnnc__dw_cl_forward_avx2(y, x, w, bias, n, g, ep);
    if (done == n) return true;
    y += done * cnnc__window_out_size(g), x += done * cnnc__window_in_size(g), w += done * 9;
    bias = bias ? bias + done : NULL, n -= done;
    bd_geom b;
    _Alignas(32) float buf[BD_FLOATS];
    if (ep && ep->xsplit) {
        if (ep->xbias || ep->xclamp || !cnnc__dwconv_split_fits(CNNC__ISA_AVX2, g)) return false;
        b = split_geom(g);
        static const fwd_fn sfns[2][2] = {{split_3, split_5}, {split_3_cl, split_5_cl}};
        sfns[ep->clamp != NULL][g->k[1] == 5](y, x, w, bias, n, &b, buf, ep);
        return true;
    }
    if (bd_fits(g, false) && direct(g, ep)) {
        b = direct_geom(g);
        static const fwd_fn dfns[2][2] = {{direct_3, direct_5}, {direct_3_cl, direct_5_cl}};
        dfns[ep && ep->clamp][g->k[1] == 5](y, x, w, bias, n, &b, NULL, ep);
        return true;
    }
    if ((!narrow(g) && g->k[1] != 3) || !bd_fits(g, false) || !geom_of(&b, g)) return false;
    if (!narrow(g) && b.band > BD_WIDE_BAND) { /* (the buffer's rows stay put) */
        b.band = BD_WIDE_BAND;
        b.rows = (b.band - 1) * g->stride[1] + g->k[1];
    }
    static const fwd_fn fns[2][2][2] = {{{fwd_3_1, fwd_3_2}, {fwd_5_1, fwd_5_2}},
                                        {{fwd_3_1_cl, fwd_3_2_cl}, {fwd_5_1_cl, fwd_5_2_cl}}};
    fns[ep && ep->clamp][g->k[1] == 5][g->stride[1] == 2](y, x, w, bias, n, &b, buf, ep);
    return true;
}

bool cnnc__dw_band_backward_data_avx2(float *dx, const float *dy, const float *w, int64_t n,
                                      const cnnc__window *g) {
    if (!bd_fits(g, false)) return false;
    const int64_t k = g->k[1];
    bd_geom b;
    _Alignas(32) float buf[BD_FLOATS];
    if (g->stride[1] == 1) { /* dx[i] = sum over q of w[K - 1 - q] dy[i - (K - 1 - pad) + q] */
        if (g->in[2] > 2 * BD_WIDE ||
            !fwd_geom(&b, (int)k, 1, g->out[1], g->out[2], g->in[1], g->in[2], k - 1 - g->pad[1],
                      k - 1 - g->pad[2]))
            return false;
        (k == 5 ? flip_5 : flip_3)(dx, dy, w, n, &b, buf);
        return true;
    }
    if (!phase_geom(&b, (int)k, g)) return false;
    static const phase_fn fns[2][2] = {{phase_3_0, phase_3_1}, {phase_5_0, phase_5_1}};
    fns[k == 5][g->pad[2] % 2](dx, dy, w, n, &b, buf);
    return true;
}

bool cnnc__dw_band_backward_weight_avx2(float *dw, const float *dy, const float *x, int64_t n,
                                        cnnc__dw_images im, const cnnc__window *g) {
    bd_geom b;
    if ((!narrow(g) && g->in[2] > 2 * BD_WIDE) || !bd_fits(g, true) || !geom_of(&b, g))
        return false;
    _Alignas(32) float buf[BD_FLOATS];
    (g->stride[1] == 1 ? bww_1 : bww_2)(dw, dy, x, n, im, &b, buf);
    return true;
}

CNNC__ISA_TARGET_END
#else
bool cnnc__dwconv_split_fits(cnnc__isa isa, const cnnc__window *g) {
    (void)isa, (void)g;
    return false;
}

void cnnc__dwconv_split_rows(cnnc__isa isa, float *dst, const float *src, int64_t rows,
                             const cnnc__window *g) {
    (void)isa, (void)dst, (void)src, (void)rows, (void)g; /* (never called: nothing fits) */
}
#endif
