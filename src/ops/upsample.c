/* F.interpolate: nearest, nearest-exact, linear/bilinear/trilinear, bicubic (with
 * or without antialias) and area, with torch/nn/functional.py's argument rules and
 * aten's (UpSample.h, UpSampleKernel.cpp, UpSampleBicubic2d.cpp, PyTorch 1.13)
 * index and weight formulas, reproduced in float where aten computes in float. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/args.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/interp.h"
#include "ops/pool.h"
#include "core/strbuf.h"
#include "ops/resample.h"


/* ---- modes ------------------------------------------------------------------------ */

typedef enum {
    M_NEAREST,
    M_LINEAR,
    M_BILINEAR,
    M_BICUBIC,
    M_TRILINEAR,
    M_AREA,
    M_NEAREST_EXACT,
    M_UNKNOWN
} interp_mode;

static const char *const mode_names[] = {"nearest", "linear",  "bilinear",      "bicubic",
                                         "trilinear", "area", "nearest-exact"};

static interp_mode parse_mode(const char *s) {
    for (int i = 0; i < M_UNKNOWN; i++)
        if (strcmp(s, mode_names[i]) == 0) return (interp_mode)i;
    return M_UNKNOWN;
}

const char *cnnc__interp_mode_canonical(const char *mode) {
    interp_mode m = mode ? parse_mode(mode) : M_UNKNOWN;
    return m == M_UNKNOWN ? NULL : mode_names[m];
}

/* What the kernels need: the kind of filter per dim, and per spatial dim the input
 * and output sizes and the scale PyTorch passes to the kernel (if any). */
typedef enum { K_NEAREST, K_NEAREST_EXACT, K_LINEAR, K_CUBIC } kernel_kind;

typedef struct {
    kernel_kind kind;
    bool align_corners, antialias;
    bool channels_last; /* aten takes its channels-last kernels (see build_geom) */
    int nsp;
    int ndim;
    int64_t in_shape[5], out_shape[5];
    bool has_scale[3];
    double scale[3];
} interp_plan;

/* ---- aten's scalar formulas (float where aten uses float) ---------------------------- */

static float compute_scales_value(bool has, double scale, int64_t in, int64_t out) {
    return (has && scale > 0.) ? (float)(1.0 / scale) : (float)in / (float)out;
}

static float area_pixel_compute_scale(int64_t in, int64_t out, bool align, bool has, double scale) {
    if (align) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    return compute_scales_value(has, scale, in, out);
}

static float area_pixel_compute_source_index(float scale, int64_t dst, bool align, bool cubic) {
    if (align) return scale * (float)dst;
    float src = scale * ((float)dst + 0.5f) - 0.5f;
    return (!cubic && src < 0.0f) ? 0.0f : src;
}

static int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

