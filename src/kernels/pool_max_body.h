/* The 2-d max pooling kernel with indices, written once as plain loops the compiler
 * vectorizes, and compiled per ISA level: pool_max_scalar.c (baseline target),
 * pool_max_avx2.c, pool_max_avx512.c. POOL_SUFFIX names the copy:
 * cnnc__k_max_pool2d_idx_<suffix> (declared by pool_internal.h); idx may be NULL
 * (values only). Not a public header.
 *
 * Per output row, the running maxima and argmaxes of the whole row live in two row
 * buffers (m, mi). Each input row of the window is split into SW phases,
 * ph[s][t] = row[t*SW + s - PW] (-inf outside the input), so tap kw of output ow is
 * ph[kw % SW][ow + kw / SW]: a contiguous load for every tap. The taps are applied
 * in the reference's row-major order with its update rule (take when greater or
 * NaN), so values and indices are identical. A padded tap is -inf, which is never
 * taken (the running max starts at -inf with the first in-bounds position, as the
 * reference). Indices are carried in int32 (planes below 2^30 elements). */
#include <math.h>
#include <stdint.h>

#ifndef POOL_SUFFIX
#error "define POOL_SUFFIX before including kernels/pool_max_body.h"
#endif
#define PM_CAT2(a, b) a##b
#define PM_CAT(a, b) PM_CAT2(a, b)
#define PM_FN(name) PM_CAT(name, POOL_SUFFIX)

#ifdef PM_SPLIT2_AVX2
#include <immintrin.h>

#include "kernels/lanes_avx2.h"

/* r[c + l] for the lanes l with 0 <= c + l < IW, -inf in the others (no address outside
 * the row is formed): inside, a plain load; across an end, the row's first or last 8
 * floats moved into place (a masked gather in rows narrower than 8) */
static inline __m256 PM_FN(pm_lanes_)(const float *r, int64_t IW, int64_t c) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    if (c >= 0 && c + 8 <= IW) return _mm256_loadu_ps(r + c);
    if (c >= IW || c + 8 <= 0) return ninf;
    const __m256i l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 in = cnnc__lanes_between_avx2(0, IW, (int)c);
    if (IW < 8) {
        const __m256i col = _mm256_add_epi32(l, _mm256_set1_epi32((int)c));
        return _mm256_mask_i32gather_ps(ninf, r, col, in, 4);
    }
    const int64_t base = c < 0 ? 0 : IW - 8; /* lane l: r[base + (c - base + l)] */
    const __m256i at = _mm256_add_epi32(l, _mm256_set1_epi32((int)(c - base)));
    return _mm256_blendv_ps(ninf, _mm256_permutevar8x32_ps(_mm256_loadu_ps(r + base), at), in);
}

/* pm_split_ for SW = 2: 16 floats of the row read at a time and split into their even
 * and odd lanes (the scalar loops' strided reads were 61% of the 3x3 / 2 forward over
 * 112-wide rows, AVX2, 1 thread). */
static void PM_FN(pm_split2_)(float (*ph)[CNNC__PM_PHLEN], const float *r, int64_t IW, int64_t PW,
                              int64_t T) {
    for (int64_t v = 0; v < T; v += 8) {
        const int64_t c = 2 * v - PW; /* columns c .. c + 15 */
        __m256 a, b;
        if (c >= 0 && c + 16 <= IW) {
            a = _mm256_loadu_ps(r + c);
            b = _mm256_loadu_ps(r + c + 8);
        } else {
            a = PM_FN(pm_lanes_)(r, IW, c);
            b = PM_FN(pm_lanes_)(r, IW, c + 8);
        }
        __m256 e, o;
        cnnc__deinterleave2_avx2(&e, &o, a, b);
        cnnc__store_n_avx2(ph[0] + v, e, T - v);
        cnnc__store_n_avx2(ph[1] + v, o, T - v);
    }
}
#endif

