/* Position panels of strided convolutions (kernels/conv_pospanel.h): AVX-512 only. */
#include "kernels/conv_pospanel.h"

#if CNNC__ISA_X86
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#endif

/* panel rows, window floats; panels and their runs a pass at most */
enum { POS_MR = 14, POS_WINDOW = 32, POS_GROUP = 32, POS_RUNS = 64, POS_DIM_MAX = 1 << 20 };

static bool geometry_fits(const cnnc__window *g) {
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (g->stride[2] > POS_WINDOW || g->dil[2] > POS_WINDOW || g->k[2] > POS_WINDOW)
        return false;
    /* sane sizes only: no index arithmetic can overflow (absurd paddings, strides or
     * dilations take another path) */
    for (int d = 1; d < 3; d++)
        if (g->in[d] > POS_DIM_MAX || g->out[d] > POS_DIM_MAX || g->k[d] > POS_DIM_MAX ||
            g->stride[d] > POS_DIM_MAX || g->pad[d] > POS_DIM_MAX || g->dil[d] > POS_DIM_MAX)
            return false;
    const int64_t run = g->out[2] < POS_MR ? g->out[2] : POS_MR;
    return run >= 1 && (run - 1) * g->stride[2] + (g->k[2] - 1) * g->dil[2] < POS_WINDOW;
}

bool cnnc__conv_pospanel_fits(cnnc__isa isa, const cnnc__window *g) {
#if CNNC__ISA_X86
    return isa >= CNNC__ISA_AVX512 && geometry_fits(g);
#else
    (void)isa, (void)g;
    return false;
#endif
}

int64_t cnnc__conv_pospanel_mr(cnnc__isa isa) {
    (void)isa;
    return POS_MR;
}

#if CNNC__ISA_X86
/* One output row's run of a panel: lanes [lane0, lane0 + len) are positions ow0 ..
 * of output row oh of the image whose group's first channel is xb. */
typedef struct pos_run {
    const float *xb;
    int64_t oh;
    int64_t iw0;    /* input column of window lane 0: ow0 stride - pad */
    __mmask16 lanes; /* the run's panel lanes */
    __mmask32 win;   /* window lanes inside the input row */
    __m512i idx;     /* panel lane lane0 + i <- window lane i stride (tap 0) */
} pos_run;

/* The runs of the panel of positions [q, q + n) (n <= MR); returns their number. */
AVX512 static int panel_runs(pos_run *r, const float *x, const cnnc__window *g, int64_t c0,
                             int64_t q, int64_t n) {
    const int64_t OW = g->out[2], osz = g->out[1] * OW, W = g->in[2], s2 = g->stride[2];
    const int64_t isz = g->in[1] * W;
    int nr = 0;
    for (int64_t lane = 0; lane < n;) {
        const int64_t img = (q + lane) / osz, o = (q + lane) % osz, ow = o % OW;
        const int64_t len = OW - ow < n - lane ? OW - ow : n - lane;
        const int64_t iw0 = ow * s2 - g->pad[2];
        uint32_t win = 0;
        for (int64_t l = 0; l < POS_WINDOW; l++)
            if (iw0 + l >= 0 && iw0 + l < W) win |= 1u << l;
        int32_t idx[16] = {0};
        for (int64_t i = 0; i < len; i++) idx[lane + i] = (int32_t)(i * s2);
        r[nr++] = (pos_run){x + (img * g->c + c0) * isz, o / OW, iw0,
                            (__mmask16)(((1u << len) - 1) << lane), (__mmask32)win,
                            _mm512_loadu_si512(idx)};
        lane += len;
    }
    return nr;
}

/* row[0 .. 32) with the lanes outside win zeroed, into h[0], h[1]: plain loads where
 * the 32 floats lie in [lo, hi) (masked loads of lines in no cache run at half speed
 * on Zen 5; the barrier keeps GCC from folding the load into the mask), else masked. */
AVX512 static inline void load_window(__m512 h[2], const float *row, __mmask32 win,
                                      const float *lo, const float *hi) {
    const __mmask16 m0 = (__mmask16)win, m1 = (__mmask16)(win >> 16);
    if (row >= lo && row + POS_WINDOW <= hi) {
        __m512 a = _mm512_loadu_ps(row), b = _mm512_loadu_ps(row + 16);
        __asm__("" : "+v"(a), "+v"(b));
        h[0] = _mm512_maskz_mov_ps(m0, a);
        h[1] = _mm512_maskz_mov_ps(m1, b);
    } else {
        h[0] = _mm512_maskz_loadu_ps(m0, row);
        h[1] = _mm512_maskz_loadu_ps(m1, row + 16);
    }
}

/* Run r's window of channel c's kernel row kh into h (zeros in the padding rows). */
AVX512 static inline void run_window(__m512 h[2], const pos_run *r, const cnnc__window *g,
                                     const float *lo, const float *hi, int64_t c, int64_t kh) {
    const int64_t H = g->in[1], W = g->in[2], isz = H * W;
    const int64_t ih = r->oh * g->stride[1] + kh * g->dil[1] - g->pad[1];
    if (ih < 0 || ih >= H) {
        h[0] = h[1] = _mm512_setzero_ps();
        return;
    }
    const float *row = r->xb + c * isz + ih * W + r->iw0;
    load_window(h, row, r->win, lo, hi);
    /* the rows 4 channels on: the channel stride defeats the prefetchers (256 -> 512
     * 3x3 s2 at 14x14, batch 8, 1 thread 5.47 -> 5.00-5.10 ms) */
    _mm_prefetch((const char *)(row + 4 * isz), _MM_HINT_T0);
    _mm_prefetch((const char *)(row + 4 * isz + 16), _MM_HINT_T0);
}

