/* The graph module and the holder modules of a model's tree: building, checking
 * and running a graph (see graph.h). The ops are in graph_ops.c. */
#include "graph/graph.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/trace.h"
#include "nn/module.h"

typedef struct graph_state {
    char *type_name; /* owned */
    cnnc__gnode *nodes;
    int n_nodes, cap_nodes;
    cnnc__garg *outputs;
    int n_outputs;
    int *dies;       /* [n_nodes] node indices ordered by last use ... */
    int *dies_at;    /* [n_nodes + 2] ... dies[dies_at[i] .. dies_at[i + 1]) die after node i */
    bool finished;
} graph_state;

typedef struct holder_state {
    char *type_name, *extra_repr; /* owned */
} holder_state;

#define G(m) CNNC__STATE(m, graph_state)

void cnnc__garg_clear(cnnc__garg *a) {
    if (a->kind == CNNC__GARG_STRING) cnnc__free(a->s);
    if (a->kind == CNNC__GARG_LIST) {
        for (int i = 0; i < a->n; i++) cnnc__garg_clear(&a->items[i]);
        cnnc__free(a->items);
    }
    *a = (cnnc__garg){.kind = CNNC__GARG_NONE};
}

static void free_args(int n, cnnc__garg *args) {
    for (int i = 0; i < n; i++) cnnc__garg_clear(&args[i]);
    cnnc__free(args);
}

/* ---- kinds -------------------------------------------------------------------------- */

static const char *graph_type_name(const cnnc_module *m) { return G(m)->type_name; }

static void graph_destroy(cnnc_module *m) {
    graph_state *g = G(m);
    for (int i = 0; i < g->n_nodes; i++) {
        cnnc__free(g->nodes[i].name);
        cnnc__free(g->nodes[i].target);
        free_args(g->nodes[i].n_args, g->nodes[i].args);
    }
    cnnc__free(g->nodes);
    cnnc__free(g->dies);
    cnnc__free(g->dies_at);
    free_args(g->n_outputs, g->outputs);
    cnnc__free(g->type_name);
}

static int graph_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out);

static const cnnc__module_type graph_type = {
    .name = "Graph", .state_size = sizeof(graph_state), .forward_n = graph_forward_n,
    .type_name = graph_type_name, .destroy = graph_destroy};

static const char *holder_type_name(const cnnc_module *m) {
    return CNNC__STATE(m, const holder_state)->type_name;
}
static void holder_extra_repr(const cnnc_module *m, cnnc__strbuf *s) {
    const char *r = CNNC__STATE(m, const holder_state)->extra_repr;
    if (r) cnnc__strbuf_printf(s, "%s", r);
}
static void holder_destroy(cnnc_module *m) {
    holder_state *h = CNNC__STATE(m, holder_state);
    cnnc__free(h->type_name);
    cnnc__free(h->extra_repr);
}

static const cnnc__module_type holder_type = {
    .name = "Holder", .state_size = sizeof(holder_state), .extra_repr = holder_extra_repr,
    .type_name = holder_type_name, .destroy = holder_destroy};

bool cnnc__is_graph(const cnnc_module *m) { return m && m->type == &graph_type; }
bool cnnc__is_holder(const cnnc_module *m) { return m && m->type == &holder_type; }
const char *cnnc__holder_extra_repr(const cnnc_module *m) {
    return cnnc__is_holder(m) ? CNNC__STATE(m, const holder_state)->extra_repr : NULL;
}

static cnnc_status check_type_name(const char *fn, const char *type_name) {
    if (!type_name || !type_name[0])
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: a module type name must be a non-empty string", fn);
    return CNNC_OK;
}

cnnc_module *cnnc__graph_new(const char *type_name) {
    if (check_type_name("graph", type_name)) return NULL;
    char *name = cnnc__strdup(type_name);
    cnnc_module *m = name ? cnnc__module_new(&graph_type) : NULL;
    if (!m) {
        cnnc__free(name);
        return name ? NULL : (cnnc__oom("a graph"), NULL);
    }
    G(m)->type_name = name;
    return m;
}

