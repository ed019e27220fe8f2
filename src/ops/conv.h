/* Internal: convolution ops as library code (nn/conv.c) calls them, and the
 * multithreaded drivers behind them (exposed for the C tests). Same conventions as
 * ops/ops.h: new references not registered in a scope. */
#ifndef CNNC_OPS_CONV_H
#define CNNC_OPS_CONV_H
#include "kernels/conv.h"
#include "ops/activation.h"
#include "ops/ops.h"

/* F.conv{dim}d / F.conv_transpose{dim}d with every PyTorch check. */
cnnc_tensor *cnnc__op_conv(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, int dim,
                           const cnnc_conv_options *o);
cnnc_tensor *cnnc__op_conv_transpose(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, int dim,
                                     const cnnc_conv_transpose_options *o);

/* ---- argument rules (conv_args.c) ----------------------------------------------- */

/* One call of a conv op, as the caller gave it. */
typedef struct cnnc__conv_call {
    const char *fn; /* "conv2d", "conv_transpose2d" */
    int dim;        /* the function's spatial dims (1..3) */
    bool transposed;
    const cnnc_ints *stride, *padding, *dilation, *output_padding; /* output_padding: transposed */
    const char *padding_str; /* NULL, "same", "valid" (convolutions) */
    int64_t groups;
} cnnc__conv_call;

/* What validation produces. */
typedef struct cnnc__conv_setup {
    int sd;                     /* spatial dims (weight rank - 2) */
    bool unbatched, empty;      /* empty: zero batch or zero input channels */
    int64_t stride[CNNC_MAX_DIMS], pad_l[CNNC_MAX_DIMS], pad_r[CNNC_MAX_DIMS];
    int64_t dil[CNNC_MAX_DIMS], out_pad[CNNC_MAX_DIMS];
    int64_t xs[CNNC_MAX_DIMS];  /* the input's shape as a batch [N, C, *] */
    int64_t cout;               /* output channels */
    int out_ndim;               /* the output's rank (without N when unbatched) */
    int64_t out_shape[CNNC_MAX_DIMS];
    cnnc__window g;             /* the window the drivers run */
} cnnc__conv_setup;

/* Every check of PyTorch's conv ops in its order (its message on failure), then the
 * output's shape and the window. */
cnnc_status cnnc__conv_validate(const cnnc__conv_call *c, const cnnc_tensor *x, const cnnc_tensor *w,
                                const cnnc_tensor *b, cnnc__conv_setup *s);

/* ---- drivers: the fast paths over a whole batch -----------------------------------
 * Each picks the depthwise direct kernels (one input channel per group), Winograd
 * over the batch's tiles (3x3 stride 1, enough channels and tiles: F(4x4, 3x3) in
 * inference, F(2x2, 3x3) in training; the input gradient too, as a forward with
 * flipped filters; and the weight gradient, F(2x2, 3x3) alone: conv_wgrad_wino.c),
 * column chunks crossing images (conv_cols.c: small maps, and the other weight
 * gradients, most from channels-last copies: conv_wgrad.c), plain GEMM (1x1 kernel,
 * stride 1, no padding) or implicit GEMM over column tiles; threads over items, or
 * inside the GEMM when there are fewer items than threads. Results never depend on
 * the thread count. Each reads the thread count
 * once and sizes its per-chunk scratch (in the calling thread's cnnc__workspace) from
 * its parallel plans. Return CNNC_OK or an error (workspace allocation). */

/* y [n, m, out] = conv(x [n, c, in], w) + bias (bias [m] or NULL). training: the
 * result takes part in a gradient computation (recorded for backward, or is a
 * gradient), which keeps Winograd at its finer-rounding tile (cnnc__conv_winograd_tile). */
cnnc_status cnnc__conv_run_forward(const cnnc__window *g, float *y, const float *x,
                                   const float *w, const float *bias, bool training);
/* The path ("winograd F(4x4,3x3)", "depthwise", ...) the last driver call on this
 * thread took (what CNNC_TRACE shows; for tests). */
