/* cnnc public API: the conv op family. Included by cnnc.h; include <cnnc.h>, not this.
 *
 * PyTorch's convolutions: F.conv1d/2d/3d, F.conv_transpose1d/2d/3d and the
 * modules nn.Conv1d/2d/3d, nn.ConvTranspose1d/2d/3d, differentiable with respect to
 * the input, the weight and the bias.
 *
 *     // y = F.conv2d(x, w, b, stride=2, padding=1)
 *     cnnc_tensor *y = cnnc_conv2d(x, w, b, CNNC_CONV2D(.stride = CNNC_INTS(2),
 *                                                       .padding = CNNC_INTS(1)));
 *     // nn.Conv2d(1, 3, kernel_size=3, stride=2, padding=1)
 *     cnnc_module *conv = cnnc_conv2d_new(1, 3, CNNC_CONV_MODULE(
 *         .kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2), .padding = CNNC_INTS(1)));
 *
 * Shapes (d = 1, 2 or 3 spatial dims; "*" is the d spatial sizes):
 *   conv:            input [N, C_in, *] or unbatched [C_in, *];
 *                    weight [C_out, C_in / groups, k*]; bias [C_out] or NULL;
 *                    output [N, C_out, o*] with o = floor((n + 2p - dil (k - 1) - 1) / s + 1).
 *   conv_transpose:  input [N, C_in, *] or [C_in, *];
 *                    weight [C_in, C_out / groups, k*]; bias [C_out] or NULL;
 *                    output [N, C_out, o*] with o = (n - 1) s - 2p + dil (k - 1) + op + 1.
 * A zero batch, or zero input channels (convolution), gives an empty output (as
 * PyTorch, zero input channels give zero output channels).
 *
 * The int|tuple arguments are cnnc_ints (cnnc.h): CNNC_INTS(2) is the int 2 (used for
 * every spatial dim), CNNC_INTS(2, 1) the tuple (2, 1). The functions take a tuple of
 * d values or of one value (broadcast, as ATen does); any other length, (), and None
 * are PyTorch's errors. The modules keep a tuple as given, as torch's _pair does: a
 * kernel_size of the wrong length makes a weight of that many dims and the forward
 * fails with the function's error, as PyTorch's does.
 *
 * Errors (NULL returned, message set; PyTorch's wording and values): wrong input or
 * weight rank, channel counts that do not match the weight and groups, a bias of the
 * wrong size, groups < 1 or not dividing the channels, a kernel larger than the
 * padded input, negative padding, stride < 1, dilation < 1, kernel sizes of 0,
 * output_padding >= both stride and dilation, a transposed output size < 1,
 * padding "same" with a stride > 1, an unknown padding string, an empty spatial
 * input with a non-zero batch and channels.
 */
#ifndef CNNC_CONV_H
#define CNNC_CONV_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* ---- functional ---------------------------------------------------------- */

/* F.conv1d/2d/3d(input, weight, bias, stride=1, padding=0, dilation=1, groups=1).
 * padding is an int or a tuple; for PyTorch's string forms set padding_str to "same"
 * or "valid" (it then replaces padding). "same" pads d (k - 1) in total per dim, the
 * odd element after the data (right/bottom/back), as PyTorch. */
typedef struct cnnc_conv_options {
    cnnc_ints stride;
    cnnc_ints padding;
    const char *padding_str; /* NULL, "same" or "valid" */
    cnnc_ints dilation;
    int64_t groups;
} cnnc_conv_options;
#define CNNC_CONV_DEFAULTS_ .stride = CNNC_INTS(1), .padding = CNNC_INTS(0), .padding_str = NULL, \
                            .dilation = CNNC_INTS(1), .groups = 1
