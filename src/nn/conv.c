/* Convolution modules: nn.Conv1d/2d/3d and nn.ConvTranspose1d/2d/3d, with
 * PyTorch's constructor checks, initialisation (kaiming_uniform(a=sqrt(5)) and the
 * bias bound, both 1/sqrt(fan_in)), attributes, repr and forward (padding_mode
 * through F.pad; a transposed module's output_size). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/args.h"
#include "core/error.h"
#include "nn/module.h"
#include "ops/conv.h"
#include "ops/resample.h"

typedef struct conv_state {
    int dim;          /* spatial dims: 1, 2, 3 */
    bool transposed;
    int64_t in_channels, out_channels, groups;
    cnnc_ints kernel_size, stride, dilation, output_padding; /* dim values each */
    cnnc__ints_or_string padding;                            /* dim values, or "same"/"valid" */
    const char *padding_mode;                                /* a static string */
    cnnc__conv_wcache wcache; /* packed weights of no-grad forwards (ops/conv.h) */
} conv_state;

#define F(member, KIND) CNNC__FIELD(conv_state, member, KIND)
static const cnnc__field conv_fields[] = {
    F(in_channels, INT), F(out_channels, INT), F(kernel_size, TUPLE), F(stride, TUPLE),
    F(padding, INTS_OR_STRING), F(dilation, TUPLE), F(transposed, BOOL),
    F(output_padding, TUPLE), F(groups, INT), F(padding_mode, STRING)};
#undef F
#define S(m) CNNC__STATE(m, const conv_state)

static cnnc_tensor *conv_forward(cnnc_module *m, cnnc_tensor *x);
static cnnc_tensor *conv_transpose_module_forward(cnnc_module *m, cnnc_tensor *x);

/* ---- repr ---------------------------------------------------------------------------- */

static bool all_equal(const cnnc_ints *v, int64_t x) {
    for (int i = 0; i < v->n; i++)
        if (v->v[i] != x) return false;
    return true;
}

/* ", name=value" for one more field */
static void more(const cnnc_module *m, cnnc__strbuf *s, const char *name) {
    cnnc__strbuf_printf(s, ", ");
    cnnc__repr_fields(m, s, 1, &name);
}

/* PyTorch's _ConvNd.extra_repr: settings at their defaults are left out. */
static void conv_extra_repr(const cnnc_module *m, cnnc__strbuf *s) {
    const conv_state *c = S(m);
    cnnc__strbuf_printf(s, "%lld, %lld, ", (long long)c->in_channels, (long long)c->out_channels);
    cnnc__repr_fields(m, s, 2, (const char *const[]){"kernel_size", "stride"});
    if (c->padding.str)
        cnnc__strbuf_printf(s, ", padding=%s", c->padding.str);
    else if (!all_equal(&c->padding.ints, 0))
        more(m, s, "padding");
    if (!all_equal(&c->dilation, 1)) more(m, s, "dilation");
    if (!all_equal(&c->output_padding, 0)) more(m, s, "output_padding");
    if (c->groups != 1) cnnc__strbuf_printf(s, ", groups=%lld", (long long)c->groups);
    if (!cnnc__module_param(m, "bias")) cnnc__strbuf_printf(s, ", bias=False");
    if (strcmp(c->padding_mode, "zeros") != 0) cnnc__strbuf_printf(s, ", padding_mode=%s", c->padding_mode);
}

static void conv_destroy(cnnc_module *m) { cnnc__conv_wcache_clear(&CNNC__STATE(m, conv_state)->wcache); }

#define CONV_TYPE(Name, fwd)                                                                  \
    {.name = Name, .state_size = sizeof(conv_state), .fields = conv_fields,                  \
     .n_fields = CNNC__NFIELDS(conv_fields), .forward = fwd, .extra_repr = conv_extra_repr,   \
     .destroy = conv_destroy}
static const cnnc__module_type conv_types[3] = {
    CONV_TYPE("Conv1d", conv_forward), CONV_TYPE("Conv2d", conv_forward),
    CONV_TYPE("Conv3d", conv_forward)};
