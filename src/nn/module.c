/* The generic module: life cycle, registration of parameters, buffers and
 * children, lookup by dotted name, forward, train/eval. Listings and
 * load_state_dict are in module_state.c, print(module) and attributes in
 * module_repr.c, user-defined modules in user.c. */
#include "nn/module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/trace.h"

/* ---- life cycle ------------------------------------------------------------------ */

cnnc_module *cnnc__module_new(const cnnc__module_type *type) {
    size_t bytes = sizeof(cnnc_module) + type->state_size;
    cnnc_module *m = cnnc__calloc(1, bytes);
    if (!m) return (cnnc__oom("a module"), NULL);
    m->magic = CNNC__MODULE_MAGIC;
    atomic_init(&m->refcount, 1);
    m->type = type;
    m->training = true;
    return m;
}

/* A release too many is a bug in the caller that would corrupt memory: stop with
 * a clear message while the freed module's magic still tells (ASan builds catch
 * every case). */
static void check_alive(const cnnc_module *m, const char *fn) {
    if (m->magic == CNNC__MODULE_MAGIC) return;
    fprintf(stderr, "cnnc: %s(%p): not a live module (released more often than retained?)\n",
            fn, (const void *)m);
    abort();
}

cnnc_module *cnnc_module_retain(cnnc_module *m) {
    if (!m) return NULL;
    check_alive(m, "cnnc_module_retain");
    atomic_fetch_add(&m->refcount, 1);
    return m;
}

void cnnc_module_release(cnnc_module *m) {
    if (!m) return;
    check_alive(m, "cnnc_module_release");
    if (atomic_fetch_sub(&m->refcount, 1) != 1) return;
    if (m->type->destroy) m->type->destroy(m);
    for (size_t i = 0; i < m->n_params; i++) {
        cnnc_tensor_release(m->params[i].t);
        cnnc__free(m->params[i].name);
    }
    for (size_t i = 0; i < m->n_buffers; i++) {
        cnnc_tensor_release(m->buffers[i].t);
        cnnc__free(m->buffers[i].name);
    }
    for (size_t i = 0; i < m->n_children; i++) {
        if (m->children[i].owns) cnnc_module_release(m->children[i].m);
        cnnc__free(m->children[i].name);
    }
    cnnc__free(m->params);
    cnnc__free(m->buffers);
    cnnc__free(m->children);
    m->magic = 0;
    cnnc__free(m);
}

const char *cnnc__module_name(const cnnc_module *m) {
    return m->type->type_name ? m->type->type_name(m) : m->type->name;
}

/* ---- registration ------------------------------------------------------------------ */

static cnnc__entry *find_entry(cnnc__entry *arr, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i].name, name) == 0) return &arr[i];
    return NULL;
}

static cnnc__child *find_child(const cnnc_module *m, const char *name, size_t len) {
    for (size_t i = 0; i < m->n_children; i++)
        if (strlen(m->children[i].name) == len && strncmp(m->children[i].name, name, len) == 0)
            return &m->children[i];
    return NULL;
}

/* PyTorch's rules for register_parameter / register_buffer / add_module names. */
static cnnc_status check_name(const cnnc_module *m, const char *name, const char *what) {
    if (!name)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s name should be a string. Got NULL", what);
    if (!name[0])
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s name can't be empty string \"\"", what);
    if (strchr(name, '.'))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s name can't contain \".\", got: %s", what, name);
    bool taken = find_entry(m->params, m->n_params, name) ||
                 find_entry(m->buffers, m->n_buffers, name) ||
                 find_child(m, name, strlen(name));
    if (taken)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "attribute '%s' already exists", name);
    return CNNC_OK;
}

static cnnc_status add_entry(cnnc_module *m, cnnc__entry **arr, size_t *n, size_t *cap,
                             const char *name, cnnc_tensor *t, bool persistent, const char *what) {
    cnnc_status st = check_name(m, name, what);
    char *copy = st == CNNC_OK ? cnnc__strdup(name) : NULL;
    if (st == CNNC_OK && (!copy || !cnnc__grow((void **)arr, cap, *n + 1, sizeof **arr)))
        st = cnnc__oom("a module entry");
    if (st != CNNC_OK) {
        cnnc__free(copy);
        cnnc_tensor_release(t);
        return st;
    }
    (*arr)[(*n)++] = (cnnc__entry){.name = copy, .t = t, .persistent = persistent};
    return CNNC_OK;
}

cnnc_status cnnc__module_add_param(cnnc_module *m, const char *name, cnnc_tensor *t) {
    return add_entry(m, &m->params, &m->n_params, &m->cap_params, name, t, true, "parameter");
}

cnnc_status cnnc__module_add_buffer(cnnc_module *m, const char *name, cnnc_tensor *t,
                                    bool persistent) {
    return add_entry(m, &m->buffers, &m->n_buffers, &m->cap_buffers, name, t, persistent,
                     "buffer");
}

