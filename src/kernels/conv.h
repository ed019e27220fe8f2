/* Internal: convolution kernels on raw float buffers (NCDHW, contiguous).
 *
 * Every convolution (1-d, 2-d, 3-d, transposed or not) is described by one
 * window (kernels/window.h, shared with pooling): the convolution from an input
 * x [n, c, in0, in1, in2] to an output y [n, m, out0, out1, out2] with weight
 * w [m, c / groups, k0, k1, k2]:
 *
 *   y[b, o, p] = sum_{i in group(o), q} w[o, i, q] x[b, i, p * stride - pad + q * dil]
 *
 * (terms whose input position falls outside [0, in) are zero). Lower-dimensional
 * convolutions put 1s in the leading spatial slots (a 2-d conv is in0 = out0 = k0 = 1).
 * The output sizes are given explicitly, so asymmetric padding (the extra element
 * of padding='same', a transposed conv's output_padding) needs no padded copy: only
 * pad[] (the leading padding) enters the index arithmetic. A transposed convolution
 * is the backward-data of the geometry whose input is its output.
 *
 * Kernels never allocate; they write their outputs (first arguments) completely
 * unless their comment says they accumulate. The fast ones take the ISA level
 * (kernels/isa.h) first and run that level's variant of their family: the row
 * primitives (conv_simd.c), im2col packing (conv_im2col.c), depthwise (conv_dw.c) and
 * the Winograd transforms (conv_winograd.c) each list theirs in one X-macro table;
 * a level without a variant of its own runs the next one below it. The GEMMs inside
 * run at the same level, so the nr and workspace sizes a caller got from kernels/gemm.h
 * at that level are the ones these expect.
 */
#ifndef CNNC_KERNELS_CONV_H
#define CNNC_KERNELS_CONV_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/activation.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/window.h"

/* ---- reference kernels (plain loops, double accumulation): the oracle ------ */

/* y [n, m, out] = conv(x, w) + bias (bias [m] or NULL). */
void cnnc__conv_ref_forward(float *y, const float *x, const float *w, const float *bias,
                            const cnnc__window *g);
/* dx [n, c, in] = the gradient of the input for dy [n, m, out]. */
void cnnc__conv_ref_backward_data(float *dx, const float *dy, const float *w,
                                  const cnnc__window *g);
/* dw [m, c / groups, k] = the gradient of the weight (summed over the batch). */
void cnnc__conv_ref_backward_weight(float *dw, const float *dy, const float *x,
                                    const cnnc__window *g);

/* ---- im2col / col2im ------------------------------------------------------------ */

/* col [(c1 - c0) * ksize, ncol] (leading dim ldc >= ncol) = the columns [o0, o0 + ncol)
 * of the unfolded input channels [c0, c1) of one image x [cg, in] (cg = channels of
 * one group; x points at the group's first channel): row (ci - c0) * ksize + q,
 * column j holds x[ci, (o0 + j) * stride - pad + q * dil], 0 outside. */
void cnnc__conv_im2col(cnnc__isa isa, float *col, int64_t ldc, const float *x,
                       const cnnc__window *g, int64_t c0, int64_t c1, int64_t o0, int64_t ncol);

/* The same rows/columns straight into a GEMM's packed-B layout (kernels/gemm.h,
 * cnnc__sgemm_pack_b_fn): rows [k0, k0 + kc) (row = ci * ksize + q over the group's
 * channels) x columns [o0, o0 + ncol) of one image's column matrix, in nr-column
 * panels: dst[(j / nr) * nr * kc + r * nr + j % nr] = col[k0 + r, o0 + j], columns
 * past ncol zero up to the end of the last panel. row: scratch of at least ncol
 * rounded up to nr floats. The AVX-512 variant writes straight into 32-wide panels
 * (nr 32, the AVX-512 GEMM's); cnnc__conv_pack_cols_ref (the scalar variant, same
 * result) builds each row in `row` and copies it out. */
void cnnc__conv_pack_cols_ref(float *dst, int64_t nr, float *row, const float *x,
                              const cnnc__window *g, int64_t k0, int64_t kc, int64_t o0,
                              int64_t ncol);
