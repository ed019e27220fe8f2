/* Norm modules: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm,
 * LocalResponseNorm. The forwards reproduce torch.nn's module logic over the
 * functional ops. */
#include <math.h>
#include <string.h>

#include "core/args.h"
#include "core/error.h"
#include "nn/module.h"
#include "nn/norm.h"
#include "ops/norm.h"
#include "ops/ops.h"


typedef cnnc__normbase_state normbase_state;

const cnnc__field cnnc__normbase_fields[CNNC__NORMBASE_N_FIELDS] = {
    CNNC__FIELD(normbase_state, num_features, INT),
    CNNC__FIELD(normbase_state, eps, FLOAT),
    CNNC__FIELD(normbase_state, momentum, OPT_FLOAT),
    CNNC__FIELD(normbase_state, affine, BOOL),
    CNNC__FIELD(normbase_state, track_running_stats, BOOL),
};
#define normbase_fields cnnc__normbase_fields

/* ---- BatchNorm / InstanceNorm: the shared _NormBase ----------------------------- */

void cnnc__normbase_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"eps", "momentum", "affine", "track_running_stats"};
    cnnc__strbuf_printf(s, "%lld, ", (long long)CNNC__STATE(m, const normbase_state)->num_features);
    cnnc__repr_fields(m, s, 4, names);
}

