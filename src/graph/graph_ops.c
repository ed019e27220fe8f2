/* The functional and tensor ops a graph node can name: PyTorch's names and
 * positional arguments (docs/model-format.md lists them). Tensor arguments come
 * from earlier nodes, settings are literals; a number where a tensor is expected
 * (x * 0.5) is a 0-d tensor. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "graph/graph.h"
#include "nn/module.h"
#include "ops/activation.h"
#include "ops/norm.h"
#include "ops/ops.h"
#include "ops/pool.h"
#include "ops/resample.h"

/* ---- elementwise ------------------------------------------------------------------------- */

static cnnc_status binary(cnnc__gctx *c, cnnc__gvalue *out, cnnc__binop op) {
    cnnc_tensor *a = cnnc__gctx_operand(c, 0), *b = a ? cnnc__gctx_operand(c, 1) : NULL;
    cnnc_tensor *y = b ? cnnc__op_binary(op, a, b) : NULL;
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    return cnnc__gvalue_one(out, y);
}
static cnnc_status op_add(cnnc__gctx *c, cnnc__gvalue *o) { return binary(c, o, CNNC__BINOP_ADD); }
static cnnc_status op_sub(cnnc__gctx *c, cnnc__gvalue *o) { return binary(c, o, CNNC__BINOP_SUB); }
static cnnc_status op_mul(cnnc__gctx *c, cnnc__gvalue *o) { return binary(c, o, CNNC__BINOP_MUL); }
static cnnc_status op_div(cnnc__gctx *c, cnnc__gvalue *o) { return binary(c, o, CNNC__BINOP_DIV); }

static cnnc_status op_neg(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    return cnnc__gvalue_one(out, cnnc__op_affine(x, -1.0, 0.0));
}

/* one-tensor activations: (x[, inplace]) computed out of place (the same values) */
#define UNARY(name, expr)                                                      \
    static cnnc_status op_##name(cnnc__gctx *c, cnnc__gvalue *out) {           \
        cnnc_tensor *x;                                                        \
        CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));                             \
        return cnnc__gvalue_one(out, expr);                                    \
    }
UNARY(relu, cnnc__op_relu(x))
UNARY(relu6, cnnc__op_relu6(x, CNNC_RELU6()))
UNARY(sigmoid, cnnc__op_sigmoid(x))
UNARY(tanh, cnnc__op_tanh(x))
UNARY(hardsigmoid, cnnc__op_hardsigmoid(x, CNNC_HARDSIGMOID()))
UNARY(hardswish, cnnc__op_hardswish(x, CNNC_HARDSWISH()))
UNARY(silu, cnnc__op_silu(x, CNNC_SILU()))
UNARY(mish, cnnc__op_mish(x, CNNC_MISH()))
UNARY(contiguous, cnnc_tensor_retain(x))
#undef UNARY

/* activations with one number: (x, number[, inplace]) */
#define WITH_NUMBER(name, def, expr)                                           \
    static cnnc_status op_##name(cnnc__gctx *c, cnnc__gvalue *out) {           \
        cnnc_tensor *x;                                                        \
        double v;                                                              \
        CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));                             \
        CNNC__OK_OR_RETURN(cnnc__gctx_float(c, 1, def, &v));                         \
        return cnnc__gvalue_one(out, expr);                                    \
    }
WITH_NUMBER(leaky_relu, 0.01, cnnc__op_leaky_relu(x, CNNC_LEAKY_RELU(.negative_slope = v)))
WITH_NUMBER(elu, 1.0, cnnc__op_elu(x, CNNC_ELU(.alpha = v)))
#undef WITH_NUMBER

static cnnc_status op_hardtanh(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    double lo, hi;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_float(c, 1, -1.0, &lo));
    CNNC__OK_OR_RETURN(cnnc__gctx_float(c, 2, 1.0, &hi));
    return cnnc__gvalue_one(out, cnnc__op_hardtanh(x, CNNC_HARDTANH(.min_val = lo, .max_val = hi)));
}