cnnc_module *cnnc__holder_new(const char *type_name, const char *extra_repr) {
    if (check_type_name("holder", type_name)) return NULL;
    char *name = cnnc__strdup(type_name), *repr = extra_repr ? cnnc__strdup(extra_repr) : NULL;
    cnnc_module *m = name && (repr || !extra_repr) ? cnnc__module_new(&holder_type) : NULL;
    if (!m) {
        cnnc__free(name);
        cnnc__free(repr);
        return cnnc__oom("a module"), NULL;
    }
    *CNNC__STATE(m, holder_state) = (holder_state){name, repr};
    return m;
}

/* ---- building ------------------------------------------------------------------------ */

cnnc_status cnnc__graph_add_module(cnnc_module *g, const char *path, cnnc_module *m) {
    const char *dot = path ? strrchr(path, '.') : NULL;
    cnnc_module *parent = g;
    if (dot) {
        char buf[1024];
        size_t len = (size_t)(dot - path);
        if (len >= sizeof buf) {
            cnnc_module_release(m);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module path '%s' is too long", path);
        }
        memcpy(buf, path, len);
        buf[len] = '\0';
        parent = cnnc_module_get_submodule(g, buf);
        if (!parent) {
            cnnc_module_release(m);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "module '%s': its parent '%s' is not defined before it",
                               path, buf);
        }
    }
    return cnnc__module_add_child(parent, dot ? dot + 1 : path, m);
}

int cnnc__graph_find(const cnnc_module *g, const char *name) {
    const graph_state *s = G(g);
    for (int i = 0; i < s->n_nodes; i++)
        if (strcmp(s->nodes[i].name, name) == 0) return i;
    return -1;
}

int cnnc__graph_add_node(cnnc_module *g, const char *name, cnnc__gnode_kind kind, const char *target,
                         int n_args, cnnc__garg *args) {
    graph_state *s = G(g);
    cnnc_status st = CNNC_OK;
    if (!name || !name[0])
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: a node needs a non-empty name");
    else if (cnnc__graph_find(g, name) >= 0)
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: two nodes are named '%s'", name);
    else if ((unsigned)kind >= CNNC__GNODE_KIND_COUNT || (kind != CNNC__GNODE_INPUT && !target))
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s' has no valid kind and target", name);
    char *nm = st ? NULL : cnnc__strdup(name), *tg = st || !target ? NULL : cnnc__strdup(target);
    size_t cap = (size_t)s->cap_nodes;
    if (!st && (!nm || (target && !tg) || !cnnc__grow((void **)&s->nodes, &cap, (size_t)s->n_nodes + 1,
                                                      sizeof *s->nodes)))
        st = cnnc__oom("a graph node");
    if (st) {
        cnnc__free(nm);
        cnnc__free(tg);
        free_args(n_args, args);
        return -1;
    }
    s->cap_nodes = (int)cap;
    s->nodes[s->n_nodes] = (cnnc__gnode){.name = nm, .kind = kind, .target = tg, .n_args = n_args, .args = args,
                                         .ndim = -1};
    s->finished = false;
    return s->n_nodes++;
}

cnnc_status cnnc__graph_set_input_shape(cnnc_module *g, int node, int ndim, const int64_t *shape) {
    graph_state *s = G(g);
    if (node < 0 || node >= s->n_nodes || s->nodes[node].kind != CNNC__GNODE_INPUT || ndim < -1 ||
        ndim > CNNC_MAX_DIMS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: an input shape needs an input node and 0..%d dims",
                           CNNC_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: input '%s' has a negative size %lld in its shape",
                               s->nodes[node].name, (long long)shape[i]);
    s->nodes[node].ndim = ndim;
    if (ndim > 0) memcpy(s->nodes[node].shape, shape, (size_t)ndim * sizeof *shape);
    return CNNC_OK;
}

