/* nn.Linear */
#include <math.h>
#include <stdio.h>

#include "core/error.h"
#include "nn/module.h"
#include "ops/ops.h"

static cnnc_tensor *linear_forward(cnnc_module *m, cnnc_tensor *x) {
    cnnc_tensor *w = cnnc__module_param(m, "weight");
    if (!w) return cnnc__error_null(CNNC_ERR_RUNTIME, "Linear: weight is None");
    return cnnc__op_linear(x, w, cnnc__module_param(m, "bias"));
}

static void linear_extra_repr(const cnnc_module *m, char *buf, size_t cap) {
    snprintf(buf, cap, "in_features=%lld, out_features=%lld, bias=%s",
             (long long)cnnc__module_get_attr(m, "in_features")->ints[0],
             (long long)cnnc__module_get_attr(m, "out_features")->ints[0],
             cnnc__module_param(m, "bias") ? "True" : "False");
}

static const cnnc__module_type linear_type = {"Linear", linear_forward, linear_extra_repr};

cnnc_module *cnnc_linear_new(int64_t in_features, int64_t out_features, cnnc_linear_options o) {
    if (in_features < 0 || out_features < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Linear(): Trying to create tensor with negative dimension: "
                                "in_features=%lld, out_features=%lld",
                                (long long)in_features, (long long)out_features);
    cnnc_module *m = cnnc__module_new(&linear_type);
    if (!m) return NULL;
    /* kaiming_uniform(a=sqrt(5)) gives bound sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in);
     * PyTorch leaves zero-element weights alone and uses bound 0 for the bias then. */
    double bound = in_features > 0 ? 1.0 / sqrt((double)in_features) : 0.0;
    cnnc__module_set_attr(m, "in_features", cnnc__int_value(in_features));
    cnnc__module_set_attr(m, "out_features", cnnc__int_value(out_features));
    cnnc_status st = cnnc__module_add_param(
        m, "weight", cnnc__uniform_param(2, (int64_t[]){out_features, in_features}, bound));
    if (st == CNNC_OK && !cnnc__module_param(m, "weight")) st = cnnc_last_status();
    if (st == CNNC_OK)
        st = cnnc__module_add_param(m, "bias", o.bias ? cnnc__uniform_param(1, &out_features, bound) : NULL);
    if (st == CNNC_OK && o.bias && !cnnc__module_param(m, "bias")) st = cnnc_last_status();
    if (st != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}
