/* nn.Dropout, Dropout2d, Dropout3d: p and inplace; train/eval decides. */
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
