/* Internal: the pointwise loss kernels (kernels/loss.h), written once and compiled
 * per variant through loss_impl.h. NOT include-guarded.
 *
 * The includer defines LOSS_EXP(x), LOSS_LOG(x) (every float, libm's logf rules),
 * LOSS_LOG1P_POS(x) (x >= 0) and LOSS_FN(name). The formulas are PyTorch 1.13's CPU
 * formulas, operation by operation (moved here from ops/loss.c and loss_bce.c). The
 * unweighted cases have loops of their own, with the gradient's source (g[i] or g0)
 * chosen outside the loop, so that they vectorize; piecewise formulas compute both
 * sides and select (random data mispredicted branches: 6-7x slower than PyTorch). */
#include <math.h>
#include <stddef.h>

/* for i in [begin, end): G is g[i] or g0, one loop per case */
#define PWL_LOOP_G(body)                                                            \
    do {                                                                            \
        if (g)                                                                      \
            for (int64_t i = begin; i < end; i++) {                                 \
                const float G = g[i];                                               \
                body;                                                               \
            }                                                                       \
        else                                                                        \
            for (int64_t i = begin; i < end; i++) {                                 \
                const float G = g0;                                                 \
                body;                                                               \
            }                                                                       \
    } while (0)

/* ---- regression losses ------------------------------------------------------------- */

static void mse_forward(const cnnc__pwl_args *a, float *out, int64_t begin, int64_t end) {
    const float *x = a->x, *y = a->y;
    for (int64_t i = begin; i < end; i++) {
        float d = x[i] - y[i];
        out[i - begin] = d * d;
    }
}
/* norm (x - y) g, norm = 2 or 2/n (mse_loss_backward); the target's is the same
 * with the operands swapped */
static void mse_backward(const cnnc__pwl_args *a, float *gx, float *gy, const float *g, float g0,
                         int64_t begin, int64_t end) {
    const float norm = (float)(2.0 * a->scale), *x = a->x, *y = a->y;
    if (gx) PWL_LOOP_G(gx[i] = norm * (x[i] - y[i]) * G);
    if (gy) PWL_LOOP_G(gy[i] = norm * (y[i] - x[i]) * G);
}

static void l1_forward(const cnnc__pwl_args *a, float *out, int64_t begin, int64_t end) {
    const float *x = a->x, *y = a->y;
    for (int64_t i = begin; i < end; i++) out[i - begin] = fabsf(x[i] - y[i]);
}
static inline float sgn(float d) { return d > 0.0f ? 1.0f : d < 0.0f ? -1.0f : 0.0f; }
/* abs(x - y) then mean/sum in PyTorch: the gradient is (g / n) sgn(x - y), where
 * sgn is 0 at 0 and NaN */
static void l1_backward(const cnnc__pwl_args *a, float *gx, float *gy, const float *g, float g0,
                        int64_t begin, int64_t end) {
    const float *x = a->x, *y = a->y;
    g0 = (float)((double)g0 * a->scale);
    if (gx) PWL_LOOP_G(gx[i] = sgn(x[i] - y[i]) * G);
    if (gy) PWL_LOOP_G(gy[i] = -(sgn(x[i] - y[i]) * G));
}

static void smooth_l1_forward(const cnnc__pwl_args *a, float *out, int64_t begin, int64_t end) {
    const float beta = a->a, *x = a->x, *y = a->y;
    for (int64_t i = begin; i < end; i++) {
        const float z = fabsf(x[i] - y[i]);
        const float quad = 0.5f * z * z / beta, lin = z - 0.5f * beta;
        out[i - begin] = z < beta ? quad : lin;
    }
}
static inline float smooth_l1_grad(float d, float beta, float norm, float g) {
    const float sat = norm * g, mid = norm * d * g / beta;
    return d <= -beta ? -sat : d >= beta ? sat : mid;
}
static void smooth_l1_backward(const cnnc__pwl_args *a, float *gx, float *gy, const float *g,
                               float g0, int64_t begin, int64_t end) {
    const float norm = (float)a->scale, beta = a->a, *x = a->x, *y = a->y;
    if (gx) PWL_LOOP_G(gx[i] = smooth_l1_grad(x[i] - y[i], beta, norm, G));
    if (gy) PWL_LOOP_G(gy[i] = smooth_l1_grad(-1.0f * (x[i] - y[i]), beta, norm, G));
}

