/* Internal kernels of the activation family: pointwise activations (one table of
 * ops, each with a forward and a backward formula), softmax / log_softmax over one
 * dim, PReLU, and the dropout mask.
 *
 * Every kernel exists as a plain reference (libm's expf/erff/tanhf/log1pf,
 * compiled for the baseline ISA) and as a fast version (vectorizable
 * approximations of those functions, good to a few ulp, compiled once per ISA level:
 * AVX-512, AVX2+FMA and the baseline; the fast kernels take the level, see
 * kernels/isa.h, and activation_internal.h lists the variants). Both follow PyTorch
 * 1.13's CPU formulas operation by operation, with the NaN rules of its
 * vectorized loops (see activation_impl.h). Raw pointers, outputs first, no
 * allocation; each works on a range so the op layer can split it over threads. */
#ifndef CNNC_KERNELS_ACTIVATION_H
#define CNNC_KERNELS_ACTIVATION_H
#include <stdbool.h>
#include <stdint.h>

#include "kernels/isa.h"

/* The pointwise activations: X(ENUM, name). Parameters (cnnc__act_params):
 *   HARDTANH    a = min_val, b = max_val        (relu6 is hardtanh(0, 6))
 *   LEAKY_RELU  a = negative_slope
 *   ELU         a = alpha * scale (negcoef), b = scale (poscoef),
 *               c = input_scale (negiptcoef)    (selu and celu are elus)
 *   SOFTPLUS    a = beta, b = threshold
 * the others take none. */
#define CNNC__ACT_LIST(X)      \
    X(RELU, relu)              \
    X(HARDTANH, hardtanh)      \
    X(LEAKY_RELU, leaky_relu)  \
    X(ELU, elu)                \
    X(GELU, gelu)              \
    X(GELU_TANH, gelu_tanh)    \
    X(SILU, silu)              \
    X(MISH, mish)              \
    X(SIGMOID, sigmoid)        \
    X(TANH, tanh)              \
    X(HARDSIGMOID, hardsigmoid) \
    X(HARDSWISH, hardswish)    \
    X(SOFTPLUS, softplus)

typedef enum cnnc__act {
#define CNNC__ACT_ENUM(E, n) CNNC__ACT_##E,
    CNNC__ACT_LIST(CNNC__ACT_ENUM)
#undef CNNC__ACT_ENUM
    CNNC__ACT_COUNT
} cnnc__act;

typedef struct cnnc__act_params {
    float a, b, c;
} cnnc__act_params;

/* "hardtanh", ... */
const char *cnnc__act_name(cnnc__act op);
/* Does the backward of op read the forward's result (relu, sigmoid, tanh) rather than
 * its input? (ELU can do either: see from_result below.) */
bool cnnc__act_backward_uses_result(cnnc__act op);

/* Name of the fast variant a level runs ("f32_act__avx2"). */
const char *cnnc__k_act_variant_name(cnnc__isa isa);

/* out[i] = op(x[i]) for i in [0, n); out may equal x. */
void cnnc__k_act_forward(cnnc__isa isa, cnnc__act op, const cnnc__act_params *p, float *out,
                         const float *x, int64_t n);
/* out[i] = op(x[i] + bias), i < n (out may equal x): the bits of adding the bias in
 * float and then cnnc__k_act_forward, in one pass (a convolution's epilogue). */
void cnnc__k_act_forward_bias(cnnc__isa isa, cnnc__act op, const cnnc__act_params *p, float *out,
                              const float *x, float bias, int64_t n);
/* gx[i] = g[i] * op'(...) from s = the saved input, or the saved result when
 * from_result (ELU's in-place form; sigmoid and tanh always read the result;
 * hardtanh and leaky_relu give the same from either). gx may equal g. */
void cnnc__k_act_backward(cnnc__isa isa, cnnc__act op, const cnnc__act_params *p,
                          bool from_result, float *gx, const float *g, const float *s,
                          int64_t n);
/* relu and leaky_relu with streaming stores (activation_stream.c): backward false:
 * out = op(v); true: out = the gradient from v = g and s = the saved tensor (relu's
 * result, leaky_relu's input). Same values as the table's kernels; out must not
 * overlap v or s. Returns false (doing nothing) for other ops and at levels without
 * such stores. For outputs far larger than the caches only: the written lines bypass
 * them. */
bool cnnc__k_act_stream(cnnc__isa isa, cnnc__act op, const cnnc__act_params *p, bool backward,
                        float *out, const float *v, const float *s, int64_t n);

