/* The loss family's shared parts (reduction, argument rules, the pointwise engine)
 * and the pointwise losses on two broadcast operands: mse_loss, l1_loss,
 * smooth_l1_loss, huber_loss and kl_div. Each loss is a forward and a backward
 * kernel over element ranges (kernels/loss.h: PyTorch 1.13's CPU formulas, operation
 * by operation, per ISA level); the engine runs them over threads, reduces in fixed
 * blocks and records the autograd node. */
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "ops/loss.h"

/* ---- arguments ------------------------------------------------------------------------ */

cnnc_status cnnc__loss_reduction(const char *s, bool allow_batchmean, cnnc__reduction *out) {
    static const struct {
        const char *name;
        cnnc__reduction r;
    } names[] = {{"none", CNNC__RED_NONE},
                 {"mean", CNNC__RED_MEAN},
                 {"elementwise_mean", CNNC__RED_MEAN}, /* PyTorch's deprecated spelling */
                 {"sum", CNNC__RED_SUM},
                 {"batchmean", CNNC__RED_BATCHMEAN}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0 && (allow_batchmean || names[i].r != CNNC__RED_BATCHMEAN)) {
            *out = names[i].r;
            return CNNC_OK;
        }
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s is not a valid value for reduction",
                       s ? s : "None");
}

cnnc_status cnnc__loss_no_grad(const char *fn, const char *arg, const cnnc_tensor *t) {
    if (!t || !t->requires_grad || !cnnc_is_grad_enabled()) return CNNC_OK;
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "The function '%s' is not differentiable with respect to argument '%s'. "
                       "This input cannot have requires_grad True.",
                       fn, arg);
}

cnnc_status cnnc__loss_fits(const cnnc_tensor *a, const cnnc_tensor *b, bool swap) {
    int n;
    int64_t shape[CNNC_MAX_DIMS];
    cnnc_status st = swap ? cnnc__broadcast_shape(b->ndim, b->shape, a->ndim, a->shape, &n, shape)
                          : cnnc__broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &n, shape);
    if (st != CNNC_OK) return st;
    if (n == a->ndim && memcmp(shape, a->shape, (size_t)n * sizeof(int64_t)) == 0) return CNNC_OK;
    char sa[300], sb[300];
    cnnc__shape_str(sa, sizeof sa, a->ndim, a->shape);
    cnnc__shape_str(sb, sizeof sb, n, shape);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "output with shape %s doesn't match the broadcast shape %s", sa, sb);
}

cnnc_tensor *cnnc__loss_expand(cnnc_tensor *b, int ndim, const int64_t *shape) {
    if (b->ndim == ndim && memcmp(b->shape, shape, (size_t)ndim * sizeof(int64_t)) == 0)
        return cnnc_tensor_retain(b);
    return cnnc__expand(b, ndim, shape);
}

/* t as float32: t retained, or an int64 t converted (PyTorch's type promotion). */
static cnnc_tensor *as_float(cnnc_tensor *t) {
    if (t->dtype == CNNC_FLOAT32) return cnnc_tensor_retain(t);
    cnnc_tensor *f = cnnc__tensor_new(CNNC_FLOAT32, t->ndim, t->shape);
    if (!f) return NULL;
    const int64_t *src = cnnc__i64(t);
    float *dst = cnnc__f32(f);
    for (int64_t i = 0; i < t->numel; i++) dst[i] = (float)src[i];
    return f;
}

/* ---- the pointwise engine ------------------------------------------------------------- */

/* Reductions sum fixed blocks of PW_BLOCK elements into one partial each, added in
 * order afterwards: the result does not depend on the thread count. */
enum { PW_BLOCK = 2048 };
/* the cost of one element for the parallel driver (a vector exp or log, 12 bytes) */
static const cnnc__cost PW_COST = {.flops = 20.0, .bytes = 12.0};
static const cnnc__cost PW_BLOCK_COST = {.flops = 20.0 * PW_BLOCK, .bytes = 8.0 * PW_BLOCK};

