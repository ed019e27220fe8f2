/* Internal: the sliding window of convolution and pooling, and its output-size rules.
 *
 * One geometry describes every window op, 1-d to 3-d: an input x [n, c, in0, in1,
 * in2] seen through a window of k taps (stride, leading padding pad, dilation dil)
 * giving an output y [n, m, out0, out1, out2]. Output position p of a dim reads the
 * input positions p * stride - pad + q * dil, q < k (outside [0, in) is padding).
 * Lower-dimensional ops put 1s in the leading spatial slots (a 2-d op has in0 = out0
 * = k0 = 1, stride 1, pad 0, dil 1). The output sizes are given explicitly, so
 * trailing padding that differs from the leading one (padding='same', ceil_mode, a
 * transposed conv's output_padding) needs no field of its own.
 *
 * Convolution: m output channels from c input channels in `groups` groups (both
 * divisible). Pooling: each of the n planes (N * C of the tensor) is pooled on its
 * own: c = m = groups = 1.
 */
#ifndef CNNC_KERNELS_WINDOW_H
#define CNNC_KERNELS_WINDOW_H
#include <stdbool.h>
#include <stdint.h>

typedef struct cnnc__window {
    int64_t n;      /* batch (pooling: planes) */
    int64_t c;      /* input channels */
    int64_t m;      /* output channels */
    int64_t groups; /* divides c and m */
    int64_t in[3], out[3], k[3], stride[3], pad[3], dil[3];
} cnnc__window;

/* Elements of one input / output plane, taps of one window. The plane products wrap
 * around (unsigned arithmetic): they overflow only for an empty tensor with huge spatial
 * sizes ([0, 3, 2^40, 2^40]), whose loops never run; a non-empty plane fits in its numel. */
static inline int64_t cnnc__window_plane_(const int64_t *v) {
    return (int64_t)((uint64_t)v[0] * (uint64_t)v[1] * (uint64_t)v[2]);
}
static inline int64_t cnnc__window_in_size(const cnnc__window *g) { return cnnc__window_plane_(g->in); }
static inline int64_t cnnc__window_out_size(const cnnc__window *g) { return cnnc__window_plane_(g->out); }
/* a / b rounded toward negative infinity (b != 0) */
static inline int64_t cnnc__div_floor(int64_t a, int64_t b) {
    const int64_t q = a / b, r = a % b;
    return (r != 0 && (r < 0) != (b < 0)) ? q - 1 : q;
}

static inline int64_t cnnc__window_k_size(const cnnc__window *g) {
    return g->k[0] * g->k[1] * g->k[2];
}

/* The window of an op over nsp (1..3) spatial dims, right-aligned in the three slots:
 * in/out/k/stride/pad/dil hold nsp values each (k, stride, pad, dil may be NULL for
 * 1, 1, 0, 1, as adaptive pooling needs only the sizes). n, c, m, groups are set to
 * the pooling values (n = planes, c = m = groups = 1). */
void cnnc__window_fill(cnnc__window *g, int nsp, int64_t planes, const int64_t *in,
                       const int64_t *out, const int64_t *k, const int64_t *stride,
                       const int64_t *pad, const int64_t *dil);

/* ---- output-size rules ---------------------------------------------------------------
 * Each returns false (out untouched) when a step overflows int64. */

/* Of a window (convolution, max and average pooling, PyTorch's
 * pooling_output_shape_pad_lr):
 *   out = floor((in + pad_l + pad_r - dil (k - 1) - 1 [+ stride - 1 if ceil_mode]) / stride) + 1
 * rounding toward negative infinity; with ceil_mode the last window must start inside
 * the input or the left padding ((out - 1) stride < in + pad_l), else out - 1.
 * stride != 0 (a negative one gives PyTorch's value; the ops refuse it after). */
bool cnnc__window_out_len(int64_t in, int64_t k, int64_t stride, int64_t pad_l, int64_t pad_r,
                          int64_t dil, bool ceil_mode, int64_t *out);

/* Of the transposed window (transposed convolution, max unpooling's default size):
 *   out = (in - 1) stride - pad_l - pad_r + dil (k - 1) + out_pad + 1. */
bool cnnc__window_transposed_len(int64_t in, int64_t k, int64_t stride, int64_t pad_l,
                                 int64_t pad_r, int64_t dil, int64_t out_pad, int64_t *out);
#endif
