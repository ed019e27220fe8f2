/* Learning-rate schedulers: what every kind shares (PyTorch's _LRScheduler:
 * initial_lr and base_lrs, the initial step, step(epoch), _last_lr), the public
 * calls, and the state_dict machinery. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "optim/sched.h"

/* ---- lifecycle ------------------------------------------------------------------------ */

cnnc_lr_scheduler *cnnc__sched_alloc(const char *fn, cnnc_optimizer *opt,
                                     const cnnc__sched_desc *desc) {
    if (!opt)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'optimizer' is NULL", fn);
    cnnc_lr_scheduler *s = cnnc__calloc(1, sizeof *s);
    if (!s) return cnnc__oom("a learning-rate scheduler"), NULL;
    atomic_init(&s->refcount, 1);
    s->kind = desc->kind;
    s->desc = desc;
    s->opt = cnnc_optimizer_retain(opt);
    return s;
}

static void sched_free(cnnc_lr_scheduler *s) {
    if (s->desc->free) s->desc->free(s);
    cnnc__free(s->base_lrs);
    cnnc__free(s->last_lr);
    cnnc_optimizer_release(s->opt);
    cnnc__free(s);
}

cnnc_lr_scheduler *cnnc_lr_scheduler_retain(cnnc_lr_scheduler *s) {
    if (s) atomic_fetch_add(&s->refcount, 1);
    return s;
}

void cnnc_lr_scheduler_release(cnnc_lr_scheduler *s) {
    if (s && atomic_fetch_sub(&s->refcount, 1) == 1) sched_free(s);
}

const char *cnnc_lr_scheduler_type(const cnnc_lr_scheduler *s) {
    CNNC__NONNULL_OR_NULL("lr_scheduler_type", s);
    return s->desc->name;
}

cnnc_optimizer *cnnc_lr_scheduler_optimizer(const cnnc_lr_scheduler *s) {
    CNNC__NONNULL_OR_NULL("lr_scheduler_optimizer", s);
    return s->opt;
}

cnnc_lr_scheduler *cnnc__sched_clone(const cnnc_lr_scheduler *s) {
    cnnc_lr_scheduler *c = cnnc__malloc(sizeof *c);
    if (!c) return cnnc__oom("a scheduler copy"), NULL;
    memcpy(c, s, sizeof *c);
    atomic_init(&c->refcount, 1);
    cnnc_optimizer_retain(c->opt);
    c->base_lrs = c->last_lr = NULL;
    bool ok = true;
    if (s->base_lrs) {
        c->base_lrs = cnnc__calloc(s->n_base ? s->n_base : 1, sizeof *c->base_lrs);
        if ((ok = c->base_lrs != NULL) && s->n_base)
            memcpy(c->base_lrs, s->base_lrs, s->n_base * sizeof(double));
    }
    if (ok && s->last_lr) {
        c->last_lr = cnnc__calloc(s->n_last ? s->n_last : 1, sizeof *c->last_lr);
        if ((ok = c->last_lr != NULL) && s->n_last)
            memcpy(c->last_lr, s->last_lr, s->n_last * sizeof(double));
    }
    /* the kind's arrays: dup copies them, and on failure leaves c owning none */
    if (ok && s->desc->dup) ok = s->desc->dup(c, s) == CNNC_OK;
    else if (!ok) memset(&c->u, 0, sizeof c->u);
    if (!ok) {
        sched_free(c);
        return cnnc__oom("a scheduler copy"), NULL;
    }
    return c;
}

/* Swaps the contents of real and its loaded copy (refcounts stay; a
 * SequentialLR's schedulers receive their copies' contents in turn). */
