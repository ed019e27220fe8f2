/* The model runtime's inference plan beyond BatchNorm folding (graph_fold.c). Without
 * gradients,
 *   - a pointwise activation (a module such as ReLU(inplace=False), or an op such as
 *     relu) runs in place on its input when nothing reads that input after it;
 *   - an add writes its sum into an operand nothing reads after it, and when the add's
 *     only reader is an activation (ResNet's relu after the residual add), applies it
 *     in the same pass, for the activation node;
 *   - a convolution (with its BatchNorm folded in, when it has one) whose result only
 *     an activation reads (Conv-BN-ReLU, MobileNetV2's ReLU6) applies it in its
 *     epilogue, each output tile while it is in cache (ops/conv.h), for the activation
 *     node; the BatchNorm node between them then has nothing to do.
 *   - a convolution (with the above) whose final value only a grouped convolution reads
 *     (MobileNetV2's expansion and its depthwise convolution, each with its BatchNorm
 *     and ReLU6) runs with it as one op where ops/conv.h takes the pair: the first's
 *     result goes to the second a tile (channels x rows) at a time while in cache,
 *     never whole through memory.
 *   - a grouped convolution (with the above) whose final value only an ungrouped one
 *     reads (MobileNetV2's depthwise convolution and its 1x1 projection), with the pair
 *     before it when there is one, runs with it as one op where ops/conv.h takes the
 *     chain: neither the expansion's nor the depthwise's result goes through memory.
 * So the steady state allocates no tensor for them and makes fewer passes over memory,
 * with the values of the unfused ops (the same kernels, element by element).
 * The plan is static (made at finish: who reads what, and last); at run time the
 * tensor must also be the runtime's alone: one reference (the runtime's), its storage
 * unshared (no view of it or that it is a view of), no autograd history. So a graph
 * input, a parameter or buffer, a view of a value still read later, or a tensor a
 * hook kept is never overwritten. With gradients nothing here runs: autograd sees the
 * modules and ops as they are. */
#include <string.h>

#include "core/error.h"
#include "graph/graph.h"
#include "nn/module.h"
#include "ops/activation.h"
#include "ops/conv.h"

/* The ops (graph_ops.c) that are pointwise activations: name, and the kind of their
 * settings after x (0: none or only inplace; 1: one float; 2: hardtanh's two; 3:
 * gelu's approximate). */
static const struct {
    const char *name;
    int args;
    double def;
} ACT_OPS[] = {{"relu", 0, 0},    {"relu6", 0, 0},       {"sigmoid", 0, 0},    {"tanh", 0, 0},
               {"silu", 0, 0},    {"mish", 0, 0},        {"hardsigmoid", 0, 0}, {"hardswish", 0, 0},
               {"leaky_relu", 1, 0.01}, {"elu", 1, 1.0}, {"hardtanh", 2, 0},   {"gelu", 3, 0}};

static int act_op_index(const cnnc__gnode *n) {
    if (n->kind != CNNC__GNODE_OP) return -1;
    for (int k = 0; k < (int)(sizeof ACT_OPS / sizeof *ACT_OPS); k++)
        if (strcmp(n->op->name, ACT_OPS[k].name) == 0) return k;
    return -1;
}

static bool is_act_node(const cnnc__gnode *n) {
    cnnc__act_spec s;
    if (n->n_args < 1 || n->args[0].kind != CNNC__GARG_REF) return false;
    if (n->kind == CNNC__GNODE_MODULE) return n->n_args == 1 && cnnc__activation_module_spec(n->module, &s);
    return act_op_index(n) >= 0;
}

int cnnc__graph_act_reader(const cnnc__gnode *nodes, int n_nodes, int i) {
    const int j = nodes[i].last_use;
    return nodes[i].n_reads == 1 && j < n_nodes && is_act_node(&nodes[j]) && nodes[j].args[0].node == i &&
                   nodes[j].args[0].index <= 0
               ? j : -1;
}

static bool is_conv_node(const cnnc__gnode *n) {
    return n->kind == CNNC__GNODE_MODULE && cnnc__is_conv_module(n->module) && n->n_args == 1 &&
           n->args[0].kind == CNNC__GARG_REF && n->args[0].index <= 0;
}

/* The node holding conv node i's final value: its fused activation, folded BatchNorm or
 * itself. */
