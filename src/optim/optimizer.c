/* Optimizers: the kinds' tables, construction and parameter groups (PyTorch's
 * Optimizer.__init__ / add_param_group), group entries, zero_grad, repr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "core/trace.h"
#include "optim/optim.h"

#define F CNNC__KEY_FLOAT
#define B CNNC__KEY_BOOL
#define BETAS CNNC__KEY_BETAS
#define FE CNNC__KEY_FOREACH
#define FO CNNC__KEY_FALSE_ONLY

const cnnc__opt_desc cnnc__opt_descs[CNNC__OPT_COUNT] = {
    [CNNC__OPT_SGD] = {"SGD", 8,
                       {{"lr", F, false}, {"momentum", F, false}, {"dampening", F, false},
                        {"weight_decay", F, false}, {"nesterov", B, true}, {"maximize", B, true},
                        {"foreach", FE, true}, {"differentiable", FO, true}},
                       1, {"momentum_buffer"}, -1, CNNC_FLOAT32},
    [CNNC__OPT_ADAM] = {"Adam", 10,
                        {{"lr", F, false}, {"betas", BETAS, false}, {"eps", F, false},
                         {"weight_decay", F, false}, {"amsgrad", B, true}, {"maximize", B, true},
                         {"foreach", FE, true}, {"capturable", FO, true},
                         {"differentiable", FO, true}, {"fused", FO, true}},
                        4, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, 0, CNNC_FLOAT32},
    [CNNC__OPT_ADAMW] = {"AdamW", 8,
                         {{"lr", F, false}, {"betas", BETAS, false}, {"eps", F, false},
                          {"weight_decay", F, false}, {"amsgrad", B, true}, {"foreach", FE, true},
                          {"maximize", B, true}, {"capturable", FO, true}},
                         4, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, 0, CNNC_FLOAT32},
    [CNNC__OPT_RMSPROP] = {"RMSprop", 9,
                           {{"lr", F, false}, {"momentum", F, true}, {"alpha", F, false},
                            {"eps", F, false}, {"centered", B, true}, {"weight_decay", F, false},
                            {"foreach", FE, true}, {"maximize", B, true},
                            {"differentiable", FO, true}},
                           4, {"step", "square_avg", "momentum_buffer", "grad_avg"}, 0, CNNC_INT64},
    [CNNC__OPT_ADAGRAD] = {"Adagrad", 7,
                           {{"lr", F, false}, {"lr_decay", F, false}, {"eps", F, false},
                            {"weight_decay", F, false}, {"initial_accumulator_value", F, false},
                            {"foreach", FE, true}, {"maximize", B, true}},
                           2, {"step", "sum"}, 0, CNNC_FLOAT32},
};
#undef F
#undef B
#undef BETAS
#undef FE
#undef FO

/* ---- values and group entries ---------------------------------------------------- */

void cnnc__value_free(cnnc_value *v) {
    if (v->kind == CNNC_VALUE_STRING) cnnc__free((char *)v->s);
    *v = (cnnc_value){.kind = CNNC_VALUE_NONE};
}

bool cnnc__value_copy(cnnc_value *dst, const cnnc_value *src) {
    *dst = *src;
    if (src->kind != CNNC_VALUE_STRING) return true;
    dst->s = cnnc__strdup(src->s);
    if (!dst->s) dst->kind = CNNC_VALUE_NONE;
    return dst->s != NULL;
}

void cnnc__hp_clear(cnnc__hp *hp) {
    cnnc__free(hp->name);
    hp->name = NULL;
    cnnc__value_free(&hp->value);
}

cnnc__hp *cnnc__group_find(const cnnc__group *g, const char *name) {
    for (size_t i = 0; i < g->n_hp; i++)
        if (strcmp(g->hp[i].name, name) == 0) return &g->hp[i];
    return NULL;
}

static bool is_number(const cnnc_value *v) {
    return v->kind == CNNC_VALUE_FLOAT || v->kind == CNNC_VALUE_INT;
}

static double number(const cnnc_value *v) {
    return v->kind == CNNC_VALUE_INT ? (double)v->ints[0] : v->f;
}

