/* Pooling modules: MaxPool{1,2,3}d, AvgPool{1,2,3}d, AdaptiveAvgPool{1,2,3}d,
 * AdaptiveMaxPool{1,2,3}d, MaxUnpool{1,2,3}d. Settings live in attrs with
 * PyTorch's names and forms; forward rebuilds the options from them. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/options.h"
#include "nn/module.h"
#include "ops/pool.h"

/* ---- settings <-> attrs ----------------------------------------------------- */

/* An int|tuple setting: the int form (n == 1) is an INT, a tuple an INTS. */
static cnnc_value ints_value(const cnnc_ints *v) {
    if (v->n == 1) return cnnc__int_value(v->v[0]);
    cnnc_value r = {.kind = CNNC_VALUE_INTS, .n = v->n};
    for (int i = 0; i < v->n && i < CNNC_MAX_DIMS; i++) r.ints[i] = v->v[i];
    return r;
}

/* Always a tuple of nsp entries (torch's _single/_pair/_triple). */
static cnnc_value tuple_value(const cnnc_ints *v, int nsp) {
    cnnc_value r = {.kind = CNNC_VALUE_INTS, .n = v->n == 1 ? nsp : v->n};
    for (int i = 0; i < r.n && i < CNNC_MAX_DIMS; i++) r.ints[i] = v->n == 1 ? v->v[0] : v->v[i];
    return r;
}

static cnnc_ints attr_ints(const cnnc_module *m, const char *name) {
    const cnnc_value *v = cnnc__module_get_attr(m, name);
    cnnc_ints r = {.n = 0};
    if (!v) return r;
    if (v->kind == CNNC_VALUE_INT) {
        r.n = 1;
        r.v[0] = v->ints[0];
    } else if (v->kind == CNNC_VALUE_INTS) {
        r.n = v->n;
        for (int i = 0; i < v->n; i++) r.v[i] = v->ints[i];
    }
    return r;
}

static bool attr_bool(const cnnc_module *m, const char *name) {
    const cnnc_value *v = cnnc__module_get_attr(m, name);
    return v && v->ints[0] != 0;
}

/* Python's text of a setting: 2, (2, 2), (2,), None, True. */
static size_t value_text(char *buf, size_t cap, const cnnc_value *v) {
    if (!v || v->kind == CNNC_VALUE_NONE) return (size_t)snprintf(buf, cap, "None");
    if (v->kind == CNNC_VALUE_BOOL) return (size_t)snprintf(buf, cap, "%s", v->ints[0] ? "True" : "False");
    if (v->kind == CNNC_VALUE_INT) return (size_t)snprintf(buf, cap, "%lld", (long long)v->ints[0]);
    size_t len = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < v->n && len < cap; i++) {
        if (i) len += (size_t)snprintf(buf + len, cap - len, ", ");
        if (len >= cap) break;
        if (v->ints[i] == CNNC_POOL_KEEP) len += (size_t)snprintf(buf + len, cap - len, "None");
        else len += (size_t)snprintf(buf + len, cap - len, "%lld", (long long)v->ints[i]);
    }
    if (len < cap) len += (size_t)snprintf(buf + len, cap - len, v->n == 1 ? ",)" : ")");
    return len;
}

/* "name=value, name=value" for the listed attrs. */
static void repr_attrs(const cnnc_module *m, char *buf, size_t cap, int n, const char *const *names) {
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s%s=", i ? ", " : "", names[i]);
        if (len >= cap) break;
        len += value_text(buf + len, cap - len, cnnc__module_get_attr(m, names[i]));
    }
}

static int nsp_of(const cnnc_module *m) {
    const char *name = m->type->name;
    return name[strlen(name) - 2] - '0';
}

static cnnc_module *missing_kernel(const char *type) {
    return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                            "%s.__init__() missing 1 required positional argument: 'kernel_size'", type);
}

/* ---- MaxPool ------------------------------------------------------------------ */

static cnnc_max_pool_options maxpool_options(const cnnc_module *m) {
    cnnc_max_pool_options o = CNNC_MAX_POOL2D();
    o.kernel_size = attr_ints(m, "kernel_size");
    o.stride = attr_ints(m, "stride");
    o.padding = attr_ints(m, "padding");
    o.dilation = attr_ints(m, "dilation");
    o.ceil_mode = attr_bool(m, "ceil_mode");
    o.return_indices = false;
    return o;
}

