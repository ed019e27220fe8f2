/* The input gradient of one image's group through the input's stride phases
 * (kernels/conv.h, cnnc__conv_phase_sum_data): for a convolution with few channels a
 * group a GEMM's tiles stay nearly empty (K = the output channels: 3 in the seed net's
 * first layer) and col2im walks every column again; here each phase plane of dx is
 * summed in registers from shifted runs of dy, one run per (output channel, tap) that
 * lands in that phase, and then copied into dx.
 *
 * Tap q of a dim reaches input position p * stride - pad + q * dil from output p: with
 * q * dil - pad = sh * stride + ph (0 <= ph < stride), position (p + sh) * stride + ph,
 * row p + sh of phase ph. Over the taps sh spans [lo, hi]; a phase plane holds rows
 * lo .. out - 1 + hi of its phase (out + hi - lo of them; row R is phase row R + lo), so
 * every tap's rows land inside it. Columns alike, and dy is copied into rows of the
 * plane's width, zero past its own and around it: a tap's whole contribution to a
 * plane is then dy's padded rows read from one offset, its zeros landing in positions
 * no real term reaches or adding 0 to real ones (w * 0: the weights must be finite,
 * which the caller checks). The planes' positions outside the input (padding) are
 * dropped when copied into dx.
 *
 * Every dx element sums its terms in one order (output channel, then tap) whatever
 * the level or the thread count; the levels differ only in vector width (a multiply
 * then an add, never fused), so their bits are the same. */
#include "kernels/conv.h"

#include <string.h>

enum { SC_T = 32 }; /* positions a pass over the taps (4 AVX2 vectors) */

void cnnc__conv_phase_sum_geom(const cnnc__window *g, cnnc__conv_phase_sum_dims *s) {
    for (int d = 0; d < 2; d++) {
        const int64_t gd = d + 1;
        s->lo[d] = cnnc__div_floor(-g->pad[gd], g->stride[gd]);
        const int64_t reach = (g->k[gd] - 1) * g->dil[gd] - g->pad[gd];
        s->hi[d] = cnnc__div_floor(reach, g->stride[gd]);
        s->len[d] = g->out[gd] + s->hi[d] - s->lo[d];
    }
    s->plane = s->len[0] * s->len[1];
    s->planes = (g->c / g->groups) * g->stride[1] * g->stride[2] * s->plane;
    /* dy's rows: every tap's run reads inside them, a pass's SC_T floats included */
    s->pad = (s->hi[0] - s->lo[0] + 1) * s->len[1] + SC_T;
    s->chan = g->out[1] * s->len[1] + 2 * s->pad;
    s->dyw = (g->m / g->groups) * s->chan;
    s->taps = (4 * (g->m / g->groups) + 4) * g->k[1] * g->k[2];
}

/* A tap of a phase: its weight and where its dy run starts relative to the plane's. */
typedef struct phase_sum_tap {
    float w;
    int64_t src; /* offset into a channel's padded dy rows */
} phase_sum_tap;

/* p[t] = sum over the taps k of tap[k].w * dyp[tap[k].src + t], t < n, in tap order
 * (a multiply then an add, from 0); reads up to SC_T - 1 floats past each run (the
 * padding keeps them inside dyp), writes only p[0 .. n). */
static void plane_base(float *p, const float *dyp, const phase_sum_tap *tap, int64_t nt,
                       int64_t n) {
    for (int64_t t0 = 0; t0 < n; t0 += SC_T) {
        float acc[SC_T] = {0};
        for (int64_t k = 0; k < nt; k++) {
            const float wv = tap[k].w, *s = dyp + tap[k].src + t0;
            for (int j = 0; j < SC_T; j++) acc[j] += wv * s[j];
        }
        memcpy(p + t0, acc, (size_t)(n - t0 < SC_T ? n - t0 : SC_T) * sizeof(float));
    }
}

#if CNNC__ISA_X86
#include <immintrin.h>

/* The same sums, SC_T positions in four vectors (an add of the product: no FMA). */
__attribute__((target("avx2"))) static void plane_avx2(float *p, const float *dyp,
                                                       const phase_sum_tap *tap, int64_t nt,
                                                       int64_t n) {
    for (int64_t t0 = 0; t0 < n; t0 += SC_T) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = 0; k < nt; k++) {
            const __m256 wv = _mm256_set1_ps(tap[k].w);
            const float *s = dyp + tap[k].src + t0;
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(wv, _mm256_loadu_ps(s)));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(wv, _mm256_loadu_ps(s + 8)));
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(wv, _mm256_loadu_ps(s + 16)));
            a3 = _mm256_add_ps(a3, _mm256_mul_ps(wv, _mm256_loadu_ps(s + 24)));
        }
        if (n - t0 >= SC_T) {
            _mm256_storeu_ps(p + t0, a0);
            _mm256_storeu_ps(p + t0 + 8, a1);
            _mm256_storeu_ps(p + t0 + 16, a2);
            _mm256_storeu_ps(p + t0 + 24, a3);
        } else {
            float acc[SC_T];
            _mm256_storeu_ps(acc, a0);
            _mm256_storeu_ps(acc + 8, a1);
            _mm256_storeu_ps(acc + 16, a2);
            _mm256_storeu_ps(acc + 24, a3);
            memcpy(p + t0, acc, (size_t)(n - t0) * sizeof(float));
        }
    }
}
#endif