static int conv_final(const cnnc__gnode *nodes, int i) {
    return nodes[i].fuse >= 0 ? nodes[i].fuse : nodes[i].fold >= 0 ? nodes[i].fold : i;
}

/* The convolution that alone reads conv node i's final value, when its groups are
 * (grouped) at least 2 or (not) 1: that node, else -1. */
static int conv_reader(const cnnc__gnode *nodes, int n_nodes, int i, bool grouped) {
    int dim;
    cnnc_conv_options o;
    const int f = is_conv_node(&nodes[i]) ? conv_final(nodes, i) : -1, j = f >= 0 ? nodes[f].last_use : 0;
    if (f < 0 || nodes[f].n_reads != 1 || j >= n_nodes || !is_conv_node(&nodes[j]) ||
        nodes[j].args[0].node != f || !cnnc__conv_module_options(nodes[j].module, &dim, &o) ||
        (grouped ? o.groups < 2 : o.groups != 1))
        return -1;
    return j;
}

/* Pairs of a convolution and the grouped convolution that alone reads its final value
 * (after the plan of each convolution is made). */
static void plan_dw_pairs(cnnc__gnode *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) nodes[i].dw = nodes[i].dw_done = -1;
    for (int i = 0; i < n_nodes; i++) {
        const int j = conv_reader(nodes, n_nodes, i, true);
        if (j < 0) continue;
        cnnc__gnode *a = &nodes[i];
        a->dw = j;
        a->infer = CNNC__GINFER_CONV;
        if (a->fold >= 0) nodes[a->fold].infer = CNNC__GINFER_FOLDED, nodes[a->fold].fuse = a->fuse;
        const int parts[4] = {a->fold, a->fuse, j, nodes[j].fold}; /* j's activation: set with it */
        for (int k = 0; k < 4; k++)
            if (parts[k] >= 0) nodes[parts[k]].dw_done = conv_final(nodes, j);
    }
}

/* A grouped convolution and the convolution that alone reads its final value, with the
 * pair before them when there is one (after the pairs are planned): every node of such
 * a run but its first is done once the last convolution's final value is set. */
static void plan_projections(cnnc__gnode *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) nodes[i].proj = nodes[i].proj_done = -1;
    for (int j = 0; j < n_nodes; j++) {
        int dim;
        cnnc_conv_options o;
        const int k = is_conv_node(&nodes[j]) && cnnc__conv_module_options(nodes[j].module, &dim, &o) &&
                              o.groups >= 2
                          ? conv_reader(nodes, n_nodes, j, false)
                          : -1;
        if (k < 0) continue;
        nodes[j].proj = k;
        const int parts[6] = {j, nodes[j].fold, nodes[j].fuse, k, nodes[k].fold, nodes[k].fuse};
        for (int p = 0; p < 6; p++)
            if (parts[p] >= 0) nodes[parts[p]].proj_done = conv_final(nodes, k);
    }
    for (int i = 0; i < n_nodes; i++) { /* a pair's first node's BatchNorm and activation */
        const int j = nodes[i].dw;
        if (j < 0 || nodes[j].proj < 0) continue;
        if (nodes[i].fold >= 0) nodes[nodes[i].fold].proj_done = nodes[j].proj_done;
        if (nodes[i].fuse >= 0) nodes[nodes[i].fuse].proj_done = nodes[j].proj_done;
    }
}

void cnnc__graph_plan_infer(cnnc__gnode *nodes, int n_nodes) {
    for (int i = 0; i < n_nodes; i++) {
        nodes[i].infer = CNNC__GINFER_NONE;
        nodes[i].fuse = -1;
    }
    for (int i = 0; i < n_nodes; i++) {
        cnnc__gnode *n = &nodes[i];
        if (is_act_node(n)) {
            n->infer = CNNC__GINFER_ACT;
        } else if (n->kind == CNNC__GNODE_OP && strcmp(n->op->name, "add") == 0) {
            n->infer = CNNC__GINFER_ADD;
            n->fuse = cnnc__graph_act_reader(nodes, n_nodes, i);
        } else if (n->kind == CNNC__GNODE_MODULE && cnnc__is_conv_module(n->module) && n->n_args == 1) {
            n->fuse = cnnc__graph_act_reader(nodes, n_nodes, n->fold >= 0 ? n->fold : i);
            if (n->fold >= 0 || n->fuse >= 0) n->infer = CNNC__GINFER_CONV;
            if (n->fold >= 0 && n->fuse >= 0)
                nodes[n->fold].infer = CNNC__GINFER_FOLDED, nodes[n->fold].fuse = n->fuse;
        }
    }
    plan_dw_pairs(nodes, n_nodes);
    plan_projections(nodes, n_nodes);
}

