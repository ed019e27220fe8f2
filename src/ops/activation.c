/* relu, relu_ (more activations join this file). */
#include "core/error.h"
#include "core/parallel.h"
#include "ops/ops.h"

typedef struct {
    float *out;
    const float *x;
} unary_job;

static void relu_range(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    unary_job *j = ctx;
    cnnc__k_relu(j->out + begin, j->x + begin, end - begin);
}

typedef struct {
    float *gx;
    const float *g, *y;
} relu_grad_job;

static void relu_grad_range(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    relu_grad_job *j = ctx;
    cnnc__k_relu_backward(j->gx + begin, j->g + begin, j->y + begin, end - begin);
}

/* saved[0] is the output: the gradient passes where it is positive */
static cnnc_status relu_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    cnnc_tensor *y = n->saved[0];
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, y->ndim, y->shape);
    if (!gi[0]) return cnnc_last_status();
    relu_grad_job j = {cnnc__f32(gi[0]), cnnc__f32(g), cnnc__f32(y)};
    cnnc__parallel_for(y->numel, 65536, relu_grad_range, &j);
    return CNNC_OK;
}

cnnc_tensor *cnnc__op_relu(cnnc_tensor *x) {
    if (cnnc__check_tensor("relu", "input", x, true) != CNNC_OK) return NULL;
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    if (!out) return NULL;
    unary_job j = {cnnc__f32(out), cnnc__f32(x)};
    cnnc__parallel_for(x->numel, 65536, relu_range, &j);
    if (cnnc__record(out, "ReluBackward0", relu_backward, 1, &x, 1, &out, 0, NULL) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

cnnc_status cnnc__op_relu_(cnnc_tensor *x) {
    cnnc_status st = cnnc__check_tensor("relu_", "input", x, true);
    if (st == CNNC_OK) st = cnnc__check_inplace("relu_", x);
    if (st != CNNC_OK) return st;
    unary_job j = {cnnc__f32(x), cnnc__f32(x)};
    cnnc__parallel_for(x->numel, 65536, relu_range, &j);
    cnnc__bump_version(x);
    return cnnc__record_inplace(x, "ReluBackward0", relu_backward, 1, &x, 0, NULL);
}

cnnc_tensor *cnnc_relu(cnnc_tensor *x) { return cnnc__give(cnnc__op_relu(x)); }
cnnc_status cnnc_relu_(cnnc_tensor *x) { return cnnc__op_relu_(x); }
