/* The epoch-based schedulers: StepLR, MultiStepLR, ExponentialLR,
 * CosineAnnealingLR, LinearLR, LambdaLR. Each get_lr is PyTorch 1.13's
 * chainable form (from the groups' current lr), each closed form its
 * _get_closed_form_lr (from base_lrs), with Python's operation order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "optim/pymath.h"
#include "optim/sched.h"

/* [lr for group in param_groups] */
static void group_lrs(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    *n = s->opt->n_groups;
    for (size_t g = 0; g < *n; g++) lrs[g] = cnnc__sched_group_lr(s, g);
}

/* [lr * factor for group in param_groups] */
static void group_lrs_times(cnnc_lr_scheduler *s, double factor, double *lrs, size_t *n) {
    *n = s->opt->n_groups;
    for (size_t g = 0; g < *n; g++) lrs[g] = cnnc__sched_group_lr(s, g) * factor;
}

/* [base_lr * factor for base_lr in base_lrs] */
static void base_lrs_times(cnnc_lr_scheduler *s, double factor, double *lrs, size_t *n) {
    *n = s->n_base < s->opt->n_groups ? s->n_base : s->opt->n_groups;
    for (size_t g = 0; g < *n; g++) lrs[g] = s->base_lrs[g] * factor;
}

/* ---- StepLR -------------------------------------------------------------------------------- */

static cnnc_status steplr_get_lr(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    int64_t r = 0;
    if (s->last_epoch != 0) {
        cnnc_status st = cnnc__py_mod(s->last_epoch, s->u.step.step_size, &r);
        if (st != CNNC_OK) return st;
    }
    if (s->last_epoch == 0 || r != 0) group_lrs(s, lrs, n);
    else group_lrs_times(s, s->u.step.gamma, lrs, n);
    return CNNC_OK;
}

static cnnc_status steplr_closed(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    int64_t k;
    double f;
    cnnc_status st = cnnc__py_floordiv(s->last_epoch, s->u.step.step_size, &k);
    if (st == CNNC_OK) st = cnnc__py_pow(s->u.step.gamma, (double)k, &f);
    if (st == CNNC_OK) base_lrs_times(s, f, lrs, n);
    return st;
}

static const cnnc__sched_field steplr_fields[] = {
    CNNC__FIELD("step_size", CNNC__F_INT, u.step.step_size),
    CNNC__FIELD("gamma", CNNC__F_DOUBLE, u.step.gamma), {NULL, 0, 0}};
const cnnc__sched_desc cnnc__steplr_desc = {"StepLR", CNNC__SCHED_STEP, steplr_get_lr,
                                            steplr_closed, steplr_fields, NULL, NULL, NULL,
                                            NULL, NULL};

cnnc_lr_scheduler *cnnc_steplr_new(cnnc_optimizer *optimizer, int64_t step_size,
                                   cnnc_steplr_options options) {
    cnnc_lr_scheduler *s = cnnc__sched_alloc("steplr_new", optimizer, &cnnc__steplr_desc);
    if (!s) return NULL;
    s->u.step.step_size = step_size;
    s->u.step.gamma = options.gamma;
    return cnnc__sched_init(s, options.last_epoch, options.verbose);
}

/* ---- MultiStepLR ------------------------------------------------------------------------------ */

static cnnc_status multistep_get_lr(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    for (size_t i = 0; i < s->u.multistep.n; i++) {
        if (s->u.multistep.keys[i] != s->last_epoch) continue;
        double f;
        cnnc_status st = cnnc__py_pow(s->u.multistep.gamma, (double)s->u.multistep.counts[i], &f);
        if (st == CNNC_OK) group_lrs_times(s, f, lrs, n);
        return st;
    }
    group_lrs(s, lrs, n);
    return CNNC_OK;
}