static float cubic1(float x, float A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }
static float cubic2(float x, float A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

static float aa_linear(float x) {
    if (x < 0.0f) x = -x;
    return x < 1.0f ? 1.0f - x : 0.0f;
}

static float aa_cubic(float x) {
    const float a = -0.5f; /* Pillow's (and aten's antialiased) bicubic */
    if (x < 0.0f) x = -x;
    if (x < 1.0f) return cubic1(x, a);
    if (x < 2.0f) return cubic2(x, a);
    return 0.0f;
}

/* Taps of one dim's table. */
static int dim_taps(const interp_plan *p, int i) {
    if (p->antialias) {
        int64_t in = p->in_shape[2 + i], out = p->out_shape[2 + i];
        float scale = area_pixel_compute_scale(in, out, p->align_corners, p->has_scale[i], p->scale[i]);
        int interp = p->kind == K_CUBIC ? 4 : 2;
        float support = scale >= 1.0f ? (float)((interp * 0.5) * scale) : (float)(interp * 0.5);
        return (int)ceilf(support) * 2 + 1;
    }
    switch (p->kind) {
    case K_LINEAR: return 2;
    case K_CUBIC: return 4;
    default: return 1;
    }
}

/* One dim's table: for each output position o, `taps` input indices idx[o * taps + j]
 * and their weights w[o * taps + j]. in / out: the dim's sizes. */
typedef struct dim_table {
    int64_t in, out;
    int taps;
    int64_t *idx;
    float *w;
    int32_t *count; /* antialias: the taps inside the input, per output position */
} dim_table;

/* antialias (bilinear / bicubic): a filter of support ceil(scale) taps per side when
 * downscaling, normalised to sum 1 (Pillow's and aten's _upsample_*_aa). */
static void table_antialias(const interp_plan *p, int i, const dim_table *t) {
    const int64_t in = t->in, taps = t->taps;
    float scale = area_pixel_compute_scale(in, t->out, p->align_corners, p->has_scale[i], p->scale[i]);
    int interp = p->kind == K_CUBIC ? 4 : 2;
    float support = scale >= 1.0f ? (float)((interp * 0.5) * scale) : (float)(interp * 0.5);
    float invscale = scale >= 1.0f ? (float)(1.0 / scale) : 1.0f;
    for (int64_t o = 0; o < t->out; o++) {
        int64_t *ix = t->idx + o * taps;
        float *ww = t->w + o * taps;
        float center = (float)(scale * (o + 0.5));
        int64_t xmin = max_i64((int64_t)((double)(center - support) + 0.5), 0);
        int64_t xsize = min_i64((int64_t)((double)(center + support) + 0.5), in) - xmin;
        if (xsize > taps) xsize = taps;
        float total = 0.0f;
        for (int64_t j = 0; j < xsize; j++) {
            float x = (float)(((double)((float)(j + xmin) - center) + 0.5) * invscale);
            float v = p->kind == K_CUBIC ? aa_cubic(x) : aa_linear(x);
            ww[j] = v;
            total += v;
        }
        for (int64_t j = 0; j < xsize; j++)
            if (total != 0.0f) ww[j] /= total;
        for (int64_t j = 0; j < taps; j++) {
            if (j >= xsize) ww[j] = 0.0f;
            ix[j] = min_i64(max_i64(xmin + (j < xsize ? j : 0), 0), in - 1);
        }
        t->count[o] = (int32_t)(xsize > 0 ? xsize : 1); /* aten reads xsize taps */
    }
}

/* nearest: floor(o * scale); aten's backward (nearest_idx) special-cases out == in
 * and out == 2 in. */
static void table_nearest(const interp_plan *p, int i, bool backward, const dim_table *t) {
    const int64_t in = t->in, out = t->out;
    float scale = compute_scales_value(p->has_scale[i], p->scale[i], in, out);
    for (int64_t o = 0; o < out; o++) {
        int64_t s;
        if (backward && out == in) s = o;
        else if (backward && out == 2 * in) s = o >> 1;
        else s = min_i64((int64_t)floorf((float)o * scale), in - 1);
        t->idx[o] = s;
        t->w[o] = 1.0f;
    }
}

/* nearest-exact: round((o + 0.5) * scale - 0.5) in the forward's arithmetic, floor((o
 * + 0.5) * scale) in the backward's. */
static void table_nearest_exact(const interp_plan *p, int i, bool backward, const dim_table *t) {
    float scale = compute_scales_value(p->has_scale[i], p->scale[i], t->in, t->out);
    for (int64_t o = 0; o < t->out; o++) {
        int64_t s;
        if (backward) {
            s = (int64_t)floorf((float)((o + 0.5) * (double)scale));
        } else {
            float src = area_pixel_compute_source_index(scale, o, false, false);
            s = (int64_t)floorf((float)((double)src + 0.5));
        }
        t->idx[o] = min_i64(s, t->in - 1);
        t->w[o] = 1.0f;
    }
}

/* aten's compute_source_index_and_lambda: the float scale, but the source position in
 * double (acc_type<float> on the CPU). A position that is an integer in float arithmetic
 * may not be one in double (3/7f * 7 = 3.00000003): the weight of the next input is then
 * a tiny non-zero, so an Inf there gives Inf (Inf * 1 + Inf * 3e-8) rather than NaN
 * (Inf * 0), and a NaN there spreads. */
static double linear_source_index(float scale, int64_t dst, bool align) {
    if (align) return (double)scale * (double)dst;
    double src = (double)scale * ((double)dst + 0.5) - 0.5;
    return src < 0.0 ? 0.0 : src;
}

/* linear: the two neighbours of the source position, clamped to the input. */
static void table_linear(const interp_plan *p, int i, const dim_table *t) {
    const int64_t in = t->in;
    float scale = area_pixel_compute_scale(in, t->out, p->align_corners, p->has_scale[i], p->scale[i]);
    for (int64_t o = 0; o < t->out; o++) {
        int64_t *ix = t->idx + 2 * o;
        float *ww = t->w + 2 * o;
        if (t->out == in) {
            ix[0] = ix[1] = o;
            ww[0] = 1.0f;
            ww[1] = 0.0f;
            continue;
        }
        double real = linear_source_index(scale, o, p->align_corners);
        int64_t i0 = min_i64((int64_t)real, in - 1);
        float l1 = (float)(real - (double)i0);
        if (l1 < 0.0f) l1 = 0.0f;
        if (l1 > 1.0f) l1 = 1.0f;
        ix[0] = i0;
        ix[1] = i0 + (i0 < in - 1 ? 1 : 0);
        ww[0] = 1.0f - l1;
        ww[1] = l1;
    }
}

/* cubic (A = -0.75): four neighbours, clamped to the input. */
static void table_cubic(const interp_plan *p, int i, const dim_table *t) {
    const int64_t in = t->in;
    float scale = area_pixel_compute_scale(in, t->out, p->align_corners, p->has_scale[i], p->scale[i]);
    const float A = -0.75f;
    for (int64_t o = 0; o < t->out; o++) {
        float real = area_pixel_compute_source_index(scale, o, p->align_corners, true);
        int64_t i0 = (int64_t)floorf(real);
        float x1 = real - (float)i0, x2 = 1.0f - x1;
        float *ww = t->w + 4 * o;
        ww[0] = cubic2((float)(x1 + 1.0), A);
        ww[1] = cubic1(x1, A);
        ww[2] = cubic1(x2, A);
        ww[3] = cubic2((float)(x2 + 1.0), A);
        for (int j = 0; j < 4; j++) t->idx[4 * o + j] = max_i64(0, min_i64(i0 - 1 + j, in - 1));
    }
}

/* One dim's table. backward: aten's backward kernels compute nearest indices with
 * nearest_idx / nearest_exact_idx where the forward does not (its channels-last
 * kernels use the backward's functions too). */
static void build_dim(const interp_plan *p, int i, bool backward, int taps, int64_t *idx, float *w,
                      int32_t *count) {
    backward = backward || p->channels_last;
    const dim_table t = {p->in_shape[2 + i], p->out_shape[2 + i], taps, idx, w, count};
    if (p->antialias) {
        table_antialias(p, i, &t);
        return;
    }
    switch (p->kind) {
    case K_NEAREST: table_nearest(p, i, backward, &t); break;
    case K_NEAREST_EXACT: table_nearest_exact(p, i, backward, &t); break;
    case K_LINEAR: table_linear(p, i, &t); break;
    case K_CUBIC: table_cubic(p, i, &t); break;
    }
}

/* Builds the geometry; tables are laid out in `mem` (table_bytes(p) bytes). */
static size_t table_bytes(const interp_plan *p) {
    size_t b = 0;
    for (int i = 0; i < p->nsp; i++) {
        size_t n = (size_t)p->out_shape[2 + i] * (size_t)dim_taps(p, i);
        b += n * sizeof(int64_t) + ((n * sizeof(float) + 7) & ~(size_t)7);
        if (p->antialias) b += ((size_t)p->out_shape[2 + i] * sizeof(int32_t) + 7) & ~(size_t)7;
    }
    return b + 64;
}

static void build_geom(const interp_plan *p, bool backward, void *mem, cnnc__interp_geom *g) {
    memset(g, 0, sizeof *g);
    g->nd = p->nsp;
    g->planes = p->in_shape[0] * p->in_shape[1];
    g->nearest = (p->kind == K_NEAREST || p->kind == K_NEAREST_EXACT) && !p->antialias;
    char *m = mem;
    for (int i = 0; i < p->nsp; i++) {
        int taps = dim_taps(p, i);
        size_t n = (size_t)p->out_shape[2 + i] * (size_t)taps;
        int64_t *idx = (int64_t *)(void *)m;
        m += n * sizeof(int64_t);
        float *w = (float *)(void *)m;
        m += (n * sizeof(float) + 7) & ~(size_t)7;
        int32_t *count = NULL;
        if (p->antialias) {
            count = (int32_t *)(void *)m;
            m += ((size_t)p->out_shape[2 + i] * sizeof(int32_t) + 7) & ~(size_t)7;
        }
        build_dim(p, i, backward, taps, idx, w, count);
        g->d[i] = (cnnc__interp_dim){p->in_shape[2 + i], p->out_shape[2 + i], taps, idx, w, count};
    }
}

typedef struct {
    float *out;
    const float *in;
    const cnnc__interp_geom *g;
    float *scratch;
    int64_t scratch_floats;
} interp_job;

static cnnc_status fwd_range(void *ctx, int64_t b, int64_t e, int chunk) {
    interp_job *j = ctx;
    cnnc__k_interp_rows(j->out, j->in, j->g, j->scratch + (int64_t)chunk * j->scratch_floats, b, e);
    return CNNC_OK;
}

static cnnc_status bwd_range(void *ctx, int64_t b, int64_t e, int chunk) {
    interp_job *j = ctx;
    cnnc__k_interp_backward_planes(j->out, j->in, j->g,
                                   j->scratch + (int64_t)chunk * j->scratch_floats, b, e);
    return CNNC_OK;
}

/* The parallel region: forward over output rows (planes x every output dim but the
 * last), backward over planes; an item costs its output values times the taps
 * (a multiply-add and a load each). */
static cnnc__par interp_par(const interp_plan *p, bool backward) {
    int64_t rows = p->in_shape[0] * p->in_shape[1];
    double taps = 1.0, values = 1.0;
    for (int i = 0; i < p->nsp; i++) {
        taps *= dim_taps(p, i);
        values *= (double)p->out_shape[2 + i];
        if (!backward && i + 1 < p->nsp) {
            rows *= p->out_shape[2 + i];
            values = 1.0;
        }
    }
    const cnnc__cost item = {.flops = 2.0 * taps * values, .bytes = 4.0 * taps * values};
    return cnnc__par_plan(rows, item, cnnc__parallel_threads());
}

static cnnc_status interp_run(const interp_plan *p, bool backward, float *dst, const float *src) {
    size_t tb = table_bytes(p);
    const cnnc__par plan = interp_par(p, backward);
    /* the geometry needs the tables to size the scratch: compute taps-only bounds */
    cnnc__interp_geom probe;
    memset(&probe, 0, sizeof probe);
    probe.nd = p->nsp;
    for (int i = 0; i < p->nsp; i++) {
        probe.d[i].in = p->in_shape[2 + i];
        probe.d[i].out = p->out_shape[2 + i];
        probe.d[i].taps = dim_taps(p, i);
    }
    int64_t sf = backward ? cnnc__interp_backward_scratch_floats(&probe)
                          : cnnc__interp_scratch_floats(&probe);
    sf = (sf + 15) & ~(int64_t)15;
    size_t total;
    if (!cnnc__mul_size((size_t)sf * sizeof(float), (size_t)plan.chunks, &total) ||
        total > SIZE_MAX - tb)
        return cnnc__oom("interpolate scratch");
    char *ws = cnnc__workspace(tb + total);
    if (!ws) return cnnc_last_status();
    cnnc__interp_geom g;
    build_geom(p, backward, ws, &g);
    /* tb is a multiple of 8: the per-chunk scratch (which holds int64 keys) follows */
    interp_job j = {dst, src, &g, (float *)(void *)(ws + tb), sf};
    return cnnc__par_run(plan, backward ? bwd_range : fwd_range, &j);
}

/* ---- autograd ------------------------------------------------------------------------------ */

typedef struct {
    interp_plan plan;
} interp_ctx;

/* Whether every spatial dim keeps its size. */
static bool same_size(const interp_plan *p) {
    for (int i = 0; i < p->nsp; i++)
        if (p->in_shape[2 + i] != p->out_shape[2 + i]) return false;
    return true;
}

static cnnc_status interp_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    const interp_plan *p = &((interp_ctx *)n->ctx)->plan;
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, p->ndim, p->in_shape);
    if (!gi[0]) return cnnc_last_status();
    if (gi[0]->numel == 0) return CNNC_OK;
    /* aten's bicubic backward copies grad_output when the output keeps the input's size,
     * even where the forward interpolated (scale_factor=1.1 on 5 rows keeps 5 rows but
     * samples at 1.1 * (o + 0.5) - 0.5): PyTorch's gradient is then not the adjoint of
     * its forward. PyTorch is inconsistent with itself here; cnnc takes the side of its
     * gradient (same gradients as PyTorch), Inf and NaN included. */
    if (p->kind == K_CUBIC && !p->antialias && same_size(p)) {
        memcpy(cnnc__f32(gi[0]), cnnc__f32(g), (size_t)g->numel * sizeof(float));
        return CNNC_OK;
    }
    return interp_run(p, true, cnnc__f32(gi[0]), cnnc__f32(g));
}