cnnc_status cnnc__hp_check(const char *fn, const cnnc__opt_desc *d, int k, const char *name,
                           const cnnc_value *v, cnnc_value *stored) {
    *stored = *v;
    if (k < 0) { /* a key the optimizer does not know: any plain value */
        bool ok = v->kind == CNNC_VALUE_NONE || v->kind == CNNC_VALUE_BOOL || is_number(v) ||
                  (v->kind == CNNC_VALUE_STRING && v->s) ||
                  (v->kind == CNNC_VALUE_FLOATS && v->n >= 0 && v->n <= CNNC_MAX_DIMS);
        if (!ok)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "%s(): unsupported value kind %d for param group key '%s'", fn,
                               (int)v->kind, name);
        return CNNC_OK;
    }
    switch (d->keys[k].type) {
    case CNNC__KEY_FLOAT:
        if (is_number(v)) {
            *stored = (cnnc_value){.kind = CNNC_VALUE_FLOAT, .f = number(v)};
            return CNNC_OK;
        }
        break;
    case CNNC__KEY_BOOL:
        if (v->kind == CNNC_VALUE_BOOL) {
            stored->ints[0] = v->ints[0] != 0;
            return CNNC_OK;
        }
        break;
    case CNNC__KEY_BETAS:
        if (v->kind == CNNC_VALUE_FLOATS && v->n == 2) return CNNC_OK;
        break;
    case CNNC__KEY_FOREACH:
        if (v->kind == CNNC_VALUE_NONE || v->kind == CNNC_VALUE_BOOL) return CNNC_OK;
        break;
    case CNNC__KEY_FALSE_ONLY:
        if (v->kind == CNNC_VALUE_BOOL && v->ints[0] == 0) return CNNC_OK;
        if (v->kind == CNNC_VALUE_BOOL)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "%s(): %s=True is not supported by cnnc (%s is a CPU float32 "
                               "library with one implementation)", fn, name, d->name);
        break;
    }
    static const char *const want[] = {"a number", "a bool", "a pair of numbers",
                                       "None or a bool", "False"};
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): %s's param group key '%s' must be %s",
                       fn, d->name, name, want[d->keys[k].type]);
}

cnnc_status cnnc__group_set(cnnc__group *g, const char *name, const cnnc_value *v) {
    cnnc_value copy;
    if (!cnnc__value_copy(&copy, v)) return cnnc__oom("a param group entry");
    cnnc__hp *hp = cnnc__group_find(g, name);
    if (hp) {
        cnnc__value_free(&hp->value);
        hp->value = copy;
        return CNNC_OK;
    }
    char *n = cnnc__strdup(name);
    if (!n || !cnnc__grow((void **)&g->hp, &g->cap_hp, g->n_hp + 1, sizeof *g->hp)) {
        cnnc__free(n);
        cnnc__value_free(&copy);
        return cnnc__oom("a param group entry");
    }
    g->hp[g->n_hp++] = (cnnc__hp){n, copy};
    return CNNC_OK;
}

void cnnc__group_clear(cnnc__group *g) {
    for (size_t i = 0; i < g->n_params; i++) cnnc_tensor_release(g->params[i]);
    for (size_t i = 0; i < g->n_hp; i++) cnnc__hp_clear(&g->hp[i]);
    cnnc__free(g->params);
    cnnc__free(g->hp);
    *g = (cnnc__group){0};
}

void cnnc__pstate_clear(cnnc__pstate *s) {
    for (int k = 0; k < CNNC__MAX_STATE; k++) cnnc_tensor_release(s->t[k]);
    *s = (cnnc__pstate){0};
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void opt_free(cnnc_optimizer *opt) {
    for (size_t g = 0; g < opt->n_groups; g++) cnnc__group_clear(&opt->groups[g]);
    for (size_t i = 0; i < opt->n_params; i++) cnnc__pstate_clear(&opt->state[i]);
    cnnc__group_clear(&opt->defaults);
    cnnc__free(opt->groups);
    cnnc__free(opt->state);
    cnnc__free(opt);
}

cnnc_optimizer *cnnc_optimizer_retain(cnnc_optimizer *opt) {
    if (opt) atomic_fetch_add(&opt->refcount, 1);
    return opt;
}

void cnnc_optimizer_release(cnnc_optimizer *opt) {
    if (opt && atomic_fetch_sub(&opt->refcount, 1) == 1) opt_free(opt);
}

const char *cnnc_optimizer_type(const cnnc_optimizer *opt) {
    CNNC__NONNULL_OR_NULL("optimizer_type", opt);
    return opt->desc->name;
}

/* ---- parameter groups ------------------------------------------------------------------- */

/* The tensors of a cnnc_params (borrowed view). */
static cnnc_status params_view(const char *fn, cnnc_params p, size_t *n,
                               cnnc_tensor *const **arr) {
    if (p.list && (p.n || p.tensors))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): params: give either a tensor list or an array, not both", fn);
    if (p.list) {
        *n = cnnc_tensor_list_size(p.list);
        *arr = NULL;
        return CNNC_OK;
    }
    if (p.n && !p.tensors)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): params: %zu tensors but a NULL array",
                           fn, p.n);
    *n = p.n;
    *arr = p.tensors;
    return CNNC_OK;
}

