/* Activation modules: nn.ReLU, ReLU6, Hardtanh, LeakyReLU, ELU, SELU, CELU, GELU,
 * SiLU, Mish, Sigmoid, Tanh, Hardsigmoid, Hardswish, Softplus, PReLU, Softmax,
 * LogSoftmax. Settings are module attrs with PyTorch's names; forward rebuilds the
 * functional's options from them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "nn/module.h"
#include "ops/activation.h"
#include "ops/ops.h"

static bool attr_bool(const cnnc_module *m, const char *name) {
    const cnnc_value *v = cnnc__module_get_attr(m, name);
    return v && v->ints[0] != 0;
}

static double attr_double(const cnnc_module *m, const char *name) {
    const cnnc_value *v = cnnc__module_get_attr(m, name);
    if (!v) return 0.0;
    return v->kind == CNNC_VALUE_INT ? (double)v->ints[0] : v->f;
}

/* A setting printed as PyTorch prints the Python value ("0.01", "1.0", "20"). */
static void attr_text(const cnnc_module *m, const char *name, char *buf, size_t cap) {
    const cnnc_value *v = cnnc__module_get_attr(m, name);
    if (v && v->kind == CNNC_VALUE_INT)
        snprintf(buf, cap, "%lld", (long long)v->ints[0]);
    else
        cnnc__float_repr(v ? v->f : 0.0, buf, cap);
}

static const char *inplace_suffix(const cnnc_module *m) {
    return attr_bool(m, "inplace") ? ", inplace=True" : "";
}

/* a module made of attrs only; NULL (error set) if m is NULL */
static cnnc_module *module_with(const cnnc__module_type *type) { return cnnc__module_new(type); }

/* ---- ReLU ----------------------------------------------------------------------- */

static cnnc_tensor *relu_forward(cnnc_module *m, cnnc_tensor *x) {
    if (!attr_bool(m, "inplace")) return cnnc__op_relu(x);
    return cnnc__op_relu_(x) == CNNC_OK ? cnnc_tensor_retain(x) : NULL;
}

static void inplace_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", attr_bool(m, "inplace") ? "inplace=True" : "");
}

static const cnnc__module_type relu_type = {"ReLU", relu_forward, inplace_extra_repr};

cnnc_module *cnnc_relu_new(cnnc_relu_options o) {
    cnnc_module *m = module_with(&relu_type);
    if (m) cnnc__module_set_attr(m, "inplace", cnnc__bool_value(o.inplace));
    return m;
}

/* ---- ReLU6 / Hardtanh -------------------------------------------------------------- */

static cnnc_tensor *relu6_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_relu6(x, CNNC_RELU6(.inplace = attr_bool(m, "inplace")));
}
static const cnnc__module_type relu6_type = {"ReLU6", relu6_forward, inplace_extra_repr};

cnnc_module *cnnc_relu6_new(cnnc_relu6_options o) {
    cnnc_module *m = module_with(&relu6_type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "min_val", cnnc__float_value(0.0));
    cnnc__module_set_attr(m, "max_val", cnnc__float_value(6.0));
    cnnc__module_set_attr(m, "inplace", cnnc__bool_value(o.inplace));
    return m;
}

static cnnc_tensor *hardtanh_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_hardtanh(x, CNNC_HARDTANH(.min_val = attr_double(m, "min_val"),
                                              .max_val = attr_double(m, "max_val"),
                                              .inplace = attr_bool(m, "inplace")));
}
static void hardtanh_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    char lo[40], hi[40];
    attr_text(m, "min_val", lo, sizeof lo);
    attr_text(m, "max_val", hi, sizeof hi);
    snprintf(buf, cap, "min_val=%s, max_val=%s%s", lo, hi, inplace_suffix(m));
}
static const cnnc__module_type hardtanh_type = {"Hardtanh", hardtanh_forward, hardtanh_extra_repr};

cnnc_module *cnnc_hardtanh_new(cnnc_hardtanh_options o) {
    if (!(o.max_val > o.min_val)) {
        char lo[40], hi[40];
        cnnc__float_repr(o.min_val, lo, sizeof lo);
        cnnc__float_repr(o.max_val, hi, sizeof hi);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Hardtanh(): max_val (%s) must be greater than min_val (%s)", hi,
                                lo);
    }
    cnnc_module *m = module_with(&hardtanh_type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "min_val", cnnc__float_value(o.min_val));
    cnnc__module_set_attr(m, "max_val", cnnc__float_value(o.max_val));
    cnnc__module_set_attr(m, "inplace", cnnc__bool_value(o.inplace));
    return m;
}

/* ---- LeakyReLU, ELU, SELU, CELU ------------------------------------------------------ */

static cnnc_tensor *leaky_relu_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_leaky_relu(x, CNNC_LEAKY_RELU(.negative_slope = attr_double(m, "negative_slope"),
                                                  .inplace = attr_bool(m, "inplace")));
}
static void leaky_relu_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    char s[40];
    attr_text(m, "negative_slope", s, sizeof s);
    snprintf(buf, cap, "negative_slope=%s%s", s, inplace_suffix(m));
}
static const cnnc__module_type leaky_relu_type = {"LeakyReLU", leaky_relu_forward,
                                                  leaky_relu_extra_repr};

