/* F.pad: constant, reflect, replicate and circular padding, with PyTorch 1.13's
 * argument rules and messages (aten PadNd.cpp, ReflectionPad.cpp,
 * ReplicationPadding.cpp), forward and backward through kernels/pad.h. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/pad.h"
#include "ops/resample.h"

static const char *const mode_names[CNNC_PAD_MODE_COUNT] = {"constant", "reflect", "replicate",
                                                            "circular"};

cnnc_status cnnc_pad_mode_from_string(const char *name, cnnc_pad_mode *mode) {
    CNNC__NONNULL_OR_STATUS("pad_mode_from_string", name);
    CNNC__NONNULL_OR_STATUS("pad_mode_from_string", mode);
    for (int i = 0; i < CNNC_PAD_MODE_COUNT; i++)
        if (strcmp(name, mode_names[i]) == 0) {
            *mode = (cnnc_pad_mode)i;
            return CNNC_OK;
        }
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Unrecognised padding mode %s", name);
}

const char *cnnc_pad_mode_name(cnnc_pad_mode mode) {
    if ((int)mode < 0 || mode >= CNNC_PAD_MODE_COUNT)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "pad(): invalid padding mode %d", (int)mode);
    return mode_names[mode];
}

/* ---- geometry ---------------------------------------------------------------- */

/* Everything a pad needs, forward or backward: the output shape and one source map
 * per padded dim (the last k dims), stored in `maps` (sum of the out sizes). */
typedef struct {
    cnnc_pad_mode mode;
    int ndim, k;
    int64_t in_shape[CNNC_MAX_DIMS], out_shape[CNNC_MAX_DIMS];
    int64_t pl[CNNC_MAX_DIMS], pr[CNNC_MAX_DIMS]; /* per padded dim, in dim order */
} pad_plan;

/* Source index of output o along one dim (torch's formulas; see pad_map). */
static int64_t source_index(cnnc_pad_mode mode, int64_t o, int64_t in, int64_t pl, int64_t pr) {
    int64_t i_start = pl < 0 ? -pl : 0, o_start = pl > 0 ? pl : 0, ip;
    switch (mode) {
    case CNNC_PAD_CONSTANT:
        ip = o - pl;
        return ip >= 0 && ip < in ? ip : -1;
    case CNNC_PAD_REFLECT:
        if (o < pl) ip = 2 * pl - o;
        else if (o < in + pl) ip = o;
        else ip = 2 * (in + pl - 1) - o;
        ip = ip - o_start + i_start;
        break;
    case CNNC_PAD_REPLICATE:
        if (o < pl) ip = pl;
        else if (o < in + pl) ip = o;
        else ip = in + pl - 1;
        ip = ip - o_start + i_start;
        break;
    default: { /* circular over what is left after cropping */
        int64_t len = in - i_start - (pr < 0 ? -pr : 0);
        if (len <= 0) return -1;
        int64_t s = (o - o_start) % len;
        if (s < 0) s += len;
        ip = i_start + s;
        break;
    }
    }
    if (ip < 0) ip = 0; /* unreachable with validated pads; keeps reads in bounds */
    if (ip >= in) ip = in - 1;
    return in > 0 ? ip : -1;
}

/* Fills the maps (workspace of sum(out) int64) and the kernel geometry. */
static void build_geom(const pad_plan *p, int64_t *maps, cnnc__pad_geom *g) {
    memset(g, 0, sizeof *g);
    g->k = p->k;
    g->outer = 1;
    int lead = p->ndim - p->k;
    for (int i = 0; i < lead; i++) g->outer *= p->in_shape[i];
    for (int i = 0; i < p->k; i++) {
        int d = lead + i;
        g->in[i] = p->in_shape[d];
        g->out[i] = p->out_shape[d];
        for (int64_t o = 0; o < g->out[i]; o++)
            maps[o] = source_index(p->mode, o, g->in[i], p->pl[i], p->pr[i]);
        g->map[i] = maps;
        maps += g->out[i];
    }
    int last = p->k - 1;
    int64_t in = g->in[last], out = g->out[last], pl = p->pl[last];
    g->shift = pl;
    g->mid_b = pl > 0 ? pl : 0;
    if (g->mid_b > out) g->mid_b = out;
    g->mid_e = in + pl < out ? in + pl : out;
    if (g->mid_e < g->mid_b) g->mid_e = g->mid_b;
}

