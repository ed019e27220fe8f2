/* cnnc public API: the norm op family. Included by cnnc.h; include <cnnc.h>, not this.
 *
 * Batch, instance, layer, group and local-response normalization, as functional
 * ops (torch.nn.functional) and modules (torch.nn), with gradients for the input,
 * the weight (gamma) and the bias (beta). Statistics are accumulated in double
 * (chunked two-pass, merged with Chan's formula), so large means and large
 * reductions keep their precision.
 *
 *     cnnc_module *bn = cnnc_batchnorm2d_new(16, CNNC_BATCHNORM());
 *     cnnc_tensor *y = cnnc_module_forward(bn, x);        // training: batch stats
 *     cnnc_module_eval(bn);
 *     cnnc_tensor *z = cnnc_module_forward(bn, x);        // eval: running stats
 *     cnnc_tensor *w = cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS(7, 7), NULL, NULL,
 *                                      CNNC_LAYER_NORM());
 *
 * All tensors are float32 (num_batches_tracked is an int64 0-d buffer). Results are
 * new references; inputs are borrowed. Errors follow PyTorch's wording.
 */
#ifndef CNNC_NORM_H
#define CNNC_NORM_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* ---- functional ------------------------------------------------------------ */

typedef struct cnnc_batch_norm_options {
    bool training;   /* batch statistics (and running-stat update) vs running stats */
    double momentum; /* running = (1 - momentum) * running + momentum * batch stat */
    double eps;
} cnnc_batch_norm_options;
#define CNNC_BATCH_NORM(...) \
    ((cnnc_batch_norm_options){.training = false, .momentum = 0.1, .eps = 1e-5, __VA_ARGS__})

/* F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps).
 * input [N, C, *] (2-d to 8-d); running_mean, running_var, weight, bias [C] or NULL.
 * Training: normalizes with the batch mean and biased variance over (N, *), and
 * when running_mean / running_var are given updates them in place (the variance
 * with the unbiased estimate; their version is bumped; they never get grads).
 * Eval (training false): normalizes with running_mean / running_var, both required.
 * Errors: "Expected more than 1 value per channel when training, got input size
 * torch.Size([1, 16])", "running_mean should contain 3 elements not 4", "running_mean
 * must be defined in evaluation mode", a running stat that requires grad. */
CNNC_API cnnc_tensor *cnnc_batch_norm(cnnc_tensor *input, cnnc_tensor *running_mean,
                                      cnnc_tensor *running_var, cnnc_tensor *weight,
                                      cnnc_tensor *bias, cnnc_batch_norm_options options);

typedef struct cnnc_instance_norm_options {
    bool use_input_stats; /* per-instance statistics (true) vs running stats */
    double momentum;
    double eps;
} cnnc_instance_norm_options;
#define CNNC_INSTANCE_NORM(...)                                                            \
    ((cnnc_instance_norm_options){.use_input_stats = true, .momentum = 0.1, .eps = 1e-5, \
                                  __VA_ARGS__})

/* F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
 * momentum, eps). input [N, C, *]; statistics per (n, c) over *. With
 * use_input_stats and running stats given, these are updated with the batch
 * average of the per-instance mean and unbiased variance (PyTorch's rule).
 * Without use_input_stats both running stats are required and used per channel.
 * weight, bias [C] or NULL. Errors as PyTorch ("Expected more than 1 spatial
 * element when training, got input size torch.Size([2, 3, 1])", ...). */
CNNC_API cnnc_tensor *cnnc_instance_norm(cnnc_tensor *input, cnnc_tensor *running_mean,
                                         cnnc_tensor *running_var, cnnc_tensor *weight,
                                         cnnc_tensor *bias, cnnc_instance_norm_options options);

typedef struct cnnc_layer_norm_options {
    double eps;
} cnnc_layer_norm_options;
#define CNNC_LAYER_NORM(...) ((cnnc_layer_norm_options){.eps = 1e-5, __VA_ARGS__})

/* F.layer_norm(input, normalized_shape, weight, bias, eps): statistics over the
 * trailing dims given by normalized_shape (a tuple of at least one size; the int k is
 * (k,); None is PyTorch's error); weight and bias have exactly that shape, or are
 * NULL. */
CNNC_API cnnc_tensor *cnnc_layer_norm(cnnc_tensor *input, cnnc_ints normalized_shape,
                                      cnnc_tensor *weight, cnnc_tensor *bias,
                                      cnnc_layer_norm_options options);

typedef struct cnnc_group_norm_options {
    double eps;
} cnnc_group_norm_options;
#define CNNC_GROUP_NORM(...) ((cnnc_group_norm_options){.eps = 1e-5, __VA_ARGS__})

/* F.group_norm(input, num_groups, weight, bias, eps): input [N, C, *], C divisible
 * by num_groups > 0, statistics per (n, group) over C/num_groups channels and *;
 * weight, bias [C] or NULL. */
CNNC_API cnnc_tensor *cnnc_group_norm(cnnc_tensor *input, int64_t num_groups,
                                      cnnc_tensor *weight, cnnc_tensor *bias,
                                      cnnc_group_norm_options options);

typedef struct cnnc_local_response_norm_options {
    double alpha, beta, k;
} cnnc_local_response_norm_options;
#define CNNC_LOCAL_RESPONSE_NORM(...) \
    ((cnnc_local_response_norm_options){.alpha = 1e-4, .beta = 0.75, .k = 1.0, __VA_ARGS__})

