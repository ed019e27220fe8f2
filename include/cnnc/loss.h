/* cnnc public API: the loss family (torch.nn.functional's losses and their
 * torch.nn modules). Included by cnnc.h; include <cnnc.h>, not this.
 *
 *     // logits [N, C], labels int64 [N]
 *     cnnc_tensor *loss = cnnc_cross_entropy(logits, labels,
 *                                            CNNC_CROSS_ENTROPY(.label_smoothing = 0.1));
 *     cnnc_backward(loss, NULL, false);
 *
 *     cnnc_module *crit = cnnc_crossentropyloss_new(CNNC_CROSS_ENTROPY_LOSS(.weight = w));
 *     cnnc_tensor *out[CNNC_MAX_OUTPUTS];
 *     cnnc_module_forward_n(crit, 2, (cnnc_tensor *[]){logits, labels}, out);  // 1 result
 *
 * Common rules
 * - `reduction` is PyTorch's string: "mean" (the default), "sum" or "none"; kl_div
 *   also takes "batchmean". "elementwise_mean" is accepted as "mean" (PyTorch's
 *   deprecated spelling; its warning is not reproduced). Anything else, NULL
 *   included, is an error: "foo is not a valid value for reduction".
 * - "none" returns the per-element (per-sample for cross_entropy / nll_loss)
 *   losses; "mean" and "sum" a 0-d tensor. The mean of nothing (an empty batch,
 *   every target ignored) is NaN, as PyTorch.
 * - input is float32. Targets are int64 class indices (cross_entropy, nll_loss) or
 *   float32 values/probabilities; the regression losses (mse, l1, smooth_l1,
 *   huber) also take an int64 target, as PyTorch promotes it. Class weights,
 *   weight and pos_weight are float32 and borrowed.
 * - Gradients: with respect to input, and to a float target that requires grad
 *   (and to cross_entropy's weight with probability targets), as PyTorch. A class
 *   weight (nll_loss, cross_entropy with class indices), or binary_cross_entropy's
 *   weight / pos_weight, that requires grad while grad mode is on is PyTorch's
 *   error ("The function 'nll_loss_forward' is not differentiable with respect to
 *   argument 'weight'. ...").
 * - Sums accumulate in double in a fixed order: results do not depend on the
 *   thread count.
 * - Modules (cnnc_<class>_new) keep the options as PyTorch's attributes
 *   (cnnc_module_attr: reduction, ignore_index, label_smoothing, beta, delta,
 *   log_target) and weight / pos_weight as buffers (retained; None when NULL, and
 *   then absent from the state_dict, as PyTorch). Their forward takes (input,
 *   target) through cnnc_module_forward_n and returns one tensor. The reduction
 *   string is copied and checked when forward runs, as PyTorch's modules do.
 */
#ifndef CNNC_LOSS_H
#define CNNC_LOSS_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* ---- classification ------------------------------------------------------------ */

typedef struct cnnc_cross_entropy_options {
    cnnc_tensor *weight;    /* [C] per-class rescaling, or NULL */
    int64_t ignore_index;   /* class-index targets equal to it are skipped */
    const char *reduction;
    double label_smoothing; /* at most 1; 0 or less (or NaN): no smoothing, as PyTorch */
} cnnc_cross_entropy_options;
#define CNNC_CROSS_ENTROPY(...)                                                           \
    ((cnnc_cross_entropy_options){.weight = NULL, .ignore_index = -100, .reduction = "mean", \
                                  .label_smoothing = 0.0, __VA_ARGS__})
#define CNNC_CROSS_ENTROPY_LOSS(...) CNNC_CROSS_ENTROPY(__VA_ARGS__)

/* F.cross_entropy(input, target, weight=None, ignore_index=-100, reduction='mean',
 * label_smoothing=0.0): log_softmax over the class dim, then the negative
 * log-likelihood. input [N, C, d1, ..., dK] (K >= 0) or unbatched [C].
 * - Class indices: target int64 [N, d1, ..., dK] (or 0-d for [C]), values in
 *   [0, C) or ignore_index. Per position l = -w[t] log p[t]; with label_smoothing
 *   s > 0, l = (1 - s) l + (s / C) sum_c -w[c] log p[c] (0 where ignored). "mean"
 *   divides by the sum of w[t] over the positions not ignored.
 * - Probabilities: target float32 of input's shape (that is how PyTorch tells them
 *   apart); l = -sum_c w[c] q[c] log p[c] with q = (1 - s) target + s / C;
 *   "mean" divides by the number of positions (N d1...dK); ignore_index must be
 *   negative. Gradients also reach target and weight when they require grad.
 * Errors, as PyTorch: "Target 5 is out of bounds.", "Expected input batch_size (3)
 * to match target batch_size (2).", "Expected target size [2, 4], got [2, 5]",
 * "weight tensor should be defined either for all 5 classes or no classes but got
 * weight tensor of shape: [4]", "label_smoothing must be between 0.0 and 1.0. Got:
 * 1.5", "expected scalar type Long but found Float", "Expected floating point type
 * for target with class probabilities, got Long", "ignore_index is not supported
 * for floating point target", and the reduction's. */
