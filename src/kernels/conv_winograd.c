/* Winograd F(2x2, 3x3) forward convolution kernels (see kernels/conv.h).
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * A block of tiles is transformed into V [16][cg][ldt] (input channels by tiles),
 * multiplied by U [16][mg][cg] into M [16][mg][ldt] with 16 GEMMs, and M is folded
 * back into 2x2 output tiles. The inner loops run along the tiles of one tile row so
 * they vectorise. */
#include <string.h>

#include "kernels/conv.h"
#include "kernels/gemm.h"

static size_t r16(size_t x) { return (x + 15) & ~(size_t)15; }

/* ---- row loops: scalar and AVX-512 (the same operations in the same order on every
 * lane, so the same bits) ------------------------------------------------------------ */

/* s_r[c] = (B^T d)[r][c], c < n */
static void vert_scalar(float *const s[4], const float *const d[4], int64_t n) {
    for (int64_t c = 0; c < n; c++) {
        const float d0 = d[0][c], d1 = d[1][c], d2 = d[2][c], d3 = d[3][c];
        s[0][c] = d0 - d2;
        s[1][c] = d1 + d2;
        s[2][c] = d2 - d1;
        s[3][c] = d1 - d3;
    }
}

/* v_j[k] = (s B)[j] for the 4-wide window of s at 2k, k in [k0, nk) */
static void horiz_scalar(float *const v[4], const float *sr, int64_t k0, int64_t nk) {
    for (int64_t k = k0; k < nk; k++) {
        const float c0 = sr[2 * k], c1 = sr[2 * k + 1], c2 = sr[2 * k + 2], c3 = sr[2 * k + 3];
        v[0][k] = c0 - c2;
        v[1][k] = c1 + c2;
        v[2][k] = c2 - c1;
        v[3][k] = c1 - c3;
    }
}

/* the 2x2 outputs (+ bias) of tiles [k0, n) from m (16 rows mstride apart) */
static void out_scalar(float *const o[4], const float *m, int64_t mstride, float bv, int64_t k0,
                       int64_t n) {
    for (int64_t k = k0; k < n; k++) {
        float z0[4], z1[4];
        for (int j = 0; j < 4; j++) { /* A^T m */
            const float a0 = m[(0 * 4 + j) * mstride + k], a1 = m[(1 * 4 + j) * mstride + k];
            const float a2 = m[(2 * 4 + j) * mstride + k], a3 = m[(3 * 4 + j) * mstride + k];
            z0[j] = a0 + a1 + a2;
            z1[j] = a1 - a2 - a3;
        }
        o[0][k] = (z0[0] + z0[1] + z0[2]) + bv;
        o[1][k] = (z0[1] - z0[2] - z0[3]) + bv;
        o[2][k] = (z1[0] + z1[1] + z1[2]) + bv;
        o[3][k] = (z1[1] - z1[2] - z1[3]) + bv;
    }
}

/* r[2k] = a[k], r[2k + 1] = b[k], k in [k0, n) */
static void interleave_scalar(float *r, const float *a, const float *b, int64_t k0, int64_t n) {
    for (int64_t k = k0; k < n; k++) {
        r[2 * k] = a[k];
        r[2 * k + 1] = b[k];
    }
}

#if CNNC__ISA_X86
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

