/* Pooling ops: max / average / adaptive pooling and max unpooling (1-d, 2-d, 3-d).
 *
 * Validation follows PyTorch 1.13 step by step (its order decides which message a
 * doubly wrong call gets). 1-d ops are PyTorch's 2-d ops on the input with a unit
 * dim inserted before the last one, so their messages show that shape, as
 * PyTorch's do; the result drops the unit dim again. Compute is split over the
 * N*C planes. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/options.h"
#include "core/parallel.h"
#include "kernels/pool.h"
#include "ops/pool.h"

#define ERR(...) cnnc__error(CNNC_ERR_INVALID_ARGUMENT, __VA_ARGS__)
#define LL(x) ((long long)(x))

static const char *const TUPLE_WORD[4] = {"", "one", "two", "three"};

/* The cost of a plane of `elems` elements for the parallel regions: memory-bound,
 * about 8 bytes moved per element (a float read, and its share of the writes). */
static cnnc__cost plane_cost(int64_t elems) { return (cnnc__cost){.bytes = 8.0 * (double)elems}; }

static int64_t div_rtn(int64_t a, int64_t b) {
    int64_t q = a / b, r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) q--;
    return q;
}

/* PyTorch's pooling_output_shape_pad_lr (after its checks). */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t d, bool ceil) {
    int64_t o = div_rtn(in + 2 * pad - d * (k - 1) - 1 + (ceil ? s - 1 : 0), s) + 1;
    if (ceil && (o - 1) * s >= in + pad) o--;
    return o;
}

/* PyTorch's pooling_output_shape: its three checks, then the size. */
static cnnc_status pool_out_checked(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t d,
                                    bool ceil, int64_t *out) {
    if (s == 0) return ERR("stride should not be zero");
    if (pad < 0) return ERR("pad must be non-negative, but got pad: %lld", LL(pad));
    if (pad > k / 2)
        return ERR("pad should be at most half of kernel size, but got pad=%lld and kernel_size=%lld",
                   LL(pad), LL(k));
    *out = pool_out_size(in, k, pad, s, d, ceil);
    return CNNC_OK;
}

/* Values pass through PyTorch's int downcast (safe_downcast<int>). */
static cnnc_status check_int_range(const cnnc_ints *v) {
    for (int i = 0; i < v->n && i < CNNC_MAX_DIMS; i++)
        if (v->v[i] < INT_MIN || v->v[i] > INT_MAX) return ERR("integer out of range");
    return CNNC_OK;
}

static void expand_ints(const cnnc_ints *v, int nsp, int64_t *out) {
    for (int i = 0; i < nsp; i++) out[i] = v->n == 1 ? v->v[0] : v->v[i];
}

static bool ints_ok(const cnnc_ints *v, int nsp, bool allow_none) {
    return (v->n == 0 && allow_none) || v->n == 1 || v->n == nsp;
}

/* The input's shape with a unit dim inserted before the last (1-d ops). */
static int unsqueeze_shape(const cnnc_tensor *x, int64_t *shape) {
    int n = x->ndim;
    for (int i = 0; i < n - 1; i++) shape[i] = x->shape[i];
    shape[n - 1] = 1;
    if (n >= 1) shape[n] = x->shape[n - 1];
    return n + 1;
}

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape) {
    cnnc__shape_str(buf, cap, ndim, shape);
}

/* torch's checkDimRange(fn, self, 2, 4) and check1d(fn, arg, v). */
static cnnc_status check_dim_range_1d(const char *fn, const cnnc_tensor *x) {
    if (x->ndim < 2 || x->ndim > 3)
        return ERR("Expected 2 to 3 dimensions, but got %d-dimensional tensor for argument #1 'self' "
                   "(while checking arguments for %s)", x->ndim, fn);
    return CNNC_OK;
}
static cnnc_status check1d(const char *fn, const char *arg, const cnnc_ints *v) {
    if (v->n != 1) return ERR("%s() argument '%s' should contain one int (got %d)", fn, arg, v->n);
    return CNNC_OK;
}

/* Fills the kernel dims (D, H, W) from nsp spatial values, right-aligned. */
static void fill_dims(cnnc__pool_dims *g, int nsp, const int64_t *in, const int64_t *out,
                      const int64_t *k, const int64_t *s, const int64_t *p, const int64_t *d) {
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - nsp);
        g->in[i] = j >= 0 ? in[j] : 1;
        g->out[i] = j >= 0 ? out[j] : 1;
        g->k[i] = j >= 0 && k ? k[j] : 1;
        g->s[i] = j >= 0 && s ? s[j] : 1;
        g->p[i] = j >= 0 && p ? p[j] : 0;
        g->d[i] = j >= 0 && d ? d[j] : 1;
    }
}

static int64_t planes_of(int ndim, const int64_t *shape, int nsp) {
    int64_t n = 1;
    for (int i = 0; i < ndim - nsp; i++) n *= shape[i];
    return n;
}

/* ======================================================================== */
/* Max pooling                                                              */
/* ======================================================================== */

typedef struct {
    cnnc__pool_dims g;
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
} max_ctx;

typedef struct {
    float *out;
    int64_t *idx;
    const float *x;
    const float *gy;
    const cnnc__pool_dims *g;
    const cnnc__avg_opts *avg;
    int64_t isize, osize;
    _Atomic int64_t bad; /* unpool: last invalid position, or -1 */
} pool_job;

static cnnc_status max_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    if (!cnnc__k_max_pool2d_fast(j->out, j->idx, j->x, j->g, b, e))
        cnnc__k_max_pool_ref(j->out, j->idx, j->x, j->g, b, e);
    return CNNC_OK;
}

static cnnc_status scatter_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    cnnc__k_index_scatter_add(j->out, j->gy, j->idx, j->isize, j->osize, b, e);
    return CNNC_OK;
}

/* gradient of max pooling and adaptive max pooling: scatter by the saved argmax */
static cnnc_status argmax_backward(cnnc__node *n, cnnc_tensor *gy, cnnc_tensor **gi) {
    max_ctx *c = n->ctx;
    cnnc_tensor *idx = n->saved[0];
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    pool_job j = {.out = cnnc__f32(gi[0]), .idx = cnnc__i64(idx), .gy = cnnc__f32(gy),
                  .isize = cnnc__pool_in_plane(&c->g), .osize = cnnc__pool_out_plane(&c->g)};
    return gi[0]->numel ? cnnc__parallel_for(c->g.planes, plane_cost(j.isize + j.osize), scatter_range, &j)
                        : CNNC_OK;
}

/* Runs a max-style forward (kernel chosen by `fn`) and records the node.
 * view_ndim/view_shape: the (possibly unsqueezed) input shape; out_ndim/out_shape:
 * the result's shape (already squeezed back for 1-d). */
