/* SyncBatchNorm: batch norm whose training statistics cover every rank's samples.
 *
 * Forward: each rank computes per channel its (count, mean, M2) in double, the ranks
 * all-gather them, and every rank merges them in rank order (Chan's formula), so all
 * ranks hold bit-identical global statistics whatever the MPI reduction order. The
 * input is normalised with the kernels plain batch norm uses (mean as a float pair,
 * invstd as a float). Backward: sum(dy) and sum(dy * (x - mean)) per channel are
 * gathered and added in rank order as well, then the input gradient is
 * (dy - sum_dy / count - (x - mean) * invstd^2 * sum_dy_xmu / count) * invstd * w
 * with the global count; weight and bias gradients are the rank's own sums.
 *
 * Every collective carries a failure flag, so an error on one rank (a wrong input
 * shape, an allocation) fails the call on every rank instead of leaving the others
 * waiting. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "dist/dist.h"
#include "kernels/norm.h"
#include "nn/norm.h"
#include "ops/norm.h"

typedef struct sbn_ctx {
    int64_t N, C, S;
    double count; /* samples per channel over all ranks */
} sbn_ctx;

static cnnc__cost elems_cost(int64_t elems) {
    return (cnnc__cost){.flops = 4.0 * (double)elems, .bytes = 12.0 * (double)elems};
}

/* ---- gather and merge in rank order ---------------------------------------------------- */

/* Gathers P doubles per rank (the first is the rank's failure flag) into *all (a
 * workspace of W * P doubles); fails on every rank when any rank flagged. */
static cnnc_status gather(const char *what, const double *mine, int64_t P, double **all, int *W) {
    MPI_Comm comm = cnnc__dist_comm();
    MPI_Comm_size(comm, W);
    size_t bytes;
    int fail = 0;
    double *buf = NULL;
    if (!cnnc__mul_size((size_t)*W, (size_t)P * sizeof(double), &bytes) || P > 0x7fffffff ||
        !(buf = cnnc__malloc(bytes)))
        return cnnc__oom("SyncBatchNorm's gather buffer"); /* the same on every rank */
    double t0 = cnnc__dist_now();
    int rc = MPI_Allgather(mine, (int)P, MPI_DOUBLE, buf, (int)P, MPI_DOUBLE, comm);
    cnnc__dist_account(cnnc__dist_now() - t0);
    if (rc != MPI_SUCCESS) {
        cnnc__free(buf);
        return cnnc__mpi_error(what, rc);
    }
    for (int r = 0; r < *W && !fail; r++)
        if (buf[(int64_t)r * P] != 0.0) fail = r + 1;
    if (fail) {
        cnnc__free(buf);
        if (mine[0] != 0.0) return cnnc_last_status(); /* this rank's own message */
        return cnnc__error(CNNC_ERR_RUNTIME, "%s: rank %d failed (its error is reported there)",
                           what, fail - 1);
    }
    *all = buf;
    return CNNC_OK;
}

/* ---- forward ----------------------------------------------------------------------------- */

typedef struct stats_job {
    const float *x;
    double *mean, *m2; /* [C] */
    int64_t N, C, S;
    cnnc__isa isa;
} stats_job;

static cnnc_status stats_range(void *ctx, int64_t c0, int64_t c1, int chunk) {
    (void)chunk;
    stats_job *j = ctx;
    for (int64_t c = c0; c < c1; c++) {
        j->mean[c] = j->m2[c] = 0.0;
        if (j->N * j->S > 0)
            cnnc__k_norm_stats(j->isa, &j->mean[c], &j->m2[c], j->x + c * j->S, j->N, j->C * j->S,
                               j->S);
    }
    return CNNC_OK;
}

typedef struct apply_job {
    float *y;
    const float *x, *w, *b, *st; /* st [3, C]: mhi, mlo, invstd */
    int64_t N, C, S;
    cnnc__isa isa;
} apply_job;

