/* Adaptive pooling: F.adaptive_avg_pool{1,2,3}d and F.adaptive_max_pool{1,2,3}d,
 * with PyTorch 1.13's argument rules (the Python side's _list_with_default for 2-d
 * and 3-d, then the C++ op's checks) and messages. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/pool_internal.h"

typedef struct {
    cnnc__window g;
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
    int knsp;  /* PyTorch's backward kernel (2 or 3) that refuses empty gradients; 0: none */
    bool one_d; /* 1-d: PyTorch's message shows the gradient with a unit dim inserted */
} adaptive_ctx;

static cnnc_status aavg_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    if (!cnnc__k_adaptive_avg_global(j->out, j->x, j->g, b, e) &&
        !cnnc__k_adaptive_avg_tab(j->out, j->x, j->g, b, e))
        cnnc__k_adaptive_avg_ref(j->out, j->x, j->g, b, e);
    return CNNC_OK;
}
static cnnc_status aavg_back_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    cnnc__k_adaptive_avg_backward_ref(j->out, j->gy, j->g, b, e);
    return CNNC_OK;
}
/* An adaptive 2-d window whose input sizes are multiples of the output's is plain
 * max pooling with kernel = stride = in / out (same windows, same scan and rule). */
static cnnc_status amax_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    const cnnc__window *g = j->g;
    if (g->in[0] == 1 && g->out[0] == 1 && g->out[1] > 0 && g->out[2] > 0 &&
        g->in[1] % g->out[1] == 0 && g->in[2] % g->out[2] == 0) {
        cnnc__window w = *g;
        for (int i = 0; i < 3; i++) {
            w.k[i] = w.stride[i] = g->in[i] / g->out[i];
            w.pad[i] = 0;
            w.dil[i] = 1;
        }
        if (cnnc__k_max_pool2d_fast(j->isa, j->out, j->idx, j->x, &w, b, e)) return CNNC_OK;
    }
    cnnc__k_adaptive_max_ref(j->out, j->idx, j->x, j->g, b, e);
    return CNNC_OK;
}

/* "Expected <what> to have non-zero size for non-batch dimensions" from dim `from` on. */
static cnnc_status nonzero_dims(const char *fn, const char *what, int ndim, const int64_t *shape,
                                int from) {
    for (int i = from; i < ndim; i++)
        if (shape[i] <= 0) {
            char sh[256];
            cnnc__shape_str(sh, sizeof sh, ndim, shape);
            return POOL_ERR("%s(): Expected %s to have non-zero size for non-batch dimensions, but %s "
                            "has sizes %s with dimension %d being empty", fn, what, what, sh, i);
        }
    return CNNC_OK;
}

static cnnc_status aavg_backward(cnnc__node *n, cnnc_tensor *gy, cnnc_tensor **gi) {
    adaptive_ctx *c = n->ctx;
    if (c->knsp) { /* adaptive_avg_pool{2,3}d_backward refuses empty non-batch dims */
        int64_t shape[CNNC_MAX_DIMS + 1];
        int ndim = gy->ndim;
        memcpy(shape, gy->shape, sizeof(int64_t) * (size_t)ndim);
        if (c->one_d) ndim = cnnc__pool_unsqueeze(gy, shape);
        char fn[40];
        snprintf(fn, sizeof fn, "adaptive_avg_pool%dd_backward", c->knsp);
        if (nonzero_dims(fn, "grad_output", ndim, shape, 1) != CNNC_OK)
            return CNNC_ERR_INVALID_ARGUMENT;
    }
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    cnnc__pool_job j = {.out = cnnc__f32(gi[0]), .gy = cnnc__f32(gy), .g = &c->g};
    if (gi[0]->numel)
        cnnc__parallel_for(c->g.n, cnnc__pool_cost(cnnc__window_in_size(&c->g)), aavg_back_range, &j);
    return CNNC_OK;
}

/* The computation once the output size is known: the last nsp dims of x pooled to
 * out[0..nsp). No shape checks beyond rank >= nsp. */
