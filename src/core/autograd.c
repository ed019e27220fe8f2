/* Reverse-mode autograd over a DAG of nodes, as PyTorch's engine: dependencies
 * are counted over the part of the graph reachable from the output, nodes run
 * once all their consumers have contributed, and leaf gradients accumulate.
 *
 * Threads: a graph is walked by one backward at a time, but leaves (parameters)
 * may be shared by graphs that several threads run backward through at once; their
 * .grad is updated under a lock, as PyTorch's AccumulateGrad does. */
#include "core/autograd.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/spinlock.h"
#include "core/trace.h"

static _Thread_local bool grad_disabled = false;

bool cnnc_set_grad_enabled(bool enabled) {
    bool old = !grad_disabled;
    grad_disabled = !enabled;
    return old;
}

bool cnnc_is_grad_enabled(void) { return !grad_disabled; }

bool cnnc__any_requires_grad(int n, cnnc_tensor *const *inputs) {
    if (grad_disabled) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

/* ---- nodes --------------------------------------------------------------- */

static void node_free_contents(cnnc__node *n);

/* Iterative release: freeing a node releases its edges, which may free more
 * nodes; a thread-local list keeps a long chain from recursing deeply. */
static _Thread_local cnnc__node *release_list = NULL;
static _Thread_local bool releasing = false;

void cnnc__node_release(cnnc__node *n) {
    if (!n || atomic_fetch_sub(&n->refcount, 1) != 1) return;
    n->link = release_list;
    release_list = n;
    if (releasing) return;
    releasing = true;
    while (release_list) {
        cnnc__node *m = release_list;
        release_list = m->link;
        node_free_contents(m);
        cnnc__free(m);
    }
    releasing = false;
}

static void free_saved(cnnc__node *n) {
    for (int i = 0; i < n->n_saved; i++) {
        cnnc_tensor_release(n->saved[i]);
        n->saved[i] = NULL;
    }
}

static void node_free_contents(cnnc__node *n) {
    free_saved(n);
    for (int i = 0; i < n->n_inputs; i++) {
        cnnc__node_release(n->next[i].fn);
        cnnc_tensor_release(n->next[i].leaf);
    }
    cnnc_tensor_release(n->grad_acc);
}

static size_t align8(size_t x) { return (x + 7) & ~(size_t)7; }

/* One allocation: node, edges, saved pointers, versions, context. */
static cnnc__node *node_new(const char *name, cnnc__backward_fn backward, int n_inputs,
                            int n_saved, size_t ctx_bytes) {
    size_t off_next = align8(sizeof(cnnc__node));
    size_t off_saved = off_next + align8((size_t)n_inputs * sizeof(cnnc__edge));
    size_t off_ver = off_saved + align8((size_t)n_saved * sizeof(cnnc_tensor *));
    size_t off_ctx = off_ver + align8((size_t)n_saved * sizeof(uint64_t));
    size_t total = off_ctx + align8(ctx_bytes);
    char *mem = cnnc__malloc(total);
    if (!mem) return (cnnc__oom("an autograd node"), NULL);
    memset(mem, 0, total);
    cnnc__node *n = (cnnc__node *)mem;
    atomic_init(&n->refcount, 1);
    n->name = name;
    n->backward = backward;
    n->n_inputs = n_inputs;
    n->n_saved = n_saved;
    n->next = (cnnc__edge *)(mem + off_next);
    n->saved = (cnnc_tensor **)(mem + off_saved);
    n->saved_version = (uint64_t *)(mem + off_ver);
    n->ctx = ctx_bytes ? mem + off_ctx : NULL;
    return n;
}

static void set_edge(cnnc__node *n, int i, cnnc_tensor *input) {
    if (!input || !input->requires_grad) return;
    if (input->grad_fn) {
        n->next[i].fn = input->grad_fn;
        atomic_fetch_add(&input->grad_fn->refcount, 1);
    } else {
        n->next[i].leaf = cnnc_tensor_retain(input);
    }
}

static cnnc_status save_tensors(cnnc__node *n, cnnc_tensor *out, int n_saved,
                                cnnc_tensor *const *saved) {
    for (int i = 0; i < n_saved; i++) {
        cnnc_tensor *s = saved[i];
        if (!s) continue;
        if (s == out) {
            s = cnnc__tensor_alias(out, out->ndim, out->shape);
            if (!s) return CNNC_ERR_OUT_OF_MEMORY;
        } else {
            cnnc_tensor_retain(s);
        }
        n->saved[i] = s;
        n->saved_version[i] = (uint64_t)atomic_load(&s->storage->version);
    }
    return CNNC_OK;
}

static void attach(cnnc_tensor *out, cnnc__node *n) {
    n->out_ndim = out->ndim;
    memcpy(n->out_shape, out->shape, sizeof out->shape);
    cnnc__node *old = out->grad_fn;
    out->grad_fn = n;
    out->requires_grad = true;
    cnnc__node_release(old);
}

cnnc_status cnnc__record(cnnc_tensor *out, const char *name, cnnc__backward_fn backward,
                         int n_inputs, cnnc_tensor *const *inputs, int n_saved,
                         cnnc_tensor *const *saved, size_t ctx_bytes, void **ctx) {
    if (ctx) *ctx = NULL;
    if (!cnnc__any_requires_grad(n_inputs, inputs)) return CNNC_OK;
    cnnc__node *n = node_new(name, backward, n_inputs, n_saved, ctx_bytes);
    if (!n) return CNNC_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < n_inputs; i++) set_edge(n, i, inputs[i]);
    if (save_tensors(n, out, n_saved, saved) != CNNC_OK) {
        cnnc__node_release(n);
        return CNNC_ERR_OUT_OF_MEMORY;
    }
    attach(out, n);
    if (ctx) *ctx = n->ctx;
    return CNNC_OK;
}

