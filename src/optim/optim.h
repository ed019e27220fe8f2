/* Internal: the optimizer object shared by the files of src/optim/ (groups,
 * state, the per-kind descriptions), and the Python-literal text used by
 * state_dicts' metadata. */
#ifndef CNNC_OPTIM_OPTIM_H
#define CNNC_OPTIM_OPTIM_H
#include <stdatomic.h>

#include "cnnc.h"
#include "core/strbuf.h"

/* ---- optimizer kinds ------------------------------------------------------------ */

typedef enum cnnc__opt_kind {
    CNNC__OPT_SGD,
    CNNC__OPT_ADAM,
    CNNC__OPT_ADAMW,
    CNNC__OPT_RMSPROP,
    CNNC__OPT_ADAGRAD,
    CNNC__OPT_COUNT
} cnnc__opt_kind;

/* What a key of a group accepts. */
typedef enum cnnc__key_type {
    CNNC__KEY_FLOAT,      /* a number (INT accepted, stored as FLOAT) */
    CNNC__KEY_BOOL,       /* True / False */
    CNNC__KEY_BETAS,      /* two numbers */
    CNNC__KEY_FOREACH,    /* None, True or False: kept, never used (one implementation) */
    CNNC__KEY_FALSE_ONLY, /* capturable / differentiable / fused: only False */
} cnnc__key_type;

typedef struct cnnc__key_desc {
    const char *name;
    cnnc__key_type type;
    bool load_default; /* missing from a loaded group: the default (PyTorch's __setstate__) */
} cnnc__key_desc;

#define CNNC__MAX_KEYS 10
#define CNNC__MAX_STATE 4

typedef struct cnnc__opt_desc {
    const char *name;
    int n_keys;
    cnnc__key_desc keys[CNNC__MAX_KEYS];
    int n_state;
    const char *state_keys[CNNC__MAX_STATE]; /* PyTorch's order */
    int step_key;                            /* index of "step" in state_keys, or -1 */
    cnnc_dtype step_dtype;                   /* float32 (a tensor) or int64 (RMSprop's int) */
} cnnc__opt_desc;

extern const cnnc__opt_desc cnnc__opt_descs[CNNC__OPT_COUNT];

/* Key indices in each kind's table (the order of PyTorch's defaults dict). */
enum { SGD_LR, SGD_MOMENTUM, SGD_DAMPENING, SGD_WEIGHT_DECAY, SGD_NESTEROV, SGD_MAXIMIZE };
enum { ADAM_LR, ADAM_BETAS, ADAM_EPS, ADAM_WEIGHT_DECAY, ADAM_AMSGRAD, ADAM_MAXIMIZE };
enum { ADAMW_LR, ADAMW_BETAS, ADAMW_EPS, ADAMW_WEIGHT_DECAY, ADAMW_AMSGRAD, ADAMW_FOREACH,
       ADAMW_MAXIMIZE };
enum { RMS_LR, RMS_MOMENTUM, RMS_ALPHA, RMS_EPS, RMS_CENTERED, RMS_WEIGHT_DECAY, RMS_FOREACH,
       RMS_MAXIMIZE };
enum { ADAGRAD_LR, ADAGRAD_LR_DECAY, ADAGRAD_EPS, ADAGRAD_WEIGHT_DECAY, ADAGRAD_INIT_ACC,
       ADAGRAD_FOREACH, ADAGRAD_MAXIMIZE };
/* State key indices. */
enum { SGD_S_MOMENTUM_BUFFER };
enum { ADAM_S_STEP, ADAM_S_EXP_AVG, ADAM_S_EXP_AVG_SQ, ADAM_S_MAX_EXP_AVG_SQ };
enum { RMS_S_STEP, RMS_S_SQUARE_AVG, RMS_S_MOMENTUM_BUFFER, RMS_S_GRAD_AVG };
enum { ADAGRAD_S_STEP, ADAGRAD_S_SUM };

/* ---- groups and state -------------------------------------------------------------- */

/* One entry of a group dict other than 'params'. The optimizer's own keys come
 * first, in the desc's order; value.s (STRING) is owned. */
typedef struct cnnc__hp {
    char *name; /* owned */
    cnnc_value value;
} cnnc__hp;

typedef struct cnnc__group {
    size_t n_params;
    cnnc_tensor **params; /* [n_params] owned references */
    size_t first;         /* index of params[0] among all the optimizer's parameters */
    size_t n_hp, cap_hp;
    cnnc__hp *hp; /* [n_hp]: hp[k] for k < desc->n_keys is desc->keys[k] */
} cnnc__group;

/* A parameter's state, PyTorch's optimizer.state[p]: has[k] says whether the key
 * desc->state_keys[k] is present (t[k] may then be NULL: None). */