/* The backward of an empty area result: PyTorch's adaptive_avg_pool2d_backward
 * (which 1-d and 2-d use) refuses an empty grad_output; the 3-d one gives zeros. */
static cnnc_status zero_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    const interp_plan *p = &((interp_ctx *)n->ctx)->plan;
    if (p->nsp <= 2) {
        int64_t gs[4] = {g->shape[0], g->shape[1], p->nsp == 1 ? 1 : g->shape[2], g->shape[g->ndim - 1]};
        int empty = 1;
        while (empty < 4 && gs[empty] != 0) empty++;
        char s[128];
        cnnc__shape_str(s, sizeof s, 4, gs);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "adaptive_avg_pool2d_backward(): Expected grad_output to have non-zero size "
                           "for non-batch dimensions, but grad_output has sizes %s with dimension %d "
                           "being empty", s, empty);
    }
    gi[0] = cnnc__tensor_zeros(CNNC_FLOAT32, p->ndim, p->in_shape);
    return gi[0] ? CNNC_OK : cnnc_last_status();
}

static const char *node_name(const interp_plan *p) {
    static const char *const nearest[3] = {"UpsampleNearest1DBackward1", "UpsampleNearest2DBackward1",
                                           "UpsampleNearest3DBackward1"};
    static const char *const exact[3] = {"UpsampleNearestExact1DBackward1",
                                         "UpsampleNearestExact2DBackward1",
                                         "UpsampleNearestExact3DBackward1"};
    static const char *const linear[3] = {"UpsampleLinear1DBackward1", "UpsampleBilinear2DBackward1",
                                          "UpsampleTrilinear3DBackward1"};
    int i = p->nsp - 1;
    switch (p->kind) {
    case K_NEAREST: return nearest[i];
    case K_NEAREST_EXACT: return exact[i];
    case K_LINEAR: return p->antialias ? "UpsampleBilinear2DAaBackward1" : linear[i];
    default: return p->antialias ? "UpsampleBicubic2DAaBackward1" : "UpsampleBicubic2DBackward1";
    }
}