static cnnc_tensor *params_at(cnnc_params p, cnnc_tensor *const *arr, size_t i) {
    return p.list ? cnnc_tensor_list_get(p.list, i) : arr[i];
}

static int key_index(const cnnc__opt_desc *d, const char *name) {
    for (int k = 0; k < d->n_keys; k++)
        if (strcmp(d->keys[k].name, name) == 0) return k;
    return -1;
}

static bool is_required(const cnnc_value *v) { return v->kind == CNNC_VALUE_FLOAT && isnan(v->f); }

/* Builds the group (params retained, entries = defaults overridden by the
 * group's hparams) after PyTorch's checks; *g is cleared on error. */
static cnnc_status build_group(const char *fn, const cnnc_optimizer *opt, cnnc_param_group pg,
                               cnnc__group *g) {
    const cnnc__opt_desc *d = opt->desc;
    size_t n = 0;
    cnnc_tensor *const *arr = NULL;
    cnnc_status st = params_view(fn, pg.params, &n, &arr);
    if (st != CNNC_OK) return st;
    if (pg.n_hparams && !pg.hparams)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): %zu hparams but a NULL array", fn,
                           pg.n_hparams);
    g->params = cnnc__calloc(n ? n : 1, sizeof *g->params);
    if (!g->params) return cnnc__oom("a parameter group");
    for (size_t i = 0; i < n; i++) {
        cnnc_tensor *t = params_at(pg.params, arr, i);
        if (!t) {
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "optimizer can only optimize Tensors, but "
                             "one of the params is NoneType");
            goto fail;
        }
        if (!cnnc_tensor_is_leaf(t)) {
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "can't optimize a non-leaf Tensor");
            goto fail;
        }
        g->params[g->n_params++] = cnnc_tensor_retain(t);
    }
    for (size_t i = 0; i < pg.n_hparams; i++) { /* the group's own keys, then the defaults */
        const cnnc_hparam *h = &pg.hparams[i];
        cnnc_value stored;
        if (!h->name || strcmp(h->name, "params") == 0) {
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): hparam %zu: %s", fn, i,
                             h->name ? "'params' is given as the group's params" : "NULL name");
            goto fail;
        }
        st = cnnc__hp_check(fn, d, key_index(d, h->name), h->name, &h->value, &stored);
        if (st == CNNC_OK) st = cnnc__group_set(g, h->name, &stored);
        if (st != CNNC_OK) goto fail;
    }
    for (int k = 0; k < d->n_keys; k++) {
        const cnnc__hp *def = &opt->defaults.hp[k];
        if (cnnc__group_find(g, def->name)) continue;
        if (is_required(&def->value)) {
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "parameter group didn't specify a value "
                             "of required optimization parameter %s", def->name);
            goto fail;
        }
        st = cnnc__group_set(g, def->name, &def->value);
        if (st != CNNC_OK) goto fail;
    }
    /* the optimizer's keys first, in its order (step reads them by index) */
    for (int k = 0; k < d->n_keys; k++) {
        cnnc__hp *at = cnnc__group_find(g, d->keys[k].name);
        cnnc__hp moved = *at;
        memmove(&g->hp[k + 1], &g->hp[k], (size_t)(at - &g->hp[k]) * sizeof *at);
        g->hp[k] = moved;
    }
    return CNNC_OK;
fail:
    cnnc__group_clear(g);
    return st;
}

/* PyTorch's duplicate and disjointness checks. */
static cnnc_status check_params_unique(const cnnc_optimizer *opt, const cnnc__group *g) {
    for (size_t i = 0; i < g->n_params; i++) {
        for (size_t j = 0; j < i; j++)
            if (g->params[j] == g->params[i])
                return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                                   "optimizer contains a parameter group with duplicate "
                                   "parameters (an error in cnnc; PyTorch 1.13 warns and then "
                                   "updates them twice)");
        if (cnnc__opt_param_index(opt, g->params[i]) != SIZE_MAX)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "some parameters appear in more than one parameter group");
    }
    return CNNC_OK;
}