cnnc_module *cnnc_leakyrelu_new(cnnc_leaky_relu_options o) {
    cnnc_module *m = module_with(&leaky_relu_type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "negative_slope", cnnc__float_value(o.negative_slope));
    cnnc__module_set_attr(m, "inplace", cnnc__bool_value(o.inplace));
    return m;
}

static void alpha_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    char s[40];
    attr_text(m, "alpha", s, sizeof s);
    snprintf(buf, cap, "alpha=%s%s", s, inplace_suffix(m));
}

/* ELU and CELU: alpha and inplace. */
#define ALPHA_MODULE(Name, name, NAME)                                                      \
    static cnnc_tensor *name##_forward(cnnc_module *m, cnnc_tensor *x) {                    \
        return cnnc__op_##name(x, CNNC_##NAME(.alpha = attr_double(m, "alpha"),              \
                                              .inplace = attr_bool(m, "inplace")));         \
    }                                                                                       \
    static const cnnc__module_type name##_type = {Name, name##_forward, alpha_extra_repr};  \
    cnnc_module *cnnc_##name##_new(cnnc_##name##_options o) {                               \
        cnnc_module *m = module_with(&name##_type);                                         \
        if (!m) return NULL;                                                                \
        cnnc__module_set_attr(m, "alpha", cnnc__float_value(o.alpha));                      \
        cnnc__module_set_attr(m, "inplace", cnnc__bool_value(o.inplace));                   \
        return m;                                                                           \
    }
ALPHA_MODULE("ELU", elu, ELU)
ALPHA_MODULE("CELU", celu, CELU)
#undef ALPHA_MODULE

/* SiLU, Mish, SELU, Hardsigmoid, Hardswish: only inplace. */
#define INPLACE_ONLY_MODULE(Name, name, NAME, REPR)                                         \
    static cnnc_tensor *name##_forward(cnnc_module *m, cnnc_tensor *x) {                    \
        return cnnc__op_##name(x, CNNC_##NAME(.inplace = attr_bool(m, "inplace")));          \
    }                                                                                       \
    static const cnnc__module_type name##_type = {Name, name##_forward, REPR};              \
    cnnc_module *cnnc_##name##_new(cnnc_##name##_options o) {                               \
        cnnc_module *m = module_with(&name##_type);                                         \
        if (m) cnnc__module_set_attr(m, "inplace", cnnc__bool_value(o.inplace));            \
        return m;                                                                           \
    }
INPLACE_ONLY_MODULE("SELU", selu, SELU, inplace_extra_repr)
INPLACE_ONLY_MODULE("SiLU", silu, SILU, inplace_extra_repr)
INPLACE_ONLY_MODULE("Mish", mish, MISH, inplace_extra_repr)
/* PyTorch's Hardsigmoid and Hardswish print no settings */
INPLACE_ONLY_MODULE("Hardsigmoid", hardsigmoid, HARDSIGMOID, NULL)
INPLACE_ONLY_MODULE("Hardswish", hardswish, HARDSWISH, NULL)
#undef INPLACE_ONLY_MODULE

/* ---- GELU ------------------------------------------------------------------------ */

static cnnc_tensor *gelu_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_gelu(x, CNNC_GELU(.approximate = cnnc__module_get_attr(m, "approximate")->s));
}
static void gelu_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    snprintf(buf, cap, "approximate='%s'", cnnc__module_get_attr(m, "approximate")->s);
}
static const cnnc__module_type gelu_type = {"GELU", gelu_forward, gelu_extra_repr};

cnnc_module *cnnc_gelu_new(cnnc_gelu_options o) {
    /* the attr keeps a static string, so only the two valid values are stored;
     * PyTorch defers this error to the first forward */
    const char *mode = NULL;
    if (o.approximate && strcmp(o.approximate, "none") == 0) mode = "none";
    if (o.approximate && strcmp(o.approximate, "tanh") == 0) mode = "tanh";
    if (!mode)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "approximate argument must be either none or tanh.");
    cnnc_module *m = module_with(&gelu_type);
    if (m)
        cnnc__module_set_attr(m, "approximate",
                              (cnnc_value){.kind = CNNC_VALUE_STRING, .s = mode});
    return m;
}

/* ---- Sigmoid, Tanh --------------------------------------------------------------- */

static cnnc_tensor *sigmoid_forward(cnnc_module *m, cnnc_tensor *x) {
    (void)m;
    return cnnc__op_sigmoid(x);
}
static cnnc_tensor *tanh_forward(cnnc_module *m, cnnc_tensor *x) {
    (void)m;
    return cnnc__op_tanh(x);
}
static const cnnc__module_type sigmoid_type = {"Sigmoid", sigmoid_forward, NULL};
static const cnnc__module_type tanh_type = {"Tanh", tanh_forward, NULL};
cnnc_module *cnnc_sigmoid_new(void) { return module_with(&sigmoid_type); }
cnnc_module *cnnc_tanh_new(void) { return module_with(&tanh_type); }