/* Height of the tree below c (c alone: 1), or -1 once it passes the depth limit;
 * *found is set when target lies in it. */
static int height_and_find(const cnnc_module *c, const cnnc_module *target, int depth,
                           bool *found) {
    if (c == target) *found = true;
    if (depth >= CNNC__MAX_MODULE_DEPTH) return -1;
    int h = 0;
    for (size_t i = 0; i < c->n_children && !*found; i++) {
        int hc = height_and_find(c->children[i].m, target, depth + 1, found);
        if (hc < 0) return -1;
        if (hc > h) h = hc;
    }
    return h + 1;
}

/* May child go under m? Not m itself or an ancestor of m, not too deep. */
static cnnc_status check_child(const cnnc_module *m, const char *name, const cnnc_module *child) {
    if (!child)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "add_module(): module '%s' is NULL", name);
    check_alive(child, "add_module");
    bool cycle = false;
    int h = height_and_find(child, m, 1, &cycle);
    if (cycle)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "add_module(): a %s cannot be its own child or descendant (a cycle)",
                           cnnc__module_name(m));
    if (h < 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "add_module(): module '%s' would nest modules more than %d levels deep",
                           name, CNNC__MAX_MODULE_DEPTH);
    return CNNC_OK;
}

static bool has_child(const cnnc_module *m, const cnnc_module *child) {
    for (size_t i = 0; i < m->n_children; i++)
        if (m->children[i].m == child) return true;
    return false;
}

cnnc_status cnnc__module_add_child(cnnc_module *m, const char *name, cnnc_module *child) {
    bool shared = child && has_child(m, child); /* a reference is already held */
    cnnc_status st = check_name(m, name, "module");
    if (st == CNNC_OK) st = check_child(m, name, child);
    char *copy = st == CNNC_OK ? cnnc__strdup(name) : NULL;
    if (st == CNNC_OK && (!copy || !cnnc__grow((void **)&m->children, &m->cap_children,
                                                m->n_children + 1, sizeof *m->children)))
        st = cnnc__oom("a child module");
    if (st != CNNC_OK) {
        cnnc__free(copy);
        if (!shared) cnnc_module_release(child);
        return st;
    }
    m->children[m->n_children++] = (cnnc__child){.name = copy, .m = child, .owns = !shared};
    return CNNC_OK;
}

/* Drops slot i's module, handing its reference to another slot sharing it. */
static void drop_child_slot(cnnc_module *m, size_t i) {
    cnnc__child *c = &m->children[i];
    if (!c->owns) return;
    for (size_t j = 0; j < m->n_children; j++)
        if (j != i && m->children[j].m == c->m) {
            m->children[j].owns = true;
            return;
        }
    cnnc_module_release(c->m);
}

cnnc_status cnnc__module_set_child(cnnc_module *m, const char *name, cnnc_module *child) {
    cnnc__child *c = name ? find_child(m, name, strlen(name)) : NULL;
    if (!c) return cnnc__module_add_child(m, name, child);
    if (c->m == child) return CNNC_OK; /* the same module again: nothing changes */
    bool shared = child && has_child(m, child);
    cnnc_status st = check_child(m, name, child);
    if (st != CNNC_OK) {
        if (!shared) cnnc_module_release(child);
        return st;
    }
    drop_child_slot(m, (size_t)(c - m->children));
    c->m = child;
    c->owns = !shared;
    return CNNC_OK;
}

/* ---- lookup --------------------------------------------------------------------------- */

cnnc_tensor *cnnc__module_param(const cnnc_module *m, const char *name) {
    cnnc__entry *e = find_entry(m->params, m->n_params, name);
    return e ? e->t : NULL;
}

cnnc_tensor *cnnc__module_buffer(const cnnc_module *m, const char *name) {
    cnnc__entry *e = find_entry(m->buffers, m->n_buffers, name);
    return e ? e->t : NULL;
}

static _Thread_local bool skip_init;

bool cnnc__set_skip_init(bool skip) {
    bool old = skip_init;
    skip_init = skip;
    return old;
}

cnnc_tensor *cnnc__uniform_param(int ndim, const int64_t *shape, double bound) {
    cnnc_tensor *t = skip_init ? cnnc__tensor_zeros(CNNC_FLOAT32, ndim, shape)
                               : cnnc__tensor_new(CNNC_FLOAT32, ndim, shape);
    if (!t) return NULL;
    if (!skip_init) cnnc__rng_uniform(cnnc__f32(t), t->numel, -bound, bound);
    t->requires_grad = true;
    return t;
}

cnnc_tensor *cnnc__filled_param(int ndim, const int64_t *shape, float v) {
    cnnc_tensor *t = cnnc__tensor_new(CNNC_FLOAT32, ndim, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < t->numel; i++) cnnc__f32(t)[i] = v;
    t->requires_grad = true;
    return t;
}