void cnnc__conv_pack_cols(cnnc__isa isa, float *dst, int64_t nr, float *row, const float *x,
                          const cnnc__window *g, int64_t k0, int64_t kc, int64_t o0,
                          int64_t ncol);

/* Phase planes (2-d and 1-d geometries: in[0] = out[0] = k[0] = 1): the padded input
 * split by stride phase, so that every row of the column matrix is a contiguous slice.
 * Plane (ci, a, b) (a < stride[1], b < stride[2]) is hph x wph with
 *   plane[u][v] = x[ci][u * stride[1] + a - pad[1]][v * stride[2] + b - pad[2]] (0 outside),
 * hph = out[1] + (k[1]-1)*dil[1]/stride[1] + 1, wph = out[2] + (k[2]-1)*dil[2]/stride[2].
 * Column j = p1 * wph + p2 of the "wide" column matrix is output position (p1, p2) for
 * p2 < out[2] (columns p2 >= out[2] are padding, to be dropped); it has out[1] * wph
 * columns. */
void cnnc__conv_phase_geom(const cnnc__window *g, int64_t *hph, int64_t *wph);
/* ph [(c1 - c0) * stride[1] * stride[2] planes of hph * wph] from channels [c0, c1) of
 * one image's group x [cg, in]; the planes of phases no tap reads (a 1x1 kernel reads
 * only phase 0) are left as they were. */
void cnnc__conv_phase_split(cnnc__isa isa, float *ph, const float *x, const cnnc__window *g,
                            int64_t c0, int64_t c1);
/* cnnc__conv_phase_split over items [begin, end) of (image i, channel ch), item
 * i g->c + ch, of images x [.., g->c, in]: image i's planes at ph + i img_floats
 * (img_floats = g->c times a channel's planes), so that threads share a batch's or an
 * image's split. */
void cnnc__conv_phase_split_items(cnnc__isa isa, float *ph, int64_t img_floats, const float *x,
                                  const cnnc__window *g, int64_t begin, int64_t end);
/* The input gradient of one image's group by shifted sums in its stride phases
 * (conv_phase_sum.c; 1-d / 2-d geometries: in[0] = out[0] = k[0] = 1, pad[0] = 0). Over
 * the taps, a dim's shift (q dil - pad) / stride (rounded down) spans [lo, hi]; a phase
 * plane has len[0] x len[1] positions (out + hi - lo a dim). */
typedef struct cnnc__conv_phase_sum_dims {
    int64_t lo[2], hi[2], len[2];
    int64_t plane;  /* floats a phase plane */
    int64_t planes; /* floats of a group's planes: cg stride[1] stride[2] planes */
    int64_t pad;    /* zeros before and after a channel's dy rows (len[1] floats each) */
    int64_t chan;   /* floats of a channel's padded dy rows */
    int64_t dyw;    /* floats of a group's: mg chan */
    int64_t taps;   /* floats of the tap tables: a phase's taps (mg k[1] k[2], 16 bytes
                     * each) and every tap's phase and offset (2 k[1] k[2] int64) */
} cnnc__conv_phase_sum_dims;
void cnnc__conv_phase_sum_geom(const cnnc__window *g, cnnc__conv_phase_sum_dims *s);
/* dx [cg, in] (overwritten) from dy [mg, out] and w [mg, cg, k] (the group's; every
 * weight finite: see conv_phase_sum.c); ph [s->planes] and dyw [round16(s->dyw) +
 * s->taps] (64-byte aligned): scratch. The same bits at every level. */
void cnnc__conv_phase_sum_data(cnnc__isa isa, float *dx, float *ph, float *dyw,
                               const float *dy, const float *w, const cnnc__window *g,
                               const cnnc__conv_phase_sum_dims *s);

/* Rows [k0, k0 + kc) x columns [j0, j0 + ncol) of the column matrix of a batch of
 * images (column j: output position j % (out[1] out[2]) of image j / (out[1] out[2]),
 * no dropped columns), from their planes (cnnc__conv_phase_split's, from channel 0;
 * image i's at ph + i img_floats), in nr-column panels, the last one zero-padded. */
