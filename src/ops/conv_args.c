/* The argument rules of F.conv1d/2d/3d and F.conv_transpose1d/2d/3d: PyTorch 1.13's
 * ATen checks (convolution_same, _convolution, check_shape_forward, the backend
 * selection and the slow_conv_transpose shape checks), in its order, with its
 * messages, each a small rule; cnnc__conv_validate runs them and builds the window. */
#include <string.h>

#include "core/alloc.h"
#include "core/args.h"
#include "core/error.h"
#include "ops/conv.h"

#define ERR(...) cnnc__error(CNNC_ERR_INVALID_ARGUMENT, __VA_ARGS__)
#define LL(x) ((long long)(x))

static cnnc_status overflow_error(const char *fn) {
    return ERR("%s(): the convolution sizes overflow int64", fn);
}

/* ---- the input and the window arguments --------------------------------------------- */

/* The input as a batch: [C, *] gets a unit batch dim (xs); its rank must fit dim. */
static cnnc_status batchify(const cnnc__conv_call *c, const cnnc_tensor *x, cnnc__conv_setup *s) {
    if (x->ndim != c->dim + 1 && x->ndim != c->dim + 2) {
        char b[256];
        cnnc__shape_str(b, sizeof b, x->ndim, x->shape);
        return ERR("Expected %dD (unbatched) or %dD (batched) input to %s, but got input of size: %s",
                   c->dim + 1, c->dim + 2, c->fn, b);
    }
    s->unbatched = x->ndim == c->dim + 1;
    s->xs[0] = 1;
    for (int i = 0; i < x->ndim; i++) s->xs[i + (s->unbatched ? 1 : 0)] = x->shape[i];
    return CNNC_OK;
}

/* An `int[dim]` parameter (an int is dim copies) through ATen's
 * expand_param_if_needed: one value for every spatial dim, or exactly sd values. */
static cnnc_status param(const cnnc__conv_call *c, const char *name, const cnnc_ints *v, int sd,
                         int64_t *out) {
    if (cnnc__expand_ints(v, c->dim, sd, out)) return CNNC_OK;
    int64_t list[CNNC_MAX_DIMS];
    char buf[CNNC__ARGS_STR_CAP];
    cnnc__list_str(buf, sizeof buf, cnnc__int_list(v, c->dim, list), list, "[", ", ", "]");
    return ERR("expected %s to be a single integer value or a list of %d values to match the "
               "convolution dimensions, but got %s=%s", name, sd, name, buf);
}

/* 'same' padding (ATen's convolution_same): its own checks, then the padding per dim,
 * d (k - 1) in total, the odd element after the data. */
static cnnc_status same_padding(const cnnc__conv_call *c, const cnnc_tensor *w, cnnc__conv_setup *s) {
    if (w->ndim < 3) return ERR("weight should have at least three dimensions");
    const int sd = w->ndim - 2;
    if (w->ndim != c->dim + 2) {
        char ws[256], xs[256];
        cnnc__shape_str(ws, sizeof ws, w->ndim, w->shape);
        cnnc__shape_str(xs, sizeof xs, c->dim + 2, s->xs);
        return ERR("Expected %d-dimensional input for %d-dimensional weight%s, but got %d-dimensional "
                   "input of size %s instead", w->ndim, w->ndim, ws, c->dim + 2, xs);
    }
    int64_t st[CNNC_MAX_DIMS], dl[CNNC_MAX_DIMS];
    const int ns = cnnc__int_list(c->stride, c->dim, st), ndl = cnnc__int_list(c->dilation, c->dim, dl);
    if (ns != sd && ns != 1) return ERR("stride cannot broadcast to %d dimensions", sd);
    if (ndl != sd && ndl != 1) return ERR("dilation cannot broadcast to %d dimensions", sd);
    for (int i = 0; i < ns; i++)
        if (st[i] != 1) return ERR("padding='same' is not supported for strided convolutions");
    for (int i = 0; i < sd; i++) {
        int64_t d = ndl == 1 ? dl[0] : dl[i], k = w->shape[i + 2], total = 0;
        /* a non-positive dilation or kernel gets no padding; later rules refuse it */
        if (d > 0 && k > 0 && !cnnc__mul_i64(d, k - 1, &total)) return overflow_error(c->fn);
        s->pad_l[i] = total / 2;
        s->pad_r[i] = total - total / 2;
    }
    return CNNC_OK;
}

