/* Internal: the model runtime. A graph module is an ordinary cnnc_module (its
 * submodules form the usual tree, so parameters, state_dict, train/eval, zero_grad
 * and repr work as for any module) whose forward interprets a graph:
 *
 *   inputs   named placeholders, bound to the forward's inputs in order;
 *   nodes    in execution order, each one of
 *              MODULE  calls the submodule at a dotted path on its arguments;
 *              OP      a functional / tensor op from the table in graph_ops.c;
 *              ATTR    a parameter or buffer of the tree by dotted path;
 *   outputs  the values returned.
 *
 * A node's arguments are literals (None, bool, int, float, str), lists of
 * arguments, or references to an earlier node's result (a node may produce several
 * tensors, as chunk does; a reference names one of them, or all of them as a list).
 * Only earlier nodes can be referenced, so a graph has no cycles by construction.
 * Values die as soon as their last user has run. The model file format (JSON in a
 * safetensors header, src/io/model.c and docs/model-format.md) maps onto this one
 * to one. */
#ifndef CNNC_GRAPH_GRAPH_H
#define CNNC_GRAPH_GRAPH_H
#include "core/strbuf.h"
#include "core/tensor.h"

typedef enum cnnc__garg_kind {
    CNNC__GARG_NONE,
    CNNC__GARG_BOOL,
    CNNC__GARG_INT,
    CNNC__GARG_FLOAT,
    CNNC__GARG_STRING,
    CNNC__GARG_REF,  /* an earlier node's result */
    CNNC__GARG_LIST,
    CNNC__GARG_KIND_COUNT
} cnnc__garg_kind;

typedef struct cnnc__garg {
    cnnc__garg_kind kind;
    int64_t i;                /* BOOL, INT */
    double f;                 /* FLOAT */
    char *s;                  /* STRING, owned */
    int node, index;          /* REF: node and which of its results; index -1: all, as a list */
    int n;                    /* LIST */
    struct cnnc__garg *items; /* LIST, owned */
} cnnc__garg;

typedef enum cnnc__gnode_kind {
    CNNC__GNODE_INPUT,
    CNNC__GNODE_MODULE,
    CNNC__GNODE_OP,
    CNNC__GNODE_ATTR,
    CNNC__GNODE_KIND_COUNT
} cnnc__gnode_kind;

struct cnnc__gop;

typedef struct cnnc__gnode {
    char *name;              /* owned; unique */
    cnnc__gnode_kind kind;
    char *target;            /* owned: module path, op name or attribute path */
    cnnc_module *module;     /* MODULE: borrowed from the tree */
    const struct cnnc__gop *op; /* OP */
    int n_args;
    cnnc__garg *args;        /* owned, positional */
    int last_use;            /* the last node (or n_nodes for an output) reading it */
    int n_reads;             /* references to it (by nodes and outputs) */
    int fold;                /* a convolution whose only reader is an eval BatchNorm: that node (or -1) */
    int infer;               /* inference plan (graph_infer.c): CNNC__GINFER_* */
    int fuse;                /* an add or a convolution (its folded BatchNorm, which then has it
                                too) whose result only an activation reads: that node (or -1) */
    int dw;                  /* a convolution whose final value (its folded BatchNorm's or fused
                                activation's, or its own) only a grouped convolution reads: that
                                node (or -1); inference may run the two as one (graph_infer.c) */
    int dw_done;             /* the nodes of such a pair but the first (the first's BatchNorm and
                                activation, the second and its own): the second's final node,
                                whose value set before their turn means they are done (or -1) */
    int proj;                /* a grouped convolution whose final value only a convolution reads:
                                that node (or -1); inference may run the two as one, with the
                                pair before them too (graph_infer.c) */
    int proj_done;           /* the nodes of such a run but its first (as dw_done): the last
                                convolution's final node (or -1) */
    int train_fuse;          /* a BatchNorm whose result only a ReLU, ReLU6 or Hardtanh reads: that
                                node (or -1); one op with gradients in training (graph_train.c) */
    int ndim;                /* INPUT: the example input's shape a model file records, */
    int64_t shape[CNNC_MAX_DIMS]; /* or ndim -1 when unknown */
} cnnc__gnode;

/* ---- values at run time ----------------------------------------------------------- */

typedef struct cnnc__gvalue {
    int n;            /* number of tensors */
    cnnc_tensor **t;  /* owned references */
} cnnc__gvalue;

/* What an op sees: the module (for its training flag), the values so far. */
typedef struct cnnc__gctx {
    cnnc_module *graph;
    cnnc__gvalue *values;
    const cnnc__gnode *node;
} cnnc__gctx;

/* An op: name, allowed argument counts, and run, which fills *out with new
 * references (one tensor, or several) and returns CNNC_OK or an error. */
typedef struct cnnc__gop {
    const char *name;
    int min_args, max_args;
    cnnc_status (*run)(cnnc__gctx *c, cnnc__gvalue *out);
} cnnc__gop;

