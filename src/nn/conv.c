/* Convolution modules: nn.Conv1d/2d/3d and nn.ConvTranspose1d/2d/3d, with
 * PyTorch's constructor checks, initialisation (kaiming_uniform(a=sqrt(5)) and the
 * bias bound, both 1/sqrt(fan_in)), attributes, repr and forward (padding_mode
 * through F.pad; a transposed module's output_size). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "nn/module.h"
#include "ops/conv.h"
#include "ops/resample.h"

static cnnc_tensor *conv_forward(cnnc_module *m, cnnc_tensor *x);
static cnnc_tensor *conv_transpose_module_forward(cnnc_module *m, cnnc_tensor *x);
static void conv_extra_repr(const cnnc_module *m, char *buf, size_t cap);

static const cnnc__module_type conv_types[4] = {
    {"", NULL, NULL},
    {"Conv1d", conv_forward, conv_extra_repr},
    {"Conv2d", conv_forward, conv_extra_repr},
    {"Conv3d", conv_forward, conv_extra_repr},
};
static const cnnc__module_type conv_transpose_types[4] = {
    {"", NULL, NULL},
    {"ConvTranspose1d", conv_transpose_module_forward, conv_extra_repr},
    {"ConvTranspose2d", conv_transpose_module_forward, conv_extra_repr},
    {"ConvTranspose3d", conv_transpose_module_forward, conv_extra_repr},
};

static int module_dim(const cnnc_module *m, bool *transposed) {
    for (int d = 1; d <= 3; d++) {
        if (m->type == &conv_types[d]) {
            *transposed = false;
            return d;
        }
        if (m->type == &conv_transpose_types[d]) {
            *transposed = true;
            return d;
        }
    }
    return 0;
}

/* ---- attributes ---------------------------------------------------------------- */

static cnnc_value ints_value(int n, const int64_t *v) {
    cnnc_value r = {.kind = CNNC_VALUE_INTS, .n = n};
    memcpy(r.ints, v, (size_t)n * sizeof(int64_t));
    return r;
}

static cnnc_value string_value(const char *s) {
    return (cnnc_value){.kind = CNNC_VALUE_STRING, .s = s};
}

static cnnc_ints attr_ints(const cnnc_module *m, const char *name) {
    const cnnc_value *v = cnnc__module_get_attr(m, name);
    cnnc_ints r = {.n = v->n};
    memcpy(r.v, v->ints, sizeof r.v);
    return r;
}

/* _single/_pair/_triple: an int repeated dim times, a tuple kept. This library
 * also refuses here a tuple of the wrong length (PyTorch fails later, in forward). */
static cnnc_status ntuple(const char *type, const char *name, const cnnc_ints *v, int dim,
                          cnnc_value *out) {
    if (v->n == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s.__init__() missing 1 required positional argument: '%s'", type, name);
    if (v->n == 1) {
        int64_t r[3] = {v->v[0], v->v[0], v->v[0]};
        *out = ints_value(dim, r);
        return CNNC_OK;
    }
    if (v->n != dim)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): %s must be an int or a tuple of %d ints, got %d values", type, name,
                           dim, v->n);
    *out = ints_value(dim, v->v);
    return CNNC_OK;
}

/* "(3, 3)" or "(3,)", as Python prints a tuple. */
static size_t tuple_text(char *buf, size_t cap, const cnnc_value *v) {
    size_t n = 0;
    int k = snprintf(buf, cap, "(");
    n += k > 0 ? (size_t)k : 0;
    for (int i = 0; i < v->n && n < cap; i++) {
        k = snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)v->ints[i]);
        n += k > 0 ? (size_t)k : 0;
    }
    if (n < cap) {
        k = snprintf(buf + n, cap - n, v->n == 1 ? ",)" : ")");
        n += k > 0 ? (size_t)k : 0;
    }
    return n < cap ? n : cap - 1;
}

static bool all_equal(const cnnc_value *v, int64_t x) {
    for (int i = 0; i < v->n; i++)
        if (v->ints[i] != x) return false;
    return true;
}

/* PyTorch's _ConvNd.extra_repr. */
static void conv_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    char t[128];
    size_t n = 0;
