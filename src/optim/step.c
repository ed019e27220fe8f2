/* optimizer.step(): find the parameters with a gradient, create the state they
 * lack (all of it before anything changes), then update group by group with
 * PyTorch's scalars (update.h). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "optim/optim.h"
#include "optim/pymath.h"
#include "optim/update.h"

/* A state tensor the step creates: put into state[param].t[key] on commit. */
typedef struct pending {
    size_t param;
    int key;
    cnnc_tensor *t;
} pending;

typedef struct step_plan {
    size_t n, cap;
    pending *items;
} step_plan;

static void plan_free(step_plan *pl) {
    for (size_t i = 0; i < pl->n; i++) cnnc_tensor_release(pl->items[i].t);
    cnnc__free(pl->items);
    *pl = (step_plan){0};
}

static bool planned(const step_plan *pl, size_t param, int key) {
    for (size_t i = pl->n; i-- > 0;)
        if (pl->items[i].param == param && pl->items[i].key == key) return true;
    return false;
}

/* Plans a new state tensor: zeros like p (0-d step with the kind's dtype when
 * scalar), uninitialised with zero = false. */
static cnnc_status plan_add(step_plan *pl, size_t param, int key, const cnnc_tensor *p, bool scalar,
                            cnnc_dtype dtype, bool zero) {
    if (!cnnc__grow((void **)&pl->items, &pl->cap, pl->n + 1, sizeof *pl->items))
        return cnnc__oom("optimizer state");
    cnnc_tensor *t = scalar ? cnnc__tensor_zeros(dtype, 0, NULL)
                     : zero ? cnnc__tensor_zeros(p->dtype, p->ndim, p->shape)
                            : cnnc__tensor_new(p->dtype, p->ndim, p->shape);
    if (!t) return cnnc__oom("optimizer state");
    pl->items[pl->n++] = (pending){param, key, t};
    return CNNC_OK;
}

static bool has_tensor(const cnnc__pstate *s, int key) { return s->has[key] && s->t[key]; }

/* PyTorch's KeyError when the step reads a state key that is not there. */
static cnnc_status require(const cnnc_optimizer *opt, const cnnc__pstate *s, const step_plan *pl,
                           size_t param, int key) {
    if (has_tensor(s, key) || planned(pl, param, key)) return CNNC_OK;
    if (s->has[key])
        return cnnc__error(CNNC_ERR_RUNTIME, "%s.step(): state['%s'] of parameter %zu is None",
                           opt->desc->name, opt->desc->state_keys[key], param);
    return cnnc__error(CNNC_ERR_RUNTIME, "KeyError: '%s' (%s.step(), parameter %zu)",
                       opt->desc->state_keys[key], opt->desc->name, param);
}

static bool state_empty(const cnnc__pstate *s) {
    for (int k = 0; k < CNNC__MAX_STATE; k++)
        if (s->has[k]) return false;
    return true;
}