static void sched_commit(cnnc_lr_scheduler *real, cnnc_lr_scheduler *copy) {
    if (real->kind == CNNC__SCHED_SEQUENTIAL)
        for (size_t k = 0; k < real->u.seq.n; k++)
            sched_commit(real->u.seq.scheds[k], copy->u.seq.scheds[k]);
    cnnc_lr_scheduler tmp;
    memcpy(&tmp, real, sizeof tmp);
    memcpy(real, copy, sizeof tmp);
    memcpy(copy, &tmp, sizeof tmp);
    int rc = atomic_load(&real->refcount);
    atomic_store(&real->refcount, atomic_load(&copy->refcount));
    atomic_store(&copy->refcount, rc);
    if (real->kind == CNNC__SCHED_SEQUENTIAL) { /* each keeps its own schedulers */
        cnnc_lr_scheduler **scheds = real->u.seq.scheds;
        real->u.seq.scheds = copy->u.seq.scheds;
        copy->u.seq.scheds = scheds;
    }
}

/* ---- _LRScheduler ---------------------------------------------------------------------- */

double cnnc__sched_group_lr(const cnnc_lr_scheduler *s, size_t group) {
    double lr = 0;
    cnnc__opt_group_double(s->opt, group, "lr", &lr);
    return lr;
}

void cnnc__sched_print(const char *what, bool has_epoch, int64_t epoch, size_t group, double lr) {
    if (has_epoch)
        printf("Epoch %.5" PRId64 ": %s learning rate of group %zu to %.4e.\n", epoch, what, group, lr);
    else
        printf("Adjusting learning rate of group %zu to %.4e.\n", group, lr);
    fflush(stdout);
}

cnnc_status cnnc__sched_record_last_lr(cnnc_lr_scheduler *s) {
    size_t n = s->opt->n_groups;
    double *v = cnnc__calloc(n ? n : 1, sizeof *v);
    if (!v) return cnnc__oom("a scheduler's last lr");
    for (size_t g = 0; g < n; g++) {
        cnnc_status st = cnnc__opt_group_double(s->opt, g, "lr", &v[g]);
        if (st != CNNC_OK) {
            cnnc__free(v);
            return st;
        }
    }
    cnnc__free(s->last_lr);
    s->last_lr = v;
    s->n_last = n;
    return CNNC_OK;
}

cnnc_status cnnc__sched_lr_step(cnnc_lr_scheduler *s, bool has_epoch, int64_t epoch) {
    size_t n_groups = s->opt->n_groups, n = 0;
    double *lrs = cnnc__calloc(n_groups ? n_groups : 1, sizeof *lrs);
    if (!lrs) return cnnc__oom("a scheduler step");
    if (!has_epoch && s->last_epoch == INT64_MAX) {
        cnnc__free(lrs);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s.step(): last_epoch overflows",
                           s->desc->name);
    }
    s->step_count++;
    cnnc_status st;
    if (!has_epoch) {
        s->last_epoch++;
        st = s->desc->get_lr(s, lrs, &n);
    } else {
        s->last_epoch = epoch;
        st = (s->desc->closed_form ? s->desc->closed_form : s->desc->get_lr)(s, lrs, &n);
    }
    for (size_t g = 0; st == CNNC_OK && g < n && g < n_groups; g++) {
        st = cnnc__opt_group_set_double(s->opt, g, "lr", lrs[g]);
        if (st == CNNC_OK && s->verbose) cnnc__sched_print("adjusting", has_epoch, epoch, g, lrs[g]);
    }
    cnnc__free(lrs);
    return st == CNNC_OK ? cnnc__sched_record_last_lr(s) : st;
}

