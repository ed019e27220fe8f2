/* Pooling ops: max and average pooling (1-d, 2-d, 3-d), the rules and drivers the
 * pool family shares (pool_internal.h), and the public wrappers of the family.
 *
 * Validation follows PyTorch 1.13 step by step (its order decides which message a
 * doubly wrong call gets): first the window arguments (window_1d / window_nd), then
 * the input's shape and the output size (max_shape_check, avg_shape_check). */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "ops/pool_internal.h"

const char *const cnnc__pool_tuple_word[4] = {"", "one", "two", "three"};

/* ======================================================================== */
/* Shared rules and drivers                                                 */
/* ======================================================================== */

cnnc__cost cnnc__pool_cost(int64_t plane_elems) {
    return (cnnc__cost){.bytes = 8.0 * (double)plane_elems};
}

int cnnc__pool_unsqueeze(const cnnc_tensor *x, int64_t *shape) {
    int n = x->ndim;
    for (int i = 0; i < n - 1; i++) shape[i] = x->shape[i];
    shape[n - 1] = 1;
    if (n >= 1) shape[n] = x->shape[n - 1];
    return n + 1;
}

int64_t cnnc__pool_planes(int ndim, const int64_t *shape, int nsp) {
    int64_t n = 1;
    for (int i = 0; i < ndim - nsp; i++) n *= shape[i];
    return n;
}

void cnnc__pool_sizes_window(cnnc__window *g, int ndim, const int64_t *shape, int nsp,
                             const int64_t *out) {
    cnnc__window_fill(g, nsp, cnnc__pool_planes(ndim, shape, nsp), shape + ndim - nsp, out, NULL,
                      NULL, NULL, NULL);
}

cnnc_status cnnc__pool_check_rank_1d(const char *fn, const cnnc_tensor *x) {
    if (x->ndim < 2 || x->ndim > 3)
        return POOL_ERR("Expected 2 to 3 dimensions, but got %d-dimensional tensor for argument #1 "
                        "'self' (while checking arguments for %s)", x->ndim, fn);
    return CNNC_OK;
}

cnnc_status cnnc__pool_check1d(const char *fn, const char *arg, const cnnc_ints *v) {
    int64_t list[CNNC_MAX_DIMS];
    int n = cnnc__int_list(v, 1, list);
    if (n != 1) return POOL_ERR("%s() argument '%s' should contain one int (got %d)", fn, arg, n);
    return CNNC_OK;
}

cnnc_status cnnc__pool_check_int_range(int n, const int64_t *v) {
    for (int i = 0; i < n; i++)
        if (v[i] < INT_MIN || v[i] > INT_MAX) return POOL_ERR("integer out of range");
    return CNNC_OK;
}

typedef struct {
    cnnc__window g;
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
} max_ctx;

static cnnc_status scatter_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    cnnc__k_index_scatter_add(j->out, j->gy, j->idx, j->isize, j->osize, b, e);
    return CNNC_OK;
}

/* gradient of max pooling and adaptive max pooling: scatter by the saved argmax */
static cnnc_status argmax_backward(cnnc__node *n, cnnc_tensor *gy, cnnc_tensor **gi) {
    max_ctx *c = n->ctx;
    cnnc_tensor *idx = n->saved[0];
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    cnnc__pool_job j = {.out = cnnc__f32(gi[0]), .idx = cnnc__i64(idx), .gy = cnnc__f32(gy),
                        .isize = cnnc__window_in_size(&c->g), .osize = cnnc__window_out_size(&c->g)};
    if (gi[0]->numel) cnnc__parallel_for(c->g.n, cnnc__pool_cost(j.isize + j.osize), scatter_range, &j);
    return CNNC_OK;
}