static const cnnc__module_type conv_transpose_types[3] = {
    CONV_TYPE("ConvTranspose1d", conv_transpose_module_forward),
    CONV_TYPE("ConvTranspose2d", conv_transpose_module_forward),
    CONV_TYPE("ConvTranspose3d", conv_transpose_module_forward)};

static bool is_transposed_conv(const cnnc_module *m) {
    return m->type >= conv_transpose_types && m->type < conv_transpose_types + 3;
}

/* ---- construction ---------------------------------------------------------------- */

static const char *const padding_modes[] = {"zeros", "reflect", "replicate", "circular"};

typedef struct conv_settings {
    cnnc_ints kernel_size, stride, padding, dilation, output_padding;
    const char *padding_str, *padding_mode;
    int64_t groups;
    bool bias;
} conv_settings;

/* The padding setting: a tuple, or "same" / "valid" (not strided for "same"). */
static cnnc_status conv_padding(const conv_settings *o, int dim, conv_state *c) {
    if (!o->padding_str) {
        c->padding.ints = cnnc__ntuple(o->padding, dim);
        return CNNC_OK;
    }
    if (strcmp(o->padding_str, "same") == 0)
        c->padding.str = "same";
    else if (strcmp(o->padding_str, "valid") == 0)
        c->padding.str = "valid";
    else
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Invalid padding string '%s', should be one of {'valid', 'same'}",
                           o->padding_str);
    if (c->padding.str[0] == 's' && !all_equal(&c->stride, 1))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "padding='same' is not supported for strided convolutions");
    return CNNC_OK;
}

/* Fills c from the constructor's arguments with PyTorch's checks. */
static cnnc_status conv_settings_check(const char *name, const conv_settings *o, conv_state *c) {
    if (cnnc__check_ints(name, "kernel_size", &o->kernel_size) ||
        cnnc__check_ints(name, "stride", &o->stride) ||
        (!o->padding_str && cnnc__check_ints(name, "padding", &o->padding)) ||
        cnnc__check_ints(name, "dilation", &o->dilation) ||
        cnnc__check_ints(name, "output_padding", &o->output_padding))
        return CNNC_ERR_INVALID_ARGUMENT;
    const char *mode = o->padding_mode ? o->padding_mode : "zeros";
    if (c->transposed && strcmp(mode, "zeros") != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Only \"zeros\" padding mode is supported for %s", name);
    if (o->groups <= 0) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "groups must be a positive integer");
    if (c->in_channels % o->groups != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "in_channels must be divisible by groups");
    if (c->out_channels % o->groups != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "out_channels must be divisible by groups");
    c->groups = o->groups;
    if (cnnc__ints_is_none(&o->kernel_size))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.__init__() missing 1 required positional argument: 'kernel_size'", name);
    /* _single/_pair/_triple: a tuple is kept as given (PyTorch's forward refuses a
     * wrong length); the weight has one dim per kernel_size entry */
    c->kernel_size = cnnc__ntuple(o->kernel_size, c->dim);
    c->stride = cnnc__ntuple(o->stride, c->dim);
    c->dilation = cnnc__ntuple(o->dilation, c->dim);
    if (conv_padding(o, c->dim, c) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < sizeof padding_modes / sizeof *padding_modes; i++)
        if (strcmp(mode, padding_modes[i]) == 0) c->padding_mode = padding_modes[i];
    if (!c->padding_mode)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "padding_mode must be one of {'zeros', 'reflect', 'replicate', "
                           "'circular'}, but got padding_mode='%s'", mode);
    c->output_padding = cnnc__ntuple(c->transposed ? o->output_padding : (cnnc_ints)CNNC_INTS(0), c->dim);
    return CNNC_OK;
}

/* weight [out, in / groups, k...] or, transposed, [in, out / groups, k...] (one dim
 * per kernel_size entry), its fan_in (checked: no negative size, nothing overflows). */