cnnc_lr_scheduler *cnnc__sched_init(cnnc_lr_scheduler *s, int64_t last_epoch, bool verbose) {
    cnnc_optimizer *opt = s->opt;
    cnnc_status st = CNNC_OK;
    for (size_t g = 0; g < opt->n_groups && st == CNNC_OK; g++) {
        double lr;
        bool has = cnnc__group_find(&opt->groups[g], "initial_lr") != NULL;
        if (last_epoch == -1 && !has) {
            st = cnnc__opt_group_double(opt, g, "lr", &lr);
            if (st == CNNC_OK) st = cnnc__opt_group_set_double(opt, g, "initial_lr", lr);
        } else if (last_epoch != -1 && !has) {
            st = cnnc__error(CNNC_ERR_NOT_FOUND, "param 'initial_lr' is not specified in "
                             "param_groups[%zu] when resuming an optimizer", g);
        }
    }
    if (st == CNNC_OK) {
        s->n_base = opt->n_groups;
        s->base_lrs = cnnc__calloc(s->n_base ? s->n_base : 1, sizeof *s->base_lrs);
        if (!s->base_lrs) st = cnnc__oom("a scheduler's base_lrs");
    }
    for (size_t g = 0; g < s->n_base && st == CNNC_OK; g++)
        st = cnnc__opt_group_double(opt, g, "initial_lr", &s->base_lrs[g]);
    if (st == CNNC_OK) {
        s->last_epoch = last_epoch;
        s->verbose = verbose;
        s->step_count = 0; /* _initial_step */
        st = cnnc__sched_lr_step(s, false, 0);
    }
    if (st != CNNC_OK) {
        cnnc_lr_scheduler_release(s);
        return NULL;
    }
    return s;
}

cnnc_status cnnc__group_values(const char *list_name, const char *fmt, size_t n_groups,
                               cnnc_group_values v, double *out) {
    if (v.n == 0) {
        for (size_t g = 0; g < n_groups; g++) out[g] = v.value;
        return CNNC_OK;
    }
    if (!v.values)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: %zu values but a NULL array", list_name,
                           v.n);
    if (v.n != n_groups) {
        char msg[256];
        snprintf(msg, sizeof msg, fmt, n_groups, list_name, v.n);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s", msg);
    }
    memcpy(out, v.values, n_groups * sizeof *out);
    return CNNC_OK;
}

/* ---- public calls ------------------------------------------------------------------------ */

cnnc_status cnnc_lr_scheduler_step(cnnc_lr_scheduler *s) {
    CNNC__NONNULL_OR_STATUS("lr_scheduler_step", s);
    if (s->kind == CNNC__SCHED_PLATEAU)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "ReduceLROnPlateau.step() missing 1 "
                           "required positional argument: 'metrics' (use "
                           "cnnc_lr_scheduler_step_metric)");
    if (s->kind == CNNC__SCHED_SEQUENTIAL) return cnnc__sequential_step(s);
    return cnnc__sched_lr_step(s, false, 0);
}

cnnc_status cnnc_lr_scheduler_step_epoch(cnnc_lr_scheduler *s, int64_t epoch) {
    CNNC__NONNULL_OR_STATUS("lr_scheduler_step_epoch", s);
    if (s->kind == CNNC__SCHED_PLATEAU || s->kind == CNNC__SCHED_SEQUENTIAL)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s.step() takes no epoch argument%s",
                           s->desc->name, s->kind == CNNC__SCHED_PLATEAU ? " without metrics" : "");
    return cnnc__sched_lr_step(s, true, epoch);
}

cnnc_status cnnc_lr_scheduler_step_metric(cnnc_lr_scheduler *s, double metric) {
    CNNC__NONNULL_OR_STATUS("lr_scheduler_step_metric", s);
    if (s->kind != CNNC__SCHED_PLATEAU)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s.step() takes no metrics (only "
                           "ReduceLROnPlateau does)", s->desc->name);
    return cnnc__plateau_step(s, metric);
}

size_t cnnc_lr_scheduler_get_last_lr(const cnnc_lr_scheduler *s, double *lrs, size_t cap) {
    if (!s) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "lr_scheduler_get_last_lr(): argument 's' is NULL"), 0;
    if (!s->last_lr)
        return cnnc__error(CNNC_ERR_RUNTIME, "'%s' object has no attribute '_last_lr' (no step "
                           "yet)", s->desc->name), 0;
    if (cap && !lrs)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "lr_scheduler_get_last_lr(): cap %zu with "
                           "a NULL array", cap), 0;
    for (size_t i = 0; i < s->n_last && i < cap; i++) lrs[i] = s->last_lr[i];
    return s->n_last;
}

int64_t cnnc_lr_scheduler_last_epoch(const cnnc_lr_scheduler *s) {
    if (!s) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "lr_scheduler_last_epoch(): argument 's' is NULL"), 0;
    return s->last_epoch;
}