#define CNNC_CONV1D(...) ((cnnc_conv_options){CNNC_CONV_DEFAULTS_, __VA_ARGS__})
#define CNNC_CONV2D(...) ((cnnc_conv_options){CNNC_CONV_DEFAULTS_, __VA_ARGS__})
#define CNNC_CONV3D(...) ((cnnc_conv_options){CNNC_CONV_DEFAULTS_, __VA_ARGS__})

/* New reference; input [N, C_in, L] / [N, C_in, H, W] / [N, C_in, D, H, W] (or
 * without N); bias may be NULL. */
CNNC_API cnnc_tensor *cnnc_conv1d(cnnc_tensor *input, cnnc_tensor *weight, cnnc_tensor *bias,
                                  cnnc_conv_options options);
CNNC_API cnnc_tensor *cnnc_conv2d(cnnc_tensor *input, cnnc_tensor *weight, cnnc_tensor *bias,
                                  cnnc_conv_options options);
CNNC_API cnnc_tensor *cnnc_conv3d(cnnc_tensor *input, cnnc_tensor *weight, cnnc_tensor *bias,
                                  cnnc_conv_options options);

/* F.conv_transpose1d/2d/3d(input, weight, bias, stride=1, padding=0,
 * output_padding=0, groups=1, dilation=1). output_padding adds op elements at the
 * end of each output dim; it must be smaller than the stride or the dilation. */
typedef struct cnnc_conv_transpose_options {
    cnnc_ints stride;
    cnnc_ints padding;
    cnnc_ints output_padding;
    int64_t groups;
    cnnc_ints dilation;
} cnnc_conv_transpose_options;
#define CNNC_CONV_TRANSPOSE_DEFAULTS_ .stride = CNNC_INTS(1), .padding = CNNC_INTS(0), \
                                      .output_padding = CNNC_INTS(0), .groups = 1,      \
                                      .dilation = CNNC_INTS(1)
#define CNNC_CONV_TRANSPOSE1D(...) \
    ((cnnc_conv_transpose_options){CNNC_CONV_TRANSPOSE_DEFAULTS_, __VA_ARGS__})
#define CNNC_CONV_TRANSPOSE2D(...) \
    ((cnnc_conv_transpose_options){CNNC_CONV_TRANSPOSE_DEFAULTS_, __VA_ARGS__})
#define CNNC_CONV_TRANSPOSE3D(...) \
    ((cnnc_conv_transpose_options){CNNC_CONV_TRANSPOSE_DEFAULTS_, __VA_ARGS__})

CNNC_API cnnc_tensor *cnnc_conv_transpose1d(cnnc_tensor *input, cnnc_tensor *weight,
                                            cnnc_tensor *bias,
                                            cnnc_conv_transpose_options options);
CNNC_API cnnc_tensor *cnnc_conv_transpose2d(cnnc_tensor *input, cnnc_tensor *weight,
                                            cnnc_tensor *bias,
                                            cnnc_conv_transpose_options options);
CNNC_API cnnc_tensor *cnnc_conv_transpose3d(cnnc_tensor *input, cnnc_tensor *weight,
                                            cnnc_tensor *bias,
                                            cnnc_conv_transpose_options options);

/* ---- modules -------------------------------------------------------------- */

/* nn.Conv1d/2d/3d(in_channels, out_channels, kernel_size, stride=1, padding=0,
 * dilation=1, groups=1, bias=True, padding_mode='zeros'). kernel_size is required
 * (an int or a d-tuple). padding_str "same"/"valid" replaces padding. padding_mode is
 * "zeros", "reflect", "replicate" or "circular" (the input is padded with F.pad in
 * that mode, then convolved without padding, as PyTorch).
 * Parameters: weight [out, in / groups, k*] and bias [out] (None without bias), both
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in / groups * prod(k) (PyTorch's
 * kaiming_uniform(a=sqrt(5)) and bias init), from the seeded generator.
 * Attributes as PyTorch's: in_channels, out_channels, kernel_size, stride, padding
 * (a tuple, or the string), dilation, transposed, output_padding, groups,
 * padding_mode. Errors: PyTorch's constructor ValueErrors (groups, divisibility,
 * padding string, 'same' with stride, padding_mode) and negative sizes. */