static cnnc_status apply_range(void *ctx, int64_t c0, int64_t c1, int chunk) {
    (void)chunk;
    apply_job *j = ctx;
    for (int64_t c = c0; c < c1; c++) {
        float mhi = j->st[c], mlo = j->st[j->C + c], inv = j->st[2 * j->C + c];
        float a = j->w ? inv * j->w[c] : inv, b = j->b ? j->b[c] : 0.0f;
        for (int64_t n = 0; n < j->N; n++) {
            int64_t o = (n * j->C + c) * j->S;
            cnnc__k_norm_apply(j->isa, j->y + o, j->x + o, j->S, mhi, mlo, a, b);
        }
    }
    return CNNC_OK;
}

/* The rank's payload [fail, count, mean[C], m2[C]]; fail set when local is not OK. */
static void local_stats(double *p, cnnc_status local, const cnnc_tensor *x, int64_t C, int64_t S) {
    memset(p, 0, (size_t)(2 + 2 * C) * sizeof(double));
    if (local != CNNC_OK) {
        p[0] = 1.0;
        return;
    }
    int64_t N = x->shape[0];
    p[1] = (double)(N * S);
    stats_job j = {cnnc__f32(x), p + 2, p + 2 + C, N, C, S, cnnc__isa_active()};
    if (cnnc__parallel_for(C, elems_cost(N * S), stats_range, &j) != CNNC_OK) p[0] = 1.0;
}

/* Merges the W payloads in rank order into mean/m2 [C] and the global count. */
static double merge(const double *all, int W, int64_t C, double *mean, double *m2) {
    int64_t P = 2 + 2 * C;
    double total = 0.0;
    for (int64_t c = 0; c < C; c++) {
        double n = 0.0, mu = 0.0, M = 0.0;
        for (int r = 0; r < W; r++) {
            const double *p = all + (int64_t)r * P;
            double nb = p[1];
            if (nb == 0.0) continue;
            double delta = p[2 + c] - mu, nt = n + nb;
            mu += delta * nb / nt;
            M += p[2 + C + c] + delta * delta * n * nb / nt;
            n = nt;
        }
        mean[c] = mu;
        m2[c] = M;
        total = n;
    }
    if (C == 0)
        for (int r = 0; r < W; r++) total += all[(int64_t)r * P + 1];
    return total;
}

static void update_running(cnnc_tensor *rm, cnnc_tensor *rv, const double *mean, const double *m2,
                           int64_t C, double count, double momentum) {
    for (int64_t c = 0; c < C; c++) {
        if (rm) cnnc__f32(rm)[c] = (float)((1.0 - momentum) * (double)cnnc__f32(rm)[c] + momentum * mean[c]);
        if (rv)
            cnnc__f32(rv)[c] = (float)((1.0 - momentum) * (double)cnnc__f32(rv)[c] +
                                       momentum * (m2[c] / (count - 1.0)));
    }
    if (rm) cnnc__bump_version(rm);
    if (rv) cnnc__bump_version(rv);
}

static cnnc_status sbn_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi);

/* y and its node from the global statistics. */
static cnnc_tensor *normalize(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, const double *mean,
                              const double *m2, double count, double eps, int64_t C, int64_t S) {
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    cnnc_tensor *st = cnnc__tensor_zeros(CNNC_FLOAT32, 2, (int64_t[]){3, C});
    if (!out || !st) goto fail;
    float *s = cnnc__f32(st);
    for (int64_t c = 0; c < C; c++) {
        cnnc__k_norm_split(mean[c], &s[c], &s[C + c]);
        s[2 * C + c] = (float)(1.0 / sqrt(m2[c] / count + eps));
    }
    apply_job j = {cnnc__f32(out), cnnc__f32(x), w ? cnnc__f32(w) : NULL, b ? cnnc__f32(b) : NULL,
                   s, x->shape[0], C, S, cnnc__isa_active()};
    if (x->numel > 0 && cnnc__parallel_for(C, elems_cost(j.N * S), apply_range, &j) != CNNC_OK)
        goto fail;
    void *vctx = NULL;
    cnnc_tensor *inputs[3] = {x, w, b}, *saved[3] = {x, w, st};
    if (cnnc__record(out, "SyncBatchNormBackward", sbn_backward, 3, inputs, 3, saved,
                     sizeof(sbn_ctx), &vctx) != CNNC_OK)
        goto fail;
    if (vctx) *(sbn_ctx *)vctx = (sbn_ctx){x->shape[0], C, S, count};
    cnnc_tensor_release(st);
    return out;
fail:
    cnnc_tensor_release(out);
    cnnc_tensor_release(st);
    return NULL;
}