static cnnc_status multistep_closed(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    /* bisect_right(sorted(milestones.elements()), last_epoch): how many are <= it */
    int64_t k = 0;
    for (size_t i = 0; i < s->u.multistep.n; i++)
        if (s->u.multistep.keys[i] <= s->last_epoch && s->u.multistep.counts[i] > 0)
            k += s->u.multistep.counts[i];
    double f;
    cnnc_status st = cnnc__py_pow(s->u.multistep.gamma, (double)k, &f);
    if (st == CNNC_OK) base_lrs_times(s, f, lrs, n);
    return st;
}

static cnnc_status multistep_save(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *p) {
    cnnc__strbuf sb = {0};
    cnnc__strbuf_printf(&sb, "{");
    for (size_t i = 0; i < s->u.multistep.n; i++)
        cnnc__strbuf_printf(&sb, "%s%lld: %lld", i ? ", " : "", (long long)s->u.multistep.keys[i],
                            (long long)s->u.multistep.counts[i]);
    cnnc__strbuf_printf(&sb, "}");
    char key[256];
    snprintf(key, sizeof key, "%smilestones", p);
    return cnnc__lit_set_meta(l, key, &sb);
}

static void multistep_free(cnnc_lr_scheduler *s) {
    cnnc__free(s->u.multistep.keys);
    cnnc__free(s->u.multistep.counts);
    s->u.multistep.keys = s->u.multistep.counts = NULL;
    s->u.multistep.n = 0;
}

static cnnc_status multistep_load(cnnc_lr_scheduler *s, const cnnc__meta *m) {
    const char *t = cnnc__meta_get(m, "milestones");
    int64_t *keys, *counts;
    size_t n;
    if (!t)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): the state_dict has no "
                           "'%smilestones'", m->prefix);
    cnnc_status st = cnnc__lit_parse_int_dict(t, &keys, &counts, &n);
    if (st == CNNC_ERR_INVALID_ARGUMENT)
        return cnnc__error(st, "load_state_dict(): '%smilestones' must be a {milestone: count} "
                           "dict, got '%s'", m->prefix, t);
    if (st != CNNC_OK) return st;
    multistep_free(s);
    s->u.multistep.keys = keys;
    s->u.multistep.counts = counts;
    s->u.multistep.n = n;
    return CNNC_OK;
}

static cnnc_status multistep_dup(cnnc_lr_scheduler *d, const cnnc_lr_scheduler *s) {
    size_t n = s->u.multistep.n ? s->u.multistep.n : 1;
    d->u.multistep.keys = cnnc__calloc(n, sizeof(int64_t));
    d->u.multistep.counts = cnnc__calloc(n, sizeof(int64_t));
    if (!d->u.multistep.keys || !d->u.multistep.counts) {
        multistep_free(d);
        return CNNC_ERR_OUT_OF_MEMORY;
    }
    if (s->u.multistep.n) {
        memcpy(d->u.multistep.keys, s->u.multistep.keys, s->u.multistep.n * sizeof(int64_t));
        memcpy(d->u.multistep.counts, s->u.multistep.counts, s->u.multistep.n * sizeof(int64_t));
    }
    return CNNC_OK;
}

static const char *const multistep_keys[] = {"milestones", NULL};
static const cnnc__sched_field multistep_fields[] = {
    CNNC__FIELD("gamma", CNNC__F_DOUBLE, u.multistep.gamma), {NULL, 0, 0}};
const cnnc__sched_desc cnnc__multisteplr_desc = {
    "MultiStepLR", CNNC__SCHED_MULTISTEP, multistep_get_lr, multistep_closed, multistep_fields,
    multistep_save, multistep_load, multistep_keys, multistep_dup, multistep_free};

