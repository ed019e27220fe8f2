/* Internal: the loss family's ops as library code (nn/loss.c) calls them, and what
 * its files share: the reduction argument, the no-grad argument rule, and the
 * engine of the pointwise losses (mse, l1, smooth_l1, huber, kl_div and both
 * binary cross entropies). Same conventions as ops/ops.h: validated,
 * differentiable, new references not given to a scope.
 *
 * Files: loss.c (shared parts, regression losses, kl_div), loss_bce.c (binary
 * cross entropy), loss_nll.c (nll_loss, cross_entropy); their element formulas and
 * cross entropy's kernels are kernels/loss.h's, per ISA level. */
#ifndef CNNC_OPS_LOSS_H
#define CNNC_OPS_LOSS_H
#include "kernels/loss.h"
#include "ops/ops.h"

typedef enum cnnc__reduction {
    CNNC__RED_NONE,
    CNNC__RED_MEAN,
    CNNC__RED_SUM,
    CNNC__RED_BATCHMEAN, /* kl_div only: the sum divided by input.size(0) */
    CNNC__RED_COUNT
} cnnc__reduction;

/* PyTorch's _Reduction.get_enum: "none", "mean" (and "elementwise_mean"), "sum",
 * and "batchmean" when allowed; otherwise "<s> is not a valid value for
 * reduction" (NULL is Python's None). */
cnnc_status cnnc__loss_reduction(const char *s, bool allow_batchmean, cnnc__reduction *out);

/* PyTorch's refusal of a non-differentiable argument that requires grad while grad
 * mode is on ("The function 'nll_loss_forward' is not differentiable with respect
 * to argument 'weight'. This input cannot have requires_grad True."). t may be NULL. */
cnnc_status cnnc__loss_no_grad(const char *fn, const char *arg, const cnnc_tensor *t);

/* PyTorch's errors for a tensor b broadcast into an in-place result of a's shape:
 * "The size of tensor a (4) must match the size of tensor b (5) at non-singleton
 * dimension 1" when they do not broadcast, "output with shape [3, 4] doesn't match
 * the broadcast shape [2, 3, 4]" when b would grow a. With swap, b's sizes are
 * named "tensor a" (PyTorch's operand order in pos_weight * target). */
cnnc_status cnnc__loss_fits(const cnnc_tensor *a, const cnnc_tensor *b, bool swap);

/* float32 b broadcast to shape as a new tensor, or b retained when it already has
 * that shape (not differentiable). */
cnnc_tensor *cnnc__loss_expand(cnnc_tensor *b, int ndim, const int64_t *shape);

/* ---- the pointwise engine ------------------------------------------------------------ */

/* A pointwise loss: its kernels (kernels/loss.h) and its grad_fn name per reduction,
 * as PyTorch shows it. */
typedef struct cnnc__pw_kind {
    const char *nodes[CNNC__RED_COUNT];
    cnnc__pwl op;
} cnnc__pw_kind;

/* One pointwise loss call. input and target are the caller's tensors (autograd
 * edges; gradients are summed back to their shapes); x and y their float32 values
 * at the loss's shape (maybe input and target themselves); w and pw float32 at
 * that shape or NULL (saved, never differentiated). */
typedef struct cnnc__pw_call {
    cnnc_tensor *input, *target;
    cnnc_tensor *x, *y, *w, *pw;
    float a;
    bool flag;
    cnnc__reduction reduction;
    int64_t batch; /* batchmean's divisor */
} cnnc__pw_call;

cnnc_tensor *cnnc__pw_loss(const cnnc__pw_kind *kind, const cnnc__pw_call *call);

/* ---- the ops ------------------------------------------------------------------------- */

cnnc_tensor *cnnc__op_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                    cnnc_cross_entropy_options o);
cnnc_tensor *cnnc__op_nll_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_nll_loss_options o);
cnnc_tensor *cnnc__op_binary_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                           cnnc_binary_cross_entropy_options o);
cnnc_tensor *cnnc__op_binary_cross_entropy_with_logits(
    cnnc_tensor *input, cnnc_tensor *target, cnnc_binary_cross_entropy_with_logits_options o);
cnnc_tensor *cnnc__op_mse_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_mse_loss_options o);
cnnc_tensor *cnnc__op_l1_loss(cnnc_tensor *input, cnnc_tensor *target, cnnc_l1_loss_options o);
cnnc_tensor *cnnc__op_smooth_l1_loss(cnnc_tensor *input, cnnc_tensor *target,
                                     cnnc_smooth_l1_loss_options o);
cnnc_tensor *cnnc__op_huber_loss(cnnc_tensor *input, cnnc_tensor *target,
                                 cnnc_huber_loss_options o);
cnnc_tensor *cnnc__op_kl_div(cnnc_tensor *input, cnnc_tensor *target, cnnc_kl_div_options o);
#endif
