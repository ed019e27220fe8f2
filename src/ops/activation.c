/* Pointwise activations (relu and the rest of the table-driven family), prelu, and Python's
 * float formatting for the family's messages and reprs.
 *
 * Every table activation goes through two functions: act_out (out of place) and
 * act_inplace. A descriptor says what the backward reads, as PyTorch's
 * derivatives do: the input (most), or the result (sigmoid, tanh, and the
 * in-place forms of leaky_relu and elu/selu/celu); an in-place form whose
 * gradient needs the input (silu, mish, hardsigmoid, hardswish) saves a copy taken
 * before the overwrite, except hardtanh/relu6, whose gradient needs only where the
 * input was inside (min, max): one bit per element, kept in its node. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/activation.h"
#include "ops/activation.h"
#include "ops/ops.h"

/* The cost of `n` elements for the parallel regions: a few flops, a float read and
 * one written (the backwards read two). */
static cnnc__cost act_cost(int64_t n, int reads) {
    return (cnnc__cost){.flops = 4.0 * (double)n, .bytes = 4.0 * (reads + 1) * (double)n};
}

/* ---- the table-driven activations ------------------------------------------------ */

typedef enum { SAVE_INPUT, SAVE_RESULT } save_kind;

typedef struct act_desc {
    const char *name;         /* for messages: "leaky_relu" */
    const char *node;         /* out-of-place grad_fn: "LeakyReluBackward0" */
    const char *node_inplace; /* in-place grad_fn: "LeakyReluBackward1" */
    cnnc__act op;
    save_kind save;           /* what the out-of-place backward reads */
    save_kind save_inplace;   /* SAVE_INPUT: a copy taken before the overwrite */
} act_desc;

/* hardtanh_ keeps a copy of its input, as PyTorch (a later in-place change of the
 * result does not invalidate it) */
static const act_desc D_HARDTANH = {"hardtanh", "HardtanhBackward0", "HardtanhBackward0",
                                    CNNC__ACT_HARDTANH, SAVE_INPUT, SAVE_INPUT};
static const act_desc D_RELU6 = {"relu6", "HardtanhBackward0", "HardtanhBackward0",
                                 CNNC__ACT_HARDTANH, SAVE_INPUT, SAVE_INPUT};
static const act_desc D_LEAKY = {"leaky_relu", "LeakyReluBackward0", "LeakyReluBackward1",
                                 CNNC__ACT_LEAKY_RELU, SAVE_INPUT, SAVE_RESULT};
static const act_desc D_ELU = {"elu", "EluBackward0", "EluBackward1", CNNC__ACT_ELU, SAVE_INPUT,
                               SAVE_RESULT};
static const act_desc D_SELU = {"selu", "EluBackward0", "EluBackward1", CNNC__ACT_ELU,
                                SAVE_INPUT, SAVE_RESULT};
static const act_desc D_CELU = {"celu", "CeluBackward0", "CeluBackward1", CNNC__ACT_ELU,
                                SAVE_INPUT, SAVE_RESULT};
static const act_desc D_GELU = {"gelu", "GeluBackward0", NULL, CNNC__ACT_GELU, SAVE_INPUT,
                                SAVE_INPUT};
static const act_desc D_GELU_TANH = {"gelu", "GeluBackward0", NULL, CNNC__ACT_GELU_TANH,
                                     SAVE_INPUT, SAVE_INPUT};
static const act_desc D_SILU = {"silu", "SiluBackward0", "SiluBackward0", CNNC__ACT_SILU,
                                SAVE_INPUT, SAVE_INPUT};
static const act_desc D_MISH = {"mish", "MishBackward0", "MishBackward0", CNNC__ACT_MISH,
                                SAVE_INPUT, SAVE_INPUT};
static const act_desc D_SIGMOID = {"sigmoid", "SigmoidBackward0", "SigmoidBackward0",
                                   CNNC__ACT_SIGMOID, SAVE_RESULT, SAVE_RESULT};
static const act_desc D_TANH = {"tanh", "TanhBackward0", "TanhBackward0", CNNC__ACT_TANH,
                                SAVE_RESULT, SAVE_RESULT};
