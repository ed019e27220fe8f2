/* Internal: autograd nodes, recording, and in-place checks.
 *
 * A node is one op's backward: edges to where its inputs' gradients go (the
 * producing node, or a leaf to accumulate into), the tensors it saved with their
 * versions, and a small block of op-specific context (dims, scalars). Nodes never
 * hold their own output, so tensor -> node -> tensor cycles cannot form; an op
 * that needs its output saves a storage-sharing alias instead. */
#ifndef CNNC_CORE_AUTOGRAD_H
#define CNNC_CORE_AUTOGRAD_H
#include "core/tensor.h"

typedef struct cnnc__node cnnc__node;

/* Computes grad_in[i] (new references) for every input i with
 * cnnc__node_needs_grad(node, i); leaves the others NULL. Runs in no-grad mode.
 * Returns a status (the message set) on failure. */
typedef cnnc_status (*cnnc__backward_fn)(cnnc__node *node, cnnc_tensor *grad_out,
                                         cnnc_tensor **grad_in);

typedef struct cnnc__edge {
    cnnc__node *fn;     /* owned: the node that produced the input, or NULL */
    cnnc_tensor *leaf;  /* owned: the leaf input to accumulate into, or NULL */
} cnnc__edge;

struct cnnc__node {
    atomic_int refcount;
    const char *name;            /* "AddBackward0" */
    cnnc__backward_fn backward;
    int n_inputs, n_saved;
    cnnc__edge *next;            /* [n_inputs] */
    cnnc_tensor **saved;         /* [n_saved] owned */
    uint64_t *saved_version;     /* [n_saved] */
    bool saved_freed;            /* after a backward without retain_graph */
    void *ctx;                   /* op-specific plain data (ctx_bytes, zeroed) */
    /* output metadata */
    int out_ndim;
    int64_t out_shape[CNNC_MAX_DIMS];
    /* engine bookkeeping */
    int deps;
    uint64_t visit;
    cnnc_tensor *grad_acc;
    cnnc__node *link; /* intrusive list for the engine and for iterative release */
};

/* Does any of the n tensors require grad while grad mode is on? */
bool cnnc__any_requires_grad(int n, cnnc_tensor *const *inputs);

/* Records the op that produced `out` from inputs[0..n_inputs): when grad mode is
 * on and an input requires grad, creates a node with a zeroed context of
 * ctx_bytes (returned in *ctx if ctx is not NULL), saves the n_saved tensors
 * (retained, with their versions), and makes it out's grad_fn. Inputs may be
 * NULL (an absent bias). A saved tensor that is `out` itself is saved as an alias;
 * a NULL saved entry holds nothing but still makes the node refuse a second
 * backward after the graph is freed (for values kept in the context).
 * Returns CNNC_OK (also when nothing is recorded) or an error. */
cnnc_status cnnc__record(cnnc_tensor *out, const char *name, cnnc__backward_fn backward,
                         int n_inputs, cnnc_tensor *const *inputs, int n_saved,
                         cnnc_tensor *const *saved, size_t ctx_bytes, void **ctx);

static inline bool cnnc__node_needs_grad(const cnnc__node *n, int i) {
    return n->next[i].fn || n->next[i].leaf;
}

void cnnc__node_release(cnnc__node *n);

/* A hook on a leaf's gradient (DistributedDataParallel's bucket reduction): within
 * one backward, fn runs once, right after the last gradient the graph sends to the leaf
 * has been added to its .grad (when every edge of the graph that reaches the leaf has
 * been processed; an edge whose node produced no gradient counts as processed). Not
 * called for a backward started at the leaf itself. A status other than CNNC_OK stops
 * the backward with that error. The struct belongs to the caller, who must clear the
 * hook (cnnc__set_grad_hook(t, NULL)) before freeing it; the engine fields are its. */
typedef struct cnnc__grad_hook {
    cnnc_status (*fn)(void *ctx, cnnc_tensor *leaf);
    void *ctx;
    int pending;    /* engine: edges still to come in the current backward */
    uint64_t visit; /* engine: the backward the count belongs to */
} cnnc__grad_hook;
void cnnc__set_grad_hook(cnnc_tensor *leaf, cnnc__grad_hook *hook);

/* Refuses an in-place op on a leaf that requires grad (PyTorch's message) and on a
 * view of a graph tensor. */
cnnc_status cnnc__check_inplace(const char *fn, cnnc_tensor *t);
/* Whether target is reachable from `from` through strong references (.grad, grad_fn,
 * view bases; nodes' inputs, saved tensors and accumulators): *found. A status other
 * than CNNC_OK on allocation failure (src/core/refgraph.c). */
cnnc_status cnnc__refers_to(const cnnc_tensor *from, const cnnc_tensor *target, bool *found);
#endif