cnnc_status cnnc__graph_set_outputs(cnnc_module *g, int n, cnnc__garg *outputs) {
    graph_state *s = G(g);
    free_args(s->n_outputs, s->outputs);
    s->outputs = outputs;
    s->n_outputs = n;
    s->finished = false;
    return CNNC_OK;
}

int cnnc__graph_num_nodes(const cnnc_module *g) { return G(g)->n_nodes; }
const cnnc__gnode *cnnc__graph_node(const cnnc_module *g, int i) { return &G(g)->nodes[i]; }
int cnnc__graph_num_outputs(const cnnc_module *g) { return G(g)->n_outputs; }
const cnnc__garg *cnnc__graph_output(const cnnc_module *g, int i) { return &G(g)->outputs[i]; }

/* ---- checking --------------------------------------------------------------------------- */

/* Every reference in a points at a node before `before`; records uses by `user`. */
static cnnc_status check_refs(graph_state *s, const cnnc__garg *a, int before, int user, const char *where) {
    if (a->kind == CNNC__GARG_LIST) {
        for (int i = 0; i < a->n; i++)
            if (check_refs(s, &a->items[i], before, user, where)) return cnnc_last_status();
        return CNNC_OK;
    }
    if (a->kind != CNNC__GARG_REF) return CNNC_OK;
    if (a->node < 0 || a->node >= before)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: %s refers to a node that does not come before it",
                           where);
    if (a->index < -1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: %s refers to result %d of '%s'", where, a->index,
                           s->nodes[a->node].name);
    s->nodes[a->node].last_use = user;
    s->nodes[a->node].n_reads++;
    return CNNC_OK;
}

static cnnc_status check_node(cnnc_module *m, graph_state *s, int i) {
    cnnc__gnode *n = &s->nodes[i];
    n->last_use = i;
    n->n_reads = 0;
    for (int a = 0; a < n->n_args; a++)
        if (check_refs(s, &n->args[a], i, i, n->name)) return cnnc_last_status();
    if (n->kind == CNNC__GNODE_MODULE) {
        n->module = cnnc_module_get_submodule(m, n->target);
        if (!n->module || n->module == m)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s' calls module '%s', which is not defined",
                               n->name, n->target);
    } else if (n->kind == CNNC__GNODE_OP) {
        n->op = cnnc__gop_find(n->target);
        if (!n->op)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s' has the unknown op '%s'", n->name, n->target);
        if (n->n_args < n->op->min_args || n->n_args > n->op->max_args)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s': %s takes %d to %d arguments, got %d",
                               n->name, n->op->name, n->op->min_args, n->op->max_args, n->n_args);
    } else if (n->kind == CNNC__GNODE_ATTR) {
        cnnc_tensor *t = NULL;
        if (cnnc_module_tensor(m, n->target, &t) != CNNC_OK || !t)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "graph: node '%s' reads '%s', which is no parameter or buffer of the model",
                               n->name, n->target);
    } else if (n->n_args) {
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: input '%s' cannot have arguments", n->name);
    }
    return CNNC_OK;
}

/* Orders the nodes by last use (a counting sort), so a run frees each value right
 * after its last reader. */
static cnnc_status plan_lifetimes(graph_state *s) {
    cnnc__free(s->dies);
    cnnc__free(s->dies_at);
    s->dies = cnnc__malloc(((size_t)s->n_nodes + 1) * sizeof *s->dies);
    s->dies_at = cnnc__calloc((size_t)s->n_nodes + 2, sizeof *s->dies_at);
    if (!s->dies || !s->dies_at) return cnnc__oom("a graph plan");
    for (int i = 0; i < s->n_nodes; i++) s->dies_at[s->nodes[i].last_use + 1]++;
    for (int i = 0; i <= s->n_nodes; i++) s->dies_at[i + 1] += s->dies_at[i];
    int *fill = cnnc__malloc(((size_t)s->n_nodes + 1) * sizeof *fill);
    if (!fill) return cnnc__oom("a graph plan");
    memcpy(fill, s->dies_at, ((size_t)s->n_nodes + 1) * sizeof *fill);
    for (int i = 0; i < s->n_nodes; i++) s->dies[fill[s->nodes[i].last_use]++] = i;
    cnnc__free(fill);
    s->finished = true;
    return CNNC_OK;
}

