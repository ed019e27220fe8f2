/* Internal: the activation kernels, written once and compiled four times
 * (activation_ref.c with libm; activation_scalar.c, activation_avx2.c and
 * activation_avx512.c with activation_math.h for the baseline ISA, AVX2 and
 * AVX-512). NOT include-guarded.
 *
 * The includer defines:
 *   ACT_EXP(x), ACT_TANH(x), ACT_ERF(x), ACT_LOG1P_POS(x)  float math
 *   ACT_TANH_ALONE(x)  tanh for the Tanh activation itself: relative accuracy
 *                  suffices there (ACT_TANH is also inside gelu and mish, where
 *                  1 -+ tanh cancels in the tails)
 *   ACT_EXP_NONPOS(x)  float e^x for x <= 0 (may flush results below FLT_MIN to 0)
 *   ACT_FN(name)   the extern name of a kernel in this variant
 *   ACT_TARGET     an attribute for the extern kernels (or nothing)
 *   ACT_ROWS       (the fast variants) softmax over contiguous rows in float
 *                  lanes (row_reduce.h); then also ACT_LOG(x), float log. Without
 *                  it (the reference) every layout takes the column loop, whose
 *                  sums are plain double sums.
 *
 * The formulas follow PyTorch 1.13's CPU kernels operation by operation (same
 * constants, same order of float operations). Where PyTorch's vectorized and
 * scalar loops disagree on NaN or on a boundary (hardtanh's backward gives 0 on
 * NaN, ELU's backward and hardswish's give NaN, hardswish's backward at exactly 3
 * passes the gradient unchanged), these follow the vectorized loop, which is what
 * PyTorch applies to all but the last few elements of a tensor. */
#include <math.h>
#include <stddef.h>

#include "kernels/activation.h"
#ifdef ACT_ROWS
#define ROW_EXP(x) ACT_EXP(x)
#include "kernels/row_reduce.h"
#endif

/* ---- forward formulas --------------------------------------------------------- */

static inline float fwd_relu(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return x < 0.0f ? 0.0f : x; /* NaN stays NaN */
}
static inline float fwd_hardtanh(float x, float a, float b, float c) {
    (void)c;
    float y = x < a ? a : x; /* NaN stays NaN; min > max gives max, as clamp */
    return y > b ? b : y;
}
static inline float fwd_leaky_relu(float x, float a, float b, float c) {
    (void)b, (void)c;
    return x > 0.0f ? x : x * a;
}
static inline float fwd_elu(float x, float a, float b, float c) {
    return x > 0.0f ? x * b : (ACT_EXP(x * c) - 1.0f) * a;
}
static inline float fwd_gelu(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return x * 0.5f * (1.0f + ACT_ERF(x * 0.70710678118654752f));
}
#define GELU_BETA 0.79788456080286536f /* sqrt(2/pi) */
#define GELU_KAPPA 0.044715f
static inline float fwd_gelu_tanh(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    float x_cube = x * x * x;
    float inner = GELU_BETA * (x + GELU_KAPPA * x_cube);
    return 0.5f * x * (1.0f + ACT_TANH(inner));
}
static inline float fwd_silu(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return x / (1.0f + ACT_EXP(-x));
}
static inline float fwd_mish(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return x * ACT_TANH(ACT_LOG1P_POS(ACT_EXP(x)));
}
static inline float fwd_sigmoid(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return 1.0f / (1.0f + ACT_EXP(-x));
}
static inline float fwd_tanh(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return ACT_TANH_ALONE(x);
}
static inline float clamp_0_6(float t) {
    t = t < 0.0f ? 0.0f : t; /* NaN propagates, as PyTorch's vector minimum/maximum */
    return t > 6.0f ? 6.0f : t;
}
static inline float fwd_hardsigmoid(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return clamp_0_6(x + 3.0f) / 6.0f;
}
static inline float fwd_hardswish(float x, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return x * clamp_0_6(x + 3.0f) / 6.0f;
}
static inline float fwd_softplus(float x, float a, float b, float c) {
    (void)c;
    float xb = x * a;
    float soft = ACT_LOG1P_POS(ACT_EXP(xb)) / a;
    return xb > b ? x : soft;
}