static void huber_forward(const cnnc__pwl_args *a, float *out, int64_t begin, int64_t end) {
    const float delta = a->a, *x = a->x, *y = a->y;
    for (int64_t i = begin; i < end; i++) {
        const float z = fabsf(x[i] - y[i]);
        const float quad = 0.5f * z * z, lin = delta * (z - 0.5f * delta);
        out[i - begin] = z < delta ? quad : lin;
    }
}
static inline float huber_grad(float d, float delta, float norm, float g) {
    const float sat = norm * g * delta, mid = norm * d * g;
    return d <= -delta ? -sat : d >= delta ? sat : mid;
}
static void huber_backward(const cnnc__pwl_args *a, float *gx, float *gy, const float *g, float g0,
                           int64_t begin, int64_t end) {
    const float norm = (float)a->scale, delta = a->a, *x = a->x, *y = a->y;
    if (gx) PWL_LOOP_G(gx[i] = huber_grad(x[i] - y[i], delta, norm, G));
    if (gy) PWL_LOOP_G(gy[i] = huber_grad(-1.0f * (x[i] - y[i]), delta, norm, G));
}

/* ---- kl_div ------------------------------------------------------------------------ */

/* xlogy(x, y) as PyTorch: NaN if y is NaN, 0 if x is 0, else x log y */
static inline float xlogy(float x, float y) {
    float v = x == 0.0f ? 0.0f : x * LOSS_LOG(y);
    return y != y ? y : v;
}

/* xlogy(y, y) - y x, or e^y (y - x) with log_target */
static void kl_div_forward(const cnnc__pwl_args *a, float *out, int64_t begin, int64_t end) {
    const float *x = a->x, *y = a->y;
    if (a->flag)
        for (int64_t i = begin; i < end; i++) out[i - begin] = LOSS_EXP(y[i]) * (y[i] - x[i]);
    else
        for (int64_t i = begin; i < end; i++) out[i - begin] = xlogy(y[i], y[i]) - y[i] * x[i];
}
/* PyTorch's composite backward: the mean's g/n first, then each term's derivative
 * (xlogy's: xlogy(y != 0, y) + y / y, NaN where y is 0 as PyTorch) */
static void kl_div_backward(const cnnc__pwl_args *a, float *gx, float *gy, const float *g,
                            float g0, int64_t begin, int64_t end) {
    const float *x = a->x, *y = a->y;
    g0 = (float)((double)g0 * a->scale);
    if (a->flag) {
        if (gx) PWL_LOOP_G(gx[i] = -(G * LOSS_EXP(y[i])));
        if (gy) PWL_LOOP_G(const float e = LOSS_EXP(y[i]); gy[i] = G * (y[i] - x[i]) * e + G * e);
    } else {
        if (gx) PWL_LOOP_G(gx[i] = -G * y[i]);
        if (gy)
            PWL_LOOP_G(gy[i] = G * xlogy(y[i] != 0.0f ? 1.0f : 0.0f, y[i]) + G * y[i] / y[i] -
                               G * x[i]);
    }
}

/* ---- binary_cross_entropy ------------------------------------------------------------ */

static inline float clamp_log(float v) { return v < -100.0f ? -100.0f : v; }

/* log1p(-x) for x in [0, 1] through log (libm's log1pf is several times slower):
 * u = 1 - x rounds, and ((u - 1) + x) / u puts back what the rounding lost */
static inline float log1p_neg(float x) {
    float u = 1.0f - x;
    float l = LOSS_LOG(u) - ((u - 1.0f) + x) / u;
    return u == 0.0f ? -INFINITY : l;
}

/* (y - 1) max(log1p(-x), -100) - y max(log x, -100) */
static inline float bce_term(float x, float y) {
    return (y - 1.0f) * clamp_log(log1p_neg(x)) - y * clamp_log(LOSS_LOG(x));
}

/* the term, times the weight */
static void bce_forward(const cnnc__pwl_args *a, float *out, int64_t begin, int64_t end) {
    const float *x = a->x, *y = a->y, *w = a->w;
    if (w)
        for (int64_t i = begin; i < end; i++) out[i - begin] = bce_term(x[i], y[i]) * w[i];
    else
        for (int64_t i = begin; i < end; i++) out[i - begin] = bce_term(x[i], y[i]);
}

/* input: g (x - y) / max((1 - x) x, 1e-12); target: -logit(x) g; each times the
 * weight, then divided by n for the mean (binary_cross_entropy_backward and its
 * target form) */
static inline float bce_gx(float x, float y, float g, float w, float norm) {
    float den = (1.0f - x) * x;
    return g * (x - y) / (den < 1e-12f ? 1e-12f : den) * w * norm;
}
static void bce_backward(const cnnc__pwl_args *a, float *gx, float *gy, const float *g, float g0,
                         int64_t begin, int64_t end) {
    const float norm = (float)a->scale, *x = a->x, *y = a->y, *w = a->w;
    if (gx && w) PWL_LOOP_G(gx[i] = bce_gx(x[i], y[i], G, w[i], norm));
    if (gx && !w) PWL_LOOP_G(gx[i] = bce_gx(x[i], y[i], G, 1.0f, norm));
    if (gy && w) PWL_LOOP_G(gy[i] = -LOSS_LOG(x[i] / (1.0f - x[i])) * G * w[i] * norm);
    if (gy && !w) PWL_LOOP_G(gy[i] = -LOSS_LOG(x[i] / (1.0f - x[i])) * G * 1.0f * norm);
}