/* ---- argument handling (torch/nn/functional.py's interpolate, in its order) ---------------- */

/* What the arguments resolve to. */
typedef struct interp_args {
    interp_mode mode;
    const char *mode_s;
    bool align;
    int dim;                      /* input rank - 2 (negative for a rank < 2) */
    bool have_size, use_scales;   /* an explicit size; the kernels get the scales */
    int64_t osize[CNNC_MAX_DIMS]; /* per spatial dim */
    double scales[CNNC_MAX_DIMS];
} interp_args;

/* mode, align_corners and the Optional[bool] encodings. */
static cnnc_status mode_args(const cnnc_interpolate_options *o, interp_args *a) {
    if (cnnc__check_ints("interpolate", "size", &o->size) ||
        cnnc__check_doubles("interpolate", "scale_factor", &o->scale_factor))
        return cnnc_last_status();
    if (o->align_corners < -1 || o->align_corners > 1 || o->recompute_scale_factor < -1 ||
        o->recompute_scale_factor > 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "interpolate(): align_corners and recompute_scale_factor are -1 (None), 0 "
                           "(False) or 1 (True), got %d and %d", o->align_corners,
                           o->recompute_scale_factor);
    a->mode_s = o->mode ? o->mode : "None"; /* PyTorch's mode=None: refused with the rank check */
    a->mode = parse_mode(a->mode_s);
    if (a->mode != M_NEAREST && a->mode != M_AREA && a->mode != M_NEAREST_EXACT) {
        a->align = o->align_corners == 1;
        return CNNC_OK;
    }
    if (o->align_corners != -1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "align_corners option can only be set with the interpolating modes: linear "
                           "| bilinear | bicubic | trilinear");
    return CNNC_OK;
}

