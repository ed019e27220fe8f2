/* OneCycleLR: two or three phases annealing the groups' lr (and momentum or
 * Adam's beta1) between values stored in the groups themselves
 * ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "optim/pymath.h"
#include "optim/sched.h"

const char *const cnnc__onecycle_keys[CNNC__OC_KEY_COUNT] = {"initial_lr", "max_lr", "min_lr",
                                                            "max_momentum", "base_momentum"};

static double anneal(bool linear, double start, double end, double pct) {
    if (linear) return (end - start) * pct + start;
    double cos_out = cos(CNNC__PI * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
}

static cnnc_status group_value(const cnnc_lr_scheduler *s, size_t g, cnnc__onecycle_key k,
                               double *out) {
    return cnnc__opt_group_double(s->opt, g, cnnc__onecycle_keys[k], out);
}

/* group['betas'] = (momentum, *group['betas'][1:]) or group['momentum'] = momentum */
static cnnc_status set_momentum(cnnc_lr_scheduler *s, size_t g, double m) {
    if (!s->u.onecycle.use_beta1) return cnnc__opt_group_set_double(s->opt, g, "momentum", m);
    cnnc__hp *hp = cnnc__group_find(&s->opt->groups[g], "betas");
    if (!hp || hp->value.kind != CNNC_VALUE_FLOATS || hp->value.n < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "OneCycleLR: param_groups[%zu]['betas'] is "
                           "not a tuple of numbers", g);
    hp->value.fs[0] = m;
    return CNNC_OK;
}

static cnnc_status onecycle_group(cnnc_lr_scheduler *s, size_t g, double *lr) {
    double step_num = (double)s->last_epoch, start_step = 0, v[4];
    int n = s->u.onecycle.n_phases;
    for (int i = 0; i < n; i++) {
        const cnnc__phase *ph = &s->u.onecycle.phases[i];
        if (step_num <= ph->end_step || i == n - 1) {
            double pct;
            cnnc_status st = cnnc__py_div(step_num - start_step, ph->end_step - start_step, &pct);
            if (st == CNNC_OK) st = group_value(s, g, ph->start_lr, &v[0]);
            if (st == CNNC_OK) st = group_value(s, g, ph->end_lr, &v[1]);
            if (st != CNNC_OK) return st;
            *lr = anneal(s->u.onecycle.linear, v[0], v[1], pct);
            if (!s->u.onecycle.cycle_momentum) return CNNC_OK;
            st = group_value(s, g, ph->start_momentum, &v[2]);
            if (st == CNNC_OK) st = group_value(s, g, ph->end_momentum, &v[3]);
            return st == CNNC_OK ? set_momentum(s, g, anneal(s->u.onecycle.linear, v[2], v[3], pct))
                                 : st;
        }
        start_step = ph->end_step;
    }
    return cnnc__error(CNNC_ERR_RUNTIME, "OneCycleLR has no phases");
}

static cnnc_status onecycle_get_lr(cnnc_lr_scheduler *s, double *lrs, size_t *n) {
    if (s->last_epoch > s->u.onecycle.total_steps)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Tried to step %lld times. The specified "
                           "number of total steps is %lld", (long long)s->last_epoch + 1,
                           (long long)s->u.onecycle.total_steps);
    *n = s->opt->n_groups;
    for (size_t g = 0; g < *n; g++) {
        cnnc_status st = onecycle_group(s, g, &lrs[g]);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

/* ---- state_dict ------------------------------------------------------------------------ */

static const char *const strategies[] = {"cos", "linear"};
static const char *const phase_fields[] = {"start_lr", "end_lr", "start_momentum", "end_momentum"};

static cnnc_status onecycle_save(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *p) {
    cnnc_status st = CNNC_OK;
    for (int i = 0; i < s->u.onecycle.n_phases && st == CNNC_OK; i++) {
        const cnnc__phase *ph = &s->u.onecycle.phases[i];
        const cnnc__onecycle_key k[4] = {ph->start_lr, ph->end_lr, ph->start_momentum,
                                         ph->end_momentum};
        char prefix[256];
        snprintf(prefix, sizeof prefix, "%s_schedule_phases.%d.", p, i);
        st = cnnc__save_double(l, prefix, "end_step", ph->end_step);
        for (int f = 0; f < 4 && st == CNNC_OK; f++)
            st = cnnc__save_str(l, prefix, phase_fields[f], cnnc__onecycle_keys[k[f]]);
    }
    if (st == CNNC_OK) st = cnnc__save_str(l, p, "anneal_strategy", strategies[s->u.onecycle.linear]);
    if (st == CNNC_OK && s->u.onecycle.cycle_momentum)
        st = cnnc__save_bool(l, p, "use_beta1", s->u.onecycle.use_beta1);
    return st;
}

/* The phases "_schedule_phases.<i>.<field>", i < 3, all fields present. */
static cnnc_status load_phases(cnnc_lr_scheduler *s, const cnnc__meta *m) {
    char pp[256];
    snprintf(pp, sizeof pp, "%s_schedule_phases.", m->prefix);
    size_t lp = strlen(pp), n_meta = cnnc_tensor_list_meta_size(m->l);
    int n = 0;
    for (size_t i = 0; i < n_meta; i++) {
        const char *k, *v;
        cnnc_tensor_list_meta_at(m->l, i, &k, &v);
        if (strncmp(k, pp, lp) != 0) continue;
        char *end;
        long idx = strtol(k + lp, &end, 10);
        bool field = *end == '.' && (strcmp(end + 1, "end_step") == 0 ||
                                     strcmp(end + 1, "start_lr") == 0 || strcmp(end + 1, "end_lr") == 0 ||
                                     strcmp(end + 1, "start_momentum") == 0 ||
                                     strcmp(end + 1, "end_momentum") == 0);
        if (end == k + lp || idx < 0 || idx > 2 || !field)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): unexpected key "
                               "'%s' (OneCycleLR has 2 or 3 phases of end_step, start_lr, "
                               "end_lr, start_momentum, end_momentum)", k);
        if (idx + 1 > n) n = (int)idx + 1;
    }
    if (n < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "load_state_dict(): the state_dict has no "
                           "'%s_schedule_phases'", m->prefix);
    for (int i = 0; i < n; i++) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s%d.", pp, i);
        cnnc__meta pm = {m->l, prefix};
        cnnc__phase *ph = &s->u.onecycle.phases[i];
        cnnc__onecycle_key *k[4] = {&ph->start_lr, &ph->end_lr, &ph->start_momentum,
                                    &ph->end_momentum};
        cnnc_status st = cnnc__meta_double(&pm, "end_step", &ph->end_step);
        for (int f = 0; f < 4 && st == CNNC_OK; f++) {
            int choice;
            st = cnnc__meta_choice(&pm, phase_fields[f], cnnc__onecycle_keys, CNNC__OC_KEY_COUNT,
                                   &choice);
            *k[f] = (cnnc__onecycle_key)choice;
        }
        if (st != CNNC_OK) return st;
    }
    s->u.onecycle.n_phases = n;
    return CNNC_OK;
}