cnnc_tensor *cnnc__pool_finish_argmax(cnnc_tensor *x, const cnnc__window *g, int out_ndim,
                                      const int64_t *out_shape, bool want_idx,
                                      cnnc_tensor **indices, cnnc__range_fn fn,
                                      const char *node_name) {
    bool grad = cnnc__any_requires_grad(1, &x);
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, out_ndim, out_shape);
    cnnc_tensor *idx = (want_idx || grad) ? cnnc__tensor_new(CNNC_INT64, out_ndim, out_shape) : NULL;
    if (!out || ((want_idx || grad) && !idx)) goto fail;
    cnnc__pool_job j = {.out = cnnc__f32(out), .idx = idx ? cnnc__i64(idx) : NULL,
                        .x = cnnc__f32(x), .g = g, .isa = cnnc__isa_active()};
    if (out->numel) cnnc__parallel_for(g->n, cnnc__pool_cost(cnnc__window_in_size(g)), fn, &j);
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

/* ======================================================================== */
/* The window arguments                                                     */
/* ======================================================================== */

/* kernel_size, stride, padding, dilation as the op's kernel runs them (a 1-d op
 * runs as 2-d: nsp 2 with a unit first dim). */
typedef struct pool_window {
    int nsp;
    int64_t k[3], s[3], p[3], d[3];
} pool_window;

/* How an op words "a single value or one per dim" for each argument:
 * "<op>: <arg> must <phrase>, or a tuple of <two> ints". */
typedef struct window_words {
    const char *kernel, *stride, *padding, *dilation;
} window_words;
static const window_words MAX_WORDS = {"either be a single int", "either be omitted, a single int",
                                       "be either be a single int", "be either a single int"};
static const window_words AVG2_WORDS = {"either be a single int", "either be omitted, a single int",
                                        "either be a single int", NULL};
static const window_words AVG3_WORDS = {"be a single int", "be omitted, a single int",
                                        "be a single int", NULL};

/* One argument of a 2-d/3-d op: the rule, then the int downcast. empty_as: the
 * values an empty list (None or ()) stands for (stride: the kernel), or NULL. */
static cnnc_status window_arg(const char *fn, int nsp, const char *name, const char *phrase,
                              const cnnc_ints *v, const int64_t *empty_as, int64_t *out) {
    int64_t list[CNNC_MAX_DIMS];
    if (empty_as && cnnc__int_list(v, nsp, list) == 0)
        memcpy(out, empty_as, (size_t)nsp * sizeof(int64_t));
    else if (!cnnc__expand_ints(v, nsp, nsp, out))
        return POOL_ERR("%s: %s must %s, or a tuple of %s ints", fn, name, phrase,
                        cnnc__pool_tuple_word[nsp]);
    return cnnc__pool_check_int_range(nsp, out);
}

/* The arguments of max_pool{2,3}d / avg_pool{2,3}d (d: NULL for average pooling). */
static cnnc_status window_nd(const char *fn, int nsp, const window_words *w, const cnnc_ints *k,
                             const cnnc_ints *s, const cnnc_ints *p, const cnnc_ints *d,
                             pool_window *out) {
    out->nsp = nsp;
    for (int i = 0; i < 3; i++) out->d[i] = 1;
    if (window_arg(fn, nsp, "kernel_size", w->kernel, k, NULL, out->k) != CNNC_OK ||
        window_arg(fn, nsp, "stride", w->stride, s, out->k, out->s) != CNNC_OK ||
        window_arg(fn, nsp, "padding", w->padding, p, NULL, out->p) != CNNC_OK ||
        (d && window_arg(fn, nsp, "dilation", w->dilation, d, NULL, out->d) != CNNC_OK))
        return CNNC_ERR_INVALID_ARGUMENT;
    return CNNC_OK;
}

/* The arguments of max_pool1d / avg_pool1d (d: NULL for average pooling): the input's
 * rank, one value each (stride None or (): the kernel), run as 2-d on [.., 1, L]. */