static const act_desc D_HARDSIGMOID = {"hardsigmoid", "HardsigmoidBackward0",
                                       "HardsigmoidBackward0", CNNC__ACT_HARDSIGMOID,
                                       SAVE_INPUT, SAVE_INPUT};
static const act_desc D_HARDSWISH = {"hardswish", "HardswishBackward0", "HardswishBackward0",
                                     CNNC__ACT_HARDSWISH, SAVE_INPUT, SAVE_INPUT};
static const act_desc D_SOFTPLUS = {"softplus", "SoftplusBackward0", NULL, CNNC__ACT_SOFTPLUS,
                                    SAVE_INPUT, SAVE_INPUT};

/* The backward's context: the op, its parameters, whether the saved tensor is the
 * result, and PyTorch's error for in-place forms it refuses to differentiate. */
typedef struct act_ctx {
    cnnc__act op;
    cnnc__act_params p;
    bool from_result;
    bool masked;        /* in-place hardtanh: the gradient mask follows (MASK_OFF) */
    const char *refuse; /* NULL, or the message backward fails with */
} act_ctx;

/* Where a masked context's bit words start, and how many words n elements take. */
#define MASK_OFF ((sizeof(act_ctx) + 7) / 8 * 8)
static int64_t mask_words(int64_t n) { return (n + 31) / 32; }
static uint32_t *ctx_bits(act_ctx *c) { return (uint32_t *)(void *)((char *)c + MASK_OFF); }

typedef struct {
    cnnc__isa isa; /* the kernels' level for the whole call */
    cnnc__act op;
    const cnnc__act_params *p;
    bool from_result;
    float *out;
    const float *a, *b;
    bool stream; /* relu into a fresh output far larger than the caches: streaming stores */
} act_job;

/* Outputs from this size on are written with streaming stores by relu and leaky_relu
 * (they would not stay in the caches anyway, and a plain store first reads each
 * line). Measured: the other activations gained nothing from computing a cached
 * block and streaming it out (the extra pass costs what the saved reads save). */
enum { STREAM_BYTES = 16 << 20 };
static bool act_streams(cnnc__act op, int64_t numel) {
    return (op == CNNC__ACT_RELU || op == CNNC__ACT_LEAKY_RELU) &&
           numel >= STREAM_BYTES / (int64_t)sizeof(float);
}

static cnnc_status act_forward_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    act_job *j = ctx;
    if (j->stream && cnnc__k_act_stream(j->isa, j->op, j->p, false, j->out + begin, j->a + begin,
                                        NULL, end - begin))
        return CNNC_OK;
    cnnc__k_act_forward(j->isa, j->op, j->p, j->out + begin, j->a + begin, end - begin);
    return CNNC_OK;
}

static cnnc_status act_backward_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    act_job *j = ctx;
    if (j->stream && cnnc__k_act_stream(j->isa, j->op, j->p, true, j->out + begin, j->a + begin,
                                        j->b + begin, end - begin))
        return CNNC_OK;
    cnnc__k_act_backward(j->isa, j->op, j->p, j->from_result, j->out + begin, j->a + begin,
                         j->b + begin, end - begin);
    return CNNC_OK;
}

/* The masked forms: items are 32-element words of the mask. */
typedef struct mask_job {
    cnnc__isa isa;
    const cnnc__act_params *p;
    int64_t n;
    float *out;
    const float *a;
    uint32_t *bits;
} mask_job;

static cnnc_status mask_forward_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const mask_job *j = ctx;
    const int64_t e = end * 32 < j->n ? end * 32 : j->n;
    cnnc__k_hardtanh_mask_forward(j->isa, j->p, j->out + begin * 32, j->bits + begin,
                                  j->a + begin * 32, e - begin * 32);
    return CNNC_OK;
}

static cnnc_status mask_backward_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const mask_job *j = ctx;
    const int64_t e = end * 32 < j->n ? end * 32 : j->n;
    cnnc__k_hardtanh_mask_backward(j->isa, j->out + begin * 32, j->a + begin * 32,
                                   j->bits + begin, e - begin * 32);
    return CNNC_OK;
}