/* A tuple of the wrong length for the input's spatial dims (size: the size's message,
 * else the scale_factor's). */
static cnnc_status spatial_mismatch(const cnnc_tensor *x, bool size, const char *tuple) {
    char dims[CNNC__ARGS_STR_CAP];
    int nsp = x->ndim - 2 > 0 ? x->ndim - 2 : 0;
    cnnc__shape_str(dims, sizeof dims, nsp, x->shape + (x->ndim - nsp));
    if (size)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Input and output must have the same number of spatial dimensions, but got "
                           "input with spatial dimensions of %s and output size of %s. Please provide "
                           "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                           "...,oK) format.", dims, tuple);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "Input and scale_factor must have the same number of spatial dimensions, but "
                       "got input with spatial dimensions of %s and scale_factor of shape %s. Please "
                       "provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, "
                       "s2, ...,sK) format.", dims, tuple);
}

/* floor(in * scale) (recompute) or the truncated product (aten's scaled size). */
static cnnc_status scaled_size(int64_t in, double scale, bool floor_, int64_t *out) {
    double v = (double)in * scale;
    if (floor_) v = floor(v);
    if (!(v > -9.0e15 && v < 9.0e15))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "interpolate(): cannot convert the output size %g to an integer", v);
    *out = (int64_t)v;
    return CNNC_OK;
}

