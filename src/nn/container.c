/* Containers and structural modules: nn.Sequential, nn.ModuleList, nn.ModuleDict,
 * nn.Identity, nn.Flatten. */
#include <stdio.h>

#include "core/error.h"
#include "nn/module.h"
#include "ops/ops.h"

/* ---- Sequential, ModuleList ------------------------------------------------------ */

static cnnc_tensor *sequential_forward(cnnc_module *m, cnnc_tensor *x) {
    cnnc_tensor *cur = cnnc_tensor_retain(x);
    for (size_t i = 0; i < m->n_children && cur; i++) {
        cnnc_tensor *next = cnnc__module_call(m->children[i].m, cur);
        cnnc_tensor_release(cur);
        cur = next;
    }
    return cur;
}

static const cnnc__module_type sequential_type = {.name = "Sequential",
                                                  .forward = sequential_forward};
static const cnnc__module_type modulelist_type = {.name = "ModuleList"};
static const cnnc__module_type moduledict_type = {.name = "ModuleDict"};

/* Appends child under the next index ("0", "1", ...). */
static cnnc_status append_indexed(cnnc_module *m, const cnnc__module_type *type,
                                  cnnc_module *child, const char *fn) {
    if (!m || m->type != type) {
        cnnc_module_release(child);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): the module is not a %s", fn, type->name);
    }
    char name[24];
    snprintf(name, sizeof name, "%zu", m->n_children);
    return cnnc__module_add_child(m, name, child);
}

static bool first_occurrence(cnnc_module *const *modules, int j) {
    for (int k = 0; k < j; k++)
        if (modules[k] == modules[j]) return false;
    return true;
}

/* Releases modules[from..n) the caller handed over and nobody took: each distinct
 * module once (an earlier occurrence was taken or released already). */
static void release_rest(int n, cnnc_module *const *modules, int from) {
    for (int j = from; j < n; j++)
        if (first_occurrence(modules, j)) cnnc_module_release(modules[j]);
}

/* A container of the n modules given, named "0", "1", ...: it takes one reference
 * per distinct module (a module given twice is shared, as nn.Sequential(r, r)),
 * also on failure. */
static cnnc_module *indexed_new(const cnnc__module_type *type, int n, cnnc_module *const *modules) {
    if (n < 0 || (n > 0 && !modules))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): invalid module list (n=%d)",
                                type->name, n);
    for (int i = 0; i < n; i++)
        if (!modules[i]) {
            release_rest(n, modules, 0);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): module %d is NULL",
                                    type->name, i);
        }
    cnnc_module *m = cnnc__module_new(type);
    if (!m) {
        release_rest(n, modules, 0);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (append_indexed(m, type, modules[i], type->name) != CNNC_OK) {
            release_rest(n, modules, i + 1);
            cnnc_module_release(m);
            return NULL;
        }
    return m;
}

cnnc_module *cnnc_sequential_new(int n, cnnc_module *const *modules) {
    return indexed_new(&sequential_type, n, modules);
}
cnnc_status cnnc_sequential_append(cnnc_module *seq, cnnc_module *child) {
    return append_indexed(seq, &sequential_type, child, "sequential_append");
}
cnnc_module *cnnc_modulelist_new(int n, cnnc_module *const *modules) {
    return indexed_new(&modulelist_type, n, modules);
}
cnnc_status cnnc_modulelist_append(cnnc_module *list, cnnc_module *child) {
    return append_indexed(list, &modulelist_type, child, "modulelist_append");
}

/* ---- ModuleDict ------------------------------------------------------------------- */

cnnc_module *cnnc_moduledict_new(void) { return cnnc__module_new(&moduledict_type); }

cnnc_status cnnc_moduledict_set(cnnc_module *dict, const char *key, cnnc_module *child) {
    if (!dict || dict->type != &moduledict_type) {
        cnnc_module_release(child);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "moduledict_set(): the module is not a ModuleDict");
    }
    return cnnc__module_set_child(dict, key, child);
}

/* ---- Identity, Flatten -------------------------------------------------------------- */

static cnnc_tensor *identity_forward(cnnc_module *m, cnnc_tensor *x) {
    (void)m;
    return cnnc_tensor_retain(x);
}

static const cnnc__module_type identity_type = {.name = "Identity", .forward = identity_forward};

cnnc_module *cnnc_identity_new(void) { return cnnc__module_new(&identity_type); }

typedef struct flatten_state {
    int64_t start_dim, end_dim;
} flatten_state;

static const cnnc__field flatten_fields[] = {
    CNNC__FIELD(flatten_state, start_dim, INT),
    CNNC__FIELD(flatten_state, end_dim, INT),
};

static cnnc_tensor *flatten_forward(cnnc_module *m, cnnc_tensor *x) {
    const flatten_state *s = CNNC__STATE(m, const flatten_state);
    return cnnc__op_flatten(x, (int)s->start_dim, (int)s->end_dim);
}

static void flatten_extra_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"start_dim", "end_dim"};
    cnnc__repr_fields(m, s, 2, names);
}

static const cnnc__module_type flatten_type = {
    .name = "Flatten", .state_size = sizeof(flatten_state),
    .fields = flatten_fields, .n_fields = CNNC__NFIELDS(flatten_fields),
    .forward = flatten_forward, .extra_repr = flatten_extra_repr};

cnnc_module *cnnc_flatten_new(cnnc_flatten_options o) {
    cnnc_module *m = cnnc__module_new(&flatten_type);
    if (m) *CNNC__STATE(m, flatten_state) = (flatten_state){o.start_dim, o.end_dim};
    return m;
}