cnnc_lr_scheduler *cnnc_multisteplr_new(cnnc_optimizer *optimizer, size_t n_milestones,
                                        const int64_t *milestones, cnnc_multisteplr_options options) {
    if (n_milestones && !milestones)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "multisteplr_new(): %zu milestones but "
                                "a NULL array", n_milestones);
    cnnc_lr_scheduler *s = cnnc__sched_alloc("multisteplr_new", optimizer, &cnnc__multisteplr_desc);
    if (!s) return NULL;
    size_t cap = n_milestones ? n_milestones : 1;
    s->u.multistep.keys = cnnc__calloc(cap, sizeof(int64_t));
    s->u.multistep.counts = cnnc__calloc(cap, sizeof(int64_t));
    if (!s->u.multistep.keys || !s->u.multistep.counts) {
        cnnc_lr_scheduler_release(s);
        return cnnc__oom("MultiStepLR's milestones"), NULL;
    }
    for (size_t i = 0; i < n_milestones; i++) { /* Counter(milestones) */
        size_t j = 0;
        while (j < s->u.multistep.n && s->u.multistep.keys[j] != milestones[i]) j++;
        if (j == s->u.multistep.n) s->u.multistep.keys[s->u.multistep.n++] = milestones[i];
        s->u.multistep.counts[j]++;
    }
    s->u.multistep.gamma = options.gamma;
    return cnnc__sched_init(s, options.last_epoch, options.verbose);
}

/* ---- ExponentialLR ----------------------------------------------------------------------------- */

static cnnc_status exp_get_lr(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    if (s->last_epoch == 0) group_lrs(s, lrs, n);
    else group_lrs_times(s, s->u.exp.gamma, lrs, n);
    return CNNC_OK;
}

static cnnc_status exp_closed(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    double f;
    cnnc_status st = cnnc__py_pow(s->u.exp.gamma, (double)s->last_epoch, &f);
    if (st == CNNC_OK) base_lrs_times(s, f, lrs, n);
    return st;
}

static const cnnc__sched_field exp_fields[] = {CNNC__FIELD("gamma", CNNC__F_DOUBLE, u.exp.gamma),
                                               {NULL, 0, 0}};
const cnnc__sched_desc cnnc__exponentiallr_desc = {"ExponentialLR", CNNC__SCHED_EXPONENTIAL,
                                                   exp_get_lr, exp_closed, exp_fields, NULL, NULL,
                                                   NULL, NULL, NULL};

cnnc_lr_scheduler *cnnc_exponentiallr_new(cnnc_optimizer *optimizer, double gamma,
                                          cnnc_exponentiallr_options options) {
    cnnc_lr_scheduler *s = cnnc__sched_alloc("exponentiallr_new", optimizer, &cnnc__exponentiallr_desc);
    if (!s) return NULL;
    s->u.exp.gamma = gamma;
    return cnnc__sched_init(s, options.last_epoch, options.verbose);
}

/* ---- CosineAnnealingLR ---------------------------------------------------------------------- */

static cnnc_status cos_get_lr(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    int64_t e = s->last_epoch, T = s->u.cos.T_max, r;
    double eta_min = s->u.cos.eta_min, a, b, c;
    cnnc_status st;
    if (e == 0) {
        group_lrs(s, lrs, n);
        return CNNC_OK;
    }
    if (s->step_count == 1 && e > 0) { /* resuming: from base_lrs */
        if ((st = cnnc__py_div((double)e * CNNC__PI, (double)T, &a)) != CNNC_OK) return st;
        *n = s->n_base < s->opt->n_groups ? s->n_base : s->opt->n_groups;
        for (size_t g = 0; g < *n; g++)
            lrs[g] = eta_min + (s->base_lrs[g] - eta_min) * (1 + cos(a)) / 2;
        return CNNC_OK;
    }
    if (T != 0 && (T > INT64_MAX / 2 || T < INT64_MIN / 2))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "CosineAnnealingLR: T_max %lld overflows",
                           (long long)T);
    if ((st = cnnc__py_mod(e - 1 - T, 2 * T, &r)) != CNNC_OK) return st;
    if (r == 0) {
        if ((st = cnnc__py_div(CNNC__PI, (double)T, &a)) != CNNC_OK) return st;
        *n = s->n_base < s->opt->n_groups ? s->n_base : s->opt->n_groups;
        for (size_t g = 0; g < *n; g++)
            lrs[g] = cnnc__sched_group_lr(s, g) + (s->base_lrs[g] - eta_min) * (1 - cos(a)) / 2;
        return CNNC_OK;
    }
    if ((st = cnnc__py_div(CNNC__PI * (double)e, (double)T, &a)) != CNNC_OK) return st;
    if ((st = cnnc__py_div(CNNC__PI * (double)(e - 1), (double)T, &b)) != CNNC_OK) return st;
    if ((st = cnnc__py_div(1 + cos(a), 1 + cos(b), &c)) != CNNC_OK) return st;
    *n = s->opt->n_groups;
    for (size_t g = 0; g < *n; g++) lrs[g] = c * (cnnc__sched_group_lr(s, g) - eta_min) + eta_min;
    return CNNC_OK;
}