static cnnc_status weight_shape(const char *name, const conv_state *c, int *ndim, int64_t *wshape,
                                int64_t *fan_in) {
    const int nk = c->kernel_size.n;
    if (nk > CNNC_MAX_DIMS - 2)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): kernel_size has %d entries; the weight "
                           "would have more than %d dims", name, nk, CNNC_MAX_DIMS);
    *ndim = nk + 2;
    wshape[0] = c->transposed ? c->in_channels : c->out_channels;
    wshape[1] = (c->transposed ? c->out_channels : c->in_channels) / c->groups;
    *fan_in = wshape[1];
    bool negative = wshape[0] < 0 || wshape[1] < 0 || c->out_channels < 0, overflow = false;
    for (int i = 0; i < nk; i++) {
        wshape[2 + i] = c->kernel_size.v[i];
        negative |= c->kernel_size.v[i] < 0;
        overflow |= !cnnc__mul_i64(*fan_in, c->kernel_size.v[i], fan_in);
    }
    char s[256];
    cnnc__shape_str(s, sizeof s, nk + 2, wshape);
    if (negative) { /* torch.empty's error, naming the first negative size */
        int64_t bad = 0;
        for (int i = nk + 1; i >= 0; i--)
            if (wshape[i] < 0) bad = wshape[i];
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Trying to create tensor with negative dimension %lld: %s", (long long)bad, s);
    }
    int64_t numel;
    if (overflow || cnnc__check_shape(name, nk + 2, wshape, CNNC_FLOAT32, &numel) != CNNC_OK)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Storage size calculation overflowed with sizes=%s", s);
    return CNNC_OK;
}