cnnc_status cnnc_lr_scheduler_set_last_epoch(cnnc_lr_scheduler *s, int64_t last_epoch) {
    CNNC__NONNULL_OR_STATUS("lr_scheduler_set_last_epoch", s);
    s->last_epoch = last_epoch;
    return CNNC_OK;
}

/* ---- state_dict entries ---------------------------------------------------------------------- */

static cnnc_status save_text(cnnc_tensor_list *l, const char *prefix, const char *key,
                             cnnc__strbuf *sb) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, key);
    return cnnc__lit_set_meta(l, full, sb);
}

cnnc_status cnnc__save_int(cnnc_tensor_list *l, const char *prefix, const char *key, int64_t v) {
    cnnc__strbuf sb = {0};
    cnnc__strbuf_printf(&sb, "%" PRId64, v);
    return save_text(l, prefix, key, &sb);
}

cnnc_status cnnc__save_double(cnnc_tensor_list *l, const char *prefix, const char *key, double v) {
    cnnc__strbuf sb = {0};
    cnnc__lit_double(&sb, v);
    return save_text(l, prefix, key, &sb);
}

cnnc_status cnnc__save_bool(cnnc_tensor_list *l, const char *prefix, const char *key, bool v) {
    cnnc__strbuf sb = {0};
    cnnc__strbuf_printf(&sb, v ? "True" : "False");
    return save_text(l, prefix, key, &sb);
}

cnnc_status cnnc__save_str(cnnc_tensor_list *l, const char *prefix, const char *key, const char *v) {
    cnnc__strbuf sb = {0};
    cnnc__lit_str(&sb, v);
    return save_text(l, prefix, key, &sb);
}

cnnc_status cnnc__save_doubles(cnnc_tensor_list *l, const char *prefix, const char *key,
                               const double *v, size_t n) {
    cnnc__strbuf sb = {0};
    cnnc__lit_doubles(&sb, v, n);
    return save_text(l, prefix, key, &sb);
}

cnnc_status cnnc__save_ints(cnnc_tensor_list *l, const char *prefix, const char *key,
                            const int64_t *v, size_t n) {
    cnnc__strbuf sb = {0};
    cnnc__lit_ints(&sb, v, n);
    return save_text(l, prefix, key, &sb);
}

const char *cnnc__meta_get(const cnnc__meta *m, const char *key) {
    size_t n = cnnc_tensor_list_meta_size(m->l), lp = strlen(m->prefix);
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        cnnc_tensor_list_meta_at(m->l, i, &k, &v);
        if (strncmp(k, m->prefix, lp) == 0 && strcmp(k + lp, key) == 0) return v;
    }
    return NULL;
}

static cnnc_status meta_text(const cnnc__meta *m, const char *key, const char **text) {
    *text = cnnc__meta_get(m, key);
    if (!*text)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): the state_dict has no "
                           "'%s%s'", m->prefix, key);
    return CNNC_OK;
}

static cnnc_status bad_entry(const cnnc__meta *m, const char *key, const char *text,
                             const char *want) {
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): '%s%s' must be %s, got '%s'",
                       m->prefix, key, want, text);
}

cnnc_status cnnc__meta_int(const cnnc__meta *m, const char *key, int64_t *out) {
    const char *t;
    cnnc_status st = meta_text(m, key, &t);
    if (st == CNNC_OK && !cnnc__lit_parse_int(t, out)) st = bad_entry(m, key, t, "an int");
    return st;
}

cnnc_status cnnc__meta_double(const cnnc__meta *m, const char *key, double *out) {
    const char *t;
    cnnc_status st = meta_text(m, key, &t);
    if (st == CNNC_OK && !cnnc__lit_parse_double(t, out)) st = bad_entry(m, key, t, "a number");
    return st;
}

cnnc_status cnnc__meta_bool(const cnnc__meta *m, const char *key, bool *out) {
    const char *t;
    cnnc_status st = meta_text(m, key, &t);
    if (st == CNNC_OK && !cnnc__lit_parse_bool(t, out)) st = bad_entry(m, key, t, "True or False");
    return st;
}