/* The state one parameter needs for this step (lazily initialised as PyTorch). */
static cnnc_status plan_param(const cnnc_optimizer *opt, const cnnc__group *g, size_t idx,
                              const cnnc_tensor *p, step_plan *pl) {
    const cnnc__pstate *s = &opt->state[idx];
    const cnnc__opt_desc *d = opt->desc;
    cnnc_status st = CNNC_OK;
    switch (opt->kind) {
    case CNNC__OPT_SGD:
        if (cnnc__hp_f(g, SGD_MOMENTUM) != 0 && !has_tensor(s, SGD_S_MOMENTUM_BUFFER))
            st = plan_add(pl, idx, SGD_S_MOMENTUM_BUFFER, p, false, p->dtype, false);
        return st;
    case CNNC__OPT_ADAM:
    case CNNC__OPT_ADAMW: {
        bool amsgrad = cnnc__hp_b(g, ADAM_AMSGRAD);
        if (state_empty(s)) {
            st = plan_add(pl, idx, ADAM_S_STEP, p, true, d->step_dtype, true);
            if (st == CNNC_OK) st = plan_add(pl, idx, ADAM_S_EXP_AVG, p, false, 0, true);
            if (st == CNNC_OK) st = plan_add(pl, idx, ADAM_S_EXP_AVG_SQ, p, false, 0, true);
            if (st == CNNC_OK && amsgrad)
                st = plan_add(pl, idx, ADAM_S_MAX_EXP_AVG_SQ, p, false, 0, true);
            if (st != CNNC_OK) return st;
        }
        for (int k = ADAM_S_STEP; k <= (amsgrad ? ADAM_S_MAX_EXP_AVG_SQ : ADAM_S_EXP_AVG_SQ) &&
                                  st == CNNC_OK; k++)
            st = require(opt, s, pl, idx, k);
        return st;
    }
    case CNNC__OPT_RMSPROP: {
        bool mom = cnnc__hp_f(g, RMS_MOMENTUM) > 0, centered = cnnc__hp_b(g, RMS_CENTERED);
        if (state_empty(s)) {
            st = plan_add(pl, idx, RMS_S_STEP, p, true, d->step_dtype, true);
            if (st == CNNC_OK) st = plan_add(pl, idx, RMS_S_SQUARE_AVG, p, false, 0, true);
            if (st == CNNC_OK && mom) st = plan_add(pl, idx, RMS_S_MOMENTUM_BUFFER, p, false, 0, true);
            if (st == CNNC_OK && centered) st = plan_add(pl, idx, RMS_S_GRAD_AVG, p, false, 0, true);
            if (st != CNNC_OK) return st;
        }
        st = require(opt, s, pl, idx, RMS_S_STEP);
        if (st == CNNC_OK) st = require(opt, s, pl, idx, RMS_S_SQUARE_AVG);
        if (st == CNNC_OK && mom) st = require(opt, s, pl, idx, RMS_S_MOMENTUM_BUFFER);
        if (st == CNNC_OK && centered) st = require(opt, s, pl, idx, RMS_S_GRAD_AVG);
        return st;
    }
    case CNNC__OPT_ADAGRAD:
        st = require(opt, s, pl, idx, ADAGRAD_S_SUM);
        return st == CNNC_OK ? require(opt, s, pl, idx, ADAGRAD_S_STEP) : st;
    default: return cnnc__error(CNNC_ERR_RUNTIME, "optimizer: unknown kind");
    }
}

/* A parameter takes part in a step when it has a gradient (PyTorch skips the others). */
static bool takes_part(const cnnc_tensor *p) { return p->grad != NULL; }

static cnnc_status check_param(const cnnc_optimizer *opt, size_t idx, const cnnc_tensor *p) {
    if (p->dtype != CNNC_FLOAT32 || p->grad->dtype != CNNC_FLOAT32)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.step(): parameter %zu is %s; cnnc optimizes float32 parameters",
                           opt->desc->name, idx, cnnc_dtype_name(p->dtype));
    return CNNC_OK;
}

/* ---- per-kind scalars (PyTorch's Python arithmetic, in double) ----------------------- */

static double step_value(const cnnc_tensor *t) {
    return t->dtype == CNNC_FLOAT32 ? (double)cnnc__f32(t)[0] : (double)cnnc__i64(t)[0];
}

