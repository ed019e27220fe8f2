/* Graph ops that are functional layers: pooling, interpolate, pad, layer_norm,
 * linear, matmul, stochastic_depth. Positional arguments as in
 * torch.nn.functional (and torchvision.ops.stochastic_depth). */
#include <string.h>

#include "core/error.h"
#include "graph/graph.h"
#include "nn/module.h"
#include "ops/activation.h"
#include "ops/norm.h"
#include "ops/ops.h"
#include "ops/pool.h"
#include "ops/resample.h"

/* the spatial dims of an op from the digit in its name ("max_pool2d": 2) */
static int nsp_of(const cnnc__gctx *c) {
    const char *name = c->node->op->name;
    size_t n = strlen(name);
    return n >= 2 ? name[n - 2] - '0' : 0;
}

/* (x, output_size) */
static cnnc_status op_adaptive_avg_pool(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    cnnc_ints size;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &size));
    return cnnc__gvalue_one(out, cnnc__op_adaptive_avg(x, nsp_of(c), size));
}

/* (x, output_size, return_indices = False) */
static cnnc_status op_adaptive_max_pool(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x, *res[2] = {NULL, NULL};
    cnnc_ints size;
    bool ri;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &size));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 2, false, &ri));
    res[0] = cnnc__op_adaptive_max(x, nsp_of(c), size, ri ? &res[1] : NULL);
    return res[0] ? cnnc__gvalue_many(out, ri ? 2 : 1, res) : cnnc_last_status();
}

/* (x, kernel_size, stride = None, padding = 0, dilation = 1, ceil_mode = False,
 *  return_indices = False) */
static cnnc_status op_max_pool(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x, *res[2] = {NULL, NULL};
    cnnc_max_pool_options o = CNNC_MAX_POOL2D();
    bool ri;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &o.kernel_size));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 2, &o.stride));
    if (cnnc__gctx_arg(c, 3)) CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 3, &o.padding));
    if (cnnc__gctx_arg(c, 4)) CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 4, &o.dilation));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 5, false, &o.ceil_mode));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 6, false, &ri));
    res[0] = cnnc__op_max_pool(x, nsp_of(c), o, ri ? &res[1] : NULL);
    return res[0] ? cnnc__gvalue_many(out, ri ? 2 : 1, res) : cnnc_last_status();
}

/* (x, kernel_size, stride = None, padding = 0, ceil_mode = False,
 *  count_include_pad = True, divisor_override = None) */
static cnnc_status op_avg_pool(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    cnnc_ints k, s, p = CNNC_INTS(0);
    bool ceil_mode, count_include_pad;
    int64_t div;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &k));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 2, &s));
    if (cnnc__gctx_arg(c, 3)) CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 3, &p));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 4, false, &ceil_mode));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 5, true, &count_include_pad));
    const cnnc__garg *d = cnnc__gctx_arg(c, 6);
    CNNC__OK_OR_RETURN(cnnc__gctx_int(c, 6, 0, &div));
    cnnc_optional_int divisor = {d && d->kind != CNNC__GARG_NONE, div};
    return cnnc__gvalue_one(out, cnnc__op_avg_pool(x, nsp_of(c), &k, &s, &p, ceil_mode, count_include_pad,
                                                   divisor));
}

/* (x, size = None, scale_factor = None, mode = 'nearest', align_corners = None,
 *  recompute_scale_factor = None, antialias = False) */
static cnnc_status op_interpolate(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    cnnc_interpolate_options o = CNNC_INTERPOLATE();
    const cnnc__garg *ac = cnnc__gctx_arg(c, 4), *rs = cnnc__gctx_arg(c, 5);
    bool b;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &o.size));
    CNNC__OK_OR_RETURN(cnnc__gctx_doubles(c, 2, &o.scale_factor));
    CNNC__OK_OR_RETURN(cnnc__gctx_string(c, 3, "nearest", &o.mode));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 4, false, &b));
    o.align_corners = !ac || ac->kind == CNNC__GARG_NONE ? -1 : b;
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 5, false, &b));
    o.recompute_scale_factor = !rs || rs->kind == CNNC__GARG_NONE ? -1 : b;
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 6, false, &o.antialias));
    return cnnc__gvalue_one(out, cnnc__op_interpolate(x, &o));
}

