/* Activation modules: nn.ReLU, ReLU6, Hardtanh, LeakyReLU, ELU, SELU, CELU, GELU,
 * SiLU, Mish, Sigmoid, Tanh, Hardsigmoid, Hardswish, Softplus, PReLU, Softmax,
 * LogSoftmax. One state struct serves them all; each kind lists the fields PyTorch
 * gives it, in PyTorch's order. */
#include <string.h>

#include "core/args.h"
#include "core/error.h"
#include "nn/module.h"
#include "ops/activation.h"
#include "ops/ops.h"

typedef struct act_state {
    double min_val, max_val;  /* Hardtanh, ReLU6 */
    double negative_slope;    /* LeakyReLU */
    double alpha;             /* ELU, CELU */
    const char *approximate;  /* GELU: "none" or "tanh" */
    double beta, threshold;   /* Softplus */
    int64_t num_parameters;   /* PReLU */
    cnnc_optional_int dim;    /* Softmax, LogSoftmax */
    bool inplace;
} act_state;

#define F(member, KIND) CNNC__FIELD(act_state, member, KIND)
static const cnnc__field inplace_fields[] = {F(inplace, BOOL)};
static const cnnc__field hardtanh_fields[] = {F(min_val, FLOAT), F(max_val, FLOAT), F(inplace, BOOL)};
static const cnnc__field leaky_fields[] = {F(negative_slope, FLOAT), F(inplace, BOOL)};
static const cnnc__field alpha_fields[] = {F(alpha, FLOAT), F(inplace, BOOL)};
static const cnnc__field gelu_fields[] = {F(approximate, STRING)};
static const cnnc__field softplus_fields[] = {F(beta, NUMBER), F(threshold, NUMBER)};
static const cnnc__field prelu_fields[] = {F(num_parameters, INT)};
static const cnnc__field softmax_fields[] = {F(dim, OPT_INT)};
#undef F

#define S(m) CNNC__STATE(m, const act_state)

/* A kind listing `fields`, with forward and repr. */
#define ACT_TYPE(Name, fields_, fwd, repr)                                                   \
    {.name = Name, .state_size = sizeof(act_state), .fields = fields_,                     \
     .n_fields = CNNC__NFIELDS(fields_), .forward = fwd, .extra_repr = repr}
#define STATELESS_TYPE(Name, fwd) {.name = Name, .state_size = sizeof(act_state), .forward = fwd}

static cnnc_module *make(const cnnc__module_type *type, act_state s) {
    cnnc_module *m = cnnc__module_new(type);
    if (m) *CNNC__STATE(m, act_state) = s;
    return m;
}

/* ---- reprs --------------------------------------------------------------------------- */

static void inplace_suffix(const cnnc_module *m, cnnc__strbuf *s) {
    if (S(m)->inplace) cnnc__strbuf_printf(s, ", inplace=True");
}
static void inplace_repr(const cnnc_module *m, cnnc__strbuf *s) {
    if (S(m)->inplace) cnnc__strbuf_printf(s, "inplace=True");
}
/* the first n fields as name=value, then ", inplace=True" if set */
static void fields_inplace_repr(const cnnc_module *m, cnnc__strbuf *s, int n) {
    const char *names[2];
    for (int i = 0; i < n; i++) names[i] = m->type->fields[i].name;
    cnnc__repr_fields(m, s, n, names);
    inplace_suffix(m, s);
}
static void one_field_inplace_repr(const cnnc_module *m, cnnc__strbuf *s) { fields_inplace_repr(m, s, 1); }
static void two_fields_inplace_repr(const cnnc_module *m, cnnc__strbuf *s) { fields_inplace_repr(m, s, 2); }
static void all_fields_repr(const cnnc_module *m, cnnc__strbuf *s) {
    const char *names[2];
    for (int i = 0; i < m->type->n_fields; i++) names[i] = m->type->fields[i].name;
    cnnc__repr_fields(m, s, m->type->n_fields, names);
}