/* Adam's per-parameter scalars at step `step` (the already incremented count). */
static cnnc_status adam_args(const cnnc_optimizer *opt, const cnnc__group *g, double step,
                             cnnc__adam_args *a) {
    bool w = opt->kind == CNNC__OPT_ADAMW;
    double lr = cnnc__hp_f(g, ADAM_LR), wd = cnnc__hp_f(g, ADAM_WEIGHT_DECAY);
    double beta1 = g->hp[ADAM_BETAS].value.fs[0], beta2 = g->hp[ADAM_BETAS].value.fs[1];
    double p1 = 0.0, p2 = 0.0, step_size = 0.0, bc2;
    cnnc_status st = cnnc__py_pow(beta1, step, &p1);
    if (st == CNNC_OK) st = cnnc__py_pow(beta2, step, &p2);
    if (st == CNNC_OK) st = cnnc__py_div(lr, 1 - p1, &step_size);
    bc2 = 1 - p2;
    if (st == CNNC_OK && bc2 < 0) st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "math domain error");
    if (st != CNNC_OK) return st;
    *a = (cnnc__adam_args){
        .maximize = cnnc__hp_b(g, w ? ADAMW_MAXIMIZE : ADAM_MAXIMIZE),
        .has_wd = !w && wd != 0,
        .amsgrad = cnnc__hp_b(g, ADAM_AMSGRAD),
        .decoupled = w,
        .wd = (float)wd,
        .decay = (float)(1 - lr * wd),
        .beta1 = (float)beta1,
        .one_minus_beta1 = (float)(1 - beta1),
        .beta2 = (float)beta2,
        .one_minus_beta2 = (float)(1 - beta2),
        .bias_correction2_sqrt = (float)sqrt(bc2),
        .eps = (float)cnnc__hp_f(g, ADAM_EPS),
        .neg_step_size = (float)-step_size,
    };
    return CNNC_OK;
}

static cnnc_status adagrad_clr(const cnnc__group *g, double step, double *clr) {
    return cnnc__py_div(cnnc__hp_f(g, ADAGRAD_LR),
                        1 + (step - 1) * cnnc__hp_f(g, ADAGRAD_LR_DECAY), clr);
}

/* The step count after this step, as PyTorch's `step_t += 1` computes it. */
static double next_step(const cnnc_tensor *t) {
    if (t->dtype == CNNC_FLOAT32) return (double)(cnnc__f32(t)[0] + 1.0f);
    return (double)(cnnc__i64(t)[0] + 1);
}

/* Checks the scalar arithmetic a parameter's update will do (Python's errors). */
static cnnc_status check_scalars(const cnnc_optimizer *opt, const cnnc__group *g,
                                 const cnnc__pstate *s) {
    if (opt->kind != CNNC__OPT_ADAM && opt->kind != CNNC__OPT_ADAMW &&
        opt->kind != CNNC__OPT_ADAGRAD)
        return CNNC_OK;
    double step = s->t[0] ? next_step(s->t[0]) : 1.0; /* a state created now starts at 0 */
    if (opt->kind == CNNC__OPT_ADAGRAD) {
        double clr;
        return adagrad_clr(g, step, &clr);
    }
    cnnc__adam_args a;
    return adam_args(opt, g, step, &a);
}

/* ---- the update of one parameter ------------------------------------------------------------- */

static float *data_or_null(cnnc_tensor *t) { return t ? cnnc__f32(t) : NULL; }

/* One kernel call over [begin, end) of a parameter: elementwise, so the chunks
 * of a parallel_for give the same bits for any thread count. */
typedef struct update_job {
    cnnc__opt_kind kind;
    const void *args;
    float *p;
    const float *g;
    float *s[3]; /* the state arrays the kernel takes, in its order (NULL when unused) */
} update_job;

static float *off(float *x, int64_t b) { return x ? x + b : NULL; }

static cnnc_status update_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    const update_job *j = ctx;
    float *p = j->p + b, *s0 = off(j->s[0], b), *s1 = off(j->s[1], b), *s2 = off(j->s[2], b);
    const float *g = j->g + b;
    switch (j->kind) {
    case CNNC__OPT_SGD: cnnc__k_sgd(j->args, p, g, s0, e - b); break;
    case CNNC__OPT_ADAM:
    case CNNC__OPT_ADAMW: cnnc__k_adam(j->args, p, g, s0, s1, s2, e - b); break;
    case CNNC__OPT_RMSPROP: cnnc__k_rmsprop(j->args, p, g, s0, s1, s2, e - b); break;
    default: cnnc__k_adagrad(j->args, p, g, s0, e - b); break;
    }
    return CNNC_OK;
}