#define APPEND(...)                                                 \
    do {                                                            \
        if (n < cap) {                                              \
            int k_ = snprintf(buf + n, cap - n, __VA_ARGS__);        \
            n += k_ > 0 ? (size_t)k_ : 0;                           \
        }                                                           \
    } while (0)
    APPEND("%lld, %lld", (long long)cnnc__module_get_attr(m, "in_channels")->ints[0],
           (long long)cnnc__module_get_attr(m, "out_channels")->ints[0]);
    tuple_text(t, sizeof t, cnnc__module_get_attr(m, "kernel_size"));
    APPEND(", kernel_size=%s", t);
    tuple_text(t, sizeof t, cnnc__module_get_attr(m, "stride"));
    APPEND(", stride=%s", t);
    const cnnc_value *p = cnnc__module_get_attr(m, "padding");
    if (p->kind == CNNC_VALUE_STRING) {
        APPEND(", padding=%s", p->s);
    } else if (!all_equal(p, 0)) {
        tuple_text(t, sizeof t, p);
        APPEND(", padding=%s", t);
    }
    const cnnc_value *d = cnnc__module_get_attr(m, "dilation");
    if (!all_equal(d, 1)) {
        tuple_text(t, sizeof t, d);
        APPEND(", dilation=%s", t);
    }
    const cnnc_value *op = cnnc__module_get_attr(m, "output_padding");
    if (!all_equal(op, 0)) {
        tuple_text(t, sizeof t, op);
        APPEND(", output_padding=%s", t);
    }
    int64_t groups = cnnc__module_get_attr(m, "groups")->ints[0];
    if (groups != 1) APPEND(", groups=%lld", (long long)groups);
    if (!cnnc__module_param(m, "bias")) APPEND(", bias=False");
    const char *mode = cnnc__module_get_attr(m, "padding_mode")->s;
    if (strcmp(mode, "zeros") != 0) APPEND(", padding_mode=%s", mode);
#undef APPEND
}

/* ---- construction ---------------------------------------------------------------- */

static const char *const padding_modes[] = {"zeros", "reflect", "replicate", "circular"};

typedef struct conv_settings {
    cnnc_ints kernel_size, stride, padding, dilation, output_padding;
    const char *padding_str, *padding_mode;
    int64_t groups;
    bool bias;
} conv_settings;