void cnnc__conv_pack_phase_batch(cnnc__isa isa, float *dst, int64_t nr, const float *ph,
                                 int64_t img_floats, const cnnc__window *g, int64_t k0,
                                 int64_t kc, int64_t j0, int64_t ncol);

/* The same packing over any grid of plane positions, rows named by tap and channel:
 * column j is position (u, v) = (j % (gh gw) / gw, j % gw) of image j / (gh gw) (gh x gw
 * positions an image, no dropped columns), row t nch + ch (ch < nch channels, t a tap)
 * reads src[img img_floats + ch chan_floats + tap_off[t] + u ld + v]. Rows [k0, k0 + kc)
 * x columns [j0, j0 + ncol) in nr-column panels, the last one zero-padded. The caller
 * keeps every read inside its buffer (padded planes); offsets fit in int32. */
void cnnc__conv_pack_taps_batch(cnnc__isa isa, float *dst, int64_t nr, const float *src,
                                int64_t img_floats, int64_t chan_floats, int64_t nch,
                                const int64_t *tap_off, int64_t gh, int64_t gw, int64_t ld,
                                int64_t k0, int64_t kc, int64_t j0, int64_t ncol);

/* Name of the im2col packing variant a level runs for nr-wide panels. */
const char *cnnc__conv_im2col_variant(cnnc__isa isa, int64_t nr);

/* dst[t] = src[t] + bias, t < n (the same result at every level). */
void cnnc__conv_copy_add(cnnc__isa isa, float *dst, const float *src, float bias, int64_t n);

/* ---- the forward's epilogue ---------------------------------------------------------
 * What a forward convolution does to its output y [n, m, out] while a tile of it is
 * still in cache: y[b, o, p] = act(conv + bias[o]). The bits are those of the bias
 * added as the path adds it and cnnc__k_act_forward over y afterwards (the separate
 * activation op's kernel), so fusing changes no value. */
typedef struct cnnc__conv_epilogue {
    const float *bias; /* [m] or NULL */
    bool act;          /* then y = op(y) (params p) */
    cnnc__act op;
    cnnc__act_params p;
} cnnc__conv_epilogue;

/* Does e do anything (a bias or an activation)? */
static inline bool cnnc__conv_epilogue_any(const cnnc__conv_epilogue *e) {
    return e->bias || e->act;
}
/* dst[t] = act(src[t] + bias[o]), t < n, in one pass (dst may equal src; without a
 * bias or activation that part is left out: a plain copy when both are). */
void cnnc__conv_epilogue_row(cnnc__isa isa, const cnnc__conv_epilogue *e, int64_t o, float *dst,
                             const float *src, int64_t n);
/* y[t] = act(y[t]), t < n, for the paths that add the bias themselves (nothing without
 * an activation). */
void cnnc__conv_epilogue_act(cnnc__isa isa, const cnnc__conv_epilogue *e, float *y, int64_t n);
/* An activation that is a clamp, applied in registers: v < lo ? lo : v, then > hi ? hi :
 * (hardtanh's formula: NaN stays NaN; ReLU is (0, inf)), the bits of cnnc__k_act_forward. */
typedef struct cnnc__conv_clamp {
    float lo, hi;
} cnnc__conv_clamp;
/* e's activation as a clamp (ReLU, Hardtanh) into *c: false for none or another one. */
bool cnnc__conv_epilogue_clamp(const cnnc__conv_epilogue *e, cnnc__conv_clamp *c);
/* e on output channels [o0, ...) as the packed GEMM's fused store (kernels/gemm.h) into
 * *f (bias from e->bias + o0, or NULL): false (nothing to fuse, the caller's separate
 * pass) where the level has no fused store, e does nothing, or its activation is no
 * clamp. */
bool cnnc__conv_epilogue_gemm(cnnc__isa isa, const cnnc__conv_epilogue *e, int64_t o0,
                              cnnc__sgemm_epilogue *f);