const char *cnnc__conv_forward_path(void);
/* dx [n, c, in] = input gradient of dy [n, m, out] (overwrites dx); training as above
 * (false: a transposed convolution's forward in inference). */
cnnc_status cnnc__conv_run_backward_data(const cnnc__window *g, float *dx, const float *dy,
                                         const float *w, bool training);
/* dw [m, c / groups, k] = weight gradient, summed over the batch (overwrites dw). */
cnnc_status cnnc__conv_run_backward_weight(const cnnc__window *g, float *dw, const float *dy,
                                           const float *x);
/* ---- packed weights kept between inference calls (conv_wcache.c) -------------------
 * A module's typed state holds a cnnc__conv_wcache (zero-initialised: empty). A forward
 * that autograd does not record packs its filters into it once (the Winograd transform
 * of F(4x4, 3x3)) and reuses them while the filters' values, the ISA level and the
 * geometry stay the same: each call compares the filters with the copy the packing was
 * made from, so any change, by an op or through cnnc_tensor_data, is seen. Safe to
 * share between threads; the entry a call uses lives until that call releases it. */
typedef struct cnnc__conv_wkey {
    cnnc__isa isa;
    int tile;                /* the Winograd output tile: 2 or 4, 0 for none (or
                                CNNC__CONV_WKIND_FOLDED, CNNC__CONV_WKIND_POSITIONS) */
    int64_t c, m, groups;
} cnnc__conv_wkey;
typedef struct cnnc__conv_wentry cnnc__conv_wentry;
/* One packing per kind (key tile / 2: the GEMM paths' 0, F(2x2)'s 2, F(4x4)'s 4, the
 * fused runs' folded filters CNNC__CONV_WKIND_FOLDED, the position-panel GEMM's B
 * CNNC__CONV_WKIND_POSITIONS), so that a module called at batch sizes that take
 * different paths (ResNet's 7x7 layers: F(2x2) at batch 1, F(4x4) at 8) keeps both. */
enum { CNNC__CONV_WKIND_FOLDED = 6, CNNC__CONV_WKIND_POSITIONS = 8, CNNC__CONV_WCACHE_KINDS = 5 };
typedef struct cnnc__conv_wcache {
    cnnc__conv_wentry *entry[CNNC__CONV_WCACHE_KINDS]; /* the current packings, or NULL */
} cnnc__conv_wcache;
/* Writes the packed weights for the filters of the call into packed; false when
 * memory runs out. */
typedef bool (*cnnc__conv_wpack)(const void *ctx, float *packed);
/* What a packing is made from: the filters w [w_floats] and, when s is set, their
 * output channels' scales s [s_floats] (a folded BatchNorm's). wid, wver: the id and
 * version of the storage holding w when that storage vouches for its data (no writable
 * pointer to it handed out: core/tensor.h), else wid 0. An entry made from the same
 * wid and wver holds these filters: only s is compared then (the filters of a deep
 * network are tens of megabytes, compared on every inference: 1-2% of ResNet-18's). */
typedef struct cnnc__conv_wsource {
    const float *w, *s;
    size_t w_floats, s_floats;
    uint64_t wid, wver;
} cnnc__conv_wsource;
/* A call's weight cache, and its filters' wid and wver (cnnc__conv_wsource). */
typedef struct cnnc__conv_wuse {
    cnnc__conv_wcache *cache;
    uint64_t wid, wver;
} cnnc__conv_wuse;
/* The entry for the source src under key, with *packed its packed_floats floats: the
 * cached one when it matches, else a new one packed by pack(ctx) that replaces it.
 * NULL when memory runs out (nothing set: the caller packs on its own). Release the
 * entry with cnnc__conv_wentry_release once done with *packed. */
cnnc__conv_wentry *cnnc__conv_wcache_get(cnnc__conv_wcache *c, const cnnc__conv_wkey *key,
                                         const cnnc__conv_wsource *src, size_t packed_floats,
                                         cnnc__conv_wpack pack, const void *ctx,
                                         const float **packed);
