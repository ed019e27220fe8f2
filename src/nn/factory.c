/* Built-in modules by PyTorch class name and constructor keyword arguments
 * (cnnc_module_create), and the reverse: the arguments that re-create a module
 * (cnnc__module_ctor_args), which is what a model file stores. */
#include <string.h>

#include "core/error.h"
#include "nn/factory.h"
#include "cnnc/distributed.h"
#include "nn/module.h"

/* ---- per family ---------------------------------------------------------------------- */

static cnnc_module *create_linear(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc__kw_require(kw, "in_features");
    cnnc__kw_require(kw, "out_features");
    int64_t in = cnnc__kw_int(kw, "in_features", 0), out = cnnc__kw_int(kw, "out_features", 0);
    cnnc_linear_options o = CNNC_LINEAR(.bias = cnnc__kw_bool(kw, "bias", true));
    return cnnc__kw_finish(kw) ? NULL : cnnc_linear_new(in, out, o);
}

/* Conv{1,2,3}d (arg = dim) and ConvTranspose{1,2,3}d (arg = -dim) */
static cnnc_module *create_conv(cnnc__kwargs *kw, int arg) {
    cnnc__kw_require(kw, "in_channels");
    cnnc__kw_require(kw, "out_channels");
    cnnc__kw_require(kw, "kernel_size");
    int64_t in = cnnc__kw_int(kw, "in_channels", 0), out = cnnc__kw_int(kw, "out_channels", 0);
    cnnc_conv_transpose_module_options t = CNNC_CONV_TRANSPOSE_MODULE(
        .kernel_size = cnnc__kw_ints(kw, "kernel_size", (cnnc_ints)CNNC_INTS_NONE),
        .stride = cnnc__kw_ints(kw, "stride", (cnnc_ints)CNNC_INTS(1)),
        .dilation = cnnc__kw_ints(kw, "dilation", (cnnc_ints)CNNC_INTS(1)),
        .groups = cnnc__kw_int(kw, "groups", 1), .bias = cnnc__kw_bool(kw, "bias", true),
        .padding_mode = cnnc__kw_string(kw, "padding_mode", "zeros"));
    const bool pad_str = arg > 0 && cnnc__kw_is_string(kw, "padding");
    const char *padding_str = pad_str ? cnnc__kw_string(kw, "padding", NULL) : NULL;
    if (!pad_str) t.padding = cnnc__kw_ints(kw, "padding", (cnnc_ints)CNNC_INTS(0));
    if (arg < 0) t.output_padding = cnnc__kw_ints(kw, "output_padding", (cnnc_ints)CNNC_INTS(0));
    if (cnnc__kw_finish(kw)) return NULL;
    cnnc_module *(*const transposed[3])(int64_t, int64_t, cnnc_conv_transpose_module_options) = {
        cnnc_convtranspose1d_new, cnnc_convtranspose2d_new, cnnc_convtranspose3d_new};
    cnnc_module *(*const direct[3])(int64_t, int64_t, cnnc_conv_module_options) = {
        cnnc_conv1d_new, cnnc_conv2d_new, cnnc_conv3d_new};
    if (arg < 0) return transposed[-arg - 1](in, out, t);
    return direct[arg - 1](in, out, CNNC_CONV_MODULE(.kernel_size = t.kernel_size, .stride = t.stride,
                                                     .padding = t.padding, .padding_str = padding_str,
                                                     .dilation = t.dilation, .groups = t.groups,
                                                     .bias = t.bias, .padding_mode = t.padding_mode));
}

/* the shared window arguments of the pools */
static void window(cnnc__kwargs *kw, cnnc_ints *k, cnnc_ints *s, cnnc_ints *p) {
    cnnc__kw_require(kw, "kernel_size");
    *k = cnnc__kw_ints(kw, "kernel_size", (cnnc_ints)CNNC_INTS_NONE);
    *s = cnnc__kw_ints(kw, "stride", (cnnc_ints)CNNC_INTS_NONE);
    *p = cnnc__kw_ints(kw, "padding", (cnnc_ints)CNNC_INTS(0));
}

static cnnc_module *create_maxpool(cnnc__kwargs *kw, int dim) {
    cnnc_max_pool_options o = CNNC_MAX_POOL2D();
    window(kw, &o.kernel_size, &o.stride, &o.padding);
    o.dilation = cnnc__kw_ints(kw, "dilation", (cnnc_ints)CNNC_INTS(1));
    o.return_indices = cnnc__kw_bool(kw, "return_indices", false);
    o.ceil_mode = cnnc__kw_bool(kw, "ceil_mode", false);
    if (cnnc__kw_finish(kw)) return NULL;
    return dim == 1 ? cnnc_maxpool1d_new(o) : dim == 2 ? cnnc_maxpool2d_new(o) : cnnc_maxpool3d_new(o);
}

