/* add, sub, mul, div with PyTorch's broadcasting; tensor-scalar forms; neg. */
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "ops/ops.h"

cnnc_status cnnc__broadcast_shape(int na, const int64_t *sa, int nb, const int64_t *sb,
                                  int *nout, int64_t *out) {
    int n = na > nb ? na : nb;
    for (int i = n - 1; i >= 0; i--) { /* from the right, so the error names PyTorch's dim */
        int ia = na - n + i, ib = nb - n + i;
        int64_t x = ia >= 0 ? sa[ia] : 1, y = ib >= 0 ? sb[ib] : 1;
        if (x != y && x != 1 && y != 1)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "The size of tensor a (%lld) must match the size of tensor b "
                               "(%lld) at non-singleton dimension %d",
                               (long long)x, (long long)y, i);
        out[i] = x == 1 ? y : x;
    }
    *nout = n;
    return CNNC_OK;
}

/* Iteration for operands (n of them, 1 or 2) broadcast to out shape, coalesced. */
static void make_bcast(cnnc__bcast *it, int nout, const int64_t *out, int nops,
                       const cnnc_tensor *const *ops) {
    memset(it, 0, sizeof *it); /* unused operand strides stay 0 */
    int64_t stride[2][CNNC_MAX_DIMS];
    for (int k = 0; k < nops; k++) {
        int64_t s = 1;
        for (int d = nout - 1; d >= 0; d--) {
            int od = ops[k]->ndim - nout + d;
            int64_t size = od >= 0 ? ops[k]->shape[od] : 1;
            stride[k][d] = size == 1 ? 0 : s;
            s *= size;
        }
    }
    it->ndim = 0;
    for (int d = 0; d < nout; d++) {
        if (out[d] == 1) continue; /* size-1 dims carry nothing */
        int m = it->ndim;
        bool merge = m > 0;
        for (int k = 0; k < nops && merge; k++)
            merge = it->stride[k][m - 1] == stride[k][d] * out[d];
        if (merge) {
            it->shape[m - 1] *= out[d];
            for (int k = 0; k < nops; k++) it->stride[k][m - 1] = stride[k][d];
        } else {
            it->shape[m] = out[d];
            for (int k = 0; k < nops; k++) it->stride[k][m] = stride[k][d];
            it->ndim++;
        }
    }
    if (it->ndim == 0) {
        it->ndim = 1;
        it->shape[0] = 1;
        it->stride[0][0] = it->stride[1][0] = 0;
    }
}

/* The cost of an output element for the parallel regions: a flop, `reads` floats
 * read and one written. */
static cnnc__cost elem_cost(int reads) {
    return (cnnc__cost){.flops = 1.0, .bytes = 4.0 * (double)(reads + 1)};
}

typedef struct {
    cnnc__binop op;
    float *out;
    const float *a, *b;
    const cnnc__bcast *it;
} binary_job;

static cnnc_status binary_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    binary_job *j = ctx;
    cnnc__k_binary(j->op, j->out, j->a, j->b, j->it, begin, end);
    return CNNC_OK;
}

static cnnc_status expand_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    binary_job *j = ctx;
    cnnc__k_expand(j->out, j->a, j->it, begin, end);
    return CNNC_OK;
}

cnnc_status cnnc__copy_strided(cnnc_tensor *out, const cnnc_tensor *a, const cnnc__bcast *it) {
    if (out->numel == 0) return CNNC_OK;
    binary_job j = {CNNC__BINOP_ADD, cnnc__f32(out), cnnc__f32(a), NULL, it};
    return cnnc__parallel_for(out->numel, elem_cost(1), expand_range, &j);
}

