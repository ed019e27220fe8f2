/* Internal: the learning-rate scheduler object, its kinds, and the helpers the
 * kinds share (PyTorch's _LRScheduler machinery, state_dict entries). */
#ifndef CNNC_OPTIM_SCHED_H
#define CNNC_OPTIM_SCHED_H
#include <stdatomic.h>
#include <stddef.h>

#include "cnnc.h"
#include "optim/optim.h"

typedef enum cnnc__sched_kind {
    CNNC__SCHED_STEP,
    CNNC__SCHED_MULTISTEP,
    CNNC__SCHED_EXPONENTIAL,
    CNNC__SCHED_COSINE,
    CNNC__SCHED_LINEAR,
    CNNC__SCHED_LAMBDA,
    CNNC__SCHED_ONECYCLE,
    CNNC__SCHED_PLATEAU,
    CNNC__SCHED_SEQUENTIAL,
    CNNC__SCHED_COUNT
} cnnc__sched_kind;

/* OneCycleLR's group keys a phase anneals between. */
typedef enum cnnc__onecycle_key {
    CNNC__OC_INITIAL_LR,
    CNNC__OC_MAX_LR,
    CNNC__OC_MIN_LR,
    CNNC__OC_MAX_MOMENTUM,
    CNNC__OC_BASE_MOMENTUM,
    CNNC__OC_KEY_COUNT
} cnnc__onecycle_key;
extern const char *const cnnc__onecycle_keys[CNNC__OC_KEY_COUNT];

typedef struct cnnc__phase {
    double end_step;
    cnnc__onecycle_key start_lr, end_lr, start_momentum, end_momentum;
} cnnc__phase;

/* A state_dict being read: the metadata of `l` under `prefix` ("" at the top,
 * "_schedulers.1." inside SequentialLR). */
typedef struct cnnc__meta {
    const cnnc_tensor_list *l;
    const char *prefix;
} cnnc__meta;

struct cnnc__sched_desc;

/* A scalar of the scheduler saved under PyTorch's attribute name. */
typedef enum cnnc__field_type { CNNC__F_INT, CNNC__F_DOUBLE, CNNC__F_BOOL } cnnc__field_type;
typedef struct cnnc__sched_field {
    const char *name; /* NULL ends a list */
    cnnc__field_type type;
    size_t offset; /* of an int64_t, double or bool in cnnc_lr_scheduler */
} cnnc__sched_field;
#define CNNC__FIELD(key, type, member) {key, type, offsetof(struct cnnc_lr_scheduler, member)}

struct cnnc_lr_scheduler {
    atomic_int refcount;
    cnnc__sched_kind kind;
    const struct cnnc__sched_desc *desc;
    cnnc_optimizer *opt; /* owned reference */
    int64_t last_epoch, step_count;
    bool verbose;
    size_t n_base, n_last;
    double *base_lrs, *last_lr; /* owned; last_lr NULL before the first step (plateau) */
    union {
        struct {
            int64_t step_size;
            double gamma;
        } step;
        struct {
            size_t n;              /* distinct milestones, first-seen order (a Counter) */
            int64_t *keys, *counts;/* owned */
            double gamma;
        } multistep;
        struct {
            double gamma;
        } exp;
        struct {
            int64_t T_max;
            double eta_min;
        } cos;
        struct {
            double start_factor, end_factor;
            int64_t total_iters;
        } linear;
        struct {
            size_t n;
            cnnc_lr_lambda *fns; /* owned arrays */
            void **ctxs;
        } lambda;
        struct {
            int64_t total_steps;
            int n_phases;
            cnnc__phase phases[3];
            bool linear, cycle_momentum, use_beta1;
        } onecycle;
        struct {
            bool mode_max, threshold_abs;
            double factor, threshold, eps, best, mode_worse;
            int64_t patience, cooldown, cooldown_counter, num_bad_epochs;
            size_t n_min;
            double *min_lrs; /* owned */
        } plateau;
        struct {
            size_t n, n_milestones;
            cnnc_lr_scheduler **scheds; /* owned references */
            int64_t *milestones;        /* owned */
        } seq;
    } u;
};

typedef struct cnnc__sched_desc {
    const char *name;
    cnnc__sched_kind kind;
    /* The chainable get_lr (NULL: the kind has its own step) and the closed
     * form (NULL: step(epoch) uses get_lr, as PyTorch): write up to
     * opt->n_groups values and set *n. */
    cnnc_status (*get_lr)(cnnc_lr_scheduler *s, double *lrs, size_t *n);
    cnnc_status (*closed_form)(cnnc_lr_scheduler *s, double *lrs, size_t *n);
    /* The kind's own state_dict entries (written before the common ones): its
     * scalar fields, then what save writes (NULL: nothing) under the keys
     * listed (NULL-terminated), read back by load into a copy of the scheduler. */
    const cnnc__sched_field *fields;
    cnnc_status (*save)(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *prefix);
    cnnc_status (*load)(cnnc_lr_scheduler *s, const cnnc__meta *m);
    const char *const *keys;
    /* Deep copy of the kind's owned arrays (dst is a byte copy of src; on failure
     * dst->u must own nothing), and their release. */
    cnnc_status (*dup)(cnnc_lr_scheduler *dst, const cnnc_lr_scheduler *src);
    void (*free)(cnnc_lr_scheduler *s);
} cnnc__sched_desc;