/* "relu", "hardtanh(0,6)", "silu" ...: what e applies after the bias, for CNNC_TRACE
 * ("" without an activation). Writes buf (size bytes) and returns it. */
const char *cnnc__conv_epilogue_name(const cnnc__conv_epilogue *e, char *buf, size_t size);

/* The adjoint: x [cg, in] += fold(col) for channels [c0, c1) and columns
 * [o0, o0 + ncol) (col laid out as cnnc__conv_im2col writes it). Accumulates. */
void cnnc__conv_col2im(cnnc__isa isa, float *x, const float *col, int64_t ldc,
                       const cnnc__window *g, int64_t c0, int64_t c1, int64_t o0, int64_t ncol);

/* Is g a 1x1 convolution with stride 1 and no padding (its input the column matrix)? */
static inline bool cnnc__conv_is_pointwise(const cnnc__window *g) {
    for (int d = 0; d < 3; d++)
        if (g->k[d] != 1 || g->stride[d] != 1 || g->pad[d] != 0 || g->in[d] != g->out[d])
            return false;
    return true;
}

/* ---- depthwise (c / groups == 1): direct kernels, one plane at a time ----------- */

/* Is this geometry run by the depthwise kernels (one input channel per group, more
 * than one group)? */
static inline bool cnnc__conv_is_depthwise(const cnnc__window *g) {
    return g->groups > 1 && g->c == g->groups;
}

/* y [out] = conv of one input plane x [in] with one filter w [k] (+ bias, a scalar,
 * added last). */
void cnnc__dwconv_forward_plane(cnnc__isa isa, float *y, const float *x, const float *w, float bias,
                                const cnnc__window *g);
/* dx [in] (+)= the input gradient of one output plane dy [out] through filter w [k]:
 * accumulates when `accumulate`, else writes dx completely. */
void cnnc__dwconv_backward_data_plane(cnnc__isa isa, float *dx, const float *dy, const float *w,
                                      const cnnc__window *g, bool accumulate);
/* dw [k] += sum over one plane pair of dy [out] * x [shifted]. Accumulates. */
void cnnc__dwconv_backward_weight_plane(cnnc__isa isa, float *dw, const float *dy, const float *x,
                                        const cnnc__window *g);

/* The three on a run of n consecutive planes, each with its own filter (w [n, k]):
 * y [n, out] from x [n, in] (+ bias [n], NULL: none); dx [n, in] written completely
 * from dy [n, out]. The values of plane by plane, up to the order of the weight
 * gradient's sums (the level's run kernels, where the geometry fits one, build their
 * tables once per run). */
void cnnc__dwconv_forward_planes(cnnc__isa isa, float *y, const float *x, const float *w,
                                 const float *bias, int64_t n, const cnnc__window *g);
/* The forward of the run then act's activation (NULL or none: nothing; its bias unused):
 * the bits of cnnc__dwconv_forward_planes and cnnc__conv_epilogue_act over y. A clamp
 * (ReLU, Hardtanh) goes in registers where the level's band kernels take the geometry
 * (AVX2), any other activation over planes gathered up to L1's size. */
void cnnc__dwconv_forward_planes_act(cnnc__isa isa, float *y, const float *x, const float *w,
                                     const float *bias, int64_t n, const cnnc__window *g,
                                     const cnnc__conv_epilogue *act);
/* What a depthwise forward on a run of planes does around its sums (the band kernels,
 * cnnc__dwconv_forward_band): input plane i at x + i xstep (0: the window's input size
 * apart), output plane i at y + i ystep; the output clamped (clamp NULL: not); and the
 * input's own epilogue as it is read, x + xbias[i] (NULL: none) then clamped (xclamp
 * NULL: not), the bits of cnnc__conv_epilogue_row over x first (a padding stays zero). */
