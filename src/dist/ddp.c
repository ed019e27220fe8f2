/* DistributedDataParallel: a module that keeps a wrapped module's replicas in step.
 *
 * Parameters that require grad are laid out in buckets in reverse registration order
 * (the order backward tends to produce their gradients), the first bucket capped at
 * 1 MiB and the others at bucket_cap_mb, as PyTorch's reducer does. Each parameter
 * carries an autograd hook (core/autograd.h) that runs when backward has added its
 * last contribution to .grad: the gradient, divided by the world size, is copied into
 * its bucket, and once a bucket is complete (and every bucket before it has started,
 * so all ranks start them in the same order) a non-blocking MPI_Iallreduce starts on
 * it. The hook of the last gradient waits for all of them and copies each bucket back
 * into the .grad tensors, before backward returns. */
#include <string.h>

#include "core/alloc.h"
#include "core/autograd.h"
#include "core/error.h"
#include "dist/dist.h"
#include "nn/module.h"

typedef struct ddp_state ddp_state;

typedef struct ddp_param {
    ddp_state *owner;
    cnnc_tensor *t; /* retained */
    int bucket;
    int64_t offset; /* in the bucket, floats */
    bool ready;     /* its gradient is in the bucket (this backward) */
    cnnc__grad_hook hook;
} ddp_param;

typedef struct ddp_bucket {
    float *buf;
    int64_t numel;
    int n_params, n_ready;
    MPI_Request req;
    bool launched;
} ddp_bucket;

struct ddp_state {
    ddp_param *params; /* [n_params], bucket order */
    int n_params;
    ddp_bucket *buckets;
    int n_buckets, next_launch;
    bool require_sync, broadcast_buffers, forward_param_sync;
    double bucket_cap_mb, comm_seconds;
    int world;
};

typedef struct ddp_module_state {
    ddp_state *s; /* owned */
} ddp_module_state;

static ddp_state *state_of(const cnnc_module *m);

/* ---- buckets ------------------------------------------------------------------------------ */

static cnnc_status launch(ddp_state *s, ddp_bucket *b) {
    if (b->numel > 0x7fffffff)
        return cnnc__error(CNNC_ERR_RUNTIME, "DistributedDataParallel: a bucket of %lld floats "
                           "is larger than one MPI call takes", (long long)b->numel);
    double t0 = cnnc__dist_now();
    int rc = MPI_Iallreduce(MPI_IN_PLACE, b->buf, (int)b->numel, MPI_FLOAT, MPI_SUM,
                            cnnc__dist_comm(), &b->req);
    s->comm_seconds += cnnc__dist_now() - t0;
    cnnc__dist_account(cnnc__dist_now() - t0);
    if (rc != MPI_SUCCESS) return cnnc__mpi_error("DistributedDataParallel (MPI_Iallreduce)", rc);
    b->launched = true;
    return CNNC_OK;
}

/* Starts every complete bucket whose predecessors have all started. */
static cnnc_status launch_ready(ddp_state *s) {
    while (s->next_launch < s->n_buckets) {
        ddp_bucket *b = &s->buckets[s->next_launch];
        if (b->n_ready < b->n_params) break;
        cnnc_status st = launch(s, b);
        if (st != CNNC_OK) return st;
        s->next_launch++;
    }
    /* give the started ones a chance to progress (Open MPI has no progress thread) */
    for (int i = 0; i < s->next_launch; i++) {
        int done = 0;
        double t0 = cnnc__dist_now();
        if (s->buckets[i].launched) MPI_Test(&s->buckets[i].req, &done, MPI_STATUS_IGNORE);
        s->comm_seconds += cnnc__dist_now() - t0;
        cnnc__dist_account(cnnc__dist_now() - t0);
    }
    return CNNC_OK;
}

/* Waits for every bucket and writes the averaged gradients back into .grad. */
static cnnc_status finish(ddp_state *s) {
    double t0 = cnnc__dist_now();
    cnnc_status st = CNNC_OK;
    for (int i = 0; i < s->n_buckets; i++) {
        ddp_bucket *b = &s->buckets[i];
        if (!b->launched) continue;
        int rc = MPI_Wait(&b->req, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS && st == CNNC_OK)
            st = cnnc__mpi_error("DistributedDataParallel (MPI_Wait)", rc);
        b->launched = false;
        b->n_ready = 0;
    }
    s->comm_seconds += cnnc__dist_now() - t0;
    cnnc__dist_account(cnnc__dist_now() - t0);
    s->next_launch = 0;
    for (int i = 0; i < s->n_params; i++) {
        ddp_param *p = &s->params[i];
        p->ready = false;
        if (st != CNNC_OK) continue;
        if (!p->t->grad && !(p->t->grad = cnnc__tensor_zeros(CNNC_FLOAT32, p->t->ndim, p->t->shape))) {
            st = cnnc_last_status();
            continue;
        }
        memcpy(cnnc__f32(p->t->grad), s->buckets[p->bucket].buf + p->offset,
               (size_t)p->t->numel * sizeof(float));
        cnnc__bump_version(p->t->grad);
    }
    return st;
}