/* the first n (clamped to [0, 16]) lanes */
static inline __mmask16 mask_n(int64_t n) {
    return n <= 0 ? (__mmask16)0 : n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

AVX512 static void vert_avx512(float *const s[4], const float *const d[4], int64_t n) {
    int64_t c = 0;
    for (; c + 16 <= n; c += 16) {
        const __m512 d0 = _mm512_loadu_ps(d[0] + c), d1 = _mm512_loadu_ps(d[1] + c);
        const __m512 d2 = _mm512_loadu_ps(d[2] + c), d3 = _mm512_loadu_ps(d[3] + c);
        _mm512_storeu_ps(s[0] + c, _mm512_sub_ps(d0, d2));
        _mm512_storeu_ps(s[1] + c, _mm512_add_ps(d1, d2));
        _mm512_storeu_ps(s[2] + c, _mm512_sub_ps(d2, d1));
        _mm512_storeu_ps(s[3] + c, _mm512_sub_ps(d1, d3));
    }
    if (c < n) {
        const __mmask16 mk = mask_n(n - c);
        const __m512 d0 = _mm512_maskz_loadu_ps(mk, d[0] + c), d1 = _mm512_maskz_loadu_ps(mk, d[1] + c);
        const __m512 d2 = _mm512_maskz_loadu_ps(mk, d[2] + c), d3 = _mm512_maskz_loadu_ps(mk, d[3] + c);
        _mm512_mask_storeu_ps(s[0] + c, mk, _mm512_sub_ps(d0, d2));
        _mm512_mask_storeu_ps(s[1] + c, mk, _mm512_add_ps(d1, d2));
        _mm512_mask_storeu_ps(s[2] + c, mk, _mm512_sub_ps(d2, d1));
        _mm512_mask_storeu_ps(s[3] + c, mk, _mm512_sub_ps(d1, d3));
    }
}

/* reads sr[0 .. 2 nk + 2) only */
AVX512 static void horiz_avx512(float *const v[4], const float *sr, int64_t nk) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t k = 0;
    for (; k + 16 <= nk; k += 16) {
        const float *p = sr + 2 * k;
        const __m512 lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + 16);
        const __m512 lo2 = _mm512_loadu_ps(p + 2), hi2 = _mm512_loadu_ps(p + 18);
        const __m512 c0 = _mm512_permutex2var_ps(lo, ev, hi), c1 = _mm512_permutex2var_ps(lo, od, hi);
        const __m512 c2 = _mm512_permutex2var_ps(lo2, ev, hi2);
        const __m512 c3 = _mm512_permutex2var_ps(lo2, od, hi2);
        _mm512_storeu_ps(v[0] + k, _mm512_sub_ps(c0, c2));
        _mm512_storeu_ps(v[1] + k, _mm512_add_ps(c1, c2));
        _mm512_storeu_ps(v[2] + k, _mm512_sub_ps(c2, c1));
        _mm512_storeu_ps(v[3] + k, _mm512_sub_ps(c1, c3));
    }
    if (k < nk) {
        const int64_t rem = nk - k, avail = 2 * rem + 2; /* floats of sr left from p */
        const float *p = sr + 2 * k;
        const __m512 lo = _mm512_maskz_loadu_ps(mask_n(avail), p);
        const __m512 hi = _mm512_maskz_loadu_ps(mask_n(avail - 16), p + 16);
        const __m512 lo2 = _mm512_maskz_loadu_ps(mask_n(avail - 2), p + 2);
        const __m512 hi2 = _mm512_maskz_loadu_ps(mask_n(avail - 18), p + 18);
        const __m512 c0 = _mm512_permutex2var_ps(lo, ev, hi), c1 = _mm512_permutex2var_ps(lo, od, hi);
        const __m512 c2 = _mm512_permutex2var_ps(lo2, ev, hi2);
        const __m512 c3 = _mm512_permutex2var_ps(lo2, od, hi2);
        const __mmask16 mk = mask_n(rem);
        _mm512_mask_storeu_ps(v[0] + k, mk, _mm512_sub_ps(c0, c2));
        _mm512_mask_storeu_ps(v[1] + k, mk, _mm512_add_ps(c1, c2));
        _mm512_mask_storeu_ps(v[2] + k, mk, _mm512_sub_ps(c2, c1));
        _mm512_mask_storeu_ps(v[3] + k, mk, _mm512_sub_ps(c1, c3));
    }
}

AVX512 static void out_avx512(float *const o[4], const float *m, int64_t mstride, float bv,
                              int64_t n) {
    const __m512 vb = _mm512_set1_ps(bv);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512 z0[4], z1[4];
        for (int j = 0; j < 4; j++) {
            const __m512 a0 = _mm512_loadu_ps(m + (0 * 4 + j) * mstride + k);
            const __m512 a1 = _mm512_loadu_ps(m + (1 * 4 + j) * mstride + k);
            const __m512 a2 = _mm512_loadu_ps(m + (2 * 4 + j) * mstride + k);
            const __m512 a3 = _mm512_loadu_ps(m + (3 * 4 + j) * mstride + k);
            z0[j] = _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
            z1[j] = _mm512_sub_ps(_mm512_sub_ps(a1, a2), a3);
        }
        _mm512_storeu_ps(o[0] + k, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(z0[0], z0[1]), z0[2]), vb));
        _mm512_storeu_ps(o[1] + k, _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(z0[1], z0[2]), z0[3]), vb));
        _mm512_storeu_ps(o[2] + k, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(z1[0], z1[1]), z1[2]), vb));
        _mm512_storeu_ps(o[3] + k, _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(z1[1], z1[2]), z1[3]), vb));
    }
    out_scalar(o, m, mstride, bv, k, n);
}