static cnnc_status onecycle_load(cnnc_lr_scheduler *s, const cnnc__meta *m) {
    int strategy;
    cnnc_status st = load_phases(s, m); /* after the fields: cycle_momentum is read */
    if (st == CNNC_OK) st = cnnc__meta_choice(m, "anneal_strategy", strategies, 2, &strategy);
    if (st == CNNC_OK && s->u.onecycle.cycle_momentum)
        st = cnnc__meta_bool(m, "use_beta1", &s->u.onecycle.use_beta1);
    if (st == CNNC_OK) s->u.onecycle.linear = strategy == 1;
    return st;
}

static const char *const onecycle_keys[] = {"anneal_strategy", "use_beta1", NULL};
static const cnnc__sched_field onecycle_fields[] = {
    CNNC__FIELD("total_steps", CNNC__F_INT, u.onecycle.total_steps),
    CNNC__FIELD("cycle_momentum", CNNC__F_BOOL, u.onecycle.cycle_momentum), {NULL, 0, 0}};
const cnnc__sched_desc cnnc__onecyclelr_desc = {
    "OneCycleLR", CNNC__SCHED_ONECYCLE, onecycle_get_lr, NULL, onecycle_fields, onecycle_save,
    onecycle_load, onecycle_keys, NULL, NULL};

/* ---- construction ------------------------------------------------------------------------ */

static cnnc_status total_steps(const cnnc_onecyclelr_options *o, int64_t *out) {
    if (!o->total_steps.has_value && !o->epochs.has_value && !o->steps_per_epoch.has_value)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "You must define either total_steps OR (epochs AND steps_per_epoch)");
    if (o->total_steps.has_value) {
        if (o->total_steps.value <= 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Expected positive integer total_steps, "
                               "but got %lld", (long long)o->total_steps.value);
        *out = o->total_steps.value;
        return CNNC_OK;
    }
    const cnnc_optional_int *v[2] = {&o->epochs, &o->steps_per_epoch};
    const char *names[2] = {"epochs", "steps_per_epoch"};
    for (int i = 0; i < 2; i++) {
        if (!v[i]->has_value)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Expected positive integer %s, but got "
                               "None", names[i]);
        if (v[i]->value <= 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Expected positive integer %s, but got "
                               "%lld", names[i], (long long)v[i]->value);
    }
    if (__builtin_mul_overflow(o->epochs.value, o->steps_per_epoch.value, out))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "OneCycleLR: epochs * steps_per_epoch overflows");
    return CNNC_OK;
}

