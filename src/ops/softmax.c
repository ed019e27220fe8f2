/* softmax and log_softmax over one dim, with PyTorch's legacy implicit dim. */
#include "core/args.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/activation.h"
#include "ops/activation.h"

/* x viewed as [outer, size, inner] around the softmax dim. Work items: outer rows
 * (inner == 1) or (outer row, block of SM_COLS inner columns) pairs. */
#define SM_COLS 512

typedef struct {
    cnnc__isa isa; /* the kernels' level for the whole call */
    bool log;
    float *out;
    const float *a, *b;
    int64_t outer, size, inner, blocks;
} softmax_job;

typedef struct {
    int64_t outer, size, inner;
    bool log;
} softmax_ctx;

static cnnc_status softmax_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    softmax_job *j = ctx;
    if (j->blocks == 1) { /* whole rows: items are outer rows, one call for the range */
        if (j->b)
            cnnc__k_softmax_backward(j->isa, j->log, j->out, j->a, j->b, j->size, j->inner, begin,
                                     end, 0, j->inner);
        else
            cnnc__k_softmax(j->isa, j->log, j->out, j->a, j->size, j->inner, begin, end, 0,
                            j->inner);
        return CNNC_OK;
    }
    for (int64_t t = begin; t < end; t++) {
        int64_t o = t / j->blocks, c0 = (t % j->blocks) * SM_COLS;
        int64_t c1 = c0 + SM_COLS < j->inner ? c0 + SM_COLS : j->inner;
        if (j->b)
            cnnc__k_softmax_backward(j->isa, j->log, j->out, j->a, j->b, j->size, j->inner, o,
                                     o + 1, c0, c1);
        else
            cnnc__k_softmax(j->isa, j->log, j->out, j->a, j->size, j->inner, o, o + 1, c0, c1);
    }
    return CNNC_OK;
}

static cnnc_status softmax_run(softmax_job *j) {
    j->blocks = (j->inner + SM_COLS - 1) / SM_COLS;
    int64_t items = j->outer * j->blocks;
    /* an item: size x (up to SM_COLS) values, an exp and a few flops each, read twice
     * and written once */
    const double values = (double)(j->size * (j->inner < SM_COLS ? j->inner : SM_COLS));
    if (items <= 0 || j->size <= 0) return CNNC_OK;
    return cnnc__parallel_for(items, (cnnc__cost){.flops = 16.0 * values, .bytes = 12.0 * values},
                              softmax_range, j);
}

static cnnc_status softmax_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    const softmax_ctx *c = n->ctx;
    cnnc_tensor *y = n->saved[0];
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, y->ndim, y->shape);
    if (!gi[0]) return cnnc_last_status();
    if (y->numel == 0) return CNNC_OK;
    softmax_job j = {cnnc__isa_active(), c->log,   cnnc__f32(gi[0]), cnnc__f32(g), cnnc__f32(y),
                     c->outer,           c->size,  c->inner,         0};
    return softmax_run(&j);
}

static cnnc_tensor *softmax_op(const char *fn, bool log, cnnc_tensor *x, cnnc_softmax_options o) {
    if (cnnc__check_tensor(fn, "input", x, true) != CNNC_OK) return NULL;
    int n = x->ndim > 0 ? x->ndim : 1, d;
    if (cnnc__ints_is_none(&o.dim)) {
        d = (x->ndim == 0 || x->ndim == 1 || x->ndim == 3) ? 0 : 1; /* PyTorch's implicit dim */
    } else if (cnnc__ints_is_int(&o.dim)) {
        int64_t v = o.dim.v[0];
        if (v < -n || v >= n)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Dimension out of range (expected to be in range of [%d, %d], "
                                    "but got %lld)",
                                    -n, n - 1, (long long)v);
        d = (int)(v < 0 ? v + n : v);
    } else {
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): argument 'dim' must be an int or None, not a tuple of %d",
                                fn, o.dim.n < 0 ? 0 : o.dim.n);
    }
    softmax_ctx c = {1, 1, 1, log};
    if (x->ndim > 0) {
        /* wrapped products: they overflow only for an empty x, which never runs them */
        c.outer = cnnc__wrap_prod(x->shape, 0, d);
        c.size = x->shape[d];
        c.inner = cnnc__wrap_prod(x->shape, d + 1, x->ndim);
    }
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    if (!out) return NULL;
    if (x->numel > 0) {
        softmax_job j = {cnnc__isa_active(), log,    cnnc__f32(out), cnnc__f32(x), NULL,
                         c.outer,            c.size, c.inner,        0};
        if (softmax_run(&j) != CNNC_OK) {
            cnnc_tensor_release(out);
            return NULL;
        }
    }
    softmax_ctx *ctx = NULL;
    if (cnnc__record(out, log ? "LogSoftmaxBackward0" : "SoftmaxBackward0", softmax_backward, 1,
                     &x, 1, &out, sizeof(softmax_ctx), (void **)&ctx) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (ctx) *ctx = c;
    return out;
}

cnnc_tensor *cnnc__op_softmax(cnnc_tensor *x, cnnc_softmax_options o) {
    return softmax_op("softmax", false, x, o);
}
cnnc_tensor *cnnc__op_log_softmax(cnnc_tensor *x, cnnc_softmax_options o) {
    return softmax_op("log_softmax", true, x, o);
}

cnnc_tensor *cnnc_softmax(cnnc_tensor *x, cnnc_softmax_options o) {
    return cnnc__give(cnnc__op_softmax(x, o));
}
cnnc_tensor *cnnc_log_softmax(cnnc_tensor *x, cnnc_softmax_options o) {
    return cnnc__give(cnnc__op_log_softmax(x, o));
}