/* ---- binary_cross_entropy_with_logits ------------------------------------------------ */

/* PyTorch's log(e^-m + e^(-x-m)) with m = max(-x, 0) (NaN kept), so that
 * softplus(-x) = m + this. One of the two terms is e^0 = 1 and the other e^-|x|,
 * so the sum is 1 + e^-|x| exactly, with one exp. (At x = -inf PyTorch's sum is
 * NaN and this is 0, but the loss is NaN either way: (1 - y) x + m is.) */
static inline float softplus_parts(float x, float *m) {
    *m = -x < 0.0f ? 0.0f : -x;
    return LOSS_LOG1P_POS(LOSS_EXP(-fabsf(x)));
}

/* (1 - y) x + m + lg, or (1 - y) x + (1 + (pw - 1) y)(lg + m); times the weight */
static void bce_logits_forward(const cnnc__pwl_args *a, float *out, int64_t begin, int64_t end) {
    const float *x = a->x, *y = a->y;
    if (!a->pw && !a->w) {
        for (int64_t i = begin; i < end; i++) {
            float m, lg = softplus_parts(x[i], &m);
            out[i - begin] = (1.0f - y[i]) * x[i] + m + lg;
        }
        return;
    }
    for (int64_t i = begin; i < end; i++) {
        float m, lg = softplus_parts(x[i], &m), l;
        if (a->pw)
            l = (1.0f - y[i]) * x[i] + ((a->pw[i] - 1.0f) * y[i] + 1.0f) * (lg + m);
        else
            l = (1.0f - y[i]) * x[i] + m + lg;
        out[i - begin] = a->w ? l * a->w[i] : l;
    }
}

/* log(sigmoid(x)) as PyTorch's kernel: min(x, 0) - log1p(e^-|x|) */
static inline float log_sigmoid(float x) {
    float z = LOSS_LOG1P_POS(LOSS_EXP(-fabsf(x)));
    return x < 0.0f ? x - z : -z;
}
static inline float sigmoid(float x) { return 1.0f / (1.0f + LOSS_EXP(-x)); }

/* input: (sigmoid(x) - y) g, or ((pw y + 1 - y) sigmoid(x) - pw y) g; target: -x g,
 * or (log_sigmoid(-x) - pw log_sigmoid(x)) g; each times the weight, then / n */
static void bce_logits_backward(const cnnc__pwl_args *a, float *gx, float *gy, const float *g,
                                float g0, int64_t begin, int64_t end) {
    const float norm = (float)a->scale, *x = a->x, *y = a->y;
    if (gx && !a->pw && !a->w) { /* the usual case: the general loop's v gi w norm, w = 1 */
        PWL_LOOP_G(gx[i] = (sigmoid(x[i]) - y[i]) * G * 1.0f * norm);
        gx = NULL;
    }
    if (gy && !a->pw && !a->w) {
        PWL_LOOP_G(gy[i] = -x[i] * G * 1.0f * norm);
        gy = NULL;
    }
    for (int64_t i = begin; (gx || gy) && i < end; i++) {
        float xi = x[i], yi = y[i], gi = g ? g[i] : g0, w = a->w ? a->w[i] : 1.0f;
        if (gx) {
            float sig = sigmoid(xi), v;
            if (a->pw) {
                float t = a->pw[i] * yi;
                v = ((t + 1.0f) - yi) * sig - t;
            } else {
                v = sig - yi;
            }
            gx[i] = v * gi * w * norm;
        }
        if (gy) {
            float v = a->pw ? log_sigmoid(-xi) - log_sigmoid(xi) * a->pw[i] : -xi;
            gy[i] = v * gi * w * norm;
        }
    }
}

/* ---- the entry points ------------------------------------------------------------- */

void LOSS_FN(pwl_forward)(cnnc__pwl op, const cnnc__pwl_args *a, float *out, int64_t begin,
                          int64_t end) {
    switch (op) {
#define PWL_FWD_CASE(E, name)                 \
    case CNNC__PWL_##E:                       \
        name##_forward(a, out, begin, end);   \
        break;
        CNNC__PWL_LIST(PWL_FWD_CASE)
#undef PWL_FWD_CASE
    default: break;
    }
}

void LOSS_FN(pwl_backward)(cnnc__pwl op, const cnnc__pwl_args *a, float *gx, float *gy,
                           const float *g, float g0, int64_t begin, int64_t end) {
    switch (op) {
#define PWL_BWD_CASE(E, name)                             \
    case CNNC__PWL_##E:                                   \
        name##_backward(a, gx, gy, g, g0, begin, end);    \
        break;
        CNNC__PWL_LIST(PWL_BWD_CASE)
#undef PWL_BWD_CASE
    default: break;
    }
}
#undef PWL_LOOP_G