CNNC_API cnnc_tensor *cnnc_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                         cnnc_cross_entropy_options options);
/* nn.CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean',
 * label_smoothing=0.0): forward(input, target) is cross_entropy with the module's
 * `weight` buffer. */
CNNC_API cnnc_module *cnnc_crossentropyloss_new(cnnc_cross_entropy_options options);

typedef struct cnnc_nll_loss_options {
    cnnc_tensor *weight;  /* [C] per-class rescaling, or NULL */
    int64_t ignore_index;
    const char *reduction;
} cnnc_nll_loss_options;
#define CNNC_NLL_LOSS(...) \
    ((cnnc_nll_loss_options){.weight = NULL, .ignore_index = -100, .reduction = "mean", __VA_ARGS__})

/* F.nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean'):
 * input holds log-probabilities, [N, C, d1, ..., dK] or [C]; target int64
 * [N, d1, ..., dK] (0-d for [C]). l = -w[t] input[t] per position, 0 where the
 * target is ignore_index; "mean" divides by the sum of w[t] over the positions
 * not ignored. "none" gives [N, d1, ..., dK] (0-d for an unbatched input). Errors
 * as cross_entropy's class-index form, with PyTorch's wording for each input rank
 * ("0D or 1D target tensor expected, multi-target not supported", "only batches of
 * spatial targets supported (3D tensors) but got targets of dimension: 2",
 * "Expected 1 or more dimensions (got 0)"...). */
CNNC_API cnnc_tensor *cnnc_nll_loss(cnnc_tensor *input, cnnc_tensor *target,
                                    cnnc_nll_loss_options options);
/* nn.NLLLoss(weight=None, ignore_index=-100, reduction='mean'). */
CNNC_API cnnc_module *cnnc_nllloss_new(cnnc_nll_loss_options options);

typedef struct cnnc_binary_cross_entropy_options {
    cnnc_tensor *weight; /* broadcastable to input's shape, or NULL */
    const char *reduction;
} cnnc_binary_cross_entropy_options;
#define CNNC_BINARY_CROSS_ENTROPY(...) \
    ((cnnc_binary_cross_entropy_options){.weight = NULL, .reduction = "mean", __VA_ARGS__})
#define CNNC_BCE_LOSS(...) CNNC_BINARY_CROSS_ENTROPY(__VA_ARGS__)

/* F.binary_cross_entropy(input, target, weight=None, reduction='mean'): input
 * probabilities in [0, 1] (anything else, NaN included, is "all elements of input
 * should be between 0 and 1"), target float32 of the same shape ("Using a target
 * size (torch.Size([4])) that is different to the input size
 * (torch.Size([3, 4])) is deprecated. Please ensure they have the same size.").
 * l = -w (y max(log x, -100) + (1 - y) max(log(1 - x), -100)). */
CNNC_API cnnc_tensor *cnnc_binary_cross_entropy(cnnc_tensor *input, cnnc_tensor *target,
                                                cnnc_binary_cross_entropy_options options);
/* nn.BCELoss(weight=None, reduction='mean'). */
CNNC_API cnnc_module *cnnc_bceloss_new(cnnc_binary_cross_entropy_options options);

typedef struct cnnc_binary_cross_entropy_with_logits_options {
    cnnc_tensor *weight;     /* broadcastable to input's shape, or NULL */
    const char *reduction;
    cnnc_tensor *pos_weight; /* weight of the positive term, broadcastable, or NULL */
} cnnc_binary_cross_entropy_with_logits_options;
#define CNNC_BINARY_CROSS_ENTROPY_WITH_LOGITS(...)                                           \
    ((cnnc_binary_cross_entropy_with_logits_options){.weight = NULL, .reduction = "mean",    \
                                                     .pos_weight = NULL, __VA_ARGS__})
#define CNNC_BCE_WITH_LOGITS_LOSS(...) CNNC_BINARY_CROSS_ENTROPY_WITH_LOGITS(__VA_ARGS__)

/* F.binary_cross_entropy_with_logits(input, target, weight=None, reduction='mean',
 * pos_weight=None): sigmoid and binary cross entropy in one stable formula
 * (PyTorch's: with m = max(-x, 0), l = (1 - y) x + (1 + (pw - 1) y)
 * (log(e^-m + e^(-x-m)) + m)), times weight. target float32 of input's shape
 * ("Target size (torch.Size([4])) must be the same as input size
 * (torch.Size([3, 4]))"). */