/* ph[s][t] for the row r of width IW, t < T */
static void PM_FN(pm_split_)(float (*ph)[CNNC__PM_PHLEN], const float *r, int64_t IW, int64_t SW,
                             int64_t PW, int64_t T) {
#ifdef PM_SPLIT2_AVX2
    if (SW == 2) {
        PM_FN(pm_split2_)(ph, r, IW, PW, T);
        return;
    }
#endif
    for (int64_t s = 0; s < SW; s++) {
        float *d = ph[s];
        /* t in [lo, hi) reads inside the input: 0 <= t*SW + s - PW < IW */
        int64_t lo = s >= PW ? 0 : (PW - s + SW - 1) / SW;
        int64_t hi = IW + PW - s <= 0 ? 0 : (IW + PW - s + SW - 1) / SW;
        if (hi > T) hi = T;
        if (lo > hi) lo = hi;
        for (int64_t t = 0; t < lo; t++) d[t] = -INFINITY;
        const int64_t c = s - PW; /* column of t = 0 (may be negative: indices, not pointers) */
        if (SW == 1) {
            for (int64_t t = lo; t < hi; t++) d[t] = r[t + c];
        } else if (SW == 2) {
            for (int64_t t = lo; t < hi; t++) d[t] = r[2 * t + c];
        } else {
            for (int64_t t = lo; t < hi; t++) d[t] = r[t * SW + c];
        }
        for (int64_t t = hi; t < T; t++) d[t] = -INFINITY;
    }
}

/* m/mi over OW outputs, from the tap values v[ow] at positions base + ow*SW */
static inline void PM_FN(pm_tap_)(float *restrict m, int32_t *restrict mi,
                                  const float *restrict v, int64_t OW, int32_t base, int32_t SW) {
    for (int64_t ow = 0; ow < OW; ow++) {
        float a = v[ow], b = m[ow];
        int take = (a > b) | (a != a);
        m[ow] = take ? a : b;
        mi[ow] = take ? base + (int32_t)ow * SW : mi[ow];
    }
}

/* Taps k0 < k1 (< k2) of one input row at once (KW = 2 or 3): the same updates in the
 * same order as pm_tap_ per tap, with m and mi loaded and stored once. v[t] holds the
 * values of tap t, base[t] its position at ow = 0. */
#define PM_TAKE(a, b) (((a) > (b)) | ((a) != (a)))
static inline void PM_FN(pm_taps3_)(float *restrict m, int32_t *restrict mi,
                                    const float *restrict v0, const float *restrict v1,
                                    const float *restrict v2, int64_t OW, int32_t base,
                                    int32_t SW, bool idx) {
    if (!idx) {
        for (int64_t ow = 0; ow < OW; ow++) {
            float b = m[ow], a;
            a = v0[ow], b = PM_TAKE(a, b) ? a : b;
            a = v1[ow], b = PM_TAKE(a, b) ? a : b;
            a = v2[ow], b = PM_TAKE(a, b) ? a : b;
            m[ow] = b;
        }
        return;
    }
    for (int64_t ow = 0; ow < OW; ow++) {
        float b = m[ow], a;
        int32_t j = mi[ow], pos = base + (int32_t)ow * SW;
        int take;
        a = v0[ow], take = PM_TAKE(a, b), b = take ? a : b, j = take ? pos : j;
        a = v1[ow], take = PM_TAKE(a, b), b = take ? a : b, j = take ? pos + 1 : j;
        a = v2[ow], take = PM_TAKE(a, b), b = take ? a : b, j = take ? pos + 2 : j;
        m[ow] = b;
        mi[ow] = j;
    }
}
static inline void PM_FN(pm_taps2_)(float *restrict m, int32_t *restrict mi,
                                    const float *restrict v0, const float *restrict v1,
                                    int64_t OW, int32_t base, int32_t SW, bool idx) {
    if (!idx) {
        for (int64_t ow = 0; ow < OW; ow++) {
            float b = m[ow], a;
            a = v0[ow], b = PM_TAKE(a, b) ? a : b;
            a = v1[ow], b = PM_TAKE(a, b) ? a : b;
            m[ow] = b;
        }
        return;
    }
    for (int64_t ow = 0; ow < OW; ow++) {
        float b = m[ow], a;
        int32_t j = mi[ow], pos = base + (int32_t)ow * SW;
        int take;
        a = v0[ow], take = PM_TAKE(a, b), b = take ? a : b, j = take ? pos : j;
        a = v1[ow], take = PM_TAKE(a, b), b = take ? a : b, j = take ? pos + 1 : j;
        m[ow] = b;
        mi[ow] = j;
    }
}
#undef PM_TAKE