AVX512 static void interleave_avx512(float *r, const float *a, const float *b, int64_t n) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m512 va = _mm512_loadu_ps(a + k), vb = _mm512_loadu_ps(b + k);
        _mm512_storeu_ps(r + 2 * k, _mm512_permutex2var_ps(va, lo, vb));
        _mm512_storeu_ps(r + 2 * k + 16, _mm512_permutex2var_ps(va, hi, vb));
    }
    if (k < n) {
        const int64_t rem = n - k;
        const __m512 va = _mm512_maskz_loadu_ps(mask_n(rem), a + k);
        const __m512 vb = _mm512_maskz_loadu_ps(mask_n(rem), b + k);
        _mm512_mask_storeu_ps(r + 2 * k, mask_n(2 * rem), _mm512_permutex2var_ps(va, lo, vb));
        _mm512_mask_storeu_ps(r + 2 * k + 16, mask_n(2 * rem - 16), _mm512_permutex2var_ps(va, hi, vb));
    }
}
#endif

/* The scalar loops over whole rows (the table's signatures). */
static void horiz_scalar_row(float *const v[4], const float *sr, int64_t nk) {
    horiz_scalar(v, sr, 0, nk);
}
static void out_scalar_row(float *const o[4], const float *m, int64_t mstride, float bv,
                           int64_t n) {
    out_scalar(o, m, mstride, bv, 0, n);
}
static void interleave_scalar_row(float *r, const float *a, const float *b, int64_t n) {
    interleave_scalar(r, a, b, 0, n);
}

/* X-list, fastest first: (level, name, vert, horiz, out, interleave). */
#if CNNC__ISA_X86
#define WINO_SIMD_VARIANTS(X) \
    X(AVX512, f32_winograd__avx512, vert_avx512, horiz_avx512, out_avx512, interleave_avx512)
#else
#define WINO_SIMD_VARIANTS(X)
#endif
#define WINO_VARIANTS(X)                                                              \
    WINO_SIMD_VARIANTS(X)                                                             \
    X(SCALAR, f32_winograd__scalar, vert_scalar, horiz_scalar_row, out_scalar_row, \
      interleave_scalar_row)

typedef struct wino_variant {
    cnnc__isa isa;
    const char *name;
    void (*vert)(float *const s[4], const float *const d[4], int64_t n);
    void (*horiz)(float *const v[4], const float *sr, int64_t nk);
    void (*out)(float *const o[4], const float *m, int64_t mstride, float bv, int64_t n);
    void (*interleave)(float *r, const float *a, const float *b, int64_t n);
} wino_variant;

static const wino_variant variants[] = {
#define CNNC__X(isa, name, vert, horiz, out, interleave) \
    {CNNC__ISA_##isa, #name, vert, horiz, out, interleave},
    WINO_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, wino_variant, variants)

const char *cnnc__conv_winograd_variant(cnnc__isa isa) { return variant(isa)->name; }

bool cnnc__conv_winograd_ok(const cnnc__window *g) {
    return g->in[0] == 1 && g->out[0] == 1 && g->k[0] == 1 && g->k[1] == 3 && g->k[2] == 3 &&
           g->stride[1] == 1 && g->stride[2] == 1 && g->dil[1] == 1 && g->dil[2] == 1 &&
           g->out[1] > 0 && g->out[2] > 0;
}

int64_t cnnc__conv_winograd_tiles(const cnnc__window *g) {
    return ((g->out[1] + 1) / 2) * ((g->out[2] + 1) / 2);
}

void cnnc__conv_winograd_weights(float *u, const float *w, const cnnc__window *g) {
    enum { CH = 64 }; /* input channels per chunk: 16 rows of CH floats, then 16 bursts */
    const int64_t cg = g->c / g->groups, plane = g->m * cg;
    float tmp[16][CH];
    for (int64_t o = 0; o < g->m; o++) {
        for (int64_t i0 = 0; i0 < cg; i0 += CH) {
            const int64_t nc = cg - i0 < CH ? cg - i0 : CH;
            for (int64_t i = 0; i < nc; i++) {
                const float *f = w + (o * cg + i0 + i) * 9;
                float gg[4][3]; /* G f */
                for (int c = 0; c < 3; c++) {
                    const float a = f[c], b = f[3 + c], d = f[6 + c];
                    gg[0][c] = a;
                    gg[1][c] = 0.5f * (a + b + d);
                    gg[2][c] = 0.5f * (a - b + d);
                    gg[3][c] = d;
                }
                for (int r = 0; r < 4; r++) { /* (G f) G^T */
                    const float a = gg[r][0], b = gg[r][1], d = gg[r][2];
                    tmp[r * 4 + 0][i] = a;
                    tmp[r * 4 + 1][i] = 0.5f * (a + b + d);
                    tmp[r * 4 + 2][i] = 0.5f * (a - b + d);
                    tmp[r * 4 + 3][i] = d;
                }
            }
            for (int e = 0; e < 16; e++)
                memcpy(u + e * plane + o * cg + i0, tmp[e], (size_t)nc * sizeof(float));
        }
    }
}

size_t cnnc__conv_winograd_packed_floats(cnnc__isa isa, const cnnc__window *g) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    return 16 * (size_t)g->groups * cnnc__sgemm_packed_a_floats(isa, mg, cg);
}