/* size or scale_factor: exactly one; a tuple has one value per spatial dim, a value
 * is used for every dim; recompute_scale_factor (always for area with scales) turns
 * the scales into sizes. */
static cnnc_status size_args(const cnnc_tensor *x, const cnnc_interpolate_options *o, interp_args *a) {
    const cnnc_ints *size = &o->size;
    const cnnc_doubles *sf = &o->scale_factor;
    char t[CNNC__ARGS_STR_CAP];
    a->dim = x->ndim - 2;
    a->have_size = !cnnc__ints_is_none(size);
    const bool have_scale = !cnnc__doubles_is_none(sf);
    const int nsp = a->dim > 0 ? a->dim : 0;
    if (a->have_size && have_scale)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "only one of size or scale_factor should be defined");
    if (!a->have_size && !have_scale)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "either size or scale_factor should be defined");
    if (a->have_size && cnnc__ints_is_tuple(size) && size->n != a->dim) {
        cnnc__tuple_str(t, sizeof t, size->n, size->v);
        return spatial_mismatch(x, true, t);
    }
    if (have_scale && cnnc__doubles_is_tuple(sf) && sf->n != a->dim) {
        cnnc__float_tuple_str(t, sizeof t, sf->n, sf->v);
        return spatial_mismatch(x, false, t);
    }
    for (int i = 0; i < nsp; i++) {
        if (a->have_size) a->osize[i] = size->v[cnnc__ints_is_tuple(size) ? i : 0];
        else a->scales[i] = sf->v[cnnc__doubles_is_tuple(sf) ? i : 0];
    }
    if (o->recompute_scale_factor == 1 && a->have_size)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "recompute_scale_factor is not meaningful with an explicit size.");
    const bool recompute = o->recompute_scale_factor == 1 || (a->mode == M_AREA && !a->have_size);
    a->use_scales = have_scale && !recompute;
    for (int i = 0; i < nsp && have_scale && recompute; i++)
        if (scaled_size(x->shape[2 + i], a->scales[i], true, &a->osize[i]) != CNNC_OK)
            return CNNC_ERR_INVALID_ARGUMENT;
    return CNNC_OK;
}

