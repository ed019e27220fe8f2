/* What graph ops share: reading a node's arguments, and building its result. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "graph/graph.h"

/* ---- arguments ------------------------------------------------------------------------ */

const cnnc__garg *cnnc__gctx_arg(const cnnc__gctx *c, int i) {
    return i < c->node->n_args ? &c->node->args[i] : NULL;
}

static cnnc_status arg_error(const cnnc__gctx *c, int i, const char *want) {
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s' (%s): argument %d must be %s",
                       c->node->name, c->node->target, i, want);
}

/* The tensors a reference denotes: one of a node's results, or all of them. */
static cnnc_status ref_tensors(const cnnc__gctx *c, const cnnc__garg *a, int *n, cnnc_tensor **first,
                               cnnc_tensor ***all) {
    const cnnc__gvalue *v = &c->values[a->node];
    if (a->index >= v->n)
        return cnnc__error(CNNC_ERR_RUNTIME, "graph: node '%s' reads result %d of '%s', which has %d",
                           c->node->name, a->index, c->node->target, v->n);
    if (a->index >= 0) {
        *n = 1;
        *first = v->t[a->index];
        if (all) *all = &v->t[a->index];
    } else {
        *n = v->n;
        *first = v->n ? v->t[0] : NULL;
        if (all) *all = v->t;
    }
    return CNNC_OK;
}

cnnc_status cnnc__gctx_tensor(cnnc__gctx *c, int i, cnnc_tensor **t) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    int n;
    if (!a || a->kind != CNNC__GARG_REF) return arg_error(c, i, "a tensor");
    if (ref_tensors(c, a, &n, t, NULL)) return cnnc_last_status();
    return n == 1 ? CNNC_OK : arg_error(c, i, "a single tensor");
}

/* A list of tensors: a list of references, or one reference to several results. */
cnnc_status cnnc__gctx_tensors(cnnc__gctx *c, int i, int *n, cnnc_tensor ***ts, bool *owned) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    cnnc_tensor *first;
    *owned = false;
    if (a && a->kind == CNNC__GARG_REF) return ref_tensors(c, a, n, &first, ts);
    if (!a || a->kind != CNNC__GARG_LIST || a->n < 1) return arg_error(c, i, "a list of tensors");
    cnnc_tensor **list = cnnc__malloc((size_t)a->n * sizeof *list);
    if (!list) return cnnc__oom("a tensor list");
    for (int k = 0; k < a->n; k++) {
        int m;
        if (a->items[k].kind != CNNC__GARG_REF || ref_tensors(c, &a->items[k], &m, &list[k], NULL) || m != 1) {
            cnnc__free(list);
            return arg_error(c, i, "a list of tensors");
        }
    }
    *n = a->n;
    *ts = list;
    *owned = true;
    return CNNC_OK;
}

cnnc_status cnnc__gctx_int(cnnc__gctx *c, int i, int64_t def, int64_t *v) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    if (!a || a->kind == CNNC__GARG_NONE) return *v = def, CNNC_OK;
    if (a->kind != CNNC__GARG_INT && a->kind != CNNC__GARG_BOOL) return arg_error(c, i, "an int");
    *v = a->i;
    return CNNC_OK;
}

cnnc_status cnnc__gctx_float(cnnc__gctx *c, int i, double def, double *v) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    if (!a || a->kind == CNNC__GARG_NONE) return *v = def, CNNC_OK;
    if (a->kind == CNNC__GARG_INT) return *v = (double)a->i, CNNC_OK;
    if (a->kind != CNNC__GARG_FLOAT) return arg_error(c, i, "a number");
    *v = a->f;
    return CNNC_OK;
}

cnnc_status cnnc__gctx_bool(cnnc__gctx *c, int i, bool def, bool *v) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    if (!a || a->kind == CNNC__GARG_NONE) return *v = def, CNNC_OK;
    if (a->kind != CNNC__GARG_BOOL) return arg_error(c, i, "a bool");
    *v = a->i != 0;
    return CNNC_OK;
}

cnnc_status cnnc__gctx_string(cnnc__gctx *c, int i, const char *def, const char **v) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    if (!a || a->kind == CNNC__GARG_NONE) return *v = def, CNNC_OK;
    if (a->kind != CNNC__GARG_STRING) return arg_error(c, i, "a string");
    *v = a->s;
    return CNNC_OK;
}