void cnnc__conv_winograd_pack_weights(cnnc__isa isa, float *up, const float *u,
                                      const cnnc__window *g) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    const size_t pa = cnnc__sgemm_packed_a_floats(isa, mg, cg);
    for (int64_t e = 0; e < 16; e++)
        for (int64_t grp = 0; grp < g->groups; grp++)
            cnnc__sgemm_pack_a_full(isa, false, mg, cg, u + (e * g->m + grp * mg) * cg, cg,
                                    up + (size_t)(e * g->groups + grp) * pa);
}

/* The GEMM's B panels from one plane of V (cg x tiles, leading dim ldt): a plain
 * matrix, packed by the GEMM's own routine of the level. */
typedef struct vplane {
    const float *v;
    int64_t ldt;
    cnnc__isa isa;
} vplane;

static void pack_v(void *ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc, int64_t nr,
                   float *dst, float *scratch) {
    (void)scratch;
    (void)nr; /* the level's panel width, which its pack routine fills */
    const vplane *vp = ctx;
    cnnc__sgemm_pack_b_panels(vp->isa, false, kc, nc, vp->v + pc * vp->ldt + jc, vp->ldt, dst);
}

/* Scratch: V, M, then rows (5 rows of the widest tile-row segment, or 4 x ldt). */
static size_t rows_floats(const cnnc__window *g, int64_t ldt) {
    const int64_t tw = (g->out[2] + 1) / 2, wp = 2 * tw + 2;
    const int64_t a = 5 * wp, b = 4 * ldt;
    return r16((size_t)(a > b ? a : b));
}

/* Floats between the 16 planes of V (M): padded off a multiple of 4 KB so the 16
 * streams of the transforms do not collide in the L1 sets. */
static int64_t plane_stride(int64_t ch, int64_t ldt) { return (int64_t)r16((size_t)(ch * ldt)) + 16; }

size_t cnnc__conv_winograd_scratch_floats(const cnnc__window *g, int64_t ldt) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    return (size_t)(16 * plane_stride(cg, ldt) + 16 * plane_stride(mg, ldt)) + rows_floats(g, ldt);
}

/* V[e][ci][k0 + k], k < nk, for the tiles (ti, tj0 + k) of channel plane xc. */
static void input_segment(const wino_variant *f, float *v, int64_t estride, float *rows,
                          const float *zero, const float *xc, const cnnc__window *g,
                          int64_t ti, int64_t tj0, int64_t nk) {
    const int64_t h = g->in[1], w = g->in[2];
    const int64_t wn = 2 * nk + 2, x0 = 2 * tj0 - g->pad[2];
    float *s[4];
    for (int r = 0; r < 4; r++) s[r] = rows + r * wn;
    int64_t a = -x0, b = w - x0; /* valid columns [a, b) of the segment */
    if (a < 0) a = 0;
    if (b > wn) b = wn;
    if (a < b) {
        /* B^T d over the columns inside the image, read in place (rows outside are
         * the zero row); the columns outside are zero */
        const float *d[4];
        float *sa[4];
        for (int r = 0; r < 4; r++) {
            const int64_t iy = 2 * ti - g->pad[1] + r;
            d[r] = iy < 0 || iy >= h ? zero : xc + (iy * w + x0 + a);
            sa[r] = s[r] + a;
            if (a > 0) memset(s[r], 0, (size_t)a * sizeof(float));
            if (b < wn) memset(s[r] + b, 0, (size_t)(wn - b) * sizeof(float));
        }
        f->vert(sa, d, b - a);
    } else {
        for (int r = 0; r < 4; r++) memset(s[r], 0, (size_t)wn * sizeof(float));
    }
    for (int r = 0; r < 4; r++) { /* (B^T d) B */
        float *vr[4] = {v + (r * 4 + 0) * estride, v + (r * 4 + 1) * estride,
                        v + (r * 4 + 2) * estride, v + (r * 4 + 3) * estride};
        f->horiz(vr, s[r], nk);
    }
}

