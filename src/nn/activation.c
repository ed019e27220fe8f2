/* Activation modules: nn.ReLU (more join this file). */
#include <stdio.h>
#include <string.h>

#include "nn/module.h"
#include "ops/ops.h"

static cnnc_tensor *relu_forward(cnnc_module *m, cnnc_tensor *x) {
    if (!cnnc__module_get_attr(m, "inplace")->ints[0]) return cnnc__op_relu(x);
    return cnnc__op_relu_(x) == CNNC_OK ? cnnc_tensor_retain(x) : NULL;
}

static void inplace_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", cnnc__module_get_attr(m, "inplace")->ints[0] ? "inplace=True" : "");
}

static const cnnc__module_type relu_type = {"ReLU", relu_forward, inplace_extra_repr};

cnnc_module *cnnc_relu_new(cnnc_relu_options o) {
    cnnc_module *m = cnnc__module_new(&relu_type);
    if (m) cnnc__module_set_attr(m, "inplace", cnnc__bool_value(o.inplace));
    return m;
}