static cnnc_status act_backward_masked(act_ctx *c, cnnc_tensor *g, cnnc_tensor **gi) {
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, g->ndim, g->shape);
    if (!gi[0]) return cnnc_last_status();
    mask_job j = {cnnc__isa_active(), &c->p, g->numel, cnnc__f32(gi[0]), cnnc__f32(g),
                  ctx_bits(c)};
    return cnnc__parallel_for(mask_words(g->numel), act_cost(32, 2), mask_backward_range, &j);
}

static cnnc_status act_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    act_ctx *c = n->ctx;
    if (c->refuse) return cnnc__error(CNNC_ERR_RUNTIME, "%s", c->refuse);
    if (c->masked) return act_backward_masked(c, g, gi);
    cnnc_tensor *s = n->saved[0];
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, s->ndim, s->shape);
    if (!gi[0]) return cnnc_last_status();
    act_job j = {cnnc__isa_active(), c->op,        &c->p,        c->from_result,
                 cnnc__f32(gi[0]),   cnnc__f32(g), cnnc__f32(s),
                 act_streams(c->op, s->numel)}; /* relu saves its result; leaky_relu either */
    return cnnc__parallel_for(s->numel, act_cost(1, 2), act_backward_range, &j);
}

static cnnc_status act_record(cnnc_tensor *out, bool inplace, const act_desc *d,
                              cnnc_tensor *input, cnnc_tensor *saved, cnnc__act_params p,
                              bool from_result, const char *refuse) {
    act_ctx *c = NULL;
    cnnc_status st =
        inplace ? cnnc__record_inplace(out, d->node_inplace, act_backward, 1, &saved,
                                       sizeof(act_ctx), (void **)&c)
                : cnnc__record(out, d->node, act_backward, 1, &input, 1, &saved,
                               sizeof(act_ctx), (void **)&c);
    if (st == CNNC_OK && c) *c = (act_ctx){d->op, p, from_result, false, refuse};
    return st;
}

/* In-place hardtanh with grad: x clamped in place, and instead of a copy of x the
 * node keeps one bit per element (where the gradient passes), which is all the
 * backward reads of it. */
static cnnc_status hardtanh_inplace_masked(const act_desc *d, cnnc_tensor *x,
                                           cnnc__act_params p) {
    const int64_t words = mask_words(x->numel);
    uint32_t *bits = cnnc__malloc((size_t)words * sizeof(uint32_t));
    if (!bits) return cnnc__oom("the gradient mask of hardtanh_");
    mask_job j = {cnnc__isa_active(), &p, x->numel, cnnc__f32(x), cnnc__f32(x), bits};
    cnnc_status st = cnnc__parallel_for(words, act_cost(32, 1), mask_forward_range, &j);
    cnnc__bump_version(x);
    act_ctx *c = NULL;
    if (st == CNNC_OK)
        st = cnnc__record_inplace(x, d->node_inplace, act_backward, 0, NULL,
                                  MASK_OFF + (size_t)words * sizeof(uint32_t), (void **)&c);
    if (st == CNNC_OK && c) {
        *c = (act_ctx){d->op, p, false, true, NULL};
        memcpy(ctx_bits(c), bits, (size_t)words * sizeof(uint32_t));
    }
    cnnc__free(bits);
    return st;
}