/* ---- engine -------------------------------------------------------------- */

static _Atomic uint64_t visit_counter = 0;

/* A gradient must be float32 and have exactly the shape of the input it belongs to:
 * a backward function that returns anything else has a bug, which is reported
 * rather than broadcast or read out of bounds. */
static cnnc_status check_grad(const cnnc__node *n, int i, const cnnc_tensor *g, int ndim,
                              const int64_t *shape) {
    bool same = g->dtype == CNNC_FLOAT32 && g->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = g->shape[d] == shape[d];
    if (same) return CNNC_OK;
    char got[256], want[256];
    cnnc__shape_str(got, sizeof got, g->ndim, g->shape);
    cnnc__shape_str(want, sizeof want, ndim, shape);
    return cnnc__error(CNNC_ERR_RUNTIME,
                       "Function %s returned an invalid gradient at index %d - got %s %s but "
                       "expected float32 of shape %s (an internal error in cnnc)",
                       n->name, i, cnnc_dtype_name(g->dtype), got, want);
}

/* dst[i] = a[i] + b[i] over n floats: the same shape, never broadcast (dst may be a). */
static void add_floats(float *dst, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = a[i] + b[i];
}

typedef struct sum_job {
    float *out;
    const float *a, *b;
} sum_job;

static cnnc_status sum_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const sum_job *j = ctx;
    add_floats(j->out + begin, j->a + begin, j->b + begin, end - begin);
    return CNNC_OK;
}

/* Adds g (already checked to have acc's shape) into *acc, out of place: a gradient
 * may be shared between consumers. */
static cnnc_status accumulate(cnnc_tensor **acc, cnnc_tensor *g) {
    if (!*acc) {
        *acc = cnnc_tensor_retain(g);
        return CNNC_OK;
    }
    cnnc_tensor *sum = cnnc__tensor_new(CNNC_FLOAT32, g->ndim, g->shape);
    if (!sum) return cnnc_last_status();
    sum_job j = {cnnc__f32(sum), cnnc__f32(*acc), cnnc__f32(g)};
    /* an element: an add, two floats read and one written */
    cnnc_status st = cnnc__parallel_for(sum->numel, (cnnc__cost){.flops = 1.0, .bytes = 12.0},
                                        sum_range, &j);
    if (st != CNNC_OK) {
        cnnc_tensor_release(sum);
        return st;
    }
    cnnc_tensor_release(*acc);
    *acc = sum;
    return CNNC_OK;
}

/* Leaf accumulation is locked per leaf; the locks are striped by the leaf's
 * address (a leaf keeps its address for life). */
enum { GRAD_STRIPES = 64 };
static cnnc__spinlock grad_locks[GRAD_STRIPES];

static cnnc__spinlock *grad_lock(const cnnc_tensor *leaf) {
    uintptr_t h = (uintptr_t)leaf;
    h ^= h >> 17;
    return &grad_locks[(h >> 6) % GRAD_STRIPES];
}

#if defined(CNNC_USE_PTHREADS)
#include <pthread.h>
/* fork(): every stripe is held across it, so no child inherits one locked by a
 * thread it does not have. */