typedef struct {
    const cnnc__pw_kind *k;
    cnnc__isa isa; /* the kernels' level for the whole call */
    cnnc__pwl_args a;
    int64_t n;
    float *out;   /* forward "none": the result */
    double *part; /* forward reductions: [blocks] */
    float *gx, *gy;
    const float *g;
    float g0;
} pw_job;

static cnnc_status pw_none_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const pw_job *j = ctx;
    cnnc__k_pwl_forward(j->isa, j->k->op, &j->a, j->out + begin, begin, end);
    return CNNC_OK;
}

static cnnc_status pw_block_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const pw_job *j = ctx;
    float buf[PW_BLOCK];
    for (int64_t b = begin; b < end; b++) {
        int64_t lo = b * PW_BLOCK, hi = lo + PW_BLOCK < j->n ? lo + PW_BLOCK : j->n;
        cnnc__k_pwl_forward(j->isa, j->k->op, &j->a, buf, lo, hi);
        j->part[b] = cnnc__k_sum(buf, hi - lo);
    }
    return CNNC_OK;
}

static cnnc_status pw_backward_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const pw_job *j = ctx;
    cnnc__k_pwl_backward(j->isa, j->k->op, &j->a, j->gx, j->gy, j->g, j->g0, begin, end);
    return CNNC_OK;
}

typedef struct {
    const cnnc__pw_kind *k;
    float a;
    bool flag;
    cnnc__reduction reduction;
    double scale;
    int ndim[2];
    int64_t shape[2][CNNC_MAX_DIMS]; /* input's and target's, for the gradients */
} pw_ctx;

static cnnc__pwl_args pw_args(cnnc_tensor *const *s, float a, bool flag, double scale) {
    return (cnnc__pwl_args){cnnc__f32(s[0]), cnnc__f32(s[1]), s[2] ? cnnc__f32(s[2]) : NULL,
                           s[3] ? cnnc__f32(s[3]) : NULL, a, flag, scale};
}

static cnnc_status pw_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    const pw_ctx *c = n->ctx;
    cnnc_tensor *x = n->saved[0], *full[2] = {NULL, NULL};
    cnnc_status st = CNNC_OK;
    for (int i = 0; i < 2 && st == CNNC_OK; i++)
        if (cnnc__node_needs_grad(n, i) &&
            !(full[i] = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape)))
            st = cnnc_last_status();
    if (st == CNNC_OK) {
        bool none = c->reduction == CNNC__RED_NONE;
        pw_job j = {.k = c->k, .isa = cnnc__isa_active(),
                    .a = pw_args(n->saved, c->a, c->flag, c->scale), .n = x->numel,
                    .gx = full[0] ? cnnc__f32(full[0]) : NULL,
                    .gy = full[1] ? cnnc__f32(full[1]) : NULL,
                    .g = none ? cnnc__f32(g) : NULL, .g0 = none ? 0.0f : cnnc__f32(g)[0]};
        st = cnnc__parallel_for(x->numel, PW_COST, pw_backward_range, &j);
    }
    for (int i = 0; i < 2; i++) {
        if (st == CNNC_OK && full[i] &&
            !(gi[i] = cnnc__sum_to(full[i], c->ndim[i], c->shape[i])))
            st = cnnc_last_status();
        cnnc_tensor_release(full[i]);
    }
    return st;
}

/* The reduction of the block partials: the sum, divided by div. */
static cnnc_tensor *pw_reduce(pw_job *j, double div) {
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, 0, NULL);
    if (!out) return NULL;
    int64_t blocks = (j->n + PW_BLOCK - 1) / PW_BLOCK;
    double total = 0.0;
    if (blocks > 0) {
        j->part = cnnc__workspace((size_t)blocks * sizeof(double));
        if (!j->part) {
            cnnc_tensor_release(out);
            return NULL;
        }
        if (cnnc__parallel_for(blocks, PW_BLOCK_COST, pw_block_range, j) != CNNC_OK) {
            cnnc_tensor_release(out);
            return NULL;
        }
        for (int64_t b = 0; b < blocks; b++) total += j->part[b];
    }
    cnnc__f32(out)[0] = (float)(total / div); /* 0 / 0: the NaN mean of nothing */
    return out;
}