static cnnc_tensor *act_out(const act_desc *d, cnnc_tensor *x, cnnc__act_params p) {
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    if (!out) return NULL;
    act_job j = {cnnc__isa_active(), d->op, &p, false, cnnc__f32(out), cnnc__f32(x), NULL,
                 act_streams(d->op, x->numel)};
    bool result = d->save == SAVE_RESULT;
    if (cnnc__parallel_for(x->numel, act_cost(1, 1), act_forward_range, &j) != CNNC_OK ||
        act_record(out, false, d, x, result ? out : x, p, result, NULL) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

/* fn names the in-place function in messages ("leaky_relu_"); refuse: the error
 * backward raises (in-place forms PyTorch cannot differentiate), or NULL. */
static cnnc_status act_inplace(const act_desc *d, const char *fn, cnnc_tensor *x,
                               cnnc__act_params p, const char *refuse) {
    cnnc_status st = cnnc__check_inplace(fn, x);
    if (st != CNNC_OK) return st;
    cnnc_tensor *keep = NULL; /* the input, for backwards that need it */
    bool grad = cnnc__any_requires_grad(1, &x);
    if (grad && d->op == CNNC__ACT_HARDTANH && !refuse) return hardtanh_inplace_masked(d, x, p);
    if (grad && d->save_inplace == SAVE_INPUT) {
        keep = cnnc__tensor_copy(x);
        if (!keep) return cnnc_last_status();
    }
    act_job j = {cnnc__isa_active(), d->op, &p, false, cnnc__f32(x), cnnc__f32(x), NULL, false};
    st = cnnc__parallel_for(x->numel, act_cost(1, 1), act_forward_range, &j);
    cnnc__bump_version(x);
    if (st != CNNC_OK) {
        cnnc_tensor_release(keep);
        return st;
    }
    bool result = d->save_inplace == SAVE_RESULT;
    st = act_record(x, true, d, x, result ? x : keep, p, result, refuse);
    cnnc_tensor_release(keep);
    return st;
}

/* inplace ? act_inplace + a new reference to x : act_out. */
static cnnc_tensor *act_apply(const act_desc *d, const char *fn, const char *fn_, cnnc_tensor *x,
                              cnnc__act_params p, bool inplace, const char *refuse) {
    if (cnnc__check_tensor(inplace ? fn_ : fn, "input", x, true) != CNNC_OK) return NULL;
    if (!inplace) return act_out(d, x, p);
    return act_inplace(d, fn_, x, p, refuse) == CNNC_OK ? cnnc_tensor_retain(x) : NULL;
}

static cnnc_status act_apply_(const act_desc *d, const char *fn_, cnnc_tensor *x,
                              cnnc__act_params p, const char *refuse) {
    cnnc_status st = cnnc__check_tensor(fn_, "input", x, true);
    return st != CNNC_OK ? st : act_inplace(d, fn_, x, p, refuse);
}

static const char LEAKY_REFUSE[] =
    "In-place leakyReLu backward calculation is triggered with a negative slope which is not "
    "supported. This is caused by calling in-place forward function with a negative slope, "
    "please call out-of-place version instead. File an issue at "
    "https://github.com/pytorch/pytorch if you do require supporting in-place leakRelu "
    "backward calculation with negative slope";
static const char ELU_REFUSE[] =
    "In-place elu backward calculation is triggered with a negative slope which is not "
    "supported. This is caused by calling in-place forward function with a negative slope, "
    "please call out-of-place version instead.";

/* ---- the public activations -------------------------------------------------------- */

static cnnc__act_params hardtanh_params(double lo, double hi) {
    return (cnnc__act_params){(float)lo, (float)hi, 0.0f};
}

cnnc_tensor *cnnc__op_relu6(cnnc_tensor *x, cnnc_relu6_options o) {
    return act_apply(&D_RELU6, "relu6", "relu6_", x, hardtanh_params(0.0, 6.0), o.inplace, NULL);
}

cnnc_tensor *cnnc__op_hardtanh(cnnc_tensor *x, cnnc_hardtanh_options o) {
    return act_apply(&D_HARDTANH, "hardtanh", "hardtanh_", x, hardtanh_params(o.min_val, o.max_val),
                     o.inplace, NULL);
}
cnnc_status cnnc__op_hardtanh_(cnnc_tensor *x, cnnc_hardtanh_options o) {
    return act_apply_(&D_HARDTANH, "hardtanh_", x, hardtanh_params(o.min_val, o.max_val), NULL);
}

static cnnc__act_params leaky_params(double slope) {
    return (cnnc__act_params){(float)slope, 0.0f, 0.0f};
}
cnnc_tensor *cnnc__op_leaky_relu(cnnc_tensor *x, cnnc_leaky_relu_options o) {
    return act_apply(&D_LEAKY, "leaky_relu", "leaky_relu_", x, leaky_params(o.negative_slope),
                     o.inplace, o.negative_slope < 0 ? LEAKY_REFUSE : NULL);
}
cnnc_status cnnc__op_leaky_relu_(cnnc_tensor *x, cnnc_leaky_relu_options o) {
    return act_apply_(&D_LEAKY, "leaky_relu_", x, leaky_params(o.negative_slope),
                      o.negative_slope < 0 ? LEAKY_REFUSE : NULL);
}

/* PyTorch's elu(x, alpha, scale, input_scale) parameters, as its kernel converts
 * them: negcoef = float(alpha) * float(scale). */
static cnnc__act_params elu_params(double alpha, double scale, double input_scale) {
    return (cnnc__act_params){(float)alpha * (float)scale, (float)scale, (float)input_scale};
}
cnnc_tensor *cnnc__op_elu(cnnc_tensor *x, cnnc_elu_options o) {
    return act_apply(&D_ELU, "elu", "elu_", x, elu_params(o.alpha, 1.0, 1.0), o.inplace,
                     o.alpha < 0 ? ELU_REFUSE : NULL);
}
cnnc_status cnnc__op_elu_(cnnc_tensor *x, cnnc_elu_options o) {
    return act_apply_(&D_ELU, "elu_", x, elu_params(o.alpha, 1.0, 1.0),
                      o.alpha < 0 ? ELU_REFUSE : NULL);
}

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946
cnnc_tensor *cnnc__op_selu(cnnc_tensor *x, cnnc_selu_options o) {
    return act_apply(&D_SELU, "selu", "selu_", x, elu_params(SELU_ALPHA, SELU_SCALE, 1.0),
                     o.inplace, NULL);
}
cnnc_status cnnc__op_selu_(cnnc_tensor *x) {
    return act_apply_(&D_SELU, "selu_", x, elu_params(SELU_ALPHA, SELU_SCALE, 1.0), NULL);
}

static cnnc_status celu_check(double alpha) {
    if (alpha == 0.0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "ZeroDivisionError: alpha cannot be 0 for CELU");
    return CNNC_OK;
}
cnnc_tensor *cnnc__op_celu(cnnc_tensor *x, cnnc_celu_options o) {
    if (celu_check(o.alpha) != CNNC_OK) return NULL;
    return act_apply(&D_CELU, "celu", "celu_", x, elu_params(o.alpha, 1.0, 1.0 / o.alpha),
                     o.inplace, o.alpha < 0 ? ELU_REFUSE : NULL);
}
cnnc_status cnnc__op_celu_(cnnc_tensor *x, cnnc_celu_options o) {
    cnnc_status st = celu_check(o.alpha);
    if (st != CNNC_OK) return st;
    return act_apply_(&D_CELU, "celu_", x, elu_params(o.alpha, 1.0, 1.0 / o.alpha),
                      o.alpha < 0 ? ELU_REFUSE : NULL);
}

cnnc_tensor *cnnc__op_gelu(cnnc_tensor *x, cnnc_gelu_options o) {
    const act_desc *d = NULL;
    if (o.approximate && strcmp(o.approximate, "none") == 0) d = &D_GELU;
    if (o.approximate && strcmp(o.approximate, "tanh") == 0) d = &D_GELU_TANH;
    if (!d)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "approximate argument must be either none or tanh.");
    return act_apply(d, "gelu", "gelu", x, (cnnc__act_params){0}, false, NULL);
}

static const cnnc__act_params NO_PARAMS = {0.0f, 0.0f, 0.0f};

cnnc_tensor *cnnc__op_silu(cnnc_tensor *x, cnnc_silu_options o) {
    return act_apply(&D_SILU, "silu", "silu_", x, NO_PARAMS, o.inplace, NULL);
}
cnnc_tensor *cnnc__op_mish(cnnc_tensor *x, cnnc_mish_options o) {
    return act_apply(&D_MISH, "mish", "mish_", x, NO_PARAMS, o.inplace, NULL);
}
cnnc_tensor *cnnc__op_sigmoid(cnnc_tensor *x) {
    return act_apply(&D_SIGMOID, "sigmoid", "sigmoid_", x, NO_PARAMS, false, NULL);
}
cnnc_tensor *cnnc__op_tanh(cnnc_tensor *x) {
    return act_apply(&D_TANH, "tanh", "tanh_", x, NO_PARAMS, false, NULL);
}
cnnc_tensor *cnnc__op_hardsigmoid(cnnc_tensor *x, cnnc_hardsigmoid_options o) {
    return act_apply(&D_HARDSIGMOID, "hardsigmoid", "hardsigmoid_", x, NO_PARAMS, o.inplace, NULL);
}
cnnc_tensor *cnnc__op_hardswish(cnnc_tensor *x, cnnc_hardswish_options o) {
    return act_apply(&D_HARDSWISH, "hardswish", "hardswish_", x, NO_PARAMS, o.inplace, NULL);
}
cnnc_tensor *cnnc__op_softplus(cnnc_tensor *x, cnnc_softplus_options o) {
    cnnc__act_params p = {(float)o.beta, (float)o.threshold, 0.0f};
    return act_apply(&D_SOFTPLUS, "softplus", "softplus", x, p, false, NULL);
}

/* ---- relu (its kernels are the table's RELU) --------------------------------------- */

static const act_desc D_RELU = {"relu", "ReluBackward0", "ReluBackward0", CNNC__ACT_RELU,
                                SAVE_RESULT, SAVE_RESULT};

cnnc_tensor *cnnc__op_relu(cnnc_tensor *x) {
    return act_apply(&D_RELU, "relu", "relu_", x, NO_PARAMS, false, NULL);
}

cnnc_status cnnc__op_relu_(cnnc_tensor *x) { return act_apply_(&D_RELU, "relu_", x, NO_PARAMS, NULL); }

/* ---- specs for the inference epilogues (ops/activation.h) ---------------------------- */

bool cnnc__act_spec_of(const char *name, double a, double b, cnnc__act_spec *s) {
    static const struct {
        const char *name;
        const act_desc *d;
    } plain[] = {{"relu", &D_RELU},       {"gelu", &D_GELU},       {"gelu_tanh", &D_GELU_TANH},
                 {"silu", &D_SILU},       {"mish", &D_MISH},       {"sigmoid", &D_SIGMOID},
                 {"tanh", &D_TANH},       {"hardsigmoid", &D_HARDSIGMOID},
                 {"hardswish", &D_HARDSWISH}};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (strcmp(name, plain[i].name) == 0) return *s = (cnnc__act_spec){plain[i].d->op, NO_PARAMS}, true;
    cnnc__act_spec r;
    if (strcmp(name, "relu6") == 0) r = (cnnc__act_spec){CNNC__ACT_HARDTANH, hardtanh_params(0.0, 6.0)};
    else if (strcmp(name, "hardtanh") == 0) r = (cnnc__act_spec){CNNC__ACT_HARDTANH, hardtanh_params(a, b)};
    else if (strcmp(name, "leaky_relu") == 0) r = (cnnc__act_spec){CNNC__ACT_LEAKY_RELU, leaky_params(a)};
    else if (strcmp(name, "elu") == 0) r = (cnnc__act_spec){CNNC__ACT_ELU, elu_params(a, 1.0, 1.0)};
    else if (strcmp(name, "selu") == 0)
        r = (cnnc__act_spec){CNNC__ACT_ELU, elu_params(SELU_ALPHA, SELU_SCALE, 1.0)};
    else if (strcmp(name, "celu") == 0 && a != 0.0)
        r = (cnnc__act_spec){CNNC__ACT_ELU, elu_params(a, 1.0, 1.0 / a)};
    else if (strcmp(name, "softplus") == 0)
        r = (cnnc__act_spec){CNNC__ACT_SOFTPLUS, {(float)a, (float)b, 0.0f}};
    else
        return false;
    *s = r;
    return true;
}

/* ---- prelu ------------------------------------------------------------------------ */

/* A shared weight (one element) applies to the flat tensor, split into element
 * ranges; per-channel weights view x as [outer, channels, inner] and split rows. */
typedef struct {
    float *out;
    const float *x, *w, *g;
    double *sums;
    bool shared;
    int64_t numel, channels, inner;
} prelu_job;

#define PRELU_CHUNK 65536

static prelu_job prelu_plan(const cnnc_tensor *x, const cnnc_tensor *w) {
    prelu_job j = {.x = cnnc__f32(x), .w = cnnc__f32(w), .numel = x->numel};
    j.shared = w->numel == 1;
    j.channels = j.shared ? 1 : x->shape[1];
    j.inner = 1;
    if (!j.shared)
        for (int d = 2; d < x->ndim; d++) j.inner *= x->shape[d];
    return j;
}

/* the work items of a plan: elements (shared) or rows, and the cost of one */
static int64_t prelu_items(const prelu_job *j) {
    return j->shared ? j->numel : (j->inner ? j->numel / j->inner : 0);
}
static cnnc__cost prelu_cost(const prelu_job *j, int reads) {
    return act_cost(j->shared ? 1 : j->inner, reads);
}

static cnnc_status prelu_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    prelu_job *j = ctx;
    if (j->shared)
        cnnc__k_prelu(j->out + begin, j->x + begin, j->w, 1, end - begin, 0, 1);
    else
        cnnc__k_prelu(j->out, j->x, j->w, j->channels, j->inner, begin, end);
    return CNNC_OK;
}