static cnnc_tensor *finish_argmax(cnnc_tensor *x, const cnnc__pool_dims *g, int out_ndim,
                                  const int64_t *out_shape, bool want_idx, cnnc_tensor **indices,
                                  cnnc__range_fn fn, const char *node_name) {
    bool grad = cnnc__any_requires_grad(1, &x);
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, out_ndim, out_shape);
    cnnc_tensor *idx = (want_idx || grad) ? cnnc__tensor_new(CNNC_INT64, out_ndim, out_shape) : NULL;
    if (!out || ((want_idx || grad) && !idx)) goto fail;
    pool_job j = {.out = cnnc__f32(out), .idx = idx ? cnnc__i64(idx) : NULL, .x = cnnc__f32(x), .g = g};
    if (out->numel && cnnc__parallel_for(g->planes, plane_cost(cnnc__pool_in_plane(g)), fn, &j) != CNNC_OK)
        goto fail;
    if (grad) {
        void *vctx = NULL;
        if (cnnc__record(out, node_name, argmax_backward, 1, &x, 1, &idx, sizeof(max_ctx), &vctx) !=
            CNNC_OK)
            goto fail;
        if (vctx) {
            max_ctx *c = vctx;
            c->g = *g;
            c->in_ndim = x->ndim;
            memcpy(c->in_shape, x->shape, sizeof c->in_shape);
        }
    }
    if (want_idx) *indices = idx;
    else cnnc_tensor_release(idx);
    return out;
fail:
    cnnc_tensor_release(out);
    cnnc_tensor_release(idx);
    return NULL;
}

/* max_pool{2,3}d_with_indices' checks on a (possibly unsqueezed) shape; fills g
 * and the output's spatial sizes. fn3: the 3-d kernel's function name. */
static cnnc_status max_pool_validate(int nsp, int ndim, const int64_t *shape, const int64_t *k,
                                     const int64_t *s, const int64_t *p, const int64_t *d,
                                     bool ceil, cnnc__pool_dims *g) {
    char sh[256];
    if (nsp == 2 && ndim != 3 && ndim != 4)
        return ERR("non-empty 3D or 4D (batch mode) tensor expected for input");
    if (nsp == 3 && ndim != 4 && ndim != 5)
        return ERR("non-empty 4D or 5D (batch mode) tensor expected for input");
    const int64_t *in = shape + ndim - nsp;
    int64_t out[3];
    for (int i = 0; i < nsp; i++)
        if (pool_out_checked(in[i], k[i], p[i], s[i], d[i], ceil, &out[i]) != CNNC_OK)
            return CNNC_ERR_INVALID_ARGUMENT;
    shape_text(sh, sizeof sh, ndim, shape);
    if (nsp == 2) {
        if (k[0] <= 0 || k[1] <= 0)
            return ERR("kernel size should be greater than zero, but got kH: %lld kW: %lld", LL(k[0]), LL(k[1]));
        if (s[0] <= 0 || s[1] <= 0)
            return ERR("stride should be greater than zero, but got dH: %lld dW: %lld", LL(s[0]), LL(s[1]));
        if (d[0] <= 0 || d[1] <= 0)
            return ERR("dilation should be greater than zero, but got dilationH: %lld dilationW: %lld",
                       LL(d[0]), LL(d[1]));
        bool valid = shape[1] != 0 && shape[2] != 0;
        if (!((ndim == 3 && shape[0] != 0 && valid) || (ndim == 4 && valid && shape[3] != 0)))
            return ERR("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
                       "input, but got:%s", sh);
        if (out[0] < 1 || out[1] < 1)
            return ERR("Given input size: (%lldx%lldx%lld). Calculated output size: "
                       "(%lldx%lldx%lld). Output size is too small",
                       LL(shape[ndim - 3]), LL(in[0]), LL(in[1]), LL(shape[ndim - 3]), LL(out[0]), LL(out[1]));
    } else {
        if (k[0] <= 0 || k[1] <= 0 || k[2] <= 0)
            return ERR("kernel size should be greater than zero, but got kT: %lld kH: %lld kW: %lld",
                       LL(k[0]), LL(k[1]), LL(k[2]));
        if (s[0] <= 0 || s[1] <= 0 || s[2] <= 0)
            return ERR("stride should be greater than zero, but got dT: %lld dH: %lld dW: %lld",
                       LL(s[0]), LL(s[1]), LL(s[2]));
        if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0)
            return ERR("dilation should be greater than zero, but got dilationT: %lld dilationH: %lld "
                       "dilationW: %lld", LL(d[0]), LL(d[1]), LL(d[2]));
        for (int i = ndim == 5 ? 1 : 0; i < ndim; i++)
            if (shape[i] <= 0)
                return ERR("max_pool3d_with_indices_out_cpu_template(): Expected input's non-batch "
                           "dimensions to have positive length, but input has a shape of %s and "
                           "non-batch dimension %lld has length zero!", sh, LL(shape[i]));
        if (out[0] < 1 || out[1] < 1 || out[2] < 1)
            return ERR("Given input size: (%lldx%lldx%lldx%lld). Calculated output size: "
                       "(%lldx%lldx%lldx%lld). Output size is too small",
                       LL(shape[ndim - 4]), LL(in[0]), LL(in[1]), LL(in[2]), LL(shape[ndim - 4]),
                       LL(out[0]), LL(out[1]), LL(out[2]));
    }
    fill_dims(g, nsp, in, out, k, s, p, d);
    g->planes = planes_of(ndim, shape, nsp);
    return CNNC_OK;
}

/* The with-indices path of max_pool{1,2,3}d. */
static cnnc_tensor *max_pool_indices_path(cnnc_tensor *x, int nsp, const cnnc_max_pool_options *o,
                                          bool want_idx, cnnc_tensor **indices) {
    static const char *const NAMES[4] = {"", "max_pool1d", "max_pool2d", "max_pool3d"};
    const char *fn = NAMES[nsp];
    int64_t k[3], s[3], p[3], d[3];
    int64_t shape[CNNC_MAX_DIMS + 1];
    int ndim = x->ndim;
    int knsp = nsp; /* the spatial dims of the kernel actually run */
    if (nsp == 1) {
        cnnc_ints stride = o->stride.n == 0 ? o->kernel_size : o->stride;
        if (check_dim_range_1d(fn, x) != CNNC_OK || check1d(fn, "kernel_size", &o->kernel_size) != CNNC_OK ||
            check1d(fn, "stride", &stride) != CNNC_OK || check1d(fn, "padding", &o->padding) != CNNC_OK ||
            check1d(fn, "dilation", &o->dilation) != CNNC_OK)
            return NULL;
        if (check_int_range(&o->kernel_size) || check_int_range(&stride) ||
            check_int_range(&o->padding) || check_int_range(&o->dilation))
            return NULL;
        k[0] = 1, k[1] = o->kernel_size.v[0];
        s[0] = 1, s[1] = stride.v[0];
        p[0] = 0, p[1] = o->padding.v[0];
        d[0] = 1, d[1] = o->dilation.v[0];
        ndim = unsqueeze_shape(x, shape);
        knsp = 2;
    } else {
        const char *w = TUPLE_WORD[nsp];
        if (!ints_ok(&o->kernel_size, nsp, false))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "%s: kernel_size must either be a single int, or a tuple of %s ints", fn, w);
        if (!ints_ok(&o->stride, nsp, true))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "%s: stride must either be omitted, a single int, or a tuple of %s ints", fn, w);
        if (!ints_ok(&o->padding, nsp, false))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "%s: padding must be either be a single int, or a tuple of %s ints", fn, w);
        if (!ints_ok(&o->dilation, nsp, false))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "%s: dilation must be either a single int, or a tuple of %s ints", fn, w);
        if (check_int_range(&o->kernel_size) || check_int_range(&o->stride) ||
            check_int_range(&o->padding) || check_int_range(&o->dilation))
            return NULL;
        expand_ints(&o->kernel_size, nsp, k);
        expand_ints(o->stride.n ? &o->stride : &o->kernel_size, nsp, s);
        expand_ints(&o->padding, nsp, p);
        expand_ints(&o->dilation, nsp, d);
        memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
    }
    cnnc__pool_dims g;
    if (max_pool_validate(knsp, ndim, shape, k, s, p, d, o->ceil_mode, &g) != CNNC_OK) return NULL;
    int64_t oshape[CNNC_MAX_DIMS + 1];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) oshape[x->ndim - nsp + i] = g.out[3 - nsp + i];
    return finish_argmax(x, &g, x->ndim, oshape, want_idx, indices, max_range,
                         nsp == 3 ? "MaxPool3DWithIndicesBackward0"
                                  : (nsp == 2 ? "MaxPool2DWithIndicesBackward0" : "SqueezeBackward1"));
}

