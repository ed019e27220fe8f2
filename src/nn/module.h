/* Internal: the generic module (named parameters, buffers, children, settings)
 * that every concrete layer fills in. */
#ifndef CNNC_NN_MODULE_H
#define CNNC_NN_MODULE_H
#include "core/tensor.h"

enum { CNNC__NAME_CAP = 32, CNNC__MAX_ATTRS = 16 };

typedef struct cnnc__module_type {
    const char *name; /* "Linear" */
    /* forward on one input: a new reference, not given to a scope */
    cnnc_tensor *(*forward)(cnnc_module *m, cnnc_tensor *x);
    /* the text inside the parentheses of print(module), into buf */
    void (*extra_repr)(const cnnc_module *m, char *buf, size_t cap);
} cnnc__module_type;

typedef struct cnnc__entry {
    char name[CNNC__NAME_CAP];
    cnnc_tensor *t;  /* owned; NULL is PyTorch's None */
    bool persistent; /* buffers only: part of the state_dict */
} cnnc__entry;

typedef struct cnnc__child {
    char name[CNNC__NAME_CAP];
    cnnc_module *m; /* owned */
} cnnc__child;

typedef struct cnnc__attr {
    const char *name; /* static */
    cnnc_value value;
} cnnc__attr;

struct cnnc_module {
    atomic_int refcount;
    const cnnc__module_type *type;
    bool training;
    cnnc__entry *params, *buffers;
    size_t n_params, cap_params, n_buffers, cap_buffers;
    cnnc__child *children;
    size_t n_children, cap_children;
    cnnc__attr attrs[CNNC__MAX_ATTRS];
    int n_attrs;
};

/* A new module of `type` in training mode, no entries. */
cnnc_module *cnnc__module_new(const cnnc__module_type *type);
/* Registration; each takes ownership of the reference passed (also on failure). */
cnnc_status cnnc__module_add_param(cnnc_module *m, const char *name, cnnc_tensor *t);
cnnc_status cnnc__module_add_buffer(cnnc_module *m, const char *name, cnnc_tensor *t,
                                    bool persistent);
cnnc_status cnnc__module_add_child(cnnc_module *m, const char *name, cnnc_module *child);
/* Settings read by cnnc_module_attr (name must be a static string). */
void cnnc__module_set_attr(cnnc_module *m, const char *name, cnnc_value value);
static inline cnnc_value cnnc__int_value(int64_t v) {
    return (cnnc_value){.kind = CNNC_VALUE_INT, .n = 1, .ints = {v}};
}
static inline cnnc_value cnnc__bool_value(bool v) {
    return (cnnc_value){.kind = CNNC_VALUE_BOOL, .n = 1, .ints = {v ? 1 : 0}};
}
static inline cnnc_value cnnc__float_value(double v) {
    return (cnnc_value){.kind = CNNC_VALUE_FLOAT, .f = v};
}
/* The module's own parameter by name (borrowed; NULL if None or absent). */
cnnc_tensor *cnnc__module_param(const cnnc_module *m, const char *name);
const cnnc_value *cnnc__module_get_attr(const cnnc_module *m, const char *name);
/* A new leaf parameter of shape, requires_grad, U(-bound, bound). */
cnnc_tensor *cnnc__uniform_param(int ndim, const int64_t *shape, double bound);
#endif
