/* Reference convolution kernels: direct loops over the geometry, double
 * accumulation. Slow by design; they are the oracle the fast paths are tested
 * against (tests/c/test_conv.c). */
#include <string.h>

#include "kernels/conv.h"

/* Input position of output position p through kernel tap q along one dim, or -1
 * when it falls outside [0, in). */
static inline int64_t tap(int64_t p, int64_t q, int64_t stride, int64_t pad, int64_t dil,
                          int64_t in) {
    int64_t i = p * stride - pad + q * dil;
    return i >= 0 && i < in ? i : -1;
}

/* Calls body(o, ci, yoff, xoff, woff) for every (batch, output channel, output
 * position, input channel of the group, kernel tap) whose input position is inside. */
#define CONV_REF_LOOP(g, BODY)                                                              \
    do {                                                                                    \
        const int64_t cg = (g)->c / (g)->groups, mg = (g)->m / (g)->groups;                 \
        const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);            \
        const int64_t ksz = cnnc__window_k_size(g);                                           \
        for (int64_t b = 0; b < (g)->n; b++)                                                \
            for (int64_t o = 0; o < (g)->m; o++) {                                          \
                const int64_t grp = o / mg;                                                 \
                for (int64_t p0 = 0; p0 < (g)->out[0]; p0++)                                \
                    for (int64_t p1 = 0; p1 < (g)->out[1]; p1++)                            \
                        for (int64_t p2 = 0; p2 < (g)->out[2]; p2++) {                      \
                            const int64_t yoff =                                            \
                                (b * (g)->m + o) * osz + (p0 * (g)->out[1] + p1) * (g)->out[2] + p2; \
                            for (int64_t ci = 0; ci < cg; ci++)                             \
                                for (int64_t q0 = 0; q0 < (g)->k[0]; q0++) {                \
                                    int64_t i0 = tap(p0, q0, (g)->stride[0], (g)->pad[0],   \
                                                     (g)->dil[0], (g)->in[0]);              \
                                    if (i0 < 0) continue;                                   \
                                    for (int64_t q1 = 0; q1 < (g)->k[1]; q1++) {            \
                                        int64_t i1 = tap(p1, q1, (g)->stride[1], (g)->pad[1], \
                                                         (g)->dil[1], (g)->in[1]);          \
                                        if (i1 < 0) continue;                               \
                                        for (int64_t q2 = 0; q2 < (g)->k[2]; q2++) {        \
                                            int64_t i2 = tap(p2, q2, (g)->stride[2],        \
                                                             (g)->pad[2], (g)->dil[2],      \
                                                             (g)->in[2]);                   \
                                            if (i2 < 0) continue;                           \
                                            const int64_t xoff =                            \
                                                (b * (g)->c + grp * cg + ci) * isz +        \
                                                (i0 * (g)->in[1] + i1) * (g)->in[2] + i2;   \
                                            const int64_t woff =                            \
                                                (o * cg + ci) * ksz +                       \
                                                (q0 * (g)->k[1] + q1) * (g)->k[2] + q2;     \
                                            BODY;                                           \
                                        }                                                   \
                                    }                                                       \
                                }                                                           \
                        }                                                                   \
            }                                                                               \
    } while (0)

void cnnc__conv_ref_forward(float *y, const float *x, const float *w, const float *bias,
                            const cnnc__window *g) {
    const int64_t osz = cnnc__window_out_size(g);
    /* accumulate in a double image of y, one output element at a time */
    for (int64_t b = 0; b < g->n; b++)
        for (int64_t o = 0; o < g->m; o++)
            for (int64_t p = 0; p < osz; p++) y[(b * g->m + o) * osz + p] = 0.0f;
    double acc = 0.0;
    int64_t cur = -1;
    CONV_REF_LOOP(g, {
        if (yoff != cur) {
            if (cur >= 0) y[cur] = (float)acc;
            cur = yoff;
            acc = 0.0;
        }
        acc += (double)w[woff] * (double)x[xoff];
    });
    if (cur >= 0) y[cur] = (float)acc;
    if (bias)
        for (int64_t b = 0; b < g->n; b++)
            for (int64_t o = 0; o < g->m; o++)
                for (int64_t p = 0; p < osz; p++)
                    y[(b * g->m + o) * osz + p] =
                        (float)((double)y[(b * g->m + o) * osz + p] + (double)bias[o]);
}

/* The input gradient scatters; without a double buffer (kernels never allocate) it
 * accumulates in float in the output, visiting terms in a fixed order: exact enough
 * for an oracle (an input element receives at most m / groups * k terms). */
void cnnc__conv_ref_backward_data(float *dx, const float *dy, const float *w,
                                  const cnnc__window *g) {
    const int64_t total = g->n * g->c * cnnc__window_in_size(g);
    for (int64_t i = 0; i < total; i++) dx[i] = 0.0f;
    CONV_REF_LOOP(g, { dx[xoff] += w[woff] * dy[yoff]; });
}

/* One weight element at a time, summed over the batch and the output positions in
 * double. */
void cnnc__conv_ref_backward_weight(float *dw, const float *dy, const float *x,
                                    const cnnc__window *g) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups;
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    for (int64_t o = 0; o < g->m; o++)
        for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t q0 = 0; q0 < g->k[0]; q0++)
                for (int64_t q1 = 0; q1 < g->k[1]; q1++)
                    for (int64_t q2 = 0; q2 < g->k[2]; q2++) {
                        double acc = 0.0;
                        for (int64_t b = 0; b < g->n; b++) {
                            const float *xc = x + (b * g->c + (o / mg) * cg + ci) * isz;
                            const float *yc = dy + (b * g->m + o) * osz;
                            for (int64_t p0 = 0; p0 < g->out[0]; p0++) {
                                int64_t i0 = tap(p0, q0, g->stride[0], g->pad[0], g->dil[0], g->in[0]);
                                if (i0 < 0) continue;
                                for (int64_t p1 = 0; p1 < g->out[1]; p1++) {
                                    int64_t i1 = tap(p1, q1, g->stride[1], g->pad[1], g->dil[1], g->in[1]);
                                    if (i1 < 0) continue;
                                    for (int64_t p2 = 0; p2 < g->out[2]; p2++) {
                                        int64_t i2 = tap(p2, q2, g->stride[2], g->pad[2], g->dil[2],
                                                         g->in[2]);
                                        if (i2 < 0) continue;
                                        acc += (double)yc[(p0 * g->out[1] + p1) * g->out[2] + p2] *
                                               (double)xc[(i0 * g->in[1] + i1) * g->in[2] + i2];
                                    }
                                }
                            }
                        }
                        dw[(o * cg + ci) * cnnc__window_k_size(g) + (q0 * g->k[1] + q1) * g->k[2] + q2] =
                            (float)acc;
                    }
}