/* ---- backward formulas: g the incoming gradient, s the saved tensor ------------ */

static inline float bwd_relu(float g, float y, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return y <= 0.0f ? 0.0f : g; /* from the result; NaN passes g, as PyTorch */
}
static inline float bwd_hardtanh(float g, float s, float a, float b, float c) {
    (void)c;
    return (s > a && s < b) ? g : 0.0f;
}
static inline float bwd_leaky_relu(float g, float s, float a, float b, float c) {
    (void)b, (void)c;
    return s > 0.0f ? g : g * a;
}
static inline float bwd_elu(float g, float s, float a, float b, float c) {
    return s > 0.0f ? g * b : g * c * a * ACT_EXP(s * c);
}
static inline float bwd_elu_result(float g, float s, float a, float b, float c) {
    return s > 0.0f ? g * b : g * c * (s + a);
}
static inline float bwd_gelu(float g, float s, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    const float k_beta = 0.3989422804014327f; /* M_2_SQRTPI * M_SQRT1_2 * 0.5 */
    float cdf = 0.5f * (1.0f + ACT_ERF(s * 0.70710678118654752f));
    float pdf = k_beta * ACT_EXP_NONPOS(s * s * -0.5f);
    return g * (cdf + s * pdf);
}
static inline float bwd_gelu_tanh(float g, float s, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    float x_sq = s * s;
    float x_cube = s * s * s;
    float inner = GELU_BETA * (s + GELU_KAPPA * x_cube);
    float t = ACT_TANH(inner);
    float left = 0.5f * s;
    float right = 1.0f + t;
    float left_derivative = 0.5f * right;
    float tanh_derivative = 1.0f - t * t;
    float inner_derivative = GELU_BETA * (1.0f + 3.0f * GELU_KAPPA * x_sq);
    float right_derivative = left * tanh_derivative * inner_derivative;
    return g * (left_derivative + right_derivative);
}
static inline float bwd_silu(float g, float s, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    float sig = 1.0f / (1.0f + ACT_EXP(-s));
    return g * sig * (1.0f + s * (1.0f - sig));
}
static inline float bwd_mish(float g, float s, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    float sig = 1.0f / (1.0f + ACT_EXP(-s));
    float tsp = ACT_TANH(ACT_LOG1P_POS(ACT_EXP(s)));
    return g * (tsp + s * sig * (1.0f - tsp * tsp));
}
static inline float bwd_sigmoid(float g, float y, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return g * (1.0f - y) * y;
}
static inline float bwd_tanh(float g, float y, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return g * (1.0f - y * y);
}
static inline float bwd_hardsigmoid(float g, float s, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    return (s > -3.0f && s < 3.0f) ? g * (1.0f / 6.0f) : 0.0f;
}
static inline float bwd_hardswish(float g, float s, float a, float b, float c) {
    (void)a, (void)b, (void)c;
    float mid = g * ((s / 3.0f) + 0.5f);
    float r = s >= 3.0f ? g : mid;
    return s < -3.0f ? 0.0f : r;
}
static inline float bwd_softplus(float g, float s, float a, float b, float c) {
    (void)c;
    float z = ACT_EXP(s * a);
    float soft = g * z / (z + 1.0f);
    return (s * a) > b ? g : soft;
}

/* ---- the loops ------------------------------------------------------------------ */

ACT_TARGET void ACT_FN(act_forward)(cnnc__act op, const cnnc__act_params *p, float *out,
                                    const float *x, int64_t n) {
    const float a = p->a, b = p->b, c = p->c;
    switch (op) {
#define ACT_FWD_CASE(E, name)                                                      \
    case CNNC__ACT_##E:                                                            \
        for (int64_t i = 0; i < n; i++) out[i] = fwd_##name(x[i], a, b, c);        \
        break;
        CNNC__ACT_LIST(ACT_FWD_CASE)
#undef ACT_FWD_CASE
    default: break;
    }
}