/* The autograd hook: backward is done with this parameter's gradient. */
static cnnc_status grad_ready(void *ctx, cnnc_tensor *leaf) {
    ddp_param *p = ctx;
    ddp_state *s = p->owner;
    if (!s->require_sync) return CNNC_OK;
    if (p->ready)
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "Expected to mark a variable ready only once. This error is caused by "
                           "a second backward through the module's parameters before the "
                           "gradients of the first were reduced.");
    ddp_bucket *b = &s->buckets[p->bucket];
    float *dst = b->buf + p->offset, inv = 1.0f / (float)s->world;
    if (leaf->grad) {
        const float *g = cnnc__f32(leaf->grad);
        for (int64_t i = 0; i < leaf->numel; i++) dst[i] = g[i] * inv;
    } else {
        memset(dst, 0, (size_t)leaf->numel * sizeof(float));
    }
    p->ready = true;
    b->n_ready++;
    cnnc_status st = launch_ready(s);
    if (st == CNNC_OK && s->next_launch == s->n_buckets) st = finish(s);
    return st;
}

/* ---- construction ------------------------------------------------------------------------- */

static void state_free(ddp_state *s) {
    if (!s) return;
    for (int i = 0; i < s->n_params; i++) {
        if (s->params[i].t->grad_hook == &s->params[i].hook) cnnc__set_grad_hook(s->params[i].t, NULL);
        cnnc_tensor_release(s->params[i].t);
    }
    for (int i = 0; i < s->n_buckets; i++) {
        if (s->buckets[i].launched) MPI_Wait(&s->buckets[i].req, MPI_STATUS_IGNORE);
        cnnc__free(s->buckets[i].buf);
    }
    cnnc__free(s->params);
    cnnc__free(s->buckets);
    cnnc__free(s);
}

/* Parameters that require grad, in reverse order, cut into buckets. */
static cnnc_status build_buckets(ddp_state *s, const cnnc_tensor_list *ps) {
    size_t n = cnnc_tensor_list_size(ps);
    s->params = cnnc__calloc(n ? n : 1, sizeof *s->params);
    s->buckets = cnnc__calloc(n ? n : 1, sizeof *s->buckets);
    if (!s->params || !s->buckets) return cnnc__oom("DistributedDataParallel's buckets");
    /* PyTorch's first bucket is 1 MiB (gradients at the end of the network are ready
     * first: start communicating early); never more than bucket_cap_mb */
    double cap = s->bucket_cap_mb * 1024.0 * 1024.0, first_cap = cap < 1048576.0 ? cap : 1048576.0;
    bool open = false; /* as PyTorch: a bucket closes once it reaches its limit */
    for (size_t k = n; k-- > 0;) {
        cnnc_tensor *t = cnnc_tensor_list_get(ps, k);
        if (!t || !t->requires_grad) continue;
        if (!open) s->n_buckets++;
        open = true;
        ddp_bucket *b = &s->buckets[s->n_buckets - 1];
        double limit = s->n_buckets == 1 ? first_cap : cap;
        if ((double)(b->numel + t->numel) * 4.0 >= limit) open = false;
        ddp_param *p = &s->params[s->n_params++];
        *p = (ddp_param){.owner = s, .t = cnnc_tensor_retain(t), .bucket = s->n_buckets - 1,
                         .offset = b->numel, .hook = {.fn = grad_ready, .ctx = p}};
        b->numel += t->numel;
        b->n_params++;
    }
    for (int i = 0; i < s->n_buckets; i++)
        if (!(s->buckets[i].buf = cnnc__calloc((size_t)(s->buckets[i].numel ? s->buckets[i].numel : 1),
                                                sizeof(float))))
            return cnnc__oom("a DistributedDataParallel bucket");
    return CNNC_OK;
}