/* The synchronised training forward; `local` is this rank's validation result (the
 * collective runs whatever it is, so the ranks fail together). */
static cnnc_tensor *sync_forward(cnnc_status local, cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b,
                                 cnnc_tensor *rm, cnnc_tensor *rv, int64_t C, double momentum,
                                 double eps) {
    int64_t S = 1;
    for (int d = 2; local == CNNC_OK && d < x->ndim; d++) S *= x->shape[d];
    int64_t P = 2 + 2 * C;
    double *mine = cnnc__malloc((size_t)(P + 2 * C) * sizeof(double)), *all = NULL;
    if (!mine) return (cnnc__oom("SyncBatchNorm statistics"), NULL);
    local_stats(mine, local, x, C, S);
    int W = 1;
    cnnc_tensor *out = NULL;
    if (gather("SyncBatchNorm forward", mine, P, &all, &W) == CNNC_OK) {
        double *mean = mine + P, *m2 = mean + C; /* reuse: the tail of mine */
        double count = merge(all, W, C, mean, m2);
        out = normalize(x, w, b, mean, m2, count, eps, C, S);
        if (out && count > 0) update_running(rm, rv, mean, m2, C, count, momentum);
    }
    cnnc__free(all);
    cnnc__free(mine);
    return out;
}

/* ---- backward ---------------------------------------------------------------------------- */

typedef struct grad_job {
    float *gx, *gw, *gb;
    const float *g, *x, *w, *st;
    double *sums;       /* [2, C]: this rank's sum dy, sum dy * (x - mean) */
    const double *glob; /* [2, C]: over all ranks (phase 2) */
    int64_t N, C, S;
    double count;
    cnnc__isa isa;
} grad_job;

static cnnc_status sums_range(void *ctx, int64_t c0, int64_t c1, int chunk) {
    (void)chunk;
    grad_job *j = ctx;
    for (int64_t c = c0; c < c1; c++) {
        double sg = 0.0, sgd = 0.0;
        for (int64_t n = 0; n < j->N; n++) {
            int64_t o = (n * j->C + c) * j->S;
            cnnc__k_norm_grad_sums(j->isa, &sg, &sgd, j->g + o, j->x + o, j->S, j->st[c],
                                   j->st[j->C + c], NULL);
        }
        j->sums[c] = sg;
        j->sums[j->C + c] = sgd;
        double inv = j->st[2 * j->C + c];
        if (j->gw) j->gw[c] = (float)(sgd * inv);
        if (j->gb) j->gb[c] = (float)sg;
    }
    return CNNC_OK;
}

static cnnc_status gx_range(void *ctx, int64_t c0, int64_t c1, int chunk) {
    (void)chunk;
    grad_job *j = ctx;
    for (int64_t c = c0; c < c1; c++) {
        double inv = j->st[2 * j->C + c], wc = j->w ? (double)j->w[c] : 1.0;
        double A = wc * inv, B = -A * inv * inv * j->glob[j->C + c] / j->count,
               Cc = -A * j->glob[c] / j->count;
        for (int64_t n = 0; n < j->N; n++) {
            int64_t o = (n * j->C + c) * j->S;
            cnnc__k_norm_grad_apply(j->isa, j->gx + o, j->g + o, j->x + o, j->S, j->st[c],
                                    j->st[j->C + c], NULL, (float)A, (float)B, (float)Cc);
        }
    }
    return CNNC_OK;
}

