/* Norm modules: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm,
 * LocalResponseNorm. Settings are module attributes with PyTorch's names; the
 * forwards reproduce torch.nn's module logic over the functional ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "nn/module.h"
#include "ops/norm.h"


static bool attr_bool(const cnnc_module *m, const char *name) {
    return cnnc__module_get_attr(m, name)->ints[0] != 0;
}
static double attr_float(const cnnc_module *m, const char *name) {
    return cnnc__module_get_attr(m, name)->f;
}
static int64_t attr_int(const cnnc_module *m, const char *name) {
    return cnnc__module_get_attr(m, name)->ints[0];
}

static cnnc_tensor *buffer(const cnnc_module *m, const char *name) {
    for (size_t i = 0; i < m->n_buffers; i++)
        if (strcmp(m->buffers[i].name, name) == 0) return m->buffers[i].t;
    return NULL;
}

/* ---- BatchNorm / InstanceNorm: the shared _NormBase ----------------------------- */

static void normbase_repr(const cnnc_module *m, char *buf, size_t cap) {
    char eps[40], mom[40] = "None";
    cnnc__float_repr(attr_float(m, "eps"), eps, sizeof eps);
    const cnnc_value *mv = cnnc__module_get_attr(m, "momentum");
    if (mv->kind == CNNC_VALUE_FLOAT) cnnc__float_repr(mv->f, mom, sizeof mom);
    snprintf(buf, cap, "%lld, eps=%s, momentum=%s, affine=%s, track_running_stats=%s",
             (long long)attr_int(m, "num_features"), eps, mom,
             attr_bool(m, "affine") ? "True" : "False",
             attr_bool(m, "track_running_stats") ? "True" : "False");
}

static cnnc_module *normbase_new(const cnnc__module_type *type, int64_t num_features,
                                 cnnc_batchnorm_options o) {
    if (num_features < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Trying to create tensor with negative dimension %lld: [%lld]",
                                (long long)num_features, (long long)num_features);
    cnnc_module *m = cnnc__module_new(type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "num_features", cnnc__int_value(num_features));
    cnnc__module_set_attr(m, "eps", cnnc__float_value(o.eps));
    cnnc__module_set_attr(m, "momentum", o.momentum.has_value ? cnnc__float_value(o.momentum.value)
                                                              : (cnnc_value){.kind = CNNC_VALUE_NONE});
    cnnc__module_set_attr(m, "affine", cnnc__bool_value(o.affine));
    cnnc__module_set_attr(m, "track_running_stats", cnnc__bool_value(o.track_running_stats));
    cnnc_status st = CNNC_OK;
    const char *names[2] = {"weight", "bias"};
    for (int i = 0; i < 2 && st == CNNC_OK; i++) {
        cnnc_tensor *t = NULL;
        if (o.affine) {
            t = cnnc__tensor_new(CNNC_FLOAT32, 1, &num_features);
            if (!t) { st = cnnc_last_status(); break; }
            for (int64_t c = 0; c < num_features; c++) cnnc__f32(t)[c] = i ? 0.0f : 1.0f;
            t->requires_grad = true;
        }
        st = cnnc__module_add_param(m, names[i], t);
    }
    if (st == CNNC_OK) {
        cnnc_tensor *rm = NULL, *rv = NULL, *nbt = NULL;
        if (o.track_running_stats) {
            rm = cnnc__tensor_zeros(CNNC_FLOAT32, 1, &num_features);
            rv = cnnc__tensor_new(CNNC_FLOAT32, 1, &num_features);
            nbt = cnnc__tensor_zeros(CNNC_INT64, 0, NULL);
            if (rv)
                for (int64_t c = 0; c < num_features; c++) cnnc__f32(rv)[c] = 1.0f;
            if (!rm || !rv || !nbt) {
                cnnc_tensor_release(rm);
                cnnc_tensor_release(rv);
                cnnc_tensor_release(nbt);
                rm = rv = nbt = NULL;
                st = cnnc_last_status();
            }
        }
        cnnc_tensor *bufs[3] = {rm, rv, nbt};
        const char *bnames[3] = {"running_mean", "running_var", "num_batches_tracked"};
        for (int i = 0; i < 3; i++) { /* add_buffer takes each reference, also on failure */
            if (st == CNNC_OK)
                st = cnnc__module_add_buffer(m, bnames[i], bufs[i], true);
            else
                cnnc_tensor_release(bufs[i]);
        }
    }
    if (st != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

static cnnc_status check_input_dim(int ndim, int a, int b) {
    if (ndim == a || ndim == b) return CNNC_OK;
    if (a == b)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "expected %dD input (got %dD input)", a, ndim);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "expected %dD or %dD input (got %dD input)", a, b, ndim);
}