static cnnc_status add_group(cnnc_optimizer *opt, const char *fn, cnnc_param_group pg) {
    cnnc__group g = {0};
    cnnc_status st = build_group(fn, opt, pg, &g);
    if (st != CNNC_OK) return st;
    st = check_params_unique(opt, &g);
    size_t need = opt->n_params + g.n_params;
    if (st == CNNC_OK &&
        (!cnnc__grow((void **)&opt->groups, &opt->cap_groups, opt->n_groups + 1, sizeof *opt->groups) ||
         !cnnc__grow((void **)&opt->state, &opt->cap_state, need ? need : 1, sizeof *opt->state)))
        st = cnnc__oom("a parameter group");
    if (st != CNNC_OK) {
        cnnc__group_clear(&g);
        return st;
    }
    for (size_t i = opt->n_params; i < need; i++) opt->state[i] = (cnnc__pstate){0};
    g.first = opt->n_params;
    opt->groups[opt->n_groups++] = g;
    opt->n_params = need;
    return CNNC_OK;
}

size_t cnnc__opt_param_index(const cnnc_optimizer *opt, const cnnc_tensor *p) {
    for (size_t g = 0; g < opt->n_groups; g++)
        for (size_t i = 0; i < opt->groups[g].n_params; i++)
            if (opt->groups[g].params[i] == p) return opt->groups[g].first + i;
    return SIZE_MAX;
}

/* Adagrad's constructor-time state: step = 0, sum = initial_accumulator_value. */
static cnnc_status adagrad_init_state(cnnc_optimizer *opt) {
    for (size_t g = 0; g < opt->n_groups; g++) {
        const cnnc__group *grp = &opt->groups[g];
        double init = cnnc__hp_f(grp, ADAGRAD_INIT_ACC);
        for (size_t i = 0; i < grp->n_params; i++) {
            cnnc_tensor *p = grp->params[i];
            cnnc__pstate *s = &opt->state[grp->first + i];
            s->t[ADAGRAD_S_STEP] = cnnc__tensor_zeros(CNNC_FLOAT32, 0, NULL);
            s->t[ADAGRAD_S_SUM] = cnnc__tensor_new(p->dtype, p->ndim, p->shape);
            if (!s->t[ADAGRAD_S_STEP] || !s->t[ADAGRAD_S_SUM]) return CNNC_ERR_OUT_OF_MEMORY;
            s->has[ADAGRAD_S_STEP] = s->has[ADAGRAD_S_SUM] = true;
            if (p->dtype == CNNC_FLOAT32)
                for (int64_t j = 0; j < p->numel; j++) cnnc__f32(s->t[ADAGRAD_S_SUM])[j] = (float)init;
            else
                for (int64_t j = 0; j < p->numel; j++) cnnc__i64(s->t[ADAGRAD_S_SUM])[j] = (int64_t)init;
        }
    }
    return CNNC_OK;
}

/* The generic constructor: defaults[k] for each key of the kind (already validated). */
static cnnc_optimizer *opt_new(const char *fn, cnnc__opt_kind kind, const cnnc_value *defaults,
                               size_t n_groups, const cnnc_param_group *groups) {
    if (n_groups && !groups)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): %zu groups but a NULL array", fn,
                                n_groups);
    if (n_groups == 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "optimizer got an empty parameter list");
    cnnc_optimizer *opt = cnnc__calloc(1, sizeof *opt);
    if (!opt) return cnnc__oom("an optimizer"), NULL;
    atomic_init(&opt->refcount, 1);
    opt->kind = kind;
    opt->desc = &cnnc__opt_descs[kind];
    cnnc_status st = CNNC_OK;
    for (int k = 0; k < opt->desc->n_keys && st == CNNC_OK; k++)
        st = cnnc__group_set(&opt->defaults, opt->desc->keys[k].name, &defaults[k]);
    for (size_t g = 0; g < n_groups && st == CNNC_OK; g++) st = add_group(opt, fn, groups[g]);
    if (st == CNNC_OK && kind == CNNC__OPT_ADAGRAD && adagrad_init_state(opt) != CNNC_OK)
        st = cnnc__oom("Adagrad's state");
    if (st != CNNC_OK) {
        opt_free(opt);
        return NULL;
    }
    return opt;
}