cnnc_tensor *cnnc__expand(cnnc_tensor *a, int ndim, const int64_t *shape) {
    cnnc_tensor *out = cnnc__tensor_new(a->dtype, ndim, shape);
    if (!out || out->numel == 0) return out;
    cnnc__bcast it;
    make_bcast(&it, ndim, shape, 1, (const cnnc_tensor *const[]){a});
    binary_job j = {CNNC__BINOP_ADD, cnnc__f32(out), cnnc__f32(a), NULL, &it};
    if (cnnc__parallel_for(out->numel, elem_cost(1), expand_range, &j) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

static cnnc_tensor *binary_forward(cnnc__binop op, cnnc_tensor *a, cnnc_tensor *b) {
    int n;
    int64_t shape[CNNC_MAX_DIMS];
    if (cnnc__broadcast_shape(a->ndim, a->shape, b->ndim, b->shape, &n, shape) != CNNC_OK)
        return NULL;
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, n, shape);
    if (!out || out->numel == 0) return out;
    cnnc__bcast it;
    make_bcast(&it, n, shape, 2, (const cnnc_tensor *const[]){a, b});
    binary_job j = {op, cnnc__f32(out), cnnc__f32(a), cnnc__f32(b), &it};
    if (cnnc__parallel_for(out->numel, elem_cost(2), binary_range, &j) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

/* ---- backward ------------------------------------------------------------ */

static cnnc_status finish(cnnc_tensor **slot, cnnc_tensor *full, const cnnc_tensor *like) {
    if (!full) return cnnc_last_status();
    *slot = cnnc__sum_to(full, like->ndim, like->shape);
    cnnc_tensor_release(full);
    return *slot ? CNNC_OK : cnnc_last_status();
}

typedef struct {
    int a_ndim, b_ndim;
    int64_t a_shape[CNNC_MAX_DIMS], b_shape[CNNC_MAX_DIMS];
} binary_ctx;

static cnnc_status add_sub_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi, bool sub) {
    binary_ctx *c = n->ctx;
    cnnc_tensor a_like = {.ndim = c->a_ndim}, b_like = {.ndim = c->b_ndim};
    memcpy(a_like.shape, c->a_shape, sizeof c->a_shape);
    memcpy(b_like.shape, c->b_shape, sizeof c->b_shape);
    cnnc_status st = CNNC_OK;
    if (cnnc__node_needs_grad(n, 0)) st = finish(&gi[0], cnnc_tensor_retain(g), &a_like);
    if (st == CNNC_OK && cnnc__node_needs_grad(n, 1))
        st = finish(&gi[1], sub ? cnnc__op_affine(g, -1.0, 0.0) : cnnc_tensor_retain(g), &b_like);
    return st;
}
static cnnc_status add_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    return add_sub_backward(n, g, gi, false);
}
static cnnc_status sub_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    return add_sub_backward(n, g, gi, true);
}

static cnnc_status mul_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    cnnc_tensor *a = n->saved[0], *b = n->saved[1];
    cnnc_status st = CNNC_OK;
    if (cnnc__node_needs_grad(n, 0)) st = finish(&gi[0], binary_forward(CNNC__BINOP_MUL, g, b), a);
    if (st == CNNC_OK && cnnc__node_needs_grad(n, 1))
        st = finish(&gi[1], binary_forward(CNNC__BINOP_MUL, g, a), b);
    return st;
}

static cnnc_status div_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    cnnc_tensor *a = n->saved[0], *b = n->saved[1];
    cnnc_status st = CNNC_OK;
    if (cnnc__node_needs_grad(n, 0)) st = finish(&gi[0], binary_forward(CNNC__BINOP_DIV, g, b), a);
    if (st == CNNC_OK && cnnc__node_needs_grad(n, 1)) {
        /* -g * ((a / b) / b), PyTorch's order of operations */
        cnnc_tensor *q = binary_forward(CNNC__BINOP_DIV, a, b), *q2 = NULL, *p = NULL, *r = NULL;
        if (q) q2 = binary_forward(CNNC__BINOP_DIV, q, b);
        if (q2) p = binary_forward(CNNC__BINOP_MUL, g, q2);
        if (p) r = cnnc__op_affine(p, -1.0, 0.0);
        cnnc_tensor_release(q);
        cnnc_tensor_release(q2);
        cnnc_tensor_release(p);
        st = finish(&gi[1], r, b);
    }
    return st;
}

static const struct {
    const char *fn, *node;
    cnnc__backward_fn backward;
} binops[] = {
    [CNNC__BINOP_ADD] = {"add", "AddBackward0", add_backward},
    [CNNC__BINOP_SUB] = {"sub", "SubBackward0", sub_backward},
    [CNNC__BINOP_MUL] = {"mul", "MulBackward0", mul_backward},
    [CNNC__BINOP_DIV] = {"div", "DivBackward0", div_backward},
};
_Static_assert(sizeof binops / sizeof binops[0] == CNNC__BINOP_COUNT, "one entry per binop");