static cnnc_module *conv_new(int dim, bool transposed, int64_t in, int64_t out,
                             const conv_settings *o) {
    const cnnc__module_type *type = transposed ? &conv_transpose_types[dim] : &conv_types[dim];
    const char *name = type->name;
    const char *mode = o->padding_mode ? o->padding_mode : "zeros";
    if (transposed && strcmp(mode, "zeros") != 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Only \"zeros\" padding mode is supported for %s", name);
    if (o->groups <= 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "groups must be a positive integer");
    if (in % o->groups != 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "in_channels must be divisible by groups");
    if (out % o->groups != 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "out_channels must be divisible by groups");
    cnnc_value ks, st, pd, dl, op;
    if (ntuple(name, "kernel_size", &o->kernel_size, dim, &ks) != CNNC_OK ||
        ntuple(name, "stride", &o->stride, dim, &st) != CNNC_OK ||
        ntuple(name, "dilation", &o->dilation, dim, &dl) != CNNC_OK)
        return NULL;
    const char *pad_str = NULL;
    if (o->padding_str) {
        if (strcmp(o->padding_str, "same") == 0)
            pad_str = "same";
        else if (strcmp(o->padding_str, "valid") == 0)
            pad_str = "valid";
        else
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Invalid padding string '%s', should be one of {'valid', 'same'}",
                                    o->padding_str);
        if (pad_str[0] == 's' && !all_equal(&st, 1))
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "padding='same' is not supported for strided convolutions");
        pd = string_value(pad_str);
    } else if (ntuple(name, "padding", &o->padding, dim, &pd) != CNNC_OK) {
        return NULL;
    }
    const char *mode_s = NULL;
    for (size_t i = 0; i < sizeof padding_modes / sizeof *padding_modes; i++)
        if (strcmp(mode, padding_modes[i]) == 0) mode_s = padding_modes[i];
    if (!mode_s)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "padding_mode must be one of {'zeros', 'reflect', 'replicate', "
                                "'circular'}, but got padding_mode='%s'", mode);
    if (transposed) {
        if (ntuple(name, "output_padding", &o->output_padding, dim, &op) != CNNC_OK) return NULL;
    } else {
        int64_t zeros[3] = {0, 0, 0};
        op = ints_value(dim, zeros);
    }
    /* weight [out, in / groups, k...] or, transposed, [in, out / groups, k...] */
    int64_t wshape[5];
    wshape[0] = transposed ? in : out;
    wshape[1] = (transposed ? out : in) / o->groups;
    int64_t fan_in = wshape[1];
    bool negative = wshape[0] < 0 || wshape[1] < 0 || out < 0, overflow = false;
    for (int i = 0; i < dim; i++) {
        wshape[2 + i] = ks.ints[i];
        negative |= ks.ints[i] < 0;
        overflow |= !cnnc__mul_i64(fan_in, ks.ints[i], &fan_in);
    }
    if (negative) { /* torch.empty's error, naming the first negative size */
        char s[256];
        int64_t bad = 0;
        for (int i = dim + 1; i >= 0; i--)
            if (wshape[i] < 0) bad = wshape[i];
        cnnc__shape_str(s, sizeof s, dim + 2, wshape);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Trying to create tensor with negative dimension %lld: %s",
                                (long long)bad, s);
    }
    int64_t numel;
    if (overflow || cnnc__check_shape(type->name, dim + 2, wshape, CNNC_FLOAT32, &numel) != CNNC_OK) {
        char s[256];
        cnnc__shape_str(s, sizeof s, dim + 2, wshape);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Storage size calculation overflowed with sizes=%s", s);
    }
    cnnc_module *m = cnnc__module_new(type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "in_channels", cnnc__int_value(in));
    cnnc__module_set_attr(m, "out_channels", cnnc__int_value(out));
    cnnc__module_set_attr(m, "kernel_size", ks);
    cnnc__module_set_attr(m, "stride", st);
    cnnc__module_set_attr(m, "padding", pd);
    cnnc__module_set_attr(m, "dilation", dl);
    cnnc__module_set_attr(m, "transposed", cnnc__bool_value(transposed));
    cnnc__module_set_attr(m, "output_padding", op);
    cnnc__module_set_attr(m, "groups", cnnc__int_value(o->groups));
    cnnc__module_set_attr(m, "padding_mode", string_value(mode_s));
    /* kaiming_uniform(a=sqrt(5)): gain sqrt(2 / 6), bound sqrt(3) gain / sqrt(fan_in)
     * = 1 / sqrt(fan_in); the bias uses the same bound (0 when fan_in is 0, where
     * PyTorch leaves it uninitialised) */
    const double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    cnnc_status st_ = cnnc__module_add_param(m, "weight", cnnc__uniform_param(dim + 2, wshape, bound));
    if (st_ == CNNC_OK && !cnnc__module_param(m, "weight")) st_ = cnnc_last_status();
    if (st_ == CNNC_OK)
        st_ = cnnc__module_add_param(m, "bias", o->bias ? cnnc__uniform_param(1, &out, bound) : NULL);
    if (st_ == CNNC_OK && o->bias && !cnnc__module_param(m, "bias")) st_ = cnnc_last_status();
    if (st_ != CNNC_OK) {
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

static cnnc_tensor *conv_forward(cnnc_module *m, cnnc_tensor *x) {
    bool transposed;
    const int dim = module_dim(m, &transposed);
    cnnc_tensor *w = cnnc__module_param(m, "weight");
    if (!w) return cnnc__error_null(CNNC_ERR_RUNTIME, "%s: weight is None", m->type->name);
    cnnc_tensor *b = cnnc__module_param(m, "bias");
    const cnnc_value *pad = cnnc__module_get_attr(m, "padding");
    const char *mode = cnnc__module_get_attr(m, "padding_mode")->s;
    cnnc_conv_options o = CNNC_CONV2D(.stride = attr_ints(m, "stride"),
                                      .dilation = attr_ints(m, "dilation"),
                                      .groups = cnnc__module_get_attr(m, "groups")->ints[0]);
    if (strcmp(mode, "zeros") == 0) {
        if (pad->kind == CNNC_VALUE_STRING)
            o.padding_str = pad->s;
        else
            o.padding = attr_ints(m, "padding");
        return cnnc__op_conv(x, w, b, dim, &o);
    }
    /* F.pad(input, _reversed_padding_repeated_twice, mode), then no padding */
    int64_t fpad[6];
    const cnnc_value *ks = cnnc__module_get_attr(m, "kernel_size");
    for (int i = 0; i < dim; i++) {
        int64_t l = 0, r = 0;
        if (pad->kind != CNNC_VALUE_STRING) {
            l = r = pad->ints[i];
        } else if (pad->s[0] == 's') { /* 'same': d (k - 1) in total, the odd one after */
            int64_t total;
            if (!cnnc__mul_i64(o.dilation.v[i], ks->ints[i] - 1, &total) || total < 0) total = 0;
            l = total / 2;
            r = total - l;
        }
        fpad[2 * (dim - 1 - i)] = l;
        fpad[2 * (dim - 1 - i) + 1] = r;
    }
    cnnc_pad_mode pm = strcmp(mode, "reflect") == 0     ? CNNC_PAD_REFLECT
                       : strcmp(mode, "replicate") == 0 ? CNNC_PAD_REPLICATE
                                                        : CNNC_PAD_CIRCULAR;
    cnnc_tensor *xp = cnnc__op_pad(x, 2 * dim, fpad, pm, 0.0);
    if (!xp) return NULL;
    o.padding = (cnnc_ints)CNNC_INTS(0);
    cnnc_tensor *y = cnnc__op_conv(xp, w, b, dim, &o);
    cnnc_tensor_release(xp);
    return y;
}

/* forward(input, output_size): PyTorch's _ConvTransposeNd._output_padding. */
static cnnc_tensor *conv_transpose_run(cnnc_module *m, cnnc_tensor *x, int n,
                                       const int64_t *output_size) {
    bool transposed;
    const int dim = module_dim(m, &transposed);
    cnnc_tensor *w = cnnc__module_param(m, "weight");
    if (!w) return cnnc__error_null(CNNC_ERR_RUNTIME, "%s: weight is None", m->type->name);
    cnnc_conv_transpose_options o =
        CNNC_CONV_TRANSPOSE2D(.stride = attr_ints(m, "stride"), .padding = attr_ints(m, "padding"),
                              .output_padding = attr_ints(m, "output_padding"),
                              .groups = cnnc__module_get_attr(m, "groups")->ints[0],
                              .dilation = attr_ints(m, "dilation"));
    if (n > 0) {
        if (cnnc__check_tensor(m->type->name, "input", x, true) != CNNC_OK) return NULL;
        const bool batched = x->ndim == dim + 2;
        const int nonspatial = batched ? 2 : 1;
        if (n == nonspatial + dim) {
            output_size += nonspatial;
            n = dim;
        }
        if (n != dim)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "ConvTranspose%dD: for %dD input, output_size must have %d or %d "
                                    "elements (got %d)", dim, x->ndim, dim, nonspatial + dim, n);
        if (x->ndim != dim + 1 && x->ndim != dim + 2) /* let the op name the rank error */
            return cnnc__op_conv_transpose(x, w, cnnc__module_param(m, "bias"), dim, &o);
        const cnnc_value *ks = cnnc__module_get_attr(m, "kernel_size");
        int64_t mins[3], maxs[3];
        bool ok = true;
        for (int d = 0; d < dim; d++) {
            int64_t a, p2, k, t;
            if (!cnnc__mul_i64(x->shape[d + nonspatial] - 1, o.stride.v[d], &a) ||
                !cnnc__mul_i64(o.padding.v[d], 2, &p2) ||
                !cnnc__mul_i64(o.dilation.v[d], ks->ints[d] - 1, &k) || !cnnc__add_i64(a, k, &t) ||
                !cnnc__add_i64(t, -p2, &t) || !cnnc__add_i64(t, 1, &mins[d]) ||
                !cnnc__add_i64(mins[d], o.stride.v[d] - 1, &maxs[d]))
                return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                        "%s: the output sizes overflow int64", m->type->name);
            ok &= output_size[d] >= mins[d] && output_size[d] <= maxs[d];
        }
        if (!ok) {
            char a[128], lo[128], hi[128], in[128];
            cnnc__shape_str(a, sizeof a, dim, output_size);
            cnnc__shape_str(lo, sizeof lo, dim, mins);
            cnnc__shape_str(hi, sizeof hi, dim, maxs);
            cnnc__shape_str(in, sizeof in, x->ndim - 2, x->shape + 2);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "requested an output size of %s, but valid sizes range from %s to "
                                    "%s (for an input of torch.Size(%s))", a, lo, hi, in);
        }
        o.output_padding.n = dim;
        for (int d = 0; d < dim; d++) o.output_padding.v[d] = output_size[d] - mins[d];
    }
    return cnnc__op_conv_transpose(x, w, cnnc__module_param(m, "bias"), dim, &o);
}

static cnnc_tensor *conv_transpose_module_forward(cnnc_module *m, cnnc_tensor *x) {
    return conv_transpose_run(m, x, 0, NULL);
}

cnnc_tensor *cnnc_conv_transpose_forward(cnnc_module *m, cnnc_tensor *input, int n,
                                         const int64_t *output_size) {
    CNNC__NONNULL_OR_NULL("conv_transpose_forward", m);
    CNNC__NONNULL_OR_NULL("conv_transpose_forward", input);
    bool transposed = false;
    if (!module_dim(m, &transposed) || !transposed)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "conv_transpose_forward(): expected a ConvTranspose module, got %s",
                                m->type->name);
    if (n < 0 || n > CNNC_MAX_DIMS || (n > 0 && !output_size))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "conv_transpose_forward(): invalid output_size (n = %d)", n);
    return cnnc__give(conv_transpose_run(m, input, n, output_size));
}