/* antialias, then the input's rank for the mode. */
static cnnc_status rank_for_mode(const cnnc_tensor *x, bool antialias, const interp_args *a) {
    const interp_mode mode = a->mode;
    const int nd = x->ndim;
    if (antialias && !((mode == M_BILINEAR || mode == M_BICUBIC) && nd == 4))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Anti-alias option is only supported for bilinear and bicubic modes");
    bool ok = (nd >= 3 && nd <= 5 && (mode == M_NEAREST || mode == M_NEAREST_EXACT || mode == M_AREA)) ||
              (nd == 3 && mode == M_LINEAR) || (nd == 4 && (mode == M_BILINEAR || mode == M_BICUBIC)) ||
              (nd == 5 && mode == M_TRILINEAR);
    if (ok) return CNNC_OK;
    static const int needs[] = {0, 3, 4, 0, 5};
    if (nd >= 3 && nd <= 5 && (mode == M_LINEAR || mode == M_BILINEAR || mode == M_TRILINEAR))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Got %dD input, but %s mode needs %dD input", nd,
                           a->mode_s, needs[mode]);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "Input Error: Only 3D, 4D and 5D input Tensors supported (got %dD) for the "
                       "modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
                       "(got %s)", nd, a->mode_s);
}

static cnnc_status size_error(const interp_plan *p) {
    const int64_t *i = p->in_shape + 2, *o = p->out_shape + 2;
    if (p->nsp == 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Input and output sizes should be greater than 0, but got input (W: %lld) "
                           "and output (W: %lld)", (long long)i[0], (long long)o[0]);
    if (p->nsp == 2)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Input and output sizes should be greater than 0, but got input (H: %lld, "
                           "W: %lld) output (H: %lld, W: %lld)", (long long)i[0], (long long)i[1],
                           (long long)o[0], (long long)o[1]);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "Input and output sizes should be greater than 0, but got input (D: %lld, H: "
                       "%lld, W: %lld) output (D: %lld, H: %lld, W: %lld)", (long long)i[0],
                       (long long)i[1], (long long)i[2], (long long)o[0], (long long)o[1],
                       (long long)o[2]);
}

/* area: adaptive average pooling to the output size (zero sizes give an empty
 * result, as adaptive_avg_pool does). */
static cnnc_tensor *area(cnnc_tensor *x, int nsp, const int64_t *osize) {
    for (int i = 0; i < nsp; i++)
        if (osize[i] < 0) {
            char s[CNNC__ARGS_STR_CAP];
            cnnc__list_str(s, sizeof s, nsp, osize, "{", ", ", "}");
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "adaptive_avg_pool%dd: elements of output_size must be greater "
                                    "than or equal to 0 but received %s", nsp, s);
        }
    bool empty = false;
    for (int i = 0; i < nsp; i++) empty |= osize[i] == 0;
    if (!empty) {
        return cnnc__op_adaptive_avg_pool(x, nsp, osize);
    }
    interp_plan p;
    memset(&p, 0, sizeof p);
    p.ndim = x->ndim;
    p.nsp = nsp;
    memcpy(p.in_shape, x->shape, (size_t)x->ndim * sizeof(int64_t));
    memcpy(p.out_shape, x->shape, (size_t)x->ndim * sizeof(int64_t));
    for (int i = 0; i < nsp; i++) p.out_shape[2 + i] = osize[i];
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, p.ndim, p.out_shape);
    if (!out) return NULL;
    interp_ctx *c = NULL;
    static const char *const names[3] = {"AdaptiveAvgPool1DBackward0", "AdaptiveAvgPool2DBackward0",
                                         "AdaptiveAvgPool3DBackward0"};
    if (cnnc__record(out, names[nsp - 1], zero_backward, 1, &x, 0, NULL, sizeof *c, (void **)&c) !=
        CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) c->plan = p;
    return out;
}

