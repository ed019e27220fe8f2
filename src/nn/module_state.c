/* A module's tensors as lists: named_parameters, named_buffers and state_dict in
 * PyTorch's order and names, zero_grad, and load_state_dict with PyTorch's checks
 * and error report. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "nn/module.h"

typedef enum { LIST_PARAMS, LIST_BUFFERS, LIST_STATE } list_kind;

static bool listed_already(const cnnc_tensor_list *l, const cnnc_tensor *t) {
    for (size_t i = 0; i < cnnc_tensor_list_size(l); i++)
        if (cnnc_tensor_list_get(l, i) == t) return true;
    return false;
}

/* Appends one array of entries: parameters (no None, each tensor once) or buffers
 * (each tensor once; state_dict: persistent ones, as detached aliases). */
static cnnc_status list_entries(const cnnc__entry *e, size_t n, cnnc__strbuf *prefix,
                                list_kind kind, cnnc_tensor_list *l) {
    const size_t len = prefix->len;
    for (size_t i = 0; i < n; i++) {
        cnnc_tensor *t = e[i].t;
        if (!t || (kind == LIST_STATE && !e[i].persistent)) continue;
        if (kind != LIST_STATE && listed_already(l, t)) continue;
        cnnc__strbuf_printf(prefix, "%s", e[i].name);
        if (prefix->failed) return cnnc__oom("a tensor name");
        cnnc_tensor *v = kind == LIST_STATE ? cnnc__tensor_alias(t, t->ndim, t->shape)
                                            : cnnc_tensor_retain(t);
        cnnc_status st = v ? cnnc_tensor_list_append(l, prefix->buf, v) : cnnc_last_status();
        cnnc_tensor_release(v);
        prefix->len = len;
        prefix->buf[len] = '\0';
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

/* prefix holds "layer1.0." for the module m (its buffer is restored on return). */
static cnnc_status list_into(cnnc_module *m, cnnc__strbuf *prefix, list_kind kind,
                             cnnc_tensor_list *l, int depth) {
    if (depth > CNNC__MAX_MODULE_DEPTH) return cnnc__module_depth_error("state_dict");
    cnnc_status st = CNNC_OK;
    if (kind != LIST_BUFFERS) st = list_entries(m->params, m->n_params, prefix, kind, l);
    if (st == CNNC_OK && kind != LIST_PARAMS)
        st = list_entries(m->buffers, m->n_buffers, prefix, kind, l);
    const size_t len = prefix->len;
    for (size_t i = 0; i < m->n_children && st == CNNC_OK; i++) {
        cnnc__strbuf_printf(prefix, "%s.", m->children[i].name);
        if (prefix->failed) return cnnc__oom("a tensor name");
        st = list_into(m->children[i].m, prefix, kind, l, depth + 1);
        prefix->len = len;
        prefix->buf[len] = '\0';
    }
    return st;
}

static cnnc_tensor_list *make_list(cnnc_module *m, list_kind kind) {
    CNNC__NONNULL_OR_NULL("module listing", m);
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    cnnc__strbuf prefix = {0};
    cnnc__strbuf_printf(&prefix, "%s", "");
    cnnc_status st = !l ? cnnc_last_status()
                     : prefix.failed ? cnnc__oom("a tensor name")
                                     : list_into(m, &prefix, kind, l, 1);
    cnnc__free(prefix.buf);
    if (st != CNNC_OK) {
        cnnc_tensor_list_free(l);
        return NULL;
    }
    return l;
}

cnnc_tensor_list *cnnc_module_named_parameters(cnnc_module *m) { return make_list(m, LIST_PARAMS); }
cnnc_tensor_list *cnnc_module_named_buffers(cnnc_module *m) { return make_list(m, LIST_BUFFERS); }
cnnc_tensor_list *cnnc_module_state_dict(cnnc_module *m) { return make_list(m, LIST_STATE); }

static cnnc_status zero_grad_rec(cnnc_module *m, bool set_to_none, int depth) {
    if (depth > CNNC__MAX_MODULE_DEPTH) return cnnc__module_depth_error("zero_grad");
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
    cnnc_status st = CNNC_OK;
    for (size_t i = 0; i < m->n_children && st == CNNC_OK; i++)
        st = zero_grad_rec(m->children[i].m, set_to_none, depth + 1);
    return st;
}

void cnnc_module_zero_grad(cnnc_module *m, bool set_to_none) {
    if (!m) {
        cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module_zero_grad(): argument 'm' is NULL");
        return;
    }
    zero_grad_rec(m, set_to_none, 1);
}

/* ---- load_state_dict -------------------------------------------------------------- */

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

/* "\"a\", \"b\"": the keys of `from` that `in` lacks. */
static void absent_keys(cnnc__strbuf *out, const cnnc_tensor_list *from, const cnnc_tensor_list *in) {
    for (size_t i = 0; i < cnnc_tensor_list_size(from); i++) {
        const char *key = cnnc_tensor_list_name(from, i);
        bool found;
        lookup(in, key, &found);
        if (!found) cnnc__strbuf_printf(out, "%s\"%s\"", out->len ? ", " : "", key);
    }
}

/* Appends one message to PyTorch's "\n\t"-joined list of errors. */
static void add_error(cnnc__strbuf *errs, const char *fmt, const char *a, const char *b, const char *c) {
    if (errs->len) cnnc__strbuf_printf(errs, "\n\t");
    cnnc__strbuf_printf(errs, fmt, a, b, c);
}

/* The None and size-mismatch errors of the keys both lists have. */
static void value_errors(cnnc__strbuf *errs, const cnnc_tensor_list *own, const cnnc_tensor_list *sd) {
    for (size_t i = 0; i < cnnc_tensor_list_size(own); i++) {
        const char *key = cnnc_tensor_list_name(own, i);
        bool found;
        cnnc_tensor *src = lookup(sd, key, &found), *dst = cnnc_tensor_list_get(own, i);
        if (!found) continue;
        if (!src) {
            add_error(errs, "value for %s is None%s%s", key, "", "");
        } else if (!cnnc__same_shape(src, dst)) {
            char a[256], b[256];
            cnnc__shape_str(a, sizeof a, src->ndim, src->shape);
            cnnc__shape_str(b, sizeof b, dst->ndim, dst->shape);
            add_error(errs,
                      "size mismatch for %s: copying a param with shape torch.Size(%s) from "
                      "checkpoint, the shape in current model is torch.Size(%s).",
                      key, a, b);
        }
    }
}

cnnc_status cnnc_module_load_state_dict(cnnc_module *m, const cnnc_tensor_list *sd, bool strict) {
    CNNC__NONNULL_OR_STATUS("load_state_dict", m);
    CNNC__NONNULL_OR_STATUS("load_state_dict", sd);
    cnnc_tensor_list *own = cnnc_module_state_dict(m); /* aliases of the module's tensors */
    if (!own) return cnnc_last_status();
    cnnc__strbuf missing = {0}, unexpected = {0}, errs = {0};
    absent_keys(&missing, own, sd);
    absent_keys(&unexpected, sd, own);
    if (strict && missing.len) add_error(&errs, "Missing key(s) in state_dict: %s. %s%s", missing.buf, "", "");
    if (strict && unexpected.len)
        add_error(&errs, "Unexpected key(s) in state_dict: %s. %s%s", unexpected.buf, "", "");
    value_errors(&errs, own, sd);
    cnnc_status st = CNNC_OK;
    if (missing.failed || unexpected.failed || errs.failed)
        st = cnnc__oom("a load_state_dict report");
    else if (errs.len)
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Error(s) in loading state_dict for %s:\n\t%s",
                         cnnc__module_name(m), errs.buf);
    else /* everything checked: now copy, so an error leaves the module unchanged */
        for (size_t i = 0; i < cnnc_tensor_list_size(own); i++) {
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