/* An element for the parallel regions: a dozen flops; the parameter, its gradient
 * and up to three state values read, and most of them written (memory-bound). */
static const cnnc__cost UPDATE_ELEM = {.flops = 12.0, .bytes = 40.0};

static void run_update(cnnc__opt_kind kind, const void *args, cnnc_tensor *p, float *s0, float *s1,
                       float *s2) {
    update_job j = {kind, args, cnnc__f32(p), cnnc__f32(p->grad), {s0, s1, s2}};
    (void)cnnc__parallel_for(p->numel, UPDATE_ELEM, update_range, &j); /* cannot fail */
}

static void update_param(cnnc_optimizer *opt, const cnnc__group *g, size_t idx, cnnc_tensor *p,
                         bool buf_created) {
    cnnc__pstate *s = &opt->state[idx];
    switch (opt->kind) {
    case CNNC__OPT_SGD: {
        double lr = cnnc__hp_f(g, SGD_LR), m = cnnc__hp_f(g, SGD_MOMENTUM);
        double wd = cnnc__hp_f(g, SGD_WEIGHT_DECAY), damp = cnnc__hp_f(g, SGD_DAMPENING);
        cnnc__sgd_args a = {.maximize = cnnc__hp_b(g, SGD_MAXIMIZE), .has_wd = wd != 0,
                            .has_momentum = m != 0, .nesterov = cnnc__hp_b(g, SGD_NESTEROV),
                            .init_buf = buf_created, .wd = (float)wd, .momentum = (float)m,
                            .one_minus_dampening = (float)(1 - damp), .neg_lr = (float)-lr};
        s->has[SGD_S_MOMENTUM_BUFFER] = true; /* state['momentum_buffer'] = buf (None w/o momentum) */
        run_update(opt->kind, &a, p, data_or_null(s->t[SGD_S_MOMENTUM_BUFFER]), NULL, NULL);
        if (a.has_momentum) cnnc__bump_version(s->t[SGD_S_MOMENTUM_BUFFER]);
        break;
    }
    case CNNC__OPT_ADAM:
    case CNNC__OPT_ADAMW: {
        cnnc_tensor *st = s->t[ADAM_S_STEP];
        cnnc__f32(st)[0] += 1.0f;
        cnnc__bump_version(st);
        cnnc__adam_args a;
        adam_args(opt, g, step_value(st), &a); /* checked before anything changed */
        run_update(opt->kind, &a, p, cnnc__f32(s->t[ADAM_S_EXP_AVG]),
                   cnnc__f32(s->t[ADAM_S_EXP_AVG_SQ]),
                   a.amsgrad ? cnnc__f32(s->t[ADAM_S_MAX_EXP_AVG_SQ]) : NULL);
        for (int k = ADAM_S_EXP_AVG; k <= (a.amsgrad ? ADAM_S_MAX_EXP_AVG_SQ : ADAM_S_EXP_AVG_SQ); k++)
            cnnc__bump_version(s->t[k]);
        break;
    }
    case CNNC__OPT_RMSPROP: {
        cnnc__i64(s->t[RMS_S_STEP])[0] += 1; /* a Python int in PyTorch: no version */
        double m = cnnc__hp_f(g, RMS_MOMENTUM), wd = cnnc__hp_f(g, RMS_WEIGHT_DECAY);
        double alpha = cnnc__hp_f(g, RMS_ALPHA);
        cnnc__rmsprop_args a = {.maximize = cnnc__hp_b(g, RMS_MAXIMIZE), .has_wd = wd != 0,
                                .centered = cnnc__hp_b(g, RMS_CENTERED), .has_momentum = m > 0,
                                .wd = (float)wd, .alpha = (float)alpha,
                                .one_minus_alpha = (float)(1 - alpha),
                                .eps = (float)cnnc__hp_f(g, RMS_EPS), .momentum = (float)m,
                                .neg_lr = (float)-cnnc__hp_f(g, RMS_LR)};
        run_update(opt->kind, &a, p, cnnc__f32(s->t[RMS_S_SQUARE_AVG]),
                   a.centered ? cnnc__f32(s->t[RMS_S_GRAD_AVG]) : NULL,
                   a.has_momentum ? cnnc__f32(s->t[RMS_S_MOMENTUM_BUFFER]) : NULL);
        for (int k = RMS_S_SQUARE_AVG; k <= RMS_S_GRAD_AVG; k++)
            if (k == RMS_S_SQUARE_AVG || (k == RMS_S_MOMENTUM_BUFFER && a.has_momentum) ||
                (k == RMS_S_GRAD_AVG && a.centered))
                cnnc__bump_version(s->t[k]);
        break;
    }
    case CNNC__OPT_ADAGRAD: {
        cnnc_tensor *st = s->t[ADAGRAD_S_STEP];
        cnnc__f32(st)[0] += 1.0f;
        cnnc__bump_version(st);
        double wd = cnnc__hp_f(g, ADAGRAD_WEIGHT_DECAY), clr;
        adagrad_clr(g, step_value(st), &clr);
        cnnc__adagrad_args a = {.maximize = cnnc__hp_b(g, ADAGRAD_MAXIMIZE), .has_wd = wd != 0,
                                .wd = (float)wd, .eps = (float)cnnc__hp_f(g, ADAGRAD_EPS),
                                .neg_clr = (float)-clr};
        run_update(opt->kind, &a, p, cnnc__f32(s->t[ADAGRAD_S_SUM]), NULL, NULL);
        cnnc__bump_version(s->t[ADAGRAD_S_SUM]);
        break;
    }
    default: break;
    }
    cnnc__bump_version(p);
}