static cnnc_tensor *adaptive_avg_run(cnnc_tensor *x, int nsp, const int64_t *out, const char *name,
                                     int knsp) {
    int64_t oshape[CNNC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) oshape[x->ndim - nsp + i] = out[i];
    cnnc__window g;
    cnnc__pool_sizes_window(&g, x->ndim, x->shape, nsp, out);
    cnnc_tensor *y = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, oshape);
    if (!y) return NULL;
    if (y->numel && cnnc__window_in_size(&g) == 0) { /* mean of nothing, as torch.mean */
        float *yd = cnnc__f32(y);
        for (int64_t i = 0; i < y->numel; i++) yd[i] = NAN;
    } else if (y->numel) {
        cnnc__pool_job j = {.out = cnnc__f32(y), .x = cnnc__f32(x), .g = &g};
        cnnc__parallel_for(g.n, cnnc__pool_cost(cnnc__window_in_size(&g)), aavg_range, &j);
    }
    void *vctx = NULL;
    if (cnnc__record(y, name, aavg_backward, 1, &x, 0, NULL, sizeof(adaptive_ctx), &vctx) != CNNC_OK) {
        cnnc_tensor_release(y);
        return NULL;
    }
    if (vctx) {
        adaptive_ctx *c = vctx;
        c->g = g;
        c->one_d = nsp == 1;
        c->knsp = knsp;
        c->in_ndim = x->ndim;
        memcpy(c->in_shape, x->shape, sizeof c->in_shape);
    }
    return y;
}

/* output_size of a 2-d / 3-d op: PyTorch's _list_with_default (a tuple needs more
 * input dims than entries; its None entries, CNNC_POOL_KEEP, take the input's
 * size), then the op's int[nsp] parameter, which must hold nsp values (max: the
 * wording of adaptive max pooling). */
static cnnc_status output_size_nd(const char *fn, const cnnc_tensor *x, int nsp,
                                  const cnnc_ints *os, bool max, int64_t *out) {
    int64_t list[CNNC_MAX_DIMS];
    int n = cnnc__int_list(os, nsp, list);
    if (cnnc__ints_is_int(os) && os->v[0] == CNNC_POOL_KEEP)
        return POOL_ERR("%s(): output_size None (CNNC_POOL_KEEP) is only accepted as an entry of a "
                        "tuple", fn);
    if (cnnc__ints_is_tuple(os)) {
        if (x->ndim <= n) return POOL_ERR("Input dimension should be at least %d", n + 1);
        for (int i = 0; i < n; i++)
            if (list[i] == CNNC_POOL_KEEP) list[i] = x->shape[x->ndim - n + i];
    }
    if (n != nsp && max)
        return POOL_ERR("adaptive_max_pool%dd(): internal error: output_size.size() must be %d", nsp, nsp);
    if (n != nsp) return POOL_ERR("adaptive_avg_pool%dd: output_size must be %d", nsp, nsp);
    memcpy(out, list, (size_t)nsp * sizeof(int64_t));
    return CNNC_OK;
}

/* output_size of a 1-d op (an int[1] parameter): one value, not None. */
static cnnc_status output_size_1d(const char *fn, const cnnc_tensor *x, const cnnc_ints *os,
                                  int64_t *out) {
    if (cnnc__pool_check_rank_1d(fn, x) || cnnc__pool_check1d(fn, "output_size", os))
        return CNNC_ERR_INVALID_ARGUMENT;
    if (os->v[0] == CNNC_POOL_KEEP) return POOL_ERR("%s(): output_size must be an int, not None", fn);
    *out = os->v[0];
    return CNNC_OK;
}

/* F.adaptive_avg_pool1d: PyTorch pools [.., 1, L] to (1, o) with the 2-d op: all ones
 * is a mean, else the 2-d checks. */
