/* The generic module: registration, lookup by dotted name, train/eval,
 * parameter and state_dict listings in PyTorch's order, load_state_dict,
 * zero_grad, print(module) and the vars(module) listing. */
#include "nn/module.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "core/rng.h"

cnnc_module *cnnc__module_new(const cnnc__module_type *type) {
    cnnc_module *m = cnnc__calloc(1, sizeof *m);
    if (!m) return (cnnc__oom("a module"), NULL);
    atomic_init(&m->refcount, 1);
    m->type = type;
    m->training = true;
    return m;
}

cnnc_module *cnnc_module_retain(cnnc_module *m) {
    if (m) atomic_fetch_add(&m->refcount, 1);
    return m;
}

void cnnc_module_release(cnnc_module *m) {
    if (!m || atomic_fetch_sub(&m->refcount, 1) != 1) return;
    for (size_t i = 0; i < m->n_params; i++) cnnc_tensor_release(m->params[i].t);
    for (size_t i = 0; i < m->n_buffers; i++) cnnc_tensor_release(m->buffers[i].t);
    for (size_t i = 0; i < m->n_children; i++) cnnc_module_release(m->children[i].m);
    cnnc__free(m->params);
    cnnc__free(m->buffers);
    cnnc__free(m->children);
    cnnc__free(m);
}

static cnnc_status check_name(const char *name) {
    if (!name || !name[0] || strlen(name) >= CNNC__NAME_CAP || strchr(name, '.'))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "module attribute name \"%s\" must be non-empty, without '.', and "
                           "shorter than %d characters",
                           name ? name : "(null)", CNNC__NAME_CAP);
    return CNNC_OK;
}

static cnnc_status add_entry(cnnc__entry **arr, size_t *n, size_t *cap, const char *name,
                             cnnc_tensor *t, bool persistent) {
    cnnc_status st = check_name(name);
    if (st == CNNC_OK && !cnnc__grow((void **)arr, cap, *n + 1, sizeof **arr))
        st = cnnc__oom("a module entry");
    if (st != CNNC_OK) {
        cnnc_tensor_release(t);
        return st;
    }
    cnnc__entry *e = &(*arr)[(*n)++];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->t = t;
    e->persistent = persistent;
    return CNNC_OK;
}

cnnc_status cnnc__module_add_param(cnnc_module *m, const char *name, cnnc_tensor *t) {
    return add_entry(&m->params, &m->n_params, &m->cap_params, name, t, true);
}

cnnc_status cnnc__module_add_buffer(cnnc_module *m, const char *name, cnnc_tensor *t,
                                    bool persistent) {
    return add_entry(&m->buffers, &m->n_buffers, &m->cap_buffers, name, t, persistent);
}

/* Is m inside the tree rooted at root (root itself included)? */
static bool contains(const cnnc_module *root, const cnnc_module *m) {
    if (root == m) return true;
    for (size_t i = 0; i < root->n_children; i++)
        if (contains(root->children[i].m, m)) return true;
    return false;
}

cnnc_status cnnc__module_add_child(cnnc_module *m, const char *name, cnnc_module *child) {
    cnnc_status st = check_name(name);
    if (st == CNNC_OK && !child)
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "add_module(): child \"%s\" is NULL", name);
    if (st == CNNC_OK && contains(child, m))
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                         "add_module(): a %s cannot be its own child or descendant (a cycle)",
                         m->type->name);
    if (st == CNNC_OK && !cnnc__grow((void **)&m->children, &m->cap_children, m->n_children + 1,
                                     sizeof *m->children))
        st = cnnc__oom("a child module");
    if (st != CNNC_OK) {
        cnnc_module_release(child);
        return st;
    }
    cnnc__child *c = &m->children[m->n_children++];
    memset(c, 0, sizeof *c);
    strcpy(c->name, name);
    c->m = child;
    return CNNC_OK;
}

void cnnc__module_set_attr(cnnc_module *m, const char *name, cnnc_value value) {
    for (int i = 0; i < m->n_attrs; i++)
        if (strcmp(m->attrs[i].name, name) == 0) {
            m->attrs[i].value = value;
            return;
        }
    if (m->n_attrs < CNNC__MAX_ATTRS) m->attrs[m->n_attrs++] = (cnnc__attr){name, value};
}