/* Hardtanh (a = min, b = max) with its gradient mask (activation_mask.c): out[i] =
 * hardtanh(x[i]) (out may equal x) and bit i % 32 of bits[i / 32] set where a < x[i] < b
 * (NaN: clear), the words of [0, n) written whole (bits past n clear). The backward:
 * gx[i] = the bit ? g[i] : 0 (gx may equal g). Both equal cnnc__k_act_forward /
 * _backward of CNNC__ACT_HARDTANH from the input. Ranges start at a word (i % 32 == 0). */
void cnnc__k_hardtanh_mask_forward(cnnc__isa isa, const cnnc__act_params *p, float *out,
                                   uint32_t *bits, const float *x, int64_t n);
void cnnc__k_hardtanh_mask_backward(cnnc__isa isa, float *gx, const float *g,
                                    const uint32_t *bits, int64_t n);
/* Name of the mask variant a level runs ("f32_hardtanh_mask__avx2"). */
const char *cnnc__k_hardtanh_mask_variant_name(cnnc__isa isa);

void cnnc__k_act_forward_ref(cnnc__act op, const cnnc__act_params *p, float *out,
                             const float *x, int64_t n);
void cnnc__k_act_backward_ref(cnnc__act op, const cnnc__act_params *p, bool from_result,
                              float *gx, const float *g, const float *s, int64_t n);

/* Softmax over the middle dim of x viewed as [outer, dim, inner], for outer rows
 * [o_begin, o_end) and inner columns [i_begin, i_end) (inner == 1 is the contiguous
 * last-dim case). Max subtracted, sums in double. log: log_softmax. */
void cnnc__k_softmax(cnnc__isa isa, bool log, float *out, const float *x, int64_t dim,
                     int64_t inner, int64_t o_begin, int64_t o_end, int64_t i_begin,
                     int64_t i_end);
void cnnc__k_softmax_ref(bool log, float *out, const float *x, int64_t dim, int64_t inner,
                         int64_t o_begin, int64_t o_end, int64_t i_begin, int64_t i_end);
/* The backward from the result y: softmax gx = y * (g - sum_d g*y);
 * log_softmax gx = g - exp(y) * sum_d g. Same ranges. */
void cnnc__k_softmax_backward(cnnc__isa isa, bool log, float *gx, const float *g,
                              const float *y, int64_t dim, int64_t inner, int64_t o_begin,
                              int64_t o_end, int64_t i_begin, int64_t i_end);
void cnnc__k_softmax_backward_ref(bool log, float *gx, const float *g, const float *y,
                                  int64_t dim, int64_t inner, int64_t o_begin, int64_t o_end,
                                  int64_t i_begin, int64_t i_end);

/* PReLU on x viewed as [outer, channels, inner], weight w[channels]:
 * y = x > 0 ? x : w[c] * x, for rows (o, c) in [r_begin, r_end) of outer*channels. */
void cnnc__k_prelu(float *out, const float *x, const float *w, int64_t channels, int64_t inner,
                   int64_t r_begin, int64_t r_end);
/* gx = x > 0 ? g : w[c] * g (gx may be NULL) for rows [r_begin, r_end). */
void cnnc__k_prelu_backward_input(float *gx, const float *g, const float *x, const float *w,
                                  int64_t channels, int64_t inner, int64_t r_begin,
                                  int64_t r_end);
/* sum over the elements of channel c of (x > 0 ? 0 : x * g), in double, for
 * c in [c_begin, c_end), over x viewed as [outer, channels, inner]. */
void cnnc__k_prelu_backward_weight(double *gw, const float *g, const float *x, int64_t outer,
                                   int64_t channels, int64_t inner, int64_t c_begin,
                                   int64_t c_end);

/* Dropout. keep(k) is a counter-based draw: true with probability keep_q / 2^24
 * for mask index k, from the 64-bit key (so a mask is reproducible from the key
 * alone and does not depend on how the work is split). Element i of a row of
 * `inner` elements uses mask index i / inner.
 * out[i] = x[i] * (keep ? scale : 0) for i in [begin, end) (out may equal x; x
 * NULL means x is all ones, i.e. the mask itself). */
void cnnc__k_dropout(float *out, const float *x, uint64_t key, uint32_t keep_q, float scale,
                     int64_t inner, int64_t begin, int64_t end);
bool cnnc__k_dropout_keep(uint64_t key, uint32_t keep_q, int64_t k);
#endif