/* F.max_pool1d without indices and without grad: PyTorch's max_pool1d_impl. */
static cnnc_tensor *max_pool1d_impl(cnnc_tensor *x, const cnnc_max_pool_options *o) {
    if (o->kernel_size.n != 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() kernel_size must be an int, list of ints or tuple of ints of size 1 but got size %d",
                                o->kernel_size.n);
    if (o->stride.n > 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() stride must be None, an int, list of ints, or tuple of ints of size 1 but got size %d",
                                o->stride.n);
    if (o->padding.n != 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() padding must be an int, list of ints, or tuple of ints of size 1 but got size %d",
                                o->padding.n);
    if (o->dilation.n != 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() dilation must be an int, list of ints or tuple of ints of size 1 but got size %d",
                                o->dilation.n);
    if (check_int_range(&o->kernel_size) || check_int_range(&o->stride) ||
        check_int_range(&o->padding) || check_int_range(&o->dilation))
        return NULL;
    int64_t K = o->kernel_size.v[0], S = o->stride.n ? o->stride.v[0] : K, P = o->padding.v[0],
            D = o->dilation.v[0];
    if (K <= 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() kernel_size must be greater than zero, but got %lld", LL(K));
    if (S <= 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() stride must be greater than zero, but got %lld", LL(S));
    if (P < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() padding must be non-negative, but got %lld", LL(P));
    if (P > K / 2)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() padding should be at most half of kernel size, but got padding=%lld and kernel_size=%lld",
                                LL(P), LL(K));
    if (D <= 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "max_pool1d() dilation must be greater than zero, but got %lld", LL(D));
    int64_t IW = x->shape[x->ndim - 1];
    int64_t OW = pool_out_size(IW, K, P, S, D, o->ceil_mode);
    if (OW < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "max_pool1d() Invalid computed output size: %lld", LL(OW));
    cnnc__pool_dims g;
    int64_t kk = K, ss = S, pp = P, dd = D;
    fill_dims(&g, 1, &IW, &OW, &kk, &ss, &pp, &dd);
    g.planes = planes_of(x->ndim, x->shape, 1);
    int64_t oshape[CNNC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof oshape);
    oshape[x->ndim - 1] = OW;
    return finish_argmax(x, &g, x->ndim, oshape, false, NULL, max_range, "SqueezeBackward1");
}

static cnnc_tensor *max_pool_common(cnnc_tensor *x, int nsp, const cnnc_max_pool_options *o,
                                    bool want_idx, cnnc_tensor **indices, const char *pubname) {
    if (indices) *indices = NULL;
    if (cnnc__check_tensor(pubname, "input", x, true) != CNNC_OK) return NULL;
    if (want_idx && !indices)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'indices' is NULL", pubname);
    if (!want_idx && o->return_indices)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): return_indices=True returns (output, indices): call %s_with_indices",
                                pubname, pubname);
    if (nsp == 1 && !want_idx) {
        /* F.max_pool1d: check_max_pool1d, then one of PyTorch's two paths */
        int n = x->ndim;
        bool ok = (n == 2 && x->shape[0] != 0 && x->shape[1] != 0) ||
                  (n == 3 && x->shape[1] != 0 && x->shape[2] != 0);
        if (!ok) {
            char sh[256];
            shape_text(sh, sizeof sh, n, x->shape);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
                                    "batch size for input, but got:%s", sh);
        }
        if (!cnnc__any_requires_grad(1, &x)) return max_pool1d_impl(x, o);
    }
    return max_pool_indices_path(x, nsp, o, want_idx, indices);
}

/* ======================================================================== */
/* Average pooling                                                          */
/* ======================================================================== */

typedef struct {
    cnnc__pool_dims g;
    cnnc__avg_opts a;
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
} avg_ctx;

static cnnc_status avg_range_fn(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    if (!cnnc__k_avg_pool2d_fast(j->out, j->x, j->g, j->avg, b, e))
        cnnc__k_avg_pool_ref(j->out, j->x, j->g, j->avg, b, e);
    return CNNC_OK;
}

static cnnc_status avg_back_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    cnnc__k_avg_pool_backward_ref(j->out, j->gy, j->g, j->avg, b, e);
    return CNNC_OK;
}

static cnnc_status avg_backward(cnnc__node *n, cnnc_tensor *gy, cnnc_tensor **gi) {
    avg_ctx *c = n->ctx;
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    pool_job j = {.out = cnnc__f32(gi[0]), .gy = cnnc__f32(gy), .g = &c->g, .avg = &c->a};
    if (!gi[0]->numel) return CNNC_OK;
    return cnnc__parallel_for(c->g.planes, plane_cost(cnnc__pool_in_plane(&c->g)), avg_back_range, &j);
}