cnnc_status cnnc__graph_finish(cnnc_module *m) {
    graph_state *s = G(m);
    for (int i = 0; i < s->n_nodes; i++)
        if (check_node(m, s, i)) return cnnc_last_status();
    if (s->n_outputs < 1 || s->n_outputs > CNNC_MAX_OUTPUTS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: %d outputs (1..%d allowed)", s->n_outputs,
                           CNNC_MAX_OUTPUTS);
    for (int i = 0; i < s->n_outputs; i++)
        if (s->outputs[i].kind != CNNC__GARG_REF ||
            check_refs(s, &s->outputs[i], s->n_nodes, s->n_nodes, "an output"))
            return s->outputs[i].kind != CNNC__GARG_REF
                       ? cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: output %d is not a node's result", i)
                       : cnnc_last_status();
    cnnc__graph_plan_folds(s->nodes, s->n_nodes);
    cnnc__graph_plan_infer(s->nodes, s->n_nodes);
    cnnc__graph_plan_train(s->nodes, s->n_nodes);
    return plan_lifetimes(s);
}

/* ---- running ------------------------------------------------------------------------------ */

static void value_clear(cnnc__gvalue *v) {
    for (int i = 0; i < v->n; i++) cnnc_tensor_release(v->t[i]);
    cnnc__free(v->t);
    *v = (cnnc__gvalue){0};
}

static cnnc_status run_module(cnnc__gctx *c, cnnc__gvalue *out) {
    const cnnc__gnode *n = c->node;
    if (n->n_args > CNNC_MAX_INPUTS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "graph: node '%s' passes %d inputs", n->name, n->n_args);
    cnnc_tensor *in[CNNC_MAX_INPUTS], *res[CNNC_MAX_OUTPUTS];
    for (int i = 0; i < n->n_args; i++)
        if (cnnc__gctx_tensor(c, i, &in[i])) return cnnc_last_status();
    int k = cnnc__module_call_n(n->module, n->n_args, in, res);
    return cnnc__gvalue_many(out, k, res);
}

static cnnc_status run_node(cnnc__gctx *c, cnnc__gvalue *out) {
    const cnnc__gnode *n = c->node;
    switch (n->kind) {
    case CNNC__GNODE_MODULE: return run_module(c, out);
    case CNNC__GNODE_OP: return n->op->run(c, out);
    case CNNC__GNODE_ATTR: {
        cnnc_tensor *t = NULL;
        if (cnnc_module_tensor(c->graph, n->target, &t) != CNNC_OK || !t)
            return cnnc__error(CNNC_ERR_RUNTIME, "graph: '%s' is no longer a tensor of the model", n->target);
        return cnnc__gvalue_one(out, cnnc_tensor_retain(t));
    }
    default: return cnnc__error(CNNC_ERR_RUNTIME, "graph: input '%s' was not bound", n->name);
    }
}

/* The graph's outputs as results: each a single tensor. */
static int collect_outputs(const graph_state *s, cnnc__gvalue *values, cnnc_tensor **out) {
    for (int i = 0; i < s->n_outputs; i++) {
        const cnnc__garg *o = &s->outputs[i];
        const cnnc__gvalue *v = &values[o->node];
        int idx = o->index < 0 ? 0 : o->index;
        if ((o->index < 0 && v->n != 1) || idx >= v->n) {
            for (int j = 0; j < i; j++) cnnc_tensor_release(out[j]);
            return cnnc__error(CNNC_ERR_RUNTIME, "graph: output %d is not a single tensor of '%s'", i,
                               s->nodes[o->node].name), -1;
        }
        out[i] = cnnc_tensor_retain(v->t[idx]);
    }
    return s->n_outputs;
}

