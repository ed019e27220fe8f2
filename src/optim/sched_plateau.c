/* ReduceLROnPlateau: lr *= factor (down to min_lr) when the metric has not
 * improved for `patience` steps, then `cooldown` steps of rest. PyTorch 1.13's
 * class is not an _LRScheduler: no initial step, no initial_lr, no _last_lr
 * before the first step. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "optim/sched.h"

static bool is_better(const cnnc_lr_scheduler *s, double a, double best) {
    double t = s->u.plateau.threshold;
    if (!s->u.plateau.mode_max) return s->u.plateau.threshold_abs ? a < best - t : a < best * (1. - t);
    return s->u.plateau.threshold_abs ? a > best + t : a > best * (t + 1.);
}

static cnnc_status reduce_lr(cnnc_lr_scheduler *s, int64_t epoch) {
    for (size_t g = 0; g < s->opt->n_groups; g++) {
        if (g >= s->u.plateau.n_min)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "list index out of range (min_lrs has "
                               "%zu entries, the optimizer %zu groups)", s->u.plateau.n_min,
                               s->opt->n_groups);
        double old_lr, new_lr, min_lr = s->u.plateau.min_lrs[g];
        cnnc_status st = cnnc__opt_group_double(s->opt, g, "lr", &old_lr);
        if (st != CNNC_OK) return st;
        new_lr = old_lr * s->u.plateau.factor;
        if (min_lr > new_lr) new_lr = min_lr; /* Python's max(new, min_lr) */
        if (old_lr - new_lr > s->u.plateau.eps) {
            st = cnnc__opt_group_set_double(s->opt, g, "lr", new_lr);
            if (st != CNNC_OK) return st;
            if (s->verbose) cnnc__sched_print("reducing", true, epoch, g, new_lr);
        }
    }
    return CNNC_OK;
}

cnnc_status cnnc__plateau_step(cnnc_lr_scheduler *s, double metric) {
    if (s->last_epoch == INT64_MAX)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "ReduceLROnPlateau.step(): last_epoch overflows");
    int64_t epoch = s->last_epoch + 1;
    s->last_epoch = epoch;
    if (is_better(s, metric, s->u.plateau.best)) {
        s->u.plateau.best = metric;
        s->u.plateau.num_bad_epochs = 0;
    } else {
        s->u.plateau.num_bad_epochs++;
    }
    if (s->u.plateau.cooldown_counter > 0) { /* in_cooldown: ignore bad epochs */
        s->u.plateau.cooldown_counter--;
        s->u.plateau.num_bad_epochs = 0;
    }
    if (s->u.plateau.num_bad_epochs > s->u.plateau.patience) {
        cnnc_status st = reduce_lr(s, epoch);
        if (st != CNNC_OK) return st;
        s->u.plateau.cooldown_counter = s->u.plateau.cooldown;
        s->u.plateau.num_bad_epochs = 0;
    }
    return cnnc__sched_record_last_lr(s);
}

/* ---- state_dict ---------------------------------------------------------------------------- */

static const char *const modes[] = {"min", "max"};
static const char *const threshold_modes[] = {"rel", "abs"};

static cnnc_status plateau_save(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *p) {
    cnnc_status st = cnnc__save_doubles(l, p, "min_lrs", s->u.plateau.min_lrs, s->u.plateau.n_min);
    if (st == CNNC_OK) st = cnnc__save_str(l, p, "mode", modes[s->u.plateau.mode_max]);
    if (st == CNNC_OK)
        st = cnnc__save_str(l, p, "threshold_mode", threshold_modes[s->u.plateau.threshold_abs]);
    if (st == CNNC_OK && s->last_lr) st = cnnc__save_doubles(l, p, "_last_lr", s->last_lr, s->n_last);
    return st;
}

/* PyTorch's load: __dict__.update, then _init_is_better (mode_worse from mode). */
static cnnc_status plateau_load(cnnc_lr_scheduler *s, const cnnc__meta *m) {
    int mode, tmode;
    cnnc_status st = cnnc__meta_doubles(m, "min_lrs", &s->u.plateau.min_lrs, &s->u.plateau.n_min);
    if (st == CNNC_OK) st = cnnc__meta_choice(m, "mode", modes, 2, &mode);
    if (st == CNNC_OK) st = cnnc__meta_choice(m, "threshold_mode", threshold_modes, 2, &tmode);
    if (st == CNNC_OK && cnnc__meta_get(m, "_last_lr"))
        st = cnnc__meta_doubles(m, "_last_lr", &s->last_lr, &s->n_last);
    if (st != CNNC_OK) return st;
    s->u.plateau.mode_max = mode == 1;
    s->u.plateau.threshold_abs = tmode == 1;
    s->u.plateau.mode_worse = mode == 1 ? -INFINITY : INFINITY;
    return CNNC_OK;
}