/* The kernels' plan once the arguments are resolved; PyTorch's checks of the sizes. */
static cnnc_status make_plan(const cnnc_tensor *x, const interp_args *a, bool antialias, interp_plan *p) {
    const int nd = x->ndim, nsp = a->dim;
    memset(p, 0, sizeof *p);
    p->kind = a->mode == M_NEAREST ? K_NEAREST
              : a->mode == M_NEAREST_EXACT ? K_NEAREST_EXACT
              : a->mode == M_BICUBIC ? K_CUBIC : K_LINEAR;
    p->align_corners = a->align;
    p->antialias = antialias;
    /* A contiguous [N, C, *spatial] tensor with C == 1 (or all spatial sizes 1) is
     * also channels-last contiguous, and aten then runs its channels-last kernels,
     * whose nearest indices come from nearest_idx / nearest_exact_idx (the
     * backward's functions) instead of the generic kernel's. */
    if (nd >= 4) {
        bool ones = true;
        for (int i = 2; i < nd; i++) ones = ones && x->shape[i] == 1;
        p->channels_last = x->shape[1] == 1 || ones;
    }
    p->nsp = nsp;
    p->ndim = nd;
    memcpy(p->in_shape, x->shape, (size_t)nd * sizeof(int64_t));
    memcpy(p->out_shape, x->shape, (size_t)nd * sizeof(int64_t));
    for (int i = 0; i < nsp; i++) {
        p->out_shape[2 + i] = a->osize[i];
        p->has_scale[i] = a->use_scales;
        p->scale[i] = a->scales[i];
    }
    for (int i = 0; i < nsp; i++)
        if (p->in_shape[2 + i] <= 0 || p->out_shape[2 + i] <= 0) return size_error(p);
    if (x->shape[1] == 0) {
        char s[256];
        cnnc__shape_str(s, sizeof s, nd, x->shape);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Non-empty %dD data tensor expected but got a tensor with sizes %s", nd, s);
    }
    int64_t numel;
    if (cnnc__check_shape("interpolate", nd, p->out_shape, CNNC_FLOAT32, &numel) != CNNC_OK)
        return cnnc_last_status();
    for (int i = 0; i < nsp && p->antialias; i++) /* the filter support grows with in / out */
        if (p->in_shape[2 + i] > ((int64_t)1 << 30))
            return cnnc__error(CNNC_ERR_OUT_OF_MEMORY,
                               "interpolate(): input size %lld is too large for antialias",
                               (long long)p->in_shape[2 + i]);
    for (int i = 0; i < nsp; i++) /* the tables hold out * taps entries per dim */
        if (p->out_shape[2 + i] > ((int64_t)1 << 40) / dim_taps(p, i))
            return cnnc__error(CNNC_ERR_OUT_OF_MEMORY, "interpolate(): output size %lld is too large",
                               (long long)p->out_shape[2 + i]);
    return CNNC_OK;
}

cnnc_tensor *cnnc__op_interpolate(cnnc_tensor *x, const cnnc_interpolate_options *o) {
    interp_args a = {0};
    if (cnnc__check_tensor("interpolate", "input", x, true) != CNNC_OK || mode_args(o, &a) != CNNC_OK ||
        size_args(x, o, &a) != CNNC_OK || rank_for_mode(x, o->antialias, &a) != CNNC_OK)
        return NULL;
    for (int i = 0; i < a.dim && a.use_scales; i++) /* aten: the output size is the scaled size, truncated */
        if (scaled_size(x->shape[2 + i], a.scales[i], false, &a.osize[i]) != CNNC_OK) return NULL;
    if (a.mode == M_AREA) return area(x, a.dim, a.osize);
    interp_plan p;
    if (make_plan(x, &a, o->antialias, &p) != CNNC_OK) return NULL;
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, p.ndim, p.out_shape);
    if (!out) return NULL;
    if (out->numel > 0 && interp_run(&p, false, cnnc__f32(out), cnnc__f32(x)) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    interp_ctx *c = NULL;
    if (cnnc__record(out, node_name(&p), interp_backward, 1, &x, 0, NULL, sizeof *c, (void **)&c) !=
        CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) c->plan = p;
    return out;
}

cnnc_tensor *cnnc_interpolate(cnnc_tensor *input, cnnc_interpolate_options options) {
    return cnnc__give(cnnc__op_interpolate(input, &options));
}