void cnnc__conv_wentry_release(cnnc__conv_wentry *e); /* NULL: no-op */
/* False when the environment sets CNNC_WEIGHT_CACHE=0 (read at each call): every
 * forward then packs its weights per call and keeps nothing. */
bool cnnc__conv_wcache_enabled(void);
/* Drops the cache's entry (a module's destroy). */
void cnnc__conv_wcache_clear(cnnc__conv_wcache *c);

/* cnnc__conv_run_forward for a result autograd does not record (training false),
 * keeping the packed weights in cache between calls (NULL: as cnnc__conv_run_forward).
 * With no weight transform to amortise, F(4x4) serves more geometries than without
 * (from 8 tiles in the batch: 7x7 maps, single images). */
cnnc_status cnnc__conv_run_forward_cached(const cnnc__window *g, float *y, const float *x,
                                          const float *w, const float *bias,
                                          cnnc__conv_wcache *cache);
/* y [n, m, out] = act(conv(x, w') + bias): the epilogue ep (kernels/conv.h) applied in
 * every path while the output is in cache, the bits of cnnc__conv_run_forward followed
 * by the activation's kernel (CNNC_TRACE names it); cache as cnnc__conv_run_forward_cached
 * (then training false) with the filters' storage tag, or NULL. w' = w, or with wscale
 * [m] set, output channel o's filters times wscale[o], each product rounded to float
 * (the bits of the caller multiplying them first): a cached packing is made from w and
 * wscale (and checked against both), so a BatchNorm folded into unchanged filters costs
 * no pass over them but the cache's check. Both drivers above are this one. */
cnnc_status cnnc__conv_run_forward_ep(const cnnc__window *g, float *y, const float *x,
                                      const float *w, const float *wscale,
                                      const cnnc__conv_epilogue *ep, bool training,
                                      const cnnc__conv_wuse *cache);
/* F.conv{dim}d as cnnc__op_conv, with the packed weights kept in cache (NULL: none)
 * when autograd does not record the call (a module's forward). */
cnnc_tensor *cnnc__op_conv_cached(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b, int dim,
                                  const cnnc_conv_options *o, cnnc__conv_wcache *cache);
/* The same with the filters w times wscale [out channels] (NULL: none; as
 * cnnc__conv_run_forward_ep) and the activation act (NULL: none) applied in the
 * convolution's epilogue, while each output tile is in cache. With either, inference
 * only (an error when an input takes part in autograd: requires grad with grad mode
 * on; nothing is recorded). The bits of the convolution with the multiplied filters
 * followed by the activation's op. */
cnnc_tensor *cnnc__op_conv_act(cnnc_tensor *x, cnnc_tensor *w, const float *wscale, cnnc_tensor *b,
                               int dim, const cnnc_conv_options *o, cnnc__conv_wcache *cache,
                               const cnnc__act_spec *act);

/* ---- a convolution fused with the depthwise convolution that alone reads it ------------
 * A convolution's filters w [m, c / groups, k] (times wscale [m] when set, as
 * cnnc__conv_run_forward_ep) and its epilogue. */
typedef struct cnnc__conv_filters {
    const float *w, *wscale;
    cnnc__conv_epilogue ep;
    cnnc__conv_wuse use; /* the module's cache for its folded filters (cache NULL: none) */
} cnnc__conv_filters;
/* f's filters [m, per] folded (w times wscale; w itself without wscale): from f's
 * cache, kept there (*e the entry to release), or else folded into *own (to free).
 * NULL when memory runs out. */
const float *cnnc__conv_filters_folded(const cnnc__conv_filters *f, int64_t m, int64_t per,
                                       cnnc__conv_wentry **e, float **own);
/* Can the fused run below take the pair: B (gb) depthwise with one filter per channel
 * on A's (ga) output (2-d or 1-d), A 1x1 with stride 1, no padding and groups 1? And
 * does it pay (A's GEMM memory-bound, its output of an image past the caches)? */