/* The op named name, or NULL. */
const cnnc__gop *cnnc__gop_find(const char *name);
/* The op tables (ended by an entry with name NULL): graph_ops.c has the elementwise
 * ops, graph_ops_shape.c the shape and reduction ops, graph_ops_layers.c the
 * functional layers. */
extern const cnnc__gop cnnc__gops_shape[], cnnc__gops_layers[];

/* Returns the status of expr when it is an error (ops read arguments this way). */
#define CNNC__OK_OR_RETURN(expr)                                          \
    do {                                                                  \
        if ((expr) != CNNC_OK) return cnnc_last_status();                 \
    } while (0)
/* Argument i of the current node as a tensor / int / float / bool / string, or the
 * default when it is absent (or None where None is allowed); errors name the op and
 * the argument. For ints and floats a literal is required. */
cnnc_status cnnc__gctx_tensor(cnnc__gctx *c, int i, cnnc_tensor **t);
/* A list of tensors: *ts points into the values (*owned false) or is a new array
 * the caller frees with cnnc__free (*owned true). */
cnnc_status cnnc__gctx_tensors(cnnc__gctx *c, int i, int *n, cnnc_tensor ***ts, bool *owned);
cnnc_status cnnc__gctx_int(cnnc__gctx *c, int i, int64_t def, int64_t *v);
cnnc_status cnnc__gctx_float(cnnc__gctx *c, int i, double def, double *v);
cnnc_status cnnc__gctx_bool(cnnc__gctx *c, int i, bool def, bool *v);
cnnc_status cnnc__gctx_string(cnnc__gctx *c, int i, const char *def, const char **v);
/* An int or a list of ints (None: n == 0); None entries become CNNC_POOL_KEEP. */
cnnc_status cnnc__gctx_ints(cnnc__gctx *c, int i, cnnc_ints *v);
cnnc_status cnnc__gctx_doubles(cnnc__gctx *c, int i, cnnc_doubles *v);
/* The argument itself (NULL when absent). */
const cnnc__garg *cnnc__gctx_arg(const cnnc__gctx *c, int i);
/* A tensor argument, or a number made a 0-d tensor: a new reference, or NULL. */
cnnc_tensor *cnnc__gctx_operand(cnnc__gctx *c, int i);
/* out = the single tensor t / the n tensors ts (taking the references; a NULL t or
 * n < 0 passes the error set on). */
cnnc_status cnnc__gvalue_one(cnnc__gvalue *out, cnnc_tensor *t);
cnnc_status cnnc__gvalue_many(cnnc__gvalue *out, int n, cnnc_tensor **ts);

/* ---- building a graph module --------------------------------------------------------- */

/* A new graph module shown as type_name, with no submodules, inputs or nodes. */
cnnc_module *cnnc__graph_new(const char *type_name);
/* A module with a class name and no forward of its own, holding submodules (and
 * parameters or buffers registered on it) for a graph: the BasicBlock of a traced
 * ResNet. extra_repr (may be NULL) is what print(module) shows in its parentheses. */
cnnc_module *cnnc__holder_new(const char *type_name, const char *extra_repr);
/* Is m a graph module / a holder? */
bool cnnc__is_graph(const cnnc_module *m);
bool cnnc__is_holder(const cnnc_module *m);
/* A holder's extra_repr text (NULL if none). */
const char *cnnc__holder_extra_repr(const cnnc_module *m);
/* Registers m at the dotted path (its parent must exist), taking ownership of the
 * reference passed (also on failure). */
cnnc_status cnnc__graph_add_module(cnnc_module *g, const char *path, cnnc_module *m);

/* Appends a node; takes ownership of args (and frees them on failure). Its index,
 * or -1. Name must be new. INPUT nodes have no target and no arguments. */
int cnnc__graph_add_node(cnnc_module *g, const char *name, cnnc__gnode_kind kind,
                         const char *target, int n_args, cnnc__garg *args);
/* Records an INPUT node's example shape (ndim -1: unknown). */
cnnc_status cnnc__graph_set_input_shape(cnnc_module *g, int node, int ndim, const int64_t *shape);
/* The index of the node named name, or -1. */
int cnnc__graph_find(const cnnc_module *g, const char *name);
/* The graph's outputs (REF arguments), taking ownership. */
cnnc_status cnnc__graph_set_outputs(cnnc_module *g, int n, cnnc__garg *outputs);
/* Checks the whole graph (every reference earlier, every module and attribute path
 * resolvable, every op known with a valid argument count, at least one output) and
 * prepares it to run. Errors name the node. */
cnnc_status cnnc__graph_finish(cnnc_module *g);

/* Inference plan (graph_fold.c): marks each convolution node whose result only a
 * BatchNorm node reads (node.fold), at finish. */
void cnnc__graph_plan_folds(cnnc__gnode *nodes, int n_nodes);
/* Runs conv node c->node as one convolution with the BatchNorm node bn (or NULL)
 * folded into the weight and bias and the activation act (or NULL) in its epilogue:
 * *y the result (a new reference: bn's value, or act's), and 1; 0 when it does not
 * apply now (a module in training mode, no running statistics); -1 on error. Without
 * gradients only. */
