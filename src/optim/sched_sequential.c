/* SequentialLR (PyTorch 1.13): runs its schedulers one after the other,
 * switching at the milestones, quirks included: the constructor resets every
 * group's lr to initial_lr, moves each scheduler one epoch back and redoes the
 * first one's initial step; at a milestone the next scheduler is stepped with
 * epoch 0 (its closed form where it has one). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "optim/sched.h"

/* Python's bisect_right, literally (the milestones need not be sorted). */
static size_t bisect_right(const int64_t *a, size_t n, int64_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x < a[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static cnnc_status copy_last_lr(cnnc_lr_scheduler *s, const cnnc_lr_scheduler *from) {
    double *v = cnnc__calloc(from->n_last ? from->n_last : 1, sizeof *v);
    if (!v) return cnnc__oom("SequentialLR's last lr");
    if (from->n_last) memcpy(v, from->last_lr, from->n_last * sizeof *v);
    cnnc__free(s->last_lr);
    s->last_lr = v;
    s->n_last = from->n_last;
    return CNNC_OK;
}

cnnc_status cnnc__sequential_step(cnnc_lr_scheduler *s) {
    if (s->last_epoch == INT64_MAX)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "SequentialLR.step(): last_epoch overflows");
    s->last_epoch++;
    const int64_t *ms = s->u.seq.milestones;
    size_t idx = bisect_right(ms, s->u.seq.n_milestones, s->last_epoch);
    cnnc_lr_scheduler *sub = s->u.seq.scheds[idx];
    bool at_milestone = idx > 0 && ms[idx - 1] == s->last_epoch;
    cnnc_status st = cnnc__sched_lr_step(sub, at_milestone, 0);
    return st == CNNC_OK ? copy_last_lr(s, sub) : st;
}

/* ---- state_dict ---------------------------------------------------------------------------- */

static cnnc_status seq_save(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *p) {
    cnnc_status st = cnnc__save_ints(l, p, "_milestones", s->u.seq.milestones, s->u.seq.n_milestones);
    if (st == CNNC_OK) st = cnnc__save_doubles(l, p, "_last_lr", s->last_lr, s->n_last);
    for (size_t k = 0; k < s->u.seq.n && st == CNNC_OK; k++) {
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%s_schedulers.%zu.", p, k);
        st = cnnc__sched_save(s->u.seq.scheds[k], l, prefix);
    }
    return st;
}

static cnnc_status seq_load(cnnc_lr_scheduler *s, const cnnc__meta *m) {
    size_t n_ms;
    cnnc_status st = cnnc__meta_ints(m, "_milestones", &s->u.seq.milestones, &n_ms);
    if (st == CNNC_OK && n_ms + 1 != s->u.seq.n)
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): '%s_milestones' has %zu "
                         "milestones for %zu schedulers", m->prefix, n_ms, s->u.seq.n);
    if (st != CNNC_OK) return st;
    s->u.seq.n_milestones = n_ms;
    st = cnnc__meta_doubles(m, "_last_lr", &s->last_lr, &s->n_last);
    char pp[256];
    snprintf(pp, sizeof pp, "%s_schedulers.", m->prefix);
    size_t lp = strlen(pp), n_meta = cnnc_tensor_list_meta_size(m->l);
    for (size_t i = 0; i < n_meta && st == CNNC_OK; i++) { /* no scheduler beyond ours */
        const char *k, *v;
        cnnc_tensor_list_meta_at(m->l, i, &k, &v);
        char *end;
        if (strncmp(k, pp, lp) == 0 && (strtoull(k + lp, &end, 10) >= s->u.seq.n || *end != '.'))
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): unexpected key '%s' "
                             "(the SequentialLR has %zu schedulers)", k, s->u.seq.n);
    }
    for (size_t k = 0; k < s->u.seq.n && st == CNNC_OK; k++) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s%zu.", pp, k);
        cnnc__meta sm = {m->l, prefix};
        st = cnnc__sched_load(s->u.seq.scheds[k], &sm);
    }
    return st;
}

static void seq_free(cnnc_lr_scheduler *s) {
    for (size_t k = 0; k < s->u.seq.n; k++)
        if (s->u.seq.scheds) cnnc_lr_scheduler_release(s->u.seq.scheds[k]);
    cnnc__free(s->u.seq.scheds);
    cnnc__free(s->u.seq.milestones);
    memset(&s->u.seq, 0, sizeof s->u.seq);
}

static cnnc_status seq_alloc(cnnc_lr_scheduler *s, size_t n, size_t n_ms) {
    s->u.seq.scheds = cnnc__calloc(n ? n : 1, sizeof *s->u.seq.scheds);
    s->u.seq.milestones = cnnc__calloc(n_ms ? n_ms : 1, sizeof *s->u.seq.milestones);
    s->u.seq.n = 0; /* counts the schedulers held so far */
    s->u.seq.n_milestones = n_ms;
    if (s->u.seq.scheds && s->u.seq.milestones) return CNNC_OK;
    seq_free(s);
    return CNNC_ERR_OUT_OF_MEMORY;
}