/* weight = ones, bias = zeros (or None twice) */
static cnnc_status add_affine(cnnc_module *m, bool affine, int ndim, const int64_t *shape) {
    const char *names[2] = {"weight", "bias"};
    for (int i = 0; i < 2; i++) {
        cnnc_tensor *t = affine ? cnnc__filled_param(ndim, shape, i ? 0.0f : 1.0f) : NULL;
        if (affine && !t) return cnnc_last_status();
        cnnc_status st = cnnc__module_add_param(m, names[i], t);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

/* running_mean = zeros, running_var = ones, num_batches_tracked = 0 (or None x3) */
static cnnc_status add_running_stats(cnnc_module *m, bool track, int64_t n) {
    const char *names[3] = {"running_mean", "running_var", "num_batches_tracked"};
    for (int i = 0; i < 3; i++) {
        cnnc_tensor *t = NULL;
        if (track) {
            t = i == 2 ? cnnc__tensor_zeros(CNNC_INT64, 0, NULL) : cnnc__tensor_new(CNNC_FLOAT32, 1, &n);
            if (!t) return cnnc_last_status();
            for (int64_t c = 0; i < 2 && c < n; c++) cnnc__f32(t)[c] = i ? 1.0f : 0.0f;
        }
        cnnc_status st = cnnc__module_add_buffer(m, names[i], t, true);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

cnnc_module *cnnc__normbase_new(const cnnc__module_type *type, int spatial, int64_t num_features,
                                cnnc_batchnorm_options o) {
    if (num_features < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Trying to create tensor with negative dimension %lld: [%lld]",
                                (long long)num_features, (long long)num_features);
    cnnc_module *m = cnnc__module_new(type);
    if (!m) return NULL;
    *CNNC__STATE(m, normbase_state) = (normbase_state){
        num_features, o.eps, o.momentum, o.affine, o.track_running_stats, spatial};
    if (add_affine(m, o.affine, 1, &num_features) != CNNC_OK ||
        add_running_stats(m, o.track_running_stats, num_features) != CNNC_OK) {
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

cnnc_status cnnc__batchnorm_count(cnnc_module *m, double *factor) {
    const normbase_state *s = CNNC__STATE(m, const normbase_state);
    *factor = s->momentum.has_value ? s->momentum.value : 0.0;
    cnnc_tensor *nbt = cnnc__module_buffer(m, "num_batches_tracked");
    if (m->training && s->track_running_stats && nbt) {
        if (nbt->dtype != CNNC_INT64 || nbt->numel != 1)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "num_batches_tracked must be a one-element int64 tensor");
        cnnc__i64(nbt)[0] += 1;
        cnnc__bump_version(nbt);
        if (!s->momentum.has_value) *factor = 1.0 / (double)cnnc__i64(nbt)[0];
    }
    return CNNC_OK;
}

/* _BatchNorm.forward: counts batches, picks the momentum, uses batch statistics in
 * training (or without running stats); with act (training only), the activation after
 * it in the same pass */
static cnnc_tensor *batchnorm_run(cnnc_module *m, cnnc_tensor *x, const cnnc__norm_act *act) {
    const normbase_state *s = CNNC__STATE(m, const normbase_state);
    const int a = s->spatial == 1 ? 2 : s->spatial + 2, b = s->spatial + 2;
    if (cnnc__check_tensor("BatchNorm.forward", "input", x, true) != CNNC_OK ||
        check_input_dim(x->ndim, a, b) != CNNC_OK)
        return NULL;
    double factor;
    if (cnnc__batchnorm_count(m, &factor) != CNNC_OK) return NULL;
    cnnc_tensor *rm = cnnc__module_buffer(m, "running_mean"), *rv = cnnc__module_buffer(m, "running_var");
    cnnc_tensor *w = cnnc__module_param(m, "weight"), *bias = cnnc__module_param(m, "bias");
    bool bn_training = m->training ? true : (rm == NULL && rv == NULL);
    bool pass = !m->training || s->track_running_stats;
    if (act) return cnnc__op_batch_norm_act(x, pass ? rm : NULL, pass ? rv : NULL, w, bias, factor, s->eps, act);
    return cnnc__op_batch_norm(x, pass ? rm : NULL, pass ? rv : NULL, w, bias, bn_training, factor, s->eps);
}

static cnnc_tensor *batchnorm_forward(cnnc_module *m, cnnc_tensor *x) { return batchnorm_run(m, x, NULL); }

cnnc_tensor *cnnc__batchnorm_act_forward(cnnc_module *m, cnnc_tensor *x, const cnnc__norm_act *act) {
    if (!cnnc__is_batchnorm_module(m) || !m->training)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "BatchNorm with an activation: expected a BatchNorm module in training mode");
    return batchnorm_run(m, x, act);
}

/* _InstanceNorm.forward: an unbatched input (spatial + 1 dims) gets a batch of one */
static cnnc_tensor *instancenorm_forward(cnnc_module *m, cnnc_tensor *x) {
    const normbase_state *s = CNNC__STATE(m, const normbase_state);
    const int no_batch_dim = s->spatial + 1;
    if (cnnc__check_tensor("InstanceNorm.forward", "input", x, true) != CNNC_OK ||
        check_input_dim(x->ndim, no_batch_dim, no_batch_dim + 1) != CNNC_OK)
        return NULL;
    if (!s->momentum.has_value)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "instance_norm(): argument 'momentum' (position 7) must be float, not "
                                "NoneType");
    bool use_input_stats = m->training || !s->track_running_stats;
    cnnc_tensor *rm = cnnc__module_buffer(m, "running_mean"), *rv = cnnc__module_buffer(m, "running_var");
    cnnc_tensor *w = cnnc__module_param(m, "weight"), *b = cnnc__module_param(m, "bias");
    const double mom = s->momentum.value;
    if (x->ndim != no_batch_dim)
        return cnnc__op_instance_norm(x, rm, rv, w, b, use_input_stats, mom, s->eps);
    int64_t shape[CNNC_MAX_DIMS];
    shape[0] = 1;
    memcpy(shape + 1, x->shape, (size_t)x->ndim * sizeof(int64_t));
    cnnc_tensor *xb = cnnc__op_reshape(x, x->ndim + 1, shape);
    cnnc_tensor *yb = xb ? cnnc__op_instance_norm(xb, rm, rv, w, b, use_input_stats, mom, s->eps) : NULL;
    cnnc_tensor *y = yb ? cnnc__op_reshape(yb, x->ndim, x->shape) : NULL;
    cnnc_tensor_release(xb);
    cnnc_tensor_release(yb);
    return y;
}

#define NORMBASE_TYPE(Name, fwd)                                                            \
    {.name = Name, .state_size = sizeof(normbase_state), .fields = normbase_fields,         \
     .n_fields = CNNC__NFIELDS(cnnc__normbase_fields), .forward = fwd, .extra_repr = cnnc__normbase_repr}
static const cnnc__module_type bn_types[3] = {
    NORMBASE_TYPE("BatchNorm1d", batchnorm_forward), NORMBASE_TYPE("BatchNorm2d", batchnorm_forward),
    NORMBASE_TYPE("BatchNorm3d", batchnorm_forward)};
static const cnnc__module_type in_types[3] = {
    NORMBASE_TYPE("InstanceNorm1d", instancenorm_forward),
    NORMBASE_TYPE("InstanceNorm2d", instancenorm_forward),
    NORMBASE_TYPE("InstanceNorm3d", instancenorm_forward)};

bool cnnc__is_batchnorm_module(const cnnc_module *m) {
    return m && m->type >= bn_types && m->type < bn_types + 3;
}

bool cnnc__batchnorm_eval_affine(const cnnc_module *m, int64_t channels, double *scale, double *shift) {
    if (!cnnc__is_batchnorm_module(m) || m->training) return false;
    const normbase_state *s = CNNC__STATE(m, const normbase_state);
    cnnc_tensor *rm = cnnc__module_buffer(m, "running_mean"), *rv = cnnc__module_buffer(m, "running_var");
    cnnc_tensor *w = cnnc__module_param(m, "weight"), *b = cnnc__module_param(m, "bias");
    if (!s->track_running_stats || !rm || !rv || s->num_features != channels) return false;
    const cnnc_tensor *ts[4] = {rm, rv, w, b};
    for (int i = 0; i < 4; i++)
        if (ts[i] && (ts[i]->dtype != CNNC_FLOAT32 || ts[i]->numel != channels)) return false;
    for (int64_t c = 0; c < channels; c++) {
        double inv = 1.0 / sqrt((double)cnnc__f32(rv)[c] + s->eps);
        scale[c] = (w ? cnnc__f32(w)[c] : 1.0) * inv;
        shift[c] = (b ? cnnc__f32(b)[c] : 0.0) - cnnc__f32(rm)[c] * scale[c];
    }
    return true;
}

cnnc_module *cnnc_batchnorm1d_new(int64_t n, cnnc_batchnorm_options o) { return cnnc__normbase_new(&bn_types[0], 1, n, o); }
cnnc_module *cnnc_batchnorm2d_new(int64_t n, cnnc_batchnorm_options o) { return cnnc__normbase_new(&bn_types[1], 2, n, o); }
cnnc_module *cnnc_batchnorm3d_new(int64_t n, cnnc_batchnorm_options o) { return cnnc__normbase_new(&bn_types[2], 3, n, o); }
cnnc_module *cnnc_instancenorm1d_new(int64_t n, cnnc_instancenorm_options o) { return cnnc__normbase_new(&in_types[0], 1, n, o); }
cnnc_module *cnnc_instancenorm2d_new(int64_t n, cnnc_instancenorm_options o) { return cnnc__normbase_new(&in_types[1], 2, n, o); }
cnnc_module *cnnc_instancenorm3d_new(int64_t n, cnnc_instancenorm_options o) { return cnnc__normbase_new(&in_types[2], 3, n, o); }

/* ---- LayerNorm ------------------------------------------------------------------------ */

typedef struct layernorm_state {
    cnnc_ints normalized_shape;
    double eps;
    bool elementwise_affine;
} layernorm_state;

static const cnnc__field layernorm_fields[] = {
    CNNC__FIELD(layernorm_state, normalized_shape, TUPLE),
    CNNC__FIELD(layernorm_state, eps, FLOAT),
    CNNC__FIELD(layernorm_state, elementwise_affine, BOOL),
};

static cnnc_tensor *layernorm_forward(cnnc_module *m, cnnc_tensor *x) {
    const layernorm_state *s = CNNC__STATE(m, const layernorm_state);
    return cnnc__op_layer_norm(x, s->normalized_shape.n, s->normalized_shape.v,
                               cnnc__module_param(m, "weight"), cnnc__module_param(m, "bias"), s->eps);
}

static void layernorm_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"eps", "elementwise_affine"};
    cnnc_value ns = cnnc__field_value(m->state, &layernorm_fields[0]);
    cnnc__value_text(s, &ns);
    cnnc__strbuf_printf(s, ", ");
    cnnc__repr_fields(m, s, 2, names);
}

static const cnnc__module_type layernorm_type = {
    .name = "LayerNorm", .state_size = sizeof(layernorm_state), .fields = layernorm_fields,
    .n_fields = CNNC__NFIELDS(layernorm_fields), .forward = layernorm_forward,
    .extra_repr = layernorm_repr};

cnnc_module *cnnc_layernorm_new(cnnc_ints normalized_shape, cnnc_layernorm_options o) {
    if (cnnc__check_ints("LayerNorm", "normalized_shape", &normalized_shape) ||
        cnnc__check_given("LayerNorm", "normalized_shape", &normalized_shape))
        return NULL;
    normalized_shape = cnnc__ntuple(normalized_shape, 1); /* torch: (k,) for the int k */
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
    *CNNC__STATE(m, layernorm_state) = (layernorm_state){normalized_shape, o.eps, o.elementwise_affine};
    if (add_affine(m, o.elementwise_affine, normalized_shape.n, normalized_shape.v) != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- GroupNorm ------------------------------------------------------------------------ */

typedef struct groupnorm_state {
    int64_t num_groups, num_channels;
    double eps;
    bool affine;
} groupnorm_state;

static const cnnc__field groupnorm_fields[] = {
    CNNC__FIELD(groupnorm_state, num_groups, INT),
    CNNC__FIELD(groupnorm_state, num_channels, INT),
    CNNC__FIELD(groupnorm_state, eps, FLOAT),
    CNNC__FIELD(groupnorm_state, affine, BOOL),
};

static cnnc_tensor *groupnorm_forward(cnnc_module *m, cnnc_tensor *x) {
    const groupnorm_state *s = CNNC__STATE(m, const groupnorm_state);
    return cnnc__op_group_norm(x, s->num_groups, cnnc__module_param(m, "weight"),
                               cnnc__module_param(m, "bias"), s->eps);
}

static void groupnorm_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"eps", "affine"};
    const groupnorm_state *st = CNNC__STATE(m, const groupnorm_state);
    cnnc__strbuf_printf(s, "%lld, %lld, ", (long long)st->num_groups, (long long)st->num_channels);
    cnnc__repr_fields(m, s, 2, names);
}

static const cnnc__module_type groupnorm_type = {
    .name = "GroupNorm", .state_size = sizeof(groupnorm_state), .fields = groupnorm_fields,
    .n_fields = CNNC__NFIELDS(groupnorm_fields), .forward = groupnorm_forward,
    .extra_repr = groupnorm_repr};

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
    *CNNC__STATE(m, groupnorm_state) = (groupnorm_state){num_groups, num_channels, o.eps, o.affine};
    if (add_affine(m, o.affine, 1, &num_channels) != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- LocalResponseNorm ------------------------------------------------------------------ */

typedef struct lrn_state {
    int64_t size;
    double alpha, beta, k;
} lrn_state;

static const cnnc__field lrn_fields[] = {
    CNNC__FIELD(lrn_state, size, INT),
    CNNC__FIELD(lrn_state, alpha, FLOAT),
    CNNC__FIELD(lrn_state, beta, FLOAT),
    CNNC__FIELD(lrn_state, k, FLOAT),
};

static cnnc_tensor *lrn_forward(cnnc_module *m, cnnc_tensor *x) {
    const lrn_state *s = CNNC__STATE(m, const lrn_state);
    return cnnc__op_local_response_norm(x, s->size, s->alpha, s->beta, s->k);
}

static void lrn_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"alpha", "beta", "k"};
    cnnc__strbuf_printf(s, "%lld, ", (long long)CNNC__STATE(m, const lrn_state)->size);
    cnnc__repr_fields(m, s, 3, names);
}

static const cnnc__module_type lrn_type = {
    .name = "LocalResponseNorm", .state_size = sizeof(lrn_state), .fields = lrn_fields,
    .n_fields = CNNC__NFIELDS(lrn_fields), .forward = lrn_forward, .extra_repr = lrn_repr};

cnnc_module *cnnc_localresponsenorm_new(int64_t size, cnnc_localresponsenorm_options o) {
    cnnc_module *m = cnnc__module_new(&lrn_type);
    if (m) *CNNC__STATE(m, lrn_state) = (lrn_state){size, o.alpha, o.beta, o.k};
    return m;
}