/* Depths [k, k + nk) of one panel of nr runs into d (nk rows of MR floats, each stored
 * as 16, the next row taking the 2 extra, but for the panel's last row where `ends`):
 * channel c's kernel row kh at taps kw0 .. kw0 + nk, all from one window of each run's
 * input row. A panel of one run keeps its window in registers (an array of windows
 * went through the stack: 128 -> 256 3x3 s2 at 28x28, batch 8, the packing 0.37 -> 0.26 ms). */
AVX512 static void panel_row(float *d, const pos_run *r, int nr, const cnnc__window *g,
                             const float *lo, const float *hi, int64_t c, int64_t kh,
                             int64_t kw0, int64_t nk, bool ends) {
    const __mmask16 last = ends ? (1u << POS_MR) - 1 : 0xFFFF;
    if (nr == 1) {
        __m512 h[2];
        run_window(h, r, g, lo, hi, c, kh);
        __m512i idx = _mm512_add_epi32(r->idx, _mm512_set1_epi32((int32_t)(kw0 * g->dil[2])));
        const __m512i step = _mm512_set1_epi32((int32_t)g->dil[2]);
        for (int64_t t = 0; t < nk; t++, idx = _mm512_add_epi32(idx, step))
            _mm512_mask_storeu_ps(d + t * POS_MR, t == nk - 1 ? last : 0xFFFF,
                                  _mm512_maskz_permutex2var_ps(r->lanes, h[0], idx, h[1]));
        return;
    }
    __m512 h[POS_MR][2];
    for (int i = 0; i < nr; i++) run_window(h[i], r + i, g, lo, hi, c, kh);
    for (int64_t kw = kw0; kw < kw0 + nk; kw++) {
        const __m512i shift = _mm512_set1_epi32((int32_t)(kw * g->dil[2]));
        __m512 v = _mm512_maskz_permutex2var_ps(r[0].lanes, h[0][0],
                                                _mm512_add_epi32(r[0].idx, shift), h[0][1]);
        for (int i = 1; i < nr; i++)
            v = _mm512_mask_mov_ps(
                v, r[i].lanes,
                _mm512_permutex2var_ps(h[i][0], _mm512_add_epi32(r[i].idx, shift), h[i][1]));
        _mm512_mask_storeu_ps(d + (kw - kw0) * POS_MR, kw == kw0 + nk - 1 ? last : 0xFFFF, v);
    }
}

/* Panels from t0 on of positions from q0 on (npos in all), depths [k0, k0 + kc): as
 * many panels as POS_GROUP and POS_RUNS allow, a kernel row of a channel across them,
 * then the next, so that the panels read along the input's rows (panel by panel: 3x3 s2
 * 256 -> 512 at 14x14, batch 8, 1 thread, 4.87-4.91 -> 4.70-4.72 ms; 128 -> 256 at
 * 28x28 4.88-4.90 -> 4.77-4.78; groups of 4 panels in between). Returns the panels
 * packed. */
AVX512 static int64_t panels_avx512(float *dst, const float *x, const cnnc__window *g,
                                    int64_t c0, int64_t q0, int64_t npos, int64_t t0,
                                    int64_t k0, int64_t kc) {
    const float *hi = x + g->n * g->c * cnnc__window_in_size(g);
    const int64_t K2 = g->k[2], kk = g->k[1] * K2;
    pos_run r[POS_RUNS];
    int first[POS_GROUP + 1] = {0}, np = 0;
    for (; np < POS_GROUP && (t0 + np) * POS_MR < npos && first[np] + POS_MR <= POS_RUNS; np++) {
        const int64_t q = (t0 + np) * POS_MR, n = npos - q < POS_MR ? npos - q : POS_MR;
        first[np + 1] = first[np] + panel_runs(r + first[np], x, g, c0, q0 + q, n);
    }
    for (int64_t k = k0; k < k0 + kc;) {
        const int64_t c = k / kk, kh = k % kk / K2, kw0 = k % K2;
        const int64_t nk = K2 - kw0 < k0 + kc - k ? K2 - kw0 : k0 + kc - k;
        for (int t = 0; t < np; t++)
            panel_row(dst + ((t0 + t) * kc + k - k0) * POS_MR, r + first[t],
                      first[t + 1] - first[t], g, x, hi, c, kh, kw0, nk, k + nk == k0 + kc);
        k += nk;
    }
    return np;
}
#endif

void cnnc__conv_pack_positions(cnnc__isa isa, float *dst, const float *x, const cnnc__window *g,
                               int64_t c0, int64_t q0, int64_t npos, int64_t k0, int64_t kc) {
    (void)isa;
#if CNNC__ISA_X86
    const int64_t npan = (npos + POS_MR - 1) / POS_MR;
    for (int64_t t0 = 0; t0 < npan;) t0 += panels_avx512(dst, x, g, c0, q0, npos, t0, k0, kc);
#else
    (void)dst, (void)x, (void)g, (void)c0, (void)q0, (void)npos, (void)k0, (void)kc;
#endif
}