static cnnc_status window_1d(const char *fn, const cnnc_tensor *x, const cnnc_ints *k,
                             const cnnc_ints *s, const cnnc_ints *p, const cnnc_ints *d,
                             pool_window *out) {
    int64_t list[CNNC_MAX_DIMS];
    const cnnc_ints *stride = cnnc__int_list(s, 1, list) == 0 ? k : s;
    if (cnnc__pool_check_rank_1d(fn, x) != CNNC_OK || cnnc__pool_check1d(fn, "kernel_size", k) ||
        cnnc__pool_check1d(fn, "stride", stride) || cnnc__pool_check1d(fn, "padding", p) ||
        (d && cnnc__pool_check1d(fn, "dilation", d)))
        return CNNC_ERR_INVALID_ARGUMENT;
    *out = (pool_window){.nsp = 2, .k = {1, k->v[0]}, .s = {1, stride->v[0]}, .p = {0, p->v[0]},
                         .d = {1, d ? d->v[0] : 1}};
    return cnnc__pool_check_int_range(2, out->k) || cnnc__pool_check_int_range(2, out->s) ||
                   cnnc__pool_check_int_range(2, out->p) || cnnc__pool_check_int_range(2, out->d)
               ? CNNC_ERR_INVALID_ARGUMENT
               : CNNC_OK;
}

/* PyTorch's pooling_output_shape: its three checks, then the size per dim. */
static cnnc_status output_sizes(const pool_window *w, const int64_t *in, bool ceil, int64_t *out) {
    for (int i = 0; i < w->nsp; i++) {
        const int64_t k = w->k[i], s = w->s[i], p = w->p[i];
        if (s == 0) return POOL_ERR("stride should not be zero");
        if (p < 0) return POOL_ERR("pad must be non-negative, but got pad: %lld", LL(p));
        if (p > k / 2)
            return POOL_ERR("pad should be at most half of kernel size, but got pad=%lld and "
                            "kernel_size=%lld", LL(p), LL(k));
        if (!cnnc__window_out_len(in[i], k, s, p, p, w->d[i], ceil, &out[i]))
            return POOL_ERR("integer out of range");
    }
    return CNNC_OK;
}

/* kernel, stride (and dilation) > 0, with the 2-d or 3-d wording. */
static cnnc_status positive_window(const pool_window *w, bool dilation) {
    const int64_t *k = w->k, *s = w->s, *d = w->d;
    if (w->nsp == 2) {
        if (k[0] <= 0 || k[1] <= 0)
            return POOL_ERR("kernel size should be greater than zero, but got kH: %lld kW: %lld",
                            LL(k[0]), LL(k[1]));
        if (s[0] <= 0 || s[1] <= 0)
            return POOL_ERR("stride should be greater than zero, but got dH: %lld dW: %lld",
                            LL(s[0]), LL(s[1]));
        if (dilation && (d[0] <= 0 || d[1] <= 0))
            return POOL_ERR("dilation should be greater than zero, but got dilationH: %lld dilationW: %lld",
                            LL(d[0]), LL(d[1]));
        return CNNC_OK;
    }
    if (k[0] <= 0 || k[1] <= 0 || k[2] <= 0)
        return POOL_ERR("kernel size should be greater than zero, but got kT: %lld kH: %lld kW: %lld",
                        LL(k[0]), LL(k[1]), LL(k[2]));
    if (s[0] <= 0 || s[1] <= 0 || s[2] <= 0)
        return POOL_ERR("stride should be greater than zero, but got dT: %lld dH: %lld dW: %lld",
                        LL(s[0]), LL(s[1]), LL(s[2]));
    if (dilation && (d[0] <= 0 || d[1] <= 0 || d[2] <= 0))
        return POOL_ERR("dilation should be greater than zero, but got dilationT: %lld dilationH: %lld "
                        "dilationW: %lld", LL(d[0]), LL(d[1]), LL(d[2]));
    return CNNC_OK;
}

/* The 2-d input rule: [C, H, W] or [N, C, H, W] with non-empty C, H, W. */
static cnnc_status input_2d(int ndim, const int64_t *shape) {
    bool valid = ndim >= 3 && shape[1] != 0 && shape[2] != 0;
    if ((ndim == 3 && shape[0] != 0 && valid) || (ndim == 4 && valid && shape[3] != 0)) return CNNC_OK;
    char sh[256];
    cnnc__shape_str(sh, sizeof sh, ndim, shape);
    return POOL_ERR("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
                    "but got:%s", sh);
}