bool cnnc__graph_act_spec(const cnnc__gctx *c, const cnnc__gnode *n, cnnc__act_spec *s) {
    if (n->kind == CNNC__GNODE_MODULE) return cnnc__activation_module_spec(n->module, s);
    const int k = act_op_index(n);
    cnnc__gctx a = *c;
    a.node = n;
    double v1 = ACT_OPS[k].def, v2 = 1.0;
    const char *approximate = "none";
    if ((ACT_OPS[k].args == 1 && cnnc__gctx_float(&a, 1, ACT_OPS[k].def, &v1) != CNNC_OK) ||
        (ACT_OPS[k].args == 2 && (cnnc__gctx_float(&a, 1, -1.0, &v1) != CNNC_OK ||
                                  cnnc__gctx_float(&a, 2, 1.0, &v2) != CNNC_OK)) ||
        (ACT_OPS[k].args == 3 && cnnc__gctx_string(&a, 1, "none", &approximate) != CNNC_OK))
        return false;
    const char *fn = ACT_OPS[k].name;
    if (ACT_OPS[k].args == 3) {
        if (strcmp(approximate, "none") != 0 && strcmp(approximate, "tanh") != 0) return false;
        fn = approximate[0] == 't' ? "gelu_tanh" : "gelu";
    }
    return cnnc__act_spec_of(fn, v1, v2, s);
}

/* The tensor argument a of node `self` when the runtime may overwrite it (see the top),
 * else NULL. */
static cnnc_tensor *own_arg(const cnnc__gctx *c, const cnnc__gnode *nodes, int self, const cnnc__garg *a) {
    if (a->kind != CNNC__GARG_REF || a->index > 0) return NULL;
    const cnnc__gnode *src = &nodes[a->node];
    const cnnc__gvalue *v = &c->values[a->node];
    if ((src->kind != CNNC__GNODE_MODULE && src->kind != CNNC__GNODE_OP) || src->last_use != self || v->n != 1)
        return NULL;
    cnnc_tensor *t = v->t[0];
    const bool alone = atomic_load(&t->refcount) == 1 && atomic_load(&t->storage->refcount) == 1;
    return alone && t->dtype == CNNC_FLOAT32 && !t->is_view && !t->requires_grad && !t->grad_fn ? t : NULL;
}

/* The value of activation node n is t (in place): recorded as the module call it is. */
static int act_done(const cnnc__gnode *n, cnnc_tensor *t, cnnc__gvalue *out) {
    if (n->kind == CNNC__GNODE_MODULE) cnnc__module_called(n->module, 1, &t, 1, &t); /* cnnc_module_macs */
    return cnnc__gvalue_one(out, cnnc_tensor_retain(t)) == CNNC_OK ? 1 : -1;
}

static int run_act(cnnc__gctx *c, const cnnc__gnode *nodes, int i) {
    cnnc__act_spec s;
    cnnc_tensor *x = own_arg(c, nodes, i, &nodes[i].args[0]);
    if (!x || !cnnc__graph_act_spec(c, &nodes[i], &s)) return 0;
    if (cnnc__op_act_infer_(x, &s) != CNNC_OK) return -1;
    return act_done(&nodes[i], x, &c->values[i]);
}

static int run_add(cnnc__gctx *c, const cnnc__gnode *nodes, int i) {
    const cnnc__gnode *n = &nodes[i];
    cnnc_tensor *a, *b, *out;
    if (n->n_args != 2 || n->args[0].kind != CNNC__GARG_REF || n->args[1].kind != CNNC__GARG_REF ||
        cnnc__gctx_tensor(c, 0, &a) != CNNC_OK || cnnc__gctx_tensor(c, 1, &b) != CNNC_OK ||
        a->dtype != CNNC_FLOAT32 || b->dtype != CNNC_FLOAT32 || !cnnc__same_shape(a, b))
        return 0; /* broadcasting, or an error the ordinary path reports */
    if (!(out = own_arg(c, nodes, i, &n->args[0])) && !(out = own_arg(c, nodes, i, &n->args[1]))) return 0;
    cnnc__act_spec s;
    const bool fused = n->fuse >= 0 && cnnc__graph_act_spec(c, &nodes[n->fuse], &s);
    if (cnnc__op_binary_act_infer_(CNNC__BINOP_ADD, out, a, b, fused ? &s : NULL) != CNNC_OK) return -1;
    if (!fused) return cnnc__gvalue_one(&c->values[i], cnnc_tensor_retain(out)) == CNNC_OK ? 1 : -1;
    return act_done(&nodes[n->fuse], out, &c->values[n->fuse]);
}

