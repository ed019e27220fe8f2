/* nn.Dropout, Dropout2d, Dropout3d: p and inplace; train/eval decides. */
#include <string.h>

#include "core/error.h"
#include "nn/module.h"
#include "ops/activation.h"

typedef struct dropout_state {
    double p;
    bool inplace;
} dropout_state;

static const cnnc__field dropout_fields[] = {
    CNNC__FIELD(dropout_state, p, FLOAT),
    CNNC__FIELD(dropout_state, inplace, BOOL),
};

static cnnc_dropout_options dropout_options(const cnnc_module *m) {
    const dropout_state *s = CNNC__STATE(m, const dropout_state);
    return CNNC_DROPOUT(.p = s->p, .training = m->training, .inplace = s->inplace);
}

static cnnc_tensor *dropout_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_dropout(x, dropout_options(m));
}
static cnnc_tensor *dropout2d_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_dropout2d(x, dropout_options(m));
}
static cnnc_tensor *dropout3d_forward(cnnc_module *m, cnnc_tensor *x) {
    return cnnc__op_dropout3d(x, dropout_options(m));
}

static void dropout_extra_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"p", "inplace"};
    cnnc__repr_fields(m, s, 2, names);
}

#define DROPOUT_TYPE(Name, fwd)                                                            \
    {.name = Name, .state_size = sizeof(dropout_state), .fields = dropout_fields,          \
     .n_fields = CNNC__NFIELDS(dropout_fields), .forward = fwd, .extra_repr = dropout_extra_repr}
static const cnnc__module_type dropout_type = DROPOUT_TYPE("Dropout", dropout_forward);
static const cnnc__module_type dropout2d_type = DROPOUT_TYPE("Dropout2d", dropout2d_forward);
static const cnnc__module_type dropout3d_type = DROPOUT_TYPE("Dropout3d", dropout3d_forward);

static cnnc_module *dropout_module(const cnnc__module_type *type, cnnc_dropout_options o) {
    if (cnnc__check_dropout_p(o.p) != CNNC_OK) return NULL;
    cnnc_module *m = cnnc__module_new(type);
    if (m) *CNNC__STATE(m, dropout_state) = (dropout_state){o.p, o.inplace};
    return m;
}

cnnc_module *cnnc_dropout_new(cnnc_dropout_options o) { return dropout_module(&dropout_type, o); }
cnnc_module *cnnc_dropout2d_new(cnnc_dropout_options o) { return dropout_module(&dropout2d_type, o); }
cnnc_module *cnnc_dropout3d_new(cnnc_dropout_options o) { return dropout_module(&dropout3d_type, o); }

/* ---- torchvision.ops.StochasticDepth -------------------------------------------------- */

typedef struct stochastic_depth_state {
    double p;
    const char *mode; /* "row" or "batch" */
} stochastic_depth_state;

static const cnnc__field stochastic_depth_fields[] = {
    CNNC__FIELD(stochastic_depth_state, p, FLOAT),
    CNNC__FIELD(stochastic_depth_state, mode, STRING),
};

static cnnc_tensor *stochastic_depth_forward(cnnc_module *m, cnnc_tensor *x) {
    const stochastic_depth_state *s = CNNC__STATE(m, const stochastic_depth_state);
    return cnnc__op_stochastic_depth(x, s->p, s->mode, m->training);
}

/* torchvision: "p=0.2, mode=row" */
static void stochastic_depth_repr(const cnnc_module *m, cnnc__strbuf *s) {
    const stochastic_depth_state *st = CNNC__STATE(m, const stochastic_depth_state);
    char p[40];
    cnnc__float_repr(st->p, p, sizeof p);
    cnnc__strbuf_printf(s, "p=%s, mode=%s", p, st->mode);
}

static const cnnc__module_type stochastic_depth_type = {
    .name = "StochasticDepth", .state_size = sizeof(stochastic_depth_state),
    .fields = stochastic_depth_fields, .n_fields = CNNC__NFIELDS(stochastic_depth_fields),
    .forward = stochastic_depth_forward, .extra_repr = stochastic_depth_repr};

cnnc_module *cnnc_stochasticdepth_new(double p, const char *mode) {
    const char *m_s = mode && strcmp(mode, "row") == 0 ? "row" : mode && strcmp(mode, "batch") == 0 ? "batch" : NULL;
    if (!m_s)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "mode has to be either 'batch' or 'row', but got %s",
                                mode ? mode : "None");
    if (!(p >= 0.0 && p <= 1.0)) {
        char buf[40];
        cnnc__float_repr(p, buf, sizeof buf);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "drop probability has to be between 0 and 1, but got %s",
                                buf);
    }
    cnnc_module *m = cnnc__module_new(&stochastic_depth_type);
    if (m) *CNNC__STATE(m, stochastic_depth_state) = (stochastic_depth_state){p, m_s};
    return m;
}