const cnnc_value *cnnc__module_get_attr(const cnnc_module *m, const char *name) {
    for (int i = 0; i < m->n_attrs; i++)
        if (strcmp(m->attrs[i].name, name) == 0) return &m->attrs[i].value;
    return NULL;
}

static cnnc__entry *find_entry(cnnc__entry *arr, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(arr[i].name, name) == 0) return &arr[i];
    return NULL;
}

cnnc_tensor *cnnc__module_param(const cnnc_module *m, const char *name) {
    cnnc__entry *e = find_entry(m->params, m->n_params, name);
    return e ? e->t : NULL;
}

cnnc_tensor *cnnc__uniform_param(int ndim, const int64_t *shape, double bound) {
    cnnc_tensor *t = cnnc__tensor_new(CNNC_FLOAT32, ndim, shape);
    if (!t) return NULL;
    cnnc__rng_uniform(cnnc__f32(t), t->numel, -bound, bound);
    t->requires_grad = true;
    return t;
}

/* ---- lookup by dotted name ------------------------------------------------ */

static cnnc_module *find_child(const cnnc_module *m, const char *name, size_t len) {
    for (size_t i = 0; i < m->n_children; i++)
        if (strlen(m->children[i].name) == len && strncmp(m->children[i].name, name, len) == 0)
            return m->children[i].m;
    return NULL;
}