cnnc_tensor *cnnc__op_binary(cnnc__binop op, cnnc_tensor *a, cnnc_tensor *b) {
    if (cnnc__check_tensor(binops[op].fn, "input", a, true) != CNNC_OK ||
        cnnc__check_tensor(binops[op].fn, "other", b, true) != CNNC_OK)
        return NULL;
    cnnc_tensor *out = binary_forward(op, a, b);
    if (!out) return NULL;
    bool saves = op == CNNC__BINOP_MUL || op == CNNC__BINOP_DIV;
    binary_ctx *c;
    if (cnnc__record(out, binops[op].node, binops[op].backward, 2, (cnnc_tensor *[]){a, b},
                     saves ? 2 : 0, (cnnc_tensor *[]){a, b}, sizeof(binary_ctx),
                     (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) {
        c->a_ndim = a->ndim;
        c->b_ndim = b->ndim;
        memcpy(c->a_shape, a->shape, sizeof a->shape);
        memcpy(c->b_shape, b->shape, sizeof b->shape);
    }
    return out;
}

cnnc_tensor *cnnc__op_add(cnnc_tensor *a, cnnc_tensor *b) {
    return cnnc__op_binary(CNNC__BINOP_ADD, a, b);
}

/* ---- a * alpha + beta ---------------------------------------------------- */

typedef struct {
    float alpha;
} affine_ctx;

static cnnc_status affine_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    affine_ctx *c = n->ctx;
    gi[0] = c->alpha == 1.0f ? cnnc_tensor_retain(g) : cnnc__op_affine(g, c->alpha, 0.0);
    return gi[0] ? CNNC_OK : cnnc_last_status();
}

typedef struct {
    float *out;
    const float *a;
    float alpha, beta;
} affine_job;

static cnnc_status affine_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    affine_job *j = ctx;
    cnnc__k_affine(j->out + begin, j->a + begin, end - begin, j->alpha, j->beta);
    return CNNC_OK;
}

cnnc_tensor *cnnc__op_affine(cnnc_tensor *a, double alpha, double beta) {
    if (cnnc__check_tensor("mul", "input", a, true) != CNNC_OK) return NULL;
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, a->ndim, a->shape);
    if (!out) return NULL;
    affine_job j = {cnnc__f32(out), cnnc__f32(a), (float)alpha, (float)beta};
    /* PyTorch 1.13 names a tensor-scalar add/mul like the tensor-tensor one */
    const char *name = alpha == 1.0 ? "AddBackward0"
                       : beta != 0.0 ? "AffineBackward0"
                       : alpha == -1.0 ? "NegBackward0" : "MulBackward0";
    /* PyTorch's MulBackward0 saves the scalar operand, so a second backward through
     * x * s fails once the graph is freed; an empty saved slot marks that here. */
    bool saves_scalar = beta == 0.0 && alpha != 1.0 && alpha != -1.0;
    affine_ctx *c;
    if (cnnc__parallel_for(a->numel, elem_cost(1), affine_range, &j) != CNNC_OK ||
        cnnc__record(out, name, affine_backward, 1, &a, saves_scalar ? 1 : 0,
                     (cnnc_tensor *[]){NULL}, sizeof *c, (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) c->alpha = (float)alpha;
    return out;
}

/* ---- public -------------------------------------------------------------- */

cnnc_tensor *cnnc_add(cnnc_tensor *a, cnnc_tensor *b) {
    return cnnc__give(cnnc__op_binary(CNNC__BINOP_ADD, a, b));
}
cnnc_tensor *cnnc_sub(cnnc_tensor *a, cnnc_tensor *b) {
    return cnnc__give(cnnc__op_binary(CNNC__BINOP_SUB, a, b));
}
cnnc_tensor *cnnc_mul(cnnc_tensor *a, cnnc_tensor *b) {
    return cnnc__give(cnnc__op_binary(CNNC__BINOP_MUL, a, b));
}
cnnc_tensor *cnnc_div(cnnc_tensor *a, cnnc_tensor *b) {
    return cnnc__give(cnnc__op_binary(CNNC__BINOP_DIV, a, b));
}
cnnc_tensor *cnnc_neg(cnnc_tensor *a) { return cnnc__give(cnnc__op_affine(a, -1.0, 0.0)); }
cnnc_tensor *cnnc_add_scalar(cnnc_tensor *a, double s) {
    return cnnc__give(cnnc__op_affine(a, 1.0, s));
}
cnnc_tensor *cnnc_mul_scalar(cnnc_tensor *a, double s) {
    return cnnc__give(cnnc__op_affine(a, s, 0.0));
}