static cnnc_module *create_avgpool(cnnc__kwargs *kw, int dim) {
    cnnc_avg_pool_options o = CNNC_AVG_POOL2D();
    window(kw, &o.kernel_size, &o.stride, &o.padding);
    o.ceil_mode = cnnc__kw_bool(kw, "ceil_mode", false);
    o.count_include_pad = cnnc__kw_bool(kw, "count_include_pad", true);
    if (dim > 1) o.divisor_override = cnnc__kw_opt_int(kw, "divisor_override", o.divisor_override);
    if (cnnc__kw_finish(kw)) return NULL;
    if (dim == 1)
        return cnnc_avgpool1d_new(CNNC_AVG_POOL1D(.kernel_size = o.kernel_size, .stride = o.stride,
                                                  .padding = o.padding, .ceil_mode = o.ceil_mode,
                                                  .count_include_pad = o.count_include_pad));
    return dim == 2 ? cnnc_avgpool2d_new(o) : cnnc_avgpool3d_new(o);
}

/* AdaptiveAvgPool (arg = dim) and AdaptiveMaxPool (arg = -dim) */
static cnnc_module *create_adaptive(cnnc__kwargs *kw, int arg) {
    cnnc__kw_require(kw, "output_size");
    cnnc_ints s = cnnc__kw_ints(kw, "output_size", (cnnc_ints)CNNC_INTS_NONE);
    bool ri = arg < 0 && cnnc__kw_bool(kw, "return_indices", false);
    if (cnnc__kw_finish(kw)) return NULL;
    switch (arg) {
    case 1: return cnnc_adaptiveavgpool1d_new(s);
    case 2: return cnnc_adaptiveavgpool2d_new(s);
    case 3: return cnnc_adaptiveavgpool3d_new(s);
    case -1: return cnnc_adaptivemaxpool1d_new(s, ri);
    case -2: return cnnc_adaptivemaxpool2d_new(s, ri);
    default: return cnnc_adaptivemaxpool3d_new(s, ri);
    }
}

static cnnc_module *create_maxunpool(cnnc__kwargs *kw, int dim) {
    cnnc_max_unpool_options o = CNNC_MAX_UNPOOL2D();
    window(kw, &o.kernel_size, &o.stride, &o.padding);
    if (cnnc__kw_finish(kw)) return NULL;
    return dim == 1 ? cnnc_maxunpool1d_new(o) : dim == 2 ? cnnc_maxunpool2d_new(o) : cnnc_maxunpool3d_new(o);
}

/* arg: 1-3 ConstantPad, 4 ZeroPad2d, 5-7 ReflectionPad, 8-10 ReplicationPad */
static cnnc_module *create_pad(cnnc__kwargs *kw, int arg) {
    cnnc__kw_require(kw, "padding");
    cnnc_ints p = cnnc__kw_ints(kw, "padding", (cnnc_ints)CNNC_INTS_NONE);
    double value = 0.0;
    if (arg <= 3) {
        cnnc__kw_require(kw, "value");
        value = cnnc__kw_float(kw, "value", 0.0);
    }
    if (cnnc__kw_finish(kw)) return NULL;
    cnnc_module *(*const by_padding[])(cnnc_ints) = {
        cnnc_zeropad2d_new, cnnc_reflectionpad1d_new, cnnc_reflectionpad2d_new, cnnc_reflectionpad3d_new,
        cnnc_replicationpad1d_new, cnnc_replicationpad2d_new, cnnc_replicationpad3d_new};
    if (arg == 1) return cnnc_constantpad1d_new(p, value);
    if (arg == 2) return cnnc_constantpad2d_new(p, value);
    if (arg == 3) return cnnc_constantpad3d_new(p, value);
    return by_padding[arg - 4](p);
}

/* arg: 0 Upsample, 1 UpsamplingNearest2d, 2 UpsamplingBilinear2d */
static cnnc_module *create_upsample(cnnc__kwargs *kw, int arg) {
    cnnc_upsample_options o = CNNC_UPSAMPLE(.size = cnnc__kw_ints(kw, "size", (cnnc_ints)CNNC_INTS_NONE),
                                            .scale_factor = cnnc__kw_doubles(kw, "scale_factor",
                                                                             (cnnc_doubles){.n = 0}));
    if (arg == 0) {
        o.mode = cnnc__kw_string(kw, "mode", "nearest");
        o.align_corners = cnnc__kw_opt_bool(kw, "align_corners", -1);
        o.recompute_scale_factor = cnnc__kw_opt_bool(kw, "recompute_scale_factor", -1);
    }
    if (cnnc__kw_finish(kw)) return NULL;
    if (arg == 1) return cnnc_upsamplingnearest2d_new(o.size, o.scale_factor);
    if (arg == 2) return cnnc_upsamplingbilinear2d_new(o.size, o.scale_factor);
    return cnnc_upsample_new(o);
}