/* ---- ReLU, ReLU6, Hardtanh ----------------------------------------------------------- */

static cnnc_tensor *relu_forward(cnnc_module *m, cnnc_tensor *x) {
    if (!S(m)->inplace) return cnnc__op_relu(x);
    return cnnc__op_relu_(x) == CNNC_OK ? cnnc_tensor_retain(x) : NULL;
}
static cnnc_tensor *relu6_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_relu6(x, CNNC_RELU6(.inplace = S(m)->inplace));
}
static cnnc_tensor *hardtanh_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_hardtanh(x, CNNC_HARDTANH(.min_val = S(m)->min_val, .max_val = S(m)->max_val,
                                              .inplace = S(m)->inplace));
}

static const cnnc__module_type relu_type = ACT_TYPE("ReLU", inplace_fields, relu_forward, inplace_repr);
static const cnnc__module_type relu6_type = ACT_TYPE("ReLU6", hardtanh_fields, relu6_forward, inplace_repr);
static const cnnc__module_type hardtanh_type =
    ACT_TYPE("Hardtanh", hardtanh_fields, hardtanh_forward, two_fields_inplace_repr);

cnnc_module *cnnc_relu_new(cnnc_relu_options o) {
    return make(&relu_type, (act_state){.inplace = o.inplace});
}
cnnc_module *cnnc_relu6_new(cnnc_relu6_options o) {
    return make(&relu6_type, (act_state){.min_val = 0.0, .max_val = 6.0, .inplace = o.inplace});
}
cnnc_module *cnnc_hardtanh_new(cnnc_hardtanh_options o) {
    if (!(o.max_val > o.min_val)) {
        char lo[40], hi[40];
        cnnc__float_repr(o.min_val, lo, sizeof lo);
        cnnc__float_repr(o.max_val, hi, sizeof hi);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Hardtanh(): max_val (%s) must be greater than min_val (%s)", hi, lo);
    }
    return make(&hardtanh_type,
                (act_state){.min_val = o.min_val, .max_val = o.max_val, .inplace = o.inplace});
}

/* ---- LeakyReLU, ELU, CELU ------------------------------------------------------------- */

static cnnc_tensor *leaky_relu_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_leaky_relu(x, CNNC_LEAKY_RELU(.negative_slope = S(m)->negative_slope,
                                                  .inplace = S(m)->inplace));
}
static cnnc_tensor *elu_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_elu(x, CNNC_ELU(.alpha = S(m)->alpha, .inplace = S(m)->inplace));
}
static cnnc_tensor *celu_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_celu(x, CNNC_CELU(.alpha = S(m)->alpha, .inplace = S(m)->inplace));
}

static const cnnc__module_type leaky_relu_type =
    ACT_TYPE("LeakyReLU", leaky_fields, leaky_relu_forward, one_field_inplace_repr);
static const cnnc__module_type elu_type = ACT_TYPE("ELU", alpha_fields, elu_forward, one_field_inplace_repr);
static const cnnc__module_type celu_type = ACT_TYPE("CELU", alpha_fields, celu_forward, one_field_inplace_repr);

cnnc_module *cnnc_leakyrelu_new(cnnc_leaky_relu_options o) {
    return make(&leaky_relu_type, (act_state){.negative_slope = o.negative_slope, .inplace = o.inplace});
}
cnnc_module *cnnc_elu_new(cnnc_elu_options o) {
    return make(&elu_type, (act_state){.alpha = o.alpha, .inplace = o.inplace});
}
cnnc_module *cnnc_celu_new(cnnc_celu_options o) {
    return make(&celu_type, (act_state){.alpha = o.alpha, .inplace = o.inplace});
}

/* ---- SELU, SiLU, Mish, Hardsigmoid, Hardswish: only inplace ------------------------------ */