/* The 3-d input rule: every non-batch dim non-empty (fn names the kernel). */
static cnnc_status input_3d(const char *fn, int ndim, const int64_t *shape) {
    for (int i = ndim == 5 ? 1 : 0; i < ndim; i++)
        if (shape[i] <= 0) {
            char sh[256];
            cnnc__shape_str(sh, sizeof sh, ndim, shape);
            return POOL_ERR("%s(): Expected input's non-batch dimensions to have positive length, but "
                            "input has a shape of %s and non-batch dimension %lld has length zero!",
                            fn, sh, LL(shape[i]));
        }
    return CNNC_OK;
}

/* "Output size is too small" with the input's and output's planes. */
static cnnc_status output_not_empty(int nsp, int ndim, const int64_t *shape, const int64_t *out) {
    const int64_t *in = shape + ndim - nsp, c = shape[ndim - nsp - 1];
    if (nsp == 2 && (out[0] < 1 || out[1] < 1))
        return POOL_ERR("Given input size: (%lldx%lldx%lld). Calculated output size: (%lldx%lldx%lld). "
                        "Output size is too small", LL(c), LL(in[0]), LL(in[1]), LL(c), LL(out[0]),
                        LL(out[1]));
    if (nsp == 3 && (out[0] < 1 || out[1] < 1 || out[2] < 1))
        return POOL_ERR("Given input size: (%lldx%lldx%lldx%lld). Calculated output size: "
                        "(%lldx%lldx%lldx%lld). Output size is too small", LL(c), LL(in[0]),
                        LL(in[1]), LL(in[2]), LL(c), LL(out[0]), LL(out[1]), LL(out[2]));
    return CNNC_OK;
}

/* ======================================================================== */
/* Max pooling                                                              */
/* ======================================================================== */

static cnnc_status max_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    if (!cnnc__k_max_pool2d_fast(j->isa, j->out, j->idx, j->x, j->g, b, e))
        cnnc__k_max_pool_ref(j->out, j->idx, j->x, j->g, b, e);
    return CNNC_OK;
}

/* max_pool{2,3}d_with_indices' checks on a (possibly unsqueezed) shape; fills g. */
static cnnc_status max_shape_check(const pool_window *w, int ndim, const int64_t *shape, bool ceil,
                                   cnnc__window *g) {
    const int nsp = w->nsp;
    if (nsp == 2 && ndim != 3 && ndim != 4)
        return POOL_ERR("non-empty 3D or 4D (batch mode) tensor expected for input");
    if (nsp == 3 && ndim != 4 && ndim != 5)
        return POOL_ERR("non-empty 4D or 5D (batch mode) tensor expected for input");
    const int64_t *in = shape + ndim - nsp;
    int64_t out[3];
    if (output_sizes(w, in, ceil, out) != CNNC_OK || positive_window(w, true) != CNNC_OK ||
        (nsp == 2 ? input_2d(ndim, shape)
                  : input_3d("max_pool3d_with_indices_out_cpu_template", ndim, shape)) != CNNC_OK ||
        output_not_empty(nsp, ndim, shape, out) != CNNC_OK)
        return CNNC_ERR_INVALID_ARGUMENT;
    cnnc__window_fill(g, nsp, cnnc__pool_planes(ndim, shape, nsp), in, out, w->k, w->s, w->p, w->d);
    return CNNC_OK;
}

/* The with-indices path of max_pool{1,2,3}d. */
static cnnc_tensor *max_pool_indices_path(cnnc_tensor *x, int nsp, const cnnc_max_pool_options *o,
                                          bool want_idx, cnnc_tensor **indices) {
    static const char *const NAMES[4] = {"", "max_pool1d", "max_pool2d", "max_pool3d"};
    static const char *const NODES[4] = {"", "SqueezeBackward1", "MaxPool2DWithIndicesBackward0",
                                         "MaxPool3DWithIndicesBackward0"};
    int64_t shape[CNNC_MAX_DIMS + 1];
    int ndim = x->ndim;
    pool_window w;
    if (nsp == 1) {
        if (window_1d(NAMES[1], x, &o->kernel_size, &o->stride, &o->padding, &o->dilation, &w) != CNNC_OK)
            return NULL;
        ndim = cnnc__pool_unsqueeze(x, shape);
    } else {
        if (window_nd(NAMES[nsp], nsp, &MAX_WORDS, &o->kernel_size, &o->stride, &o->padding,
                      &o->dilation, &w) != CNNC_OK)
            return NULL;
        memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
    }
    cnnc__window g;
    if (max_shape_check(&w, ndim, shape, o->ceil_mode, &g) != CNNC_OK) return NULL;
    int64_t oshape[CNNC_MAX_DIMS + 1];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) oshape[x->ndim - nsp + i] = g.out[3 - nsp + i];
    return cnnc__pool_finish_argmax(x, &g, x->ndim, oshape, want_idx, indices, max_range, NODES[nsp]);
}