static cnnc_tensor *avg_pool_core(cnnc_tensor *x, int nsp, const char *fn, const cnnc_ints *kernel,
                                  const cnnc_ints *stride, const cnnc_ints *padding, bool ceil,
                                  bool count_include_pad, cnnc_optional_int divisor) {
    int64_t k[3], s[3], p[3], d[3] = {1, 1, 1};
    int64_t shape[CNNC_MAX_DIMS + 1];
    int ndim = x->ndim, knsp = nsp;
    char sh[256];
    if (nsp == 1) {
        cnnc_ints st = stride->n == 0 ? *kernel : *stride;
        if (check_dim_range_1d(fn, x) || check1d(fn, "kernel_size", kernel) ||
            check1d(fn, "stride", &st) || check1d(fn, "padding", padding))
            return NULL;
        if (check_int_range(kernel) || check_int_range(&st) || check_int_range(padding)) return NULL;
        k[0] = 1, k[1] = kernel->v[0];
        s[0] = 1, s[1] = st.v[0];
        p[0] = 0, p[1] = padding->v[0];
        ndim = unsqueeze_shape(x, shape);
        knsp = 2;
    } else if (nsp == 2) {
        if (!ints_ok(kernel, 2, false))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "avg_pool2d: kernel_size must either be a single int, or a tuple of two ints");
        if (!ints_ok(stride, 2, true))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "avg_pool2d: stride must either be omitted, a single int, or a tuple of two ints");
        if (!ints_ok(padding, 2, false))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "avg_pool2d: padding must either be a single int, or a tuple of two ints");
        if (check_int_range(kernel) || check_int_range(stride) || check_int_range(padding)) return NULL;
        expand_ints(kernel, 2, k);
        expand_ints(stride->n ? stride : kernel, 2, s);
        expand_ints(padding, 2, p);
        memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
    } else {
        if (!ints_ok(kernel, 3, false))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "avg_pool3d: kernel_size must be a single int, or a tuple of three ints");
        if (!ints_ok(stride, 3, true))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "avg_pool3d: stride must be omitted, a single int, or a tuple of three ints");
        if (!ints_ok(padding, 3, false))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "avg_pool3d: padding must be a single int, or a tuple of three ints");
        if (check_int_range(kernel) || check_int_range(stride) || check_int_range(padding)) return NULL;
        expand_ints(kernel, 3, k);
        expand_ints(stride->n ? stride : kernel, 3, s);
        expand_ints(padding, 3, p);
        memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
        if (ndim != 4 && ndim != 5)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "non-empty 4D or 5D (batch mode) tensor expected for input");
    }
    if (divisor.has_value && divisor.value == 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "divisor must be not zero");
    if (knsp == 2 && ndim < 3) { /* PyTorch reads input.size(-3) */
        int w;
        cnnc__wrap_dim(-3, ndim, &w);
        return NULL;
    }
    const int64_t *in = shape + ndim - knsp;
    int64_t out[3];
    for (int i = 0; i < knsp; i++)
        if (pool_out_checked(in[i], k[i], p[i], s[i], 1, ceil, &out[i]) != CNNC_OK) return NULL;
    shape_text(sh, sizeof sh, ndim, shape);
    if (knsp == 2) {
        if (k[0] <= 0 || k[1] <= 0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "kernel size should be greater than zero, but got kH: %lld kW: %lld", LL(k[0]), LL(k[1]));
        if (s[0] <= 0 || s[1] <= 0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "stride should be greater than zero, but got dH: %lld dW: %lld", LL(s[0]), LL(s[1]));
        bool valid = ndim >= 3 && shape[1] != 0 && shape[2] != 0;
        if (!((ndim == 3 && shape[0] != 0 && valid) || (ndim == 4 && valid && shape[3] != 0)))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                                    "for input, but got:%s", sh);
        if (out[0] < 1 || out[1] < 1)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Given input size: (%lldx%lldx%lld). Calculated output size: "
                                    "(%lldx%lldx%lld). Output size is too small",
                                    LL(shape[ndim - 3]), LL(in[0]), LL(in[1]), LL(shape[ndim - 3]),
                                    LL(out[0]), LL(out[1]));
    } else {
        if (k[0] <= 0 || k[1] <= 0 || k[2] <= 0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "kernel size should be greater than zero, but got kT: %lld kH: %lld kW: %lld",
                                    LL(k[0]), LL(k[1]), LL(k[2]));
        if (s[0] <= 0 || s[1] <= 0 || s[2] <= 0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "stride should be greater than zero, but got dT: %lld dH: %lld dW: %lld",
                                    LL(s[0]), LL(s[1]), LL(s[2]));
        for (int i = ndim == 5 ? 1 : 0; i < ndim; i++)
            if (shape[i] <= 0)
                return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                        "avg_pool3d(): Expected input's non-batch dimensions to have "
                                        "positive length, but input has a shape of %s and non-batch "
                                        "dimension %lld has length zero!", sh, LL(shape[i]));
        if (in[0] < k[0] || in[1] < k[1] || in[2] < k[2])
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "input image (T: %lld H: %lld W: %lld) smaller than kernel size "
                                    "(kT: %lld kH: %lld kW: %lld)", LL(in[0]), LL(in[1]), LL(in[2]),
                                    LL(k[0]), LL(k[1]), LL(k[2]));
        if (out[0] < 1 || out[1] < 1 || out[2] < 1)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Given input size: (%lldx%lldx%lldx%lld). Calculated output size: "
                                    "(%lldx%lldx%lldx%lld). Output size is too small",
                                    LL(shape[ndim - 4]), LL(in[0]), LL(in[1]), LL(in[2]),
                                    LL(shape[ndim - 4]), LL(out[0]), LL(out[1]), LL(out[2]));
    }
    cnnc__pool_dims g;
    fill_dims(&g, knsp, in, out, k, s, p, d);
    g.planes = planes_of(ndim, shape, knsp);
    cnnc__avg_opts a = {count_include_pad, divisor.has_value, divisor.value};
    int64_t oshape[CNNC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) oshape[x->ndim - nsp + i] = g.out[3 - nsp + i];
    cnnc_tensor *y = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, oshape);
    if (!y) return NULL;
    pool_job j = {.out = cnnc__f32(y), .x = cnnc__f32(x), .g = &g, .avg = &a};
    cnnc_status st = y->numel ? cnnc__parallel_for(g.planes, plane_cost(cnnc__pool_in_plane(&g)),
                                                   avg_range_fn, &j)
                              : CNNC_OK;
    void *vctx = NULL;
    const char *name = nsp == 3 ? "AvgPool3DBackward0" : (nsp == 2 ? "AvgPool2DBackward0" : "SqueezeBackward1");
    if (st != CNNC_OK ||
        cnnc__record(y, name, avg_backward, 1, &x, 0, NULL, sizeof(avg_ctx), &vctx) != CNNC_OK) {
        cnnc_tensor_release(y);
        return NULL;
    }
    if (vctx) {
        avg_ctx *c = vctx;
        c->g = g;
        c->a = a;
        c->in_ndim = x->ndim;
        memcpy(c->in_shape, x->shape, sizeof c->in_shape);
    }
    return y;
}

/* ======================================================================== */
/* Adaptive pooling                                                         */
/* ======================================================================== */

typedef struct {
    cnnc__pool_dims g;
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
    int knsp;  /* PyTorch's backward kernel (2 or 3) that refuses empty gradients; 0: none */
    bool one_d; /* 1-d: PyTorch's message shows the gradient with a unit dim inserted */
} adaptive_ctx;

static cnnc_status aavg_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    if (!cnnc__k_adaptive_avg_global(j->out, j->x, j->g, b, e))
        cnnc__k_adaptive_avg_ref(j->out, j->x, j->g, b, e);
    return CNNC_OK;
}
static cnnc_status aavg_back_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    cnnc__k_adaptive_avg_backward_ref(j->out, j->gy, j->g, b, e);
    return CNNC_OK;
}
static cnnc_status amax_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    cnnc__k_adaptive_max_ref(j->out, j->idx, j->x, j->g, b, e);
    return CNNC_OK;
}

static cnnc_status aavg_backward(cnnc__node *n, cnnc_tensor *gy, cnnc_tensor **gi) {
    adaptive_ctx *c = n->ctx;
    if (c->knsp) { /* adaptive_avg_pool{2,3}d_backward refuses empty non-batch dims */
        int64_t shape[CNNC_MAX_DIMS + 1];
        int ndim = gy->ndim;
        memcpy(shape, gy->shape, sizeof(int64_t) * (size_t)ndim);
        if (c->one_d) ndim = unsqueeze_shape(gy, shape);
        for (int i = 1; i < ndim; i++)
            if (shape[i] == 0) {
                char sh[256];
                shape_text(sh, sizeof sh, ndim, shape);
                return ERR("adaptive_avg_pool%dd_backward(): Expected grad_output to have non-zero size "
                           "for non-batch dimensions, but grad_output has sizes %s with dimension %d being "
                           "empty", c->knsp, sh, i);
            }
    }
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    pool_job j = {.out = cnnc__f32(gi[0]), .gy = cnnc__f32(gy), .g = &c->g};
    if (!gi[0]->numel) return CNNC_OK;
    return cnnc__parallel_for(c->g.planes, plane_cost(cnnc__pool_in_plane(&c->g)), aavg_back_range, &j);
}