cnnc_status cnnc__gctx_ints(cnnc__gctx *c, int i, cnnc_ints *v) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    *v = (cnnc_ints)CNNC_INTS_NONE;
    if (!a || a->kind == CNNC__GARG_NONE) return CNNC_OK;
    if (a->kind == CNNC__GARG_INT) return *v = (cnnc_ints)CNNC_INTS(a->i), CNNC_OK;
    if (a->kind != CNNC__GARG_LIST || a->n > CNNC_MAX_DIMS) return arg_error(c, i, "an int or a list of ints");
    v->n = a->n;
    v->tuple = true; /* [3] is the 1-tuple, as in PyTorch */
    for (int k = 0; k < a->n; k++) {
        const cnnc__garg *e = &a->items[k];
        if (e->kind != CNNC__GARG_INT && e->kind != CNNC__GARG_NONE) return arg_error(c, i, "a list of ints");
        v->v[k] = e->kind == CNNC__GARG_NONE ? CNNC_POOL_KEEP : e->i;
    }
    return CNNC_OK;
}

cnnc_status cnnc__gctx_doubles(cnnc__gctx *c, int i, cnnc_doubles *v) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    *v = (cnnc_doubles){.n = 0};
    if (!a || a->kind == CNNC__GARG_NONE) return CNNC_OK;
    if (a->kind == CNNC__GARG_INT || a->kind == CNNC__GARG_FLOAT) {
        v->n = 1;
        return cnnc__gctx_float(c, i, 0.0, &v->v[0]);
    }
    if (a->kind != CNNC__GARG_LIST || a->n > CNNC_MAX_DIMS) return arg_error(c, i, "a number or a list of numbers");
    v->n = a->n;
    v->tuple = true;
    for (int k = 0; k < a->n; k++) {
        const cnnc__garg *e = &a->items[k];
        if (e->kind != CNNC__GARG_INT && e->kind != CNNC__GARG_FLOAT) return arg_error(c, i, "a list of numbers");
        v->v[k] = e->kind == CNNC__GARG_INT ? (double)e->i : e->f;
    }
    return CNNC_OK;
}

/* ---- results ------------------------------------------------------------------------------ */

cnnc_status cnnc__gvalue_one(cnnc__gvalue *out, cnnc_tensor *t) {
    if (!t) return cnnc_last_status();
    out->t = cnnc__malloc(sizeof *out->t);
    if (!out->t) {
        cnnc_tensor_release(t);
        return cnnc__oom("a graph value");
    }
    out->t[0] = t;
    out->n = 1;
    return CNNC_OK;
}

cnnc_status cnnc__gvalue_many(cnnc__gvalue *out, int n, cnnc_tensor **ts) {
    if (n < 0) return cnnc_last_status();
    out->t = cnnc__malloc((size_t)(n ? n : 1) * sizeof *out->t);
    if (!out->t) {
        for (int i = 0; i < n; i++) cnnc_tensor_release(ts[i]);
        return cnnc__oom("a graph value");
    }
    memcpy(out->t, ts, (size_t)n * sizeof *ts);
    out->n = n;
    return CNNC_OK;
}

cnnc_tensor *cnnc__gctx_operand(cnnc__gctx *c, int i) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    if (a && (a->kind == CNNC__GARG_INT || a->kind == CNNC__GARG_FLOAT)) {
        cnnc_tensor *t = cnnc__tensor_new(CNNC_FLOAT32, 0, NULL);
        if (t) cnnc__f32(t)[0] = (float)(a->kind == CNNC__GARG_INT ? (double)a->i : a->f);
        return t;
    }
    cnnc_tensor *t;
    return cnnc__gctx_tensor(c, i, &t) == CNNC_OK ? cnnc_tensor_retain(t) : NULL;
}

/* ---- making arguments ------------------------------------------------------------------------ */

cnnc__garg cnnc__garg_string(const char *s) {
    char *copy = s ? cnnc__strdup(s) : NULL;
    if (!copy) return cnnc__oom("a graph argument"), (cnnc__garg){.kind = CNNC__GARG_NONE};
    return (cnnc__garg){.kind = CNNC__GARG_STRING, .s = copy};
}

cnnc__garg *cnnc__gargs(int n, const cnnc__garg *items) {
    cnnc__garg *a = cnnc__malloc((size_t)(n > 0 ? n : 1) * sizeof *a);
    if (!a) {
        for (int i = 0; i < n; i++) {
            cnnc__garg it = items[i];
            cnnc__garg_clear(&it);
        }
        return cnnc__oom("graph arguments"), NULL;
    }
    if (n > 0) memcpy(a, items, (size_t)n * sizeof *a);
    return a;
}

cnnc__garg cnnc__garg_list(int n, const cnnc__garg *items) {
    cnnc__garg *a = cnnc__gargs(n, items);
    if (!a) return (cnnc__garg){.kind = CNNC__GARG_NONE};
    return (cnnc__garg){.kind = CNNC__GARG_LIST, .n = n, .items = a};
}