/* F.max_pool1d without indices and without grad: PyTorch's max_pool1d_impl, with its
 * own argument rules and messages. */
static cnnc_status max_pool1d_impl_args(const cnnc_max_pool_options *o, pool_window *w) {
    int64_t k[CNNC_MAX_DIMS], s[CNNC_MAX_DIMS], p[CNNC_MAX_DIMS], d[CNNC_MAX_DIMS];
    int nk = cnnc__int_list(&o->kernel_size, 1, k), ns = cnnc__int_list(&o->stride, 1, s),
        np = cnnc__int_list(&o->padding, 1, p), nd = cnnc__int_list(&o->dilation, 1, d);
    if (nk != 1)
        return POOL_ERR("max_pool1d() kernel_size must be an int, list of ints or tuple of ints of "
                        "size 1 but got size %d", nk);
    if (ns > 1)
        return POOL_ERR("max_pool1d() stride must be None, an int, list of ints, or tuple of ints of "
                        "size 1 but got size %d", ns);
    if (np != 1)
        return POOL_ERR("max_pool1d() padding must be an int, list of ints, or tuple of ints of size 1 "
                        "but got size %d", np);
    if (nd != 1)
        return POOL_ERR("max_pool1d() dilation must be an int, list of ints or tuple of ints of size 1 "
                        "but got size %d", nd);
    *w = (pool_window){.nsp = 1, .k = {k[0]}, .s = {ns ? s[0] : k[0]}, .p = {p[0]}, .d = {d[0]}};
    if (cnnc__pool_check_int_range(1, w->k) || cnnc__pool_check_int_range(1, w->s) ||
        cnnc__pool_check_int_range(1, w->p) || cnnc__pool_check_int_range(1, w->d))
        return CNNC_ERR_INVALID_ARGUMENT;
    const int64_t K = k[0], S = w->s[0], P = p[0], D = d[0];
    if (K <= 0) return POOL_ERR("max_pool1d() kernel_size must be greater than zero, but got %lld", LL(K));
    if (S <= 0) return POOL_ERR("max_pool1d() stride must be greater than zero, but got %lld", LL(S));
    if (P < 0) return POOL_ERR("max_pool1d() padding must be non-negative, but got %lld", LL(P));
    if (P > K / 2)
        return POOL_ERR("max_pool1d() padding should be at most half of kernel size, but got "
                        "padding=%lld and kernel_size=%lld", LL(P), LL(K));
    if (D <= 0) return POOL_ERR("max_pool1d() dilation must be greater than zero, but got %lld", LL(D));
    return CNNC_OK;
}

static cnnc_tensor *max_pool1d_impl(cnnc_tensor *x, const cnnc_max_pool_options *o) {
    pool_window w;
    if (max_pool1d_impl_args(o, &w) != CNNC_OK) return NULL;
    const int64_t IW = x->shape[x->ndim - 1];
    int64_t OW;
    if (!cnnc__window_out_len(IW, w.k[0], w.s[0], w.p[0], w.p[0], w.d[0], o->ceil_mode, &OW))
        return POOL_ERR_NULL("integer out of range");
    if (OW < 0) return POOL_ERR_NULL("max_pool1d() Invalid computed output size: %lld", LL(OW));
    cnnc__window g;
    cnnc__window_fill(&g, 1, cnnc__pool_planes(x->ndim, x->shape, 1), &IW, &OW, w.k, w.s, w.p, w.d);
    int64_t oshape[CNNC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof oshape);
    oshape[x->ndim - 1] = OW;
    return cnnc__pool_finish_argmax(x, &g, x->ndim, oshape, false, NULL, max_range, "SqueezeBackward1");
}