typedef struct cnnc__pstate {
    bool has[CNNC__MAX_STATE];
    cnnc_tensor *t[CNNC__MAX_STATE]; /* owned references */
} cnnc__pstate;

struct cnnc_optimizer {
    atomic_int refcount;
    cnnc__opt_kind kind;
    const cnnc__opt_desc *desc;
    cnnc__group defaults; /* n_params 0: the constructor's options */
    size_t n_groups, cap_groups;
    cnnc__group *groups;
    size_t n_params, cap_state;
    cnnc__pstate *state; /* [n_params], by global parameter index */
};

/* Group entries. */
void cnnc__hp_clear(cnnc__hp *hp);
/* Deep copy of a value (STRING duplicated); false when out of memory. */
bool cnnc__value_copy(cnnc_value *dst, const cnnc_value *src);
void cnnc__value_free(cnnc_value *v);
cnnc__hp *cnnc__group_find(const cnnc__group *g, const char *name);
/* Checks that v fits key k of the desc (or, k < 0, that it is a kind a new key
 * may hold), naming fn; writes the stored form (INT -> FLOAT for numbers). */
cnnc_status cnnc__hp_check(const char *fn, const cnnc__opt_desc *d, int k, const char *name,
                           const cnnc_value *v, cnnc_value *stored);
/* Sets (replacing or appending) name = v in g, copying; v already checked. */
cnnc_status cnnc__group_set(cnnc__group *g, const char *name, const cnnc_value *v);
void cnnc__group_clear(cnnc__group *g);

static inline double cnnc__hp_f(const cnnc__group *g, int k) { return g->hp[k].value.f; }
static inline bool cnnc__hp_b(const cnnc__group *g, int k) { return g->hp[k].value.ints[0] != 0; }

void cnnc__pstate_clear(cnnc__pstate *s);

/* Group indices as PyTorch's group['lr'] lookups fail: NOT_FOUND "KeyError: 'x'". */
cnnc_status cnnc__opt_group_double(const cnnc_optimizer *opt, size_t group, const char *name,
                                   double *out);
cnnc_status cnnc__opt_group_set_double(cnnc_optimizer *opt, size_t group, const char *name,
                                       double v);
/* The global index of a parameter tensor, or SIZE_MAX. */
size_t cnnc__opt_param_index(const cnnc_optimizer *opt, const cnnc_tensor *p);

/* The step (step.c). */
cnnc_status cnnc__opt_step(cnnc_optimizer *opt);

/* ---- Python literals (literal.c) -------------------------------------------------- */

/* Appends the literal of v: repr(float), int, True/False, None, 'text', (a, b). */
void cnnc__lit_value(cnnc__strbuf *sb, const cnnc_value *v);
void cnnc__lit_double(cnnc__strbuf *sb, double v);
/* [a, b, ...] of doubles or ints. */
void cnnc__lit_doubles(cnnc__strbuf *sb, const double *v, size_t n);
void cnnc__lit_ints(cnnc__strbuf *sb, const int64_t *v, size_t n);
/* 'text' with Python's escapes. */
void cnnc__lit_str(cnnc__strbuf *sb, const char *s);
/* Sets metadata key = the text built by sb (consumed). */
cnnc_status cnnc__lit_set_meta(cnnc_tensor_list *l, const char *key, cnnc__strbuf *sb);

/* Parsers of a whole literal; false if s is not one (nothing allocated then). */
bool cnnc__lit_parse_double(const char *s, double *out); /* an int or float literal */
bool cnnc__lit_parse_int(const char *s, int64_t *out);
bool cnnc__lit_parse_bool(const char *s, bool *out);
bool cnnc__lit_is_none(const char *s);
/* Any value a group entry may hold; value.s is allocated (free with
 * cnnc__value_free). CNNC_ERR_INVALID_ARGUMENT without a message if s is none. */
cnnc_status cnnc__lit_parse_value(const char *s, cnnc_value *out);
/* A list or tuple of numbers / ints into a new array (*out NULL when n is 0);
 * returns CNNC_ERR_INVALID_ARGUMENT without a message if s is not one, or OOM. */
cnnc_status cnnc__lit_parse_doubles(const char *s, double **out, size_t *n);
cnnc_status cnnc__lit_parse_ints(const char *s, int64_t **out, size_t *n);
/* {k: v, ...} of ints (PyTorch's Counter). */
cnnc_status cnnc__lit_parse_int_dict(const char *s, int64_t **keys, int64_t **values, size_t *n);
/* 'text' into a new string. */
cnnc_status cnnc__lit_parse_str(const char *s, char **out);
#endif
