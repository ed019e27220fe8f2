/* nn.Linear */
#include <math.h>

#include "core/error.h"
#include "nn/module.h"
#include "ops/ops.h"

typedef struct linear_state {
    int64_t in_features, out_features;
} linear_state;

static const cnnc__field linear_fields[] = {
    CNNC__FIELD(linear_state, in_features, INT),
    CNNC__FIELD(linear_state, out_features, INT),
};

static cnnc_tensor *linear_forward(cnnc_module *m, cnnc_tensor *x) {
    cnnc_tensor *w = cnnc__module_param(m, "weight");
    if (!w) return cnnc__error_null(CNNC_ERR_RUNTIME, "Linear: weight is None");
    return cnnc__op_linear(x, w, cnnc__module_param(m, "bias"));
}

static void linear_extra_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"in_features", "out_features"};
    cnnc__repr_fields(m, s, 2, names);
    cnnc__strbuf_printf(s, ", bias=%s", cnnc__module_param(m, "bias") ? "True" : "False");
}

static const cnnc__module_type linear_type = {
    .name = "Linear", .state_size = sizeof(linear_state),
    .fields = linear_fields, .n_fields = CNNC__NFIELDS(linear_fields),
    .forward = linear_forward, .extra_repr = linear_extra_repr};

cnnc_module *cnnc_linear_new(int64_t in_features, int64_t out_features, cnnc_linear_options o) {
    if (in_features < 0 || out_features < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Linear(): Trying to create tensor with negative dimension: "
                                "in_features=%lld, out_features=%lld",
                                (long long)in_features, (long long)out_features);
    cnnc_module *m = cnnc__module_new(&linear_type);
    if (!m) return NULL;
    *CNNC__STATE(m, linear_state) = (linear_state){in_features, out_features};
    /* kaiming_uniform(a=sqrt(5)) gives bound sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in);
     * PyTorch leaves zero-element weights alone and uses bound 0 for the bias then. */
    double bound = in_features > 0 ? 1.0 / sqrt((double)in_features) : 0.0;
    cnnc_tensor *w = cnnc__uniform_param(2, (int64_t[]){out_features, in_features}, bound);
    cnnc_status st = w ? cnnc__module_add_param(m, "weight", w) : cnnc_last_status();
    cnnc_tensor *b = NULL;
    if (st == CNNC_OK && o.bias && !(b = cnnc__uniform_param(1, &out_features, bound)))
        st = cnnc_last_status();
    if (st == CNNC_OK) st = cnnc__module_add_param(m, "bias", b);
    if (st != CNNC_OK) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}