/* F.max_pool1d's check_max_pool1d: [C, L] or [N, C, L] with non-empty C, L. */
static cnnc_status check_max_pool1d(const cnnc_tensor *x) {
    const int n = x->ndim;
    if ((n == 2 && x->shape[0] != 0 && x->shape[1] != 0) ||
        (n == 3 && x->shape[1] != 0 && x->shape[2] != 0))
        return CNNC_OK;
    char sh[256];
    cnnc__shape_str(sh, sizeof sh, n, x->shape);
    return POOL_ERR("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
                    "for input, but got:%s", sh);
}

static cnnc_tensor *max_pool_common(cnnc_tensor *x, int nsp, const cnnc_max_pool_options *o,
                                    bool want_idx, cnnc_tensor **indices, const char *pubname) {
    if (indices) *indices = NULL;
    if (cnnc__check_tensor(pubname, "input", x, true) != CNNC_OK) return NULL;
    if (want_idx && !indices) return POOL_ERR_NULL("%s(): argument 'indices' is NULL", pubname);
    if (!want_idx && o->return_indices)
        return POOL_ERR_NULL("%s(): return_indices=True returns (output, indices): call "
                             "%s_with_indices", pubname, pubname);
    if (nsp == 1 && !want_idx) { /* F.max_pool1d: one of PyTorch's two paths */
        if (check_max_pool1d(x) != CNNC_OK) return NULL;
        if (!cnnc__any_requires_grad(1, &x)) return max_pool1d_impl(x, o);
    }
    return max_pool_indices_path(x, nsp, o, want_idx, indices);
}

/* ======================================================================== */
/* Average pooling                                                          */
/* ======================================================================== */

typedef struct {
    cnnc__window g;
    cnnc__avg_opts a;
    int in_ndim;
    int64_t in_shape[CNNC_MAX_DIMS];
} avg_ctx;

static cnnc_status avg_range_fn(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    if (!cnnc__k_avg_pool2d_fast(j->out, j->x, j->g, j->avg, b, e))
        cnnc__k_avg_pool_ref(j->out, j->x, j->g, j->avg, b, e);
    return CNNC_OK;
}

static cnnc_status avg_back_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    cnnc__pool_job *j = ctx;
    if (!cnnc__k_avg_pool2d_backward_fast(j->out, j->gy, j->g, j->avg, b, e))
        cnnc__k_avg_pool_backward_ref(j->out, j->gy, j->g, j->avg, b, e);
    return CNNC_OK;
}

static cnnc_status avg_backward(cnnc__node *n, cnnc_tensor *gy, cnnc_tensor **gi) {
    avg_ctx *c = n->ctx;
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, c->in_ndim, c->in_shape);
    if (!gi[0]) return cnnc_last_status();
    cnnc__pool_job j = {.out = cnnc__f32(gi[0]), .gy = cnnc__f32(gy), .g = &c->g, .avg = &c->a};
    if (gi[0]->numel)
        cnnc__parallel_for(c->g.n, cnnc__pool_cost(cnnc__window_in_size(&c->g)), avg_back_range, &j);
    return CNNC_OK;
}