#define INPLACE_ONLY_MODULE(Name, name, NAME, REPR)                                          \
    static cnnc_tensor *name##_forward(cnnc_module *m, cnnc_tensor *x) {                     \
        return cnnc__op_##name(x, CNNC_##NAME(.inplace = S(m)->inplace));                   \
    }                                                                                        \
    static const cnnc__module_type name##_type =                                             \
        ACT_TYPE(Name, inplace_fields, name##_forward, REPR);                                \
    cnnc_module *cnnc_##name##_new(cnnc_##name##_options o) {                                \
        return make(&name##_type, (act_state){.inplace = o.inplace});                        \
    }
INPLACE_ONLY_MODULE("SELU", selu, SELU, inplace_repr)
INPLACE_ONLY_MODULE("SiLU", silu, SILU, inplace_repr)
INPLACE_ONLY_MODULE("Mish", mish, MISH, inplace_repr)
/* PyTorch's Hardsigmoid and Hardswish print no settings */
INPLACE_ONLY_MODULE("Hardsigmoid", hardsigmoid, HARDSIGMOID, NULL)
INPLACE_ONLY_MODULE("Hardswish", hardswish, HARDSWISH, NULL)
#undef INPLACE_ONLY_MODULE

/* ---- GELU, Sigmoid, Tanh, Softplus ---------------------------------------------------------- */

static cnnc_tensor *gelu_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_gelu(x, CNNC_GELU(.approximate = S(m)->approximate));
}
static const cnnc__module_type gelu_type = ACT_TYPE("GELU", gelu_fields, gelu_forward, all_fields_repr);

cnnc_module *cnnc_gelu_new(cnnc_gelu_options o) {
    /* the state keeps a static string, so only the two valid values are stored;
     * PyTorch defers this error to the first forward */
    const char *mode = NULL;
    if (o.approximate && strcmp(o.approximate, "none") == 0) mode = "none";
    if (o.approximate && strcmp(o.approximate, "tanh") == 0) mode = "tanh";
    if (!mode)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "approximate argument must be either none or tanh.");
    return make(&gelu_type, (act_state){.approximate = mode});
}

static cnnc_tensor *sigmoid_forward(cnnc_module *m, cnnc_tensor *x) {
    (void)m;
    return cnnc__op_sigmoid(x);
}
static cnnc_tensor *tanh_forward(cnnc_module *m, cnnc_tensor *x) {
    (void)m;
    return cnnc__op_tanh(x);
}
static const cnnc__module_type sigmoid_type = STATELESS_TYPE("Sigmoid", sigmoid_forward);
static const cnnc__module_type tanh_type = STATELESS_TYPE("Tanh", tanh_forward);
cnnc_module *cnnc_sigmoid_new(void) { return make(&sigmoid_type, (act_state){0}); }
cnnc_module *cnnc_tanh_new(void) { return make(&tanh_type, (act_state){0}); }

static cnnc_tensor *softplus_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_softplus(x, CNNC_SOFTPLUS(.beta = S(m)->beta, .threshold = S(m)->threshold));
}
/* PyTorch declares Softplus's beta and threshold as ints (defaults 1 and 20):
 * integral values are listed (and printed) as ints (the NUMBER fields). */
static const cnnc__module_type softplus_type =
    ACT_TYPE("Softplus", softplus_fields, softplus_forward, all_fields_repr);

cnnc_module *cnnc_softplus_new(cnnc_softplus_options o) {
    return make(&softplus_type, (act_state){.beta = o.beta, .threshold = o.threshold});
}

/* ---- PReLU ------------------------------------------------------------------------------------ */

static cnnc_tensor *prelu_forward(cnnc_module *m, cnnc_tensor *x) {
    cnnc_tensor *w = cnnc__module_param(m, "weight");
    if (!w) return cnnc__error_null(CNNC_ERR_RUNTIME, "PReLU: weight is None");
    return cnnc__op_prelu(x, w);
}
static const cnnc__module_type prelu_type = ACT_TYPE("PReLU", prelu_fields, prelu_forward, all_fields_repr);