typedef struct cnnc__dw_fwd_ep {
    int64_t ystep;
    const cnnc__conv_clamp *clamp;
    const float *xbias;
    const cnnc__conv_clamp *xclamp;
    int64_t xstep;
    bool xsplit; /* x's rows split (cnnc__dwconv_split_rows; no xbias, xclamp) */
} cnnc__dw_fwd_ep;
/* A stride-2 source split ahead (a 1x1 convolution's output written in this order,
 * its input split first: MobileNetV2's expansions), for the band kernels to read in
 * place: each row of the window g's input as the padded row's columns [0, 2 ow + K - 2)
 * (those the taps read), the even ones (ow + (K - 1) / 2 of them) then the odd ones,
 * the padding's columns zero; the window's padding rows are not stored. Rows of
 * cnnc__dwconv_split_ld(g) floats. */
static inline int64_t cnnc__dwconv_split_ld(const cnnc__window *g) {
    return 2 * g->out[2] + g->k[2] - 2;
}
static inline int64_t cnnc__dwconv_split_half(const cnnc__window *g) {
    return g->out[2] + (g->k[2] - 1) / 2;
}
/* Does the level's cnnc__dwconv_forward_band take split sources (ep->xsplit) for g
 * (AVX2: the stride-2 3x3 and 5x5 bands, output rows of 24 floats or more or a multiple
 * of 8)? */
bool cnnc__dwconv_split_fits(cnnc__isa isa, const cnnc__window *g);
/* dst [rows, split_ld(g)] = the split of src [rows, g->in[2]] (the padding's columns
 * zero), where cnnc__dwconv_split_fits(isa, g). */
void cnnc__dwconv_split_rows(cnnc__isa isa, float *dst, const float *src, int64_t rows,
                             const cnnc__window *g);
/* y [n planes, ep->ystep apart] from x [n planes, ep->xstep apart] with ep (see above),
 * where the level has such a kernel for g (AVX2: conv_dw_band_avx2.c's square 3x3 and
 * 5x5 bands); false (nothing written) otherwise. */
bool cnnc__dwconv_forward_band(cnnc__isa isa, float *y, const float *x, const float *w,
                               const float *bias, int64_t n, const cnnc__window *g,
                               const cnnc__dw_fwd_ep *ep);
/* Channels-last planes: y = the depthwise 3x3 of x for channels [0, n) (n a multiple of
 * 8), filters w [n, 9], bias [n] (NULL: none), clamp (NULL: none). x in blocks of 16
 * channels xblk floats apart, a block's pixels xld floats apart (channel c of pixel p
 * at x + c / 16 xblk + p xld + c % 16), read through its own epilogue: + xbias [n]
 * (NULL: none), then xclamp (NULL: none). y written as a GEMM's B packed whole
 * (cnnc__sgemm_st_prepacked): row c the channel, column p the output pixel, panels of
 * 16 pixels pstride floats apart (element at y + p / 16 pstride + 16 c + p % 16; the
 * last panel's columns past the plane zero). The bits of cnnc__dwconv_forward_band on
 * the planes, x's epilogue applied first. Where cnnc__dwconv_cl_fits (AVX2:
 * conv_dw_cl_avx2.c, stride 1 or 2, padding up to 2, dilation 1, outputs 7 to about 60
 * wide); false (nothing written) otherwise. */
bool cnnc__dwconv_cl_fits(cnnc__isa isa, const cnnc__window *g);
bool cnnc__dwconv_forward_cl(cnnc__isa isa, float *y, int64_t pstride, const float *x,
                             int64_t xld, int64_t xblk, const float *xbias,
                             const cnnc__conv_clamp *xclamp, const float *w, const float *bias,
                             int64_t n, const cnnc__window *g, const cnnc__conv_clamp *clamp);
void cnnc__dwconv_backward_data_planes(cnnc__isa isa, float *dx, const float *dy, const float *w,
                                       int64_t n, const cnnc__window *g);
/* The images of a backward-weight run: n of them, image b's planes at dy + b dy_step
 * and x + b x_step. */
typedef struct cnnc__dw_images {
    int64_t n, dy_step, x_step;
} cnnc__dw_images;
/* dw [n, k] += the per-plane sums over the run's planes in every image. */
void cnnc__dwconv_backward_weight_planes(cnnc__isa isa, float *dw, const float *dy,
                                         const float *x, int64_t n, cnnc__dw_images im,
                                         const cnnc__window *g);