static void lock_all(void) {
    for (int i = 0; i < GRAD_STRIPES; i++) cnnc__spin_lock(&grad_locks[i]);
}
static void unlock_all(void) {
    for (int i = 0; i < GRAD_STRIPES; i++) cnnc__spin_unlock(&grad_locks[i]);
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(lock_all, unlock_all, unlock_all); }
#endif

/* Leaf .grad: the first gradient is stored (copied unless exclusively ours); later
 * ones are added in place, as PyTorch does without create_graph. g has the leaf's
 * shape (checked). */
static cnnc_status accumulate_leaf(cnnc_tensor *leaf, cnnc_tensor *g) {
#if defined(CNNC_USE_PTHREADS)
    pthread_once(&atfork_once, install_atfork);
#endif
    cnnc__spinlock *lock = grad_lock(leaf);
    cnnc_tensor *own = NULL; /* the first gradient, made outside the lock */
    for (;;) {
        cnnc__spin_lock(lock);
        if (leaf->grad) { /* no parallel region under the lock: it could deadlock with
                           * the fork handlers */
            float *grad = cnnc__f32(leaf->grad);
            add_floats(grad, grad, cnnc__f32(g), leaf->grad->numel);
            cnnc__bump_version(leaf->grad);
            cnnc__spin_unlock(lock);
            cnnc_tensor_release(own); /* (another thread stored a first one meanwhile) */
            return CNNC_OK;
        }
        if (own) {
            leaf->grad = own;
            cnnc__spin_unlock(lock);
            return CNNC_OK;
        }
        cnnc__spin_unlock(lock);
        /* g itself when exclusively ours, else a copy (over the threads) */
        const bool exclusive =
            atomic_load(&g->refcount) == 1 && atomic_load(&g->storage->refcount) == 1;
        own = exclusive ? cnnc_tensor_retain(g) : cnnc__tensor_copy(g);
        if (!own) return cnnc_last_status();
    }
}

static cnnc_status check_saved(cnnc__node *n) {
    if (n->saved_freed)
        return cnnc__error(
            CNNC_ERR_RUNTIME,
            "Trying to backward through the graph a second time (or directly access saved "
            "tensors after they have already been freed). Saved intermediate values of the graph "
            "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
            "you need to backward through the graph a second time or if you need to access saved "
            "tensors after calling backward.");
    for (int i = 0; i < n->n_saved; i++) {
        cnnc_tensor *s = n->saved[i];
        if (!s) continue;
        uint64_t v = (uint64_t)atomic_load(&s->storage->version);
        if (v != n->saved_version[i]) {
            char shape[256];
            cnnc__shape_str(shape, sizeof shape, s->ndim, s->shape);
            return cnnc__error(CNNC_ERR_RUNTIME,
                               "one of the variables needed for gradient computation has been "
                               "modified by an inplace operation: [%s %s], which is saved by %s, "
                               "is at version %llu; expected version %llu instead.",
                               cnnc_dtype_name(s->dtype), shape, n->name, (unsigned long long)v,
                               (unsigned long long)n->saved_version[i]);
        }
    }
    return CNNC_OK;
}

static cnnc_status check_gradient(cnnc_tensor *output, cnnc_tensor *gradient) {
    if (gradient->dtype != CNNC_FLOAT32)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "backward(): gradient must be float32, got %s",
                           cnnc_dtype_name(gradient->dtype));
    if (!cnnc__same_shape(output, gradient)) {
        char a[256], b[256];
        cnnc__shape_str(a, sizeof a, gradient->ndim, gradient->shape);
        cnnc__shape_str(b, sizeof b, output->ndim, output->shape);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Mismatch in shape: grad_output[0] has a shape of torch.Size(%s) and "
                           "output[0] has a shape of torch.Size(%s).",
                           a, b);
    }
    return CNNC_OK;
}

void cnnc__set_grad_hook(cnnc_tensor *leaf, cnnc__grad_hook *hook) {
    if (hook) hook->visit = 0;
    leaf->grad_hook = hook;
}

/* Counts a reachable edge into a hooked leaf for the backward `visit`. */
static void count_hooked_edge(cnnc_tensor *leaf, uint64_t visit) {
    cnnc__grad_hook *h = leaf ? leaf->grad_hook : NULL;
    if (!h) return;
    if (h->visit != visit) {
        h->visit = visit;
        h->pending = 0;
    }
    h->pending++;
}