static cnnc_tensor *adaptive_avg_1d(cnnc_tensor *x, const cnnc_ints *os) {
    int64_t o;
    if (output_size_1d("adaptive_avg_pool1d", x, os, &o) != CNNC_OK) return NULL;
    if (o < 0)
        return POOL_ERR_NULL("adaptive_avg_pool2d: elements of output_size must be greater than or "
                             "equal to 0 but received {1, %lld}", LL(o));
    int64_t shape[CNNC_MAX_DIMS + 1];
    int ndim = cnnc__pool_unsqueeze(x, shape);
    if (o != 1 && nonzero_dims("adaptive_avg_pool2d", "input", ndim, shape, ndim - 2) != CNNC_OK)
        return NULL;
    return adaptive_avg_run(x, 1, &o, "SqueezeBackward1", o == 1 ? 0 : 2);
}

/* adaptive_avg_pool{2,3}d's checks on the input once the sizes are known. */
static cnnc_status adaptive_avg_input(const cnnc_tensor *x, int nsp) {
    char sh[256];
    cnnc__shape_str(sh, sizeof sh, x->ndim, x->shape);
    if (nsp == 2) {
        if (x->ndim != 3 && x->ndim != 4)
            return POOL_ERR("adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got %s", sh);
        return nonzero_dims("adaptive_avg_pool2d", "input", x->ndim, x->shape, x->ndim - 2);
    }
    if (nonzero_dims("adaptive_avg_pool3d", "input", x->ndim, x->shape, 1) != CNNC_OK)
        return CNNC_ERR_INVALID_ARGUMENT;
    if (x->ndim != 4 && x->ndim != 5)
        return POOL_ERR("adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got %s", sh);
    return CNNC_OK;
}

static cnnc_tensor *adaptive_avg_common(cnnc_tensor *x, int nsp, const cnnc_ints *os, const char *pub) {
    if (cnnc__check_tensor(pub, "input", x, true) != CNNC_OK) return NULL;
    if (nsp == 1) return adaptive_avg_1d(x, os);
    int64_t out[3];
    if (output_size_nd(pub, x, nsp, os, false, out) != CNNC_OK)
        return NULL;
    bool neg = false, ones = true;
    for (int i = 0; i < nsp; i++) {
        neg |= out[i] < 0;
        ones &= out[i] == 1;
    }
    if (neg && nsp == 2)
        return POOL_ERR_NULL("adaptive_avg_pool2d: elements of output_size must be greater than or "
                             "equal to 0 but received {%lld, %lld}", LL(out[0]), LL(out[1]));
    if (neg)
        return POOL_ERR_NULL("adaptive_avg_pool2d: elements of output_size must be greater than or "
                             "equal to 0 but received {%lld, %lld,%lld}", LL(out[0]), LL(out[1]),
                             LL(out[2]));
    if (ones) { /* PyTorch: input.mean(spatial dims, keepdim=True), any rank */
        int unused;
        if (x->ndim < nsp) return (cnnc__wrap_dim(-nsp, x->ndim, &unused), NULL);
        return adaptive_avg_run(x, nsp, out, "MeanBackward1", 0);
    }
    if (adaptive_avg_input(x, nsp) != CNNC_OK) return NULL;
    /* the 3-d backward accepts an empty gradient */
    return nsp == 2 ? adaptive_avg_run(x, 2, out, "AdaptiveAvgPool2DBackward0", 2)
                    : adaptive_avg_run(x, 3, out, "AdaptiveAvgPool3DBackward0", 0);
}

