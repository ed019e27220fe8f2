/* cnnc_module_create for the kinds whose constructors take a few flags: the
 * activations, dropout, Flatten, Identity, the losses and the containers (created
 * empty; their children are registered afterwards). */
#include "core/error.h"
#include "nn/factory.h"

/* arg: 0 ReLU, 1 ReLU6, 2 SELU, 3 SiLU, 4 Mish, 5 Hardsigmoid, 6 Hardswish */
static cnnc_module *create_inplace(cnnc__kwargs *kw, int arg) {
    bool inplace = cnnc__kw_bool(kw, "inplace", false);
    if (cnnc__kw_finish(kw)) return NULL;
    switch (arg) {
    case 0: return cnnc_relu_new(CNNC_RELU(.inplace = inplace));
    case 1: return cnnc_relu6_new(CNNC_RELU6(.inplace = inplace));
    case 2: return cnnc_selu_new(CNNC_SELU(.inplace = inplace));
    case 3: return cnnc_silu_new(CNNC_SILU(.inplace = inplace));
    case 4: return cnnc_mish_new(CNNC_MISH(.inplace = inplace));
    case 5: return cnnc_hardsigmoid_new(CNNC_HARDSIGMOID(.inplace = inplace));
    default: return cnnc_hardswish_new(CNNC_HARDSWISH(.inplace = inplace));
    }
}

/* arg: 0 Sigmoid, 1 Tanh, 2 Identity (takes and ignores anything, as PyTorch's),
 * 3 Sequential, 4 ModuleList, 5 ModuleDict */
static cnnc_module *create_plain(cnnc__kwargs *kw, int arg) {
    if (arg == 2) kw->used = ~(uint64_t)0;
    if (cnnc__kw_finish(kw)) return NULL;
    switch (arg) {
    case 0: return cnnc_sigmoid_new();
    case 1: return cnnc_tanh_new();
    case 2: return cnnc_identity_new();
    case 3: return cnnc_sequential_new(0, NULL);
    case 4: return cnnc_modulelist_new(0, NULL);
    default: return cnnc_moduledict_new();
    }
}

static cnnc_module *create_hardtanh(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc_hardtanh_options o = CNNC_HARDTANH();
    o.min_val = cnnc__kw_float(kw, "min_val", o.min_val);
    o.max_val = cnnc__kw_float(kw, "max_val", o.max_val);
    o.inplace = cnnc__kw_bool(kw, "inplace", false);
    return cnnc__kw_finish(kw) ? NULL : cnnc_hardtanh_new(o);
}

static cnnc_module *create_leaky(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc_leaky_relu_options o = CNNC_LEAKY_RELU();
    o.negative_slope = cnnc__kw_float(kw, "negative_slope", o.negative_slope);
    o.inplace = cnnc__kw_bool(kw, "inplace", false);
    return cnnc__kw_finish(kw) ? NULL : cnnc_leakyrelu_new(o);
}

/* arg: 0 ELU, 1 CELU */
static cnnc_module *create_alpha(cnnc__kwargs *kw, int arg) {
    double alpha = cnnc__kw_float(kw, "alpha", 1.0);
    bool inplace = cnnc__kw_bool(kw, "inplace", false);
    if (cnnc__kw_finish(kw)) return NULL;
    return arg ? cnnc_celu_new(CNNC_CELU(.alpha = alpha, .inplace = inplace))
               : cnnc_elu_new(CNNC_ELU(.alpha = alpha, .inplace = inplace));
}

static cnnc_module *create_gelu(cnnc__kwargs *kw, int arg) {
    (void)arg;
    const char *approximate = cnnc__kw_string(kw, "approximate", "none");
    return cnnc__kw_finish(kw) ? NULL : cnnc_gelu_new(CNNC_GELU(.approximate = approximate));
}

static cnnc_module *create_softplus(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc_softplus_options o = CNNC_SOFTPLUS();
    o.beta = cnnc__kw_float(kw, "beta", o.beta);
    o.threshold = cnnc__kw_float(kw, "threshold", o.threshold);
    return cnnc__kw_finish(kw) ? NULL : cnnc_softplus_new(o);
}