static cnnc_tensor *refuse_tuple(const cnnc_module *m) {
    return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                            "%s(return_indices=True) returns (output, indices): call "
                            "cnnc_pool_module_forward_with_indices", m->type->name);
}

static cnnc_tensor *maxpool_forward(cnnc_module *m, cnnc_tensor *x) {
    if (attr_bool(m, "return_indices")) return refuse_tuple(m);
    return cnnc__op_max_pool(x, nsp_of(m), maxpool_options(m), NULL);
}

static void maxpool_repr(const cnnc_module *m, char *buf, size_t cap) {
    static const char *const names[] = {"kernel_size", "stride", "padding", "dilation", "ceil_mode"};
    repr_attrs(m, buf, cap, 5, names);
}

static const cnnc__module_type maxpool_types[3] = {
    {"MaxPool1d", maxpool_forward, maxpool_repr},
    {"MaxPool2d", maxpool_forward, maxpool_repr},
    {"MaxPool3d", maxpool_forward, maxpool_repr},
};

/* Every window setting holds 0..CNNC_MAX_DIMS values (they are stored as attrs). */
static cnnc_status check_window(const char *name, const cnnc_ints *k, const cnnc_ints *s,
                                const cnnc_ints *p, const cnnc_ints *d) {
    if (cnnc__check_ints(name, "kernel_size", k) || cnnc__check_ints(name, "stride", s) ||
        cnnc__check_ints(name, "padding", p) || (d && cnnc__check_ints(name, "dilation", d)))
        return CNNC_ERR_INVALID_ARGUMENT;
    return CNNC_OK;
}

static cnnc_module *maxpool_new(int nsp, cnnc_max_pool_options o) {
    const cnnc__module_type *t = &maxpool_types[nsp - 1];
    if (check_window(t->name, &o.kernel_size, &o.stride, &o.padding, &o.dilation)) return NULL;
    if (o.kernel_size.n == 0) return missing_kernel(t->name);
    cnnc_module *m = cnnc__module_new(t);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "kernel_size", ints_value(&o.kernel_size));
    cnnc__module_set_attr(m, "stride", ints_value(o.stride.n ? &o.stride : &o.kernel_size));
    cnnc__module_set_attr(m, "padding", ints_value(&o.padding));
    cnnc__module_set_attr(m, "dilation", ints_value(&o.dilation));
    cnnc__module_set_attr(m, "return_indices", cnnc__bool_value(o.return_indices));
    cnnc__module_set_attr(m, "ceil_mode", cnnc__bool_value(o.ceil_mode));
    return m;
}

cnnc_module *cnnc_maxpool1d_new(cnnc_max_pool_options o) { return maxpool_new(1, o); }
cnnc_module *cnnc_maxpool2d_new(cnnc_max_pool_options o) { return maxpool_new(2, o); }
cnnc_module *cnnc_maxpool3d_new(cnnc_max_pool_options o) { return maxpool_new(3, o); }

/* ---- AvgPool ------------------------------------------------------------------ */

static cnnc_tensor *avgpool_forward(cnnc_module *m, cnnc_tensor *x) {
    cnnc_ints k = attr_ints(m, "kernel_size"), s = attr_ints(m, "stride"), p = attr_ints(m, "padding");
    cnnc_optional_int div = {false, 0};
    const cnnc_value *dv = cnnc__module_get_attr(m, "divisor_override");
    if (dv && dv->kind == CNNC_VALUE_INT) div = (cnnc_optional_int){true, dv->ints[0]};
    return cnnc__op_avg_pool(x, nsp_of(m), &k, &s, &p, attr_bool(m, "ceil_mode"),
                             attr_bool(m, "count_include_pad"), div);
}

static void kernel_stride_padding_repr(const cnnc_module *m, char *buf, size_t cap) {
    static const char *const names[] = {"kernel_size", "stride", "padding"};
    repr_attrs(m, buf, cap, 3, names);
}

static const cnnc__module_type avgpool_types[3] = {
    {"AvgPool1d", avgpool_forward, kernel_stride_padding_repr},
    {"AvgPool2d", avgpool_forward, kernel_stride_padding_repr},
    {"AvgPool3d", avgpool_forward, kernel_stride_padding_repr},
};