/* values only (no indices) */
static inline void PM_FN(pm_tap_values_)(float *restrict m, const float *restrict v, int64_t OW) {
    for (int64_t ow = 0; ow < OW; ow++) {
        float a = v[ow], b = m[ow];
        m[ow] = ((a > b) | (a != a)) ? a : b;
    }
}

/* d[ow] = the take rule folded over v[0..K-1][ow], ow < n (from v[0]: a fold from -inf
 * takes it whatever it is, and keeps -inf's bits) */
static inline void PM_FN(pm_fold_)(float *restrict d, const float *const *v, int64_t K, int64_t n) {
#define PM_T(a, b) ((a) != (a) ? (a) : (a) > (b) ? (a) : (b)) /* maxps, then NaN */
    if (K == 3) {
        const float *restrict v0 = v[0], *restrict v1 = v[1], *restrict v2 = v[2];
        for (int64_t ow = 0; ow < n; ow++) {
            float b = v0[ow], a = v1[ow];
            b = PM_T(a, b), a = v2[ow];
            d[ow] = PM_T(a, b);
        }
        return;
    }
    if (K == 2) {
        const float *restrict v0 = v[0], *restrict v1 = v[1];
        for (int64_t ow = 0; ow < n; ow++) {
            float b = v0[ow], a = v1[ow];
            d[ow] = PM_T(a, b);
        }
        return;
    }
#undef PM_T
    for (int64_t ow = 0; ow < n; ow++) d[ow] = v[0][ow];
    for (int64_t k = 1; k < K; k++) PM_FN(pm_tap_values_)(d, v[k], n);
}

/* Values only, windows up to CNNC__PM_MAXKH rows: each input row's maxima over the
 * window's width (hm, a ring of the last KH rows, each computed once although SH < KH
 * output rows read it), then per output row the maxima of its rows' hm. Row by row
 * with the take rule gives the reference's row-major result bit for bit: the first of
 * the equal maxima, or the last NaN (see the top). */
static void PM_FN(pm_values_)(float *op, const float *xp, const cnnc__window *g, int64_t OWr,
                              int64_t T, float (*ph)[CNNC__PM_PHLEN],
                              float (*hm)[CNNC__PM_MAXOW]) {
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
    const int64_t KH = g->k[1], KW = g->k[2], SH = g->stride[1], SW = g->stride[2],
                  PH = g->pad[1], PW = g->pad[2];
    const float *v[CNNC__PM_MAXKH > CNNC__PM_MAXS ? CNNC__PM_MAXKH : CNNC__PM_MAXS];
    int64_t next = 0; /* the first input row not yet in hm */
    for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t h0 = oh * SH - PH;
        const int64_t hs = h0 < 0 ? 0 : h0, he = h0 + KH < IH ? h0 + KH : IH;
        for (int64_t ih = next > hs ? next : hs; ih < he; ih++) {
            PM_FN(pm_split_)(ph, xp + ih * IW, IW, SW, PW, T);
            if (KW <= CNNC__PM_MAXS) {
                for (int64_t kw = 0; kw < KW; kw++) v[kw] = ph[kw % SW] + kw / SW;
                PM_FN(pm_fold_)(hm[ih % KH], v, KW, OWr);
            } else {
                float *h = hm[ih % KH];
                for (int64_t ow = 0; ow < OWr; ow++) h[ow] = ph[0][ow];
                for (int64_t kw = 1; kw < KW; kw++) PM_FN(pm_tap_values_)(h, ph[kw % SW] + kw / SW, OWr);
            }
        }
        if (he > next) next = he;
        for (int64_t ih = hs; ih < he; ih++) v[ih - hs] = hm[ih % KH];
        PM_FN(pm_fold_)(op + oh * OW, v, he - hs, OW);
    }
}