/* The entry a dotted name designates, or NULL with CNNC_ERR_NOT_FOUND. */
static cnnc__entry *resolve(cnnc_module *m, const char *name, const char *fn) {
    const char *full = name;
    const char *dot;
    while ((dot = strchr(name, '.'))) {
        cnnc_module *c = find_child(m, name, (size_t)(dot - name));
        if (!c) break;
        m = c;
        name = dot + 1;
    }
    cnnc__entry *e = strchr(name, '.') ? NULL : find_entry(m->params, m->n_params, name);
    if (!e && !strchr(name, '.')) e = find_entry(m->buffers, m->n_buffers, name);
    if (!e)
        cnnc__error(CNNC_ERR_NOT_FOUND, "%s(): '%s' object has no parameter or buffer '%s'", fn,
                    m->type->name, full);
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

/* ---- basics ------------------------------------------------------------------ */

cnnc_tensor *cnnc_module_forward(cnnc_module *m, cnnc_tensor *input) {
    CNNC__NONNULL_OR_NULL("module_forward", m);
    CNNC__NONNULL_OR_NULL("module_forward", input);
    return cnnc__give(m->type->forward(m, input));
}

const char *cnnc_module_type(const cnnc_module *m) {
    CNNC__NONNULL_OR_NULL("module_type", m);
    return m->type->name;
}

void cnnc_module_train(cnnc_module *m, bool mode) {
    if (!m) {
        cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_train(): argument 'm' is NULL");
        return;
    }
    m->training = mode;
    for (size_t i = 0; i < m->n_children; i++) cnnc_module_train(m->children[i].m, mode);
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

/* ---- listings ------------------------------------------------------------------ */

typedef enum { LIST_PARAMS, LIST_BUFFERS, LIST_STATE } list_kind;

static bool listed_already(const cnnc_tensor_list *l, const cnnc_tensor *t) {
    for (size_t i = 0; i < cnnc_tensor_list_size(l); i++)
        if (cnnc_tensor_list_get(l, i) == t) return true;
    return false;
}

static cnnc_status append_prefixed(cnnc_tensor_list *l, const char *prefix, const char *name,
                                   cnnc_tensor *t) {
    char full[1024];
    if ((size_t)snprintf(full, sizeof full, "%s%s", prefix, name) >= sizeof full)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module name \"%s%s\" is too long", prefix, name);
    return cnnc_tensor_list_append(l, full, t);
}

/* Appends one array of entries: parameters (no None, each tensor once) or buffers
 * (each tensor once; state_dict: persistent ones, as detached aliases). */
static cnnc_status list_entries(const cnnc__entry *e, size_t n, const char *prefix,
                                list_kind kind, cnnc_tensor_list *l) {
    for (size_t i = 0; i < n; i++) {
        cnnc_tensor *t = e[i].t;
        if (!t || (kind == LIST_STATE && !e[i].persistent)) continue;
        if (kind != LIST_STATE && listed_already(l, t)) continue;
        cnnc_tensor *v = kind == LIST_STATE ? cnnc__tensor_alias(t, t->ndim, t->shape)
                                            : cnnc_tensor_retain(t);
        if (!v) return cnnc_last_status();
        cnnc_status st = append_prefixed(l, prefix, e[i].name, v);
        cnnc_tensor_release(v);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

static cnnc_status list_into(cnnc_module *m, const char *prefix, list_kind kind, cnnc_tensor_list *l) {
    cnnc_status st = CNNC_OK;
    if (kind != LIST_BUFFERS) st = list_entries(m->params, m->n_params, prefix, kind, l);
    if (st == CNNC_OK && kind != LIST_PARAMS)
        st = list_entries(m->buffers, m->n_buffers, prefix, kind, l);
    for (size_t i = 0; i < m->n_children && st == CNNC_OK; i++) {
        char sub[1024];
        if ((size_t)snprintf(sub, sizeof sub, "%s%s.", prefix, m->children[i].name) >= sizeof sub)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module nesting is too deep");
        st = list_into(m->children[i].m, sub, kind, l);
    }
    return st;
}

static cnnc_tensor_list *make_list(cnnc_module *m, list_kind kind) {
    CNNC__NONNULL_OR_NULL("module listing", m);
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    if (l && list_into(m, "", kind, l) != CNNC_OK) {
        cnnc_tensor_list_free(l);
        return NULL;
    }
    return l;
}

cnnc_tensor_list *cnnc_module_named_parameters(cnnc_module *m) { return make_list(m, LIST_PARAMS); }
cnnc_tensor_list *cnnc_module_named_buffers(cnnc_module *m) { return make_list(m, LIST_BUFFERS); }
cnnc_tensor_list *cnnc_module_state_dict(cnnc_module *m) { return make_list(m, LIST_STATE); }

void cnnc_module_zero_grad(cnnc_module *m, bool set_to_none) {
    if (!m) {
        cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_zero_grad(): argument 'm' is NULL");
        return;
    }
    for (size_t i = 0; i < m->n_params; i++) {
        cnnc_tensor *t = m->params[i].t;
        if (!t || !t->grad) continue;
        if (set_to_none) {
            cnnc_tensor_release(t->grad);
            t->grad = NULL;
        } else {
            memset(t->grad->storage->data, 0, t->grad->storage->nbytes);
            cnnc__bump_version(t->grad);
        }
    }
    for (size_t i = 0; i < m->n_children; i++) cnnc_module_zero_grad(m->children[i].m, set_to_none);
}

/* ---- load_state_dict ---------------------------------------------------------------- */

static void copy_cast(cnnc_tensor *dst, const cnnc_tensor *src) {
    if (dst->dtype == src->dtype) {
        if (dst->storage->nbytes) memmove(dst->storage->data, src->storage->data, dst->storage->nbytes);
    } else if (dst->dtype == CNNC_FLOAT32) {
        for (int64_t i = 0; i < dst->numel; i++) cnnc__f32(dst)[i] = (float)cnnc__i64(src)[i];
    } else {
        for (int64_t i = 0; i < dst->numel; i++) cnnc__i64(dst)[i] = (int64_t)cnnc__f32(src)[i];
    }
    cnnc__bump_version(dst);
}

/* sd's tensor named key, or NULL */
static cnnc_tensor *lookup(const cnnc_tensor_list *sd, const char *key, bool *found) {
    for (size_t j = 0; j < cnnc_tensor_list_size(sd); j++)
        if (strcmp(cnnc_tensor_list_name(sd, j), key) == 0) {
            *found = true;
            return cnnc_tensor_list_get(sd, j);
        }
    *found = false;
    return NULL;
}

/* Appends one message to PyTorch's "\n\t"-joined list of errors. */
static void add_error(cnnc__strbuf *errs, const char *fmt, const char *a, const char *b, const char *c) {
    if (errs->len) cnnc__strbuf_printf(errs, "\n\t");
    cnnc__strbuf_printf(errs, fmt, a, b, c);
}

cnnc_status cnnc_module_load_state_dict(cnnc_module *m, const cnnc_tensor_list *sd, bool strict) {
    CNNC__NONNULL_OR_STATUS("load_state_dict", m);
    CNNC__NONNULL_OR_STATUS("load_state_dict", sd);
    cnnc_tensor_list *own = cnnc_module_state_dict(m); /* aliases of the module's tensors */
    if (!own) return cnnc_last_status();
    size_t n_own = cnnc_tensor_list_size(own), n_sd = cnnc_tensor_list_size(sd);
    cnnc__strbuf missing = {0}, unexpected = {0}, errs = {0};
    for (size_t i = 0; i < n_own; i++) {
        const char *key = cnnc_tensor_list_name(own, i);
        bool found;
        lookup(sd, key, &found);
        if (!found) cnnc__strbuf_printf(&missing, "%s\"%s\"", missing.len ? ", " : "", key);
    }
    for (size_t j = 0; j < n_sd; j++) {
        const char *key = cnnc_tensor_list_name(sd, j);
        bool found;
        lookup(own, key, &found);
        if (!found) cnnc__strbuf_printf(&unexpected, "%s\"%s\"", unexpected.len ? ", " : "", key);
    }
    if (strict && missing.len) add_error(&errs, "Missing key(s) in state_dict: %s. %s%s", missing.buf, "", "");
    if (strict && unexpected.len)
        add_error(&errs, "Unexpected key(s) in state_dict: %s. %s%s", unexpected.buf, "", "");
    for (size_t i = 0; i < n_own; i++) {
        const char *key = cnnc_tensor_list_name(own, i);
        bool found;
        cnnc_tensor *src = lookup(sd, key, &found), *dst = cnnc_tensor_list_get(own, i);
        if (!found) continue;
        if (!src) {
            add_error(&errs, "value for %s is None%s%s", key, "", "");
        } else if (!cnnc__same_shape(src, dst)) {
            char a[256], b[256];
            cnnc__shape_str(a, sizeof a, src->ndim, src->shape);
            cnnc__shape_str(b, sizeof b, dst->ndim, dst->shape);
            add_error(&errs,
                      "size mismatch for %s: copying a param with shape torch.Size(%s) from "
                      "checkpoint, the shape in current model is torch.Size(%s).",
                      key, a, b);
        }
    }
    cnnc_status st = CNNC_OK;
    if (missing.failed || unexpected.failed || errs.failed)
        st = cnnc__oom("a load_state_dict report");
    else if (errs.len)
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Error(s) in loading state_dict for %s:\n\t%s",
                         m->type->name, errs.buf);
    else /* everything checked: now copy, so an error leaves the module unchanged */
        for (size_t i = 0; i < n_own; i++) {
            bool found;
            cnnc_tensor *src = lookup(sd, cnnc_tensor_list_name(own, i), &found);
            if (src) copy_cast(cnnc_tensor_list_get(own, i), src);
        }
    cnnc__free(missing.buf);
    cnnc__free(unexpected.buf);
    cnnc__free(errs.buf);
    cnnc_tensor_list_free(own);
    return st;
}

/* ---- print(module) and vars(module) ------------------------------------------------ */

static void repr_into(const cnnc_module *m, cnnc__strbuf *s, int indent) {
    char extra[512] = "";
    if (m->type->extra_repr) m->type->extra_repr(m, extra, sizeof extra);
    cnnc__strbuf_printf(s, "%s(%s", m->type->name, extra);
    if (m->n_children) {
        cnnc__strbuf_printf(s, "\n");
        for (size_t i = 0; i < m->n_children; i++) {
            cnnc__strbuf_printf(s, "%*s(%s): ", indent + 2, "", m->children[i].name);
            repr_into(m->children[i].m, s, indent + 2);
            cnnc__strbuf_printf(s, "\n");
        }
        cnnc__strbuf_printf(s, "%*s", indent, "");
    }
    cnnc__strbuf_printf(s, ")");
}

char *cnnc_module_repr(const cnnc_module *m) {
    CNNC__NONNULL_OR_NULL("module_repr", m);
    cnnc__strbuf s = {0};
    repr_into(m, &s, 0);
    return cnnc__strbuf_finish(&s, "a module description");
}

static void value_text(cnnc__strbuf *s, const cnnc_value *v) {
    switch (v->kind) {
    case CNNC_VALUE_BOOL: cnnc__strbuf_printf(s, "%s", v->ints[0] ? "True" : "False"); break;
    case CNNC_VALUE_INT: cnnc__strbuf_printf(s, "%lld", (long long)v->ints[0]); break;
    case CNNC_VALUE_FLOAT: {
        char f[64];
        cnnc__float_repr(v->f, f, sizeof f);
        cnnc__strbuf_printf(s, "%s", f);
        break;
    }
    case CNNC_VALUE_FLOATS:
        cnnc__strbuf_printf(s, "(");
        for (int i = 0; i < v->n; i++) {
            char f[64];
            cnnc__float_repr(v->fs[i], f, sizeof f);
            cnnc__strbuf_printf(s, i ? ", %s" : "%s", f);
        }
        cnnc__strbuf_printf(s, v->n == 1 ? ",)" : ")");
        break;
    case CNNC_VALUE_STRING: cnnc__strbuf_printf(s, "'%s'", v->s); break;
    case CNNC_VALUE_INTS:
        cnnc__strbuf_printf(s, "(");
        for (int i = 0; i < v->n; i++) cnnc__strbuf_printf(s, i ? ", %lld" : "%lld", (long long)v->ints[i]);
        cnnc__strbuf_printf(s, v->n == 1 ? ",)" : ")");
        break;
    default: cnnc__strbuf_printf(s, "None"); break;
    }
}

static void entries_text(cnnc__strbuf *s, const char *title, const cnnc__entry *e, size_t n) {
    cnnc__strbuf_printf(s, "  %s:%s\n", title, n ? "" : " (none)");
    for (size_t i = 0; i < n; i++) {
        char shape[256] = "None";
        if (e[i].t) cnnc__shape_str(shape, sizeof shape, e[i].t->ndim, e[i].t->shape);
        cnnc__strbuf_printf(s, "    %s: %s%s%s\n", e[i].name, shape,
                    e[i].t && e[i].t->dtype == CNNC_INT64 ? " int64" : "",
                    e[i].t && e[i].t->requires_grad ? " (requires_grad)" : "");
    }
}

char *cnnc_module_vars(const cnnc_module *m) {
    CNNC__NONNULL_OR_NULL("module_vars", m);
    cnnc__strbuf s = {0};
    cnnc__strbuf_printf(&s, "%s\n  training: %s\n", m->type->name, m->training ? "True" : "False");
    entries_text(&s, "parameters", m->params, m->n_params);
    entries_text(&s, "buffers", m->buffers, m->n_buffers);
    if (m->n_children) {
        cnnc__strbuf_printf(&s, "  modules:");
        for (size_t i = 0; i < m->n_children; i++)
            cnnc__strbuf_printf(&s, " %s (%s)", m->children[i].name, m->children[i].m->type->name);
        cnnc__strbuf_printf(&s, "\n");
    }
    for (int i = 0; i < m->n_attrs; i++) {
        cnnc__strbuf_printf(&s, "  %s: ", m->attrs[i].name);
        value_text(&s, &m->attrs[i].value);
        cnnc__strbuf_printf(&s, "\n");
    }
    return cnnc__strbuf_finish(&s, "a module description");
}

size_t cnnc_module_num_attrs(const cnnc_module *m) {
    if (!m) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_num_attrs(): argument 'm' is NULL"), 0;
    return (size_t)m->n_attrs;
}

cnnc_status cnnc_module_attr_at(const cnnc_module *m, size_t i, const char **name, cnnc_value *value) {
    CNNC__NONNULL_OR_STATUS("module_attr_at", m);
    if (i >= (size_t)m->n_attrs)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_attr_at(): index %zu out of range", i);
    if (name) *name = m->attrs[i].name;
    if (value) *value = m->attrs[i].value;
    return CNNC_OK;
}

cnnc_status cnnc_module_attr(const cnnc_module *m, const char *name, cnnc_value *value) {
    CNNC__NONNULL_OR_STATUS("module_attr", m);
    CNNC__NONNULL_OR_STATUS("module_attr", name);
    CNNC__NONNULL_OR_STATUS("module_attr", value);
    const cnnc_value *v = cnnc__module_get_attr(m, name);
    if (!v)
        return cnnc__error(CNNC_ERR_NOT_FOUND, "'%s' object has no attribute '%s'", m->type->name, name);
    *value = *v;
    return CNNC_OK;
}