static cnnc_module *conv_new(int dim, bool transposed, int64_t in, int64_t out,
                             const conv_settings *o) {
    const cnnc__module_type *type = transposed ? &conv_transpose_types[dim - 1] : &conv_types[dim - 1];
    conv_state c = {.dim = dim, .transposed = transposed, .in_channels = in, .out_channels = out};
    int64_t wshape[CNNC_MAX_DIMS], fan_in = 0;
    int wdim = 0;
    if (conv_settings_check(type->name, o, &c) != CNNC_OK ||
        weight_shape(type->name, &c, &wdim, wshape, &fan_in) != CNNC_OK)
        return NULL;
    cnnc_module *m = cnnc__module_new(type);
    if (!m) return NULL;
    *CNNC__STATE(m, conv_state) = c;
    /* kaiming_uniform(a=sqrt(5)): gain sqrt(2 / 6), bound sqrt(3) gain / sqrt(fan_in)
     * = 1 / sqrt(fan_in); the bias uses the same bound (0 when fan_in is 0, where
     * PyTorch leaves it uninitialised) */
    const double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    cnnc_tensor *w = cnnc__uniform_param(wdim, wshape, bound), *b = NULL;
    cnnc_status st = w ? cnnc__module_add_param(m, "weight", w) : cnnc_last_status();
    if (st == CNNC_OK && o->bias && !(b = cnnc__uniform_param(1, &out, bound))) st = cnnc_last_status();
    if (st == CNNC_OK) st = cnnc__module_add_param(m, "bias", b);
    if (st != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

static conv_settings from_conv(const cnnc_conv_module_options *o) {
    return (conv_settings){o->kernel_size, o->stride, o->padding, o->dilation, CNNC_INTS_NONE,
                           o->padding_str, o->padding_mode, o->groups, o->bias};
}

static conv_settings from_conv_transpose(const cnnc_conv_transpose_module_options *o) {
    return (conv_settings){o->kernel_size, o->stride, o->padding, o->dilation, o->output_padding,
                           NULL, o->padding_mode, o->groups, o->bias};
}

cnnc_module *cnnc_conv1d_new(int64_t in, int64_t out, cnnc_conv_module_options o) {
    conv_settings s = from_conv(&o);
    return conv_new(1, false, in, out, &s);
}
cnnc_module *cnnc_conv2d_new(int64_t in, int64_t out, cnnc_conv_module_options o) {
    conv_settings s = from_conv(&o);
    return conv_new(2, false, in, out, &s);
}
cnnc_module *cnnc_conv3d_new(int64_t in, int64_t out, cnnc_conv_module_options o) {
    conv_settings s = from_conv(&o);
    return conv_new(3, false, in, out, &s);
}
cnnc_module *cnnc_convtranspose1d_new(int64_t in, int64_t out, cnnc_conv_transpose_module_options o) {
    conv_settings s = from_conv_transpose(&o);
    return conv_new(1, true, in, out, &s);
}
cnnc_module *cnnc_convtranspose2d_new(int64_t in, int64_t out, cnnc_conv_transpose_module_options o) {
    conv_settings s = from_conv_transpose(&o);
    return conv_new(2, true, in, out, &s);
}
cnnc_module *cnnc_convtranspose3d_new(int64_t in, int64_t out, cnnc_conv_transpose_module_options o) {
    conv_settings s = from_conv_transpose(&o);
    return conv_new(3, true, in, out, &s);
}

/* ---- forward ------------------------------------------------------------------------ */

/* F.pad's argument for padding_mode != zeros: _reversed_padding_repeated_twice, over
 * the padding tuple as given, or for 'same' over the kernel's dims (d (k - 1) in
 * total, the odd one after); returns its length. */
static int reversed_padding(const conv_state *c, int64_t *fpad) {
    const int n = c->padding.str ? c->kernel_size.n : c->padding.ints.n;
    for (int i = 0; i < n; i++) {
        int64_t l = 0, r = 0;
        if (!c->padding.str) {
            l = r = c->padding.ints.v[i];
        } else if (c->padding.str[0] == 's' && i < c->dilation.n) { /* zip(dilation, kernel_size) */
            int64_t total;
            if (!cnnc__mul_i64(c->dilation.v[i], c->kernel_size.v[i] - 1, &total) || total < 0) total = 0;
            l = total / 2;
            r = total - l;
        }
        fpad[2 * (n - 1 - i)] = l;
        fpad[2 * (n - 1 - i) + 1] = r;
    }
    return 2 * n;
}

static cnnc_tensor *conv_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__conv_module_apply(m, x, cnnc__module_param(m, "weight"), cnnc__module_param(m, "bias"));
}

bool cnnc__is_conv_module(const cnnc_module *m) {
    return m && m->type >= conv_types && m->type < conv_types + 3;
}

cnnc_tensor *cnnc__conv_module_apply(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b) {
    return cnnc__conv_module_apply_act(m, x, w, NULL, b, NULL);
}

cnnc_tensor *cnnc__conv_module_apply_act(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *w, const float *wscale,
                                         cnnc_tensor *b, const cnnc__act_spec *act) {
    const conv_state *c = S(m);
    if (!w) return cnnc__error_null(CNNC_ERR_RUNTIME, "%s: weight is None", m->type->name);
    int dim;
    cnnc_conv_options o;
    if (cnnc__conv_module_options(m, &dim, &o))
        return cnnc__op_conv_act(x, w, wscale, b, dim, &o, cnnc__conv_module_wcache(m), act);
    int64_t fpad[2 * CNNC_MAX_DIMS];
    const int npad = reversed_padding(c, fpad);
    cnnc_pad_mode pm = strcmp(c->padding_mode, "reflect") == 0     ? CNNC_PAD_REFLECT
                       : strcmp(c->padding_mode, "replicate") == 0 ? CNNC_PAD_REPLICATE
                                                                   : CNNC_PAD_CIRCULAR;
    cnnc_tensor *xp = cnnc__op_pad(x, npad, fpad, pm, 0.0);
    if (!xp) return NULL;
    o.padding = (cnnc_ints)CNNC_INTS(0);
    o.padding_str = NULL;
    cnnc_tensor *y = cnnc__op_conv_act(xp, w, wscale, b, c->dim, &o, cnnc__conv_module_wcache(m), act);
    cnnc_tensor_release(xp);
    return y;
}

struct cnnc__conv_wcache *cnnc__conv_module_wcache(cnnc_module *m) {
    return &CNNC__STATE(m, conv_state)->wcache;
}

bool cnnc__conv_module_options(const cnnc_module *m, int *dim, cnnc_conv_options *o) {
    const conv_state *c = S(m);
    *dim = c->dim;
    *o = CNNC_CONV2D(.stride = c->stride, .dilation = c->dilation, .groups = c->groups,
                     .padding_str = c->padding.str);
    if (!c->padding.str) o->padding = c->padding.ints;
    return strcmp(c->padding_mode, "zeros") == 0;
}

/* PyTorch's _ConvTransposeNd._output_padding: the output_padding giving the
 * requested output_size (n = dim, or dim + the non-spatial dims). */
static cnnc_status output_padding_for(const cnnc_module *m, const cnnc_tensor *x, int n,
                                      const int64_t *output_size, cnnc_ints *op) {
    const conv_state *c = S(m);
    const int dim = c->dim, nonspatial = x->ndim == dim + 2 ? 2 : 1;
    if (n == nonspatial + dim) {
        output_size += nonspatial;
        n = dim;
    }
    if (n != dim)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "ConvTranspose%dD: for %dD input, output_size must have %d or %d "
                           "elements (got %d)", dim, x->ndim, dim, nonspatial + dim, n);
    int64_t mins[3], maxs[3];
    bool ok = true;
    for (int d = 0; d < dim; d++) { /* Python indexes the settings per spatial dim */
        const int64_t *k = c->kernel_size.v, *st = c->stride.v, *p = c->padding.ints.v, *dl = c->dilation.v;
        if (d >= c->kernel_size.n || d >= c->stride.n || d >= c->padding.ints.n || d >= c->dilation.n)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "tuple index out of range");
        if (!cnnc__window_transposed_len(x->shape[d + nonspatial], k[d], st[d], p[d], p[d], dl[d], 0,
                                         &mins[d]) ||
            !cnnc__add_i64(mins[d], st[d] - 1, &maxs[d]))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: the output sizes overflow int64", m->type->name);
        ok &= output_size[d] >= mins[d] && output_size[d] <= maxs[d];
    }
    if (!ok) {
        char a[128], lo[128], hi[128], in[128];
        cnnc__shape_str(a, sizeof a, dim, output_size);
        cnnc__shape_str(lo, sizeof lo, dim, mins);
        cnnc__shape_str(hi, sizeof hi, dim, maxs);
        cnnc__shape_str(in, sizeof in, x->ndim - 2, x->shape + 2);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "requested an output size of %s, but valid sizes range from %s to "
                           "%s (for an input of torch.Size(%s))", a, lo, hi, in);
    }
    *op = (cnnc_ints){.n = dim, .tuple = true};
    for (int d = 0; d < dim; d++) op->v[d] = output_size[d] - mins[d];
    return CNNC_OK;
}

