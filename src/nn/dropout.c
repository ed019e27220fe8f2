/* nn.Dropout, Dropout2d, Dropout3d: p and inplace as attrs; train/eval decides. */
#include <stdio.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "nn/module.h"
#include "ops/activation.h"

static cnnc_dropout_options dropout_options(const cnnc_module *m) {
    return CNNC_DROPOUT(.p = cnnc__module_get_attr(m, "p")->f,
                        .training = m->training,
                        .inplace = cnnc__module_get_attr(m, "inplace")->ints[0] != 0);
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

static void dropout_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    char p[40];
    cnnc__float_repr(cnnc__module_get_attr(m, "p")->f, p, sizeof p);
    snprintf(buf, cap, "p=%s, inplace=%s", p,
             cnnc__module_get_attr(m, "inplace")->ints[0] ? "True" : "False");
}

static const cnnc__module_type dropout_type = {"Dropout", dropout_forward, dropout_extra_repr};
static const cnnc__module_type dropout2d_type = {"Dropout2d", dropout2d_forward, dropout_extra_repr};
static const cnnc__module_type dropout3d_type = {"Dropout3d", dropout3d_forward, dropout_extra_repr};

static cnnc_module *dropout_module(const cnnc__module_type *type, cnnc_dropout_options o) {
    if (cnnc__check_dropout_p(o.p) != CNNC_OK) return NULL;
    cnnc_module *m = cnnc__module_new(type);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "p", cnnc__float_value(o.p));
    cnnc__module_set_attr(m, "inplace", cnnc__bool_value(o.inplace));
    return m;
}

cnnc_module *cnnc_dropout_new(cnnc_dropout_options o) { return dropout_module(&dropout_type, o); }
cnnc_module *cnnc_dropout2d_new(cnnc_dropout_options o) { return dropout_module(&dropout2d_type, o); }
cnnc_module *cnnc_dropout3d_new(cnnc_dropout_options o) { return dropout_module(&dropout3d_type, o); }