/* Name of the depthwise variant a level runs (where the geometry fits it). */
const char *cnnc__dwconv_variant(cnnc__isa isa);

/* The plain versions of the three (always compiled), for tests. The dispatching ones
 * above run the level's depthwise variant (AVX-512: on runs of planes,
 * conv_dw_flat_avx512.c's flat kernels for small "same" planes and its stride-2
 * backward-data by phases; conv_dw_avx512.c's register-tiled kernels for 2-d 3x3 and
 * 5x5 filters with W stride 1 or 2, else conv_dw.c's 16-lane kernels where the
 * geometry fits; AVX2: on runs of planes, conv_dw_band_avx2.c's padded bands for 3x3 and
 * 5x5 filters with the same stride 1 or 2 in H and W, else conv_dw_avx2.c's row cache
 * plane by plane), else row by row with the level's row primitives. */
void cnnc__dwconv_forward_plane_ref(float *y, const float *x, const float *w, float bias,
                                    const cnnc__window *g);
void cnnc__dwconv_backward_data_plane_ref(float *dx, const float *dy, const float *w,
                                          const cnnc__window *g);
void cnnc__dwconv_backward_weight_plane_ref(float *dw, const float *dy, const float *x,
                                            const cnnc__window *g);

/* ---- row primitives (one variant per ISA level) ---------------------------------- */

/* y[i] += a * x[i], i < n. */
typedef void (*cnnc__conv_axpy_fn)(float *y, const float *x, float a, int64_t n);
/* sum_i x[i] * y[i] in float, a fixed order for a given n. */
typedef float (*cnnc__conv_dot_fn)(const float *x, const float *y, int64_t n);
/* sum_i x[i] in float, a fixed order for a given n. */
typedef float (*cnnc__conv_sum_fn)(const float *x, int64_t n);
/* dst[i] = src[2 i], i < n (reads src[0 .. 2n - 1) only). */
typedef void (*cnnc__conv_gather2_fn)(float *dst, const float *src, int64_t n);
/* dst[2 i] += src[i], i < n (touches dst[0 .. 2n - 1) only; odd elements unchanged). */
typedef void (*cnnc__conv_scatter2_fn)(float *dst, const float *src, int64_t n);

typedef struct cnnc__conv_rows {
    cnnc__isa isa;
    const char *name; /* "f32_conv_rows__avx2" */
    cnnc__conv_axpy_fn axpy;
    cnnc__conv_dot_fn dot;
    cnnc__conv_sum_fn sum;
    cnnc__conv_gather2_fn gather2;
    cnnc__conv_scatter2_fn scatter2;
} cnnc__conv_rows;

/* The row primitives of a level (conv_simd.c lists them). */
const cnnc__conv_rows *cnnc__conv_rows_of(cnnc__isa isa);

/* ---- Winograd F(mt x mt, 3x3), mt = 2 or 4: 2-d, 3x3, stride 1, dilation 1 (any
 * padding, groups) ------------------------------------------------------------------------
 *
 * Output tiles of mt x mt (tile t of an image is tile row t / tw, column t % tw, with
 * th = ceil(out[1] / mt), tw = ceil(out[2] / mt)); each is computed from the
 * alpha x alpha input patch (alpha = mt + 2) at (mt ti - pad[1], mt tj - pad[2]) (zeros
 * outside) as
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A,
 * the elementwise product summed over input channels by alpha^2 GEMMs (one per position
 * of the transformed tile). F(4x4) does 4x fewer multiplies than the direct
 * convolution (F(2x2): 2.25x), at ~4x F(2x2)'s rounding error (transform matrices:
 * conv_winograd_f2.c, conv_winograd_f4.c). */

/* Name of the Winograd transform variant a level runs (its GEMMs: kernels/gemm.h). */
const char *cnnc__conv_winograd_variant(cnnc__isa isa);

