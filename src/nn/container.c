/* Structural modules: nn.Sequential, nn.Identity, nn.Flatten. */
#include <stdio.h>

#include "core/error.h"
#include "nn/module.h"
#include "ops/ops.h"

/* ---- Sequential ---------------------------------------------------------- */

static cnnc_tensor *sequential_forward(cnnc_module *m, cnnc_tensor *x) {
    cnnc_tensor *cur = cnnc_tensor_retain(x);
    for (size_t i = 0; i < m->n_children && cur; i++) {
        cnnc_module *c = m->children[i].m;
        cnnc_tensor *next = c->type->forward(c, cur);
        cnnc_tensor_release(cur);
        cur = next;
    }
    return cur;
}

static const cnnc__module_type sequential_type = {"Sequential", sequential_forward, NULL};

cnnc_status cnnc_sequential_append(cnnc_module *seq, cnnc_module *child) {
    if (!seq || seq->type != &sequential_type) {
        cnnc_module_release(child);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "sequential_append(): 'seq' is not a Sequential");
    }
    char name[24];
    snprintf(name, sizeof name, "%zu", seq->n_children);
    return cnnc__module_add_child(seq, name, child);
}

cnnc_module *cnnc_sequential_new(int n, cnnc_module *const *modules) {
    cnnc_module *m = n >= 0 && (n == 0 || modules) ? cnnc__module_new(&sequential_type) : NULL;
    if (!m && (n < 0 || (n > 0 && !modules)))
        cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Sequential(): invalid module list (n=%d)", n);
    cnnc_status st = m ? CNNC_OK : cnnc_last_status();
    for (int i = 0; i < n && modules; i++) {
        if (st == CNNC_OK && !modules[i])
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Sequential(): module %d is NULL", i);
        if (st == CNNC_OK)
            st = cnnc_sequential_append(m, modules[i]);
        else
            cnnc_module_release(modules[i]);
    }
    if (st != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- Identity ------------------------------------------------------------- */

static cnnc_tensor *identity_forward(cnnc_module *m, cnnc_tensor *x) {
    (void)m;
    return cnnc_tensor_retain(x);
}

static const cnnc__module_type identity_type = {"Identity", identity_forward, NULL};

cnnc_module *cnnc_identity_new(void) { return cnnc__module_new(&identity_type); }

/* ---- Flatten -------------------------------------------------------------- */

static cnnc_tensor *flatten_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_flatten(x, (int)cnnc__module_get_attr(m, "start_dim")->ints[0],
                            (int)cnnc__module_get_attr(m, "end_dim")->ints[0]);
}

static void flatten_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    snprintf(buf, cap, "start_dim=%lld, end_dim=%lld",
             (long long)cnnc__module_get_attr(m, "start_dim")->ints[0],
             (long long)cnnc__module_get_attr(m, "end_dim")->ints[0]);
}

static const cnnc__module_type flatten_type = {"Flatten", flatten_forward, flatten_extra_repr};

cnnc_module *cnnc_flatten_new(cnnc_flatten_options o) {
    cnnc_module *m = cnnc__module_new(&flatten_type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "start_dim", cnnc__int_value(o.start_dim));
    cnnc__module_set_attr(m, "end_dim", cnnc__int_value(o.end_dim));
    return m;
}
