/* cnnc public API: the resample op family (padding and interpolation). Included by
 * cnnc.h; include <cnnc.h>, not this.
 *
 *     // F.pad(x, (1, 1, 2, 0), mode="reflect") and
 *     // F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
 *     cnnc_tensor *p = cnnc_pad(x, 4, (const int64_t[]){1, 1, 2, 0}, CNNC_PAD_REFLECT, 0.0);
 *     cnnc_tensor *y = cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(2.0),
 *                                                          .mode = "bilinear",
 *                                                          .align_corners = 0));
 */
#ifndef CNNC_RESAMPLE_H
#define CNNC_RESAMPLE_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* F.pad's mode. */
typedef enum cnnc_pad_mode {
    CNNC_PAD_CONSTANT = 0,
    CNNC_PAD_REFLECT,
    CNNC_PAD_REPLICATE,
    CNNC_PAD_CIRCULAR,
    CNNC_PAD_MODE_COUNT
} cnnc_pad_mode;

/* "constant" | "reflect" | "replicate" | "circular" -> *mode. Anything else is
 * PyTorch's "Unrecognised padding mode <name>" (CNNC_ERR_INVALID_ARGUMENT). */
CNNC_API cnnc_status cnnc_pad_mode_from_string(const char *name, cnnc_pad_mode *mode);
/* The mode's PyTorch name ("reflect"), or NULL (with an error) for a bad value. */
CNNC_API const char *cnnc_pad_mode_name(cnnc_pad_mode mode);

/* F.pad(x, pad, mode, value): pad holds npad values (npad even, npad <= 2 * ndim),
 * pairs (left, right) starting from the last dim and moving forward; a negative
 * value crops. Mode rules are PyTorch 1.13's:
 * - constant: any rank, any dims; `value` fills the new elements.
 * - reflect / replicate: npad 2 on [C, W] or [N, C, W]; 4 on [C, H, W] or
 *   [N, C, H, W]; 6 on [C, D, H, W] or [N, C, D, H, W]. reflect needs every pad
 *   < the input size of its dim.
 * - circular: npad = 2 * (ndim - 2) on a batched [N, C, *] input (1..3 spatial
 *   dims); every pad <= the size of its dim (wrapping around at most once).
 *   (Where PyTorch reads uninitialised memory — a pad larger than what is left of
 *   its dim after cropping the other side — cnnc wraps around again.)
 * value must be 0 for the non-constant modes (PyTorch's None or 0). Errors use
 * PyTorch's messages. Differentiable w.r.t. x. Returns a new reference. */
CNNC_API cnnc_tensor *cnnc_pad(cnnc_tensor *x, int npad, const int64_t *pad, cnnc_pad_mode mode,
                               double value);

/* F.interpolate(input, size, scale_factor, mode, align_corners,
 *               recompute_scale_factor, antialias).
 * - size: None, an int for every spatial dim, or a tuple of one per spatial dim;
 *   scale_factor: None, a float, or a tuple of one per spatial dim (cnnc.h's forms:
 *   a 1-tuple is a tuple, for one spatial dim only). Exactly one of them.
 * - mode: "nearest" (default) | "nearest-exact" | "linear" (3-D input) |
 *   "bilinear" (4-D) | "bicubic" (4-D) | "trilinear" (5-D) | "area" (adaptive
 *   average pooling to the output size).
 * - align_corners, recompute_scale_factor: PyTorch's Optional[bool]: -1 is None
 *   (the default), 0 False, 1 True. align_corners may only be given for the
 *   linear/bilinear/bicubic/trilinear modes.
 * - antialias: bilinear and bicubic on 4-D input only.
 * input is [N, C, *spatial] with 1..3 spatial dims (N may be 0). Index and weight
 * formulas are PyTorch 1.13's CPU kernels' (including which scale is used when
 * scale_factor is given, without recompute_scale_factor). Errors use PyTorch's
 * messages. Differentiable w.r.t. input. Returns a new reference. */