/* ---- the step ---------------------------------------------------------------------------------- */

static cnnc_status plan_all(const cnnc_optimizer *opt, step_plan *pl) {
    for (size_t gi = 0; gi < opt->n_groups; gi++) {
        const cnnc__group *g = &opt->groups[gi];
        for (size_t i = 0; i < g->n_params; i++) {
            const cnnc_tensor *p = g->params[i];
            size_t idx = g->first + i;
            if (!takes_part(p)) continue;
            cnnc_status st = check_param(opt, idx, p);
            if (st == CNNC_OK) st = plan_param(opt, g, idx, p, pl);
            if (st == CNNC_OK) st = check_scalars(opt, g, &opt->state[idx]);
            if (st != CNNC_OK) return st;
        }
    }
    return CNNC_OK;
}

cnnc_status cnnc__opt_step(cnnc_optimizer *opt) {
    step_plan pl = {0};
    cnnc_status st = plan_all(opt, &pl);
    if (st != CNNC_OK) {
        plan_free(&pl);
        return st;
    }
    /* commit the new state, then update */
    for (size_t i = 0; i < pl.n; i++) {
        cnnc__pstate *s = &opt->state[pl.items[i].param];
        cnnc_tensor_release(s->t[pl.items[i].key]);
        s->t[pl.items[i].key] = pl.items[i].t;
        s->has[pl.items[i].key] = true;
        pl.items[i].t = NULL;
    }
    for (size_t gi = 0; gi < opt->n_groups; gi++) {
        const cnnc__group *g = &opt->groups[gi];
        for (size_t i = 0; i < g->n_params; i++) {
            if (!takes_part(g->params[i])) continue;
            size_t idx = g->first + i;
            update_param(opt, g, idx, g->params[i],
                         opt->kind == CNNC__OPT_SGD && planned(&pl, idx, SGD_S_MOMENTUM_BUFFER));
        }
    }
    plan_free(&pl);
    return CNNC_OK;
}