cnnc_status cnnc__meta_choice(const cnnc__meta *m, const char *key, const char *const *choices,
                              int n, int *out) {
    const char *t;
    char *v = NULL;
    cnnc_status st = meta_text(m, key, &t);
    if (st != CNNC_OK) return st;
    st = cnnc__lit_parse_str(t, &v);
    if (st == CNNC_ERR_OUT_OF_MEMORY) return st;
    for (int i = 0; st == CNNC_OK && i < n; i++) {
        if (strcmp(v, choices[i]) == 0) {
            cnnc__free(v);
            *out = i;
            return CNNC_OK;
        }
    }
    cnnc__free(v);
    return bad_entry(m, key, t, "one of the scheduler's choices");
}

cnnc_status cnnc__meta_doubles(const cnnc__meta *m, const char *key, double **out, size_t *n) {
    const char *t;
    double *v;
    cnnc_status st = meta_text(m, key, &t);
    if (st == CNNC_OK) st = cnnc__lit_parse_doubles(t, &v, n);
    if (st == CNNC_ERR_INVALID_ARGUMENT) return bad_entry(m, key, t, "a list of numbers");
    if (st != CNNC_OK) return st;
    cnnc__free(*out);
    *out = v;
    return CNNC_OK;
}

cnnc_status cnnc__meta_ints(const cnnc__meta *m, const char *key, int64_t **out, size_t *n) {
    const char *t;
    int64_t *v;
    cnnc_status st = meta_text(m, key, &t);
    if (st == CNNC_OK) st = cnnc__lit_parse_ints(t, &v, n);
    if (st == CNNC_ERR_INVALID_ARGUMENT) return bad_entry(m, key, t, "a list of ints");
    if (st != CNNC_OK) return st;
    cnnc__free(*out);
    *out = v;
    return CNNC_OK;
}

/* ---- state_dict / load_state_dict ------------------------------------------------------------ */

static const char *const common_keys[] = {"base_lrs", "last_epoch", "verbose", "_step_count",
                                          "_get_lr_called_within_step", "_last_lr", NULL};

static bool is_lr_scheduler(const cnnc_lr_scheduler *s) { return s->desc->get_lr != NULL; }

static cnnc_status save_fields(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *p) {
    cnnc_status st = CNNC_OK;
    for (const cnnc__sched_field *f = s->desc->fields; f && f->name && st == CNNC_OK; f++) {
        const char *at = (const char *)s + f->offset;
        if (f->type == CNNC__F_INT) st = cnnc__save_int(l, p, f->name, *(const int64_t *)at);
        else if (f->type == CNNC__F_DOUBLE) st = cnnc__save_double(l, p, f->name, *(const double *)at);
        else st = cnnc__save_bool(l, p, f->name, *(const bool *)at);
    }
    return st;
}

static cnnc_status load_fields(cnnc_lr_scheduler *s, const cnnc__meta *m) {
    cnnc_status st = CNNC_OK;
    for (const cnnc__sched_field *f = s->desc->fields; f && f->name && st == CNNC_OK; f++) {
        char *at = (char *)s + f->offset;
        if (f->type == CNNC__F_INT) st = cnnc__meta_int(m, f->name, (int64_t *)at);
        else if (f->type == CNNC__F_DOUBLE) st = cnnc__meta_double(m, f->name, (double *)at);
        else st = cnnc__meta_bool(m, f->name, (bool *)at);
    }
    return st;
}

cnnc_status cnnc__sched_save(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *prefix) {
    cnnc_status st = save_fields(s, l, prefix);
    if (st == CNNC_OK && s->desc->save) st = s->desc->save(s, l, prefix);
    if (st != CNNC_OK || !is_lr_scheduler(s)) return st;
    st = cnnc__save_doubles(l, prefix, "base_lrs", s->base_lrs, s->n_base);
    if (st == CNNC_OK) st = cnnc__save_int(l, prefix, "last_epoch", s->last_epoch);
    if (st == CNNC_OK) st = cnnc__save_bool(l, prefix, "verbose", s->verbose);
    if (st == CNNC_OK) st = cnnc__save_int(l, prefix, "_step_count", s->step_count);
    if (st == CNNC_OK) st = cnnc__save_bool(l, prefix, "_get_lr_called_within_step", false);
    if (st == CNNC_OK) st = cnnc__save_doubles(l, prefix, "_last_lr", s->last_lr, s->n_last);
    return st;
}