static cnnc_status prelu_gx_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    prelu_job *j = ctx;
    if (j->shared)
        cnnc__k_prelu_backward_input(j->out + begin, j->g + begin, j->x + begin, j->w, 1,
                                     end - begin, 0, 1);
    else
        cnnc__k_prelu_backward_input(j->out, j->g, j->x, j->w, j->channels, j->inner, begin, end);
    return CNNC_OK;
}

/* Weight-gradient partial sums, in double: one per fixed-size chunk (shared) or
 * per row (channel c of batch entry o); added up in a fixed order afterwards, so
 * the result does not depend on the thread count. */
static cnnc_status prelu_gw_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    prelu_job *j = ctx;
    for (int64_t r = begin; r < end; r++) {
        if (j->shared) {
            int64_t lo = r * PRELU_CHUNK;
            int64_t len = j->numel - lo < PRELU_CHUNK ? j->numel - lo : PRELU_CHUNK;
            cnnc__k_prelu_backward_weight(&j->sums[r], j->g + lo, j->x + lo, 1, 1, len, 0, 1);
        } else {
            size_t off = (size_t)(r * j->inner);
            cnnc__k_prelu_backward_weight(&j->sums[r], j->g + off, j->x + off, 1, 1, j->inner, 0, 1);
        }
    }
    return CNNC_OK;
}

