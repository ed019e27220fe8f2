/* Padding modules: nn.ConstantPad1d/2d/3d, nn.ZeroPad2d, nn.ReflectionPad1d/2d/3d,
 * nn.ReplicationPad1d/2d/3d. Forward is F.pad with the module's mode. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/strbuf.h"
#include "nn/module.h"
#include "ops/resample.h"

static cnnc_tensor *pad_forward_mode(cnnc_module *m, cnnc_tensor *x, cnnc_pad_mode mode) {
    const cnnc_value *p = cnnc__module_get_attr(m, "padding");
    const cnnc_value *v = cnnc__module_get_attr(m, "value");
    return cnnc__op_pad(x, p->n, p->ints, mode, v ? v->f : 0.0);
}

static cnnc_tensor *constant_forward(cnnc_module *m, cnnc_tensor *x) {
    return pad_forward_mode(m, x, CNNC_PAD_CONSTANT);
}
static cnnc_tensor *reflect_forward(cnnc_module *m, cnnc_tensor *x) {
    return pad_forward_mode(m, x, CNNC_PAD_REFLECT);
}
static cnnc_tensor *replicate_forward(cnnc_module *m, cnnc_tensor *x) {
    return pad_forward_mode(m, x, CNNC_PAD_REPLICATE);
}

/* "(1, 2, 3, 4)" as Python prints a tuple */
static size_t tuple_text(char *buf, size_t cap, const cnnc_value *p) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < p->n && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)p->ints[i]);
    if (n < cap) n += (size_t)snprintf(buf + n, cap - n, p->n == 1 ? ",)" : ")");
    return n;
}

static void padding_repr(const cnnc_module *m, char *buf, size_t cap) {
    tuple_text(buf, cap, cnnc__module_get_attr(m, "padding"));
}

static void constant_repr(const cnnc_module *m, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "padding=");
    if (n < cap) n += tuple_text(buf + n, cap - n, cnnc__module_get_attr(m, "padding"));
    char v[64];
    cnnc__float_repr(cnnc__module_get_attr(m, "value")->f, v, sizeof v);
    if (n < cap) snprintf(buf + n, cap - n, ", value=%s", v);
}

static const cnnc__module_type types[] = {
    {"ConstantPad1d", constant_forward, constant_repr},
    {"ConstantPad2d", constant_forward, constant_repr},
    {"ConstantPad3d", constant_forward, constant_repr},
    {"ZeroPad2d", constant_forward, padding_repr},
    {"ReflectionPad1d", reflect_forward, padding_repr},
    {"ReflectionPad2d", reflect_forward, padding_repr},
    {"ReflectionPad3d", reflect_forward, padding_repr},
    {"ReplicationPad1d", replicate_forward, padding_repr},
    {"ReplicationPad2d", replicate_forward, padding_repr},
    {"ReplicationPad3d", replicate_forward, padding_repr},
};

/* padding: an int repeated 2 * nsp times (_pair/_quadruple/_ntuple(6)), or a
 * tuple kept as given. */
static cnnc_module *make(int type, int nsp, cnnc_ints padding, bool constant, double value) {
    const char *name = types[type].name;
    if (padding.n < 1 || padding.n > CNNC_MAX_DIMS)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): padding must be an int or a tuple of 2..%d ints, got %d values",
                                name, CNNC_MAX_DIMS, padding.n);
    cnnc_value p = {.kind = CNNC_VALUE_INTS};
    if (padding.n == 1) {
        p.n = 2 * nsp;
        for (int i = 0; i < p.n; i++) p.ints[i] = padding.v[0];
    } else {
        p.n = padding.n;
        memcpy(p.ints, padding.v, (size_t)padding.n * sizeof(int64_t));
    }
    cnnc_module *m = cnnc__module_new(&types[type]);
    if (!m) return NULL;
    cnnc__module_set_attr(m, "padding", p);
    if (constant) cnnc__module_set_attr(m, "value", cnnc__float_value(value));
    return m;
}

cnnc_module *cnnc_constantpad1d_new(cnnc_ints padding, double value) { return make(0, 1, padding, true, value); }
cnnc_module *cnnc_constantpad2d_new(cnnc_ints padding, double value) { return make(1, 2, padding, true, value); }
cnnc_module *cnnc_constantpad3d_new(cnnc_ints padding, double value) { return make(2, 3, padding, true, value); }
cnnc_module *cnnc_zeropad2d_new(cnnc_ints padding) { return make(3, 2, padding, true, 0.0); }
cnnc_module *cnnc_reflectionpad1d_new(cnnc_ints padding) { return make(4, 1, padding, false, 0.0); }
cnnc_module *cnnc_reflectionpad2d_new(cnnc_ints padding) { return make(5, 2, padding, false, 0.0); }
cnnc_module *cnnc_reflectionpad3d_new(cnnc_ints padding) { return make(6, 3, padding, false, 0.0); }
cnnc_module *cnnc_replicationpad1d_new(cnnc_ints padding) { return make(7, 1, padding, false, 0.0); }
cnnc_module *cnnc_replicationpad2d_new(cnnc_ints padding) { return make(8, 2, padding, false, 0.0); }
cnnc_module *cnnc_replicationpad3d_new(cnnc_ints padding) { return make(9, 3, padding, false, 0.0); }
