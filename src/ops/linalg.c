/* matmul (torch.matmul's rank rules and batch broadcasting) and linear. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/gemm_mt.h"
#include "core/parallel.h"
#include "kernels/gemm.h"
#include "ops/ops.h"

/* A' [batch..., m, k] @ B' [batch..., k, n] after promoting 1-d operands. */
typedef struct {
    int nb;
    int64_t batch[CNNC_MAX_DIMS];
    int64_t sa[CNNC_MAX_DIMS], sb[CNNC_MAX_DIMS]; /* batch strides, 0 where broadcast */
    int64_t nbatch, m, n, k;
    bool a_batched, b_batched; /* does the operand have batch dims of its own */
} mm_plan;

static int64_t dim_or1(const cnnc_tensor *t, int d) { return d >= 0 ? t->shape[d] : 1; }

static cnnc_status plan_matmul(const cnnc_tensor *a, const cnnc_tensor *b, mm_plan *p) {
    int da = a->ndim, db = b->ndim;
    if (da == 0 || db == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "both arguments to matmul need to be at least 1D, but they are %dD and "
                           "%dD", da, db);
    memset(p, 0, sizeof *p);
    p->m = da >= 2 ? a->shape[da - 2] : 1;
    int64_t ka = a->shape[da - 1];
    int64_t kb = db >= 2 ? b->shape[db - 2] : b->shape[0];
    p->n = db >= 2 ? b->shape[db - 1] : 1;
    p->k = ka;
    int nba = da > 2 ? da - 2 : 0, nbb = db > 2 ? db - 2 : 0;
    p->a_batched = nba > 0;
    p->b_batched = nbb > 0;
    if (ka != kb) {
        if (da == 1 && db == 1)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "inconsistent tensor size, expected tensor [%lld] and src [%lld] to "
                               "have the same number of elements, but got %lld and %lld elements "
                               "respectively", (long long)ka, (long long)kb, (long long)ka, (long long)kb);
        if (db == 1) {
            int64_t rows = a->numel / (ka ? ka : 1);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "size mismatch, got %lld, %lldx%lld,%lld",
                               (long long)rows, (long long)rows, (long long)ka, (long long)kb);
        }
        if (!p->b_batched) {
            int64_t rows = da >= 2 ? a->numel / (ka ? ka : 1) : 1;
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)",
                               (long long)rows, (long long)ka, (long long)kb, (long long)p->n);
        }
    }
    /* broadcast the batch dims */
    int64_t sh_a[CNNC_MAX_DIMS], sh_b[CNNC_MAX_DIMS];
    for (int i = 0; i < nba; i++) sh_a[i] = a->shape[i];
    for (int i = 0; i < nbb; i++) sh_b[i] = b->shape[i];
    if (cnnc__broadcast_shape(nba, sh_a, nbb, sh_b, &p->nb, p->batch) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    /* products and strides wrap around (unsigned): they overflow only when an operand is
     * empty ([0, 2^62, 3] @ [3, 5]), and then no product is computed from them */
    p->nbatch = cnnc__wrap_prod(p->batch, 0, p->nb);
    if (ka != kb)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Expected size for first two dimensions of batch2 tensor to be: [%lld, "
                           "%lld] but got: [%lld, %lld].",
                           (long long)p->nbatch, (long long)ka, (long long)p->nbatch, (long long)kb);
    int64_t s_a = cnnc__wrap_mul(p->m, p->k), s_b = cnnc__wrap_mul(p->k, p->n);
    for (int i = p->nb - 1; i >= 0; i--) {
        int ia = nba - p->nb + i, ib = nbb - p->nb + i;
        int64_t xa = dim_or1(a, ia), xb = dim_or1(b, ib);
        p->sa[i] = xa == 1 ? 0 : s_a;
        p->sb[i] = xb == 1 ? 0 : s_b;
        s_a = cnnc__wrap_mul(s_a, xa);
        s_b = cnnc__wrap_mul(s_b, xb);
    }
    return CNNC_OK;
}