typedef struct {
    float *out;
    const float *in;
    const cnnc__pad_geom *g;
    float value;
} pad_job;

static cnnc_status pad_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pad_job *j = ctx;
    cnnc__k_pad_rows(j->out, j->in, j->g, j->value, b, e);
    return CNNC_OK;
}

static cnnc_status pad_bwd_range(void *ctx, int64_t b, int64_t e, int chunk) {
    (void)chunk;
    pad_job *j = ctx;
    cnnc__k_pad_backward_outer(j->out, j->in, j->g, b, e);
    return CNNC_OK;
}

static int64_t maps_len(const pad_plan *p) {
    int64_t n = 0;
    for (int i = 0; i < p->k; i++) n += p->out_shape[p->ndim - p->k + i];
    return n;
}

/* out = pad(in) under plan p (shapes already validated). */
static cnnc_status pad_compute(const pad_plan *p, float *out, const float *in, float value) {
    if (p->k == 0) { /* nothing padded: a copy */
        int64_t n = 1;
        for (int i = 0; i < p->ndim; i++) n *= p->out_shape[i];
        if (n > 0) memcpy(out, in, (size_t)n * sizeof(float));
        return CNNC_OK;
    }
    int64_t *maps = cnnc__workspace((size_t)(maps_len(p) + 1) * sizeof(int64_t));
    if (!maps) return cnnc_last_status();
    cnnc__pad_geom g;
    build_geom(p, maps, &g);
    int64_t rows = cnnc__pad_rows(&g), ow = g.out[g.k - 1];
    if (rows == 0 || ow == 0) return CNNC_OK;
    pad_job j = {out, in, &g, value};
    /* an output row: ow floats written, about as many read */
    return cnnc__parallel_for(rows, (cnnc__cost){.bytes = 8.0 * (double)ow}, pad_range, &j);
}

/* grad_in = scatter-add of grad_out under plan p (non-constant modes). */
static cnnc_status pad_backward_compute(const pad_plan *p, float *gin, const float *gout) {
    int64_t *maps = cnnc__workspace((size_t)(maps_len(p) + 1) * sizeof(int64_t));
    if (!maps) return cnnc_last_status();
    cnnc__pad_geom g;
    build_geom(p, maps, &g);
    int64_t inner = 1;
    for (int i = 0; i < g.k; i++) inner *= g.in[i];
    pad_job j = {gin, gout, &g, 0.0f};
    /* an input plane: its inner gradient values written, about as many read */
    return cnnc__parallel_for(g.outer, (cnnc__cost){.bytes = 8.0 * (double)inner}, pad_bwd_range, &j);
}

/* ---- autograd ----------------------------------------------------------------------- */

typedef struct {
    pad_plan plan;
} pad_ctx;

static cnnc_status pad_backward(cnnc__node *n, cnnc_tensor *g, cnnc_tensor **gi) {
    const pad_plan *p = &((pad_ctx *)n->ctx)->plan;
    gi[0] = cnnc__tensor_new(CNNC_FLOAT32, p->ndim, p->in_shape);
    if (!gi[0]) return cnnc_last_status();
    if (gi[0]->numel == 0) return CNNC_OK;
    if (p->mode == CNNC_PAD_CONSTANT) {
        /* the gradient of a constant pad is the constant pad (value 0) by the negated
         * amounts: crops where the forward padded, zeros where it cropped */
        pad_plan q = *p;
        memcpy(q.in_shape, p->out_shape, sizeof q.in_shape);
        memcpy(q.out_shape, p->in_shape, sizeof q.out_shape);
        for (int i = 0; i < q.k; i++) {
            q.pl[i] = -p->pl[i];
            q.pr[i] = -p->pr[i];
        }
        return pad_compute(&q, cnnc__f32(gi[0]), cnnc__f32(g), 0.0f);
    }
    return pad_backward_compute(p, cnnc__f32(gi[0]), cnnc__f32(g));
}

static const char *node_name(cnnc_pad_mode mode, int k) {
    static const char *const names[3][3] = {
        {"ReflectionPad1DBackward0", "ReflectionPad2DBackward0", "ReflectionPad3DBackward0"},
        {"ReplicationPad1DBackward0", "ReplicationPad2DBackward0", "ReplicationPad3DBackward0"},
        {"CircularPad1DBackward0", "CircularPad2DBackward0", "CircularPad3DBackward0"}};
    if (mode == CNNC_PAD_CONSTANT) return "ConstantPadNdBackward0";
    return names[mode - 1][k - 1];
}