/* Does the geometry have the shape Winograd serves? */
bool cnnc__conv_winograd_ok(const cnnc__window *g);
/* Output tiles per image (th * tw) at tile size mt. */
int64_t cnnc__conv_winograd_tiles(const cnnc__window *g, int mt);
/* Do F(2x2)'s tiles fit the output: both sides at least 4, and at least 3/4 of the
 * outputs the tiles compute inside it (not a side of 5: 25 of 36)? */
bool cnnc__conv_winograd_f2_fills(const cnnc__window *g);
/* Floats of the packed transformed weights (cnnc__conv_winograd_pack_weights): one
 * GEMM A operand (kernels/gemm.h, cnnc__sgemm_pack_a_full) per (position, group). */
size_t cnnc__conv_winograd_packed_floats(cnnc__isa isa, const cnnc__window *g, int mt);
/* Floats from one position's plane of the packed weights to the next: the groups'
 * packed A operands and a cache line of padding. */
int64_t cnnc__conv_winograd_plane_floats(cnnc__isa isa, const cnnc__window *g);
/* up = G w G^T for every filter of w [m, c / groups, 3, 3], written straight into the
 * GEMM's packed A layout: position e, group grp is the [m / groups x c / groups]
 * matrix at up + e plane_floats + grp packed_a_floats. up 64-byte aligned. flipped: w is
 * instead [c, m / groups, 3, 3], the weights of the convolution whose input gradient
 * g is (g's filter [grp m/groups + o][i] is w[grp c/groups + i][o] flipped in space):
 * the same bits as packing that flipped copy. */
void cnnc__conv_winograd_pack_weights(cnnc__isa isa, float *up, const float *w,
                                      const cnnc__window *g, int mt, bool flipped);
/* The same packing in independent items (group, MR-row panel, k block of the GEMM's A):
 * cnnc__conv_winograd_pack_items of them, each writing its own part of up, so
 * threads can split them; items [begin, end) here. */
int64_t cnnc__conv_winograd_pack_items(cnnc__isa isa, const cnnc__window *g);
void cnnc__conv_winograd_pack_weights_range(cnnc__isa isa, float *up, const float *w,
                                            const cnnc__window *g, int mt, bool flipped,
                                            int64_t begin, int64_t end);
/* Floats of rows transformed filters packed as cnnc__conv_winograd_pack_rows does. */
size_t cnnc__conv_winograd_rows_floats(cnnc__isa isa, const cnnc__window *g, int mt,
                                       int64_t rows);
/* Filters [r0, r0 + rows) of group grp (of w, flipped or not, as for
 * cnnc__conv_winograd_pack_weights) transformed into a: per position, the packed A of a
 * [rows x c / groups] GEMM (kernels/gemm.h), positions packed_a_floats + 16 floats
 * apart. a 64-byte aligned, cnnc__conv_winograd_rows_floats(isa, g, mt, rows) floats. */
void cnnc__conv_winograd_pack_rows(cnnc__isa isa, float *a, const float *w,
                                   const cnnc__window *g, int mt, bool flipped, int64_t grp,
                                   int64_t r0, int64_t rows);
/* The transformed weights a block multiplies by: up, all of them packed
 * (cnnc__conv_winograd_pack_weights), or, up NULL, w (flipped or not) transformed by
 * the block itself, chunk filters at a time (a multiple of the GEMM's MR) into its
 * scratch: no transformed copy of wide layers' weights written out and read back. */
typedef struct cnnc__wino_weights {
    const float *up;
    const float *w;
    bool flipped;
    int64_t chunk;
} cnnc__wino_weights;
/* Floats of scratch cnnc__conv_winograd_block needs for blocks of ldt tiles (ldt a
 * multiple of 16; the result a multiple of 16; the GEMM's workspace not included), with
 * room for chunk transformed filters (cnnc__wino_weights; 0: none). */
size_t cnnc__conv_winograd_scratch_floats(cnnc__isa isa, const cnnc__window *g, int64_t ldt,
                                          int mt, int64_t chunk);
