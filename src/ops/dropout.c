/* dropout, dropout2d, dropout3d: output = x * mask, mask = keep ? 1/(1-p) : 0,
 * drawn per element or per (n, c) channel. The mask is never stored: it is a
 * function of a 64-bit key drawn from the default generator, so the backward
 * (g * mask) recomputes it. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "kernels/activation.h"
#include "ops/activation.h"
#include "ops/ops.h"

/* An element for the parallel regions: a hash and a multiply, a float read and written. */
static const cnnc__cost DROPOUT_ELEM = {.flops = 8.0, .bytes = 8.0};

typedef struct {
    uint64_t key;
    uint32_t keep_q; /* keep with probability keep_q / 2^24 */
    float scale;
    int64_t inner;   /* elements per mask draw */
} dropout_ctx;

typedef struct {
    float *out;
    const float *x;
    const dropout_ctx *c;
} dropout_job;

static cnnc_status dropout_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    dropout_job *j = ctx;
    cnnc__k_dropout(j->out, j->x, j->c->key, j->c->keep_q, j->c->scale, j->c->inner, begin, end);
    return CNNC_OK;
}

/* the gradient is g times the same mask (PyTorch's MulBackward0 of x * noise) */
static cnnc_status dropout_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    const dropout_ctx *c = n->ctx;
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, g->ndim, g->shape);
    if (!gi[0]) return cnnc_last_status();
    dropout_job j = {cnnc__f32(gi[0]), cnnc__f32(g), c};
    return cnnc__parallel_for(g->numel, DROPOUT_ELEM, dropout_range, &j);
}

cnnc_status cnnc__check_dropout_p(double p) {
    if (p >= 0.0 && p <= 1.0) return CNNC_OK;
    char buf[64];
    cnnc__float_repr(p, buf, sizeof buf);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "dropout probability has to be between 0 and 1, but got %s", buf);
}

/* 64 random bits from the default generator (three 24-bit draws). */
static uint64_t draw_key(void) {
    float u[3];
    cnnc__rng_uniform(u, 3, 0.0, 16777216.0); /* integers in [0, 2^24) */
    return (uint64_t)u[0] | ((uint64_t)u[1] << 24) | ((uint64_t)u[2] << 48);
}

/* feature: 0 (per element), 2 (per shape[0] x shape[1]), 3 (dropout3d: per
 * [n, c] of a 5-d input, else per index of dim 0). */