/* ---- validation (PyTorch 1.13's order and messages) ----------------------------- */

/* PyTorch prints a tensor in some messages as "[ torch.FloatTensor{2,0,4} ]". */
static void torch_tensor_str(char *buf, size_t cap, const cnnc_tensor *x) {
    size_t n = (size_t)snprintf(buf, cap, "[ torch.FloatTensor{");
    for (int i = 0; i < x->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)x->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "} ]");
}

/* torch's narrow(dim, start, length) checks, as constant_pad_nd meets them. */
static cnnc_status narrow_check(int64_t cur, int64_t start, int64_t length) {
    if (start != cur) {
        int64_t lo = cur > 0 ? -cur : -1, hi = cur > 0 ? cur - 1 : 0;
        if (start < lo || start > hi)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "Dimension out of range (expected to be in range of [%lld, %lld], but "
                               "got %lld)", (long long)lo, (long long)hi, (long long)start);
    }
    if (length < 0 || start > cur - length)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "start (%lld) + length (%lld) exceeds dimension size (%lld).",
                           (long long)start, (long long)length, (long long)cur);
    return CNNC_OK;
}

static cnnc_status plan_constant(const cnnc_tensor *x, int npad, const int64_t *pad, pad_plan *p) {
    int l_inp = x->ndim, l_pad = npad / 2, l_diff = l_inp - l_pad;
    p->k = l_pad;
    bool all_non_positive = true;
    for (int i = l_diff; i < l_inp; i++) {
        int idx = 2 * (l_inp - i - 1);
        int64_t cur = x->shape[i];
        if (pad[idx] < 0) {
            if (narrow_check(cur, -pad[idx], cur + pad[idx]) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
            cur += pad[idx];
        } else if (pad[idx] != 0) {
            all_non_positive = false;
        }
        if (pad[idx + 1] < 0) {
            if (narrow_check(cur, 0, cur + pad[idx + 1]) != CNNC_OK) return CNNC_ERR_INVALID_ARGUMENT;
        } else if (pad[idx + 1] != 0) {
            all_non_positive = false;
        }
    }
    for (int i = 0; i < l_pad; i++) {
        int d = l_diff + i, idx = npad - (i + 1) * 2;
        int64_t nd;
        if (!cnnc__add_i64(x->shape[d], pad[idx], &nd) || !cnnc__add_i64(nd, pad[idx + 1], &nd))
            return cnnc__error(CNNC_ERR_OUT_OF_MEMORY, "pad(): output size overflows");
        if (!all_non_positive && nd <= 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "The input size %lld, plus negative padding %lld and %lld resulted in a "
                               "negative output size, which is invalid. Check dimension %d of your "
                               "input.", (long long)x->shape[d], (long long)pad[idx],
                               (long long)pad[idx + 1], d);
        p->out_shape[d] = nd;
        p->pl[i] = pad[idx];
        p->pr[i] = pad[idx + 1];
    }
    return CNNC_OK;
}

/* reflect/replicate/circular: the padded dims are the last k = npad / 2. */
static void fill_spatial(const cnnc_tensor *x, int k, const int64_t *pad, pad_plan *p) {
    p->k = k;
    for (int i = 0; i < k; i++) {
        int d = x->ndim - k + i, idx = 2 * (k - 1 - i);
        p->pl[i] = pad[idx];
        p->pr[i] = pad[idx + 1];
        p->out_shape[d] = x->shape[d] + pad[idx] + pad[idx + 1];
    }
}

static cnnc_status check_negative(const pad_plan *p) {
    for (int d = 0; d < p->ndim; d++)
        if (p->out_shape[d] < 0) {
            char s[256];
            cnnc__shape_str(s, sizeof s, p->ndim, p->out_shape);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "Trying to create tensor with negative dimension %lld: %s",
                               (long long)p->out_shape[d], s);
        }
    return CNNC_OK;
}

#define SZ(d) ((long long)x->shape[d])
#define OUT(d) ((long long)p->out_shape[d])