/* forward(input, output_size) */
static cnnc_tensor *conv_transpose_run(cnnc_module *m, cnnc_tensor *x, int n,
                                       const int64_t *output_size) {
    const conv_state *c = S(m);
    cnnc_tensor *w = cnnc__module_param(m, "weight"), *b = cnnc__module_param(m, "bias");
    if (!w) return cnnc__error_null(CNNC_ERR_RUNTIME, "%s: weight is None", m->type->name);
    cnnc_conv_transpose_options o =
        CNNC_CONV_TRANSPOSE2D(.stride = c->stride, .padding = c->padding.ints,
                              .output_padding = c->output_padding, .groups = c->groups,
                              .dilation = c->dilation);
    if (n > 0) {
        if (cnnc__check_tensor(m->type->name, "input", x, true) != CNNC_OK) return NULL;
        /* a wrong rank: let the op name it */
        bool rank_ok = x->ndim == c->dim + 1 || x->ndim == c->dim + 2;
        if (rank_ok && output_padding_for(m, x, n, output_size, &o.output_padding) != CNNC_OK)
            return NULL;
    }
    return cnnc__op_conv_transpose(x, w, b, c->dim, &o);
}

static cnnc_tensor *conv_transpose_module_forward(cnnc_module *m, cnnc_tensor *x) {
    return conv_transpose_run(m, x, 0, NULL);
}

cnnc_tensor *cnnc_conv_transpose_forward(cnnc_module *m, cnnc_tensor *input, int n,
                                         const int64_t *output_size) {
    CNNC__NONNULL_OR_NULL("conv_transpose_forward", m);
    CNNC__NONNULL_OR_NULL("conv_transpose_forward", input);
    if (!is_transposed_conv(m))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "conv_transpose_forward(): expected a ConvTranspose module, got %s",
                                cnnc__module_name(m));
    if (n < 0 || n > CNNC_MAX_DIMS || (n > 0 && !output_size))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "conv_transpose_forward(): invalid output_size (n = %d)", n);
    return cnnc__give(conv_transpose_run(m, input, n, output_size));
}
