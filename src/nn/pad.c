/* Padding modules: nn.ConstantPad1d/2d/3d, nn.ZeroPad2d, nn.ReflectionPad1d/2d/3d,
 * nn.ReplicationPad1d/2d/3d. Forward is F.pad with the module's mode. */
#include "core/args.h"
#include "core/error.h"
#include "nn/module.h"
#include "ops/resample.h"

typedef struct pad_state {
    cnnc_ints padding; /* always a tuple: 2 * spatial dims, or as given */
    double value;      /* constant kinds */
    cnnc_pad_mode mode;
} pad_state;

static const cnnc__field constant_fields[] = {
    CNNC__FIELD(pad_state, padding, TUPLE),
    CNNC__FIELD(pad_state, value, FLOAT),
};
static const cnnc__field padding_fields[] = {CNNC__FIELD(pad_state, padding, TUPLE)};

static cnnc_tensor *pad_forward(cnnc_module *m, cnnc_tensor *x) {
    const pad_state *s = CNNC__STATE(m, const pad_state);
    return cnnc__op_pad(x, s->padding.n, s->padding.v, s->mode, s->value);
}

static void padding_repr(const cnnc_module *m, cnnc__strbuf *s) {
    cnnc_value p = cnnc__field_value(m->state, &padding_fields[0]);
    cnnc__value_text(s, &p);
}

static void constant_repr(const cnnc_module *m, cnnc__strbuf *s) {
    static const char *const names[] = {"padding", "value"};
    cnnc__repr_fields(m, s, 2, names);
}

#define PAD_TYPE(Name, fields_, repr)                                                       \
    {.name = Name, .state_size = sizeof(pad_state), .fields = fields_,                      \
     .n_fields = CNNC__NFIELDS(fields_), .forward = pad_forward, .extra_repr = repr}
static const cnnc__module_type types[] = {
    PAD_TYPE("ConstantPad1d", constant_fields, constant_repr),
    PAD_TYPE("ConstantPad2d", constant_fields, constant_repr),
    PAD_TYPE("ConstantPad3d", constant_fields, constant_repr),
    PAD_TYPE("ZeroPad2d", constant_fields, padding_repr),
    PAD_TYPE("ReflectionPad1d", padding_fields, padding_repr),
    PAD_TYPE("ReflectionPad2d", padding_fields, padding_repr),
    PAD_TYPE("ReflectionPad3d", padding_fields, padding_repr),
    PAD_TYPE("ReplicationPad1d", padding_fields, padding_repr),
    PAD_TYPE("ReplicationPad2d", padding_fields, padding_repr),
    PAD_TYPE("ReplicationPad3d", padding_fields, padding_repr),
};

/* padding: an int repeated 2 * nsp times (_pair/_quadruple/_ntuple(6)), or a tuple
 * kept as given (F.pad checks it at forward). */
static cnnc_module *make(int type, int nsp, cnnc_ints padding, cnnc_pad_mode mode, double value) {
    const char *name = types[type].name;
    if (cnnc__check_ints(name, "padding", &padding) || cnnc__check_given(name, "padding", &padding))
        return NULL;
    pad_state s = {.padding = cnnc__ntuple(padding, 2 * nsp), .value = value, .mode = mode};
    cnnc_module *m = cnnc__module_new(&types[type]);
    if (m) *CNNC__STATE(m, pad_state) = s;
    return m;
}

cnnc_module *cnnc_constantpad1d_new(cnnc_ints padding, double value) { return make(0, 1, padding, CNNC_PAD_CONSTANT, value); }
cnnc_module *cnnc_constantpad2d_new(cnnc_ints padding, double value) { return make(1, 2, padding, CNNC_PAD_CONSTANT, value); }
cnnc_module *cnnc_constantpad3d_new(cnnc_ints padding, double value) { return make(2, 3, padding, CNNC_PAD_CONSTANT, value); }
cnnc_module *cnnc_zeropad2d_new(cnnc_ints padding) { return make(3, 2, padding, CNNC_PAD_CONSTANT, 0.0); }
cnnc_module *cnnc_reflectionpad1d_new(cnnc_ints padding) { return make(4, 1, padding, CNNC_PAD_REFLECT, 0.0); }
cnnc_module *cnnc_reflectionpad2d_new(cnnc_ints padding) { return make(5, 2, padding, CNNC_PAD_REFLECT, 0.0); }
cnnc_module *cnnc_reflectionpad3d_new(cnnc_ints padding) { return make(6, 3, padding, CNNC_PAD_REFLECT, 0.0); }
cnnc_module *cnnc_replicationpad1d_new(cnnc_ints padding) { return make(7, 1, padding, CNNC_PAD_REPLICATE, 0.0); }
cnnc_module *cnnc_replicationpad2d_new(cnnc_ints padding) { return make(8, 2, padding, CNNC_PAD_REPLICATE, 0.0); }
cnnc_module *cnnc_replicationpad3d_new(cnnc_ints padding) { return make(9, 3, padding, CNNC_PAD_REPLICATE, 0.0); }