static cnnc_status cos_closed(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    double a, eta_min = s->u.cos.eta_min;
    cnnc_status st = cnnc__py_div(CNNC__PI * (double)s->last_epoch, (double)s->u.cos.T_max, &a);
    if (st != CNNC_OK) return st;
    *n = s->n_base < s->opt->n_groups ? s->n_base : s->opt->n_groups;
    for (size_t g = 0; g < *n; g++) lrs[g] = eta_min + (s->base_lrs[g] - eta_min) * (1 + cos(a)) / 2;
    return CNNC_OK;
}

static const cnnc__sched_field cos_fields[] = {CNNC__FIELD("T_max", CNNC__F_INT, u.cos.T_max),
                                               CNNC__FIELD("eta_min", CNNC__F_DOUBLE, u.cos.eta_min),
                                               {NULL, 0, 0}};
const cnnc__sched_desc cnnc__cosineannealinglr_desc = {
    "CosineAnnealingLR", CNNC__SCHED_COSINE, cos_get_lr, cos_closed, cos_fields, NULL, NULL, NULL,
    NULL, NULL};

cnnc_lr_scheduler *cnnc_cosineannealinglr_new(cnnc_optimizer *optimizer, int64_t T_max,
                                              cnnc_cosineannealinglr_options options) {
    cnnc_lr_scheduler *s =
        cnnc__sched_alloc("cosineannealinglr_new", optimizer, &cnnc__cosineannealinglr_desc);
    if (!s) return NULL;
    s->u.cos.T_max = T_max;
    s->u.cos.eta_min = options.eta_min;
    return cnnc__sched_init(s, options.last_epoch, options.verbose);
}

/* ---- LinearLR ------------------------------------------------------------------------------------ */

static cnnc_status linear_get_lr(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    double start = s->u.linear.start_factor, end = s->u.linear.end_factor, f;
    int64_t e = s->last_epoch, total = s->u.linear.total_iters;
    if (e == 0) {
        group_lrs_times(s, start, lrs, n);
        return CNNC_OK;
    }
    if (e > total) {
        group_lrs(s, lrs, n);
        return CNNC_OK;
    }
    cnnc_status st = cnnc__py_div(end - start, (double)total * start + (double)(e - 1) * (end - start), &f);
    if (st == CNNC_OK) group_lrs_times(s, 1. + f, lrs, n);
    return st;
}

static cnnc_status linear_closed(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    double start = s->u.linear.start_factor, end = s->u.linear.end_factor, f;
    int64_t total = s->u.linear.total_iters, k = total < s->last_epoch ? total : s->last_epoch;
    cnnc_status st = cnnc__py_div((end - start) * (double)k, (double)total, &f);
    if (st == CNNC_OK) base_lrs_times(s, start + f, lrs, n);
    return st;
}