static cnnc_status plan_reflect(const cnnc_tensor *x, int k, const int64_t *pad, pad_plan *p) {
    int nd = x->ndim;
    char ts[256], s[256];
    torch_tensor_str(ts, sizeof ts, x);
    cnnc__shape_str(s, sizeof s, nd, x->shape);
    if (k == 1 && !((nd == 2 && x->shape[1] != 0) || (nd == 3 && x->shape[1] != 0 && x->shape[2] != 0)))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "2D or 3D (batch mode) tensor expected for input, but got: %s", ts);
    if (k == 2) {
        bool valid = x->shape[1] != 0 && x->shape[2] != 0;
        if (!((nd == 3 && valid) || (nd == 4 && valid && x->shape[3] != 0)))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "3D or 4D (batch mode) tensor expected for input, but got: %s", ts);
    }
    if (k == 3) {
        bool valid = x->shape[1] != 0 && x->shape[2] != 0 && x->shape[3] != 0;
        if (!((nd == 4 && x->shape[0] != 0 && valid) || (nd == 5 && valid && x->shape[4] != 0)))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "Expected 4D or 5D (batch mode) tensor with possibly 0 batch size and "
                               "other non-zero dimensions for input, but got: %s", s);
    }
    fill_spatial(x, k, pad, p);
    /* pads are checked from the last dim (Argument #4) forward (#6, #8) */
    for (int j = 0; j < k; j++) {
        int d = nd - 1 - j;
        int64_t l = pad[2 * j], r = pad[2 * j + 1];
        if (!(l < x->shape[d] && r < x->shape[d])) {
            if (k == 2)
                return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                                   "Argument #%d: Padding size should be less than the corresponding "
                                   "input dimension, but got: padding (%lld, %lld) at dimension %d of "
                                   "input %d", 4 + 2 * j, (long long)l, (long long)r, d, nd);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "Argument #%d: Padding size should be less than the corresponding "
                               "input dimension, but got: padding (%lld, %lld) at dimension %d of "
                               "input %s", 4 + 2 * j, (long long)l, (long long)r, d, s);
        }
    }
    if (k == 1 && OUT(nd - 1) < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "2input (W: %lld)is too small. Calculated output W: %lld",
                           SZ(nd - 1), OUT(nd - 1));
    if (k == 2 && OUT(nd - 1) < 1 && OUT(nd - 2) < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "input (H: %lld, W: %lld)is too small.  Calculated output H: %lld W: %lld",
                           SZ(nd - 2), SZ(nd - 1), OUT(nd - 2), OUT(nd - 1));
    if (k == 3 && OUT(nd - 1) < 1 && OUT(nd - 2) < 1 && OUT(nd - 3) < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "input (D: %lld H: %lld, W: %lld) is too small. Calculated output D: %lld "
                           "H: %lld W: %lld", SZ(nd - 3), SZ(nd - 2), SZ(nd - 1), OUT(nd - 3),
                           OUT(nd - 2), OUT(nd - 1));
    return check_negative(p);
}

static cnnc_status plan_replicate(const cnnc_tensor *x, int k, const int64_t *pad, pad_plan *p) {
    int nd = x->ndim;
    char s[256];
    cnnc__shape_str(s, sizeof s, nd, x->shape);
    bool ok;
    if (k == 1)
        ok = (nd == 2 && x->shape[0] != 0 && x->shape[1] != 0) ||
             (nd == 3 && x->shape[1] != 0 && x->shape[2] != 0);
    else if (k == 2)
        ok = (nd == 3 && x->shape[0] != 0 && x->shape[1] != 0 && x->shape[2] != 0) ||
             (nd == 4 && x->shape[1] != 0 && x->shape[2] != 0 && x->shape[3] != 0);
    else
        ok = (nd == 4 && x->shape[0] != 0 && x->shape[1] != 0 && x->shape[2] != 0 && x->shape[3] != 0) ||
             (nd == 5 && x->shape[1] != 0 && x->shape[2] != 0 && x->shape[3] != 0 && x->shape[4] != 0);
    if (!ok)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Expected %dD or %dD (batch mode) tensor with possibly 0 batch size and "
                           "other non-zero dimensions for input, but got: %s", k + 1, k + 2, s);
    fill_spatial(x, k, pad, p);
    if (k == 1 && OUT(nd - 1) < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "input (W: %lld) is too small. Calculated output W: %lld",
                           SZ(nd - 1), OUT(nd - 1));
    if (k == 2 && OUT(nd - 1) < 1 && OUT(nd - 2) < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "input (H: %lld, W: %lld ) is too small. Calculated output H: %lld W: %lld",
                           SZ(nd - 2), SZ(nd - 1), OUT(nd - 2), OUT(nd - 1));
    if (k == 3 && OUT(nd - 1) < 1 && OUT(nd - 2) < 1 && OUT(nd - 3) < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "input (D: %lld H: %lld, W: %lld) is too small. Calculated output D: %lld "
                           "H: %lld W: %lld", SZ(nd - 3), SZ(nd - 2), SZ(nd - 1), OUT(nd - 3),
                           OUT(nd - 2), OUT(nd - 1));
    return check_negative(p);
}