/* One group from params: PyTorch's "empty parameter list" when there is none. */
static cnnc_optimizer *opt_new_one(const char *fn, cnnc__opt_kind kind, const cnnc_value *defaults,
                                   cnnc_params params) {
    size_t n = 0;
    cnnc_tensor *const *arr = NULL;
    if (params_view(fn, params, &n, &arr) != CNNC_OK) return NULL;
    if (n == 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "optimizer got an empty parameter list");
    cnnc_param_group g = {.params = params};
    return opt_new(fn, kind, defaults, 1, &g);
}

cnnc_status cnnc_optimizer_add_param_group(cnnc_optimizer *opt, cnnc_param_group group) {
    CNNC__NONNULL_OR_STATUS("optimizer_add_param_group", opt);
    return add_group(opt, "optimizer_add_param_group", group);
}

/* ---- the constructors: PyTorch's checks of the defaults ------------------------------ */

#define FLOAT_V(x) ((cnnc_value){.kind = CNNC_VALUE_FLOAT, .f = (x)})
#define BOOL_V(b) ((cnnc_value){.kind = CNNC_VALUE_BOOL, .ints = {(b) ? 1 : 0}})
#define NONE_V ((cnnc_value){.kind = CNNC_VALUE_NONE})
#define FALSE_V BOOL_V(false)

/* A number as Python's str() shows the value the caller most likely passed:
 * integral values as ints ("-1"), others as repr(float). */
static const char *num_str(double v, char *buf, size_t cap) {
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e15) snprintf(buf, cap, "%.0f", v);
    else cnnc__float_repr(v, buf, cap);
    return buf;
}

static cnnc_status invalid(const char *what, double v) {
    char b[64];
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Invalid %s: %s", what, num_str(v, b, sizeof b));
}

/* betas are floats in practice ((0.9, 0.999)): repr(float) always. */
static cnnc_status invalid_beta(int i, double v) {
    char b[64];
    cnnc__float_repr(v, b, sizeof b);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Invalid beta parameter at index %d: %s", i, b);
}

static cnnc_status check_sgd(const cnnc_sgd_options *o, cnnc_value *v) {
    if (o->lr < 0.0) return invalid("learning rate", o->lr);
    if (o->momentum < 0.0) return invalid("momentum value", o->momentum);
    if (o->weight_decay < 0.0) return invalid("weight_decay value", o->weight_decay);
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Nesterov momentum requires a momentum and zero dampening");
    cnnc_value d[] = {FLOAT_V(o->lr), FLOAT_V(o->momentum), FLOAT_V(o->dampening),
                      FLOAT_V(o->weight_decay), BOOL_V(o->nesterov), BOOL_V(o->maximize), NONE_V,
                      FALSE_V};
    memcpy(v, d, sizeof d);
    return CNNC_OK;
}

static cnnc_status check_adam(const cnnc_adam_options *o, bool adamw, cnnc_value *v) {
    if (!(0.0 <= o->lr)) return invalid("learning rate", o->lr);
    if (!(0.0 <= o->eps)) return invalid("epsilon value", o->eps);
    if (!(0.0 <= o->betas[0] && o->betas[0] < 1.0)) return invalid_beta(0, o->betas[0]);
    if (!(0.0 <= o->betas[1] && o->betas[1] < 1.0)) return invalid_beta(1, o->betas[1]);
    if (!(0.0 <= o->weight_decay)) return invalid("weight_decay value", o->weight_decay);
    cnnc_value betas = {.kind = CNNC_VALUE_FLOATS, .n = 2, .fs = {o->betas[0], o->betas[1]}};
    cnnc_value adam[] = {FLOAT_V(o->lr), betas, FLOAT_V(o->eps), FLOAT_V(o->weight_decay),
                         BOOL_V(o->amsgrad), BOOL_V(o->maximize), NONE_V, FALSE_V, FALSE_V, FALSE_V};
    cnnc_value w[] = {FLOAT_V(o->lr), betas, FLOAT_V(o->eps), FLOAT_V(o->weight_decay),
                      BOOL_V(o->amsgrad), NONE_V, BOOL_V(o->maximize), FALSE_V};
    if (adamw) memcpy(v, w, sizeof w);
    else memcpy(v, adam, sizeof adam);
    return CNNC_OK;
}