static const cnnc__sched_field linear_fields[] = {
    CNNC__FIELD("start_factor", CNNC__F_DOUBLE, u.linear.start_factor),
    CNNC__FIELD("end_factor", CNNC__F_DOUBLE, u.linear.end_factor),
    CNNC__FIELD("total_iters", CNNC__F_INT, u.linear.total_iters), {NULL, 0, 0}};
const cnnc__sched_desc cnnc__linearlr_desc = {"LinearLR", CNNC__SCHED_LINEAR, linear_get_lr,
                                              linear_closed, linear_fields, NULL, NULL, NULL,
                                              NULL, NULL};

cnnc_lr_scheduler *cnnc_linearlr_new(cnnc_optimizer *optimizer, cnnc_linearlr_options options) {
    if (options.start_factor > 1.0 || options.start_factor < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Starting multiplicative factor expected to be between 0 and 1.");
    if (options.end_factor > 1.0 || options.end_factor < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Ending multiplicative factor expected to be between 0 and 1.");
    cnnc_lr_scheduler *s = cnnc__sched_alloc("linearlr_new", optimizer, &cnnc__linearlr_desc);
    if (!s) return NULL;
    s->u.linear.start_factor = options.start_factor;
    s->u.linear.end_factor = options.end_factor;
    s->u.linear.total_iters = options.total_iters;
    return cnnc__sched_init(s, options.last_epoch, options.verbose);
}

/* ---- LambdaLR -------------------------------------------------------------------------------- */

static cnnc_status lambda_get_lr(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    size_t m = s->u.lambda.n < s->n_base ? s->u.lambda.n : s->n_base;
    *n = m < s->opt->n_groups ? m : s->opt->n_groups;
    for (size_t g = 0; g < *n; g++) {
        double f = 0;
        cnnc_status st = s->u.lambda.fns[g](s->u.lambda.ctxs[g], s->last_epoch, &f);
        if (st != CNNC_OK)
            return cnnc__error(st, "LambdaLR: lr_lambda of group %zu failed at epoch %lld", g,
                               (long long)s->last_epoch);
        lrs[g] = s->base_lrs[g] * f;
    }
    return CNNC_OK;
}

/* PyTorch saves None for each function (only callable objects have state). */
static cnnc_status lambda_save(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *p) {
    cnnc__strbuf sb = {0};
    cnnc__strbuf_printf(&sb, "[");
    for (size_t i = 0; i < s->u.lambda.n; i++) cnnc__strbuf_printf(&sb, "%sNone", i ? ", " : "");
    cnnc__strbuf_printf(&sb, "]");
    char key[256];
    snprintf(key, sizeof key, "%slr_lambdas", p);
    return cnnc__lit_set_meta(l, key, &sb);
}

static cnnc_status lambda_load(cnnc_lr_scheduler *s, const cnnc__meta *m) {
    const char *t = cnnc__meta_get(m, "lr_lambdas");
    if (!t) return CNNC_OK;
    /* a list of None, at most one per function */
    const char *p = t;
    size_t count = 0;
    bool ok = *p++ == '[';
    while (ok && *p == ' ') p++;
    while (ok && *p != ']') {
        ok = strncmp(p, "None", 4) == 0;
        p += ok ? 4 : 0;
        count++;
        while (ok && (*p == ',' || *p == ' ')) p++;
        if (ok && !*p) ok = false;
    }
    if (!ok || p[1] != 0 || count > s->u.lambda.n)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): '%slr_lambdas' must be "
                           "a list of at most %zu None (cnnc cannot restore a callable's "
                           "attributes), got '%s'", m->prefix, s->u.lambda.n, t);
    return CNNC_OK;
}

static void lambda_free(cnnc_lr_scheduler *s) {
    cnnc__free(s->u.lambda.fns);
    cnnc__free(s->u.lambda.ctxs);
    s->u.lambda.fns = NULL;
    s->u.lambda.ctxs = NULL;
    s->u.lambda.n = 0;
}

