/* Internal kernels: max / average / adaptive pooling and max unpooling, forward
 * and backward, on contiguous planes.
 *
 * Every layout is [planes, D, H, W] with planes = N*C, described by a window
 * (kernels/window.h) with n = planes and c = m = groups = 1; 1-d and 2-d pooling use
 * D = 1 (and H = 1), kernel 1, stride 1, padding 0 and dilation 1 along the
 * missing dims. Each kernel works on the plane range [p0, p1) so the layer above
 * splits planes over threads (planes never share outputs, so results do not depend
 * on the split). No allocation. A max index is the flat position d*H*W + h*W + w
 * inside its input plane (PyTorch's convention).
 *
 * The *_ref kernels are plain loops, always compiled, and define the semantics;
 * the fast kernels return false (doing nothing) when they decline a configuration.
 */
#ifndef CNNC_KERNELS_POOL_H
#define CNNC_KERNELS_POOL_H
#include <stdbool.h>
#include <stdint.h>

#include "kernels/isa.h"
#include "kernels/window.h"

/* ---- max pooling ----------------------------------------------------------
 * out[p, o] = max over the (dilated) window inside the input (padding is never
 * chosen). The scan is row-major over the window; an element replaces the running
 * max when it is greater or NaN (so NaN propagates and the last NaN wins, the first
 * of equal maxima wins); the running max starts at -inf with the first in-bounds
 * position, so an all -inf window gives -inf at its first element.
 * idx (nullable) receives the argmax. out: [planes, out plane], x: [planes, in plane]. */
void cnnc__k_max_pool_ref(float *out, int64_t *idx, const float *x, const cnnc__window *g,
                          int64_t p0, int64_t p1);
/* Same results; declines unless D == 1 (2-d / 1-d) with dilation 1. The
 * variant of the ISA level `isa` (kernels/isa.h) runs where its row buffers fit. */
bool cnnc__k_max_pool2d_fast(cnnc__isa isa, float *out, int64_t *idx, const float *x,
                             const cnnc__window *g, int64_t p0, int64_t p1);
/* Name of the variant of the indices path a level runs ("f32_maxpool2d_idx__avx512"). */
const char *cnnc__k_max_pool2d_variant_name(cnnc__isa isa);

/* gx[p, :] = 0, then gx[p, idx[p, o]] += gy[p, o] for every output o, in order.
 * isize / osize are the plane sizes. Indices must be in [0, isize). */
void cnnc__k_index_scatter_add(float *gx, const float *gy, const int64_t *idx, int64_t isize,
                               int64_t osize, int64_t p0, int64_t p1);

/* ---- average pooling --------------------------------------------------------
 * The window [start, start + k) (start = o*s - p) is clipped at the padded edge
 * (in + p) to give the count_include_pad divisor, then at the input for the sum;
 * divisor = divisor_override if has_divisor, else the padded or the in-bounds count.
 * A window with no in-bounds element gives 0. */
typedef struct cnnc__avg_opts {
    bool count_include_pad;
    bool has_divisor;
    int64_t divisor;
} cnnc__avg_opts;
void cnnc__k_avg_pool_ref(float *out, const float *x, const cnnc__window *g,
                          const cnnc__avg_opts *o, int64_t p0, int64_t p1);
/* Declines unless D == 1. */
bool cnnc__k_avg_pool2d_fast(float *out, const float *x, const cnnc__window *g,
                             const cnnc__avg_opts *o, int64_t p0, int64_t p1);
/* gx = 0, then every output's gradient / divisor is added to its in-bounds window. */
void cnnc__k_avg_pool_backward_ref(float *gx, const float *gy, const cnnc__window *g,
                                   const cnnc__avg_opts *o, int64_t p0, int64_t p1);
/* The same bits, row by row, where the windows do not overlap (stride >= kernel in H
 * and W); declines (false) otherwise or unless D == 1. */
bool cnnc__k_avg_pool2d_backward_fast(float *gx, const float *gy, const cnnc__window *g,
                                      const cnnc__avg_opts *o, int64_t p0, int64_t p1);

/* ---- adaptive pooling ---------------------------------------------------------
 * Output o along a dim of input size I and output size O pools the input range
 * [floor(o*I/O), ceil((o+1)*I/O)). Only g->in and g->out are used. */
static inline int64_t cnnc__adaptive_start(int64_t o, int64_t out, int64_t in) {
    return (o / out) * in + ((o % out) * in) / out;
}
static inline int64_t cnnc__adaptive_end(int64_t o, int64_t out, int64_t in) {
    return 1 + ((o + 1) * in - 1) / out;
}
void cnnc__k_adaptive_avg_ref(float *out, const float *x, const cnnc__window *g, int64_t p0,
                              int64_t p1);
/* The ref's result bit for bit, each dim's window bounds tabulated once per call;
 * declines outputs of more than 256 along a dim. */
bool cnnc__k_adaptive_avg_tab(float *out, const float *x, const cnnc__window *g, int64_t p0,
                              int64_t p1);
/* Declines unless the output plane is 1x1x1 (global average pooling). */
bool cnnc__k_adaptive_avg_global(float *out, const float *x, const cnnc__window *g,
                                 int64_t p0, int64_t p1);
void cnnc__k_adaptive_avg_backward_ref(float *gx, const float *gy, const cnnc__window *g,
                                       int64_t p0, int64_t p1);
/* Max over each adaptive window with max pooling's scan and NaN rule; idx nullable. */
void cnnc__k_adaptive_max_ref(float *out, int64_t *idx, const float *x, const cnnc__window *g,
                              int64_t p0, int64_t p1);

/* ---- max unpooling --------------------------------------------------------------
 * out[p, :] = 0, then out[p, idx[p, i]] = x[p, i] for the isize inputs of the plane,
 * in order (a repeated index keeps the last value). osize is the output plane size.
 * Returns the flat position p*isize + i of the LAST index outside [0, osize) in the
 * range (those are skipped; PyTorch reports the last one it met), or -1. */
int64_t cnnc__k_max_unpool(float *out, const float *x, const int64_t *idx, int64_t isize,
                           int64_t osize, int64_t p0, int64_t p1);
/* gx[p, i] = gy[p, idx[p, i]] (indices already validated by the forward). */
void cnnc__k_index_gather(float *gx, const float *gy, const int64_t *idx, int64_t isize,
                          int64_t osize, int64_t p0, int64_t p1);
#endif