static cnnc_tensor *batchnorm_forward(cnnc_module *m, cnnc_tensor *x, int a, int b) {
    if (cnnc__check_tensor("BatchNorm.forward", "input", x, true) != CNNC_OK ||
        check_input_dim(x->ndim, a, b) != CNNC_OK)
        return NULL;
    const cnnc_value *mv = cnnc__module_get_attr(m, "momentum");
    bool has_momentum = mv->kind == CNNC_VALUE_FLOAT;
    double factor = has_momentum ? mv->f : 0.0;
    bool track = attr_bool(m, "track_running_stats");
    cnnc_tensor *rm = buffer(m, "running_mean"), *rv = buffer(m, "running_var");
    cnnc_tensor *nbt = buffer(m, "num_batches_tracked");
    if (m->training && track && nbt) {
        if (nbt->dtype != CNNC_INT64 || nbt->numel != 1)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "num_batches_tracked must be a one-element int64 tensor");
        cnnc__i64(nbt)[0] += 1;
        cnnc__bump_version(nbt);
        if (!has_momentum) factor = 1.0 / (double)cnnc__i64(nbt)[0];
    }
    bool bn_training = m->training ? true : (rm == NULL && rv == NULL);
    bool pass = !m->training || track;
    return cnnc__op_batch_norm(x, pass ? rm : NULL, pass ? rv : NULL, cnnc__module_param(m, "weight"),
                               cnnc__module_param(m, "bias"), bn_training, factor, attr_float(m, "eps"));
}

static cnnc_tensor *bn1d_forward(cnnc_module *m, cnnc_tensor *x) { return batchnorm_forward(m, x, 2, 3); }
static cnnc_tensor *bn2d_forward(cnnc_module *m, cnnc_tensor *x) { return batchnorm_forward(m, x, 4, 4); }
static cnnc_tensor *bn3d_forward(cnnc_module *m, cnnc_tensor *x) { return batchnorm_forward(m, x, 5, 5); }

static const cnnc__module_type bn1d_type = {"BatchNorm1d", bn1d_forward, normbase_repr};
static const cnnc__module_type bn2d_type = {"BatchNorm2d", bn2d_forward, normbase_repr};
static const cnnc__module_type bn3d_type = {"BatchNorm3d", bn3d_forward, normbase_repr};

cnnc_module *cnnc_batchnorm1d_new(int64_t n, cnnc_batchnorm_options o) { return normbase_new(&bn1d_type, n, o); }
cnnc_module *cnnc_batchnorm2d_new(int64_t n, cnnc_batchnorm_options o) { return normbase_new(&bn2d_type, n, o); }
cnnc_module *cnnc_batchnorm3d_new(int64_t n, cnnc_batchnorm_options o) { return normbase_new(&bn3d_type, n, o); }

/* _InstanceNorm.forward: an unbatched input (no_batch_dim dims) gets a batch of one */
static cnnc_tensor *instancenorm_forward(cnnc_module *m, cnnc_tensor *x, int no_batch_dim) {
    if (cnnc__check_tensor("InstanceNorm.forward", "input", x, true) != CNNC_OK ||
        check_input_dim(x->ndim, no_batch_dim, no_batch_dim + 1) != CNNC_OK)
        return NULL;
    const cnnc_value *mv = cnnc__module_get_attr(m, "momentum");
    if (mv->kind != CNNC_VALUE_FLOAT)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "instance_norm(): argument 'momentum' (position 7) must be float, not "
                                "NoneType");
    bool use_input_stats = m->training || !attr_bool(m, "track_running_stats");
    cnnc_tensor *rm = buffer(m, "running_mean"), *rv = buffer(m, "running_var");
    cnnc_tensor *w = cnnc__module_param(m, "weight"), *b = cnnc__module_param(m, "bias");
    double eps = attr_float(m, "eps");
    if (x->ndim != no_batch_dim)
        return cnnc__op_instance_norm(x, rm, rv, w, b, use_input_stats, mv->f, eps);
    int64_t shape[CNNC_MAX_DIMS];
    shape[0] = 1;
    memcpy(shape + 1, x->shape, (size_t)x->ndim * sizeof(int64_t));
    cnnc_tensor *xb = cnnc__op_reshape(x, x->ndim + 1, shape);
    cnnc_tensor *yb = xb ? cnnc__op_instance_norm(xb, rm, rv, w, b, use_input_stats, mv->f, eps) : NULL;
    cnnc_tensor *y = yb ? cnnc__op_reshape(yb, x->ndim, x->shape) : NULL;
    cnnc_tensor_release(xb);
    cnnc_tensor_release(yb);
    return y;
}