/* Walks the dotted prefix of *name ("layer1.0.conv1.weight") down from m: returns
 * the module owning the last component and points *name at that component. */
static cnnc_module *walk_path(cnnc_module *m, const char **name) {
    const char *dot;
    while ((dot = strchr(*name, '.'))) {
        cnnc__child *c = find_child(m, *name, (size_t)(dot - *name));
        if (!c) return NULL;
        m = c->m;
        *name = dot + 1;
    }
    return m;
}

/* The entry a dotted name designates, or NULL with CNNC_ERR_NOT_FOUND. */
static cnnc__entry *resolve(cnnc_module *m, const char *full, const char *fn) {
    const char *name = full;
    cnnc_module *owner = walk_path(m, &name);
    cnnc__entry *e = NULL;
    if (owner) {
        e = find_entry(owner->params, owner->n_params, name);
        if (!e) e = find_entry(owner->buffers, owner->n_buffers, name);
    }
    if (!e)
        cnnc__error(CNNC_ERR_NOT_FOUND, "%s(): '%s' object has no parameter or buffer '%s'", fn,
                    cnnc__module_name(owner ? owner : m), full);
    return e;
}

cnnc_status cnnc_module_tensor(cnnc_module *m, const char *name, cnnc_tensor **out) {
    CNNC__NONNULL_OR_STATUS("module_tensor", m);
    CNNC__NONNULL_OR_STATUS("module_tensor", name);
    CNNC__NONNULL_OR_STATUS("module_tensor", out);
    *out = NULL;
    cnnc__entry *e = resolve(m, name, "module_tensor");
    if (!e) return CNNC_ERR_NOT_FOUND;
    *out = e->t;
    return CNNC_OK;
}

cnnc_status cnnc_module_set_tensor(cnnc_module *m, const char *name, cnnc_tensor *t) {
    CNNC__NONNULL_OR_STATUS("module_set_tensor", m);
    CNNC__NONNULL_OR_STATUS("module_set_tensor", name);
    cnnc__entry *e = resolve(m, name, "module_set_tensor");
    if (!e) return CNNC_ERR_NOT_FOUND;
    cnnc_tensor *old = e->t;
    e->t = cnnc_tensor_retain(t);
    cnnc_tensor_release(old);
    return CNNC_OK;
}

cnnc_module *cnnc_module_get_submodule(cnnc_module *m, const char *target) {
    CNNC__NONNULL_OR_NULL("module_get_submodule", m);
    CNNC__NONNULL_OR_NULL("module_get_submodule", target);
    if (!target[0]) return m;
    const char *name = target;
    cnnc_module *owner = walk_path(m, &name);
    cnnc__child *c = owner ? find_child(owner, name, strlen(name)) : NULL;
    if (!c)
        return cnnc__error_null(CNNC_ERR_NOT_FOUND, "%s has no attribute `%s`",
                                cnnc__module_name(owner ? owner : m), target);
    return c->m;
}

/* ---- forward ------------------------------------------------------------------------------ */

static cnnc_status arg_count_error(const cnnc_module *m, int n_in) {
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "%s.forward() takes 2 positional arguments but %d were given",
                       cnnc__module_name(m), n_in + 1);
}

static cnnc_status missing_forward(const cnnc_module *m) {
    return cnnc__error(CNNC_ERR_RUNTIME, "Module [%s] is missing the required \"forward\" function",
                       cnnc__module_name(m));
}

static _Thread_local cnnc__call_hook call_hook;
static _Thread_local void *call_hook_ctx;

void cnnc__set_call_hook(cnnc__call_hook hook, void *ctx) {
    call_hook = hook;
    call_hook_ctx = ctx;
}

bool cnnc__call_hook_set(void) { return call_hook != NULL; }

void cnnc__module_called(const cnnc_module *m, int n_in, cnnc_tensor *const *in, int n_out, cnnc_tensor *const *out) {
    if (call_hook) call_hook(call_hook_ctx, m, n_in, in, n_out, out);
}

/* CNNC_TRACE's line for a call of m that started at t0: the module's type and mode, the
 * shapes in and out (n_out < 0: the call failed). */
static void trace_call(double t0, const cnnc_module *m, int n_in, cnnc_tensor *const *in,
                       int n_out, cnnc_tensor *const *out) {
    char kernel[64], shapes[512];
    const char *mode = m->training ? "train" : "eval";
    snprintf(kernel, sizeof kernel, "%s (%s)", cnnc__module_name(m), mode);
    cnnc__trace_shapes(shapes, sizeof shapes, n_in, in, n_out > 0 ? n_out : 0, out);
    cnnc__trace_end(t0, "module.forward", kernel, n_out < 0 ? "failed" : shapes);
}