static cnnc_status check_rmsprop(const cnnc_rmsprop_options *o, cnnc_value *v) {
    if (!(0.0 <= o->lr)) return invalid("learning rate", o->lr);
    if (!(0.0 <= o->eps)) return invalid("epsilon value", o->eps);
    if (!(0.0 <= o->momentum)) return invalid("momentum value", o->momentum);
    if (!(0.0 <= o->weight_decay)) return invalid("weight_decay value", o->weight_decay);
    if (!(0.0 <= o->alpha)) return invalid("alpha value", o->alpha);
    cnnc_value d[] = {FLOAT_V(o->lr), FLOAT_V(o->momentum), FLOAT_V(o->alpha), FLOAT_V(o->eps),
                      BOOL_V(o->centered), FLOAT_V(o->weight_decay), NONE_V, BOOL_V(o->maximize),
                      FALSE_V};
    memcpy(v, d, sizeof d);
    return CNNC_OK;
}

static cnnc_status check_adagrad(const cnnc_adagrad_options *o, cnnc_value *v) {
    if (!(0.0 <= o->lr)) return invalid("learning rate", o->lr);
    if (!(0.0 <= o->lr_decay)) return invalid("lr_decay value", o->lr_decay);
    if (!(0.0 <= o->weight_decay)) return invalid("weight_decay value", o->weight_decay);
    if (!(0.0 <= o->initial_accumulator_value))
        return invalid("initial_accumulator_value value", o->initial_accumulator_value);
    if (!(0.0 <= o->eps)) return invalid("epsilon value", o->eps);
    cnnc_value d[] = {FLOAT_V(o->lr), FLOAT_V(o->lr_decay), FLOAT_V(o->eps),
                      FLOAT_V(o->weight_decay), FLOAT_V(o->initial_accumulator_value), NONE_V,
                      BOOL_V(o->maximize)};
    memcpy(v, d, sizeof d);
    return CNNC_OK;
}

#define CHECK_ADAM(o, v) check_adam(&(o), false, v)
#define CHECK_ADAMW(o, v) check_adam(&(o), true, v)
#define CHECK_SGD(o, v) check_sgd(&(o), v)
#define CHECK_RMSPROP(o, v) check_rmsprop(&(o), v)
#define CHECK_ADAGRAD(o, v) check_adagrad(&(o), v)

#define OPT_CONSTRUCTORS(name, KIND, CHECK, opts_t)                                            \
    cnnc_optimizer *cnnc_##name##_new(cnnc_params params, opts_t options) {                   \
        cnnc_value d[CNNC__MAX_KEYS];                                                          \
        if (CHECK(options, d) != CNNC_OK) return NULL;                                         \
        return opt_new_one(#name "_new", KIND, d, params);                                     \
    }                                                                                          \
    cnnc_optimizer *cnnc_##name##_new_groups(size_t n_groups, const cnnc_param_group *groups, \
                                             opts_t defaults) {                                \
        cnnc_value d[CNNC__MAX_KEYS];                                                          \
        if (CHECK(defaults, d) != CNNC_OK) return NULL;                                        \
        return opt_new(#name "_new_groups", KIND, d, n_groups, groups);                        \
    }

OPT_CONSTRUCTORS(sgd, CNNC__OPT_SGD, CHECK_SGD, cnnc_sgd_options)
OPT_CONSTRUCTORS(adam, CNNC__OPT_ADAM, CHECK_ADAM, cnnc_adam_options)
OPT_CONSTRUCTORS(adamw, CNNC__OPT_ADAMW, CHECK_ADAMW, cnnc_adamw_options)
OPT_CONSTRUCTORS(rmsprop, CNNC__OPT_RMSPROP, CHECK_RMSPROP, cnnc_rmsprop_options)
OPT_CONSTRUCTORS(adagrad, CNNC__OPT_ADAGRAD, CHECK_ADAGRAD, cnnc_adagrad_options)

/* ---- step, zero_grad ---------------------------------------------------------------------- */

cnnc_status cnnc_optimizer_step(cnnc_optimizer *opt) {
    CNNC__NONNULL_OR_STATUS("optimizer_step", opt);
    const double t0 = cnnc__trace_begin();
    const cnnc_status st = cnnc__opt_step(opt);
    if (t0) {
        size_t params = 0;
        for (size_t g = 0; g < opt->n_groups; g++) params += opt->groups[g].n_params;
        char shapes[64];
        snprintf(shapes, sizeof shapes, "%zu parameters", params);
        cnnc__trace_end(t0, "optim.step", opt->desc->name, st == CNNC_OK ? shapes : "failed");
    }
    return st;
}

cnnc_status cnnc_optimizer_zero_grad(cnnc_optimizer *opt, bool set_to_none) {
    CNNC__NONNULL_OR_STATUS("optimizer_zero_grad", opt);
    for (size_t g = 0; g < opt->n_groups; g++) {
        for (size_t i = 0; i < opt->groups[g].n_params; i++) {
            cnnc_tensor *p = opt->groups[g].params[i], *grad = p->grad;
            if (!grad) continue;
            if (set_to_none) {
                cnnc_tensor_set_grad(p, NULL);
                continue;
            }
            if (grad->requires_grad) { /* PyTorch: detach_() / requires_grad_(False) */
                cnnc_tensor *d = cnnc__tensor_alias(grad, grad->ndim, grad->shape);
                if (!d) return CNNC_ERR_OUT_OF_MEMORY;
                cnnc_tensor_set_grad(p, d);
                cnnc_tensor_release(d);
                grad = d;
            }
            memset(grad->storage->data, 0, (size_t)grad->numel * cnnc__dtype_size(grad->dtype));
            cnnc__bump_version(grad);
        }
    }
    return CNNC_OK;
}

/* ---- group access ---------------------------------------------------------------------------- */

static cnnc_status check_group(const char *fn, const cnnc_optimizer *opt, size_t group) {
    if (!opt) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'opt' is NULL", fn);
    if (group >= opt->n_groups)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): param group %zu out of range (the optimizer has %zu)", fn,
                           group, opt->n_groups);
    return CNNC_OK;
}