static cnnc_status prelu_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    cnnc_tensor *x = n->saved[0], *w = n->saved[1];
    prelu_job j = prelu_plan(x, w);
    j.g = cnnc__f32(g);
    if (cnnc__node_needs_grad(n, 0)) {
        gi[0] = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
        if (!gi[0]) return cnnc_last_status();
        j.out = cnnc__f32(gi[0]);
        cnnc_status st = cnnc__parallel_for(prelu_items(&j), prelu_cost(&j, 2), prelu_gx_range, &j);
        if (st != CNNC_OK) return st;
    }
    if (cnnc__node_needs_grad(n, 1)) {
        gi[1] = cnnc__tensor_zeros(CNNC_FLOAT32, w->ndim, w->shape);
        if (!gi[1]) return cnnc_last_status();
        int64_t parts = j.shared ? (j.numel + PRELU_CHUNK - 1) / PRELU_CHUNK : prelu_items(&j);
        if (parts > 0) {
            j.sums = cnnc__workspace((size_t)parts * sizeof(double));
            if (!j.sums) return cnnc_last_status();
            cnnc_status st = cnnc__parallel_for(
                parts, j.shared ? act_cost(PRELU_CHUNK, 2) : prelu_cost(&j, 2), prelu_gw_range, &j);
            if (st != CNNC_OK) return st;
            float *gw = cnnc__f32(gi[1]);
            for (int64_t c = 0; c < j.channels; c++) {
                double acc = 0.0;
                for (int64_t r = c; r < parts; r += j.channels) acc += j.sums[r];
                gw[c] = (float)acc;
            }
        }
    }
    return CNNC_OK;
}