/* dx [cg, in] from the planes: input row i = (R + lo) s1 + a is plane (a) row R; rows
 * and columns no plane holds (past the last output's reach) are 0 */
static void gather_phases(float *dx, const float *ph, const cnnc__window *g,
                          const cnnc__conv_phase_sum_dims *sd) {
    const int64_t s1 = g->stride[1], s2 = g->stride[2], h = g->in[1], wd = g->in[2];
    const int64_t cg = g->c / g->groups, pw = sd->len[1];
    memset(dx, 0, (size_t)(cg * h * wd) * sizeof(float));
    for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t a = 0; a < s1; a++)
            for (int64_t r = -sd->lo[0]; r < sd->len[0]; r++) {
                const int64_t i = (r + sd->lo[0]) * s1 + a;
                if (i >= h) break;
                float *row = dx + (ci * h + i) * wd;
                for (int64_t b = 0; b < s2; b++) {
                    const float *p = ph + ((ci * s1 + a) * s2 + b) * sd->plane + r * pw;
                    /* columns C >= -lo (j >= 0) with j = (C + lo) s2 + b < wd */
                    int64_t c1 = -sd->lo[1] + (wd - b + s2 - 1) / s2;
                    if (c1 > pw) c1 = pw;
                    for (int64_t c = -sd->lo[1], j = b; c < c1; c++, j += s2) row[j] = p[c];
                }
            }
}

void cnnc__conv_phase_sum_data(cnnc__isa isa, float *dx, float *ph, float *dyw,
                               const float *dy, const float *w, const cnnc__window *g,
                               const cnnc__conv_phase_sum_dims *sd) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, ksz = g->k[1] * g->k[2];
    const int64_t ho = g->out[1], wo = g->out[2], pw = sd->len[1], s1 = g->stride[1],
                  s2 = g->stride[2];
    for (int64_t o = 0; o < mg; o++) { /* dy in rows of pw, zero around and past wo */
        float *d = dyw + o * sd->chan;
        memset(d, 0, (size_t)sd->chan * sizeof(float));
        for (int64_t r = 0; r < ho; r++)
            memcpy(d + sd->pad + r * pw, dy + (o * ho + r) * wo, (size_t)wo * sizeof(float));
    }
    /* each tap's phase s2 a + b and run start (taps of one phase in the order q) */
    phase_sum_tap *tap = (phase_sum_tap *)(void *)(dyw + (sd->dyw + 15) / 16 * 16);
    int64_t *phase = (int64_t *)(void *)(tap + mg * ksz), *at = phase + ksz;
    for (int64_t q = 0; q < ksz; q++) {
        const int64_t off1 = q / g->k[2] * g->dil[1] - g->pad[1];
        const int64_t off2 = q % g->k[2] * g->dil[2] - g->pad[2];
        const int64_t sh1 = cnnc__div_floor(off1, s1), sh2 = cnnc__div_floor(off2, s2);
        phase[q] = (off1 - sh1 * s1) * s2 + (off2 - sh2 * s2);
        at[q] = (sh1 - sd->lo[0]) * pw + (sh2 - sd->lo[1]);
    }
    const int64_t n = sd->len[0] * pw;
    for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t f = 0; f < s1 * s2; f++) {
            int64_t nt = 0; /* phase f's taps, by output channel then tap */
            for (int64_t o = 0; o < mg; o++)
                for (int64_t q = 0; q < ksz; q++)
                    if (phase[q] == f)
                        tap[nt++] = (phase_sum_tap){w[(o * cg + ci) * ksz + q],
                                                  o * sd->chan + sd->pad - at[q]};
            float *p = ph + (ci * s1 * s2 + f) * sd->plane;
#if CNNC__ISA_X86
            if (isa >= CNNC__ISA_AVX2)
                plane_avx2(p, dyw, tap, nt, n);
            else
#endif
                plane_base(p, dyw, tap, nt, n);
        }
    (void)isa;
    gather_phases(dx, ph, g, sd);
}