static cnnc_tensor *in1d_forward(cnnc_module *m, cnnc_tensor *x) { return instancenorm_forward(m, x, 2); }
static cnnc_tensor *in2d_forward(cnnc_module *m, cnnc_tensor *x) { return instancenorm_forward(m, x, 3); }
static cnnc_tensor *in3d_forward(cnnc_module *m, cnnc_tensor *x) { return instancenorm_forward(m, x, 4); }

static const cnnc__module_type in1d_type = {"InstanceNorm1d", in1d_forward, normbase_repr};
static const cnnc__module_type in2d_type = {"InstanceNorm2d", in2d_forward, normbase_repr};
static const cnnc__module_type in3d_type = {"InstanceNorm3d", in3d_forward, normbase_repr};

cnnc_module *cnnc_instancenorm1d_new(int64_t n, cnnc_instancenorm_options o) { return normbase_new(&in1d_type, n, o); }
cnnc_module *cnnc_instancenorm2d_new(int64_t n, cnnc_instancenorm_options o) { return normbase_new(&in2d_type, n, o); }
cnnc_module *cnnc_instancenorm3d_new(int64_t n, cnnc_instancenorm_options o) { return normbase_new(&in3d_type, n, o); }

/* ---- LayerNorm --------------------------------------------------------------------- */

static cnnc_tensor *layernorm_forward(cnnc_module *m, cnnc_tensor *x) {
    const cnnc_value *ns = cnnc__module_get_attr(m, "normalized_shape");
    return cnnc__op_layer_norm(x, ns->n, ns->ints, cnnc__module_param(m, "weight"),
                               cnnc__module_param(m, "bias"), attr_float(m, "eps"));
}

static void layernorm_repr(const cnnc_module *m, char *buf, size_t cap) {
    const cnnc_value *ns = cnnc__module_get_attr(m, "normalized_shape");
    char shape[300] = "(", eps[40];
    size_t len = 1;
    for (int i = 0; i < ns->n && len < sizeof shape; i++)
        len += (size_t)snprintf(shape + len, sizeof shape - len, i ? ", %lld" : "%lld", (long long)ns->ints[i]);
    if (len < sizeof shape) snprintf(shape + len, sizeof shape - len, ns->n == 1 ? ",)" : ")");
    cnnc__float_repr(attr_float(m, "eps"), eps, sizeof eps);
    snprintf(buf, cap, "%s, eps=%s, elementwise_affine=%s", shape, eps,
             attr_bool(m, "elementwise_affine") ? "True" : "False");
}

static const cnnc__module_type layernorm_type = {"LayerNorm", layernorm_forward, layernorm_repr};

static cnnc_tensor *filled(int ndim, const int64_t *shape, float v) {
    cnnc_tensor *t = cnnc__tensor_new(CNNC_FLOAT32, ndim, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < t->numel; i++) cnnc__f32(t)[i] = v;
    t->requires_grad = true;
    return t;
}

/* weight = ones, bias = zeros (or None twice) */
static cnnc_status add_affine(cnnc_module *m, bool affine, int ndim, const int64_t *shape) {
    cnnc_tensor *w = affine ? filled(ndim, shape, 1.0f) : NULL;
    if (affine && !w) return cnnc_last_status();
    cnnc_status st = cnnc__module_add_param(m, "weight", w);
    if (st != CNNC_OK) return st;
    cnnc_tensor *b = affine ? filled(ndim, shape, 0.0f) : NULL;
    if (affine && !b) return cnnc_last_status();
    return cnnc__module_add_param(m, "bias", b);
}