static cnnc_tensor *dropout_op(const char *fn, cnnc_tensor *x, cnnc_dropout_options o, int feature) {
    if (cnnc__check_tensor(fn, "input", x, true) != CNNC_OK) return NULL;
    if (cnnc__check_dropout_p(o.p) != CNNC_OK) return NULL;
    /* PyTorch returns the input itself here (no draw, no in-place check) */
    if (o.p == 0.0 || !o.training || x->numel == 0) return cnnc_tensor_retain(x);
    dropout_ctx c = {0, 0, 0.0f, 1};
    if (feature) {
        int min_dims = (feature == 3 && x->ndim != 5) ? 1 : 2; /* dropout3d unsqueezes */
        if (x->ndim < min_dims)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Feature dropout requires at least 2 dimensions in the input");
        int64_t draws = (feature == 3 && x->ndim != 5) ? x->shape[0] : x->shape[0] * x->shape[1];
        c.inner = x->numel / draws;
    }
    if (o.inplace && cnnc__check_inplace(fn, x) != CNNC_OK) return NULL;
    if (o.p < 1.0) {
        double q = ldexp(1.0 - o.p, 24);
        c.keep_q = (uint32_t)(q >= 16777216.0 ? 16777216.0 : nearbyint(q));
        c.scale = 1.0f / (float)(1.0 - o.p);
    } /* p == 1: x * 0, as PyTorch multiplies by zeros */
    c.key = draw_key();
    cnnc_tensor *out = o.inplace ? cnnc_tensor_retain(x)
                                 : cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    if (!out) return NULL;
    dropout_job j = {cnnc__f32(out), cnnc__f32(x), &c};
    cnnc_status st = cnnc__parallel_for(x->numel, DROPOUT_ELEM, dropout_range, &j);
    dropout_ctx *ctx = NULL;
    if (st != CNNC_OK) {
        if (o.inplace) cnnc__bump_version(x);
    } else if (o.inplace) {
        cnnc__bump_version(x);
        st = cnnc__record_inplace(x, "MulBackward0", dropout_backward, 0, NULL, sizeof c,
                                  (void **)&ctx);
    } else {
        st = cnnc__record(out, "MulBackward0", dropout_backward, 1, &x, 0, NULL, sizeof c,
                          (void **)&ctx);
    }
    if (st != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (ctx) *ctx = c;
    return out;
}

cnnc_tensor *cnnc__op_dropout(cnnc_tensor *x, cnnc_dropout_options o) {
    return dropout_op(o.inplace ? "dropout_" : "dropout", x, o, 0);
}
cnnc_tensor *cnnc__op_dropout2d(cnnc_tensor *x, cnnc_dropout_options o) {
    return dropout_op(o.inplace ? "dropout2d_" : "dropout2d", x, o, 2);
}
cnnc_tensor *cnnc__op_dropout3d(cnnc_tensor *x, cnnc_dropout_options o) {
    return dropout_op(o.inplace ? "dropout3d_" : "dropout3d", x, o, 3);
}

cnnc_tensor *cnnc_dropout(cnnc_tensor *x, cnnc_dropout_options o) {
    return cnnc__give(cnnc__op_dropout(x, o));
}
cnnc_tensor *cnnc_dropout2d(cnnc_tensor *x, cnnc_dropout_options o) {
    return cnnc__give(cnnc__op_dropout2d(x, o));
}
cnnc_tensor *cnnc_dropout3d(cnnc_tensor *x, cnnc_dropout_options o) {
    return cnnc__give(cnnc__op_dropout3d(x, o));
}

/* ---- stochastic depth (torchvision.ops.stochastic_depth) ---------------------------------- */

/* x * noise, noise of shape [N, 1, ...] ("row") or [1, ...] ("batch"): each entry
 * 1 / (1 - p) with probability 1 - p, else 0 (0 everywhere when p == 1). */
cnnc_tensor *cnnc__op_stochastic_depth(cnnc_tensor *x, double p, const char *mode, bool training) {
    if (cnnc__check_tensor("stochastic_depth", "input", x, true) != CNNC_OK) return NULL;
    if (!(p >= 0.0 && p <= 1.0)) {
        char buf[64];
        cnnc__float_repr(p, buf, sizeof buf);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "drop probability has to be between 0 and 1, but got %s", buf);
    }
    const bool row = mode && strcmp(mode, "row") == 0;
    if (!row && !(mode && strcmp(mode, "batch") == 0))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "mode has to be either 'batch' or 'row', but got %s",
                                mode ? mode : "None");
    if (!training || p == 0.0) return cnnc_tensor_retain(x);
    int64_t shape[CNNC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = i == 0 && row ? x->shape[0] : 1;
    cnnc_tensor *noise = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, shape);
    if (!noise) return NULL;
    const double survival = 1.0 - p;
    float *d = cnnc__f32(noise);
    cnnc__rng_uniform(d, noise->numel, 0.0, 1.0);
    for (int64_t i = 0; i < noise->numel; i++)
        d[i] = d[i] < survival ? (float)(1.0 / survival) : 0.0f;
    cnnc_tensor *y = cnnc__op_binary(CNNC__BINOP_MUL, x, noise);
    cnnc_tensor_release(noise);
    return y;
}

cnnc_tensor *cnnc_stochastic_depth(cnnc_tensor *x, double p, const char *mode, bool training) {
    return cnnc__give(cnnc__op_stochastic_depth(x, p, mode, training));
}
