/* cnnc public API: the pool op family. Included by cnnc.h; include <cnnc.h>, not this.
 *
 * PyTorch's max, average and adaptive pooling and max unpooling, for 1-d, 2-d and
 * 3-d inputs, as functions (torch.nn.functional) and modules (torch.nn):
 *
 *     cnnc_tensor *idx = NULL;
 *     cnnc_tensor *y = cnnc_max_pool2d_with_indices(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2)), &idx);
 *     cnnc_tensor *z = cnnc_max_unpool2d(y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2)));
 *     cnnc_tensor *a = cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(3),
 *                                                         .stride = CNNC_INTS(2), .padding = CNNC_INTS(1)));
 *     cnnc_tensor *g = cnnc_adaptive_avg_pool2d(x, (cnnc_ints)CNNC_INTS(1, 1));
 *
 * Inputs are float32, [N, C, *spatial] or unbatched [C, *spatial] with 1, 2 or 3
 * spatial dims (as PyTorch accepts them). Every result is a new reference (given to
 * the current scope, if any); indices are int64 tensors of the output's shape
 * holding the flat position of each maximum inside its input plane, d*H*W + h*W + w,
 * exactly as PyTorch. All functions are differentiable with respect to the input
 * (indices are not). Errors (NULL, with cnnc_last_error()) use PyTorch 1.13's
 * wording and values, including its argument checks (padding at most half the
 * kernel, output size too small, wrong rank...).
 *
 * cnnc_ints arguments follow cnnc.h's three forms and PyTorch's rules for each:
 * max and average pooling take the int (for every spatial dim), a tuple of one value
 * (broadcast, as ATen does) or one per spatial dim, and a stride of None or () means
 * kernel_size; adaptive pooling (2-d, 3-d) takes the int or exactly one value per
 * dim, so the 1-tuple (4,) is PyTorch's "output_size must be 2"; max unpooling follows
 * torch's Python code (_pair, then indexing the tuples per kernel dim: a tuple too
 * short is "tuple index out of range"); the 1-d ops take one value. */
#ifndef CNNC_POOL_H
#define CNNC_POOL_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* An output_size entry of adaptive pooling meaning None: "keep the input's size in
 * this dim", as in AdaptiveAvgPool2d((None, 7)). Only valid in the tuple form (one
 * entry per spatial dim). It is INT64_MIN, never a size PyTorch accepts. */
#define CNNC_POOL_KEEP INT64_MIN

/* ---- max pooling -------------------------------------------------------------
 * F.max_pool{1,2,3}d(input, kernel_size, stride=None, padding=0, dilation=1,
 * ceil_mode=False, return_indices=False) and nn.MaxPool{1,2,3}d.
 * kernel_size is required; stride None or () means kernel_size; padding must be
 * >= 0 and at most half the kernel; with ceil_mode the output rounds up, but the
 * last window must start inside the input or the left padding. Padding is -inf: it
 * is never the maximum. NaN propagates (the last NaN of a window is its argmax); of
 * equal maxima the first in scan order wins. */
typedef struct cnnc_max_pool_options {
    cnnc_ints kernel_size;
    cnnc_ints stride;   /* None: kernel_size */
    cnnc_ints padding;  /* default 0 */
    cnnc_ints dilation; /* default 1 */
    bool ceil_mode;
    /* For the modules (MaxPool2d(return_indices=True)). The plain functions refuse
     * it: call cnnc_max_pool{n}d_with_indices for the (output, indices) pair. */
    bool return_indices;
} cnnc_max_pool_options;
#define CNNC_MAX_POOL1D(...)                                                                   \
    ((cnnc_max_pool_options){.kernel_size = CNNC_INTS_NONE, .stride = CNNC_INTS_NONE,         \
                             .padding = CNNC_INTS(0), .dilation = CNNC_INTS(1),               \
                             .ceil_mode = false, .return_indices = false, __VA_ARGS__})
#define CNNC_MAX_POOL2D(...) CNNC_MAX_POOL1D(__VA_ARGS__)
#define CNNC_MAX_POOL3D(...) CNNC_MAX_POOL1D(__VA_ARGS__)

/* input [N, C, L] or [C, L] (1d), [N, C, H, W] or [C, H, W] (2d), [N, C, D, H, W]
 * or [C, D, H, W] (3d). F.max_pool1d keeps PyTorch's two code paths: when the input
 * requires grad (grad mode on) it is max_pool1d_with_indices (an empty output is an
 * error), otherwise an output of length 0 is allowed, with that path's messages. */
CNNC_API cnnc_tensor *cnnc_max_pool1d(cnnc_tensor *input, cnnc_max_pool_options options);
CNNC_API cnnc_tensor *cnnc_max_pool2d(cnnc_tensor *input, cnnc_max_pool_options options);
CNNC_API cnnc_tensor *cnnc_max_pool3d(cnnc_tensor *input, cnnc_max_pool_options options);
/* The same plus the argmax indices: *indices receives a new int64 reference (given
 * to the current scope like the output); on error it is set to NULL.
 * options.return_indices is ignored here. */