static void plateau_free(cnnc_lr_scheduler *s) {
    cnnc__free(s->u.plateau.min_lrs);
    s->u.plateau.min_lrs = NULL;
    s->u.plateau.n_min = 0;
}

static cnnc_status plateau_dup(cnnc_lr_scheduler *d, const cnnc_lr_scheduler *s) {
    size_t n = s->u.plateau.n_min;
    d->u.plateau.min_lrs = cnnc__calloc(n ? n : 1, sizeof(double));
    if (!d->u.plateau.min_lrs) {
        d->u.plateau.n_min = 0;
        return CNNC_ERR_OUT_OF_MEMORY;
    }
    if (n) memcpy(d->u.plateau.min_lrs, s->u.plateau.min_lrs, n * sizeof(double));
    return CNNC_OK;
}

static const char *const plateau_keys[] = {"min_lrs", "mode", "threshold_mode", "_last_lr", NULL};
static const cnnc__sched_field plateau_fields[] = {
    CNNC__FIELD("factor", CNNC__F_DOUBLE, u.plateau.factor),
    CNNC__FIELD("patience", CNNC__F_INT, u.plateau.patience),
    CNNC__FIELD("verbose", CNNC__F_BOOL, verbose),
    CNNC__FIELD("cooldown", CNNC__F_INT, u.plateau.cooldown),
    CNNC__FIELD("cooldown_counter", CNNC__F_INT, u.plateau.cooldown_counter),
    CNNC__FIELD("threshold", CNNC__F_DOUBLE, u.plateau.threshold),
    CNNC__FIELD("best", CNNC__F_DOUBLE, u.plateau.best),
    CNNC__FIELD("num_bad_epochs", CNNC__F_INT, u.plateau.num_bad_epochs),
    CNNC__FIELD("mode_worse", CNNC__F_DOUBLE, u.plateau.mode_worse),
    CNNC__FIELD("eps", CNNC__F_DOUBLE, u.plateau.eps),
    CNNC__FIELD("last_epoch", CNNC__F_INT, last_epoch),
    {NULL, 0, 0}};
const cnnc__sched_desc cnnc__reducelronplateau_desc = {
    "ReduceLROnPlateau", CNNC__SCHED_PLATEAU, NULL, NULL, plateau_fields, plateau_save,
    plateau_load, plateau_keys, plateau_dup, plateau_free};

cnnc_lr_scheduler *cnnc_reducelronplateau_new(cnnc_optimizer *optimizer,
                                              cnnc_reducelronplateau_options options) {
    if (options.factor >= 1.0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Factor should be < 1.0.");
    cnnc_lr_scheduler *s =
        cnnc__sched_alloc("reducelronplateau_new", optimizer, &cnnc__reducelronplateau_desc);
    if (!s) return NULL;
    size_t n = optimizer->n_groups;
    const char *mode = options.mode ? options.mode : "min";
    const char *tmode = options.threshold_mode ? options.threshold_mode : "rel";
    cnnc_status st = CNNC_OK;
    s->u.plateau.min_lrs = cnnc__calloc(n ? n : 1, sizeof(double));
    if (!s->u.plateau.min_lrs) st = cnnc__oom("ReduceLROnPlateau's min_lrs");
    if (st == CNNC_OK)
        st = cnnc__group_values("min_lrs", "expected %zu %s, got %zu", n, options.min_lr,
                                s->u.plateau.min_lrs);
    if (st == CNNC_OK && strcmp(mode, "min") != 0 && strcmp(mode, "max") != 0)
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "mode %s is unknown!", mode);
    if (st == CNNC_OK && strcmp(tmode, "rel") != 0 && strcmp(tmode, "abs") != 0)
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "threshold mode %s is unknown!", tmode);
    if (st != CNNC_OK) {
        cnnc_lr_scheduler_release(s);
        return NULL;
    }
    s->u.plateau.n_min = n;
    s->u.plateau.factor = options.factor;
    s->u.plateau.patience = options.patience;
    s->verbose = options.verbose;
    s->u.plateau.cooldown = options.cooldown;
    s->u.plateau.mode_max = strcmp(mode, "max") == 0;
    s->u.plateau.threshold = options.threshold;
    s->u.plateau.threshold_abs = strcmp(tmode, "abs") == 0;
    s->u.plateau.mode_worse = s->u.plateau.mode_max ? -INFINITY : INFINITY;
    s->u.plateau.best = s->u.plateau.mode_worse;
    s->u.plateau.eps = options.eps;
    return s;
}