/* padding_str: "same" (its padding now), "valid" (zeros), or an error. *given: the
 * padding comes from the int/tuple argument. */
static cnnc_status padding_string(const cnnc__conv_call *c, const cnnc_tensor *w, cnnc__conv_setup *s,
                                  bool *given) {
    *given = c->padding_str == NULL;
    if (!c->padding_str || strcmp(c->padding_str, "valid") == 0) return CNNC_OK;
    if (strcmp(c->padding_str, "same") == 0) return same_padding(c, w, s);
    return ERR("Invalid padding string: '%s'", c->padding_str);
}

/* _convolution: the weight's rank, groups, and stride / padding / dilation /
 * output_padding expanded to the weight's spatial dims. */
static cnnc_status window_params(const cnnc__conv_call *c, const cnnc_tensor *w, bool pad_given,
                                 cnnc__conv_setup *s) {
    if (w->ndim < 3) return ERR("weight should have at least three dimensions");
    if (c->groups <= 0) return ERR("non-positive groups is not supported");
    const int sd = s->sd = w->ndim - 2;
    if (param(c, "stride", c->stride, sd, s->stride) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    if (pad_given && param(c, "padding", c->padding, sd, s->pad_l) != CNNC_OK)
        return CNNC_ERR_INVALID_ARGUMENT;
    if (pad_given) memcpy(s->pad_r, s->pad_l, sizeof s->pad_r);
    if (param(c, "dilation", c->dilation, sd, s->dil) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    if (c->transposed && param(c, "output_padding", c->output_padding, sd, s->out_pad) != CNNC_OK)
        return CNNC_ERR_INVALID_ARGUMENT;
    return CNNC_OK;
}

/* check_shape_forward's first rules: signs of padding, output_padding, stride. */
static cnnc_status param_signs(const cnnc__conv_setup *s) {
    for (int i = 0; i < s->sd; i++)
        if (s->pad_l[i] < 0 || s->pad_r[i] < 0) return ERR("negative padding is not supported");
    for (int i = 0; i < s->sd; i++)
        if (s->out_pad[i] < 0) return ERR("negative output_padding is not supported");
    for (int i = 0; i < s->sd; i++)
        if (s->stride[i] <= 0) return ERR("non-positive stride is not supported");
    return CNNC_OK;
}

/* ---- the weight against the input ------------------------------------------------------ */

/* The weight's rank against the input's, and dim 0 against groups. */
/* The weight's, the input's (as a batch) and the bias's shapes as PyTorch prints them:
 * formatted for a message only (five shapes formatted on every call were a tenth of the
 * seed net's 1 -> 3 convolution at batch 64). */
typedef struct shape_strs {
    char w[256], x[256], b[256];
} shape_strs;

static const shape_strs *fmt_shapes(shape_strs *t, const cnnc__conv_call *c, const cnnc_tensor *w,
                                    const cnnc_tensor *b, const cnnc__conv_setup *s) {
    cnnc__shape_str(t->w, sizeof t->w, w->ndim, w->shape);
    cnnc__shape_str(t->x, sizeof t->x, c->dim + 2, s->xs);
    t->b[0] = '\0';
    if (b) cnnc__shape_str(t->b, sizeof t->b, b->ndim, b->shape);
    return t;
}

static cnnc_status weight_vs_groups(const cnnc__conv_call *c, const cnnc_tensor *w,
                                    const cnnc__conv_setup *s) {
    shape_strs t;
    const int xnd = c->dim + 2;
    if (w->ndim != xnd)
        return ERR("Expected %d-dimensional input for %d-dimensional weight %s, but got %d-dimensional "
                   "input of size %s instead", w->ndim, w->ndim, fmt_shapes(&t, c, w, NULL, s)->w,
                   xnd, t.x);
    const long long groups = c->groups;
    if (w->shape[0] < c->groups)
        return ERR("Given groups=%lld, expected weight to be at least %lld at dimension 0, but got "
                   "weight of size %s instead", groups, groups, fmt_shapes(&t, c, w, NULL, s)->w);
    if (w->shape[0] % c->groups != 0) /* PyTorch prints the size in two pairs of brackets here */
        return ERR("Given groups=%lld, expected weight to be divisible by %lld at dimension 0, but "
                   "got weight of size [%s] instead", groups, groups, fmt_shapes(&t, c, w, NULL, s)->w);
    return CNNC_OK;
}

/* A convolution: input channels and bias against the weight, the kernel within the
 * padded input, then the output sizes. */
static cnnc_status forward_shape(const cnnc__conv_call *c, const cnnc_tensor *w, const cnnc_tensor *b,
                                 cnnc__conv_setup *s) {
    shape_strs t;
    const int64_t cin = s->xs[1], w0 = w->shape[0];
    int64_t want;
    if (!cnnc__mul_i64(w->shape[1], c->groups, &want)) return overflow_error(c->fn);
    if (cin != want)
        return ERR("Given groups=%lld, weight of size %s, expected input%s to have %lld channels, but "
                   "got %lld channels instead", LL(c->groups), fmt_shapes(&t, c, w, b, s)->w, t.x,
                   LL(want), LL(cin));
    if (b && (b->ndim != 1 || b->shape[0] != w0))
        return ERR("Given weight of size %s, expected bias to be 1-dimensional with %lld elements, "
                   "but got bias of size %s instead", fmt_shapes(&t, c, w, b, s)->w, LL(w0), t.b);
    int64_t padded[CNNC_MAX_DIMS], kern[CNNC_MAX_DIMS];
    bool fits = true;
    for (int i = 0; i < s->sd; i++) {
        int64_t t;
        if (!cnnc__add_i64(s->xs[i + 2], s->pad_l[i], &t) || !cnnc__add_i64(t, s->pad_r[i], &padded[i]) ||
            !cnnc__mul_i64(s->dil[i], w->shape[i + 2] - 1, &t) || !cnnc__add_i64(t, 1, &kern[i]))
            return overflow_error(c->fn);
        fits &= padded[i] >= kern[i];
    }
    if (!fits) {
        cnnc__list_str(t.x, sizeof t.x, s->sd, padded, "", " x ", "");
        cnnc__list_str(t.w, sizeof t.w, s->sd, kern, "", " x ", "");
        return ERR("Calculated padded input size per channel: (%s). Kernel size: (%s). Kernel size "
                   "can't be greater than actual input size", t.x, t.w);
    }
    s->cout = cin == 0 ? 0 : w0; /* zero input channels give zero output channels */
    for (int i = 0; i < s->sd; i++)
        if (!cnnc__window_out_len(s->xs[i + 2], w->shape[i + 2], s->stride[i], s->pad_l[i],
                                  s->pad_r[i], s->dil[i], false, &s->out_shape[i + 2]))
            /* the kernel reach is hugely negative with a negative dilation */
            return s->dil[i] <= 0 ? ERR("non-positive dilation is not supported") : overflow_error(c->fn);
    return CNNC_OK;
}

/* A transposed convolution: input channels and bias against the weight, then the
 * output sizes (n - 1) s - 2p + dil (k - 1) + op + 1. */
static cnnc_status transposed_shape(const cnnc__conv_call *c, const cnnc_tensor *w,
                                    const cnnc_tensor *b, cnnc__conv_setup *s) {
    shape_strs t;
    const int64_t cin = s->xs[1], w0 = w->shape[0];
    if (cin != w0)
        return ERR("Given transposed=1, weight of size %s, expected input%s to have %lld channels, but "
                   "got %lld channels instead", fmt_shapes(&t, c, w, b, s)->w, t.x, LL(w0), LL(cin));
    if (!cnnc__mul_i64(w->shape[1], c->groups, &s->cout)) return overflow_error(c->fn);
    if (b && (b->ndim != 1 || b->shape[0] != s->cout))
        return ERR("Given transposed=1, weight of size %s, expected bias to be 1-dimensional with %lld "
                   "elements, but got bias of size %s instead", fmt_shapes(&t, c, w, b, s)->w,
                   LL(s->cout), t.b);
    for (int i = 0; i < s->sd; i++)
        if (!cnnc__window_transposed_len(s->xs[i + 2], w->shape[i + 2], s->stride[i], s->pad_l[i],
                                         s->pad_l[i], s->dil[i], s->out_pad[i], &s->out_shape[i + 2]))
            return overflow_error(c->fn);
    return CNNC_OK;
}

/* ---- the backends' own checks (ATen runs 1-d as 2-d: its messages show a unit dim) ---- */

/* shape with a unit dim inserted at dim 2 when sd is 1 (ATen's 2-d view of 1-d). */
static int view_2d(int sd, int ndim, const int64_t *shape, int64_t *view) {
    int vn = 0;
    for (int i = 0; i < ndim; i++) {
        if (sd == 1 && i == 2) view[vn++] = 1;
        view[vn++] = shape[i];
    }
    return vn;
}

/* Per-dim values in ATen's 2-d view (a leading `unit` when sd is 1). */
static void values_2d(int sd, const int64_t *v, int64_t unit, int64_t *out) {
    for (int i = 0; i < (sd == 1 ? 2 : sd); i++) out[i] = sd == 1 ? (i == 0 ? unit : v[0]) : v[i];
}

/* Backend selection: only a zero batch or zero channels may be empty. */
static cnnc_status empty_input(const cnnc__conv_call *c, cnnc__conv_setup *s) {
    const int xnd = c->dim + 2;
    s->empty = s->xs[0] == 0 || s->xs[1] == 0;
    int64_t numel = 1;
    for (int i = 0; i < xnd; i++) numel *= s->xs[i];
    if (s->empty || numel != 0) return CNNC_OK;
    int64_t view[CNNC_MAX_DIMS + 1];
    char b[256];
    cnnc__shape_str(b, sizeof b, view_2d(s->sd, xnd, s->xs, view), view);
    return ERR("Only zero batch or zero channel inputs are supported, but got input shape: %s", b);
}

/* A convolution's backend: kernel sizes and dilations > 0. */
static cnnc_status forward_backend(const cnnc__conv_call *c, const cnnc_tensor *w,
                                   const cnnc__conv_setup *s) {
    bool dilated = false, kzero = false, dneg = false;
    for (int i = 0; i < s->sd; i++) {
        dilated |= s->dil[i] != 1;
        kzero |= w->shape[i + 2] <= 0;
        dneg |= s->dil[i] <= 0;
    }
    int64_t k2[3], d2[3];
    values_2d(s->sd, w->shape + 2, 1, k2);
    values_2d(s->sd, s->dil, 1, d2);
    char b[CNNC__ARGS_STR_CAP];
    if (kzero && dilated) {
        cnnc__list_str(b, sizeof b, s->sd == 1 ? 2 : s->sd, k2, "[", ", ", "]");
        return ERR("kernel size should be greater than zero, but got %s", b);
    }
    if (kzero && s->sd == 3)
        return ERR("kernel size should be greater than zero, but got: %lld x %lld x %lld (TxHxW)",
                   LL(k2[0]), LL(k2[1]), LL(k2[2]));
    if (kzero)
        return ERR("kernel size should be greater than zero, but got kernel_height: %lld kernel_width: "
                   "%lld", LL(k2[0]), LL(k2[1]));
    if (dneg && c->groups > 1) return ERR("non-positive dilation is not supported");
    if (dneg) {
        cnnc__list_str(b, sizeof b, s->sd == 1 ? 2 : s->sd, d2, "[", ", ", "]");
        return ERR("dilation should be greater than zero, but got %s", b);
    }
    return CNNC_OK;
}

/* slow_conv_transpose2d's shape checks (1-d and 2-d). */
static cnnc_status transposed_backend_2d(const cnnc_tensor *w, const cnnc__conv_setup *s,
                                         bool kzero, bool dneg, bool opbig) {
    int64_t k2[2], s2[2], d2[2], op2[2];
    values_2d(s->sd, w->shape + 2, 1, k2);
    values_2d(s->sd, s->stride, 1, s2);
    values_2d(s->sd, s->dil, 1, d2);
    values_2d(s->sd, s->out_pad, 0, op2);
    if (kzero)
        return ERR("kernel size should be greater than zero, but got kernel_height: %lld kernel_width: "
                   "%lld", LL(k2[0]), LL(k2[1]));
    if (dneg)
        return ERR("dilation should be greater than zero, but got dilation_height: %lld, "
                   "dilation_width: %lld", LL(d2[0]), LL(d2[1]));
    if (opbig)
        return ERR("output padding must be smaller than either stride or dilation, but got "
                   "output_padding_height: %lld output_padding_width: %lld stride_height: %lld "
                   "stride_width: %lld dilation_height: %lld dilation_width: %lld", LL(op2[0]),
                   LL(op2[1]), LL(s2[0]), LL(s2[1]), LL(d2[0]), LL(d2[1]));
    if (w->numel == 0) {
        int64_t view[CNNC_MAX_DIMS + 1];
        char b[256];
        cnnc__shape_str(b, sizeof b, view_2d(s->sd, w->ndim, w->shape, view), view);
        return ERR("non-empty 2D or 4D weight tensor expected, but got: %s", b);
    }
    return CNNC_OK;
}

/* slow_conv_transpose3d's shape checks. */
static cnnc_status transposed_backend_3d(const cnnc_tensor *w, const cnnc__conv_setup *s,
                                         bool kzero, bool dneg, bool opbig) {
    const int64_t *op = s->out_pad, *st = s->stride, *d = s->dil;
    if (dneg)
        return ERR("dilation should be greater than zero, but got dilation_depth: %lld, "
                   "dilation_height: %lld, dilation_width: %lld", LL(d[0]), LL(d[1]), LL(d[2]));
    if (opbig)
        return ERR("output padding must be smaller than either stride or dilation, but got "
                   "output_padding_depth: %lld output_padding_height: %lld output_padding_width: %lld "
                   "stride_depth: %lld stride_height: %lld stride_width: %lld dilation_depth: %lld "
                   "dilation_height: %lld dilation_width: %lld", LL(op[0]), LL(op[1]), LL(op[2]),
                   LL(st[0]), LL(st[1]), LL(st[2]), LL(d[0]), LL(d[1]), LL(d[2]));
    if (w->numel == 0 || kzero) {
        char b[256];
        cnnc__shape_str(b, sizeof b, w->ndim, w->shape);
        return ERR("non-empty 5D (n_output_plane x n_input_plane x kernel_depth x kernel_height x "
                   "kernel_width) tensor expected for weight, but got: %s", b);
    }
    return CNNC_OK;
}

static cnnc_status transposed_backend(const cnnc_tensor *w, const cnnc__conv_setup *s) {
    bool kzero = false, dneg = false, opbig = false;
    for (int i = 0; i < s->sd; i++) {
        kzero |= w->shape[i + 2] <= 0;
        dneg |= s->dil[i] <= 0;
        opbig |= !(s->out_pad[i] < s->stride[i] || s->out_pad[i] < s->dil[i]);
    }
    return s->sd <= 2 ? transposed_backend_2d(w, s, kzero, dneg, opbig)
                      : transposed_backend_3d(w, s, kzero, dneg, opbig);
}

/* A transposed convolution's output must not be empty (unless its input is). */
static cnnc_status transposed_not_small(const cnnc__conv_setup *s) {
    bool small = false;
    for (int i = 0; i < s->sd; i++) small |= s->out_shape[i + 2] < (s->empty ? 0 : 1);
    if (!small) return CNNC_OK;
    int64_t ins[3], outs[3];
    values_2d(s->sd, s->xs + 2, 1, ins);
    values_2d(s->sd, s->out_shape + 2, 1, outs);
    char a[256], b[256];
    cnnc__list_str(a, sizeof a, s->sd == 1 ? 2 : s->sd, ins, "", " x ", "");
    cnnc__list_str(b, sizeof b, s->sd == 1 ? 2 : s->sd, outs, "", " x ", "");
    return ERR("Given input size per channel: (%s). Calculated output size per channel: (%s). "
               "Output size is too small", a, b);
}

/* ---- the result: the output's shape and the window ----------------------------------- */

static void make_window(const cnnc__conv_call *c, const cnnc_tensor *w, cnnc__conv_setup *s) {
    const int xnd = c->dim + 2, sd = s->sd;
    s->out_shape[0] = s->xs[0];
    s->out_shape[1] = s->cout;
    s->out_ndim = 0;
    for (int i = s->unbatched ? 1 : 0; i < xnd; i++) s->out_shape[s->out_ndim++] = s->out_shape[i];
    const int64_t *outsp = s->out_shape + (s->unbatched ? 1 : 2);
    int64_t in[3], out[3];
    for (int i = 0; i < sd; i++) { /* a transposed conv is the backward of the swapped window */
        in[i] = c->transposed ? outsp[i] : s->xs[i + 2];
        out[i] = c->transposed ? s->xs[i + 2] : outsp[i];
    }
    cnnc__window *g = &s->g;
    cnnc__window_fill(g, sd, s->xs[0], in, out, w->shape + 2, s->stride, s->pad_l, s->dil);
    g->groups = c->groups;
    g->c = c->transposed ? s->cout : s->xs[1];
    g->m = c->transposed ? s->xs[1] : w->shape[0];
}

cnnc_status cnnc__conv_validate(const cnnc__conv_call *c, const cnnc_tensor *x, const cnnc_tensor *w,
                                const cnnc_tensor *b, cnnc__conv_setup *s) {
    memset(s, 0, sizeof *s);
    static const char *const NAMES[4] = {"stride", "padding", "dilation", "output_padding"};
    const cnnc_ints *args[4] = {c->stride, c->padding, c->dilation, c->output_padding};
    if (c->padding_str) args[1] = NULL; /* the string replaces it */
    for (int i = 0; i < 4; i++) /* the argument parser: counts, and no None */
        if (args[i] && (cnnc__check_ints(c->fn, NAMES[i], args[i]) ||
                        cnnc__check_given(c->fn, NAMES[i], args[i])))
            return cnnc_last_status();
    bool pad_given;
    if (cnnc__check_tensor(c->fn, "input", x, true) || cnnc__check_tensor(c->fn, "weight", w, true) ||
        (b && cnnc__check_tensor(c->fn, "bias", b, true)) || batchify(c, x, s) ||
        padding_string(c, w, s, &pad_given) || window_params(c, w, pad_given, s) || param_signs(s) ||
        weight_vs_groups(c, w, s) ||
        (c->transposed ? transposed_shape(c, w, b, s) : forward_shape(c, w, b, s)) || empty_input(c, s) ||
        (!s->empty && (c->transposed ? transposed_backend(w, s) : forward_backend(c, w, s))) ||
        (c->transposed && transposed_not_small(s)))
        return cnnc_last_status();
    make_window(c, w, s); /* sd <= 3: the weight's rank is the input's, dim + 2 */
    return CNNC_OK;
}