/* The computation once the output size is known: the last nsp dims of x pooled to
 * out[0..nsp). No shape checks beyond rank >= nsp. */
static cnnc_tensor *adaptive_avg_run(cnnc_tensor *x, int nsp, const int64_t *out, const char *name,
                                     int knsp) {
    int64_t oshape[CNNC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) oshape[x->ndim - nsp + i] = out[i];
    cnnc__pool_dims g;
    fill_dims(&g, nsp, x->shape + x->ndim - nsp, out, NULL, NULL, NULL, NULL);
    g.planes = planes_of(x->ndim, x->shape, nsp);
    cnnc_tensor *y = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, oshape);
    if (!y) return NULL;
    if (y->numel && cnnc__pool_in_plane(&g) == 0) { /* mean of nothing, as torch.mean */
        float *yd = cnnc__f32(y);
        for (int64_t i = 0; i < y->numel; i++) yd[i] = NAN;
    } else if (y->numel) {
        pool_job j = {.out = cnnc__f32(y), .x = cnnc__f32(x), .g = &g};
        if (cnnc__parallel_for(g.planes, plane_cost(cnnc__pool_in_plane(&g)), aavg_range, &j) != CNNC_OK) {
            cnnc_tensor_release(y);
            return NULL;
        }
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

/* Resolves output_size (int form, tuple form with KEEP entries: PyTorch's
 * _list_with_default) into nsp values. */
static cnnc_status resolve_output_size(const char *fn, const cnnc_tensor *x, int nsp,
                                       const cnnc_ints *os, bool allow_keep, int64_t *out) {
    if (os->n < 0 || os->n > CNNC_MAX_DIMS)
        return ERR("%s(): output_size has %d entries", fn, os->n);
    for (int i = 0; i < os->n; i++)
        if (os->v[i] == CNNC_POOL_KEEP) {
            if (!allow_keep || os->n == 1)
                return ERR("%s(): output_size None (CNNC_POOL_KEEP) is only accepted as an entry of "
                           "a tuple with one entry per spatial dim", fn);
        }
    if (os->n == 1) {
        for (int i = 0; i < nsp; i++) out[i] = os->v[0];
        return CNNC_OK;
    }
    if (os->n != nsp) return CNNC_ERR_INVALID_ARGUMENT; /* caller words it */
    for (int i = 0; i < nsp; i++)
        out[i] = os->v[i] == CNNC_POOL_KEEP ? x->shape[x->ndim - nsp + i] : os->v[i];
    return CNNC_OK;
}

static cnnc_tensor *adaptive_avg_common(cnnc_tensor *x, int nsp, const cnnc_ints *os, const char *pub) {
    if (cnnc__check_tensor(pub, "input", x, true) != CNNC_OK) return NULL;
    char sh[256];
    int64_t out[3];
    if (nsp == 1) {
        if (check_dim_range_1d("adaptive_avg_pool1d", x) || check1d("adaptive_avg_pool1d", "output_size", os))
            return NULL;
        if (os->v[0] == CNNC_POOL_KEEP)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_avg_pool1d(): output_size must be an int, not None");
        if (os->v[0] < 0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_avg_pool2d: elements of output_size must be greater than or "
                                    "equal to 0 but received {1, %lld}", LL(os->v[0]));
        /* torch pools [.., 1, L] to (1, o): all ones is a mean, else the 2-d checks */
        int64_t shape[CNNC_MAX_DIMS + 1];
        int ndim = unsqueeze_shape(x, shape);
        if (os->v[0] != 1) {
            for (int i = ndim - 2; i < ndim; i++)
                if (shape[i] <= 0) {
                    shape_text(sh, sizeof sh, ndim, shape);
                    return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                            "adaptive_avg_pool2d(): Expected input to have non-zero size for "
                                            "non-batch dimensions, but input has sizes %s with dimension %d "
                                            "being empty", sh, i);
                }
        }
        out[0] = os->v[0];
        return adaptive_avg_run(x, 1, out, "SqueezeBackward1", os->v[0] == 1 ? 0 : 2);
    }
    if (os->n > 1 && x->ndim <= os->n)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Input dimension should be at least %d", os->n + 1);
    if (os->n != 1 && os->n != nsp)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "adaptive_avg_pool%dd: output_size must be %d", nsp, nsp);
    if (resolve_output_size(pub, x, nsp, os, true, out) != CNNC_OK) return NULL;
    bool neg = false, ones = true;
    for (int i = 0; i < nsp; i++) {
        neg |= out[i] < 0;
        ones &= out[i] == 1;
    }
    if (neg) {
        if (nsp == 2)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_avg_pool2d: elements of output_size must be greater than or "
                                    "equal to 0 but received {%lld, %lld}", LL(out[0]), LL(out[1]));
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "adaptive_avg_pool2d: elements of output_size must be greater than or equal "
                                "to 0 but received {%lld, %lld,%lld}", LL(out[0]), LL(out[1]), LL(out[2]));
    }
    const char *mean_name = "MeanBackward1";
    if (ones) { /* PyTorch: input.mean(spatial dims, keepdim=True), any rank */
        if (x->ndim < nsp) {
            int w;
            cnnc__wrap_dim(-nsp, x->ndim, &w);
            return NULL;
        }
        return adaptive_avg_run(x, nsp, out, mean_name, 0);
    }
    shape_text(sh, sizeof sh, x->ndim, x->shape);
    if (nsp == 2) {
        if (x->ndim != 3 && x->ndim != 4)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got %s", sh);
        for (int i = x->ndim - 2; i < x->ndim; i++)
            if (x->shape[i] <= 0)
                return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                        "adaptive_avg_pool2d(): Expected input to have non-zero size for "
                                        "non-batch dimensions, but input has sizes %s with dimension %d being "
                                        "empty", sh, i);
        return adaptive_avg_run(x, 2, out, "AdaptiveAvgPool2DBackward0", 2);
    }
    for (int i = 1; i < x->ndim; i++)
        if (x->shape[i] <= 0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_avg_pool3d(): Expected input to have non-zero size for "
                                    "non-batch dimensions, but input has sizes %s with dimension %d being "
                                    "empty", sh, i);
    if (x->ndim != 4 && x->ndim != 5)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got %s", sh);
    return adaptive_avg_run(x, 3, out, "AdaptiveAvgPool3DBackward0", 0); /* its backward accepts empty */
}

cnnc_tensor *cnnc__op_adaptive_avg_pool(cnnc_tensor *x, int nsp, const int64_t *output_size) {
    if (cnnc__check_tensor("adaptive_avg_pool", "input", x, true) != CNNC_OK) return NULL;
    if (nsp < 1 || nsp > 3 || !output_size)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "adaptive_avg_pool: bad spatial rank %d", nsp);
    cnnc_ints os = {.n = nsp};
    for (int i = 0; i < nsp; i++) os.v[i] = output_size[i];
    if (nsp == 1) os.n = 1;
    static const char *const PUB[4] = {"", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"};
    return adaptive_avg_common(x, nsp, &os, PUB[nsp]);
}