/* F.local_response_norm(input, size, alpha, beta, k): input [N, C, *] (3-d or more),
 * y = x / (k + alpha / size * sum of x^2 over channels [c - size/2, c + (size-1)/2]
 * (zero padded))^beta. size > 0. An empty input is returned as a new reference to
 * itself, as PyTorch returns its input. */
CNNC_API cnnc_tensor *cnnc_local_response_norm(cnnc_tensor *input, int64_t size,
                                               cnnc_local_response_norm_options options);

/* ---- modules --------------------------------------------------------------- */

typedef struct cnnc_batchnorm_options {
    double eps;
    cnnc_optional_double momentum; /* None: cumulative average over num_batches_tracked */
    bool affine;                   /* weight (ones) and bias (zeros) parameters */
    bool track_running_stats;      /* running_mean, running_var, num_batches_tracked */
} cnnc_batchnorm_options;
#define CNNC_BATCHNORM(...)                                                           \
    ((cnnc_batchnorm_options){.eps = 1e-5, .momentum = CNNC_SOME(0.1), .affine = true, \
                              .track_running_stats = true, __VA_ARGS__})

/* nn.BatchNorm1d ([N, C] or [N, C, L]), nn.BatchNorm2d ([N, C, H, W]),
 * nn.BatchNorm3d ([N, C, D, H, W]). Parameters weight, bias [num_features]
 * (None without affine); buffers running_mean (zeros), running_var (ones) and
 * num_batches_tracked (int64 0-d), None without track_running_stats. Attributes
 * num_features, eps, momentum (None as CNNC_VALUE_NONE), affine,
 * track_running_stats. Training mode uses batch statistics and updates the
 * buffers; eval mode uses the running statistics (batch statistics when none are
 * tracked). num_features < 0 is an error. */
CNNC_API cnnc_module *cnnc_batchnorm1d_new(int64_t num_features, cnnc_batchnorm_options options);
CNNC_API cnnc_module *cnnc_batchnorm2d_new(int64_t num_features, cnnc_batchnorm_options options);
CNNC_API cnnc_module *cnnc_batchnorm3d_new(int64_t num_features, cnnc_batchnorm_options options);

typedef cnnc_batchnorm_options cnnc_instancenorm_options;
#define CNNC_INSTANCENORM(...)                                                           \
    ((cnnc_instancenorm_options){.eps = 1e-5, .momentum = CNNC_SOME(0.1), .affine = false, \
                                 .track_running_stats = false, __VA_ARGS__})

/* nn.InstanceNorm1d ([N, C, L] or unbatched [C, L]), nn.InstanceNorm2d ([N, C, H, W]
 * or [C, H, W]), nn.InstanceNorm3d ([N, C, D, H, W] or [C, D, H, W]). Same
 * parameters, buffers and attributes as batch norm, affine and
 * track_running_stats off by default. Instance statistics are used in training
 * mode and whenever no running stats are tracked. momentum None is refused at
 * forward, as PyTorch's F.instance_norm does. */
CNNC_API cnnc_module *cnnc_instancenorm1d_new(int64_t num_features,
                                              cnnc_instancenorm_options options);
CNNC_API cnnc_module *cnnc_instancenorm2d_new(int64_t num_features,
                                              cnnc_instancenorm_options options);
CNNC_API cnnc_module *cnnc_instancenorm3d_new(int64_t num_features,
                                              cnnc_instancenorm_options options);

typedef struct cnnc_layernorm_options {
    double eps;
    bool elementwise_affine;
} cnnc_layernorm_options;
#define CNNC_LAYERNORM(...) \
    ((cnnc_layernorm_options){.eps = 1e-5, .elementwise_affine = true, __VA_ARGS__})

/* nn.LayerNorm(normalized_shape, eps, elementwise_affine): weight (ones) and bias
 * (zeros) of shape normalized_shape (the int k is (k,), as torch's; a tuple is kept,
 * () too; None is an error). Attributes normalized_shape (a tuple), eps,
 * elementwise_affine. */
CNNC_API cnnc_module *cnnc_layernorm_new(cnnc_ints normalized_shape, cnnc_layernorm_options options);

typedef struct cnnc_groupnorm_options {
    double eps;
    bool affine;
} cnnc_groupnorm_options;
#define CNNC_GROUPNORM(...) ((cnnc_groupnorm_options){.eps = 1e-5, .affine = true, __VA_ARGS__})

/* nn.GroupNorm(num_groups, num_channels, eps, affine): "num_channels must be
 * divisible by num_groups". Attributes num_groups, num_channels, eps, affine. */
CNNC_API cnnc_module *cnnc_groupnorm_new(int64_t num_groups, int64_t num_channels,
                                         cnnc_groupnorm_options options);

typedef cnnc_local_response_norm_options cnnc_localresponsenorm_options;
#define CNNC_LOCALRESPONSENORM(...) \
    ((cnnc_localresponsenorm_options){.alpha = 1e-4, .beta = 0.75, .k = 1.0, __VA_ARGS__})

/* nn.LocalResponseNorm(size, alpha, beta, k). Attributes size, alpha, beta, k. */
CNNC_API cnnc_module *cnnc_localresponsenorm_new(int64_t size,
                                                 cnnc_localresponsenorm_options options);

#ifdef __cplusplus
}
#endif
#endif