/* BatchNorm{1,2,3}d (arg = dim) and InstanceNorm{1,2,3}d (arg = -dim) */
static cnnc_module *create_normbase(cnnc__kwargs *kw, int arg) {
    cnnc__kw_require(kw, "num_features");
    int64_t n = cnnc__kw_int(kw, "num_features", 0);
    const bool inst = arg < 0;
    cnnc_batchnorm_options o = CNNC_BATCHNORM(.affine = !inst, .track_running_stats = !inst);
    o.eps = cnnc__kw_float(kw, "eps", o.eps);
    o.momentum = cnnc__kw_opt_float(kw, "momentum", o.momentum);
    o.affine = cnnc__kw_bool(kw, "affine", o.affine);
    o.track_running_stats = cnnc__kw_bool(kw, "track_running_stats", o.track_running_stats);
    if (cnnc__kw_finish(kw)) return NULL;
    cnnc_module *(*const fns[6])(int64_t, cnnc_batchnorm_options) = {
        cnnc_instancenorm3d_new, cnnc_instancenorm2d_new, cnnc_instancenorm1d_new,
        cnnc_batchnorm1d_new, cnnc_batchnorm2d_new, cnnc_batchnorm3d_new};
    return fns[arg < 0 ? arg + 3 : arg + 2](n, o);
}

#if defined(CNNC_HAVE_MPI)
/* SyncBatchNorm (the distributed part, src/dist) */
static cnnc_module *create_syncbn(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc__kw_require(kw, "num_features");
    int64_t n = cnnc__kw_int(kw, "num_features", 0);
    cnnc_batchnorm_options o = CNNC_BATCHNORM();
    o.eps = cnnc__kw_float(kw, "eps", o.eps);
    o.momentum = cnnc__kw_opt_float(kw, "momentum", o.momentum);
    o.affine = cnnc__kw_bool(kw, "affine", o.affine);
    o.track_running_stats = cnnc__kw_bool(kw, "track_running_stats", o.track_running_stats);
    return cnnc__kw_finish(kw) ? NULL : cnnc_syncbatchnorm_new(n, o);
}
#endif

static cnnc_module *create_layernorm(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc__kw_require(kw, "normalized_shape");
    cnnc_ints s = cnnc__kw_ints(kw, "normalized_shape", (cnnc_ints)CNNC_INTS_NONE);
    cnnc_layernorm_options o = CNNC_LAYERNORM(.eps = cnnc__kw_float(kw, "eps", 1e-5),
                                              .elementwise_affine = cnnc__kw_bool(kw, "elementwise_affine", true));
    return cnnc__kw_finish(kw) ? NULL : cnnc_layernorm_new(s, o);
}

static cnnc_module *create_groupnorm(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc__kw_require(kw, "num_groups");
    cnnc__kw_require(kw, "num_channels");
    int64_t g = cnnc__kw_int(kw, "num_groups", 1), c = cnnc__kw_int(kw, "num_channels", 0);
    cnnc_groupnorm_options o = CNNC_GROUPNORM(.eps = cnnc__kw_float(kw, "eps", 1e-5),
                                              .affine = cnnc__kw_bool(kw, "affine", true));
    return cnnc__kw_finish(kw) ? NULL : cnnc_groupnorm_new(g, c, o);
}

static cnnc_module *create_lrn(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc__kw_require(kw, "size");
    int64_t size = cnnc__kw_int(kw, "size", 1);
    cnnc_localresponsenorm_options o = CNNC_LOCALRESPONSENORM();
    o.alpha = cnnc__kw_float(kw, "alpha", o.alpha);
    o.beta = cnnc__kw_float(kw, "beta", o.beta);
    o.k = cnnc__kw_float(kw, "k", o.k);
    return cnnc__kw_finish(kw) ? NULL : cnnc_localresponsenorm_new(size, o);
}

/* ---- the table ---------------------------------------------------------------------------- */