/* Adds the W payloads [fail, sums[2C]] in rank order into glob [2C]. */
static void add_in_rank_order(double *glob, const double *all, int W, int64_t C) {
    for (int64_t k = 0; k < 2 * C; k++) {
        double s = 0.0;
        for (int r = 0; r < W; r++) s += all[(int64_t)r * (1 + 2 * C) + 1 + k];
        glob[k] = s;
    }
}

static cnnc_status sbn_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    const sbn_ctx *cx = n->ctx;
    cnnc_tensor *x = n->saved[0], *w = n->saved[1], *st = n->saved[2];
    bool need_x = cnnc__node_needs_grad(n, 0), need_w = cnnc__node_needs_grad(n, 1),
         need_b = cnnc__node_needs_grad(n, 2);
    int64_t C = cx->C, shape_c[1] = {C};
    /* [fail, sums[2C]] sent, then the global sums [2C]. An allocation failure here
     * leaves the other ranks waiting, as a lost rank would. */
    double *mine = cnnc__calloc((size_t)(1 + 4 * C), sizeof(double)), *all = NULL;
    if (!mine) return cnnc__oom("SyncBatchNorm backward sums");
    cnnc_status local = CNNC_OK;
    if (need_x && !(gi[0] = cnnc__tensor_zeros(CNNC_FLOAT32, x->ndim, x->shape)))
        local = cnnc_last_status();
    if (local == CNNC_OK && need_w && !(gi[1] = cnnc__tensor_zeros(CNNC_FLOAT32, w->ndim, w->shape)))
        local = cnnc_last_status();
    if (local == CNNC_OK && need_b && !(gi[2] = cnnc__tensor_zeros(CNNC_FLOAT32, 1, shape_c)))
        local = cnnc_last_status();
    grad_job j = {gi[0] ? cnnc__f32(gi[0]) : NULL, gi[1] ? cnnc__f32(gi[1]) : NULL,
                  gi[2] ? cnnc__f32(gi[2]) : NULL, cnnc__f32(g), cnnc__f32(x),
                  w ? cnnc__f32(w) : NULL, cnnc__f32(st), mine + 1, NULL, cx->N, C, cx->S,
                  cx->count, cnnc__isa_active()};
    if (local == CNNC_OK) local = cnnc__parallel_for(C, elems_cost(cx->N * cx->S), sums_range, &j);
    if (!need_x) { /* no input gradient, nothing to exchange (the same on every rank) */
        cnnc__free(mine);
        return local;
    }
    mine[0] = local == CNNC_OK ? 0.0 : 1.0;
    int W = 1;
    cnnc_status status = gather("SyncBatchNorm backward", mine, 1 + 2 * C, &all, &W);
    if (status == CNNC_OK) {
        double *glob = mine + 1 + 2 * C;
        add_in_rank_order(glob, all, W, C);
        j.glob = glob;
        if (x->numel > 0) status = cnnc__parallel_for(C, elems_cost(cx->N * cx->S), gx_range, &j);
    }
    cnnc__free(all);
    cnnc__free(mine);
    return status;
}

/* ---- the module ---------------------------------------------------------------------------- */

static cnnc_status check_count(const char *name, const cnnc_tensor *t, int64_t C) {
    if (t && t->numel != C)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s should contain %lld elements not %lld",
                           name, (long long)C, (long long)t->numel);
    return CNNC_OK;
}