/* out[i] = op(x[i] + bias): the bias added in float, then the formula (a convolution's
 * bias and activation in one pass; the bits of an add followed by act_forward) */
ACT_TARGET void ACT_FN(act_forward_bias)(cnnc__act op, const cnnc__act_params *p, float *out,
                                         const float *x, float bias, int64_t n) {
    const float a = p->a, b = p->b, c = p->c;
    switch (op) {
#define ACT_FWD_BIAS_CASE(E, name)                                                 \
    case CNNC__ACT_##E:                                                            \
        for (int64_t i = 0; i < n; i++) out[i] = fwd_##name(x[i] + bias, a, b, c); \
        break;
        CNNC__ACT_LIST(ACT_FWD_BIAS_CASE)
#undef ACT_FWD_BIAS_CASE
    default: break;
    }
}

ACT_TARGET void ACT_FN(act_backward)(cnnc__act op, const cnnc__act_params *p, bool from_result,
                                     float *gx, const float *g, const float *s, int64_t n) {
    const float a = p->a, b = p->b, c = p->c;
    if (op == CNNC__ACT_ELU && from_result) {
        for (int64_t i = 0; i < n; i++) gx[i] = bwd_elu_result(g[i], s[i], a, b, c);
        return;
    }
    switch (op) {
#define ACT_BWD_CASE(E, name)                                                      \
    case CNNC__ACT_##E:                                                            \
        for (int64_t i = 0; i < n; i++) gx[i] = bwd_##name(g[i], s[i], a, b, c);   \
        break;
        CNNC__ACT_LIST(ACT_BWD_CASE)
#undef ACT_BWD_CASE
    default: break;
    }
}

/* ---- softmax ------------------------------------------------------------------- */

static inline double log_sum_of(double s) { return log(s); }

#ifdef ACT_ROWS
/* one contiguous row (inner == 1): out[dim], x[dim]. The max and the sums in the
 * fixed lane order of row_reduce.h (float lanes, chunks in double); a NaN in the row
 * makes x - m NaN there, so the sum and every output are NaN, as PyTorch. */
static void softmax_row(bool logsm, float *out, const float *x, int64_t dim) {
    const float m = row_max(x, dim);
    if (logsm) {
        const float ls = ACT_LOG((float)row_sum_exp(x, dim, m, NULL));
        for (int64_t d = 0; d < dim; d++) out[d] = (x[d] - m) - ls;
    } else {
        const float r = (float)(1.0 / row_sum_exp(x, dim, m, out));
        for (int64_t d = 0; d < dim; d++) out[d] = out[d] * r;
    }
}

/* gx[dim] from g[dim] and the result y[dim] of one contiguous row */
static void softmax_backward_row(bool logsm, float *gx, const float *g, const float *y,
                                 int64_t dim) {
    double sum = 0.0;
    if (logsm) {
        ROW_SUM(sum, dim, i, g[i]);
        const float s = (float)sum;
        for (int64_t d = 0; d < dim; d++) gx[d] = g[d] - ACT_EXP(y[d]) * s;
    } else {
        ROW_SUM(sum, dim, i, g[i] * y[i]);
        const float s = (float)sum;
        for (int64_t d = 0; d < dim; d++) gx[d] = y[d] * (g[d] - s);
    }
}
#endif

/* Columns of the [dim, inner] slab are processed in blocks of SM_BLOCK, with the
 * running max and the double sums on the stack. */
#define SM_BLOCK 512

