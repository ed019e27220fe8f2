/* Winograd F(2x2, 3x3) weight-gradient kernels (kernels/conv.h): the input transform
 * is the forward's (cnnc__wino_input_block), the output gradient's and the fold back
 * to 3x3 are the F(2x2) row loops' grad and fold (conv_winograd_f2.c). */
#include "kernels/conv.h"
#include "kernels/conv_winograd_internal.h"

enum { NPOS = 16 }; /* positions of a 4x4 transformed tile */

size_t cnnc__conv_winograd_wgrad_rows_floats(const cnnc__window *g) {
    return cnnc__wino_input_rows_floats(g, 2);
}

void cnnc__conv_winograd_wgrad_input(cnnc__isa isa, float *v, int64_t ldt, const float *x,
                                     const cnnc__window *g, int64_t grp, int64_t c0, int64_t c1,
                                     int64_t t0, int64_t nt, float *rows) {
    cnnc__wino_input_block(cnnc__wino_rows_of(isa, 2), 2, v, ldt, x, g, grp, c0, c1, t0, nt, rows);
}

void cnnc__conv_winograd_wgrad_output(cnnc__isa isa, float *q, int64_t ldt, const float *dy,
                                      const cnnc__window *g, int64_t grp, int64_t o0, int64_t o1,
                                      int64_t t0, int64_t nt) {
    const cnnc__wino_rows *f = cnnc__wino_rows_of(isa, 2);
    const int64_t mg = g->m / g->groups, oh = g->out[1], ow = g->out[2], osz = oh * ow;
    const int64_t tw = (ow + 1) / 2, tiles = cnnc__conv_winograd_tiles(g, 2);
    for (int64_t o = o0; o < o1; o++)
        for (int64_t t = t0; t < t0 + nt;) { /* one tile row's segment at a time */
            const int64_t b = t / tiles, tl = t % tiles, ti = tl / tw, tj0 = tl % tw;
            const int64_t nk = tw - tj0 < t0 + nt - t ? tw - tj0 : t0 + nt - t;
            const float *r0 = dy + (b * g->m + grp * mg + o) * osz + 2 * ti * ow + 2 * tj0;
            const float *r1 = 2 * ti + 1 < oh ? r0 + ow : NULL; /* the last row of an odd height */
            const int64_t len = ow - 2 * tj0 < 2 * nk ? ow - 2 * tj0 : 2 * nk;
            if (o + 1 < o1) /* the next channel's rows: its planes are far apart */
                for (int64_t j = 0; j < len; j += 16) {
                    __builtin_prefetch(r0 + osz + j);
                    if (r1) __builtin_prefetch(r1 + osz + j);
                }
            f->grad(q + (o - o0) * NPOS * ldt + (t - t0), ldt, r0, r1, nk, len);
            t += nk;
        }
}

void cnnc__conv_winograd_wgrad_fold(cnnc__isa isa, float *dw, const float *d, int64_t ldd,
                                    int64_t n) {
    cnnc__wino_rows_of(isa, 2)->fold(dw, 9, d, ldd, n);
}