/* After an edge into a leaf is processed: runs its hook when that was the last one. */
static cnnc_status edge_done(cnnc_tensor *leaf, uint64_t visit, cnnc_status st) {
    cnnc__grad_hook *h = leaf ? leaf->grad_hook : NULL;
    if (!h || h->visit != visit || --h->pending != 0 || st != CNNC_OK) return st;
    return h->fn(h->ctx, leaf);
}

/* Collects the nodes reachable from root (list through ->link) and counts, for
 * each, how many reachable edges point at it (and at each hooked leaf). */
static cnnc__node *collect(cnnc__node *root, uint64_t visit) {
    cnnc__node *stack = root, *all = NULL;
    root->visit = visit;
    root->deps = 0;
    root->link = NULL;
    while (stack) {
        cnnc__node *n = stack;
        stack = n->link;
        n->link = all;
        all = n;
        for (int i = 0; i < n->n_inputs; i++) {
            cnnc__node *m = n->next[i].fn;
            count_hooked_edge(n->next[i].leaf, visit);
            if (!m) continue;
            if (m->visit != visit) {
                m->visit = visit;
                m->deps = 0;
                m->link = stack;
                stack = m;
            }
            m->deps++;
        }
    }
    return all;
}

/* n's backward on its output's gradient g (CNNC_TRACE: a line per node, the shapes of g
 * and of the input gradients it made). */
static cnnc_status run_node(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **grad_in) {
    const double t0 = cnnc__trace_begin();
    const cnnc_status st = n->backward(n, g, grad_in);
    if (t0) {
        char shapes[512];
        cnnc__trace_shapes(shapes, sizeof shapes, 1, &g, n->n_inputs, grad_in);
        cnnc__trace_end(t0, "autograd.node", n->name, st == CNNC_OK ? shapes : "failed");
    }
    return st;
}

cnnc_status cnnc_backward(cnnc_tensor *output, cnnc_tensor *gradient, bool retain_graph) {
    CNNC__NONNULL_OR_STATUS("backward", output);
    if (!output->requires_grad)
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "element 0 of tensors does not require grad and does not have a "
                           "grad_fn");
    cnnc_status st = CNNC_OK;
    cnnc_tensor *seed = NULL;
    if (gradient) {
        if ((st = check_gradient(output, gradient)) != CNNC_OK) return st;
        seed = cnnc_tensor_retain(gradient);
    } else {
        if (output->numel != 1)
            return cnnc__error(CNNC_ERR_RUNTIME,
                               "grad can be implicitly created only for scalar outputs");
        seed = cnnc__tensor_new(CNNC_FLOAT32, output->ndim, output->shape);
        if (!seed) return cnnc_last_status();
        cnnc__f32(seed)[0] = 1.0f;
    }
    bool old_mode = cnnc_set_grad_enabled(false);
    if (!output->grad_fn) { /* a leaf */
        st = accumulate_leaf(output, seed);
        cnnc_tensor_release(seed);
        cnnc_set_grad_enabled(old_mode);
        return st;
    }

    const double t0 = cnnc__trace_begin();
    cnnc__node *root = output->grad_fn;
    uint64_t visit = atomic_fetch_add(&visit_counter, 1) + 1;
    cnnc__node *all = collect(root, visit);
    /* Every reachable node is kept alive by its consumers; hold the root too. */
    atomic_fetch_add(&root->refcount, 1);
    root->grad_acc = seed;

    (void)all; /* collect() only had to count dependencies; links are reused below */
    cnnc__node *ready = root;
    root->link = NULL;
    cnnc_tensor *grad_in_small[8];
    while (ready && st == CNNC_OK) {
        cnnc__node *n = ready;
        ready = n->link;
        cnnc_tensor *g = n->grad_acc;
        n->grad_acc = NULL;
        cnnc_tensor **grad_in = grad_in_small;
        if (n->n_inputs > 8) {
            grad_in = cnnc__calloc((size_t)n->n_inputs, sizeof *grad_in);
            if (!grad_in) st = cnnc__oom("backward gradients");
        } else {
            memset(grad_in_small, 0, sizeof grad_in_small);
        }
        if (st == CNNC_OK && g) {
            if ((st = check_saved(n)) == CNNC_OK) st = run_node(n, g, grad_in);
        }
        for (int i = 0; i < n->n_inputs; i++) {
            cnnc__edge *e = &n->next[i];
            if (st == CNNC_OK && grad_in[i]) {
                if (e->leaf) {
                    st = check_grad(n, i, grad_in[i], e->leaf->ndim, e->leaf->shape);
                    if (st == CNNC_OK) st = accumulate_leaf(e->leaf, grad_in[i]);
                } else if (e->fn) {
                    st = check_grad(n, i, grad_in[i], e->fn->out_ndim, e->fn->out_shape);
                    if (st == CNNC_OK) st = accumulate(&e->fn->grad_acc, grad_in[i]);
                }
            }
            cnnc_tensor_release(grad_in ? grad_in[i] : NULL);
            st = edge_done(e->leaf, visit, st);
            if (e->fn && --e->fn->deps == 0) {
                e->fn->link = ready;
                ready = e->fn;
            }
        }
        if (grad_in != grad_in_small) cnnc__free(grad_in);
        cnnc_tensor_release(g);
        if (st == CNNC_OK && !retain_graph && n->n_saved > 0) {
            free_saved(n);
            n->saved_freed = true;
        }
    }
    if (st != CNNC_OK) {
        /* drop partial sums left in nodes that did not run */
        uint64_t v2 = atomic_fetch_add(&visit_counter, 1) + 1;
        for (cnnc__node *n = collect(root, v2); n; n = n->link) {
            cnnc_tensor_release(n->grad_acc);
            n->grad_acc = NULL;
        }
    }
    if (t0) {
        char kernel[64], shapes[160];
        snprintf(kernel, sizeof kernel, "from %s", root->name);
        cnnc__trace_shapes(shapes, sizeof shapes, 1, &output, 0, NULL);
        cnnc__trace_end(t0, "autograd.backward", kernel, shapes);
    }
    cnnc__node_release(root);
    cnnc_set_grad_enabled(old_mode);
    return st;
}

