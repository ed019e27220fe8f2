/* binary_cross_entropy and binary_cross_entropy_with_logits: PyTorch 1.13's
 * formulas (log clamped to -100; the max-value trick for logits) on the pointwise
 * engine of loss.c, with the argument checks of torch.nn.functional in its order. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "kernels/activation_math.h"
#include "ops/loss.h"

/* ---- binary_cross_entropy -------------------------------------------------------------- */

static inline float clamp_log(float v) { return v < -100.0f ? -100.0f : v; }

/* log1p(-x) for x in [0, 1] through logf (libm's log1pf is several times slower):
 * u = 1 - x rounds, and ((u - 1) + x) / u puts back what the rounding lost */
static inline float log1p_neg(float x) {
    float u = 1.0f - x;
    return u == 0.0f ? -INFINITY : logf(u) - ((u - 1.0f) + x) / u;
}

/* (y - 1) max(log1p(-x), -100) - y max(log x, -100), times the weight */
static void bce_forward(const cnnc__pw_args *a, float *out, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
        float x = a->x[i], y = a->y[i];
        float l = (y - 1.0f) * clamp_log(log1p_neg(x)) - y * clamp_log(logf(x));
        out[i - begin] = a->w ? l * a->w[i] : l;
    }
}

/* input: g (x - y) / max((1 - x) x, 1e-12); target: -logit(x) g; each times the
 * weight, then divided by n for the mean (binary_cross_entropy_backward and its
 * target form) */
static void bce_backward(const cnnc__pw_args *a, float *gx, float *gy, const float *g, float g0,
                         int64_t begin, int64_t end) {
    const float norm = (float)a->scale;
    for (int64_t i = begin; i < end; i++) {
        float x = a->x[i], gi = g ? g[i] : g0, w = a->w ? a->w[i] : 1.0f;
        if (gx) {
            float den = (1.0f - x) * x;
            gx[i] = gi * (x - a->y[i]) / (den < 1e-12f ? 1e-12f : den) * w * norm;
        }
        if (gy) gy[i] = -logf(x / (1.0f - x)) * gi * w * norm;
    }
}

static const cnnc__pw_kind BCE = {
    {"BinaryCrossEntropyBackward0", "BinaryCrossEntropyBackward0", "BinaryCrossEntropyBackward0", NULL},
    bce_forward, bce_backward};

/* "torch.Size([3, 4])" */
static void torch_size(char *buf, size_t cap, const cnnc_tensor *t) {
    char s[300];
    cnnc__shape_str(s, sizeof s, t->ndim, t->shape);
    snprintf(buf, cap, "torch.Size(%s)", s);
}

static cnnc_status check_probabilities(const cnnc_tensor *x) {
    const float *p = cnnc__f32(x);
    for (int64_t i = 0; i < x->numel; i++)
        if (!(p[i] >= 0.0f && p[i] <= 1.0f)) /* NaN too */
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "all elements of input should be between 0 and 1");
    return CNNC_OK;
}

/* A weight argument: NULL, or float32 fitting the loss's shape (message as PyTorch's
 * in-place multiply; swap names it the first operand, as pos_weight * target). */
static cnnc_status check_weight(const char *fn, const char *arg, const cnnc_tensor *input,
                                const cnnc_tensor *w, bool swap) {
    if (!w) return CNNC_OK;
    cnnc_status st = cnnc__check_tensor(fn, arg, w, true);
    return st != CNNC_OK ? st : cnnc__loss_fits(input, w, swap);
}

/* The common front: tensors, reduction, equal shapes (with the function's message). */
static cnnc_status check_pair(const char *fn, cnnc_tensor *input, cnnc_tensor *target,
                              const char *reduction, bool logits, cnnc__reduction *r) {
    if (cnnc__check_tensor(fn, "input", input, true) != CNNC_OK ||
        cnnc__check_tensor(fn, "target", target, false) != CNNC_OK ||
        cnnc__loss_reduction(reduction, false, r) != CNNC_OK)
        return cnnc_last_status();
    if (cnnc__same_shape(input, target)) return CNNC_OK;
    char si[320], st[320];
    torch_size(si, sizeof si, input);
    torch_size(st, sizeof st, target);
    if (logits)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Target size (%s) must be the same as input size (%s)", st, si);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "Using a target size (%s) that is different to the input size (%s) is "
                       "deprecated. Please ensure they have the same size.",
                       st, si);
}

cnnc_tensor *cnnc__op_binary_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                           cnnc_binary_cross_entropy_options o) {
    const char *fn = "binary_cross_entropy";
    cnnc__reduction r;
    if (check_pair(fn, input, target, o.reduction, false, &r) != CNNC_OK ||
        check_weight(fn, "weight", input, o.weight, false) != CNNC_OK ||
        cnnc__loss_no_grad(fn, "weight", o.weight) != CNNC_OK)
        return NULL;
    if (target->dtype != CNNC_FLOAT32)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Found dtype Long but expected Float");
    if (check_probabilities(input) != CNNC_OK) return NULL;
    cnnc_tensor *w = o.weight ? cnnc__loss_expand(o.weight, input->ndim, input->shape) : NULL;
    if (o.weight && !w) return NULL;
    cnnc_tensor *out = cnnc__pw_loss(&BCE, &(cnnc__pw_call){.input = input, .target = target,
                                                            .x = input, .y = target, .w = w,
                                                            .reduction = r});
    cnnc_tensor_release(w);
    return out;
}

/* ---- binary_cross_entropy_with_logits ------------------------------------------------- */