cnnc_tensor *cnnc__pw_loss(const cnnc__pw_kind *k, const cnnc__pw_call *call) {
    const cnnc_tensor *x = call->x;
    double div = call->reduction == CNNC__RED_MEAN        ? (double)x->numel
                 : call->reduction == CNNC__RED_BATCHMEAN ? (double)call->batch
                                                          : 1.0;
    cnnc_tensor *saved[4] = {call->x, call->y, call->w, call->pw};
    pw_job j = {.k = k, .isa = cnnc__isa_active(),
                .a = pw_args(saved, call->a, call->flag, 1.0 / div), .n = x->numel};
    cnnc_tensor *out;
    if (call->reduction == CNNC__RED_NONE) {
        out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
        if (!out) return NULL;
        j.out = cnnc__f32(out);
        if (cnnc__parallel_for(j.n, PW_COST, pw_none_range, &j) != CNNC_OK) {
            cnnc_tensor_release(out);
            return NULL;
        }
    } else if (!(out = pw_reduce(&j, div))) {
        return NULL;
    }
    pw_ctx *c = NULL;
    cnnc_tensor *in[2] = {call->input, call->target};
    if (cnnc__record(out, k->nodes[call->reduction], pw_backward, 2, in, 4, saved, sizeof *c,
                     (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) {
        *c = (pw_ctx){k, call->a, call->flag, call->reduction, 1.0 / div,
                      {call->input->ndim, call->target->ndim}, {{0}}};
        memcpy(c->shape[0], call->input->shape, sizeof call->input->shape);
        memcpy(c->shape[1], call->target->shape, sizeof call->target->shape);
    }
    return out;
}

/* ---- the regression losses ----------------------------------------------------------- */

/* the formulas: kernels/loss_pw_impl.h */
static const cnnc__pw_kind MSE = {
    {"MseLossBackward0", "MseLossBackward0", "MseLossBackward0", NULL}, CNNC__PWL_MSE};
static const cnnc__pw_kind L1 = {
    {"AbsBackward0", "MeanBackward0", "SumBackward0", NULL}, CNNC__PWL_L1};
static const cnnc__pw_kind SMOOTH_L1 = {
    {"SmoothL1LossBackward0", "SmoothL1LossBackward0", "SmoothL1LossBackward0", NULL},
    CNNC__PWL_SMOOTH_L1};
static const cnnc__pw_kind HUBER = {
    {"HuberLossBackward0", "HuberLossBackward0", "HuberLossBackward0", NULL}, CNNC__PWL_HUBER};

/* input and target broadcast to one shape (F.mse_loss's broadcast_tensors), then
 * the reduction and the loss's own parameter check (bad_param: its message, or
 * NULL), as PyTorch orders them. */
static cnnc_tensor *regression(const char *fn, const cnnc__pw_kind *k, cnnc_tensor *input,
                               cnnc_tensor *target, const char *reduction, float a,
                               const char *bad_param) {
    if (cnnc__check_tensor(fn, "input", input, true) != CNNC_OK ||
        cnnc__check_tensor(fn, "target", target, false) != CNNC_OK)
        return NULL;
    int nd;
    int64_t shape[CNNC_MAX_DIMS];
    cnnc__reduction r;
    if (cnnc__broadcast_shape(input->ndim, input->shape, target->ndim, target->shape, &nd, shape) !=
            CNNC_OK ||
        cnnc__loss_reduction(reduction, false, &r) != CNNC_OK)
        return NULL;
    if (bad_param) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s", bad_param);
    cnnc_tensor *yf = as_float(target);
    cnnc_tensor *x = cnnc__loss_expand(input, nd, shape);
    cnnc_tensor *y = yf ? cnnc__loss_expand(yf, nd, shape) : NULL;
    cnnc_tensor *out = NULL;
    if (x && y)
        out = cnnc__pw_loss(k, &(cnnc__pw_call){.input = input, .target = target, .x = x, .y = y,
                                                .a = a, .reduction = r});
    cnnc_tensor_release(yf);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    return out;
}

cnnc_tensor *cnnc__op_mse_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_mse_loss_options o) {
    return regression("mse_loss", &MSE, input, target, o.reduction, 0.0f, NULL);
}
cnnc_tensor *cnnc__op_l1_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_l1_loss_options o) {
    return regression("l1_loss", &L1, input, target, o.reduction, 0.0f, NULL);
}
cnnc_tensor *cnnc__op_smooth_l1_loss(cnnc_tensor *input, cnnc_tensor *target,
                                     cnnc_smooth_l1_loss_options o) {
    return regression("smooth_l1_loss", &SMOOTH_L1, input, target, o.reduction, (float)o.beta,
                      o.beta < 0 ? "smooth_l1_loss does not support negative values for beta."
                                 : NULL);
}
cnnc_tensor *cnnc__op_huber_loss(cnnc_tensor *input, cnnc_tensor *target,
                                 cnnc_huber_loss_options o) {
    return regression("huber_loss", &HUBER, input, target, o.reduction, (float)o.delta,
                      o.delta > 0 ? NULL
                                  : "huber_loss does not support non-positive values for delta.");
}