/* The checks of SyncBatchNorm.forward and of the statistics' sizes. */
static cnnc_status check_input(const cnnc_module *m, const cnnc_tensor *x) {
    const cnnc__normbase_state *s = CNNC__STATE(m, const cnnc__normbase_state);
    if (cnnc__check_tensor("SyncBatchNorm.forward", "input", x, true) != CNNC_OK)
        return cnnc_last_status();
    if (x->ndim < 2)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "expected at least 2D input (got %dD input)",
                           x->ndim);
    if (x->shape[1] == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "SyncBatchNorm number of input channels should be non-zero");
    if (x->shape[1] != s->num_features)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "SyncBatchNorm(%lld) expected input with %lld channels, got input of "
                           "shape [%lld, %lld, ...]",
                           (long long)s->num_features, (long long)s->num_features,
                           (long long)x->shape[0], (long long)x->shape[1]);
    const char *names[4] = {"running_mean", "running_var", "weight", "bias"};
    cnnc_tensor *ts[4] = {cnnc__module_buffer(m, "running_mean"), cnnc__module_buffer(m, "running_var"),
                          cnnc__module_param(m, "weight"), cnnc__module_param(m, "bias")};
    for (int i = 0; i < 4; i++) {
        if (ts[i] && ts[i]->dtype != CNNC_FLOAT32)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "SyncBatchNorm: %s must be float32",
                               names[i]);
        if (check_count(names[i], ts[i], x->shape[1]) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    }
    return CNNC_OK;
}

static cnnc_tensor *syncbn_forward(cnnc_module *m, cnnc_tensor *x) {
    const cnnc__normbase_state *s = CNNC__STATE(m, const cnnc__normbase_state);
    cnnc_status local = check_input(m, x);
    double factor = 0.0;
    if (local == CNNC_OK) local = cnnc__batchnorm_count(m, &factor);
    cnnc_tensor *rm = cnnc__module_buffer(m, "running_mean"), *rv = cnnc__module_buffer(m, "running_var");
    cnnc_tensor *w = cnnc__module_param(m, "weight"), *b = cnnc__module_param(m, "bias");
    bool bn_training = m->training ? true : (rm == NULL && rv == NULL);
    bool pass = !m->training || s->track_running_stats;
    bool need_sync = bn_training && m->training && cnnc_dist_is_initialized();
    if (need_sync) {
        int W = 1;
        MPI_Comm_size(cnnc__dist_comm(), &W);
        need_sync = W > 1;
    }
    if (!need_sync)
        return local != CNNC_OK ? NULL
                                : cnnc__op_batch_norm(x, pass ? rm : NULL, pass ? rv : NULL, w, b,
                                                      bn_training, factor, s->eps);
    return sync_forward(local, x, w, b, pass ? rm : NULL, pass ? rv : NULL, s->num_features, factor,
                        s->eps);
}

static const cnnc__module_type syncbn_type = {
    .name = "SyncBatchNorm", .state_size = sizeof(cnnc__normbase_state),
    .fields = cnnc__normbase_fields, .n_fields = CNNC__NORMBASE_N_FIELDS,
    .forward = syncbn_forward, .extra_repr = cnnc__normbase_repr};

cnnc_module *cnnc_syncbatchnorm_new(int64_t num_features, cnnc_batchnorm_options o) {
    return cnnc__normbase_new(&syncbn_type, 0, num_features, o);
}

/* Converts m and its descendants; depth-limited like the other module walks. */
static cnnc_status convert(cnnc_module *m, int depth) {
    if (depth > CNNC__MAX_MODULE_DEPTH) return cnnc__module_depth_error("convert_sync_batchnorm");
    if (cnnc__is_batchnorm_module(m)) {
        m->type = &syncbn_type; /* the same state (_NormBase), parameters and buffers */
        CNNC__STATE(m, cnnc__normbase_state)->spatial = 0;
    }
    for (size_t i = 0; i < m->n_children; i++) {
        cnnc_status st = convert(m->children[i].m, depth + 1);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

cnnc_module *cnnc_convert_sync_batchnorm(cnnc_module *module) {
    CNNC__NONNULL_OR_NULL("convert_sync_batchnorm", module);
    if (convert(module, 0) != CNNC_OK) return NULL;
    return cnnc_module_retain(module);
}