static cnnc_tensor *adaptive_max_common(cnnc_tensor *x, int nsp, const cnnc_ints *os, bool want_idx,
                                        cnnc_tensor **indices, const char *pub) {
    if (indices) *indices = NULL;
    if (cnnc__check_tensor(pub, "input", x, true) != CNNC_OK) return NULL;
    if (want_idx && !indices)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'indices' is NULL", pub);
    char sh[256];
    int64_t out[3], shape[CNNC_MAX_DIMS + 1];
    int ndim, knsp = nsp;
    if (nsp == 1) {
        if (check_dim_range_1d("adaptive_max_pool1d", x) || check1d("adaptive_max_pool1d", "output_size", os))
            return NULL;
        if (os->v[0] == CNNC_POOL_KEEP)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_max_pool1d(): output_size must be an int, not None");
        ndim = unsqueeze_shape(x, shape);
        knsp = 2;
        out[0] = 1;
        out[1] = os->v[0];
    } else {
        if (os->n > 1 && x->ndim <= os->n)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Input dimension should be at least %d", os->n + 1);
        ndim = x->ndim;
        memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
    }
    shape_text(sh, sizeof sh, ndim, shape);
    if (knsp == 2 && ndim != 3 && ndim != 4)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: %s", sh);
    if (knsp == 3 && ndim != 4 && ndim != 5)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "adaptive_max_pool3d(): Expected 4D or 5D tensor, but got: %s", sh);
    for (int i = 1; i < ndim; i++)
        if (shape[i] <= 0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_max_pool%dd(): Expected input to have non-zero size for "
                                    "non-batch dimensions, but input has sizes %s with dimension %d being "
                                    "empty", knsp, sh, i);
    if (nsp > 1) {
        if (os->n != 1 && os->n != nsp)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_max_pool%dd(): internal error: output_size.size() must be %d", nsp, nsp);
        if (resolve_output_size(pub, x, nsp, os, true, out) != CNNC_OK) return NULL;
    }
    int64_t oshape[CNNC_MAX_DIMS + 1];
    memcpy(oshape, shape, sizeof(int64_t) * (size_t)ndim);
    for (int i = 0; i < knsp; i++) oshape[ndim - knsp + i] = out[i];
    int64_t numel;
    if (cnnc__check_shape(pub, ndim, oshape, CNNC_FLOAT32, &numel) != CNNC_OK) return NULL;
    cnnc__pool_dims g;
    fill_dims(&g, knsp, shape + ndim - knsp, out, NULL, NULL, NULL, NULL);
    g.planes = planes_of(ndim, shape, knsp);
    int64_t rshape[CNNC_MAX_DIMS];
    memcpy(rshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) rshape[x->ndim - nsp + i] = out[knsp - nsp + i];
    return finish_argmax(x, &g, x->ndim, rshape, want_idx, indices, amax_range,
                         nsp == 3 ? "AdaptiveMaxPool3DBackward0"
                                  : (nsp == 2 ? "AdaptiveMaxPool2DBackward0" : "SqueezeBackward1"));
}

/* ======================================================================== */
/* Max unpooling                                                            */
/* ======================================================================== */

typedef struct {
    int64_t isize, osize, planes;
    int gather_dim; /* the flattened plane's dim in PyTorch's backward (for its message) */
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
} unpool_ctx;

static cnnc_status unpool_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    int64_t bad = cnnc__k_max_unpool(j->out, j->x, j->idx, j->isize, j->osize, b, e);
    if (bad >= 0) { /* keep the last invalid position, whatever the split */
        int64_t cur = atomic_load(&j->bad);
        while (bad > cur && !atomic_compare_exchange_weak(&j->bad, &cur, bad)) {
        }
    }
    return CNNC_OK;
}
static cnnc_status gather_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pool_job *j = ctx;
    cnnc__k_index_gather(j->out, j->gy, j->idx, j->isize, j->osize, b, e);
    return CNNC_OK;
}

static cnnc_status unpool_backward(cnnc__node *n, cnnc_tensor *gy, cnnc_tensor **gi) {
    unpool_ctx *c = n->ctx;
    if (c->osize == 0 && c->isize > 0 && c->planes > 0) /* PyTorch's gather over an empty plane */
        return ERR("index %lld is out of bounds for dimension %d with size 0",
                   LL(cnnc__i64(n->saved[0])[0]), c->gather_dim);
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    pool_job j = {.out = cnnc__f32(gi[0]), .gy = cnnc__f32(gy), .idx = cnnc__i64(n->saved[0]),
                  .isize = c->isize, .osize = c->osize};
    return gi[0]->numel ? cnnc__parallel_for(c->planes, plane_cost(c->isize + c->osize), gather_range, &j)
                        : CNNC_OK;
}

/* Python's repr of the output_size sequence, e.g. "(10, 9)" or "(10,)". */
static void tuple_text(char *buf, size_t cap, int n, const int64_t *v) {
    size_t len = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? ", %lld" : "%lld", LL(v[i]));
    if (len < cap) snprintf(buf + len, cap - len, n == 1 ? ",)" : ")");
}