/* avg_pool{2,3}d's checks on a (possibly unsqueezed) shape; fills g. */
static cnnc_status avg_shape_check(const pool_window *w, int ndim, const int64_t *shape, bool ceil,
                                   cnnc__window *g) {
    const int nsp = w->nsp;
    if (nsp == 2 && ndim < 3) { /* PyTorch reads input.size(-3) */
        int unused;
        return cnnc__wrap_dim(-3, ndim, &unused);
    }
    const int64_t *in = shape + ndim - nsp;
    int64_t out[3];
    if (output_sizes(w, in, ceil, out) != CNNC_OK || positive_window(w, false) != CNNC_OK)
        return CNNC_ERR_INVALID_ARGUMENT;
    if (nsp == 2 && input_2d(ndim, shape) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    if (nsp == 3) {
        if (input_3d("avg_pool3d", ndim, shape) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
        if (in[0] < w->k[0] || in[1] < w->k[1] || in[2] < w->k[2])
            return POOL_ERR("input image (T: %lld H: %lld W: %lld) smaller than kernel size (kT: %lld "
                            "kH: %lld kW: %lld)", LL(in[0]), LL(in[1]), LL(in[2]), LL(w->k[0]),
                            LL(w->k[1]), LL(w->k[2]));
    }
    if (output_not_empty(nsp, ndim, shape, out) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    cnnc__window_fill(g, nsp, cnnc__pool_planes(ndim, shape, nsp), in, out, w->k, w->s, w->p, w->d);
    return CNNC_OK;
}

/* The arguments of avg_pool{1,2,3}d, then the input's rank (3-d) and divisor. */
static cnnc_status avg_args(cnnc_tensor *x, int nsp, const char *fn, const cnnc_ints *kernel,
                            const cnnc_ints *stride, const cnnc_ints *padding,
                            cnnc_optional_int divisor, pool_window *w) {
    if (nsp == 1) {
        if (window_1d(fn, x, kernel, stride, padding, NULL, w) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    } else {
        if (window_nd(fn, nsp, nsp == 2 ? &AVG2_WORDS : &AVG3_WORDS, kernel, stride, padding, NULL,
                      w) != CNNC_OK)
            return CNNC_ERR_INVALID_ARGUMENT;
        if (nsp == 3 && x->ndim != 4 && x->ndim != 5)
            return POOL_ERR("non-empty 4D or 5D (batch mode) tensor expected for input");
    }
    if (divisor.has_value && divisor.value == 0) return POOL_ERR("divisor must be not zero");
    return CNNC_OK;
}

static cnnc_tensor *avg_pool_run(cnnc_tensor *x, int nsp, const cnnc__window *g, cnnc__avg_opts a) {
    static const char *const NODES[4] = {"", "SqueezeBackward1", "AvgPool2DBackward0", "AvgPool3DBackward0"};
    int64_t oshape[CNNC_MAX_DIMS];
    memcpy(oshape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < nsp; i++) oshape[x->ndim - nsp + i] = g->out[3 - nsp + i];
    cnnc_tensor *y = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, oshape);
    if (!y) return NULL;
    cnnc__pool_job j = {.out = cnnc__f32(y), .x = cnnc__f32(x), .g = g, .avg = &a};
    if (y->numel) cnnc__parallel_for(g->n, cnnc__pool_cost(cnnc__window_in_size(g)), avg_range_fn, &j);
    void *vctx = NULL;
    if (cnnc__record(y, NODES[nsp], avg_backward, 1, &x, 0, NULL, sizeof(avg_ctx), &vctx) != CNNC_OK) {
        cnnc_tensor_release(y);
        return NULL;
    }
    if (vctx) {
        avg_ctx *c = vctx;
        c->g = *g;
        c->a = a;
        c->in_ndim = x->ndim;
        memcpy(c->in_shape, x->shape, sizeof c->in_shape);
    }
    return y;
}

static cnnc_tensor *avg_pool_core(cnnc_tensor *x, int nsp, const char *fn, const cnnc_ints *kernel,
                                  const cnnc_ints *stride, const cnnc_ints *padding, bool ceil,
                                  bool count_include_pad, cnnc_optional_int divisor) {
    pool_window w;
    if (avg_args(x, nsp, fn, kernel, stride, padding, divisor, &w) != CNNC_OK) return NULL;
    int64_t shape[CNNC_MAX_DIMS + 1];
    int ndim = x->ndim;
    if (nsp == 1)
        ndim = cnnc__pool_unsqueeze(x, shape);
    else
        memcpy(shape, x->shape, sizeof(int64_t) * (size_t)ndim);
    cnnc__window g;
    if (avg_shape_check(&w, ndim, shape, ceil, &g) != CNNC_OK) return NULL;
    return avg_pool_run(x, nsp, &g, (cnnc__avg_opts){count_include_pad, divisor.has_value, divisor.value});
}

/* ======================================================================== */
/* Entry points                                                             */
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
