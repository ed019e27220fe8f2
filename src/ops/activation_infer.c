/* The inference epilogues of ops/activation.h: an activation in place, and a binary op
 * with the activation after it in one pass over the data, written into an operand.
 * For the model runtime without gradients, on tensors nobody else reads (the runtime
 * decides that); nothing is recorded for autograd, so both refuse tensors that take
 * part in it. The arithmetic is the kernels' of the unfused ops, element by element,
 * so the values are the same bits. */
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/activation.h"
#include "kernels/elementwise.h"
#include "ops/activation.h"

/* The binary op and the activation run block by block, so a block the op has just
 * written is still in L1 when the activation reads it: one pass over memory. */
enum { FUSE_BLOCK = 2048 };

typedef struct {
    cnnc__isa isa;
    cnnc__binop op;
    const cnnc__act_spec *act;
    float *out;
    const float *a, *b;
    cnnc__bcast it; /* flat: a and b of the output's shape */
} fuse_job;

static cnnc_status fuse_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const fuse_job *j = ctx;
    for (int64_t i = begin; i < end; i += FUSE_BLOCK) {
        const int64_t e = end - i < FUSE_BLOCK ? end : i + FUSE_BLOCK;
        if (j->a) cnnc__k_binary(j->op, j->out, j->a, j->b, &j->it, i, e);
        if (j->act) cnnc__k_act_forward(j->isa, j->act->op, &j->act->p, j->out + i, j->out + i, e - i);
    }
    return CNNC_OK;
}

static cnnc_status check_infer(const char *fn, cnnc_tensor *t) {
    if (cnnc__check_tensor(fn, "input", t, true) != CNNC_OK) return cnnc_last_status();
    if (cnnc__any_requires_grad(1, &t) || t->grad_fn)
        return cnnc__error(CNNC_ERR_RUNTIME, "%s: an inference pass got a tensor that takes part in autograd", fn);
    return CNNC_OK;
}

static cnnc_status run(fuse_job *j, cnnc_tensor *out) {
    const double reads = j->a ? 2.0 : 1.0;
    const cnnc__cost cost = {.flops = j->act ? 4.0 : 1.0, .bytes = 4.0 * (reads + 1.0)};
    cnnc_status st = out->numel ? cnnc__parallel_for(out->numel, cost, fuse_range, j) : CNNC_OK;
    cnnc__bump_version(out);
    return st;
}

cnnc_status cnnc__op_act_infer_(cnnc_tensor *x, const cnnc__act_spec *act) {
    if (check_infer("activation (inference)", x) != CNNC_OK) return cnnc_last_status();
    fuse_job j = {.isa = cnnc__isa_active(), .act = act, .out = cnnc__f32(x)};
    return run(&j, x);
}

cnnc_status cnnc__op_binary_act_infer_(cnnc__binop op, cnnc_tensor *out, cnnc_tensor *a, cnnc_tensor *b,
                                       const cnnc__act_spec *act) {
    const char *fn = "binary op (inference)";
    if (check_infer(fn, a) != CNNC_OK || check_infer(fn, b) != CNNC_OK) return cnnc_last_status();
    if ((out != a && out != b) || !cnnc__same_shape(a, b) || (unsigned)op >= CNNC__BINOP_COUNT)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: needs operands of one shape, written into one of them",
                           fn);
    fuse_job j = {.isa = cnnc__isa_active(), .op = op, .act = act, .out = cnnc__f32(out),
                  .a = cnnc__f32(a), .b = cnnc__f32(b)};
    j.it.ndim = 1;
    j.it.shape[0] = out->numel;
    j.it.stride[0][0] = j.it.stride[1][0] = 1;
    return run(&j, out);
}