static cnnc_tensor *max_unpool_common(cnnc_tensor *x, cnnc_tensor *indices, int nsp,
                                      const cnnc_max_unpool_options *o, const char *pub) {
    if (cnnc__check_tensor(pub, "input", x, true) != CNNC_OK ||
        cnnc__check_tensor(pub, "indices", indices, false) != CNNC_OK)
        return NULL;
    const char *w = TUPLE_WORD[nsp];
    if (!ints_ok(&o->kernel_size, nsp, false))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s: kernel_size must be a single int or a tuple of %s ints", pub, w);
    if (!ints_ok(&o->stride, nsp, true))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s: stride must be None, a single int or a tuple of %s ints", pub, w);
    if (!ints_ok(&o->padding, nsp, false))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s: padding must be a single int or a tuple of %s ints", pub, w);
    if (check_int_range(&o->kernel_size) || check_int_range(&o->stride) || check_int_range(&o->padding))
        return NULL;
    int64_t k[3] = {0}, s[3] = {0}, p[3] = {0}, def[3] = {0}, out[3] = {0};
    expand_ints(&o->kernel_size, nsp, k);
    expand_ints(o->stride.n ? &o->stride : &o->kernel_size, nsp, s);
    expand_ints(&o->padding, nsp, p);
    if (x->ndim < nsp)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s: input must have at least %d dimensions, got %d",
                                pub, nsp, x->ndim);
    for (int i = 0; i < nsp; i++) def[i] = (x->shape[x->ndim - nsp + i] - 1) * s[i] + k[i] - 2 * p[i];
    if (o->output_size.n == 0) {
        memcpy(out, def, sizeof out);
    } else {
        const cnnc_ints *os = &o->output_size;
        int off = os->n == nsp + 2 ? 2 : 0;
        if (os->n - off != nsp)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "output_size should be a sequence containing %d or %d elements, but it has a "
                                    "length of '%d'", nsp, nsp + 2, os->n);
        for (int i = 0; i < nsp; i++) out[i] = os->v[off + i];
        for (int i = 0; i < nsp; i++) {
            int64_t lo = def[i] - s[i], hi = def[i] + s[i];
            if (!(lo < out[i] && out[i] < hi)) {
                char t[256];
                tuple_text(t, sizeof t, nsp, out);
                return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                        "invalid output_size \"%s\" (dim %d must be between %lld and %lld)", t, i,
                                        LL(lo), LL(hi));
            }
        }
    }
    /* the C++ op sees the 1-d case as 2-d on [..., L, 1] */
    int64_t shape[CNNC_MAX_DIMS + 1], ishape[CNNC_MAX_DIMS + 1];
    int ndim = x->ndim, indim = indices->ndim, knsp = nsp == 1 ? 2 : nsp;
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
    memcpy(ishape, indices->shape, sizeof(int64_t) * (size_t)indim);
    int64_t kout[3] = {out[0], nsp == 1 ? 1 : out[1], nsp == 3 ? out[2] : 0};
    if (nsp == 1) {
        shape[ndim++] = 1;
        ishape[indim++] = 1;
    }
    char sh[256], ish[256];
    shape_text(sh, sizeof sh, ndim, shape);
    shape_text(ish, sizeof ish, indim, ishape);
    if (knsp == 2) {
        if (indices->dtype != CNNC_INT64)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "elements in indices should be type int64 but got: Float");
        if (ndim != 3 && ndim != 4)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with %d dimensions.", ndim);
    } else {
        if (indices->dtype != CNNC_INT64)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "elements in indices should be type int64");
        if (ndim != 4 && ndim != 5)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Input to max_unpooling3d should be a 4d or 5d Tensor, but got a tensor with %d dimensions.", ndim);
    }
    if (ndim != indim || memcmp(shape, ishape, sizeof(int64_t) * (size_t)ndim) != 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Expected shape of indices to be same as that of the input tensor (%s) but got indices "
                                "tensor with shape: %s", sh, ish);
    for (int i = 1; i < ndim; i++)
        if (shape[i] <= 0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "max_unpooling%dd_forward_out_cpu(): Expected input to have non-zero size for "
                                    "non-batch dimensions, but got %s with dimension %d being empty.", knsp, sh, i);
    if (knsp == 3 && (s[0] <= 0 || s[1] <= 0 || s[2] <= 0))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "strides should be greater than zero, but got stride: [%lld, %lld, %lld]",
                                LL(s[0]), LL(s[1]), LL(s[2]));
    int64_t oshape[CNNC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) oshape[x->ndim - nsp + i] = out[i];
    for (int i = 0; i < nsp; i++)
        if (out[i] < 0) {
            char t[256];
            shape_text(t, sizeof t, x->ndim, oshape);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "%s: the output size %s is negative (numel: integer multiplication overflow)",
                                    pub, t);
        }
    cnnc_tensor *y = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, oshape);
    if (!y) return NULL;
    int64_t isize = 1, osize = 1, planes = planes_of(x->ndim, x->shape, nsp);
    for (int i = 0; i < nsp; i++) {
        isize *= x->shape[x->ndim - nsp + i];
        osize *= out[i];
    }
    if (y->numel) {
        pool_job j = {.out = cnnc__f32(y), .x = cnnc__f32(x), .idx = cnnc__i64(indices),
                      .isize = isize, .osize = osize};
        atomic_init(&j.bad, -1);
        if (cnnc__parallel_for(planes, plane_cost(isize + osize), unpool_range, &j) != CNNC_OK) {
            cnnc_tensor_release(y);
            return NULL;
        }
        int64_t bad = atomic_load(&j.bad);
        if (bad >= 0) {
            int64_t v = cnnc__i64(indices)[bad];
            cnnc_tensor_release(y);
            if (knsp == 2)
                return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                        "Found an invalid max index: %lld (output volumes are of size %lldx%lld",
                                        LL(v), LL(kout[0]), LL(kout[1]));
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Found an invalid max index: %lld (output volumes are of size %lldx%lldx%lld",
                                    LL(v), LL(kout[0]), LL(kout[1]), LL(kout[2]));
        }
    }
    void *vctx = NULL;
    const char *name = nsp == 3 ? "MaxUnpool3DBackward0" : (nsp == 2 ? "MaxUnpool2DBackward0" : "SqueezeBackward1");
    if (cnnc__record(y, name, unpool_backward, 1, &x, 1, &indices, sizeof(unpool_ctx), &vctx) != CNNC_OK) {
        cnnc_tensor_release(y);
        return NULL;
    }
    if (vctx) {
        unpool_ctx *c = vctx;
        c->isize = isize;
        c->osize = osize;
        c->planes = planes;
        c->gather_dim = nsp == 1 ? x->ndim - 1 : x->ndim - nsp;
        c->in_ndim = x->ndim;
        memcpy(c->in_shape, x->shape, sizeof c->in_shape);
    }
    return y;
}

/* ======================================================================== */
/* Public wrappers                                                          */
/* ======================================================================== */

cnnc_tensor *cnnc__op_max_pool(cnnc_tensor *x, int nsp, cnnc_max_pool_options o, cnnc_tensor **indices) {
    static const char *const PUB[4] = {"", "max_pool1d", "max_pool2d", "max_pool3d"};
    static const char *const PUBI[4] = {"", "max_pool1d_with_indices", "max_pool2d_with_indices",
                                        "max_pool3d_with_indices"};
    const char *fn = indices ? PUBI[nsp] : PUB[nsp];
    if (cnnc__check_ints(fn, "kernel_size", &o.kernel_size) || cnnc__check_ints(fn, "stride", &o.stride) ||
        cnnc__check_ints(fn, "padding", &o.padding) || cnnc__check_ints(fn, "dilation", &o.dilation))
        return NULL;
    return max_pool_common(x, nsp, &o, indices != NULL, indices, fn);
}

cnnc_tensor *cnnc__op_avg_pool(cnnc_tensor *x, int nsp, const cnnc_ints *kernel, const cnnc_ints *stride,
                               const cnnc_ints *padding, bool ceil_mode, bool count_include_pad,
                               cnnc_optional_int divisor) {
    static const char *const PUB[4] = {"", "avg_pool1d", "avg_pool2d", "avg_pool3d"};
    if (cnnc__check_tensor(PUB[nsp], "input", x, true) != CNNC_OK ||
        cnnc__check_ints(PUB[nsp], "kernel_size", kernel) || cnnc__check_ints(PUB[nsp], "stride", stride) ||
        cnnc__check_ints(PUB[nsp], "padding", padding))
        return NULL;
    return avg_pool_core(x, nsp, PUB[nsp], kernel, stride, padding, ceil_mode, count_include_pad, divisor);
}