cnnc_tensor *cnnc__op_adaptive_avg_pool(cnnc_tensor *x, int nsp, const int64_t *output_size) {
    if (cnnc__check_tensor("adaptive_avg_pool", "input", x, true) != CNNC_OK) return NULL;
    if (nsp < 1 || nsp > 3 || !output_size)
        return POOL_ERR_NULL("adaptive_avg_pool: bad spatial rank %d", nsp);
    cnnc_ints os = {.n = nsp, .tuple = true};
    memcpy(os.v, output_size, (size_t)nsp * sizeof(int64_t));
    static const char *const PUB[4] = {"", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"};
    return adaptive_avg_common(x, nsp, &os, PUB[nsp]);
}

/* adaptive_max_pool{2,3}d's input rule on a (possibly unsqueezed) shape. */
static cnnc_status adaptive_max_input(int knsp, int ndim, const int64_t *shape) {
    char sh[256];
    cnnc__shape_str(sh, sizeof sh, ndim, shape);
    if (knsp == 2 && ndim != 3 && ndim != 4)
        return POOL_ERR("adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: %s", sh);
    if (knsp == 3 && ndim != 4 && ndim != 5)
        return POOL_ERR("adaptive_max_pool3d(): Expected 4D or 5D tensor, but got: %s", sh);
    const char *fn = knsp == 2 ? "adaptive_max_pool2d" : "adaptive_max_pool3d";
    return nonzero_dims(fn, "input", ndim, shape, 1);
}

static cnnc_tensor *adaptive_max_common(cnnc_tensor *x, int nsp, const cnnc_ints *os, bool want_idx,
                                        cnnc_tensor **indices, const char *pub) {
    static const char *const NODES[4] = {"", "SqueezeBackward1", "AdaptiveMaxPool2DBackward0",
                                         "AdaptiveMaxPool3DBackward0"};
    if (indices) *indices = NULL;
    if (cnnc__check_tensor(pub, "input", x, true) != CNNC_OK) return NULL;
    if (want_idx && !indices) return POOL_ERR_NULL("%s(): argument 'indices' is NULL", pub);
    int64_t out[3] = {1, 1, 1}, shape[CNNC_MAX_DIMS + 1];
    int ndim = x->ndim, knsp = nsp == 1 ? 2 : nsp;
    if (nsp == 1) { /* run as 2-d on [.., 1, L] */
        if (output_size_1d("adaptive_max_pool1d", x, os, &out[1]) != CNNC_OK) return NULL;
        ndim = cnnc__pool_unsqueeze(x, shape);
    } else {
        if (cnnc__ints_is_tuple(os) && x->ndim <= os->n)
            return POOL_ERR_NULL("Input dimension should be at least %d", os->n + 1);
        memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
    }
    if (adaptive_max_input(knsp, ndim, shape) != CNNC_OK) return NULL;
    if (nsp > 1 && output_size_nd(pub, x, nsp, os, true, out) != CNNC_OK)
        return NULL;
    int64_t oshape[CNNC_MAX_DIMS + 1], numel;
    memcpy(oshape, shape, sizeof(int64_t) * (size_t)ndim);
    for (int i = 0; i < knsp; i++) oshape[ndim - knsp + i] = out[i];
    if (cnnc__check_shape(pub, ndim, oshape, CNNC_FLOAT32, &numel) != CNNC_OK) return NULL;
    cnnc__window g;
    cnnc__pool_sizes_window(&g, ndim, shape, knsp, out);
    int64_t rshape[CNNC_MAX_DIMS];
    memcpy(rshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) rshape[x->ndim - nsp + i] = out[knsp - nsp + i];
    return cnnc__pool_finish_argmax(x, &g, x->ndim, rshape, want_idx, indices, amax_range, NODES[nsp]);
}

cnnc_tensor *cnnc__op_adaptive_avg(cnnc_tensor *x, int nsp, cnnc_ints output_size) {
    static const char *const PUB[4] = {"", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"};
    if (cnnc__check_ints(PUB[nsp], "output_size", &output_size) ||
        cnnc__check_given(PUB[nsp], "output_size", &output_size))
        return NULL;
    return adaptive_avg_common(x, nsp, &output_size, PUB[nsp]);
}

cnnc_tensor *cnnc__op_adaptive_max(cnnc_tensor *x, int nsp, cnnc_ints output_size, cnnc_tensor **indices) {
    static const char *const PUB[4] = {"", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"};
    if (cnnc__check_ints(PUB[nsp], "output_size", &output_size) ||
        cnnc__check_given(PUB[nsp], "output_size", &output_size))
        return NULL;
    return adaptive_max_common(x, nsp, &output_size, indices != NULL, indices, PUB[nsp]);
}