cnnc_module *cnnc_prelu_new(cnnc_prelu_options o) {
    if (o.num_parameters < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Trying to create tensor with negative dimension %lld: [%lld]",
                                (long long)o.num_parameters, (long long)o.num_parameters);
    cnnc_module *m = make(&prelu_type, (act_state){.num_parameters = o.num_parameters});
    if (!m) return NULL;
    cnnc_tensor *w = cnnc__filled_param(1, &o.num_parameters, (float)o.init);
    if (!w || cnnc__module_add_param(m, "weight", w) != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- Softmax, LogSoftmax ------------------------------------------------------------------- */

static cnnc_softmax_options softmax_options(const cnnc_module *m) {
    cnnc_softmax_options o = CNNC_SOFTMAX();
    if (S(m)->dim.has_value) o.dim = (cnnc_ints)CNNC_INTS(S(m)->dim.value);
    return o;
}
static cnnc_tensor *softmax_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_softmax(x, softmax_options(m));
}
static cnnc_tensor *log_softmax_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_log_softmax(x, softmax_options(m));
}
static const cnnc__module_type softmax_type =
    ACT_TYPE("Softmax", softmax_fields, softmax_forward, all_fields_repr);
static const cnnc__module_type log_softmax_type =
    ACT_TYPE("LogSoftmax", softmax_fields, log_softmax_forward, all_fields_repr);

static cnnc_module *softmax_module(const cnnc__module_type *type, cnnc_softmax_options o) {
    if (o.dim.n < 0 || o.dim.n > CNNC_MAX_DIMS)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): invalid dim count %d",
                                type->name, o.dim.n);
    if (cnnc__ints_is_tuple(&o.dim))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): argument 'dim' must be an int or None, not a tuple of %d",
                                type->name, o.dim.n);
    const bool given = cnnc__ints_is_int(&o.dim);
    return make(type, (act_state){.dim = {given, given ? o.dim.v[0] : 0}});
}
cnnc_module *cnnc_softmax_new(cnnc_softmax_options o) { return softmax_module(&softmax_type, o); }
cnnc_module *cnnc_logsoftmax_new(cnnc_softmax_options o) { return softmax_module(&log_softmax_type, o); }

/* ---- the model runtime's view (nn/module.h) ------------------------------------------------ */

bool cnnc__activation_module_spec(const cnnc_module *m, struct cnnc__act_spec *s) {
    static const struct {
        const cnnc__module_type *type;
        const char *fn;
    } kinds[] = {{&relu_type, "relu"},        {&relu6_type, "relu6"},     {&hardtanh_type, "hardtanh"},
                 {&leaky_relu_type, "leaky_relu"}, {&elu_type, "elu"},     {&celu_type, "celu"},
                 {&selu_type, "selu"},        {&silu_type, "silu"},       {&mish_type, "mish"},
                 {&hardsigmoid_type, "hardsigmoid"}, {&hardswish_type, "hardswish"},
                 {&sigmoid_type, "sigmoid"},  {&tanh_type, "tanh"},       {&softplus_type, "softplus"},
                 {&gelu_type, "gelu"}};
    for (size_t i = 0; m && i < sizeof kinds / sizeof *kinds; i++) {
        if (m->type != kinds[i].type) continue;
        const act_state *st = S(m);
        const char *fn = kinds[i].type == &gelu_type && strcmp(st->approximate, "tanh") == 0 ? "gelu_tanh"
                                                                                             : kinds[i].fn;
        double a = st->min_val, b = st->max_val; /* hardtanh */
        if (kinds[i].type == &leaky_relu_type) a = st->negative_slope;
        if (kinds[i].type == &elu_type || kinds[i].type == &celu_type) a = st->alpha;
        if (kinds[i].type == &softplus_type) a = st->beta, b = st->threshold;
        return cnnc__act_spec_of(fn, a, b, s);
    }
    return false;
}