cnnc_tensor *cnnc__op_prelu(cnnc_tensor *x, cnnc_tensor *weight) {
    if (cnnc__check_tensor("prelu", "input", x, true) != CNNC_OK ||
        cnnc__check_tensor("prelu", "weight", weight, true) != CNNC_OK)
        return NULL;
    if (weight->ndim > 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "prelu: Expected `weight` to be a scalar or 1D tensor, but got "
                                "ndim = %d",
                                weight->ndim);
    int64_t channels = x->ndim >= 2 ? x->shape[1] : 1;
    if (weight->numel != 1 && weight->numel != channels)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Mismatch of parameter numbers and input channel size. Found "
                                "parameter numbers = %lld and channel size = %lld.",
                                (long long)weight->numel, (long long)channels);
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, x->ndim, x->shape);
    if (!out) return NULL;
    prelu_job j = prelu_plan(x, weight);
    j.out = cnnc__f32(out);
    cnnc_tensor *in[2] = {x, weight};
    if (cnnc__parallel_for(prelu_items(&j), prelu_cost(&j, 1), prelu_range, &j) != CNNC_OK ||
        cnnc__record(out, "PreluBackward0", prelu_backward, 2, in, 2, in, 0, NULL) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

/* ---- public wrappers ------------------------------------------------------------- */

cnnc_tensor *cnnc_relu(cnnc_tensor *x) { return cnnc__give(cnnc__op_relu(x)); }
cnnc_status cnnc_relu_(cnnc_tensor *x) { return cnnc__op_relu_(x); }
cnnc_tensor *cnnc_relu6(cnnc_tensor *x, cnnc_relu6_options o) { return cnnc__give(cnnc__op_relu6(x, o)); }
cnnc_tensor *cnnc_hardtanh(cnnc_tensor *x, cnnc_hardtanh_options o) {
    return cnnc__give(cnnc__op_hardtanh(x, o));
}
cnnc_status cnnc_hardtanh_(cnnc_tensor *x, cnnc_hardtanh_options o) { return cnnc__op_hardtanh_(x, o); }
cnnc_tensor *cnnc_leaky_relu(cnnc_tensor *x, cnnc_leaky_relu_options o) {
    return cnnc__give(cnnc__op_leaky_relu(x, o));
}
cnnc_status cnnc_leaky_relu_(cnnc_tensor *x, cnnc_leaky_relu_options o) {
    return cnnc__op_leaky_relu_(x, o);
}
cnnc_tensor *cnnc_elu(cnnc_tensor *x, cnnc_elu_options o) { return cnnc__give(cnnc__op_elu(x, o)); }
cnnc_status cnnc_elu_(cnnc_tensor *x, cnnc_elu_options o) { return cnnc__op_elu_(x, o); }
cnnc_tensor *cnnc_selu(cnnc_tensor *x, cnnc_selu_options o) { return cnnc__give(cnnc__op_selu(x, o)); }
cnnc_status cnnc_selu_(cnnc_tensor *x) { return cnnc__op_selu_(x); }
cnnc_tensor *cnnc_celu(cnnc_tensor *x, cnnc_celu_options o) { return cnnc__give(cnnc__op_celu(x, o)); }
cnnc_status cnnc_celu_(cnnc_tensor *x, cnnc_celu_options o) { return cnnc__op_celu_(x, o); }
cnnc_tensor *cnnc_gelu(cnnc_tensor *x, cnnc_gelu_options o) { return cnnc__give(cnnc__op_gelu(x, o)); }
cnnc_tensor *cnnc_silu(cnnc_tensor *x, cnnc_silu_options o) { return cnnc__give(cnnc__op_silu(x, o)); }
cnnc_tensor *cnnc_mish(cnnc_tensor *x, cnnc_mish_options o) { return cnnc__give(cnnc__op_mish(x, o)); }
cnnc_tensor *cnnc_sigmoid(cnnc_tensor *x) { return cnnc__give(cnnc__op_sigmoid(x)); }
cnnc_tensor *cnnc_tanh(cnnc_tensor *x) { return cnnc__give(cnnc__op_tanh(x)); }
cnnc_tensor *cnnc_hardsigmoid(cnnc_tensor *x, cnnc_hardsigmoid_options o) {
    return cnnc__give(cnnc__op_hardsigmoid(x, o));
}
cnnc_tensor *cnnc_hardswish(cnnc_tensor *x, cnnc_hardswish_options o) {
    return cnnc__give(cnnc__op_hardswish(x, o));
}
cnnc_tensor *cnnc_softplus(cnnc_tensor *x, cnnc_softplus_options o) {
    return cnnc__give(cnnc__op_softplus(x, o));
}
cnnc_tensor *cnnc_prelu(cnnc_tensor *x, cnnc_tensor *weight) {
    return cnnc__give(cnnc__op_prelu(x, weight));
}