int cnnc__module_call_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out) {
    for (int i = 0; i < n_in; i++)
        if (!in[i])
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s.forward(): input %d is NULL",
                               cnnc__module_name(m), i), -1;
    const double t0 = cnnc__trace_begin();
    int n = -1;
    if (m->type->forward_n) n = m->type->forward_n(m, n_in, in, out);
    else if (!m->type->forward) missing_forward(m);
    else if (n_in != 1) arg_count_error(m, n_in);
    else n = (out[0] = m->type->forward(m, in[0])) ? 1 : -1;
    if (t0) trace_call(t0, m, n_in, in, n, out);
    if (call_hook && n >= 0) call_hook(call_hook_ctx, m, n_in, in, n, out);
    return n;
}

cnnc_tensor *cnnc__module_call(cnnc_module *m, cnnc_tensor *x) {
    if (!x)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s.forward(): input is NULL",
                                cnnc__module_name(m));
    if (m->type->forward) {
        const double t0 = cnnc__trace_begin();
        cnnc_tensor *y = m->type->forward(m, x);
        if (t0) trace_call(t0, m, 1, &x, y ? 1 : -1, &y);
        if (call_hook && y) call_hook(call_hook_ctx, m, 1, &x, 1, &y);
        return y;
    }
    cnnc_tensor *out[CNNC_MAX_OUTPUTS];
    int n = cnnc__module_call_n(m, 1, &x, out);
    if (n == 1) return out[0];
    for (int i = 0; i < n; i++) cnnc_tensor_release(out[i]);
    if (n >= 0)
        cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                    "%s returned %d tensors: call cnnc_module_forward_n for all of them",
                    cnnc__module_name(m), n);
    return NULL;
}

cnnc_tensor *cnnc_module_forward(cnnc_module *m, cnnc_tensor *input) {
    CNNC__NONNULL_OR_NULL("module_forward", m);
    CNNC__NONNULL_OR_NULL("module_forward", input);
    check_alive(m, "cnnc_module_forward");
    return cnnc__give(cnnc__module_call(m, input));
}

int cnnc_module_forward_n(cnnc_module *m, int n_inputs, cnnc_tensor *const *inputs,
                          cnnc_tensor **outputs) {
    if (!m || !outputs || n_inputs < 0 || n_inputs > CNNC_MAX_INPUTS || (n_inputs && !inputs))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "module_forward_n(): needs a module, 0..%d inputs and an output array "
                           "(got n_inputs=%d)", CNNC_MAX_INPUTS, n_inputs), -1;
    check_alive(m, "cnnc_module_forward_n");
    cnnc_tensor *out[CNNC_MAX_OUTPUTS];
    int n = cnnc__module_call_n(m, n_inputs, inputs, out);
    for (int i = 0; i < n; i++) outputs[i] = cnnc__give(out[i]);
    for (int i = 0; i < n; i++)
        if (!outputs[i]) { /* a scope could not take one: drop them all */
            for (int j = i + 1; j < n; j++) cnnc_tensor_release(outputs[j]);
            return -1;
        }
    return n;
}

const char *cnnc_module_type(const cnnc_module *m) {
    CNNC__NONNULL_OR_NULL("module_type", m);
    return cnnc__module_name(m);
}

/* ---- train / eval, children ------------------------------------------------------------- */

cnnc_status cnnc__module_depth_error(const char *fn) {
    return cnnc__error(CNNC_ERR_RUNTIME, "%s(): modules are nested more than %d levels deep", fn,
                       CNNC__MAX_MODULE_DEPTH);
}

static cnnc_status train_rec(cnnc_module *m, bool mode, int depth) {
    if (depth > CNNC__MAX_MODULE_DEPTH) return cnnc__module_depth_error("train");
    m->training = mode;
    cnnc_status st = CNNC_OK;
    for (size_t i = 0; i < m->n_children && st == CNNC_OK; i++)
        st = train_rec(m->children[i].m, mode, depth + 1);
    return st;
}

void cnnc_module_train(cnnc_module *m, bool mode) {
    if (!m) {
        cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_train(): argument 'm' is NULL");
        return;
    }
    train_rec(m, mode, 1);
}

void cnnc_module_eval(cnnc_module *m) { cnnc_module_train(m, false); }

bool cnnc_module_is_training(const cnnc_module *m) {
    if (!m) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_is_training(): argument 'm' is NULL"), false;
    return m->training;
}

size_t cnnc_module_num_children(const cnnc_module *m) {
    if (!m) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_num_children(): argument 'm' is NULL"), 0;
    return m->n_children;
}

cnnc_module *cnnc_module_child(const cnnc_module *m, size_t i, const char **name) {
    if (!m || i >= m->n_children)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "module_child(): index %zu out of range", i);
    if (name) *name = m->children[i].name;
    return m->children[i].m;
}