static cnnc_status lambda_alloc(cnnc_lr_scheduler *s, size_t n) {
    s->u.lambda.fns = cnnc__calloc(n ? n : 1, sizeof *s->u.lambda.fns);
    s->u.lambda.ctxs = cnnc__calloc(n ? n : 1, sizeof *s->u.lambda.ctxs);
    s->u.lambda.n = n;
    if (s->u.lambda.fns && s->u.lambda.ctxs) return CNNC_OK;
    lambda_free(s);
    return CNNC_ERR_OUT_OF_MEMORY;
}

static cnnc_status lambda_dup(cnnc_lr_scheduler *d, const cnnc_lr_scheduler *s) {
    if (lambda_alloc(d, s->u.lambda.n) != CNNC_OK) return CNNC_ERR_OUT_OF_MEMORY;
    if (s->u.lambda.n) {
        memcpy(d->u.lambda.fns, s->u.lambda.fns, s->u.lambda.n * sizeof *s->u.lambda.fns);
        memcpy(d->u.lambda.ctxs, s->u.lambda.ctxs, s->u.lambda.n * sizeof *s->u.lambda.ctxs);
    }
    return CNNC_OK;
}

static const char *const lambda_keys[] = {"lr_lambdas", NULL};
const cnnc__sched_desc cnnc__lambdalr_desc = {"LambdaLR", CNNC__SCHED_LAMBDA, lambda_get_lr, NULL,
                                              NULL, lambda_save, lambda_load, lambda_keys,
                                              lambda_dup, lambda_free};

cnnc_lr_scheduler *cnnc_lambdalr_new_per_group(cnnc_optimizer *optimizer, size_t n,
                                               const cnnc_lr_lambda *lr_lambdas, void *const *ctxs,
                                               cnnc_lambdalr_options options) {
    const char *fn = "lambdalr_new_per_group";
    if (!optimizer) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument "
                                            "'optimizer' is NULL", fn);
    if (n != optimizer->n_groups)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Expected %zu lr_lambdas, but got %zu",
                                optimizer->n_groups, n);
    if (n && !lr_lambdas)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'lr_lambdas' is NULL", fn);
    for (size_t i = 0; i < n; i++)
        if (!lr_lambdas[i])
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): lr_lambdas[%zu] is NULL", fn, i);
    cnnc_lr_scheduler *s = cnnc__sched_alloc(fn, optimizer, &cnnc__lambdalr_desc);
    if (!s) return NULL;
    if (lambda_alloc(s, n) != CNNC_OK) {
        cnnc_lr_scheduler_release(s);
        return cnnc__oom("LambdaLR's functions"), NULL;
    }
    for (size_t i = 0; i < n; i++) {
        s->u.lambda.fns[i] = lr_lambdas[i];
        s->u.lambda.ctxs[i] = ctxs ? ctxs[i] : NULL;
    }
    return cnnc__sched_init(s, options.last_epoch, options.verbose);
}

cnnc_lr_scheduler *cnnc_lambdalr_new(cnnc_optimizer *optimizer, cnnc_lr_lambda lr_lambda, void *ctx,
                                     cnnc_lambdalr_options options) {
    if (!optimizer) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "lambdalr_new(): argument "
                                            "'optimizer' is NULL");
    if (!lr_lambda)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "lambdalr_new(): argument 'lr_lambda' is NULL");
    size_t n = optimizer->n_groups;
    cnnc_lr_lambda *fns = cnnc__calloc(n ? n : 1, sizeof *fns);
    void **ctxs = cnnc__calloc(n ? n : 1, sizeof *ctxs);
    cnnc_lr_scheduler *s = NULL;
    if (fns && ctxs) {
        for (size_t i = 0; i < n; i++) fns[i] = lr_lambda, ctxs[i] = ctx;
        s = cnnc_lambdalr_new_per_group(optimizer, n, fns, ctxs, options);
    } else {
        cnnc__oom("LambdaLR's functions");
    }
    cnnc__free(fns);
    cnnc__free(ctxs);
    return s;
}