static cnnc_status plan_circular(const cnnc_tensor *x, int npad, const int64_t *pad, pad_plan *p) {
    int nd = x->ndim;
    if (npad + 4 != nd * 2)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "Invalid padding size, expected %d but got %d",
                           (nd - 2) * 2, npad);
    int nsp = nd - 2;
    fill_spatial(x, nsp, pad, p);
    for (int i = 0; i < nsp; i++) {
        int64_t l = pad[2 * (nsp - i - 1)], r = pad[2 * (nsp - i - 1) + 1], size = x->shape[2 + i];
        if (!(l <= size && r <= size))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "Padding value causes wrapping around more than once.");
        if (p->out_shape[2 + i] < 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "Negative padding value is resulting in an empty dimension");
    }
    return CNNC_OK;
}

#undef SZ
#undef OUT

/* ---- the op ---------------------------------------------------------------------- */

cnnc_tensor *cnnc__op_pad(cnnc_tensor *x, int npad, const int64_t *pad, cnnc_pad_mode mode,
                          double value) {
    if (cnnc__check_tensor("pad", "input", x, true) != CNNC_OK) return NULL;
    if ((int)mode < 0 || mode >= CNNC_PAD_MODE_COUNT)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "pad(): invalid padding mode %d", (int)mode);
    if (npad < 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "pad(): npad must be >= 0, got %d", npad);
    if (npad > 0 && !pad) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "pad(): argument 'pad' is NULL");
    if (npad % 2 != 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Padding length must be divisible by 2");
    if (npad > x->ndim * 2) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "Padding length too large");
    for (int i = 0; i < npad; i++)
        if (pad[i] > ((int64_t)1 << 48) || pad[i] < -((int64_t)1 << 48))
            return cnnc__error_null(CNNC_ERR_OUT_OF_MEMORY, "pad(): padding %lld is too large",
                                    (long long)pad[i]);
    pad_plan p;
    memset(&p, 0, sizeof p);
    p.mode = mode;
    p.ndim = x->ndim;
    memcpy(p.in_shape, x->shape, sizeof p.in_shape);
    memcpy(p.out_shape, x->shape, sizeof p.out_shape);
    cnnc_status st;
    if (mode == CNNC_PAD_CONSTANT) {
        st = plan_constant(x, npad, pad, &p);
    } else {
        if (value != 0.0)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Padding mode \"%s\" doesn't take in value argument", mode_names[mode]);
        int nd = x->ndim, k = npad / 2;
        bool ok = (k == 1 && (nd == 2 || nd == 3)) || (k == 2 && (nd == 3 || nd == 4)) ||
                  (k == 3 && (nd == 4 || nd == 5));
        if (!ok)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "Only 2D, 3D, 4D, 5D padding with non-constant padding are supported "
                                    "for now");
        st = mode == CNNC_PAD_REFLECT     ? plan_reflect(x, k, pad, &p)
             : mode == CNNC_PAD_REPLICATE ? plan_replicate(x, k, pad, &p)
                                          : plan_circular(x, npad, pad, &p);
    }
    if (st != CNNC_OK) return NULL;
    int64_t numel;
    if (cnnc__check_shape("pad", p.ndim, p.out_shape, CNNC_FLOAT32, &numel) != CNNC_OK) return NULL;
    cnnc_tensor *out = cnnc__tensor_new(CNNC_FLOAT32, p.ndim, p.out_shape);
    if (!out) return NULL;
    if (numel > 0 && pad_compute(&p, cnnc__f32(out), cnnc__f32(x), (float)value) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    pad_ctx *c = NULL;
    if (cnnc__record(out, node_name(mode, p.k), pad_backward, 1, &x, 0, NULL, sizeof *c,
                     (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) c->plan = p;
    return out;
}

cnnc_tensor *cnnc_pad(cnnc_tensor *x, int npad, const int64_t *pad, cnnc_pad_mode mode, double value) {
    return cnnc__give(cnnc__op_pad(x, npad, pad, mode, value));
}