static void make_phases(cnnc_lr_scheduler *s, double pct, bool three) {
    double total = (double)s->u.onecycle.total_steps;
    cnnc__phase *p = s->u.onecycle.phases;
    p[0] = (cnnc__phase){pct * total - 1, CNNC__OC_INITIAL_LR, CNNC__OC_MAX_LR,
                         CNNC__OC_MAX_MOMENTUM, CNNC__OC_BASE_MOMENTUM};
    if (three) {
        p[1] = (cnnc__phase){2 * pct * total - 2, CNNC__OC_MAX_LR, CNNC__OC_INITIAL_LR,
                             CNNC__OC_BASE_MOMENTUM, CNNC__OC_MAX_MOMENTUM};
        p[2] = (cnnc__phase){total - 1, CNNC__OC_INITIAL_LR, CNNC__OC_MIN_LR,
                             CNNC__OC_MAX_MOMENTUM, CNNC__OC_MAX_MOMENTUM};
    } else {
        p[1] = (cnnc__phase){total - 1, CNNC__OC_MAX_LR, CNNC__OC_MIN_LR, CNNC__OC_BASE_MOMENTUM,
                             CNNC__OC_MAX_MOMENTUM};
    }
    s->u.onecycle.n_phases = three ? 3 : 2;
}

/* PyTorch's checks, all before a group changes. v: [3][n] max_lr, max/base momentum. */
static cnnc_status check_options(cnnc_optimizer *opt, cnnc_group_values max_lr,
                                 const cnnc_onecyclelr_options *o, double *v, int *strategy) {
    size_t n = opt->n_groups;
    char b[64];
    if (o->pct_start < 0 || o->pct_start > 1) {
        cnnc__float_repr(o->pct_start, b, sizeof b);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Expected float between 0 and 1 pct_start, "
                           "but got %s", b);
    }
    const char *a = o->anneal_strategy ? o->anneal_strategy : "cos";
    if (strcmp(a, "cos") != 0 && strcmp(a, "linear") != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "anneal_strategy must by one of 'cos' or "
                           "'linear', instead got %s", a);
    *strategy = strcmp(a, "linear") == 0;
    const char *fmt = "expected %zu values for %s, got %zu";
    cnnc_status st = cnnc__group_values("max_lr", fmt, n, max_lr, v);
    for (size_t g = 0; g < n && st == CNNC_OK && o->last_epoch == -1; g++) {
        double init;
        st = cnnc__py_div(v[g], o->div_factor, &init);
        if (st == CNNC_OK) st = cnnc__py_div(init, o->final_div_factor, &init);
    }
    if (st != CNNC_OK || !o->cycle_momentum) return st;
    if (opt->kind == CNNC__OPT_ADAGRAD)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "optimizer must support momentum with "
                           "`cycle_momentum` option enabled");
    st = cnnc__group_values("max_momentum", fmt, n, o->max_momentum, v + n);
    return st == CNNC_OK ? cnnc__group_values("base_momentum", fmt, n, o->base_momentum, v + 2 * n)
                         : st;
}

static cnnc_status set_groups(cnnc_lr_scheduler *s, const cnnc_onecyclelr_options *o,
                              const double *v) {
    cnnc_optimizer *opt = s->opt;
    size_t n = opt->n_groups;
    cnnc_status st = CNNC_OK;
    for (size_t g = 0; g < n && st == CNNC_OK && o->last_epoch == -1; g++) {
        double init = v[g] / o->div_factor;
        st = cnnc__opt_group_set_double(opt, g, "initial_lr", init);
        if (st == CNNC_OK) st = cnnc__opt_group_set_double(opt, g, "max_lr", v[g]);
        if (st == CNNC_OK) st = cnnc__opt_group_set_double(opt, g, "min_lr", init / o->final_div_factor);
    }
    for (size_t g = 0; g < n && st == CNNC_OK && o->cycle_momentum && o->last_epoch == -1; g++) {
        st = set_momentum(s, g, v[n + g]);
        if (st == CNNC_OK) st = cnnc__opt_group_set_double(opt, g, "max_momentum", v[n + g]);
        if (st == CNNC_OK) st = cnnc__opt_group_set_double(opt, g, "base_momentum", v[2 * n + g]);
    }
    return st;
}

cnnc_lr_scheduler *cnnc_onecyclelr_new(cnnc_optimizer *optimizer, cnnc_group_values max_lr,
                                       cnnc_onecyclelr_options options) {
    cnnc_lr_scheduler *s = cnnc__sched_alloc("onecyclelr_new", optimizer, &cnnc__onecyclelr_desc);
    if (!s) return NULL;
    size_t n = optimizer->n_groups;
    double *v = cnnc__calloc(3 * n + 1, sizeof *v);
    int strategy = 0;
    cnnc_status st = v ? total_steps(&options, &s->u.onecycle.total_steps)
                       : cnnc__oom("OneCycleLR's values");
    if (st == CNNC_OK) st = check_options(optimizer, max_lr, &options, v, &strategy);
    if (st == CNNC_OK) {
        make_phases(s, options.pct_start, options.three_phase);
        s->u.onecycle.linear = strategy == 1;
        s->u.onecycle.cycle_momentum = options.cycle_momentum;
        s->u.onecycle.use_beta1 = optimizer->kind == CNNC__OPT_ADAM || optimizer->kind == CNNC__OPT_ADAMW;
        st = set_groups(s, &options, v);
    }
    cnnc__free(v);
    if (st != CNNC_OK) {
        cnnc_lr_scheduler_release(s);
        return NULL;
    }
    return cnnc__sched_init(s, options.last_epoch, options.verbose);
}