CNNC_API cnnc_tensor *cnnc_max_pool1d_with_indices(cnnc_tensor *input,
                                                   cnnc_max_pool_options options,
                                                   cnnc_tensor **indices);
CNNC_API cnnc_tensor *cnnc_max_pool2d_with_indices(cnnc_tensor *input,
                                                   cnnc_max_pool_options options,
                                                   cnnc_tensor **indices);
CNNC_API cnnc_tensor *cnnc_max_pool3d_with_indices(cnnc_tensor *input,
                                                   cnnc_max_pool_options options,
                                                   cnnc_tensor **indices);

/* ---- max unpooling -----------------------------------------------------------
 * F.max_unpool{1,2,3}d(input, indices, kernel_size, stride=None, padding=0,
 * output_size=None) and nn.MaxUnpool{1,2,3}d: out = zeros, out[plane, indices[i]] =
 * input[i] (a repeated index keeps the last value). indices is int64 with input's
 * shape. The default output size is (in - 1) * stride + kernel - 2 * padding per
 * dim; output_size (nsp entries, or nsp + 2 with N and C first) must lie strictly
 * within stride of it. An index outside the output plane is an error. */
typedef struct cnnc_max_unpool_options {
    cnnc_ints kernel_size;
    cnnc_ints stride;      /* None: kernel_size */
    cnnc_ints padding;     /* default 0 */
    cnnc_ints output_size; /* None: the default size; functions only (modules take it in forward) */
} cnnc_max_unpool_options;
#define CNNC_MAX_UNPOOL1D(...)                                                                 \
    ((cnnc_max_unpool_options){.kernel_size = CNNC_INTS_NONE, .stride = CNNC_INTS_NONE,       \
                               .padding = CNNC_INTS(0), .output_size = CNNC_INTS_NONE,        \
                               __VA_ARGS__})
#define CNNC_MAX_UNPOOL2D(...) CNNC_MAX_UNPOOL1D(__VA_ARGS__)
#define CNNC_MAX_UNPOOL3D(...) CNNC_MAX_UNPOOL1D(__VA_ARGS__)
CNNC_API cnnc_tensor *cnnc_max_unpool1d(cnnc_tensor *input, cnnc_tensor *indices,
                                        cnnc_max_unpool_options options);
CNNC_API cnnc_tensor *cnnc_max_unpool2d(cnnc_tensor *input, cnnc_tensor *indices,
                                        cnnc_max_unpool_options options);
CNNC_API cnnc_tensor *cnnc_max_unpool3d(cnnc_tensor *input, cnnc_tensor *indices,
                                        cnnc_max_unpool_options options);

/* ---- average pooling ---------------------------------------------------------
 * F.avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
 * count_include_pad=True) and F.avg_pool{2,3}d(..., divisor_override=None), and
 * nn.AvgPool{1,2,3}d. Padding is zeros; the divisor is the window clipped at the
 * padded edge (count_include_pad) or at the input (not), or divisor_override (not
 * zero). avg_pool1d has no divisor_override, as in PyTorch. */
typedef struct cnnc_avg_pool1d_options {
    cnnc_ints kernel_size;
    cnnc_ints stride;  /* None: kernel_size */
    cnnc_ints padding; /* default 0 */
    bool ceil_mode;
    bool count_include_pad; /* default true */
} cnnc_avg_pool1d_options;
#define CNNC_AVG_POOL1D(...)                                                                   \
    ((cnnc_avg_pool1d_options){.kernel_size = CNNC_INTS_NONE, .stride = CNNC_INTS_NONE,       \
                               .padding = CNNC_INTS(0), .ceil_mode = false,                   \
                               .count_include_pad = true, __VA_ARGS__})
typedef struct cnnc_avg_pool_options {
    cnnc_ints kernel_size;
    cnnc_ints stride;  /* None: kernel_size */
    cnnc_ints padding; /* default 0 */
    bool ceil_mode;
    bool count_include_pad; /* default true */
    cnnc_optional_int divisor_override; /* default None */
} cnnc_avg_pool_options;
#define CNNC_AVG_POOL2D(...)                                                                   \
    ((cnnc_avg_pool_options){.kernel_size = CNNC_INTS_NONE, .stride = CNNC_INTS_NONE,         \
                             .padding = CNNC_INTS(0), .ceil_mode = false,                     \
                             .count_include_pad = true, .divisor_override = CNNC_NONE,        \
                             __VA_ARGS__})
#define CNNC_AVG_POOL3D(...) CNNC_AVG_POOL2D(__VA_ARGS__)
CNNC_API cnnc_tensor *cnnc_avg_pool1d(cnnc_tensor *input, cnnc_avg_pool1d_options options);
CNNC_API cnnc_tensor *cnnc_avg_pool2d(cnnc_tensor *input, cnnc_avg_pool_options options);
CNNC_API cnnc_tensor *cnnc_avg_pool3d(cnnc_tensor *input, cnnc_avg_pool_options options);