/* ---- kl_div --------------------------------------------------------------------------- */

static const cnnc__pw_kind KL = {{"SubBackward0", "MeanBackward0", "SumBackward0", "DivBackward0"},
                                 CNNC__PWL_KL_DIV};
static const cnnc__pw_kind KL_LOG = {
    {"MulBackward0", "MeanBackward0", "SumBackward0", "DivBackward0"}, CNNC__PWL_KL_DIV};

cnnc_tensor *cnnc__op_kl_div(cnnc_tensor *input, cnnc_tensor *target, cnnc_kl_div_options o) {
    cnnc__reduction r;
    if (cnnc__check_tensor("kl_div", "input", input, false) != CNNC_OK ||
        cnnc__check_tensor("kl_div", "target", target, false) != CNNC_OK ||
        cnnc__loss_reduction(o.reduction, true, &r) != CNNC_OK)
        return NULL;
    if (input->dtype != CNNC_FLOAT32 || target->dtype != CNNC_FLOAT32)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "kl_div: Integral inputs not supported.");
    int nd;
    int64_t shape[CNNC_MAX_DIMS]; /* PyTorch's first broadcast is target * input */
    if (cnnc__broadcast_shape(target->ndim, target->shape, input->ndim, input->shape, &nd, shape) !=
        CNNC_OK)
        return NULL;
    cnnc_tensor *x = cnnc__loss_expand(input, nd, shape);
    cnnc_tensor *y = x ? cnnc__loss_expand(target, nd, shape) : NULL;
    if (r == CNNC__RED_BATCHMEAN && input->ndim == 0) r = CNNC__RED_SUM; /* nothing to divide by */
    cnnc_tensor *out = NULL;
    if (y) /* batchmean divides by input.size(0) */
        out = cnnc__pw_loss(o.log_target ? &KL_LOG : &KL,
                            &(cnnc__pw_call){.input = input, .target = target, .x = x, .y = y,
                                             .flag = o.log_target, .reduction = r,
                                             .batch = input->ndim ? input->shape[0] : 1});
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    return out;
}

/* ---- public wrappers ----------------------------------------------------------------- */

cnnc_tensor *cnnc_mse_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_mse_loss_options o) {
    return cnnc__give(cnnc__op_mse_loss(input, target, o));
}
cnnc_tensor *cnnc_l1_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_l1_loss_options o) {
    return cnnc__give(cnnc__op_l1_loss(input, target, o));
}
cnnc_tensor *cnnc_smooth_l1_loss(cnnc_tensor *input, cnnc_tensor *target,
                                 cnnc_smooth_l1_loss_options o) {
    return cnnc__give(cnnc__op_smooth_l1_loss(input, target, o));
}
cnnc_tensor *cnnc_huber_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_huber_loss_options o) {
    return cnnc__give(cnnc__op_huber_loss(input, target, o));
}
cnnc_tensor *cnnc_kl_div(cnnc_tensor *input, cnnc_tensor *target, cnnc_kl_div_options o) {
    return cnnc__give(cnnc__op_kl_div(input, target, o));
}