bool PM_FN(cnnc__k_max_pool2d_idx_)(float *out, int64_t *idx, const float *x,
                                    const cnnc__window *g, int64_t p0, int64_t p1) {
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
    const int64_t KH = g->k[1], KW = g->k[2], SH = g->stride[1], SW = g->stride[2],
                  PH = g->pad[1], PW = g->pad[2];
    /* the row loops run over OWr = OW rounded up to 16 lanes, so no vector loop has a
     * scalar remainder (the lanes past OW compute on -inf padding and are not stored) */
    const int64_t OWr = (OW + 15) & ~(int64_t)15;
    const int64_t T = OWr + (KW - 1) / SW; /* phase length */
    if ((idx ? OW < CNNC__PM_MINOW_IDX : OW < CNNC__PM_MINOW) || SW > CNNC__PM_MAXS ||
        OWr > CNNC__PM_MAXOW || T > CNNC__PM_PHLEN || IH * IW >= (1 << 30))
        return false;
    float ph[CNNC__PM_MAXS][CNNC__PM_PHLEN];
    if (!idx && KH <= CNNC__PM_MAXKH) {
        float hm[CNNC__PM_MAXKH][CNNC__PM_MAXOW];
        for (int64_t p = p0; p < p1; p++)
            PM_FN(pm_values_)(out + p * OH * OW, x + p * IH * IW, g, OWr, T, ph, hm);
        return true;
    }
    float m[CNNC__PM_MAXOW];
    int32_t mi[CNNC__PM_MAXOW];
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * IH * IW;
        float *op = out + p * OH * OW;
        int64_t *ip = idx ? idx + p * OH * OW : NULL;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0 = oh * SH - PH;
            int64_t hs = h0 < 0 ? 0 : h0, he = h0 + KH < IH ? h0 + KH : IH;
            for (int64_t ow = 0; ow < OWr; ow++) {
                int64_t w0 = ow * SW - PW;
                m[ow] = -INFINITY;
                mi[ow] = (int32_t)(hs * IW + (w0 < 0 ? 0 : w0));
            }
            for (int64_t ih = hs; ih < he; ih++) {
                PM_FN(pm_split_)(ph, xp + ih * IW, IW, SW, PW, T);
                const int32_t base = (int32_t)(ih * IW - PW);
#define PM_V(k) (ph[(k) % SW] + (k) / SW)
                if (KW == 3) {
                    PM_FN(pm_taps3_)(m, mi, PM_V(0), PM_V(1), PM_V(2), OWr, base, (int32_t)SW, ip);
                    continue;
                }
                if (KW == 2) {
                    PM_FN(pm_taps2_)(m, mi, PM_V(0), PM_V(1), OWr, base, (int32_t)SW, ip);
                    continue;
                }
#undef PM_V
                for (int64_t kw = 0; kw < KW; kw++) {
                    if (ip)
                        PM_FN(pm_tap_)(m, mi, ph[kw % SW] + kw / SW, OWr,
                                       (int32_t)(ih * IW - PW + kw), (int32_t)SW);
                    else
                        PM_FN(pm_tap_values_)(m, ph[kw % SW] + kw / SW, OWr);
                }
            }
            float *orow = op + oh * OW;
            for (int64_t ow = 0; ow < OW; ow++) orow[ow] = m[ow];
            if (ip)
                for (int64_t ow = 0; ow < OW; ow++) ip[oh * OW + ow] = mi[ow];
        }
    }
    return true;
}

#undef PM_FN
#undef PM_CAT
#undef PM_CAT2
#undef PM_SPLIT2_AVX2