/* The output shape: batch, then m unless a was 1-d, then n unless b was 1-d. */
static int out_shape(const mm_plan *p, int da, int db, int64_t *shape) {
    int n = 0;
    for (int i = 0; i < p->nb; i++) shape[n++] = p->batch[i];
    if (da >= 2) shape[n++] = p->m;
    if (db >= 2) shape[n++] = p->n;
    return n;
}

static void batch_offsets(const mm_plan *p, int64_t bi, int64_t *oa, int64_t *ob) {
    int64_t a = 0, b = 0;
    for (int i = p->nb - 1; i >= 0; i--) {
        int64_t idx = bi % p->batch[i];
        bi /= p->batch[i];
        a += idx * p->sa[i];
        b += idx * p->sb[i];
    }
    *oa = a;
    *ob = b;
}

/* C_i [r x c] = op(X_i) op(Y_i) for every batch index; X and Y indexed with the
 * plan's strides (x_is_a: X uses sa, else sb; the same for Y). */
typedef struct {
    const mm_plan *p;
    bool tx, ty;
    int64_t r, c, kk, ldx, ldy;
    const float *x, *y;
    bool x_is_a, y_is_a, x_full, y_full; /* full: indexed by batch * size, not by the plan */
    int64_t x_size, y_size;
    float *out;
    float *ws;     /* products in parallel: one GEMM workspace slice per chunk */
    cnnc__isa isa; /* the GEMM's level for the whole call */
} bmm_job;

/* X_bi and Y_bi. */
static void bmm_operands(const bmm_job *j, int64_t bi, const float **x, const float **y) {
    int64_t oa, ob;
    batch_offsets(j->p, bi, &oa, &ob);
    *x = j->x + (j->x_full ? bi * j->x_size : (j->x_is_a ? oa : ob));
    *y = j->y + (j->y_full ? bi * j->y_size : (j->y_is_a ? oa : ob));
}

/* C_bi = op(X_bi) op(Y_bi) on a single thread with workspace ws. */
static void bmm_one(const bmm_job *j, int64_t bi, float *ws) {
    const float *x, *y;
    bmm_operands(j, bi, &x, &y);
    cnnc__sgemm_st(j->isa, j->tx, j->ty, j->r, j->c, j->kk, x, j->ldx, y, j->ldy, 0.0f,
                   j->out + bi * j->r * j->c, j->c, ws);
}

static cnnc_status bmm_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const bmm_job *j = ctx;
    float *ws = j->ws + (size_t)chunk * cnnc__sgemm_workspace_floats(j->isa);
    for (int64_t bi = begin; bi < end; bi++) bmm_one(j, bi, ws);
    return CNNC_OK;
}

/* The products run in parallel (each single-threaded, on the calling thread's
 * workspace sliced by chunk) when that uses at least as many threads as threading
 * each product's GEMM would; otherwise one after the other on every thread. */