cnnc_module *cnnc_layernorm_new(cnnc_ints normalized_shape, cnnc_layernorm_options o) {
    if (normalized_shape.n < 0 || normalized_shape.n > CNNC_MAX_DIMS)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "LayerNorm(): normalized_shape has %d entries (0..%d allowed)",
                                normalized_shape.n, CNNC_MAX_DIMS);
    for (int i = 0; i < normalized_shape.n; i++)
        if (normalized_shape.v[i] < 0) {
            char s[300];
            cnnc__shape_str(s, sizeof s, normalized_shape.n, normalized_shape.v);
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Trying to create tensor with negative dimension %lld: %s",
                                    (long long)normalized_shape.v[i], s);
        }
    cnnc_module *m = cnnc__module_new(&layernorm_type);
    if (!m) return NULL;
    cnnc_value ns = {.kind = CNNC_VALUE_INTS, .n = normalized_shape.n};
    memcpy(ns.ints, normalized_shape.v, sizeof ns.ints);
    cnnc__module_set_attr(m, "normalized_shape", ns);
    cnnc__module_set_attr(m, "eps", cnnc__float_value(o.eps));
    cnnc__module_set_attr(m, "elementwise_affine", cnnc__bool_value(o.elementwise_affine));
    if (add_affine(m, o.elementwise_affine, normalized_shape.n, normalized_shape.v) != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- GroupNorm --------------------------------------------------------------------- */

static cnnc_tensor *groupnorm_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_group_norm(x, attr_int(m, "num_groups"), cnnc__module_param(m, "weight"),
                               cnnc__module_param(m, "bias"), attr_float(m, "eps"));
}

static void groupnorm_repr(const cnnc_module *m, char *buf, size_t cap) {
    char eps[40];
    cnnc__float_repr(attr_float(m, "eps"), eps, sizeof eps);
    snprintf(buf, cap, "%lld, %lld, eps=%s, affine=%s", (long long)attr_int(m, "num_groups"),
             (long long)attr_int(m, "num_channels"), eps, attr_bool(m, "affine") ? "True" : "False");
}

static const cnnc__module_type groupnorm_type = {"GroupNorm", groupnorm_forward, groupnorm_repr};

cnnc_module *cnnc_groupnorm_new(int64_t num_groups, int64_t num_channels, cnnc_groupnorm_options o) {
    if (num_groups == 0) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "integer modulo by zero");
    if (num_channels % num_groups != 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "num_channels must be divisible by num_groups");
    if (num_channels < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Trying to create tensor with negative dimension %lld: [%lld]",
                                (long long)num_channels, (long long)num_channels);
    cnnc_module *m = cnnc__module_new(&groupnorm_type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "num_groups", cnnc__int_value(num_groups));
    cnnc__module_set_attr(m, "num_channels", cnnc__int_value(num_channels));
    cnnc__module_set_attr(m, "eps", cnnc__float_value(o.eps));
    cnnc__module_set_attr(m, "affine", cnnc__bool_value(o.affine));
    if (add_affine(m, o.affine, 1, &num_channels) != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- LocalResponseNorm ----------------------------------------------------------------- */

static cnnc_tensor *lrn_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_local_response_norm(x, attr_int(m, "size"), attr_float(m, "alpha"),
                                        attr_float(m, "beta"), attr_float(m, "k"));
}

static void lrn_repr(const cnnc_module *m, char *buf, size_t cap) {
    char a[40], b[40], k[40];
    cnnc__float_repr(attr_float(m, "alpha"), a, sizeof a);
    cnnc__float_repr(attr_float(m, "beta"), b, sizeof b);
    cnnc__float_repr(attr_float(m, "k"), k, sizeof k);
    snprintf(buf, cap, "%lld, alpha=%s, beta=%s, k=%s", (long long)attr_int(m, "size"), a, b, k);
}

static const cnnc__module_type lrn_type = {"LocalResponseNorm", lrn_forward, lrn_repr};

cnnc_module *cnnc_localresponsenorm_new(int64_t size, cnnc_localresponsenorm_options o) {
    cnnc_module *m = cnnc__module_new(&lrn_type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "size", cnnc__int_value(size));
    cnnc__module_set_attr(m, "alpha", cnnc__float_value(o.alpha));
    cnnc__module_set_attr(m, "beta", cnnc__float_value(o.beta));
    cnnc__module_set_attr(m, "k", cnnc__float_value(o.k));
    return m;
}