/* ---- adaptive pooling --------------------------------------------------------
 * F.adaptive_{avg,max}_pool{1,2,3}d(input, output_size): output o of a dim of size
 * I pools [floor(o*I/O), ceil((o+1)*I/O)), so any O works (smaller, larger, not a
 * divisor); O = 0 gives an empty output. output_size: the int, or a tuple of one
 * entry per spatial dim, where CNNC_POOL_KEEP (PyTorch's None) keeps the input's
 * size (2d and 3d only, as PyTorch). As PyTorch, an all-ones output of the average
 * is a mean over the spatial dims (any rank >= the spatial dims). */
CNNC_API cnnc_tensor *cnnc_adaptive_avg_pool1d(cnnc_tensor *input, cnnc_ints output_size);
CNNC_API cnnc_tensor *cnnc_adaptive_avg_pool2d(cnnc_tensor *input, cnnc_ints output_size);
CNNC_API cnnc_tensor *cnnc_adaptive_avg_pool3d(cnnc_tensor *input, cnnc_ints output_size);
/* The max over each window (max pooling's NaN and tie rules). */
CNNC_API cnnc_tensor *cnnc_adaptive_max_pool1d(cnnc_tensor *input, cnnc_ints output_size);
CNNC_API cnnc_tensor *cnnc_adaptive_max_pool2d(cnnc_tensor *input, cnnc_ints output_size);
CNNC_API cnnc_tensor *cnnc_adaptive_max_pool3d(cnnc_tensor *input, cnnc_ints output_size);
/* With indices (return_indices=True); *indices as for max pooling. */
CNNC_API cnnc_tensor *cnnc_adaptive_max_pool1d_with_indices(cnnc_tensor *input,
                                                            cnnc_ints output_size,
                                                            cnnc_tensor **indices);
CNNC_API cnnc_tensor *cnnc_adaptive_max_pool2d_with_indices(cnnc_tensor *input,
                                                            cnnc_ints output_size,
                                                            cnnc_tensor **indices);
CNNC_API cnnc_tensor *cnnc_adaptive_max_pool3d_with_indices(cnnc_tensor *input,
                                                            cnnc_ints output_size,
                                                            cnnc_tensor **indices);

/* ---- modules -----------------------------------------------------------------
 * Settings are module attributes with PyTorch's names and forms (MaxPool2d keeps
 * kernel_size as given: an int stays an int, a 1-tuple a 1-tuple; AvgPool1d and
 * MaxUnpool store tuples, as torch's _single/_pair/_triple), and print(module)
 * matches PyTorch's repr. The
 * constructors check only what PyTorch's constructors check (nothing but the
 * presence of kernel_size); bad settings fail at forward with the functional error.
 * Adaptive output_size entries equal to CNNC_POOL_KEEP read back as that value. */
CNNC_API cnnc_module *cnnc_maxpool1d_new(cnnc_max_pool_options options);
CNNC_API cnnc_module *cnnc_maxpool2d_new(cnnc_max_pool_options options);
CNNC_API cnnc_module *cnnc_maxpool3d_new(cnnc_max_pool_options options);
CNNC_API cnnc_module *cnnc_avgpool1d_new(cnnc_avg_pool1d_options options);
CNNC_API cnnc_module *cnnc_avgpool2d_new(cnnc_avg_pool_options options);
CNNC_API cnnc_module *cnnc_avgpool3d_new(cnnc_avg_pool_options options);
CNNC_API cnnc_module *cnnc_adaptiveavgpool1d_new(cnnc_ints output_size);
CNNC_API cnnc_module *cnnc_adaptiveavgpool2d_new(cnnc_ints output_size);
CNNC_API cnnc_module *cnnc_adaptiveavgpool3d_new(cnnc_ints output_size);
CNNC_API cnnc_module *cnnc_adaptivemaxpool1d_new(cnnc_ints output_size, bool return_indices);
CNNC_API cnnc_module *cnnc_adaptivemaxpool2d_new(cnnc_ints output_size, bool return_indices);
CNNC_API cnnc_module *cnnc_adaptivemaxpool3d_new(cnnc_ints output_size, bool return_indices);
/* options.output_size must be None (it is an argument of the forward). */
CNNC_API cnnc_module *cnnc_maxunpool1d_new(cnnc_max_unpool_options options);
CNNC_API cnnc_module *cnnc_maxunpool2d_new(cnnc_max_unpool_options options);
CNNC_API cnnc_module *cnnc_maxunpool3d_new(cnnc_max_unpool_options options);

/* The forward of a MaxPool{1,2,3}d or AdaptiveMaxPool{1,2,3}d module returning
 * (output, indices) whatever its return_indices setting; *indices as above.
 * cnnc_module_forward on such a module with return_indices=True is an error
 * (PyTorch returns a tuple there). */
CNNC_API cnnc_tensor *cnnc_pool_module_forward_with_indices(cnnc_module *m, cnnc_tensor *input,
                                                            cnnc_tensor **indices);
/* MaxUnpool{1,2,3}d.forward(input, indices, output_size=None); cnnc_module_forward
 * on an unpooling module is an error (it needs the indices). */
CNNC_API cnnc_tensor *cnnc_maxunpool_module_forward(cnnc_module *m, cnnc_tensor *input,
                                                    cnnc_tensor *indices, cnnc_ints output_size);

#ifdef __cplusplus
}
#endif
#endif