/* ---- construction (scheduler.c) --------------------------------------------------- */

/* A new scheduler of the desc's kind on opt (retained), nothing else set. */
cnnc_lr_scheduler *cnnc__sched_alloc(const char *fn, cnnc_optimizer *opt,
                                     const cnnc__sched_desc *desc);
/* PyTorch's _LRScheduler.__init__ after the kind's fields are set: initial_lr,
 * base_lrs, last_epoch, the initial step. Releases s and returns NULL on error. */
cnnc_lr_scheduler *cnnc__sched_init(cnnc_lr_scheduler *s, int64_t last_epoch, bool verbose);
/* _LRScheduler.step(epoch) (has_epoch false: the next epoch). */
cnnc_status cnnc__sched_lr_step(cnnc_lr_scheduler *s, bool has_epoch, int64_t epoch);
/* _last_lr = every group's lr. */
cnnc_status cnnc__sched_record_last_lr(cnnc_lr_scheduler *s);
/* A group's lr for get_lr (group < opt->n_groups). */
double cnnc__sched_group_lr(const cnnc_lr_scheduler *s, size_t group);
/* Python's "%.5d" epoch and "{:.4e}" lr lines, to stdout. */
void cnnc__sched_print(const char *what, bool has_epoch, int64_t epoch, size_t group, double lr);
/* Per-group values (float | list) checked against the group count (PyTorch's
 * "expected 2 values for max_lr, got 1"; what_fmt names the list). */
cnnc_status cnnc__group_values(const char *list_name, const char *fmt, size_t n_groups,
                               cnnc_group_values v, double *out);

/* ---- state_dict entries (scheduler.c) ---------------------------------------------- */

/* The whole state of s under prefix (the kind's entries, then the common ones of
 * an _LRScheduler), and its reading into s (a copy being built: may fail half way). */
cnnc_status cnnc__sched_save(const cnnc_lr_scheduler *s, cnnc_tensor_list *l, const char *prefix);
cnnc_status cnnc__sched_load(cnnc_lr_scheduler *s, const cnnc__meta *m);
/* A deep copy (SequentialLR's schedulers copied too), for loading into. */
cnnc_lr_scheduler *cnnc__sched_clone(const cnnc_lr_scheduler *s);

cnnc_status cnnc__save_int(cnnc_tensor_list *l, const char *prefix, const char *key, int64_t v);
cnnc_status cnnc__save_double(cnnc_tensor_list *l, const char *prefix, const char *key, double v);
cnnc_status cnnc__save_bool(cnnc_tensor_list *l, const char *prefix, const char *key, bool v);
cnnc_status cnnc__save_str(cnnc_tensor_list *l, const char *prefix, const char *key, const char *v);
cnnc_status cnnc__save_doubles(cnnc_tensor_list *l, const char *prefix, const char *key,
                               const double *v, size_t n);
cnnc_status cnnc__save_ints(cnnc_tensor_list *l, const char *prefix, const char *key,
                            const int64_t *v, size_t n);
/* The text of prefix+key, or NULL. */
const char *cnnc__meta_get(const cnnc__meta *m, const char *key);
/* Required entries of a given type (errors name the key and the text). */
cnnc_status cnnc__meta_int(const cnnc__meta *m, const char *key, int64_t *out);
cnnc_status cnnc__meta_double(const cnnc__meta *m, const char *key, double *out);
cnnc_status cnnc__meta_bool(const cnnc__meta *m, const char *key, bool *out);
/* 'text' compared with one of n choices: *out is the index. */
cnnc_status cnnc__meta_choice(const cnnc__meta *m, const char *key, const char *const *choices,
                              int n, int *out);
/* A list of doubles / ints replacing *out (freed) with a new array. */
cnnc_status cnnc__meta_doubles(const cnnc__meta *m, const char *key, double **out, size_t *n);
cnnc_status cnnc__meta_ints(const cnnc__meta *m, const char *key, int64_t **out, size_t *n);

/* ---- kinds ---------------------------------------------------------------------------- */

extern const cnnc__sched_desc cnnc__steplr_desc, cnnc__multisteplr_desc, cnnc__exponentiallr_desc,
    cnnc__cosineannealinglr_desc, cnnc__linearlr_desc, cnnc__lambdalr_desc, cnnc__onecyclelr_desc,
    cnnc__reducelronplateau_desc, cnnc__sequentiallr_desc;
/* ReduceLROnPlateau.step(metrics) and SequentialLR.step() (their own steps). */
cnnc_status cnnc__plateau_step(cnnc_lr_scheduler *s, double metric);
cnnc_status cnnc__sequential_step(cnnc_lr_scheduler *s);
#endif