size_t cnnc_optimizer_num_param_groups(const cnnc_optimizer *opt) {
    if (!opt) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                                 "optimizer_num_param_groups(): argument 'opt' is NULL"), 0;
    return opt->n_groups;
}

cnnc_tensor_list *cnnc_optimizer_param_group_params(const cnnc_optimizer *opt, size_t group) {
    if (check_group("optimizer_param_group_params", opt, group) != CNNC_OK) return NULL;
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    const cnnc__group *g = &opt->groups[group];
    for (size_t i = 0; l && i < g->n_params; i++) {
        char name[32];
        snprintf(name, sizeof name, "%zu", i);
        if (cnnc_tensor_list_append(l, name, g->params[i]) != CNNC_OK) {
            cnnc_tensor_list_free(l);
            l = NULL;
        }
    }
    return l;
}

size_t cnnc_optimizer_num_hparams(const cnnc_optimizer *opt, size_t group) {
    if (check_group("optimizer_num_hparams", opt, group) != CNNC_OK) return 0;
    return opt->groups[group].n_hp;
}

cnnc_status cnnc_optimizer_hparam_at(const cnnc_optimizer *opt, size_t group, size_t i,
                                     const char **name, cnnc_value *value) {
    cnnc_status st = check_group("optimizer_hparam_at", opt, group);
    if (st != CNNC_OK) return st;
    const cnnc__group *g = &opt->groups[group];
    if (i >= g->n_hp)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "optimizer_hparam_at(): index %zu out of "
                           "range (the group has %zu entries)", i, g->n_hp);
    if (name) *name = g->hp[i].name;
    if (value) *value = g->hp[i].value;
    return CNNC_OK;
}

cnnc_status cnnc_optimizer_hparam(const cnnc_optimizer *opt, size_t group, const char *name,
                                  cnnc_value *value) {
    cnnc_status st = check_group("optimizer_hparam", opt, group);
    if (st != CNNC_OK) return st;
    CNNC__NONNULL_OR_STATUS("optimizer_hparam", name);
    const cnnc__hp *hp = cnnc__group_find(&opt->groups[group], name);
    if (!hp) return cnnc__error(CNNC_ERR_NOT_FOUND, "KeyError: '%s'", name);
    if (value) *value = hp->value;
    return CNNC_OK;
}

cnnc_status cnnc_optimizer_set_hparam(cnnc_optimizer *opt, size_t group, cnnc_hparam hparam) {
    cnnc_status st = check_group("optimizer_set_hparam", opt, group);
    if (st != CNNC_OK) return st;
    if (!hparam.name)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "optimizer_set_hparam(): NULL name");
    if (strcmp(hparam.name, "params") == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "optimizer_set_hparam(): a group's 'params' cannot be replaced");
    cnnc_value stored;
    st = cnnc__hp_check("optimizer_set_hparam", opt->desc, key_index(opt->desc, hparam.name),
                        hparam.name, &hparam.value, &stored);
    return st == CNNC_OK ? cnnc__group_set(&opt->groups[group], hparam.name, &stored) : st;
}