/* Every rank must wrap the same parameters: compares (count, total elements). */
static cnnc_status check_same_model(const ddp_state *s) {
    int64_t total = 0;
    for (int i = 0; i < s->n_params; i++) total += s->params[i].t->numel;
    int64_t mine[2] = {s->n_params, total}, lo[2], hi[2];
    MPI_Comm comm = cnnc__dist_comm();
    int rc = MPI_Allreduce(mine, lo, 2, MPI_INT64_T, MPI_MIN, comm);
    if (rc == MPI_SUCCESS) rc = MPI_Allreduce(mine, hi, 2, MPI_INT64_T, MPI_MAX, comm);
    if (rc != MPI_SUCCESS) return cnnc__mpi_error("DistributedDataParallel (MPI_Allreduce)", rc);
    if (lo[0] != hi[0] || lo[1] != hi[1])
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "DDP expects same model across all ranks, but this rank has %lld "
                           "parameters of %lld elements, while others have between %lld and %lld "
                           "parameters (%lld to %lld elements).",
                           (long long)mine[0], (long long)mine[1], (long long)lo[0],
                           (long long)hi[0], (long long)lo[1], (long long)hi[1]);
    return CNNC_OK;
}

/* Broadcasts every tensor of the list from rank 0, packed into one byte buffer. */
static cnnc_status broadcast_list(ddp_state *s, const cnnc_tensor_list *l) {
    size_t n = cnnc_tensor_list_size(l), bytes = 0;
    for (size_t i = 0; i < n; i++) {
        cnnc_tensor *t = cnnc_tensor_list_get(l, i);
        if (t) bytes += t->storage->nbytes;
    }
    if (bytes == 0) return CNNC_OK;
    if (bytes > 0x7fffffff)
        return cnnc__error(CNNC_ERR_RUNTIME, "DistributedDataParallel: %zu bytes of module state "
                           "are more than one MPI broadcast takes", bytes);
    char *buf = cnnc__malloc(bytes);
    if (!buf) return cnnc__oom("DistributedDataParallel's broadcast buffer");
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        cnnc_tensor *t = cnnc_tensor_list_get(l, i);
        if (!t) continue;
        memcpy(buf + off, t->storage->data, t->storage->nbytes);
        off += t->storage->nbytes;
    }
    double t0 = cnnc__dist_now();
    int rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, cnnc__dist_comm());
    s->comm_seconds += cnnc__dist_now() - t0;
    cnnc__dist_account(cnnc__dist_now() - t0);
    off = 0;
    for (size_t i = 0; i < n && rc == MPI_SUCCESS; i++) {
        cnnc_tensor *t = cnnc_tensor_list_get(l, i);
        if (!t) continue;
        memcpy(t->storage->data, buf + off, t->storage->nbytes);
        off += t->storage->nbytes;
        cnnc__bump_version(t);
    }
    cnnc__free(buf);
    return rc == MPI_SUCCESS ? CNNC_OK : cnnc__mpi_error("DistributedDataParallel (MPI_Bcast)", rc);
}

static cnnc_status broadcast_buffers(ddp_state *s, cnnc_module *inner) {
    cnnc_tensor_list *l = cnnc_module_named_buffers(inner);
    if (!l) return cnnc_last_status();
    cnnc_status st = broadcast_list(s, l);
    cnnc_tensor_list_free(l);
    return st;
}

/* ---- the module ---------------------------------------------------------------------------- */

static cnnc_module *inner_of(const cnnc_module *m) { return m->children[0].m; }

static int ddp_forward_n(cnnc_module *m, int n_in, cnnc_tensor *const *in, cnnc_tensor **out) {
    ddp_state *s = state_of(m);
    bool pending = s->next_launch > 0;
    for (int i = 0; i < s->n_params && !pending; i++) pending = s->params[i].ready;
    if (pending)
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "Expected to have finished reduction in the prior iteration before "
                           "starting a new one. This error indicates that your module has "
                           "parameters that were not used in producing loss; call "
                           "cnnc_ddp_finish() after such a backward."), -1;
    if (s->forward_param_sync && s->broadcast_buffers && s->world > 1 &&
        broadcast_buffers(s, inner_of(m)) != CNNC_OK)
        return -1;
    int n = cnnc__module_call_n(inner_of(m), n_in, in, out);
    s->forward_param_sync = cnnc_is_grad_enabled() && s->require_sync;
    return n;
}

static void ddp_destroy(cnnc_module *m) { state_free(CNNC__STATE(m, ddp_module_state)->s); }

static const cnnc__module_type ddp_type = {
    .name = "DistributedDataParallel", .state_size = sizeof(ddp_module_state),
    .forward_n = ddp_forward_n, .destroy = ddp_destroy};

static ddp_state *state_of(const cnnc_module *m) { return CNNC__STATE(m, const ddp_module_state)->s; }