static bool in_list(const char *const *keys, const char *k) {
    for (; keys && *keys; keys++)
        if (strcmp(*keys, k) == 0) return true;
    return false;
}

static bool is_field(const cnnc__sched_field *f, const char *k) {
    for (; f && f->name; f++)
        if (strcmp(f->name, k) == 0) return true;
    return false;
}

/* Every key under the prefix must be the scheduler's (nested lists are checked
 * by their own loads). */
static cnnc_status check_keys(const cnnc_lr_scheduler *s, const cnnc__meta *m) {
    size_t n = cnnc_tensor_list_meta_size(m->l), lp = strlen(m->prefix);
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        cnnc_tensor_list_meta_at(m->l, i, &k, &v);
        if (strncmp(k, m->prefix, lp) != 0) continue;
        const char *rest = k + lp;
        if (is_field(s->desc->fields, rest) || in_list(s->desc->keys, rest) ||
            (is_lr_scheduler(s) && in_list(common_keys, rest)))
            continue;
        if ((s->kind == CNNC__SCHED_SEQUENTIAL && strncmp(rest, "_schedulers.", 12) == 0) ||
            (s->kind == CNNC__SCHED_ONECYCLE && strncmp(rest, "_schedule_phases.", 17) == 0))
            continue;
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): unexpected key '%s' "
                           "for a %s", k, s->desc->name);
    }
    return CNNC_OK;
}

cnnc_status cnnc__sched_load(cnnc_lr_scheduler *s, const cnnc__meta *m) {
    cnnc_status st = check_keys(s, m);
    if (st == CNNC_OK) st = load_fields(s, m);
    if (st == CNNC_OK && s->desc->load) st = s->desc->load(s, m);
    if (st != CNNC_OK || !is_lr_scheduler(s)) return st;
    bool flag;
    st = cnnc__meta_doubles(m, "base_lrs", &s->base_lrs, &s->n_base);
    if (st == CNNC_OK) st = cnnc__meta_int(m, "last_epoch", &s->last_epoch);
    if (st == CNNC_OK) st = cnnc__meta_bool(m, "verbose", &s->verbose);
    if (st == CNNC_OK) st = cnnc__meta_int(m, "_step_count", &s->step_count);
    if (st == CNNC_OK && cnnc__meta_get(m, "_get_lr_called_within_step"))
        st = cnnc__meta_bool(m, "_get_lr_called_within_step", &flag);
    if (st == CNNC_OK) st = cnnc__meta_doubles(m, "_last_lr", &s->last_lr, &s->n_last);
    return st;
}

cnnc_tensor_list *cnnc_lr_scheduler_state_dict(const cnnc_lr_scheduler *s) {
    CNNC__NONNULL_OR_NULL("lr_scheduler_state_dict", s);
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    if (l && cnnc__sched_save(s, l, "") != CNNC_OK) {
        cnnc_tensor_list_free(l);
        return NULL;
    }
    return l;
}

cnnc_status cnnc_lr_scheduler_load_state_dict(cnnc_lr_scheduler *s, const cnnc_tensor_list *sd) {
    CNNC__NONNULL_OR_STATUS("lr_scheduler_load_state_dict", s);
    CNNC__NONNULL_OR_STATUS("lr_scheduler_load_state_dict", sd);
    cnnc_lr_scheduler *copy = cnnc__sched_clone(s);
    if (!copy) return CNNC_ERR_OUT_OF_MEMORY;
    cnnc__meta m = {sd, ""};
    cnnc_status st = cnnc__sched_load(copy, &m);
    if (st == CNNC_OK) sched_commit(s, copy);
    cnnc_lr_scheduler_release(copy);
    return st;
}