cnnc_status cnnc__opt_group_double(const cnnc_optimizer *opt, size_t group, const char *name,
                                   double *out) {
    const cnnc__hp *hp = cnnc__group_find(&opt->groups[group], name);
    if (!hp) return cnnc__error(CNNC_ERR_NOT_FOUND, "KeyError: '%s'", name);
    if (!is_number(&hp->value))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "param_groups[%zu]['%s'] is not a number",
                           group, name);
    *out = number(&hp->value);
    return CNNC_OK;
}

cnnc_status cnnc__opt_group_set_double(cnnc_optimizer *opt, size_t group, const char *name,
                                       double v) {
    cnnc_value value = FLOAT_V(v);
    return cnnc__group_set(&opt->groups[group], name, &value);
}

cnnc_status cnnc_optimizer_get_lr(const cnnc_optimizer *opt, size_t group, double *lr) {
    cnnc_status st = check_group("optimizer_get_lr", opt, group);
    if (st != CNNC_OK) return st;
    CNNC__NONNULL_OR_STATUS("optimizer_get_lr", lr);
    return cnnc__opt_group_double(opt, group, "lr", lr);
}

cnnc_status cnnc_optimizer_set_lr(cnnc_optimizer *opt, size_t group, double lr) {
    cnnc_status st = check_group("optimizer_set_lr", opt, group);
    return st == CNNC_OK ? cnnc__opt_group_set_double(opt, group, "lr", lr) : st;
}

cnnc_tensor_list *cnnc_optimizer_param_state(const cnnc_optimizer *opt, const cnnc_tensor *param) {
    CNNC__NONNULL_OR_NULL("optimizer_param_state", opt);
    CNNC__NONNULL_OR_NULL("optimizer_param_state", param);
    size_t idx = cnnc__opt_param_index(opt, param);
    if (idx == SIZE_MAX)
        return cnnc__error_null(CNNC_ERR_NOT_FOUND,
                                "optimizer_param_state(): the tensor is not one of the "
                                "optimizer's parameters");
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    const cnnc__pstate *s = &opt->state[idx];
    for (int k = 0; l && k < opt->desc->n_state; k++) {
        if (s->has[k] && cnnc_tensor_list_append(l, opt->desc->state_keys[k], s->t[k]) != CNNC_OK) {
            cnnc_tensor_list_free(l);
            l = NULL;
        }
    }
    return l;
}

/* ---- repr ---------------------------------------------------------------------------------- */

static int cmp_hp_name(const void *a, const void *b) {
    return strcmp((*(const cnnc__hp *const *)a)->name, (*(const cnnc__hp *const *)b)->name);
}

char *cnnc_optimizer_repr(const cnnc_optimizer *opt) {
    CNNC__NONNULL_OR_NULL("optimizer_repr", opt);
    cnnc__strbuf sb = {0};
    cnnc__strbuf_printf(&sb, "%s (", opt->desc->name);
    for (size_t g = 0; g < opt->n_groups; g++) {
        const cnnc__group *grp = &opt->groups[g];
        cnnc__strbuf_printf(&sb, "\nParameter Group %zu\n", g);
        const cnnc__hp **sorted = cnnc__calloc(grp->n_hp ? grp->n_hp : 1, sizeof *sorted);
        if (!sorted) {
            sb.failed = true;
            break;
        }
        for (size_t i = 0; i < grp->n_hp; i++) sorted[i] = &grp->hp[i];
        qsort(sorted, grp->n_hp, sizeof *sorted, cmp_hp_name);
        for (size_t i = 0; i < grp->n_hp; i++) {
            cnnc__strbuf_printf(&sb, "    %s: ", sorted[i]->name);
            if (sorted[i]->value.kind == CNNC_VALUE_STRING) /* str(), no quotes */
                cnnc__strbuf_printf(&sb, "%s", sorted[i]->value.s);
            else
                cnnc__lit_value(&sb, &sorted[i]->value);
            cnnc__strbuf_printf(&sb, "\n");
        }
        cnnc__free(sorted);
    }
    cnnc__strbuf_printf(&sb, ")");
    return cnnc__strbuf_finish(&sb, "an optimizer repr");
}