static cnnc_status run_bmm(bmm_job *j) {
    int64_t nbatch = j->p->nbatch;
    if (nbatch == 0 || j->r == 0 || j->c == 0) return CNNC_OK; /* then r * c fits: the output's numel */
    if (j->kk == 0) {
        memset(j->out, 0, (size_t)(nbatch * j->r * j->c) * sizeof(float));
        return CNNC_OK;
    }
    const int threads = cnnc__parallel_threads();
    const double macs = (double)j->r * (double)j->c * (double)j->kk;
    const cnnc__par plan = cnnc__par_plan(nbatch, (cnnc__cost){.flops = 2.0 * macs}, threads);
    if (plan.chunks > 1 && plan.chunks >= cnnc__sgemm_chunks(j->isa, j->r, j->c, j->kk, threads)) {
        j->ws = cnnc__workspace((size_t)plan.chunks * cnnc__sgemm_workspace_floats(j->isa) *
                                sizeof(float));
        if (!j->ws) return cnnc_last_status();
        return cnnc__par_run(plan, bmm_range, j);
    }
    for (int64_t bi = 0; bi < nbatch; bi++) {
        const float *x, *y;
        bmm_operands(j, bi, &x, &y);
        cnnc_status st = cnnc__sgemm(j->isa, j->tx, j->ty, j->r, j->c, j->kk, x, j->ldx, y,
                                     j->ldy, 0.0f, j->out + bi * j->r * j->c, j->c);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

static cnnc_tensor *matmul_forward(const cnnc_tensor *a, const cnnc_tensor *b, const mm_plan *p) {
    int64_t shape[CNNC_MAX_DIMS];
    int nd = out_shape(p, a->ndim, b->ndim, shape);
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, nd, shape);
    if (!out) return NULL;
    bmm_job j = {p, false, false, p->m, p->n, p->k, p->k, p->n, cnnc__f32(a), cnnc__f32(b),
                 true, false, false, false, 0, 0, cnnc__f32(out), NULL, cnnc__isa_active()};
    if (!p->b_batched) { /* fold A's batch into rows: one GEMM */
        mm_plan flat = *p;
        flat.nb = 0;
        flat.nbatch = 1;
        j.p = &flat;
        j.r = cnnc__wrap_mul(p->m, p->nbatch);
        if (run_bmm(&j) != CNNC_OK) goto fail;
        return out;
    }
    if (run_bmm(&j) != CNNC_OK) goto fail;
    return out;
fail:
    cnnc_tensor_release(out);
    return NULL;
}

/* full-batch gradient [batch..., r, c] summed down to the operand and reshaped */
static cnnc_tensor *reduce_grad(cnnc_tensor *full, const mm_plan *p, const cnnc_tensor *like,
                                bool is_a) {
    int64_t shape[CNNC_MAX_DIMS];
    int nd = 0, nb_own = like->ndim > 2 ? like->ndim - 2 : 0;
    for (int i = 0; i < nb_own; i++) shape[nd++] = like->shape[i];
    shape[nd++] = is_a ? p->m : p->k;
    shape[nd++] = is_a ? p->k : p->n;
    cnnc_tensor *s = cnnc__sum_to(full, nd, shape);
    if (!s) return NULL;
    cnnc_tensor *r = cnnc__tensor_alias(s, like->ndim, like->shape);
    cnnc_tensor_release(s);
    return r;
}

static cnnc_status matmul_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    cnnc_tensor *a = n->saved[0], *b = n->saved[1];
    mm_plan p;
    if (plan_matmul(a, b, &p) != CNNC_OK) return cnnc_last_status();
    const float *gd = cnnc__f32(g);
    const cnnc__isa isa = cnnc__isa_active();
    int64_t bs[CNNC_MAX_DIMS + 2];
    int nd = 0;
    for (int i = 0; i < p.nb; i++) bs[nd++] = p.batch[i];
    if (cnnc__node_needs_grad(n, 0)) { /* dA_i = G_i B_i^T : [m, k] */
        bs[nd] = p.m;
        bs[nd + 1] = p.k;
        cnnc_tensor *full = cnnc__tensor_new(CNNC_FLOAT32, nd + 2, bs);
        if (!full) return cnnc_last_status();
        bmm_job j = {&p, false, true, p.m, p.k, p.n, p.n, p.n, gd, cnnc__f32(b),
                     false, false, true, false, cnnc__wrap_mul(p.m, p.n), 0, cnnc__f32(full), NULL, isa};
        mm_plan flat = p;
        if (!p.b_batched) { /* one GEMM over all rows of G */
            flat.nb = 0;
            flat.nbatch = 1;
            j.p = &flat;
            j.r = cnnc__wrap_mul(p.m, p.nbatch);
        }
        cnnc_status st = run_bmm(&j);
        gi[0] = st == CNNC_OK ? reduce_grad(full, &p, a, true) : NULL;
        cnnc_tensor_release(full);
        if (!gi[0]) return cnnc_last_status();
    }
    if (cnnc__node_needs_grad(n, 1)) { /* dB_i = A_i^T G_i : [k, n] */
        cnnc_tensor *full;
        if (!p.b_batched) { /* sum over the batch inside one GEMM: [k, batch*m] x [batch*m, n] */
            int64_t ks[2] = {p.k, p.n};
            full = cnnc__tensor_new(CNNC_FLOAT32, 2, ks);
            if (!full) return cnnc_last_status();
            mm_plan flat = p;
            flat.nb = 0;
            flat.nbatch = 1;
            bmm_job j = {&flat, true, false, p.k, p.n, cnnc__wrap_mul(p.m, p.nbatch), p.k, p.n, cnnc__f32(a), gd,
                         true, false, false, true, 0, 0, cnnc__f32(full), NULL, isa};
            /* B has no batch dims, so every batch dim is A's own: A' is [batch*m, k] */
            if (run_bmm(&j) != CNNC_OK) {
                cnnc_tensor_release(full);
                return cnnc_last_status();
            }
        } else {
            bs[nd] = p.k;
            bs[nd + 1] = p.n;
            full = cnnc__tensor_new(CNNC_FLOAT32, nd + 2, bs);
            if (!full) return cnnc_last_status();
            bmm_job j = {&p, true, false, p.k, p.n, p.m, p.k, p.n, cnnc__f32(a), gd,
                         true, false, false, true, 0, cnnc__wrap_mul(p.m, p.n), cnnc__f32(full), NULL, isa};
            if (run_bmm(&j) != CNNC_OK) {
                cnnc_tensor_release(full);
                return cnnc_last_status();
            }
        }
        gi[1] = reduce_grad(full, &p, b, false);
        cnnc_tensor_release(full);
        if (!gi[1]) return cnnc_last_status();
    }
    return CNNC_OK;
}