static cnnc_module *create_prelu(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc_prelu_options o = CNNC_PRELU();
    o.num_parameters = cnnc__kw_int(kw, "num_parameters", o.num_parameters);
    o.init = cnnc__kw_float(kw, "init", o.init);
    return cnnc__kw_finish(kw) ? NULL : cnnc_prelu_new(o);
}

/* arg: 0 Softmax, 1 LogSoftmax */
static cnnc_module *create_softmax(cnnc__kwargs *kw, int arg) {
    cnnc_optional_int dim = cnnc__kw_opt_int(kw, "dim", (cnnc_optional_int)CNNC_NONE);
    if (cnnc__kw_finish(kw)) return NULL;
    cnnc_softmax_options o = CNNC_SOFTMAX();
    if (dim.has_value) o.dim = (cnnc_ints)CNNC_INTS(dim.value);
    return arg ? cnnc_logsoftmax_new(o) : cnnc_softmax_new(o);
}

/* arg: 1, 2, 3 for Dropout, Dropout2d, Dropout3d */
static cnnc_module *create_dropout(cnnc__kwargs *kw, int arg) {
    cnnc_dropout_options o = CNNC_DROPOUT();
    o.p = cnnc__kw_float(kw, "p", 0.5);
    o.inplace = cnnc__kw_bool(kw, "inplace", false);
    if (cnnc__kw_finish(kw)) return NULL;
    return arg == 1 ? cnnc_dropout_new(o) : arg == 2 ? cnnc_dropout2d_new(o) : cnnc_dropout3d_new(o);
}

static cnnc_module *create_flatten(cnnc__kwargs *kw, int arg) {
    (void)arg;
    int64_t s = cnnc__kw_int(kw, "start_dim", 1), e = cnnc__kw_int(kw, "end_dim", -1);
    if (cnnc__kw_finish(kw)) return NULL;
    if (s < INT32_MIN || s > INT32_MAX || e < INT32_MIN || e > INT32_MAX)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Flatten(): start_dim/end_dim out of range");
    return cnnc_flatten_new(CNNC_FLATTEN(.start_dim = (int)s, .end_dim = (int)e));
}

static cnnc_module *create_stochastic_depth(cnnc__kwargs *kw, int arg) {
    (void)arg;
    cnnc__kw_require(kw, "p");
    cnnc__kw_require(kw, "mode");
    double p = cnnc__kw_float(kw, "p", 0.0);
    const char *mode = cnnc__kw_string(kw, "mode", NULL);
    return cnnc__kw_finish(kw) ? NULL : cnnc_stochasticdepth_new(p, mode);
}

/* A loss's tensor argument (weight, pos_weight) has no cnnc_value: only None is
 * taken here; a model's weight comes with its state. */
static void kw_tensor_none(cnnc__kwargs *kw, const char *name) {
    const cnnc_value *v = cnnc__kw_get(kw, name);
    if (v && v->kind != CNNC_VALUE_NONE && kw->st == CNNC_OK)
        kw->st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                             "%s(): argument '%s' is a tensor: only None is accepted here", kw->fn,
                             name);
}

/* arg: 0 CrossEntropyLoss, 1 NLLLoss, 2 MSELoss, 3 L1Loss, 4 SmoothL1Loss, 5 HuberLoss,
 * 6 BCELoss, 7 BCEWithLogitsLoss, 8 KLDivLoss (size_average / reduce are not taken:
 * give reduction) */