void cnnc__conv_winograd_block(cnnc__isa isa, float *y, const float *x, const float *up,
                               const float *bias, const cnnc__window *g, int64_t grp, int64_t t0,
                               int64_t nt, int64_t ldt, float *scratch, float *gemm_ws) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    const int64_t isz = g->in[1] * g->in[2], oh = g->out[1], ow = g->out[2];
    const int64_t tw = (ow + 1) / 2, tiles = cnnc__conv_winograd_tiles(g);
    const int64_t vstride = plane_stride(cg, ldt), mstride = plane_stride(mg, ldt);
    float *v = scratch;
    float *mm = v + 16 * vstride;
    float *rows = mm + 16 * mstride;
    const wino_variant *f = variant(isa);

    /* input transform (rows: 4 rows of B^T d, then a zero row) */
    const int64_t wp = 2 * tw + 2;
    float *zero = rows + 4 * wp;
    memset(zero, 0, (size_t)wp * sizeof(float));
    for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t t = t0; t < t0 + nt;) {
            const int64_t b = t / tiles, tl = t % tiles, ti = tl / tw, tj0 = tl % tw;
            int64_t nk = tw - tj0;
            if (nk > t0 + nt - t) nk = t0 + nt - t;
            const float *xc = x + (b * g->c + grp * cg + ci) * isz;
            input_segment(f, v + ci * ldt + (t - t0), vstride, rows, zero, xc, g, ti, tj0, nk);
            t += nk;
        }

    /* the 16 products over the input channels */
    const size_t pa = cnnc__sgemm_packed_a_floats(isa, mg, cg);
    for (int64_t e = 0; e < 16; e++) {
        vplane vp = {v + e * vstride, ldt, isa};
        cnnc__sgemm_st_packed(isa, mg, nt, cg, up + (size_t)(e * g->groups + grp) * pa, pack_v, &vp,
                              0.0f, mm + e * mstride, ldt, gemm_ws);
    }

    /* output transform */
    float *o00 = rows, *o01 = rows + ldt, *o10 = rows + 2 * ldt, *o11 = rows + 3 * ldt;
    for (int64_t co = 0; co < mg; co++) {
        const float *m0 = mm + co * ldt;
        const float bv = bias ? bias[grp * mg + co] : 0.0f;
        float *o[4] = {o00, o01, o10, o11};
        f->out(o, m0, mstride, bv, nt);
        for (int64_t t = t0; t < t0 + nt;) {
            const int64_t b = t / tiles, tl = t % tiles, ti = tl / tw, tj0 = tl % tw;
            int64_t nk = tw - tj0;
            if (nk > t0 + nt - t) nk = t0 + nt - t;
            const int64_t k0 = t - t0;
            float *yc = y + (b * g->m + grp * mg + co) * oh * ow;
            float *r0 = yc + 2 * ti * ow + 2 * tj0;
            /* full 2-wide tiles, then a last half tile at an odd width */
            int64_t full = nk;
            if (tj0 + nk == tw && (ow & 1)) full--;
            f->interleave(r0, o00 + k0, o01 + k0, full);
            if (full < nk) r0[2 * full] = o00[k0 + full];
            if (2 * ti + 1 < oh) {
                float *r1 = r0 + ow;
                f->interleave(r1, o10 + k0, o11 + k0, full);
                if (full < nk) r1[2 * full] = o10[k0 + full];
            }
            t += nk;
        }
    }
}