bool cnnc__conv_dw_fusable(const cnnc__window *ga, const cnnc__window *gb);
bool cnnc__conv_dw_fuse_pays(const cnnc__window *ga, const cnnc__window *gb);
/* y [n, m_B, out_B] = B(A(x)) for a pair cnnc__conv_dw_fusable takes, A's output
 * never written to memory whole: the bits of A's forward (cnnc__conv_run_forward_ep,
 * inference) followed by B's. CNNC_TRACE shows one conv.forward line for the pair. */
cnnc_status cnnc__conv_run_forward_dw(const cnnc__window *ga, const cnnc__window *gb, float *y,
                                      const float *x, const cnnc__conv_filters *fa,
                                      const cnnc__conv_filters *fb);

/* Can the chained run below take C (gc) after B (gb), with A (ga) before B or without
 * (ga NULL): B depthwise with one filter per channel (2-d or 1-d; with A, a pair
 * cnnc__conv_dw_fusable takes), C 1x1 on B's output with stride 1, no padding and
 * groups 1? And does it pay? */
bool cnnc__conv_chain_fusable(const cnnc__window *ga, const cnnc__window *gb,
                              const cnnc__window *gc);
bool cnnc__conv_chain_pays(const cnnc__window *ga, const cnnc__window *gb, const cnnc__window *gc);
/* y [n, m_C, out_C] = C(B(A(x))) (without A: C(B(x))) for a chain
 * cnnc__conv_chain_fusable takes, neither A's nor B's output written to memory whole:
 * the bits of the forwards one after the other (cnnc__conv_run_forward_ep, inference).
 * CNNC_TRACE shows one conv.forward line for the chain. */
cnnc_status cnnc__conv_run_forward_chain(const cnnc__window *ga, const cnnc__window *gb,
                                         const cnnc__window *gc, float *y, const float *x,
                                         const cnnc__conv_filters *fa, const cnnc__conv_filters *fb,
                                         const cnnc__conv_filters *fc);

/* One convolution of a fused run: as cnnc__op_conv_act's arguments. */
typedef struct cnnc__conv_arm {
    cnnc_tensor *w, *b; /* b may be NULL */
    cnnc__conv_wcache *cache; /* the module's (NULL: none): its folded filters kept */
    const float *wscale;
    int dim;
    cnnc_conv_options o;
    const cnnc__act_spec *act;
} cnnc__conv_arm;
/* The arms' result, each as cnnc__op_conv_act would compute it on the one before's
 * (arm[0] A, a 1x1 convolution, or NULL; arm[1] B, a depthwise one; arm[2] C, a 1x1
 * one, or NULL; not both NULL): B(A(x)) through cnnc__conv_run_forward_dw, C(B(A(x)))
 * or C(B(x)) through cnnc__conv_run_forward_chain, when the run is one they take: 1
 * and *y (a new reference); 0 when it does not apply (nothing set: the ops run one by
 * one, and report any error); -1 on error. Inference only (0 when an input takes part
 * in autograd). */
int cnnc__op_conv_fused(cnnc_tensor *x, const cnnc__conv_arm *const arm[3], cnnc_tensor **y);
/* Would cnnc__op_conv_fused take the run (the arms' shapes alone are read)? */
bool cnnc__op_conv_fused_pays(cnnc_tensor *x, const cnnc__conv_arm *const arm[3]);

/* The Winograd output tile (kernels/conv.h) the forward driver runs g at: 0 (none),
 * 2 (F(2x2, 3x3): training) or 4 (F(4x4, 3x3): inference); the input gradient runs it
 * when its transposed geometry (stride 1) gets a tile. */
int cnnc__conv_winograd_tile(cnnc__isa isa, const cnnc__window *g, bool training);
/* db [m] = sum of dy [n, m, osz] over the batch and positions (overwrites db). */
cnnc_status cnnc__conv_run_bias_grad(float *db, const float *dy, int64_t n, int64_t m,
                                     int64_t osz);
#endif