static cnnc_status setup(cnnc_module *m, cnnc_module *module) {
    ddp_state *s = state_of(m);
    cnnc_tensor_list *ps = cnnc_module_named_parameters(module);
    if (!ps) return cnnc_last_status();
    cnnc_status st = build_buckets(s, ps);
    if (st == CNNC_OK && s->n_params == 0)
        st = cnnc__error(CNNC_ERR_RUNTIME,
                         "DistributedDataParallel is not needed when a module doesn't have any "
                         "parameter that requires a gradient.");
    st = cnnc__dist_agree("DistributedDataParallel", st);
    if (st == CNNC_OK) st = check_same_model(s);
    cnnc_tensor_list *sd = st == CNNC_OK ? cnnc_module_named_parameters(module) : NULL;
    if (st == CNNC_OK && !sd) st = cnnc_last_status();
    if (st == CNNC_OK && s->world > 1) st = broadcast_list(s, sd);
    if (st == CNNC_OK && s->world > 1) st = broadcast_buffers(s, module);
    cnnc_tensor_list_free(sd);
    cnnc_tensor_list_free(ps);
    for (int i = 0; st == CNNC_OK && i < s->n_params; i++) {
        if (s->params[i].t->grad_hook)
            st = cnnc__error(CNNC_ERR_RUNTIME, "DistributedDataParallel: a parameter of the module "
                             "is already managed by another DistributedDataParallel");
    }
    for (int i = 0; st == CNNC_OK && i < s->n_params; i++)
        cnnc__set_grad_hook(s->params[i].t, &s->params[i].hook);
    return st;
}

cnnc_module *cnnc_ddp_new(cnnc_module *module, cnnc_ddp_options o) {
    static const char fn[] = "DistributedDataParallel";
    if (cnnc__dist_check(fn) != CNNC_OK) return NULL;
    CNNC__NONNULL_OR_NULL(fn, module);
    if (!(o.bucket_cap_mb > 0.0))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): bucket_cap_mb must be > 0, got %g",
                                fn, o.bucket_cap_mb);
    cnnc_module *m = cnnc__module_new(&ddp_type);
    ddp_state *s = m ? cnnc__calloc(1, sizeof *s) : NULL;
    if (!s) {
        cnnc_module_release(m);
        return (cnnc__oom("a DistributedDataParallel"), NULL);
    }
    CNNC__STATE(m, ddp_module_state)->s = s;
    *s = (ddp_state){.require_sync = true, .broadcast_buffers = o.broadcast_buffers,
                     .forward_param_sync = true, .bucket_cap_mb = o.bucket_cap_mb,
                     .world = cnnc_dist_world_size()};
    m->training = module->training;
    if (cnnc__module_add_child(m, "module", cnnc_module_retain(module)) != CNNC_OK ||
        setup(m, module) != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

static cnnc_status check_ddp(const char *fn, const cnnc_module *m) {
    if (!m) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'ddp' is NULL", fn);
    if (m->type != &ddp_type)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): expected a DistributedDataParallel, got %s",
                           fn, cnnc__module_name(m));
    return CNNC_OK;
}

cnnc_status cnnc_ddp_set_require_sync(cnnc_module *ddp, bool require_sync) {
    if (check_ddp("ddp_set_require_sync", ddp) != CNNC_OK) return cnnc_last_status();
    state_of(ddp)->require_sync = require_sync;
    return CNNC_OK;
}

cnnc_status cnnc_ddp_finish(cnnc_module *ddp) {
    if (check_ddp("ddp_finish", ddp) != CNNC_OK) return cnnc_last_status();
    ddp_state *s = state_of(ddp);
    bool pending = s->next_launch > 0;
    for (int i = 0; i < s->n_params && !pending; i++) pending = s->params[i].ready;
    if (!pending) return CNNC_OK;
    for (int i = 0; i < s->n_params; i++) {
        ddp_param *p = &s->params[i];
        if (p->ready) continue;
        memset(s->buckets[p->bucket].buf + p->offset, 0, (size_t)p->t->numel * sizeof(float));
        p->ready = true;
        s->buckets[p->bucket].n_ready++;
    }
    cnnc_status st = launch_ready(s);
    cnnc_status st2 = finish(s);
    return st != CNNC_OK ? st : st2;
}

int cnnc_ddp_num_buckets(const cnnc_module *ddp) {
    if (check_ddp("ddp_num_buckets", ddp) != CNNC_OK) return -1;
    return state_of(ddp)->n_buckets;
}

int64_t cnnc_ddp_bucket_bytes(const cnnc_module *ddp, int b) {
    if (check_ddp("ddp_bucket_bytes", ddp) != CNNC_OK) return -1;
    const ddp_state *s = state_of(ddp);
    if (b < 0 || b >= s->n_buckets)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "ddp_bucket_bytes(): bucket %d out of range "
                           "[0, %d)", b, s->n_buckets), -1;
    return s->buckets[b].numel * 4;
}

double cnnc_ddp_comm_seconds(const cnnc_module *ddp) {
    if (check_ddp("ddp_comm_seconds", ddp) != CNNC_OK) return -1.0;
    return state_of(ddp)->comm_seconds;
}