/* Output channels [m0, m1) of group grp (m0 a multiple of the GEMM's MR; the bits do not
 * depend on the range: threads split a block's channels when blocks are too few), for
 * tiles [t0, t0 + nt) (nt <= ldt, ldt a multiple of the GEMM's NR: cnnc__sgemm_tile)
 * over the whole batch (tile t is tile t % tiles of image t / tiles, tiles =
 * cnnc__conv_winograd_tiles(g, mt): a block may cross images, so small maps still fill
 * the GEMM's panels): y [n, m, out] for
 * x [n, c, in], wt: the transformed weights, ep: the bias (added in the
 * output transform) and activation (on the transform's rows, before they are spread
 * into y). scratch: cnnc__conv_winograd_scratch_floats(isa, g, ldt, mt, wt->chunk) floats, 64-byte
 * aligned; gemm_ws: cnnc__sgemm_workspace_floats(isa) floats, 64-byte aligned.
 * Single-threaded; the result does not depend on how tiles are blocked. */
void cnnc__conv_winograd_block(cnnc__isa isa, int mt, float *y, const float *x,
                               const cnnc__wino_weights *wt, const cnnc__conv_epilogue *ep,
                               const cnnc__window *g, int64_t grp, int64_t m0, int64_t m1,
                               int64_t t0, int64_t nt, int64_t ldt, float *scratch,
                               float *gemm_ws);

/* ---- Winograd F(2x2, 3x3) weight gradient (the geometries cnnc__conv_winograd_ok
 * takes) ------------------------------------------------------------------------------
 *
 * The forward's tiles give dg = G^T [ sum over the batch's tiles of (A dy A^T) .* (B^T d B) ] G
 * per (output channel, input channel) pair. The caller transforms blocks of the
 * batch's tiles [t0, t0 + nt) (nt <= ldt, ldt a multiple of 16; a block may cross
 * images) into
 *   V [cg][16][ldt]: the input's transforms (the forward's), position e of input
 *                    channel i's tile t at V[i][e][t - t0];
 *   Q [mg][16][ldt]: the output gradient's, likewise,
 * sums D_e [mg x cg] += Q_e V_e^T over the blocks (16 GEMMs whose depth is the tiles),
 * and folds D back into the 3x3 gradients. Q and the fold carry matching signs of
 * their own (conv_winograd_f2.c), so D means something only through the fold.
 * F(2x2) alone: its transforms are exact but for a few roundings (F(4x4)'s rounding
 * error, ~4x, is too coarse for training). Tile t, its rows and columns: as above. */

/* Floats of row scratch cnnc__conv_winograd_wgrad_input needs (a multiple of 16). */
size_t cnnc__conv_winograd_wgrad_rows_floats(const cnnc__window *g);
/* v [c1 - c0][16][ldt] = V's rows of input channels [c0, c1) of group grp for tiles
 * [t0, t0 + nt) of x [n, c, in]; rows: cnnc__conv_winograd_wgrad_rows_floats(g) floats
 * of scratch, 64-byte aligned. */
void cnnc__conv_winograd_wgrad_input(cnnc__isa isa, float *v, int64_t ldt, const float *x,
                                     const cnnc__window *g, int64_t grp, int64_t c0, int64_t c1,
                                     int64_t t0, int64_t nt, float *rows);
/* q [o1 - o0][16][ldt] = Q's rows of output channels [o0, o1) of group grp for tiles
 * [t0, t0 + nt) of dy [n, m, out] (the tiles' positions outside out: zeros). */
void cnnc__conv_winograd_wgrad_output(cnnc__isa isa, float *q, int64_t ldt, const float *dy,
                                      const cnnc__window *g, int64_t grp, int64_t o0, int64_t o1,
                                      int64_t t0, int64_t nt);
/* dw[9 j + k], k < 9: the 3x3 gradient of pair j < n from the 16 sums d[e ldd + j]
 * (D_e's element j, e < 16). Writes dw[0 .. 9 n) only. */
void cnnc__conv_winograd_wgrad_fold(cnnc__isa isa, float *dw, const float *d, int64_t ldd,
                                    int64_t n);

#endif