/* ---- Softplus -------------------------------------------------------------------- */

static cnnc_tensor *softplus_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_softplus(x, CNNC_SOFTPLUS(.beta = attr_double(m, "beta"),
                                              .threshold = attr_double(m, "threshold")));
}
static void softplus_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    char b[40], t[40];
    attr_text(m, "beta", b, sizeof b);
    attr_text(m, "threshold", t, sizeof t);
    snprintf(buf, cap, "beta=%s, threshold=%s", b, t);
}
static const cnnc__module_type softplus_type = {"Softplus", softplus_forward, softplus_extra_repr};

/* PyTorch declares Softplus's beta and threshold as ints (defaults 1 and 20):
 * integral values are kept (and printed) as ints. */
static cnnc_value int_if_integral(double v) {
    if (isfinite(v) && v == floor(v) && fabs(v) < 1e15) return cnnc__int_value((int64_t)v);
    return cnnc__float_value(v);
}

cnnc_module *cnnc_softplus_new(cnnc_softplus_options o) {
    cnnc_module *m = module_with(&softplus_type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "beta", int_if_integral(o.beta));
    cnnc__module_set_attr(m, "threshold", int_if_integral(o.threshold));
    return m;
}

/* ---- PReLU ----------------------------------------------------------------------- */

static cnnc_tensor *prelu_forward(cnnc_module *m, cnnc_tensor *x) {
    cnnc_tensor *w = cnnc__module_param(m, "weight");
    if (!w) return cnnc__error_null(CNNC_ERR_RUNTIME, "PReLU: weight is None");
    return cnnc__op_prelu(x, w);
}
static void prelu_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    snprintf(buf, cap, "num_parameters=%lld",
             (long long)cnnc__module_get_attr(m, "num_parameters")->ints[0]);
}
static const cnnc__module_type prelu_type = {"PReLU", prelu_forward, prelu_extra_repr};

cnnc_module *cnnc_prelu_new(cnnc_prelu_options o) {
    if (o.num_parameters < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Trying to create tensor with negative dimension %lld: [%lld]",
                                (long long)o.num_parameters, (long long)o.num_parameters);
    cnnc_module *m = module_with(&prelu_type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "num_parameters", cnnc__int_value(o.num_parameters));
    cnnc_tensor *w = cnnc__tensor_new(CNNC_FLOAT32, 1, &o.num_parameters);
    if (w) {
        float *d = cnnc__f32(w);
        for (int64_t i = 0; i < o.num_parameters; i++) d[i] = (float)o.init;
        w->requires_grad = true;
    }
    cnnc_status st = cnnc__module_add_param(m, "weight", w);
    if (st == CNNC_OK && !w) st = cnnc_last_status();
    if (st != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- Softmax, LogSoftmax ----------------------------------------------------------- */

static cnnc_softmax_options softmax_options(const cnnc_module *m) {
    const cnnc_value *v = cnnc__module_get_attr(m, "dim");
    cnnc_softmax_options o = CNNC_SOFTMAX();
    if (v && v->kind == CNNC_VALUE_INT) o.dim = (cnnc_ints)CNNC_INTS(v->ints[0]);
    return o;
}
static cnnc_tensor *softmax_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_softmax(x, softmax_options(m));
}
static cnnc_tensor *log_softmax_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_log_softmax(x, softmax_options(m));
}
static void softmax_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    const cnnc_value *v = cnnc__module_get_attr(m, "dim");
    if (v && v->kind == CNNC_VALUE_INT)
        snprintf(buf, cap, "dim=%lld", (long long)v->ints[0]);
    else
        snprintf(buf, cap, "dim=None");
}
static const cnnc__module_type softmax_type = {"Softmax", softmax_forward, softmax_extra_repr};
static const cnnc__module_type log_softmax_type = {"LogSoftmax", log_softmax_forward,
                                                   softmax_extra_repr};

static cnnc_module *softmax_module(const cnnc__module_type *type, cnnc_softmax_options o) {
    if (o.dim.n > 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): argument 'dim' must be an int or None, not a tuple of %d",
                                type->name, o.dim.n);
    if (o.dim.n < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): invalid dim count %d",
                                type->name, o.dim.n);
    cnnc_module *m = module_with(type);
    if (m)
        cnnc__module_set_attr(m, "dim", o.dim.n == 1 ? cnnc__int_value(o.dim.v[0])
                                                     : (cnnc_value){.kind = CNNC_VALUE_NONE});
    return m;
}
cnnc_module *cnnc_softmax_new(cnnc_softmax_options o) { return softmax_module(&softmax_type, o); }
cnnc_module *cnnc_logsoftmax_new(cnnc_softmax_options o) {
    return softmax_module(&log_softmax_type, o);
}
