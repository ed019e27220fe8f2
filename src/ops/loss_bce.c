/* binary_cross_entropy and binary_cross_entropy_with_logits: PyTorch 1.13's
 * formulas (log clamped to -100; the max-value trick for logits; kernels/loss_pw_impl.h)
 * on the pointwise engine of loss.c, with the argument checks of torch.nn.functional
 * in its order. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "ops/loss.h"

/* ---- binary_cross_entropy -------------------------------------------------------------- */

/* the formulas: kernels/loss_pw_impl.h */
static const cnnc__pw_kind BCE = {
    {"BinaryCrossEntropyBackward0", "BinaryCrossEntropyBackward0", "BinaryCrossEntropyBackward0", NULL},
    CNNC__PWL_BCE};

/* "torch.Size([3, 4])" */
static void torch_size(char *buf, size_t cap, const cnnc_tensor *t) {
    char s[300];
    cnnc__shape_str(s, sizeof s, t->ndim, t->shape);
    snprintf(buf, cap, "torch.Size(%s)", s);
}

/* PyTorch's check of the input (its kernel's): every element in [0, 1] (NaN not). */
static cnnc_status check_probabilities(const cnnc_tensor *x) {
    const float *p = cnnc__f32(x);
    int bad = 0; /* no early exit: the loop vectorizes */
    for (int64_t i = 0; i < x->numel; i++) bad |= !(p[i] >= 0.0f && p[i] <= 1.0f);
    if (bad)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "all elements of input should be between 0 and 1");
    return CNNC_OK;
}

/* A weight argument: NULL, or float32 fitting the loss's shape (message as PyTorch's
 * in-place multiply; swap names it the first operand, as pos_weight * target). */
static cnnc_status check_weight(const char *fn, const char *arg, const cnnc_tensor *input,
                                const cnnc_tensor *w, bool swap) {
    if (!w) return CNNC_OK;
    cnnc_status st = cnnc__check_tensor(fn, arg, w, true);
    return st != CNNC_OK ? st : cnnc__loss_fits(input, w, swap);
}

/* The common front: tensors, reduction, equal shapes (with the function's message). */
static cnnc_status check_pair(const char *fn, cnnc_tensor *input, cnnc_tensor *target,
                              const char *reduction, bool logits, cnnc__reduction *r) {
    if (cnnc__check_tensor(fn, "input", input, true) != CNNC_OK ||
        cnnc__check_tensor(fn, "target", target, false) != CNNC_OK ||
        cnnc__loss_reduction(reduction, false, r) != CNNC_OK)
        return cnnc_last_status();
    if (cnnc__same_shape(input, target)) return CNNC_OK;
    char si[320], st[320];
    torch_size(si, sizeof si, input);
    torch_size(st, sizeof st, target);
    if (logits)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Target size (%s) must be the same as input size (%s)", st, si);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "Using a target size (%s) that is different to the input size (%s) is "
                       "deprecated. Please ensure they have the same size.",
                       st, si);
}

cnnc_tensor *cnnc__op_binary_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                           cnnc_binary_cross_entropy_options o) {
    const char *fn = "binary_cross_entropy";
    cnnc__reduction r;
    if (check_pair(fn, input, target, o.reduction, false, &r) != CNNC_OK ||
        check_weight(fn, "weight", input, o.weight, false) != CNNC_OK ||
        cnnc__loss_no_grad(fn, "weight", o.weight) != CNNC_OK)
        return NULL;
    if (target->dtype != CNNC_FLOAT32)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Found dtype Long but expected Float");
    /* An input outside [0, 1] (or NaN) makes its element's loss NaN (a log of a
     * negative number), so a reduction that is not NaN needs no check of its own. */
    if (r == CNNC__RED_NONE && check_probabilities(input) != CNNC_OK) return NULL;
    cnnc_tensor *w = o.weight ? cnnc__loss_expand(o.weight, input->ndim, input->shape) : NULL;
    if (o.weight && !w) return NULL;
    cnnc_tensor *out = cnnc__pw_loss(&BCE, &(cnnc__pw_call){.input = input, .target = target,
                                                            .x = input, .y = target, .w = w,
                                                            .reduction = r});
    cnnc_tensor_release(w);
    if (out && r != CNNC__RED_NONE && cnnc__f32(out)[0] != cnnc__f32(out)[0] &&
        check_probabilities(input) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    return out;
}

/* ---- binary_cross_entropy_with_logits ------------------------------------------------- */

static const cnnc__pw_kind BCE_LOGITS = {
    {"BinaryCrossEntropyWithLogitsBackward0", "BinaryCrossEntropyWithLogitsBackward0",
     "BinaryCrossEntropyWithLogitsBackward0", NULL},
    CNNC__PWL_BCE_LOGITS};

cnnc_tensor *cnnc__op_binary_cross_entropy_with_logits(
    cnnc_tensor *input, cnnc_tensor *target, cnnc_binary_cross_entropy_with_logits_options o) {
    const char *fn = "binary_cross_entropy_with_logits";
    cnnc__reduction r;
    if (check_pair(fn, input, target, o.reduction, true, &r) != CNNC_OK ||
        cnnc__loss_no_grad(fn, "weight", o.weight) != CNNC_OK ||
        cnnc__loss_no_grad(fn, "pos_weight", o.pos_weight) != CNNC_OK)
        return NULL;
    if (target->dtype != CNNC_FLOAT32)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "result type Float can't be cast to the desired output type Long");
    if (check_weight(fn, "pos_weight", input, o.pos_weight, true) != CNNC_OK ||
        check_weight(fn, "weight", input, o.weight, false) != CNNC_OK)
        return NULL;
    cnnc_tensor *w = o.weight ? cnnc__loss_expand(o.weight, input->ndim, input->shape) : NULL;
    cnnc_tensor *pw = o.pos_weight ? cnnc__loss_expand(o.pos_weight, input->ndim, input->shape) : NULL;
    cnnc_tensor *out = NULL;
    if ((w || !o.weight) && (pw || !o.pos_weight))
        out = cnnc__pw_loss(&BCE_LOGITS, &(cnnc__pw_call){.input = input, .target = target,
                                                          .x = input, .y = target, .w = w,
                                                          .pw = pw, .reduction = r});
    cnnc_tensor_release(w);
    cnnc_tensor_release(pw);
    return out;
}

/* ---- public wrappers ------------------------------------------------------------------ */

cnnc_tensor *cnnc_binary_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                       cnnc_binary_cross_entropy_options o) {
    return cnnc__give(cnnc__op_binary_cross_entropy(input, target, o));
}
cnnc_tensor *cnnc_binary_cross_entropy_with_logits(
    cnnc_tensor *input, cnnc_tensor *target, cnnc_binary_cross_entropy_with_logits_options o) {
    return cnnc__give(cnnc__op_binary_cross_entropy_with_logits(input, target, o));
}