/* The convolution with its folded BatchNorm and fused activation, whichever it has; its
 * value is the last one's. */
static int run_conv(cnnc__gctx *c, const cnnc__gnode *nodes, int i) {
    const cnnc__gnode *n = &nodes[i];
    cnnc__act_spec s;
    const bool fused = n->fuse >= 0 && cnnc__graph_act_spec(c, &nodes[n->fuse], &s);
    if (!fused && n->fold < 0) return 0;
    cnnc_tensor *y = NULL;
    const int done = cnnc__graph_run_conv(c, n->fold >= 0 ? &nodes[n->fold] : NULL, fused ? &s : NULL, &y);
    if (done <= 0) return done;
    const int r = fused ? act_done(&nodes[n->fuse], y, &c->values[n->fuse])
                        : cnnc__gvalue_one(&c->values[n->fold], cnnc_tensor_retain(y)) == CNNC_OK ? 1 : -1;
    cnnc_tensor_release(y);
    return r;
}

/* The arm of conv node i (its folded BatchNorm and fused activation, *s its settings);
 * false when those cannot be read. */
static bool garm_of(const cnnc__gctx *c, const cnnc__gnode *nodes, int i, cnnc__garm *a,
                    cnnc__act_spec *s) {
    const cnnc__gnode *n = &nodes[i];
    *a = (cnnc__garm){.conv = n, .bn = n->fold >= 0 ? &nodes[n->fold] : NULL,
                      .act = n->fuse >= 0 ? s : NULL};
    return n->fuse < 0 || cnnc__graph_act_spec(c, &nodes[n->fuse], s);
}

/* Conv nodes ia (or -1), ib and ic (or -1) as one op (cnnc__graph_run_fused): the last
 * one's final value set, and 1; 0 when that does not apply now; -1 on error. */
static int run_fused(cnnc__gctx *c, const cnnc__gnode *nodes, int ia, int ib, int ic) {
    const int idx[3] = {ia, ib, ic};
    cnnc__garm arm[3] = {{0}};
    cnnc__act_spec s[3];
    for (int k = 0; k < 3; k++)
        if (idx[k] >= 0 && !garm_of(c, nodes, idx[k], &arm[k], &s[k])) return 0;
    cnnc_tensor *y = NULL;
    const int done = cnnc__graph_run_fused(c, arm, &y);
    if (done <= 0) return done;
    return cnnc__gvalue_one(&c->values[conv_final(nodes, ic >= 0 ? ic : ib)], y) == CNNC_OK ? 1 : -1;
}

static bool value_set(const cnnc__gctx *c, int node) { return node >= 0 && c->values[node].n > 0; }

int cnnc__graph_run_infer(cnnc__gctx *c, const cnnc__gnode *nodes, int i) {
    const cnnc__gnode *n = &nodes[i];
    if (value_set(c, n->dw_done) || value_set(c, n->proj_done)) return 1; /* a fused run did it */
    int done = 0; /* the longest fused run first: expansion, depthwise and projection */
    if (n->dw >= 0 && nodes[n->dw].proj >= 0) done = run_fused(c, nodes, i, n->dw, nodes[n->dw].proj);
    if (!done && n->dw >= 0) done = run_fused(c, nodes, i, n->dw, -1);
    if (!done && n->proj >= 0) done = run_fused(c, nodes, -1, i, n->proj);
    if (done) return done;
    switch (nodes[i].infer) {
    case CNNC__GINFER_ACT: return run_act(c, nodes, i);
    case CNNC__GINFER_ADD: return run_add(c, nodes, i);
    case CNNC__GINFER_CONV: return run_conv(c, nodes, i);
    case CNNC__GINFER_FOLDED: /* the convolution did it */
        return nodes[i].fuse >= 0 && c->values[nodes[i].fuse].n > 0;
    default: return 0;
    }
}