cnnc_module *cnnc_avgpool1d_new(cnnc_avg_pool1d_options o) {
    if (check_window("AvgPool1d", &o.kernel_size, &o.stride, &o.padding, NULL)) return NULL;
    if (o.kernel_size.n == 0) return missing_kernel("AvgPool1d");
    cnnc_module *m = cnnc__module_new(&avgpool_types[0]);
    if (!m) return NULL;
    /* torch: _single(kernel_size), _single(stride or kernel_size), _single(padding) */
    cnnc__module_set_attr(m, "kernel_size", tuple_value(&o.kernel_size, 1));
    cnnc__module_set_attr(m, "stride", tuple_value(o.stride.n ? &o.stride : &o.kernel_size, 1));
    cnnc__module_set_attr(m, "padding", tuple_value(&o.padding, 1));
    cnnc__module_set_attr(m, "ceil_mode", cnnc__bool_value(o.ceil_mode));
    cnnc__module_set_attr(m, "count_include_pad", cnnc__bool_value(o.count_include_pad));
    return m;
}

static cnnc_module *avgpool_new(int nsp, cnnc_avg_pool_options o) {
    const cnnc__module_type *t = &avgpool_types[nsp - 1];
    if (check_window(t->name, &o.kernel_size, &o.stride, &o.padding, NULL)) return NULL;
    if (o.kernel_size.n == 0) return missing_kernel(t->name);
    cnnc_module *m = cnnc__module_new(t);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "kernel_size", ints_value(&o.kernel_size));
    cnnc__module_set_attr(m, "stride", ints_value(o.stride.n ? &o.stride : &o.kernel_size));
    cnnc__module_set_attr(m, "padding", ints_value(&o.padding));
    cnnc__module_set_attr(m, "ceil_mode", cnnc__bool_value(o.ceil_mode));
    cnnc__module_set_attr(m, "count_include_pad", cnnc__bool_value(o.count_include_pad));
    cnnc__module_set_attr(m, "divisor_override",
                          o.divisor_override.has_value ? cnnc__int_value(o.divisor_override.value)
                                                       : (cnnc_value){.kind = CNNC_VALUE_NONE});
    return m;
}
cnnc_module *cnnc_avgpool2d_new(cnnc_avg_pool_options o) { return avgpool_new(2, o); }
cnnc_module *cnnc_avgpool3d_new(cnnc_avg_pool_options o) { return avgpool_new(3, o); }

/* ---- Adaptive pooling ----------------------------------------------------------- */

static cnnc_tensor *adaptiveavg_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_adaptive_avg(x, nsp_of(m), attr_ints(m, "output_size"));
}
static cnnc_tensor *adaptivemax_forward(cnnc_module *m, cnnc_tensor *x) {
    if (attr_bool(m, "return_indices")) return refuse_tuple(m);
    return cnnc__op_adaptive_max(x, nsp_of(m), attr_ints(m, "output_size"), NULL);
}
static void output_size_repr(const cnnc_module *m, char *buf, size_t cap) {
    static const char *const names[] = {"output_size"};
    repr_attrs(m, buf, cap, 1, names);
}

static const cnnc__module_type adaptiveavg_types[3] = {
    {"AdaptiveAvgPool1d", adaptiveavg_forward, output_size_repr},
    {"AdaptiveAvgPool2d", adaptiveavg_forward, output_size_repr},
    {"AdaptiveAvgPool3d", adaptiveavg_forward, output_size_repr},
};
static const cnnc__module_type adaptivemax_types[3] = {
    {"AdaptiveMaxPool1d", adaptivemax_forward, output_size_repr},
    {"AdaptiveMaxPool2d", adaptivemax_forward, output_size_repr},
    {"AdaptiveMaxPool3d", adaptivemax_forward, output_size_repr},
};

static cnnc_module *adaptive_new(const cnnc__module_type *t, cnnc_ints output_size, int ri) {
    if (cnnc__check_ints(t->name, "output_size", &output_size)) return NULL;
    cnnc_module *m = cnnc__module_new(t);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "output_size", output_size.n == 0 ? (cnnc_value){.kind = CNNC_VALUE_NONE}
                                                               : ints_value(&output_size));
    if (ri >= 0) cnnc__module_set_attr(m, "return_indices", cnnc__bool_value(ri != 0));
    return m;
}
cnnc_module *cnnc_adaptiveavgpool1d_new(cnnc_ints s) { return adaptive_new(&adaptiveavg_types[0], s, -1); }
cnnc_module *cnnc_adaptiveavgpool2d_new(cnnc_ints s) { return adaptive_new(&adaptiveavg_types[1], s, -1); }
cnnc_module *cnnc_adaptiveavgpool3d_new(cnnc_ints s) { return adaptive_new(&adaptiveavg_types[2], s, -1); }
cnnc_module *cnnc_adaptivemaxpool1d_new(cnnc_ints s, bool ri) { return adaptive_new(&adaptivemax_types[0], s, ri); }
cnnc_module *cnnc_adaptivemaxpool2d_new(cnnc_ints s, bool ri) { return adaptive_new(&adaptivemax_types[1], s, ri); }
cnnc_module *cnnc_adaptivemaxpool3d_new(cnnc_ints s, bool ri) { return adaptive_new(&adaptivemax_types[2], s, ri); }