static cnnc_status seq_dup(cnnc_lr_scheduler *d, const cnnc_lr_scheduler *s) {
    if (seq_alloc(d, s->u.seq.n, s->u.seq.n_milestones) != CNNC_OK) return CNNC_ERR_OUT_OF_MEMORY;
    if (s->u.seq.n_milestones)
        memcpy(d->u.seq.milestones, s->u.seq.milestones, s->u.seq.n_milestones * sizeof(int64_t));
    for (size_t k = 0; k < s->u.seq.n; k++) {
        d->u.seq.scheds[k] = cnnc__sched_clone(s->u.seq.scheds[k]);
        if (!d->u.seq.scheds[k]) {
            seq_free(d);
            return CNNC_ERR_OUT_OF_MEMORY;
        }
        d->u.seq.n = k + 1;
    }
    return CNNC_OK;
}

static const char *const seq_keys[] = {"_milestones", "_last_lr", NULL};
static const cnnc__sched_field seq_fields[] = {CNNC__FIELD("last_epoch", CNNC__F_INT, last_epoch),
                                               {NULL, 0, 0}};
const cnnc__sched_desc cnnc__sequentiallr_desc = {"SequentialLR", CNNC__SCHED_SEQUENTIAL, NULL,
                                                  NULL, seq_fields, seq_save, seq_load, seq_keys,
                                                  seq_dup, seq_free};

/* ---- construction -------------------------------------------------------------------------- */

static cnnc_status check_args(cnnc_optimizer *opt, size_t n, cnnc_lr_scheduler *const *scheds,
                              size_t n_ms, const int64_t *ms) {
    const char *fn = "sequentiallr_new";
    if (!opt)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'optimizer' is NULL", fn);
    if ((n && !scheds) || (n_ms && !ms))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): a NULL array with a nonzero count", fn);
    for (size_t i = 0; i < n; i++) {
        if (!scheds[i])
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): schedulers[%zu] is NULL", fn, i);
        if (scheds[i]->opt != opt)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Sequential Schedulers expects all "
                               "schedulers to belong to the same optimizer, but got schedulers "
                               "at index %zu to be different than the optimizer passed in.", i);
    }
    if (n_ms + 1 != n)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Sequential Schedulers expects number of "
                           "schedulers provided to be one more than the number of milestone "
                           "points, but got number of schedulers %zu and the number of "
                           "milestones to be equal to %zu", n, n_ms);
    for (size_t i = 0; i < n; i++)
        if (!scheds[i]->desc->get_lr)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): schedulers[%zu] is a %s; cnnc "
                               "sequences only epoch-based schedulers (PyTorch fails on it at a "
                               "later step)", fn, i, scheds[i]->desc->name);
    for (size_t g = 0; g < opt->n_groups; g++)
        if (!cnnc__group_find(&opt->groups[g], "initial_lr"))
            return cnnc__error(CNNC_ERR_NOT_FOUND, "KeyError: 'initial_lr' (param_groups[%zu])", g);
    return CNNC_OK;
}

cnnc_lr_scheduler *cnnc_sequentiallr_new(cnnc_optimizer *optimizer, size_t n_schedulers,
                                         cnnc_lr_scheduler *const *schedulers, size_t n_milestones,
                                         const int64_t *milestones,
                                         cnnc_sequentiallr_options options) {
    if (check_args(optimizer, n_schedulers, schedulers, n_milestones, milestones) != CNNC_OK)
        return NULL;
    if (options.last_epoch == INT64_MAX)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "sequentiallr_new(): last_epoch overflows");
    cnnc_lr_scheduler *s = cnnc__sched_alloc("sequentiallr_new", optimizer, &cnnc__sequentiallr_desc);
    if (!s) return NULL;
    if (seq_alloc(s, n_schedulers, n_milestones) != CNNC_OK) {
        cnnc_lr_scheduler_release(s);
        return cnnc__oom("a SequentialLR"), NULL;
    }
    for (size_t k = 0; k < n_schedulers; k++) s->u.seq.scheds[k] = cnnc_lr_scheduler_retain(schedulers[k]);
    s->u.seq.n = n_schedulers;
    if (n_milestones) memcpy(s->u.seq.milestones, milestones, n_milestones * sizeof *milestones);
    s->last_epoch = options.last_epoch + 1;
    s->verbose = options.verbose;
    cnnc_status st = CNNC_OK;
    for (size_t g = 0; g < optimizer->n_groups && st == CNNC_OK; g++) {
        double lr;
        st = cnnc__opt_group_double(optimizer, g, "initial_lr", &lr);
        if (st == CNNC_OK) st = cnnc__opt_group_set_double(optimizer, g, "lr", lr);
    }
    for (size_t k = 0; k < n_schedulers && st == CNNC_OK; k++) s->u.seq.scheds[k]->last_epoch--;
    if (st == CNNC_OK) { /* schedulers[0]._initial_step() */
        s->u.seq.scheds[0]->step_count = 0;
        st = cnnc__sched_lr_step(s->u.seq.scheds[0], false, 0);
    }
    if (st == CNNC_OK) st = copy_last_lr(s, s->u.seq.scheds[0]);
    if (st != CNNC_OK) {
        cnnc_lr_scheduler_release(s);
        return NULL;
    }
    return s;
}