struct cnnc__act_spec;
int cnnc__graph_run_conv(cnnc__gctx *c, const cnnc__gnode *bn, const struct cnnc__act_spec *act,
                         cnnc_tensor **y);

/* A convolution of a fused run: its node (NULL: no such arm), its BatchNorm node and
 * activation (each or NULL). */
typedef struct cnnc__garm {
    const cnnc__gnode *conv, *bn;
    const struct cnnc__act_spec *act;
} cnnc__garm;
/* Runs the arms present as one op (ops/conv.h, cnnc__op_conv_fused: arm[0] a 1x1
 * convolution, arm[1] the grouped one reading its final value, arm[2] the 1x1 reading
 * arm[1]'s; the first present one is c->node, reading x): *y the last arm's final value
 * (a new reference) and 1; 0 when that does not apply now (the nodes run one by one);
 * -1 on error. Without gradients only. */
int cnnc__graph_run_fused(cnnc__gctx *c, const cnnc__garm arm[3], cnnc_tensor **y);

/* Inference plan (graph_infer.c), at finish: pointwise activations that may run in
 * place, adds that may write into an operand (and the activation after them, fused),
 * convolutions with a folded BatchNorm or an activation fused, or a depthwise
 * convolution after them (CONV), and the BatchNorm of a convolution whose activation is
 * fused or that has a depthwise convolution after it (FOLDED: nothing to do once the
 * activation, or the pair, has its value). */
enum { CNNC__GINFER_NONE, CNNC__GINFER_ACT, CNNC__GINFER_ADD, CNNC__GINFER_CONV, CNNC__GINFER_FOLDED };
void cnnc__graph_plan_infer(cnnc__gnode *nodes, int n_nodes);
/* Runs node c->node (index i of nodes) that way when it applies now: 1 when done
 * (its value, or the fused activation's, is set), 0 when it does not apply (the
 * ordinary path runs and reports any error), -1 on error. Without gradients only. */
int cnnc__graph_run_infer(cnnc__gctx *c, const cnnc__gnode *nodes, int i);

/* The activation node that is the only reader of node i's result (as its input), or
 * -1; the spec of activation node n (its settings read as its op would), or false
 * (graph_infer.c). */
int cnnc__graph_act_reader(const cnnc__gnode *nodes, int n_nodes, int i);
bool cnnc__graph_act_spec(const cnnc__gctx *c, const cnnc__gnode *n, struct cnnc__act_spec *s);

/* Training plan (graph_train.c), at finish: marks each BatchNorm node whose result only
 * a ReLU / ReLU6 / Hardtanh node reads (node.train_fuse). */
void cnnc__graph_plan_train(cnnc__gnode *nodes, int n_nodes);
/* Runs BatchNorm node c->node (index i of nodes) and its activation node as one op
 * (ops/norm.h, cnnc__op_batch_norm_act) when that applies now (the BatchNorm in training
 * mode, the activation a ReLU or a Hardtanh with min_val < max_val): 1 when done (the
 * activation node's value is set), 0 when it does not apply (the ordinary path runs),
 * -1 on error. With gradients only (the inference plan runs without them). */
int cnnc__graph_run_train(cnnc__gctx *c, const cnnc__gnode *nodes, int i);

/* Read access, for saving a graph and for cnnc info. */
int cnnc__graph_num_nodes(const cnnc_module *g);
const cnnc__gnode *cnnc__graph_node(const cnnc_module *g, int i);
int cnnc__graph_num_outputs(const cnnc_module *g);
const cnnc__garg *cnnc__graph_output(const cnnc_module *g, int i);

/* Frees what an argument owns (not the argument itself). */
void cnnc__garg_clear(cnnc__garg *a);
/* Argument makers (for the file loader and tests). */
static inline cnnc__garg cnnc__garg_ref(int node, int index) {
    return (cnnc__garg){.kind = CNNC__GARG_REF, .node = node, .index = index};
}
static inline cnnc__garg cnnc__garg_int(int64_t v) { return (cnnc__garg){.kind = CNNC__GARG_INT, .i = v}; }
static inline cnnc__garg cnnc__garg_float(double v) { return (cnnc__garg){.kind = CNNC__GARG_FLOAT, .f = v}; }
static inline cnnc__garg cnnc__garg_bool(bool v) { return (cnnc__garg){.kind = CNNC__GARG_BOOL, .i = v}; }
/* A string argument (a copy of s), or a NONE argument with the error set. */
cnnc__garg cnnc__garg_string(const char *s);
/* A list (or, for cnnc__gargs, a node's argument array) holding the n items given
 * (moved in: the items' own memory is taken); NULL / a NONE argument with the error
 * set on failure (the items are freed then). */
cnnc__garg *cnnc__gargs(int n, const cnnc__garg *items);
cnnc__garg cnnc__garg_list(int n, const cnnc__garg *items);
#endif