/* ---- MaxUnpool -------------------------------------------------------------------- */

static cnnc_tensor *maxunpool_forward(cnnc_module *m, cnnc_tensor *x) {
    (void)x;
    return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                            "%s.forward() needs the indices: call cnnc_maxunpool_module_forward",
                            m->type->name);
}
static const cnnc__module_type maxunpool_types[3] = {
    {"MaxUnpool1d", maxunpool_forward, kernel_stride_padding_repr},
    {"MaxUnpool2d", maxunpool_forward, kernel_stride_padding_repr},
    {"MaxUnpool3d", maxunpool_forward, kernel_stride_padding_repr},
};

static cnnc_module *maxunpool_new(int nsp, cnnc_max_unpool_options o) {
    const cnnc__module_type *t = &maxunpool_types[nsp - 1];
    if (check_window(t->name, &o.kernel_size, &o.stride, &o.padding, NULL)) return NULL;
    if (o.kernel_size.n == 0) return missing_kernel(t->name);
    if (o.output_size.n != 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): output_size is an argument of forward, not of the constructor", t->name);
    cnnc_module *m = cnnc__module_new(t);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "kernel_size", tuple_value(&o.kernel_size, nsp));
    cnnc__module_set_attr(m, "stride", tuple_value(o.stride.n ? &o.stride : &o.kernel_size, nsp));
    cnnc__module_set_attr(m, "padding", tuple_value(&o.padding, nsp));
    return m;
}
cnnc_module *cnnc_maxunpool1d_new(cnnc_max_unpool_options o) { return maxunpool_new(1, o); }
cnnc_module *cnnc_maxunpool2d_new(cnnc_max_unpool_options o) { return maxunpool_new(2, o); }
cnnc_module *cnnc_maxunpool3d_new(cnnc_max_unpool_options o) { return maxunpool_new(3, o); }

/* ---- forwards with more than one argument or result ------------------------------ */

static bool is_type(const cnnc_module *m, const cnnc__module_type *types) {
    return m->type == &types[0] || m->type == &types[1] || m->type == &types[2];
}

cnnc_tensor *cnnc_pool_module_forward_with_indices(cnnc_module *m, cnnc_tensor *x, cnnc_tensor **indices) {
    if (!indices)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "cnnc_pool_module_forward_with_indices(): argument 'indices' is NULL");
    *indices = NULL;
    CNNC__NONNULL_OR_NULL("cnnc_pool_module_forward_with_indices", m);
    cnnc_tensor *y;
    if (is_type(m, maxpool_types))
        y = cnnc__op_max_pool(x, nsp_of(m), maxpool_options(m), indices);
    else if (is_type(m, adaptivemax_types))
        y = cnnc__op_adaptive_max(x, nsp_of(m), attr_ints(m, "output_size"), indices);
    else
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "cnnc_pool_module_forward_with_indices(): a %s has no indices (MaxPool or "
                                "AdaptiveMaxPool expected)", m->type->name);
    if (!y) return NULL;
    cnnc_tensor *idx = *indices;
    *indices = NULL;
    y = cnnc__give(y);
    if (!y) {
        cnnc_tensor_release(idx);
        return NULL;
    }
    *indices = cnnc__give(idx);
    return *indices ? y : NULL;
}

cnnc_tensor *cnnc_maxunpool_module_forward(cnnc_module *m, cnnc_tensor *x, cnnc_tensor *indices,
                                           cnnc_ints output_size) {
    CNNC__NONNULL_OR_NULL("cnnc_maxunpool_module_forward", m);
    if (!is_type(m, maxunpool_types))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "cnnc_maxunpool_module_forward(): a %s is not a MaxUnpool module", m->type->name);
    cnnc_max_unpool_options o = CNNC_MAX_UNPOOL2D();
    o.kernel_size = attr_ints(m, "kernel_size");
    o.stride = attr_ints(m, "stride");
    o.padding = attr_ints(m, "padding");
    o.output_size = output_size;
    return cnnc__give(cnnc__op_max_unpool(x, indices, nsp_of(m), o));
}