CNNC_API cnnc_tensor *cnnc_binary_cross_entropy_with_logits(
    cnnc_tensor *input, cnnc_tensor *target, cnnc_binary_cross_entropy_with_logits_options options);
/* nn.BCEWithLogitsLoss(weight=None, reduction='mean', pos_weight=None). */
CNNC_API cnnc_module *cnnc_bcewithlogitsloss_new(cnnc_binary_cross_entropy_with_logits_options options);

/* ---- regression and divergence ---------------------------------------------------- */

/* The pointwise losses below take input and target of broadcastable shapes (the
 * loss has the broadcast shape, as PyTorch's functions after broadcast_tensors);
 * gradients reach both, summed back to each one's shape. */

typedef struct cnnc_mse_loss_options {
    const char *reduction;
} cnnc_mse_loss_options;
#define CNNC_MSE_LOSS(...) ((cnnc_mse_loss_options){.reduction = "mean", __VA_ARGS__})
/* F.mse_loss(input, target, reduction='mean'): (x - y)^2. nn.MSELoss(reduction). */
CNNC_API cnnc_tensor *cnnc_mse_loss(cnnc_tensor *input, cnnc_tensor *target,
                                    cnnc_mse_loss_options options);
CNNC_API cnnc_module *cnnc_mseloss_new(cnnc_mse_loss_options options);

typedef struct cnnc_l1_loss_options {
    const char *reduction;
} cnnc_l1_loss_options;
#define CNNC_L1_LOSS(...) ((cnnc_l1_loss_options){.reduction = "mean", __VA_ARGS__})
/* F.l1_loss(input, target, reduction='mean'): |x - y| (gradient sign(x - y), 0 at
 * 0). nn.L1Loss(reduction). */
CNNC_API cnnc_tensor *cnnc_l1_loss(cnnc_tensor *input, cnnc_tensor *target,
                                   cnnc_l1_loss_options options);
CNNC_API cnnc_module *cnnc_l1loss_new(cnnc_l1_loss_options options);

typedef struct cnnc_smooth_l1_loss_options {
    const char *reduction;
    double beta; /* >= 0 ("smooth_l1_loss does not support negative values for beta.") */
} cnnc_smooth_l1_loss_options;
#define CNNC_SMOOTH_L1_LOSS(...) \
    ((cnnc_smooth_l1_loss_options){.reduction = "mean", .beta = 1.0, __VA_ARGS__})
/* F.smooth_l1_loss(input, target, reduction='mean', beta=1.0): with z = |x - y|,
 * z < beta ? 0.5 z^2 / beta : z - 0.5 beta (beta 0 is l1_loss's values).
 * nn.SmoothL1Loss(reduction, beta). */
CNNC_API cnnc_tensor *cnnc_smooth_l1_loss(cnnc_tensor *input, cnnc_tensor *target,
                                          cnnc_smooth_l1_loss_options options);
CNNC_API cnnc_module *cnnc_smoothl1loss_new(cnnc_smooth_l1_loss_options options);

typedef struct cnnc_huber_loss_options {
    const char *reduction;
    double delta; /* > 0 ("huber_loss does not support non-positive values for delta.") */
} cnnc_huber_loss_options;
#define CNNC_HUBER_LOSS(...) \
    ((cnnc_huber_loss_options){.reduction = "mean", .delta = 1.0, __VA_ARGS__})
/* F.huber_loss(input, target, reduction='mean', delta=1.0): z < delta ? 0.5 z^2 :
 * delta (z - 0.5 delta). nn.HuberLoss(reduction, delta). */
CNNC_API cnnc_tensor *cnnc_huber_loss(cnnc_tensor *input, cnnc_tensor *target,
                                      cnnc_huber_loss_options options);
CNNC_API cnnc_module *cnnc_huberloss_new(cnnc_huber_loss_options options);

typedef struct cnnc_kl_div_options {
    const char *reduction; /* also "batchmean": the sum divided by input's size(0) */
    bool log_target;
} cnnc_kl_div_options;
#define CNNC_KL_DIV(...) ((cnnc_kl_div_options){.reduction = "mean", .log_target = false, __VA_ARGS__})
#define CNNC_KL_DIV_LOSS(...) CNNC_KL_DIV(__VA_ARGS__)
/* F.kl_div(input, target, reduction='mean', log_target=False): input holds
 * log-probabilities; l = y (log y - x) (0 where y is 0), or e^y (y - x) with
 * log_target. "mean" averages over every element ("batchmean" is the KL
 * divergence's usual definition). An int64 target is "kl_div: Integral inputs not
 * supported.". nn.KLDivLoss(reduction, log_target). */
CNNC_API cnnc_tensor *cnnc_kl_div(cnnc_tensor *input, cnnc_tensor *target,
                                  cnnc_kl_div_options options);
CNNC_API cnnc_module *cnnc_kldivloss_new(cnnc_kl_div_options options);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_LOSS_H */