static const cnnc__kind_entry kinds[] = {
    {"Linear", create_linear, 0, "", true},
    {"Conv1d", create_conv, 1, "transposed output_padding", true},
    {"Conv2d", create_conv, 2, "transposed output_padding", true},
    {"Conv3d", create_conv, 3, "transposed output_padding", true},
    {"ConvTranspose1d", create_conv, -1, "transposed", true},
    {"ConvTranspose2d", create_conv, -2, "transposed", true},
    {"ConvTranspose3d", create_conv, -3, "transposed", true},
    {"MaxPool1d", create_maxpool, 1, "", false},
    {"MaxPool2d", create_maxpool, 2, "", false},
    {"MaxPool3d", create_maxpool, 3, "", false},
    {"AvgPool1d", create_avgpool, 1, "", false},
    {"AvgPool2d", create_avgpool, 2, "", false},
    {"AvgPool3d", create_avgpool, 3, "", false},
    {"AdaptiveAvgPool1d", create_adaptive, 1, "", false},
    {"AdaptiveAvgPool2d", create_adaptive, 2, "", false},
    {"AdaptiveAvgPool3d", create_adaptive, 3, "", false},
    {"AdaptiveMaxPool1d", create_adaptive, -1, "", false},
    {"AdaptiveMaxPool2d", create_adaptive, -2, "", false},
    {"AdaptiveMaxPool3d", create_adaptive, -3, "", false},
    {"MaxUnpool1d", create_maxunpool, 1, "", false},
    {"MaxUnpool2d", create_maxunpool, 2, "", false},
    {"MaxUnpool3d", create_maxunpool, 3, "", false},
    {"ConstantPad1d", create_pad, 1, "", false},
    {"ConstantPad2d", create_pad, 2, "", false},
    {"ConstantPad3d", create_pad, 3, "", false},
    {"ZeroPad2d", create_pad, 4, "value", false},
    {"ReflectionPad1d", create_pad, 5, "", false},
    {"ReflectionPad2d", create_pad, 6, "", false},
    {"ReflectionPad3d", create_pad, 7, "", false},
    {"ReplicationPad1d", create_pad, 8, "", false},
    {"ReplicationPad2d", create_pad, 9, "", false},
    {"ReplicationPad3d", create_pad, 10, "", false},
    {"Upsample", create_upsample, 0, "name", false},
    {"UpsamplingNearest2d", create_upsample, 1, "name mode align_corners recompute_scale_factor", false},
    {"UpsamplingBilinear2d", create_upsample, 2, "name mode align_corners recompute_scale_factor", false},
    {"BatchNorm1d", create_normbase, 1, "", false},
    {"BatchNorm2d", create_normbase, 2, "", false},
    {"BatchNorm3d", create_normbase, 3, "", false},
#if defined(CNNC_HAVE_MPI)
    {"SyncBatchNorm", create_syncbn, 0, "", false},
#endif
    {"InstanceNorm1d", create_normbase, -1, "", false},
    {"InstanceNorm2d", create_normbase, -2, "", false},
    {"InstanceNorm3d", create_normbase, -3, "", false},
    {"LayerNorm", create_layernorm, 0, "", false},
    {"GroupNorm", create_groupnorm, 0, "", false},
    {"LocalResponseNorm", create_lrn, 0, "", false},
};

static const cnnc__kind_entry *find_kind(const char *type) {
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strcmp(kinds[i].type, type) == 0) return &kinds[i];
    for (const cnnc__kind_entry *k = cnnc__simple_kinds; k->type; k++)
        if (strcmp(k->type, type) == 0) return k;
    return NULL;
}

bool cnnc__module_type_known(const char *type) { return type && find_kind(type); }

cnnc_module *cnnc_module_create(const char *type, size_t n, const char *const *names,
                                const cnnc_value *values) {
    CNNC__NONNULL_OR_NULL("module_create", type);
    const cnnc__kind_entry *k = find_kind(type);
    if (!k) return cnnc__error_null(CNNC_ERR_NOT_FOUND, "module_create(): unknown module type '%s'", type);
    cnnc__kwargs kw;
    cnnc__kw_init(&kw, type, n, names, values);
    if (kw.st) return NULL;
    return k->create(&kw, k->arg);
}

static bool skipped(const char *skip, const char *name) {
    size_t len = strlen(name);
    for (const char *p = strstr(skip, name); p; p = strstr(p + 1, name))
        if ((p == skip || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0')) return true;
    return false;
}

int cnnc__module_ctor_args(const cnnc_module *m, const char **names, cnnc_value *values, int cap) {
    const cnnc__kind_entry *k = find_kind(cnnc__module_name(m));
    if (!k || m->type->type_name) return -1; /* not a built-in kind */
    int n = 0;
    for (int i = 0; i < m->type->n_fields && n < cap; i++) {
        const cnnc__field *f = &m->type->fields[i];
        if (skipped(k->skip, f->name)) continue;
        names[n] = f->name;
        values[n++] = cnnc__field_value(m->state, f);
    }
    if (k->bias && n < cap) {
        names[n] = "bias";
        values[n++] = (cnnc_value){.kind = CNNC_VALUE_BOOL, .n = 1,
                                   .ints = {cnnc__module_param(m, "bias") != NULL}};
    }
    return n;
}