static cnnc_status op_gelu(cnnc__gctx *c, cnnc__gvalue *out) {
    cnnc_tensor *x;
    const char *approximate;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_string(c, 1, "none", &approximate));
    return cnnc__gvalue_one(out, cnnc__op_gelu(x, CNNC_GELU(.approximate = approximate)));
}

/* (x, dim) */
static cnnc_status softmax_like(cnnc__gctx *c, cnnc__gvalue *out, bool log) {
    cnnc_tensor *x;
    cnnc_ints dim;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_ints(c, 1, &dim));
    cnnc_softmax_options o = CNNC_SOFTMAX(.dim = dim);
    return cnnc__gvalue_one(out, log ? cnnc__op_log_softmax(x, o) : cnnc__op_softmax(x, o));
}
static cnnc_status op_softmax(cnnc__gctx *c, cnnc__gvalue *o) { return softmax_like(c, o, false); }
static cnnc_status op_log_softmax(cnnc__gctx *c, cnnc__gvalue *o) { return softmax_like(c, o, true); }

/* (x, p, training[, inplace]): drops only when the traced flag was set and the model
 * is in training mode */
static cnnc_status dropout_like(cnnc__gctx *c, cnnc__gvalue *out, int kind) {
    cnnc_tensor *x;
    double p;
    bool training;
    CNNC__OK_OR_RETURN(cnnc__gctx_tensor(c, 0, &x));
    CNNC__OK_OR_RETURN(cnnc__gctx_float(c, 1, 0.5, &p));
    CNNC__OK_OR_RETURN(cnnc__gctx_bool(c, 2, true, &training));
    cnnc_dropout_options o = CNNC_DROPOUT(.p = p, .training = training && c->graph->training);
    cnnc_tensor *y = kind == 1 ? cnnc__op_dropout(x, o) : kind == 2 ? cnnc__op_dropout2d(x, o)
                                                                    : cnnc__op_dropout3d(x, o);
    return cnnc__gvalue_one(out, y);
}
static cnnc_status op_dropout(cnnc__gctx *c, cnnc__gvalue *o) { return dropout_like(c, o, 1); }
static cnnc_status op_dropout2d(cnnc__gctx *c, cnnc__gvalue *o) { return dropout_like(c, o, 2); }
static cnnc_status op_dropout3d(cnnc__gctx *c, cnnc__gvalue *o) { return dropout_like(c, o, 3); }

/* ---- the table ----------------------------------------------------------------------------- */

static const cnnc__gop ops[] = {
    {"add", 2, 2, op_add}, {"sub", 2, 2, op_sub}, {"mul", 2, 2, op_mul}, {"div", 2, 2, op_div},
    {"neg", 1, 1, op_neg}, {"relu", 1, 2, op_relu}, {"relu6", 1, 2, op_relu6},
    {"sigmoid", 1, 1, op_sigmoid}, {"tanh", 1, 1, op_tanh}, {"hardsigmoid", 1, 2, op_hardsigmoid},
    {"hardswish", 1, 2, op_hardswish}, {"silu", 1, 2, op_silu}, {"mish", 1, 2, op_mish},
    {"leaky_relu", 1, 3, op_leaky_relu}, {"elu", 1, 3, op_elu}, {"hardtanh", 1, 4, op_hardtanh},
    {"gelu", 1, 2, op_gelu}, {"softmax", 2, 2, op_softmax}, {"log_softmax", 2, 2, op_log_softmax},
    {"dropout", 1, 4, op_dropout}, {"dropout2d", 1, 4, op_dropout2d}, {"dropout3d", 1, 4, op_dropout3d},
    {"contiguous", 1, 1, op_contiguous}, {NULL, 0, 0, NULL},
};

const cnnc__gop *cnnc__gop_find(const char *name) {
    const cnnc__gop *const tables[] = {ops, cnnc__gops_shape, cnnc__gops_layers};
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (const cnnc__gop *op = tables[t]; op->name; op++)
            if (strcmp(op->name, name) == 0) return op;
    return NULL;
}