/* (x, pad, mode = 'constant', value = None) */
static cnnc_status op_pad(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    cnnc_ints pad;
    const char *mode_name;
    cnnc_pad_mode mode;
    double value;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &pad));
    CNNC__OK_OR_RETURN(cnnc__gctx_string(c, 2, "constant", &mode_name));
    CNNC__OK_OR_RETURN(cnnc__gctx_float(c, 3, 0.0, &value));
    CNNC__OK_OR_RETURN(cnnc_pad_mode_from_string(mode_name, &mode));
    return cnnc__gvalue_one(out, cnnc__op_pad(x, pad.n, pad.v, mode, value));
}

/* an optional tensor argument (None: NULL) */
static cnnc_status opt_tensor(cnnc__gctx *c, int i, cnnc_tensor **t) {
    const cnnc__garg *a = cnnc__gctx_arg(c, i);
    *t = NULL;
    return !a || a->kind == CNNC__GARG_NONE ? CNNC_OK : cnnc__gctx_tensor(c, i, t);
}

/* (x, normalized_shape, weight = None, bias = None, eps = 1e-5) */
static cnnc_status op_layer_norm(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x, *w, *b;
    cnnc_ints shape;
    double eps;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &shape));
    CNNC__OK_OR_RETURN(opt_tensor(c, 2, &w));
    CNNC__OK_OR_RETURN(opt_tensor(c, 3, &b));
    CNNC__OK_OR_RETURN(cnnc__gctx_float(c, 4, 1e-5, &eps));
    return cnnc__gvalue_one(out, cnnc__op_layer_norm(x, shape.n, shape.v, w, b, eps));
}

/* (x, weight, bias = None) */
static cnnc_status op_linear(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x, *w, *b;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 1, &w));
    CNNC__OK_OR_RETURN(opt_tensor(c, 2, &b));
    return cnnc__gvalue_one(out, cnnc__op_linear(x, w, b));
}

static cnnc_status op_matmul(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *a, *b;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &a));
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 1, &b));
    return cnnc__gvalue_one(out, cnnc__op_matmul(a, b));
}

/* (x, p, mode, training = True): drops only in the model's training mode */
static cnnc_status op_stochastic_depth(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    double p;
    const char *mode;
    bool training;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_float(c, 1, 0.0, &p));
    CNNC__OK_OR_RETURN(cnnc__gctx_string(c, 2, "row", &mode));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 3, true, &training));
    return cnnc__gvalue_one(out, cnnc__op_stochastic_depth(x, p, mode, training && c->graph->training));
}

const cnnc__gop cnnc__gops_layers[] = {
    {"adaptive_avg_pool1d", 2, 2, op_adaptive_avg_pool}, {"adaptive_avg_pool2d", 2, 2, op_adaptive_avg_pool},
    {"adaptive_avg_pool3d", 2, 2, op_adaptive_avg_pool}, {"adaptive_max_pool1d", 2, 3, op_adaptive_max_pool},
    {"adaptive_max_pool2d", 2, 3, op_adaptive_max_pool}, {"adaptive_max_pool3d", 2, 3, op_adaptive_max_pool},
    {"max_pool1d", 2, 7, op_max_pool}, {"max_pool2d", 2, 7, op_max_pool}, {"max_pool3d", 2, 7, op_max_pool},
    {"avg_pool1d", 2, 6, op_avg_pool}, {"avg_pool2d", 2, 7, op_avg_pool}, {"avg_pool3d", 2, 7, op_avg_pool},
    {"interpolate", 1, 7, op_interpolate}, {"pad", 2, 4, op_pad}, {"layer_norm", 2, 5, op_layer_norm},
    {"linear", 2, 3, op_linear}, {"matmul", 2, 2, op_matmul},
    {"stochastic_depth", 3, 4, op_stochastic_depth}, {NULL, 0, 0, NULL},
};