/* ---- public accessors ----------------------------------------------------- */

bool cnnc_tensor_requires_grad(const cnnc_tensor *t) {
    return !cnnc__null_tensor("tensor_requires_grad", t) && t->requires_grad;
}
bool cnnc_tensor_is_leaf(const cnnc_tensor *t) {
    return !cnnc__null_tensor("tensor_is_leaf", t) && !t->grad_fn;
}
cnnc_tensor *cnnc_tensor_grad(const cnnc_tensor *t) {
    return cnnc__null_tensor("tensor_grad", t) ? NULL : t->grad;
}
const char *cnnc_tensor_grad_fn_name(const cnnc_tensor *t) {
    return cnnc__null_tensor("tensor_grad_fn_name", t) || !t->grad_fn ? NULL : t->grad_fn->name;
}

cnnc_status cnnc_tensor_set_requires_grad(cnnc_tensor *t, bool requires_grad) {
    CNNC__NONNULL_OR_STATUS("requires_grad_", t);
    if (t->grad_fn) {
        if (requires_grad) return CNNC_OK;
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "you can only change requires_grad flags of leaf variables. If you "
                           "want to use a computed variable in a subgraph that doesn't require "
                           "differentiation use var_no_grad = var.detach().");
    }
    if (requires_grad && t->dtype != CNNC_FLOAT32)
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "only Tensors of floating point dtype can require gradients");
    t->requires_grad = requires_grad;
    return CNNC_OK;
}

cnnc_status cnnc_tensor_set_grad(cnnc_tensor *t, cnnc_tensor *grad) {
    CNNC__NONNULL_OR_STATUS("set_grad", t);
    if (grad) {
        if (grad->dtype != t->dtype)
            return cnnc__error(CNNC_ERR_RUNTIME,
                               "assigned grad has data of a different type");
        if (!cnnc__same_shape(grad, t))
            return cnnc__error(CNNC_ERR_RUNTIME, "assigned grad has data of a different size");
        if (grad == t)
            return cnnc__error(CNNC_ERR_RUNTIME, "can't assign Variable as its own grad");
        /* PyTorch accepts t.grad = g; g.grad = t (or a grad computed from t) and leaks
         * both: the reference cycle is refused here instead */
        bool cycle;
        cnnc_status st = cnnc__refers_to(grad, t, &cycle);
        if (st != CNNC_OK) return st;
        if (cycle)
            return cnnc__error(CNNC_ERR_RUNTIME,
                               "can't assign a grad that refers back to the tensor (through its "
                               ".grad or its autograd graph): the reference cycle would never be "
                               "freed");
    }
    cnnc_tensor *old = t->grad;
    t->grad = cnnc_tensor_retain(grad);
    cnnc_tensor_release(old);
    return CNNC_OK;
}