static cnnc_module *create_loss(cnnc__kwargs *kw, int arg) {
    const char *reduction = cnnc__kw_string(kw, "reduction", "mean");
    if (arg <= 1 || arg == 6 || arg == 7) kw_tensor_none(kw, "weight");
    if (arg == 7) kw_tensor_none(kw, "pos_weight");
    int64_t ignore = arg <= 1 ? cnnc__kw_int(kw, "ignore_index", -100) : -100;
    double ls = arg == 0 ? cnnc__kw_float(kw, "label_smoothing", 0.0) : 0.0;
    double beta = arg == 4 ? cnnc__kw_float(kw, "beta", 1.0) : 1.0;
    double delta = arg == 5 ? cnnc__kw_float(kw, "delta", 1.0) : 1.0;
    bool log_target = arg == 8 && cnnc__kw_bool(kw, "log_target", false);
    if (cnnc__kw_finish(kw)) return NULL;
    switch (arg) {
    case 0:
        return cnnc_crossentropyloss_new(CNNC_CROSS_ENTROPY_LOSS(.ignore_index = ignore, .reduction = reduction,
                                                                 .label_smoothing = ls));
    case 1: return cnnc_nllloss_new(CNNC_NLL_LOSS(.ignore_index = ignore, .reduction = reduction));
    case 2: return cnnc_mseloss_new(CNNC_MSE_LOSS(.reduction = reduction));
    case 3: return cnnc_l1loss_new(CNNC_L1_LOSS(.reduction = reduction));
    case 4: return cnnc_smoothl1loss_new(CNNC_SMOOTH_L1_LOSS(.reduction = reduction, .beta = beta));
    case 5: return cnnc_huberloss_new(CNNC_HUBER_LOSS(.reduction = reduction, .delta = delta));
    case 6: return cnnc_bceloss_new(CNNC_BCE_LOSS(.reduction = reduction));
    case 7: return cnnc_bcewithlogitsloss_new(CNNC_BCE_WITH_LOGITS_LOSS(.reduction = reduction));
    default: return cnnc_kldivloss_new(CNNC_KL_DIV_LOSS(.reduction = reduction, .log_target = log_target));
    }
}

const cnnc__kind_entry cnnc__simple_kinds[] = {
    {"ReLU", create_inplace, 0, "", false},
    {"ReLU6", create_inplace, 1, "min_val max_val", false},
    {"SELU", create_inplace, 2, "", false},
    {"SiLU", create_inplace, 3, "", false},
    {"Mish", create_inplace, 4, "", false},
    {"Hardsigmoid", create_inplace, 5, "", false},
    {"Hardswish", create_inplace, 6, "", false},
    {"Sigmoid", create_plain, 0, "", false},
    {"Tanh", create_plain, 1, "", false},
    {"Identity", create_plain, 2, "", false},
    {"Sequential", create_plain, 3, "", false},
    {"ModuleList", create_plain, 4, "", false},
    {"ModuleDict", create_plain, 5, "", false},
    {"Hardtanh", create_hardtanh, 0, "", false},
    {"LeakyReLU", create_leaky, 0, "", false},
    {"ELU", create_alpha, 0, "", false},
    {"CELU", create_alpha, 1, "", false},
    {"GELU", create_gelu, 0, "", false},
    {"Softplus", create_softplus, 0, "", false},
    {"PReLU", create_prelu, 0, "", false},
    {"Softmax", create_softmax, 0, "", false},
    {"LogSoftmax", create_softmax, 1, "", false},
    {"Dropout", create_dropout, 1, "", false},
    {"Dropout2d", create_dropout, 2, "", false},
    {"Dropout3d", create_dropout, 3, "", false},
    {"Flatten", create_flatten, 0, "", false},
    {"StochasticDepth", create_stochastic_depth, 0, "", false},
    {"CrossEntropyLoss", create_loss, 0, "", false},
    {"NLLLoss", create_loss, 1, "", false},
    {"MSELoss", create_loss, 2, "", false},
    {"L1Loss", create_loss, 3, "", false},
    {"SmoothL1Loss", create_loss, 4, "", false},
    {"HuberLoss", create_loss, 5, "", false},
    {"BCELoss", create_loss, 6, "", false},
    {"BCEWithLogitsLoss", create_loss, 7, "", false},
    {"KLDivLoss", create_loss, 8, "", false},
    {NULL, NULL, 0, NULL, false},
};