typedef struct cnnc_conv_module_options {
    cnnc_ints kernel_size;
    cnnc_ints stride;
    cnnc_ints padding;
    const char *padding_str; /* NULL, "same" or "valid" */
    cnnc_ints dilation;
    int64_t groups;
    bool bias;
    const char *padding_mode; /* "zeros" (NULL is "zeros"), "reflect", "replicate", "circular" */
} cnnc_conv_module_options;
#define CNNC_CONV_MODULE(...)                                                          \
    ((cnnc_conv_module_options){.kernel_size = CNNC_INTS_NONE, .stride = CNNC_INTS(1),  \
                                .padding = CNNC_INTS(0), .padding_str = NULL,           \
                                .dilation = CNNC_INTS(1), .groups = 1, .bias = true,    \
                                .padding_mode = "zeros", __VA_ARGS__})
CNNC_API cnnc_module *cnnc_conv1d_new(int64_t in_channels, int64_t out_channels,
                                      cnnc_conv_module_options options);
CNNC_API cnnc_module *cnnc_conv2d_new(int64_t in_channels, int64_t out_channels,
                                      cnnc_conv_module_options options);
CNNC_API cnnc_module *cnnc_conv3d_new(int64_t in_channels, int64_t out_channels,
                                      cnnc_conv_module_options options);

/* nn.ConvTranspose1d/2d/3d(in_channels, out_channels, kernel_size, stride=1,
 * padding=0, output_padding=0, groups=1, bias=True, dilation=1,
 * padding_mode='zeros'); only "zeros" is accepted as padding_mode (PyTorch's error
 * otherwise). weight [in, out / groups, k*], bias [out]; fan_in = out / groups *
 * prod(k) (torch computes it from weight.size(1)). */
typedef struct cnnc_conv_transpose_module_options {
    cnnc_ints kernel_size;
    cnnc_ints stride;
    cnnc_ints padding;
    cnnc_ints output_padding;
    int64_t groups;
    bool bias;
    cnnc_ints dilation;
    const char *padding_mode;
} cnnc_conv_transpose_module_options;
#define CNNC_CONV_TRANSPOSE_MODULE(...)                                                   \
    ((cnnc_conv_transpose_module_options){                                                \
        .kernel_size = CNNC_INTS_NONE, .stride = CNNC_INTS(1), .padding = CNNC_INTS(0),   \
        .output_padding = CNNC_INTS(0), .groups = 1, .bias = true,                        \
        .dilation = CNNC_INTS(1), .padding_mode = "zeros", __VA_ARGS__})
CNNC_API cnnc_module *cnnc_convtranspose1d_new(int64_t in_channels, int64_t out_channels,
                                                cnnc_conv_transpose_module_options options);
CNNC_API cnnc_module *cnnc_convtranspose2d_new(int64_t in_channels, int64_t out_channels,
                                                cnnc_conv_transpose_module_options options);
CNNC_API cnnc_module *cnnc_convtranspose3d_new(int64_t in_channels, int64_t out_channels,
                                                cnnc_conv_transpose_module_options options);

/* A transposed-conv module's forward(input, output_size): output_size has n values,
 * the d spatial sizes or the full output shape (d + 2 values, or d + 1 unbatched);
 * n == 0 is None (then the same as cnnc_module_forward). The sizes must lie within
 * the range the stride allows (PyTorch's "requested an output size of ..." error);
 * they choose the output_padding. New reference. Errors also when m is not a
 * ConvTranspose module. */
CNNC_API cnnc_tensor *cnnc_conv_transpose_forward(cnnc_module *m, cnnc_tensor *input, int n,
                                                  const int64_t *output_size);

#ifdef __cplusplus
}
#endif
#endif