/* CNNC_TRACE: a line per node that runs an op or has a fused plan (a module node run
 * alone has its module's line). */
static bool traced(const cnnc__gnode *n, bool plan) {
    return cnnc__trace_on() && (n->kind == CNNC__GNODE_OP || (n->kind == CNNC__GNODE_MODULE && plan));
}

static void trace_node(double t0, const cnnc__gnode *n, const cnnc__gvalue *v, bool fused,
                       cnnc_status st) {
    char kernel[64], shapes[512];
    const char *what = n->kind == CNNC__GNODE_OP ? n->op->name : cnnc__module_name(n->module);
    snprintf(kernel, sizeof kernel, "%s%s", what, fused ? " (fused plan)" : "");
    const size_t len = (size_t)snprintf(shapes, sizeof shapes, "%s%s", n->name,
                                        st != CNNC_OK ? " failed" : v->n ? " -> " : "");
    if (st == CNNC_OK && v->n && len < sizeof shapes)
        cnnc__trace_shapes(shapes + len, sizeof shapes - len, v->n, v->t, 0, NULL);
    cnnc__trace_end(t0, "graph.node", kernel, shapes);
}

static int graph_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out) {
    graph_state *s = G(m);
    if (!s->finished && cnnc__graph_finish(m) != CNNC_OK) return -1;
    int n_inputs = 0;
    for (int i = 0; i < s->n_nodes; i++) n_inputs += s->nodes[i].kind == CNNC__GNODE_INPUT;
    if (n_in != n_inputs)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s.forward() takes %d inputs, got %d", s->type_name,
                           n_inputs, n_in), -1;
    cnnc__gvalue *values = cnnc__calloc((size_t)s->n_nodes, sizeof *values);
    if (!values) return cnnc__oom("graph values"), -1;
    cnnc__gctx c = {.graph = m, .values = values};
    cnnc_status st = CNNC_OK;
    /* inference: BatchNorms folded into convolutions, activations fused into them and
     * into adds, activations and adds in place; with gradients: BatchNorms and their
     * ReLUs as one op in training */
    const bool infer = !cnnc_is_grad_enabled();
    for (int i = 0, k = 0; i < s->n_nodes && st == CNNC_OK; i++) {
        c.node = &s->nodes[i];
        /* computed already (by a fused run of an earlier node): nothing to run or trace */
        const bool computed = values[i].n > 0;
        const bool plan = infer ? c.node->infer != CNNC__GINFER_NONE : c.node->train_fuse >= 0;
        const double t0 = !computed && traced(c.node, plan) ? cnnc__trace_begin() : 0.0;
        const int done = computed || !plan ? 0
                         : infer           ? cnnc__graph_run_infer(&c, s->nodes, i)
                                           : cnnc__graph_run_train(&c, s->nodes, i);
        if (done || values[i].n) /* done, or computed with a node before it */
            st = done < 0 ? cnnc_last_status() : CNNC_OK;
        else
            st = c.node->kind == CNNC__GNODE_INPUT ? cnnc__gvalue_one(&values[i], cnnc_tensor_retain(in[k++]))
                                                   : run_node(&c, &values[i]);
        if (t0) trace_node(t0, c.node, &values[i], done > 0, st);
        for (int d = s->dies_at[i]; d < s->dies_at[i + 1] && st == CNNC_OK; d++)
            value_clear(&values[s->dies[d]]); /* nobody reads these any more */
    }
    int k = st == CNNC_OK ? collect_outputs(s, values, out) : -1;
    for (int i = 0; i < s->n_nodes; i++) value_clear(&values[i]);
    cnnc__free(values);
    return k;
}