typedef struct cnnc_interpolate_options {
    cnnc_ints size;
    cnnc_doubles scale_factor;
    const char *mode;
    int align_corners;          /* -1 None, 0 False, 1 True */
    int recompute_scale_factor; /* -1 None, 0 False, 1 True */
    bool antialias;
} cnnc_interpolate_options;
#define CNNC_INTERPOLATE(...)                                                          \
    ((cnnc_interpolate_options){.size = CNNC_INTS_NONE, .scale_factor = CNNC_DOUBLES_NONE, \
                                .mode = "nearest", .align_corners = -1,                 \
                                .recompute_scale_factor = -1, .antialias = false,       \
                                __VA_ARGS__})
CNNC_API cnnc_tensor *cnnc_interpolate(cnnc_tensor *input, cnnc_interpolate_options options);

/* --- modules ------------------------------------------------------------------ */

/* nn.ConstantPad1d/2d/3d(padding, value), nn.ZeroPad2d(padding),
 * nn.ReflectionPad1d/2d/3d(padding), nn.ReplicationPad1d/2d/3d(padding).
 * padding: an int (repeated 2, 4 or 6 times, as _pair/_quadruple/_ntuple(6)) or a
 * tuple (kept as given, () and 1-tuples too, and checked by F.pad at forward). Attributes:
 * padding (a tuple) and, for ConstantPad*, value. Forward is F.pad with the
 * module's mode. */
CNNC_API cnnc_module *cnnc_constantpad1d_new(cnnc_ints padding, double value);
CNNC_API cnnc_module *cnnc_constantpad2d_new(cnnc_ints padding, double value);
CNNC_API cnnc_module *cnnc_constantpad3d_new(cnnc_ints padding, double value);
CNNC_API cnnc_module *cnnc_zeropad2d_new(cnnc_ints padding);
CNNC_API cnnc_module *cnnc_reflectionpad1d_new(cnnc_ints padding);
CNNC_API cnnc_module *cnnc_reflectionpad2d_new(cnnc_ints padding);
CNNC_API cnnc_module *cnnc_reflectionpad3d_new(cnnc_ints padding);
CNNC_API cnnc_module *cnnc_replicationpad1d_new(cnnc_ints padding);
CNNC_API cnnc_module *cnnc_replicationpad2d_new(cnnc_ints padding);
CNNC_API cnnc_module *cnnc_replicationpad3d_new(cnnc_ints padding);

/* nn.Upsample(size=None, scale_factor=None, mode='nearest', align_corners=None,
 * recompute_scale_factor=None): forward is F.interpolate with these settings
 * (antialias False). As in PyTorch, a zero scale_factor is None. Attributes:
 * name, size, scale_factor (None, a FLOAT, or FLOATS when given per dim), mode,
 * align_corners, recompute_scale_factor.
 * An unknown mode is refused here (PyTorch refuses it at the first forward). */
typedef struct cnnc_upsample_options {
    cnnc_ints size;
    cnnc_doubles scale_factor;
    const char *mode;
    int align_corners;          /* -1 None, 0 False, 1 True */
    int recompute_scale_factor; /* -1 None, 0 False, 1 True */
} cnnc_upsample_options;
#define CNNC_UPSAMPLE(...)                                                          \
    ((cnnc_upsample_options){.size = CNNC_INTS_NONE, .scale_factor = CNNC_DOUBLES_NONE, \
                             .mode = "nearest", .align_corners = -1,                \
                             .recompute_scale_factor = -1, __VA_ARGS__})
CNNC_API cnnc_module *cnnc_upsample_new(cnnc_upsample_options options);
/* nn.UpsamplingNearest2d(size=None, scale_factor=None) (mode 'nearest') and
 * nn.UpsamplingBilinear2d(size=None, scale_factor=None) (mode 'bilinear',
 * align_corners True). */
CNNC_API cnnc_module *cnnc_upsamplingnearest2d_new(cnnc_ints size, cnnc_doubles scale_factor);
CNNC_API cnnc_module *cnnc_upsamplingbilinear2d_new(cnnc_ints size, cnnc_doubles scale_factor);

#ifdef __cplusplus
}
#endif
#endif