ACT_TARGET void ACT_FN(softmax)(bool logsm, float *out, const float *x, int64_t dim, int64_t inner,
                                int64_t o_begin, int64_t o_end, int64_t i_begin, int64_t i_end) {
    if (dim == 0) return;
    for (int64_t o = o_begin; o < o_end; o++) {
        const float *xs = x + o * dim * inner;
        float *os = out + o * dim * inner;
#ifdef ACT_ROWS
        if (inner == 1) {
            softmax_row(logsm, os, xs, dim);
            continue;
        }
#endif
        for (int64_t j0 = i_begin; j0 < i_end; j0 += SM_BLOCK) {
            int64_t nb = i_end - j0 < SM_BLOCK ? i_end - j0 : SM_BLOCK;
            float m[SM_BLOCK];
            double sum[SM_BLOCK];
            for (int64_t j = 0; j < nb; j++) {
                m[j] = -INFINITY;
                sum[j] = 0.0;
            }
            for (int64_t d = 0; d < dim; d++) {
                const float *r = xs + d * inner + j0;
                for (int64_t j = 0; j < nb; j++) m[j] = r[j] > m[j] ? r[j] : m[j];
            }
            for (int64_t d = 0; d < dim; d++) {
                const float *r = xs + d * inner + j0;
                float *w = os + d * inner + j0;
                if (logsm)
                    for (int64_t j = 0; j < nb; j++) sum[j] += (double)ACT_EXP(r[j] - m[j]);
                else
                    for (int64_t j = 0; j < nb; j++) {
                        float e = ACT_EXP(r[j] - m[j]);
                        w[j] = e;
                        sum[j] += (double)e;
                    }
            }
            float f[SM_BLOCK];
            for (int64_t j = 0; j < nb; j++)
                f[j] = logsm ? (float)log_sum_of(sum[j]) : (float)(1.0 / sum[j]);
            for (int64_t d = 0; d < dim; d++) {
                const float *r = xs + d * inner + j0;
                float *w = os + d * inner + j0;
                if (logsm)
                    for (int64_t j = 0; j < nb; j++) w[j] = (r[j] - m[j]) - f[j];
                else
                    for (int64_t j = 0; j < nb; j++) w[j] = w[j] * f[j];
            }
        }
    }
}

ACT_TARGET void ACT_FN(softmax_backward)(bool logsm, float *gx, const float *g, const float *y,
                                         int64_t dim, int64_t inner, int64_t o_begin,
                                         int64_t o_end, int64_t i_begin, int64_t i_end) {
    for (int64_t o = o_begin; o < o_end; o++) {
        size_t base = (size_t)(o * dim * inner);
        const float *gs = g + base, *ys = y + base;
        float *xs = gx + base;
#ifdef ACT_ROWS
        if (inner == 1) {
            softmax_backward_row(logsm, xs, gs, ys, dim);
            continue;
        }
#endif
        for (int64_t j0 = i_begin; j0 < i_end; j0 += SM_BLOCK) {
            int64_t nb = i_end - j0 < SM_BLOCK ? i_end - j0 : SM_BLOCK;
            double sum[SM_BLOCK];
            for (int64_t j = 0; j < nb; j++) sum[j] = 0.0;
            for (int64_t d = 0; d < dim; d++) {
                const float *gr = gs + d * inner + j0, *yr = ys + d * inner + j0;
                if (logsm)
                    for (int64_t j = 0; j < nb; j++) sum[j] += (double)gr[j];
                else
                    for (int64_t j = 0; j < nb; j++) sum[j] += (double)(gr[j] * yr[j]);
            }
            float s[SM_BLOCK];
            for (int64_t j = 0; j < nb; j++) s[j] = (float)sum[j];
            for (int64_t d = 0; d < dim; d++) {
                const float *gr = gs + d * inner + j0, *yr = ys + d * inner + j0;
                float *w = xs + d * inner + j0;
                if (logsm)
                    for (int64_t j = 0; j < nb; j++) w[j] = gr[j] - ACT_EXP(yr[j]) * s[j];
                else
                    for (int64_t j = 0; j < nb; j++) w[j] = yr[j] * (gr[j] - s[j]);
            }
        }
    }
}
#undef SM_BLOCK
#undef GELU_BETA
#undef GELU_KAPPA