cnnc_tensor *cnnc__op_adaptive_avg(cnnc_tensor *x, int nsp, cnnc_ints output_size) {
    static const char *const PUB[4] = {"", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"};
    if (cnnc__check_ints(PUB[nsp], "output_size", &output_size)) return NULL;
    return adaptive_avg_common(x, nsp, &output_size, PUB[nsp]);
}

cnnc_tensor *cnnc__op_adaptive_max(cnnc_tensor *x, int nsp, cnnc_ints output_size, cnnc_tensor **indices) {
    static const char *const PUB[4] = {"", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"};
    if (cnnc__check_ints(PUB[nsp], "output_size", &output_size)) return NULL;
    return adaptive_max_common(x, nsp, &output_size, indices != NULL, indices, PUB[nsp]);
}

cnnc_tensor *cnnc__op_max_unpool(cnnc_tensor *x, cnnc_tensor *indices, int nsp, cnnc_max_unpool_options o) {
    static const char *const PUB[4] = {"", "max_unpool1d", "max_unpool2d", "max_unpool3d"};
    if (cnnc__check_ints(PUB[nsp], "kernel_size", &o.kernel_size) ||
        cnnc__check_ints(PUB[nsp], "stride", &o.stride) || cnnc__check_ints(PUB[nsp], "padding", &o.padding) ||
        cnnc__check_ints(PUB[nsp], "output_size", &o.output_size))
        return NULL;
    return max_unpool_common(x, indices, nsp, &o, PUB[nsp]);
}

/* Gives an (output, indices) pair to the caller's scope; on failure neither leaks. */
static cnnc_tensor *give_pair(cnnc_tensor *y, cnnc_tensor **indices) {
    if (!y) return NULL;
    cnnc_tensor *idx = *indices;
    *indices = NULL;
    y = cnnc__give(y);
    if (!y) {
        cnnc_tensor_release(idx);
        return NULL;
    }
    idx = cnnc__give(idx);
    if (!idx) return NULL; /* y stays owned by the scope (or is the caller's) */
    *indices = idx;
    return y;
}

#define IDX_OUT_CHECK(fn)                                                                          \
    do {                                                                                           \
        if (!indices) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, fn "(): argument 'indices' is NULL"); \
        *indices = NULL;                                                                           \
    } while (0)

cnnc_tensor *cnnc_max_pool1d(cnnc_tensor *x, cnnc_max_pool_options o) { return cnnc__give(cnnc__op_max_pool(x, 1, o, NULL)); }
cnnc_tensor *cnnc_max_pool2d(cnnc_tensor *x, cnnc_max_pool_options o) { return cnnc__give(cnnc__op_max_pool(x, 2, o, NULL)); }
cnnc_tensor *cnnc_max_pool3d(cnnc_tensor *x, cnnc_max_pool_options o) { return cnnc__give(cnnc__op_max_pool(x, 3, o, NULL)); }
cnnc_tensor *cnnc_max_pool1d_with_indices(cnnc_tensor *x, cnnc_max_pool_options o, cnnc_tensor **indices) {
    IDX_OUT_CHECK("max_pool1d_with_indices");
    return give_pair(cnnc__op_max_pool(x, 1, o, indices), indices);
}
cnnc_tensor *cnnc_max_pool2d_with_indices(cnnc_tensor *x, cnnc_max_pool_options o, cnnc_tensor **indices) {
    IDX_OUT_CHECK("max_pool2d_with_indices");
    return give_pair(cnnc__op_max_pool(x, 2, o, indices), indices);
}
cnnc_tensor *cnnc_max_pool3d_with_indices(cnnc_tensor *x, cnnc_max_pool_options o, cnnc_tensor **indices) {
    IDX_OUT_CHECK("max_pool3d_with_indices");
    return give_pair(cnnc__op_max_pool(x, 3, o, indices), indices);
}

cnnc_tensor *cnnc_max_unpool1d(cnnc_tensor *x, cnnc_tensor *i, cnnc_max_unpool_options o) {
    return cnnc__give(cnnc__op_max_unpool(x, i, 1, o));
}
cnnc_tensor *cnnc_max_unpool2d(cnnc_tensor *x, cnnc_tensor *i, cnnc_max_unpool_options o) {
    return cnnc__give(cnnc__op_max_unpool(x, i, 2, o));
}
cnnc_tensor *cnnc_max_unpool3d(cnnc_tensor *x, cnnc_tensor *i, cnnc_max_unpool_options o) {
    return cnnc__give(cnnc__op_max_unpool(x, i, 3, o));
}

cnnc_tensor *cnnc_avg_pool1d(cnnc_tensor *x, cnnc_avg_pool1d_options o) {
    return cnnc__give(cnnc__op_avg_pool(x, 1, &o.kernel_size, &o.stride, &o.padding, o.ceil_mode,
                                        o.count_include_pad, (cnnc_optional_int){false, 0}));
}
cnnc_tensor *cnnc_avg_pool2d(cnnc_tensor *x, cnnc_avg_pool_options o) {
    return cnnc__give(cnnc__op_avg_pool(x, 2, &o.kernel_size, &o.stride, &o.padding, o.ceil_mode,
                                        o.count_include_pad, o.divisor_override));
}
cnnc_tensor *cnnc_avg_pool3d(cnnc_tensor *x, cnnc_avg_pool_options o) {
    return cnnc__give(cnnc__op_avg_pool(x, 3, &o.kernel_size, &o.stride, &o.padding, o.ceil_mode,
                                        o.count_include_pad, o.divisor_override));
}

cnnc_tensor *cnnc_adaptive_avg_pool1d(cnnc_tensor *x, cnnc_ints s) { return cnnc__give(cnnc__op_adaptive_avg(x, 1, s)); }
cnnc_tensor *cnnc_adaptive_avg_pool2d(cnnc_tensor *x, cnnc_ints s) { return cnnc__give(cnnc__op_adaptive_avg(x, 2, s)); }
cnnc_tensor *cnnc_adaptive_avg_pool3d(cnnc_tensor *x, cnnc_ints s) { return cnnc__give(cnnc__op_adaptive_avg(x, 3, s)); }
cnnc_tensor *cnnc_adaptive_max_pool1d(cnnc_tensor *x, cnnc_ints s) { return cnnc__give(cnnc__op_adaptive_max(x, 1, s, NULL)); }
cnnc_tensor *cnnc_adaptive_max_pool2d(cnnc_tensor *x, cnnc_ints s) { return cnnc__give(cnnc__op_adaptive_max(x, 2, s, NULL)); }
cnnc_tensor *cnnc_adaptive_max_pool3d(cnnc_tensor *x, cnnc_ints s) { return cnnc__give(cnnc__op_adaptive_max(x, 3, s, NULL)); }
cnnc_tensor *cnnc_adaptive_max_pool1d_with_indices(cnnc_tensor *x, cnnc_ints s, cnnc_tensor **indices) {
    IDX_OUT_CHECK("adaptive_max_pool1d_with_indices");
    return give_pair(cnnc__op_adaptive_max(x, 1, s, indices), indices);
}
cnnc_tensor *cnnc_adaptive_max_pool2d_with_indices(cnnc_tensor *x, cnnc_ints s, cnnc_tensor **indices) {
    IDX_OUT_CHECK("adaptive_max_pool2d_with_indices");
    return give_pair(cnnc__op_adaptive_max(x, 2, s, indices), indices);
}
cnnc_tensor *cnnc_adaptive_max_pool3d_with_indices(cnnc_tensor *x, cnnc_ints s, cnnc_tensor **indices) {
    IDX_OUT_CHECK("adaptive_max_pool3d_with_indices");
    return give_pair(cnnc__op_adaptive_max(x, 3, s, indices), indices);
}
