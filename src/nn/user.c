/* User-defined modules (PyTorch's `class Net(nn.Module)` in C): a kind whose forward
 * and repr are the caller's callbacks, plus the public registration functions that
 * work on any module (register_parameter, register_buffer, add_module). */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/module.h"

typedef struct user_state {
    cnnc_module_def def;
    char *type_name; /* owned copy of def.type_name */
    void *data;      /* the caller's; def.free_data frees it */
} user_state;

static const char *user_type_name(const cnnc_module *m) {
    return CNNC__STATE(m, const user_state)->type_name;
}

static void user_destroy(cnnc_module *m) {
    user_state *u = CNNC__STATE(m, user_state);
    if (u->def.free_data) u->def.free_data(u->data);
    cnnc__free(u->type_name);
}

static void user_extra_repr(const cnnc_module *m, cnnc__strbuf *s) {
    const user_state *u = CNNC__STATE(m, const user_state);
    if (!u->def.extra_repr) return;
    char buf[1024] = "";
    u->def.extra_repr(m, buf, sizeof buf);
    buf[sizeof buf - 1] = '\0';
    cnnc__strbuf_printf(s, "%s", buf);
}

/* Runs the callback inside a scope, so that everything it creates is released when
 * it returns; the results are retained past the scope and returned as new
 * references. */
static int user_run(cnnc_module *m, const user_state *u, int n_in, cnnc_tensor *const *in,
                    cnnc_tensor **out) {
    int n;
    if (u->def.forward_n) {
        n = u->def.forward_n(m, n_in, in, out);
    } else {
        out[0] = u->def.forward(m, in[0]);
        n = out[0] ? 1 : -1;
    }
    if (n > CNNC_MAX_OUTPUTS || n < -1)
        return cnnc__error(CNNC_ERR_RUNTIME, "%s.forward() returned %d outputs (0..%d allowed)",
                           u->type_name, n, CNNC_MAX_OUTPUTS), -1;
    for (int i = 0; i < n; i++)
        if (!out[i])
            return cnnc__error(CNNC_ERR_RUNTIME, "%s.forward() returned NULL as output %d",
                               u->type_name, i), -1;
    if (n < 0 && cnnc_last_status() == CNNC_OK)
        cnnc__error(CNNC_ERR_RUNTIME, "%s.forward() failed without an error message", u->type_name);
    for (int i = 0; i < n; i++) cnnc_tensor_retain(out[i]);
    return n;
}

static int user_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out) {
    const user_state *u = CNNC__STATE(m, const user_state);
    if (!u->def.forward && !u->def.forward_n)
        return cnnc__error(CNNC_ERR_RUNTIME, "Module [%s] is missing the required \"forward\" function",
                           u->type_name), -1;
    if (!u->def.forward_n && n_in != 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.forward() takes 2 positional arguments but %d were given",
                           u->type_name, n_in + 1), -1;
    if (cnnc_scope_begin() != CNNC_OK) return -1;
    cnnc_clear_error();
    int n = user_run(m, u, n_in, in, out);
    cnnc_scope_end();
    return n;
}

static const cnnc__module_type user_type = {
    .name = "Module",
    .state_size = sizeof(user_state),
    .forward_n = user_forward_n,
    .extra_repr = user_extra_repr,
    .type_name = user_type_name,
    .destroy = user_destroy,
};

cnnc_module *cnnc_module_new(const cnnc_module_def *def, void *data) {
    CNNC__NONNULL_OR_NULL("module_new", def);
    if (!def->type_name || !def->type_name[0])
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "module_new(): def->type_name must be a non-empty string");
    char *name = cnnc__strdup(def->type_name);
    cnnc_module *m = name ? cnnc__module_new(&user_type) : NULL;
    if (!m) {
        if (!name) cnnc__oom("a module type name");
        cnnc__free(name);
        return NULL;
    }
    *CNNC__STATE(m, user_state) = (user_state){.def = *def, .type_name = name, .data = data};
    return m;
}

void *cnnc_module_data(const cnnc_module *m) {
    if (!m || m->type != &user_type) return NULL;
    return CNNC__STATE(m, const user_state)->data;
}

/* ---- registration on any module ------------------------------------------------------ */

cnnc_status cnnc_module_register_parameter(cnnc_module *m, const char *name, cnnc_tensor *param) {
    CNNC__NONNULL_OR_STATUS("register_parameter", m);
    if (param && param->dtype != CNNC_FLOAT32)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "register_parameter(): parameter '%s' must be float32, got %s",
                           name ? name : "(null)", cnnc_dtype_name(param->dtype));
    if (param && !cnnc_tensor_is_leaf(param))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Cannot assign non-leaf Tensor to parameter '%s'. Model parameters must "
                           "be created explicitly. To express '%s' as a function of another Tensor, "
                           "compute the value in the forward() method.",
                           name ? name : "(null)", name ? name : "(null)");
    cnnc_status st = cnnc__module_add_param(m, name, cnnc_tensor_retain(param));
    if (st == CNNC_OK && param) param->requires_grad = true; /* nn.Parameter */
    return st;
}

cnnc_status cnnc_module_register_buffer(cnnc_module *m, const char *name, cnnc_tensor *buffer,
                                        bool persistent) {
    CNNC__NONNULL_OR_STATUS("register_buffer", m);
    return cnnc__module_add_buffer(m, name, cnnc_tensor_retain(buffer), persistent);
}

cnnc_status cnnc_module_register_module(cnnc_module *m, const char *name, cnnc_module *child) {
    if (!m) {
        cnnc_module_release(child);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "register_module(): argument 'm' is NULL");
    }
    return cnnc__module_add_child(m, name, child);
}