/* PyTorch's log(e^-m + e^(-x-m)) with m = max(-x, 0) (NaN kept), so that
 * softplus(-x) = m + this. One of the two terms is e^0 = 1 and the other e^-|x|,
 * so the sum is 1 + e^-|x| exactly, with one exp. (At x = -inf PyTorch's sum is
 * NaN and this is 0, but the loss is NaN either way: (1 - y) x + m is.) */
static inline float softplus_parts(float x, float *m) {
    *m = -x < 0.0f ? 0.0f : -x;
    return cm_log1p_pos(cm_exp(-fabsf(x))); /* branch-free (kernels/activation_math.h) */
}

/* (1 - y) x + m + lg, or (1 - y) x + (1 + (pw - 1) y)(lg + m); times the weight. Without
 * weights, a loop of its own that vectorises. */
static void bcel_forward(const cnnc__pw_args *a, float *out, int64_t begin, int64_t end) {
    if (!a->pw && !a->w) {
        for (int64_t i = begin; i < end; i++) {
            float x = a->x[i], y = a->y[i], m, lg = softplus_parts(x, &m);
            out[i - begin] = (1.0f - y) * x + m + lg;
        }
        return;
    }
    for (int64_t i = begin; i < end; i++) {
        float x = a->x[i], y = a->y[i], m, lg = softplus_parts(x, &m), l;
        if (a->pw)
            l = (1.0f - y) * x + ((a->pw[i] - 1.0f) * y + 1.0f) * (lg + m);
        else
            l = (1.0f - y) * x + m + lg;
        out[i - begin] = a->w ? l * a->w[i] : l;
    }
}

/* log(sigmoid(x)) as PyTorch's kernel: min(x, 0) - log1p(e^-|x|) */
static inline float log_sigmoid(float x) {
    float z = cm_log1p_pos(cm_exp(-fabsf(x)));
    return x < 0.0f ? x - z : -z;
}

/* input: (sigmoid(x) - y) g, or ((pw y + 1 - y) sigmoid(x) - pw y) g; target: -x g,
 * or (log_sigmoid(-x) - pw log_sigmoid(x)) g; each times the weight, then / n */
static void bcel_backward(const cnnc__pw_args *a, float *gx, float *gy, const float *g, float g0,
                          int64_t begin, int64_t end) {
    const float norm = (float)a->scale;
    if (gx && !gy && !a->pw && !a->w && !g) { /* the usual case, a loop that vectorises */
        for (int64_t i = begin; i < end; i++) {
            const float sig = 1.0f / (1.0f + cm_exp(-a->x[i]));
            gx[i] = (sig - a->y[i]) * g0 * norm; /* the general loop's v gi w norm, w = 1 */
        }
        return;
    }
    for (int64_t i = begin; i < end; i++) {
        float x = a->x[i], y = a->y[i], gi = g ? g[i] : g0, w = a->w ? a->w[i] : 1.0f;
        if (gx) {
            float sig = 1.0f / (1.0f + cm_exp(-x)), v;
            if (a->pw) {
                float t = a->pw[i] * y;
                v = ((t + 1.0f) - y) * sig - t;
            } else {
                v = sig - y;
            }
            gx[i] = v * gi * w * norm;
        }
        if (gy) {
            float v = a->pw ? log_sigmoid(-x) - log_sigmoid(x) * a->pw[i] : -x;
            gy[i] = v * gi * w * norm;
        }
    }
}

static const cnnc__pw_kind BCE_LOGITS = {
    {"BinaryCrossEntropyWithLogitsBackward0", "BinaryCrossEntropyWithLogitsBackward0",
     "BinaryCrossEntropyWithLogitsBackward0", NULL},
    bcel_forward, bcel_backward};

cnnc_tensor *cnnc__op_binary_cross_entropy_with_logits(
    cnnc_tensor *input, cnnc_tensor *target, cnnc_binary_cross_entropy_with_logits_options o) {
    const char *fn = "binary_cross_entropy_with_logits";
    cnnc__reduction r;
    if (check_pair(fn, input, target, o.reduction, true, &r) != CNNC_OK ||
        cnnc__loss_no_grad(fn, "weight", o.weight) != CNNC_OK ||
        cnnc__loss_no_grad(fn, "pos_weight", o.pos_weight) != CNNC_OK)
        return NULL;
    if (target->dtype != CNNC_FLOAT32)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "result type Float can't be cast to the desired output type Long");
    if (check_weight(fn, "pos_weight", input, o.pos_weight, true) != CNNC_OK ||
        check_weight(fn, "weight", input, o.weight, false) != CNNC_OK)
        return NULL;
    cnnc_tensor *w = o.weight ? cnnc__loss_expand(o.weight, input->ndim, input->shape) : NULL;
    cnnc_tensor *pw = o.pos_weight ? cnnc__loss_expand(o.pos_weight, input->ndim, input->shape) : NULL;
    cnnc_tensor *out = NULL;
    if ((w || !o.weight) && (pw || !o.pos_weight))
        out = cnnc__pw_loss(&BCE_LOGITS, &(cnnc__pw_call){.input = input, .target = target,
                                                          .x = input, .y = target, .w = w,
                                                          .pw = pw, .reduction = r});
    cnnc_tensor_release(w);
    cnnc_tensor_release(pw);
    return out;
}

/* ---- public wrappers ------------------------------------------------------------------ */

cnnc_tensor *cnnc_binary_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                       cnnc_binary_cross_entropy_options o) {
    return cnnc__give(cnnc__op_binary_cross_entropy(input, target, o));
}
cnnc_tensor *cnnc_binary_cross_entropy_with_logits(
    cnnc_tensor *input, cnnc_tensor *target, cnnc_binary_cross_entropy_with_logits_options o) {
    return cnnc__give(cnnc__op_binary_cross_entropy_with_logits(input, target, o));
}