static const char *matmul_node_name(int da, int db) {
    if (da == 1 && db == 1) return "DotBackward0";
    if (da == 2 && db == 1) return "MvBackward0";
    if (da <= 2 && db == 2) return "MmBackward0";
    return "BmmBackward0";
}

cnnc_tensor *cnnc__op_matmul(cnnc_tensor *a, cnnc_tensor *b) {
    if (cnnc__check_tensor("matmul", "input", a, true) != CNNC_OK ||
        cnnc__check_tensor("matmul", "other", b, true) != CNNC_OK)
        return NULL;
    mm_plan p;
    if (plan_matmul(a, b, &p) != CNNC_OK) return NULL;
    cnnc_tensor *out = matmul_forward(a, b, &p);
    if (out && cnnc__record(out, matmul_node_name(a->ndim, b->ndim), matmul_backward, 2,
                            (cnnc_tensor *[]){a, b}, 2, (cnnc_tensor *[]){a, b}, 0, NULL) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

/* ---- linear ---------------------------------------------------------------- */

static cnnc_status linear_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    cnnc_tensor *x = n->saved[0], *w = n->saved[1];
    int64_t out_f = w->shape[0], in_f = w->shape[1];
    int64_t rows = out_f ? g->numel / out_f : (in_f ? x->numel / in_f : 0);
    const cnnc__isa isa = cnnc__isa_active();
    if (cnnc__node_needs_grad(n, 0)) { /* dx [rows, in] = G [rows, out] W [out, in] */
        gi[0] = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
        if (!gi[0]) return cnnc_last_status();
        if (gi[0]->numel && cnnc__sgemm(isa, false, false, rows, in_f, out_f, cnnc__f32(g), out_f,
                                        cnnc__f32(w), in_f, 0.0f, cnnc__f32(gi[0]), in_f) != 0)
            return cnnc_last_status();
    }
    if (cnnc__node_needs_grad(n, 1)) { /* dW [out, in] = G^T [out, rows] X [rows, in] */
        gi[1] = cnnc__tensor_new(CNNC_FLOAT32, 2, w->shape);
        if (!gi[1]) return cnnc_last_status();
        if (gi[1]->numel && cnnc__sgemm(isa, true, false, out_f, in_f, rows, cnnc__f32(g), out_f,
                                        cnnc__f32(x), in_f, 0.0f, cnnc__f32(gi[1]), in_f) != 0)
            return cnnc_last_status();
    }
    if (n->n_inputs > 2 && cnnc__node_needs_grad(n, 2)) {
        cnnc_tensor *bias = n->saved[2];
        gi[2] = cnnc__sum_to(g, bias->ndim, bias->shape);
        if (!gi[2]) return cnnc_last_status();
    }
    return CNNC_OK;
}

cnnc_tensor *cnnc__op_linear(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *bias) {
    if (cnnc__check_tensor("linear", "input", x, true) != CNNC_OK ||
        cnnc__check_tensor("linear", "weight", w, true) != CNNC_OK ||
        (bias && cnnc__check_tensor("linear", "bias", bias, true) != CNNC_OK))
        return NULL;
    if (w->ndim > 2)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "t() expects a tensor with <= 2 dimensions, but self is %dD", w->ndim);
    if (w->ndim < 2 || x->ndim == 0) { /* torch: input.matmul(weight.t()) + bias */
        cnnc_tensor *wt = w->ndim == 2 ? cnnc__op_transpose(w, 0, 1) : cnnc_tensor_retain(w);
        cnnc_tensor *y = wt ? cnnc__op_matmul(x, wt) : NULL;
        cnnc_tensor_release(wt);
        if (!y || !bias) return y;
        cnnc_tensor *r = cnnc__op_add(y, bias);
        cnnc_tensor_release(y);
        return r;
    }
    int64_t out_f = w->shape[0], in_f = w->shape[1], xin = x->shape[x->ndim - 1];
    int64_t rows = xin ? x->numel / xin : 1;
    for (int d = 0; d < x->ndim - 1 && !xin; d++) rows *= x->shape[d];
    if (xin != in_f)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld)",
                                (long long)rows, (long long)xin, (long long)in_f, (long long)out_f);
    int64_t shape[CNNC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out_f;
    cnnc_tensor *out;
    float beta = 0.0f;
    if (bias) { /* out starts as the bias broadcast to the output, then += x W^T */
        int nb;
        int64_t bshape[CNNC_MAX_DIMS];
        if (cnnc__broadcast_shape(x->ndim, shape, bias->ndim, bias->shape, &nb, bshape) != CNNC_OK ||
            nb != x->ndim || memcmp(bshape, shape, (size_t)nb * sizeof(int64_t)) != 0) {
            char t[256], s[256];
            cnnc__shape_str(t, sizeof t, x->ndim, shape);
            cnnc__shape_str(s, sizeof s, bias->ndim, bias->shape);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "The expanded size of the tensor (%lld) must match the existing "
                                    "size (%lld) at non-singleton dimension %d.  Target sizes: %s.  "
                                    "Tensor sizes: %s",
                                    (long long)out_f, (long long)bias->shape[bias->ndim - 1],
                                    x->ndim - 1, t, s);
        }
        out = cnnc__expand(bias, x->ndim, shape);
        beta = 1.0f;
    } else {
        out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, shape);
    }
    if (!out) return NULL;
    if (out->numel) {
        if (in_f == 0) {
            if (!bias) memset(cnnc__f32(out), 0, (size_t)out->numel * sizeof(float));
        } else if (cnnc__sgemm(cnnc__isa_active(), false, true, rows, out_f, in_f, cnnc__f32(x),
                               in_f, cnnc__f32(w), in_f, beta, cnnc__f32(out), out_f) != 0) {
            cnnc_tensor_release(out);
            return NULL;
        }
    }
    cnnc_tensor *inputs[3] = {x, w, bias};
    if (cnnc__record(out, bias ? "AddmmBackward0" : "MmBackward0", linear_backward, bias ? 3 : 2,
                     inputs, bias ? 3 : 2, inputs, 0, NULL) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

cnnc_tensor *cnnc_matmul(cnnc_tensor *a, cnnc_tensor *b) { return cnnc__give(cnnc__op_matmul(a, b)); }
cnnc_tensor *cnnc_linear(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b) {
    return cnnc__give(cnnc__op_linear(x, w, b));
}
