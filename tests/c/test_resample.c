/* The resample family: padding and interpolation kernels (fast against the
 * reference on randomized geometries), the ops through the public API (values,
 * gradients, errors), and the modules (reprs, attributes). Expected texts are
 * PyTorch 1.13's. */
#include "check.h"

#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/interp.h"
#include "kernels/pad.h"

static uint64_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static int64_t rint_(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rfloat(void) { return (float)rnd() / 4294967296.0f * 2.0f - 1.0f; }

/* ---- kernels ------------------------------------------------------------------------ */

static void test_pad_kernels_match_reference(void) {
    for (int iter = 0; iter < 200; iter++) {
        cnnc__pad_geom g;
        memset(&g, 0, sizeof g);
        g.k = (int)rint_(1, 3);
        g.outer = rint_(1, 4);
        int64_t maps[3][16];
        int64_t in_n = g.outer, out_n = g.outer;
        for (int i = 0; i < g.k; i++) {
            g.in[i] = rint_(1, 6);
            g.out[i] = rint_(1, 12);
            int64_t pl = rint_(-g.in[i] - 2, g.out[i] + 2); /* middle runs may be empty */
            for (int64_t o = 0; o < g.out[i]; o++) {
                int64_t s = o - pl;
                maps[i][o] = (s >= 0 && s < g.in[i] && rnd() % 2) ? s : (int64_t)rint_(-1, g.in[i] - 1);
            }
            if (i == g.k - 1) { /* the last dim's middle run must be a straight copy */
                g.shift = pl;
                g.mid_b = pl > 0 ? pl : 0;
                if (g.mid_b > g.out[i]) g.mid_b = g.out[i];
                g.mid_e = g.in[i] + pl < g.out[i] ? g.in[i] + pl : g.out[i];
                if (g.mid_e < g.mid_b) g.mid_e = g.mid_b;
                for (int64_t o = g.mid_b; o < g.mid_e; o++) maps[i][o] = o - pl;
            }
            g.map[i] = maps[i];
            in_n *= g.in[i];
            out_n *= g.out[i];
        }
        float *x = malloc((size_t)in_n * sizeof(float)), *a = malloc((size_t)out_n * sizeof(float)),
              *b = malloc((size_t)out_n * sizeof(float));
        float *ga = malloc((size_t)in_n * sizeof(float)), *gb = malloc((size_t)in_n * sizeof(float));
        REQUIRE(x && a && b && ga && gb);
        for (int64_t i = 0; i < in_n; i++) x[i] = rfloat();
        cnnc__k_pad_ref(a, x, &g, 0.25f);
        int64_t rows = cnnc__pad_rows(&g), split = rint_(0, rows);
        cnnc__k_pad_rows(b, x, &g, 0.25f, 0, split); /* two ranges, as threads would */
        cnnc__k_pad_rows(b, x, &g, 0.25f, split, rows);
        CHECK_FLOATS_NEAR(b, a, out_n, 0.0);
        for (int64_t i = 0; i < out_n; i++) a[i] = rfloat();
        cnnc__k_pad_backward_ref(ga, a, &g);
        int64_t s2 = rint_(0, g.outer);
        cnnc__k_pad_backward_outer(gb, a, &g, 0, s2);
        cnnc__k_pad_backward_outer(gb, a, &g, s2, g.outer);
        CHECK_FLOATS_NEAR(gb, ga, in_n, 1e-5);
        free(x), free(a), free(b), free(ga), free(gb);
    }
}

/* An interpolation's buffers: input and its gradients (x, ga, gb: in_n floats), outputs
 * (a, b, gy: out_n), both paths' scratch. */
typedef struct interp_bufs {
    float *x, *a, *b, *gy, *ga, *gb, *scratch;
} interp_bufs;

static void bufs_free(interp_bufs *u) {
    free(u->x), free(u->a), free(u->b), free(u->gy), free(u->ga), free(u->gb), free(u->scratch);
}

/* false (nothing kept) when out of memory */
static bool bufs_new(interp_bufs *u, const cnnc__interp_geom *g, int64_t in_n, int64_t out_n) {
    const int64_t sc = cnnc__interp_scratch_floats(g) + cnnc__interp_backward_scratch_floats(g);
    float **in[] = {&u->x, &u->ga, &u->gb}, **out[] = {&u->a, &u->b, &u->gy};
    for (int i = 0; i < 3; i++) *in[i] = malloc((size_t)in_n * sizeof(float));
    for (int i = 0; i < 3; i++) *out[i] = malloc((size_t)out_n * sizeof(float));
    u->scratch = malloc((size_t)sc * sizeof(float));
    if (u->x && u->a && u->b && u->gy && u->ga && u->gb && u->scratch) return true;
    bufs_free(u);
    return false;
}

static void test_interp_kernels_match_reference(void) {
    static const int taps_choice[] = {1, 2, 4, 5};
    for (int iter = 0; iter < 200; iter++) {
        cnnc__interp_geom g;
        memset(&g, 0, sizeof g);
        g.nd = (int)rint_(1, 3);
        g.planes = rint_(1, 4);
        g.nearest = rnd() % 4 == 0;
        int64_t idx[3][64];
        float w[3][64];
        int32_t count[3][16];
        int64_t in_n = g.planes, out_n = g.planes;
        for (int i = 0; i < g.nd; i++) {
            cnnc__interp_dim *d = &g.d[i];
            d->in = rint_(1, 7);
            d->out = rint_(1, 10);
            d->taps = g.nearest ? 1 : taps_choice[rnd() % 4];
            for (int64_t k = 0; k < d->out * d->taps; k++) {
                idx[i][k] = rint_(0, d->in - 1);
                w[i][k] = g.nearest ? 1.0f : rfloat();
            }
            d->idx = idx[i];
            d->w = w[i];
            if (!g.nearest && rnd() % 2) { /* antialias-style: fewer taps at some positions */
                for (int64_t o = 0; o < d->out; o++) {
                    count[i][o] = (int32_t)rint_(1, d->taps);
                    for (int t = count[i][o]; t < d->taps; t++) w[i][o * d->taps + t] = 1e30f;
                }
                d->count = count[i];
            }
            in_n *= d->in;
            out_n *= d->out;
        }
        interp_bufs u;
        REQUIRE(bufs_new(&u, &g, in_n, out_n));
        float *x = u.x, *a = u.a, *b = u.b, *ga = u.ga, *gb = u.gb, *scratch = u.scratch;
        for (int64_t i = 0; i < in_n; i++) x[i] = rfloat();
        cnnc__k_interp_ref(a, x, &g);
        int64_t rows = cnnc__interp_rows(&g), split = rint_(0, rows);
        cnnc__k_interp_rows(b, x, &g, scratch, 0, split);
        cnnc__k_interp_rows(b, x, &g, scratch, split, rows);
        CHECK_FLOATS_NEAR(b, a, out_n, 1e-4);
        for (int64_t i = 0; i < out_n; i++) a[i] = rfloat();
        cnnc__k_interp_backward_ref(ga, a, &g);
        int64_t s2 = rint_(0, g.planes);
        cnnc__k_interp_backward_planes(gb, a, &g, scratch, 0, s2);
        cnnc__k_interp_backward_planes(gb, a, &g, scratch, s2, g.planes);
        CHECK_FLOATS_NEAR(gb, ga, in_n, 2e-3); /* sums of up to ~100 terms of size ~1 */
        bufs_free(&u);
    }
}

/* A linear dim's table as upsample.c builds it for align_corners=False and scale
 * in / out (aten's source index in double, weights in float). */
static void linear_table(int64_t in, int64_t out, int64_t *idx, float *w) {
    const float scale = (float)in / (float)out;
    for (int64_t o = 0; o < out; o++) {
        double real = (double)scale * ((double)o + 0.5) - 0.5;
        if (real < 0.0) real = 0.0;
        int64_t i0 = (int64_t)real < in - 1 ? (int64_t)real : in - 1;
        float l1 = (float)(real - (double)i0);
        l1 = l1 < 0.0f ? 0.0f : l1 > 1.0f ? 1.0f : l1;
        idx[2 * o] = i0;
        idx[2 * o + 1] = i0 + (i0 < in - 1 ? 1 : 0);
        w[2 * o] = 1.0f - l1;
        w[2 * o + 1] = l1;
    }
}

/* a and b bit for bit, but that a NaN may be either NaN (which of two NaNs an addition
 * returns is the compiler's choice of operand order, in either path) */
static bool same_bits(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0 && !(isnan(a[i]) && isnan(b[i]))) return false;
    return true;
}

/* Linear x2 along the last dim takes a path of its own (interp.c); with `count` set to
 * 2 everywhere the same table goes the generic way, whose bits it must give, forward and
 * backward, Inf, -0 and where the NaNs are included. */
static void test_interp_linear_x2_matches_generic(void) {
    for (int iter = 0; iter < 60; iter++) {
        cnnc__interp_geom g;
        memset(&g, 0, sizeof g);
        g.nd = (int)rint_(1, 2);
        g.planes = rint_(1, 5);
        static int64_t idx[2][2 * 96];
        static float w[2][2 * 96];
        static int32_t two[96];
        for (int k = 0; k < 96; k++) two[k] = 2;
        int64_t in_n = g.planes, out_n = g.planes;
        for (int i = 0; i < g.nd; i++) {
            cnnc__interp_dim *d = &g.d[i];
            d->in = rint_(1, 48);
            d->out = i == g.nd - 1 || rnd() % 2 ? 2 * d->in : rint_(1, 96); /* last dim x2 */
            d->taps = 2;
            linear_table(d->in, d->out, idx[i], w[i]);
            d->idx = idx[i];
            d->w = w[i];
            in_n *= d->in;
            out_n *= d->out;
        }
        interp_bufs u;
        REQUIRE(bufs_new(&u, &g, in_n, out_n));
        static const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f};
        for (int64_t i = 0; i < in_n; i++) u.x[i] = rnd() % 16 ? rfloat() : special[rnd() % 5];
        for (int64_t i = 0; i < out_n; i++) u.gy[i] = rnd() % 16 ? rfloat() : special[rnd() % 5];
        const int64_t rows = cnnc__interp_rows(&g);
        cnnc__k_interp_rows(u.a, u.x, &g, u.scratch, 0, rows); /* x2 path (when in >= 4) */
        cnnc__k_interp_backward_planes(u.ga, u.gy, &g, u.scratch, 0, g.planes);
        g.d[g.nd - 1].count = two; /* the generic path */
        cnnc__k_interp_rows(u.b, u.x, &g, u.scratch, 0, rows);
        cnnc__k_interp_backward_planes(u.gb, u.gy, &g, u.scratch, 0, g.planes);
        CHECK(same_bits(u.a, u.b, out_n));
        CHECK(same_bits(u.ga, u.gb, in_n));
        bufs_free(&u);
    }
}

/* ---- ops ----------------------------------------------------------------------------- */

static void test_pad_values_and_grad(void) {
    cnnc_scope_begin();
    float v[6] = {1, 2, 3, 4, 5, 6};
    cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(1, 2, 3), CNNC_FLOAT32, v);
    REQUIRE(x);
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    cnnc_tensor *y = cnnc_pad(x, 2, (const int64_t[]){2, 1}, CNNC_PAD_REFLECT, 0.0);
    REQUIRE(y);
    const float want[12] = {3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5};
    CHECK_EQ_INT(cnnc_tensor_size(y, 2), 6);
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), want, 12, 0.0);
    CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false));
    const float gwant[6] = {1, 3, 2, 1, 3, 2};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(cnnc_tensor_grad(x)), gwant, 6, 0.0);
    cnnc_tensor *c = cnnc_pad(x, 2, (const int64_t[]){-1, 2}, CNNC_PAD_CONSTANT, 9.0);
    REQUIRE(c);
    const float cwant[8] = {2, 3, 9, 9, 5, 6, 9, 9};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(c), cwant, 8, 0.0);
    cnnc_tensor *r = cnnc_pad(x, 2, (const int64_t[]){1, 2}, CNNC_PAD_CIRCULAR, 0.0);
    REQUIRE(r);
    const float rwant[12] = {3, 1, 2, 3, 1, 2, 6, 4, 5, 6, 4, 5};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(r), rwant, 12, 0.0);
    cnnc_scope_end();
}

static void test_pad_errors(void) {
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(2, 3, 5), CNNC_FLOAT32);
    REQUIRE(x);
    CHECK_TENSOR_ERR(cnnc_pad(NULL, 2, (const int64_t[]){1, 1}, CNNC_PAD_CONSTANT, 0));
    CHECK_TENSOR_ERR(cnnc_pad(x, 2, NULL, CNNC_PAD_CONSTANT, 0));
    CHECK_TENSOR_ERR(cnnc_pad(x, -2, (const int64_t[]){1, 1}, CNNC_PAD_CONSTANT, 0));
    CHECK_TENSOR_ERR(cnnc_pad(x, 2, (const int64_t[]){1, 1}, (cnnc_pad_mode)77, 0));
    CHECK_TENSOR_ERR(cnnc_pad(x, 1, (const int64_t[]){1}, CNNC_PAD_CONSTANT, 0));
    CHECK_ERROR_CONTAINS("Padding length must be divisible by 2");
    CHECK_TENSOR_ERR(cnnc_pad(x, 8, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}, CNNC_PAD_CONSTANT, 0));
    CHECK_ERROR_CONTAINS("Padding length too large");
    CHECK_TENSOR_ERR(cnnc_pad(x, 2, (const int64_t[]){5, 0}, CNNC_PAD_REFLECT, 0));
    CHECK_ERROR_CONTAINS("Padding size should be less than the corresponding input dimension");
    CHECK_TENSOR_ERR(cnnc_pad(x, 2, (const int64_t[]){1, 1}, CNNC_PAD_REPLICATE, 1.5));
    CHECK_ERROR_CONTAINS("doesn't take in value argument");
    CHECK_TENSOR_ERR(cnnc_pad(x, 2, (const int64_t[]){INT64_MAX, 1}, CNNC_PAD_CONSTANT, 0));
    CHECK_TENSOR_ERR(cnnc_pad(x, 2, (const int64_t[]){INT64_MIN, 1}, CNNC_PAD_CONSTANT, 0));
    cnnc_pad_mode m;
    CHECK_ERR(cnnc_pad_mode_from_string("bad", &m));
    CHECK_ERROR_CONTAINS("Unrecognised padding mode bad");
    CHECK_OK(cnnc_pad_mode_from_string("circular", &m));
    CHECK_EQ_INT(m, CNNC_PAD_CIRCULAR);
    CHECK_STR_EQ(cnnc_pad_mode_name(CNNC_PAD_REPLICATE), "replicate");
    CHECK_NULL_ERR(cnnc_pad_mode_name(CNNC_PAD_MODE_COUNT));
    cnnc_tensor *i = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_INT64);
    CHECK_TENSOR_ERR(cnnc_pad(i, 2, (const int64_t[]){1, 1}, CNNC_PAD_CONSTANT, 0));
    cnnc_tensor_release(i);
    cnnc_tensor_release(x);
}

static void test_interpolate_values_and_grad(void) {
    cnnc_scope_begin();
    float v[4] = {1, 2, 3, 4};
    cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(1, 1, 2, 2), CNNC_FLOAT32, v);
    REQUIRE(x);
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    cnnc_tensor *y = cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "bilinear",
                                                          .align_corners = 1));
    REQUIRE(y);
    const float want[9] = {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(y), want, 9, 1e-6);
    CHECK_OK(cnnc_backward(cnnc_sum(y), NULL, false));
    const float gwant[4] = {2.25f, 2.25f, 2.25f, 2.25f};
    CHECK_FLOATS_NEAR(cnnc_tensor_data_f32(cnnc_tensor_grad(x)), gwant, 4, 1e-6);
    cnnc_tensor *n = cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(2.0)));
    REQUIRE(n);
    CHECK_EQ_INT(cnnc_tensor_size(n, 3), 4);
    CHECK_NEAR(cnnc_tensor_data_f32(n)[5], 1.0, 0);
    CHECK_NEAR(cnnc_tensor_data_f32(n)[10], 4.0, 0);
    cnnc_tensor *a = cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(1), .mode = "area"));
    REQUIRE(a);
    CHECK_NEAR(cnnc_tensor_data_f32(a)[0], 2.5, 1e-6);
    cnnc_tensor *aa = cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(1, 1), .mode = "bicubic",
                                                           .antialias = true));
    REQUIRE(aa);
    cnnc_scope_end();
}

static void test_interpolate_errors(void) {
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(1, 2, 3), CNNC_FLOAT32);
    REQUIRE(x);
    CHECK_TENSOR_ERR(cnnc_interpolate(NULL, CNNC_INTERPOLATE(.size = CNNC_INTS(3))));
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE()));
    CHECK_ERROR_CONTAINS("either size or scale_factor should be defined");
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3),
                                                          .scale_factor = CNNC_DOUBLES(2.0))));
    CHECK_ERROR_CONTAINS("only one of size or scale_factor");
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .align_corners = 1)));
    CHECK_ERROR_CONTAINS("align_corners option can only be set");
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "bilinear")));
    CHECK_ERROR_CONTAINS("Got 3D input, but bilinear mode needs 4D input");
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "nope")));
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(0))));
    CHECK_ERROR_CONTAINS("Input and output sizes should be greater than 0");
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(NAN))));
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(1e300))));
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(INT64_MAX))));
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .align_corners = 5)));
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = {.n = 99})));
    CHECK_TENSOR_ERR(cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .antialias = true)));
    CHECK_ERROR_CONTAINS("Anti-alias option is only supported");
    cnnc_tensor_release(x);
}

/* ---- modules ---------------------------------------------------------------------------- */

#define CHECK_REPR(m, want)                  \
    do {                                     \
        char *check_r = cnnc_module_repr(m); \
        CHECK_STR_EQ(check_r, want);         \
        cnnc_free(check_r);                  \
    } while (0)

static void test_modules(void) {
    cnnc_module *m = cnnc_reflectionpad2d_new((cnnc_ints)CNNC_INTS(2));
    REQUIRE(m);
    CHECK_REPR(m, "ReflectionPad2d((2, 2, 2, 2))");
    cnnc_value v;
    CHECK_OK(cnnc_module_attr(m, "padding", &v));
    CHECK_EQ_INT(v.n, 4);
    cnnc_module_release(m);
    m = cnnc_constantpad1d_new((cnnc_ints)CNNC_INTS(1, -2), 3.5);
    REQUIRE(m);
    CHECK_REPR(m, "ConstantPad1d(padding=(1, -2), value=3.5)");
    cnnc_module_release(m);
    m = cnnc_zeropad2d_new((cnnc_ints)CNNC_INTS(1, 0, 2, 0));
    CHECK_REPR(m, "ZeroPad2d((1, 0, 2, 0))");
    cnnc_module_release(m);
    CHECK_NULL_ERR(cnnc_replicationpad3d_new((cnnc_ints)CNNC_INTS_NONE));
    m = cnnc_upsample_new(CNNC_UPSAMPLE(.scale_factor = CNNC_DOUBLES(2.0)));
    REQUIRE(m);
    CHECK_REPR(m, "Upsample(scale_factor=2.0, mode=nearest)");
    CHECK_OK(cnnc_module_attr(m, "name", &v));
    CHECK_STR_EQ(v.s, "Upsample");
    CHECK_OK(cnnc_module_attr(m, "scale_factor", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_FLOAT);
    CHECK_NEAR(v.f, 2.0, 0);
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(1, 16, 7, 7));
    cnnc_tensor *y = cnnc_module_forward(m, x);
    REQUIRE(y);
    CHECK_EQ_INT(cnnc_tensor_size(y, 3), 14);
    cnnc_scope_end();
    cnnc_module_release(m);
    m = cnnc_upsample_new(CNNC_UPSAMPLE(.size = CNNC_INTS(3, 4), .mode = "bilinear"));
    CHECK_REPR(m, "Upsample(size=(3, 4), mode=bilinear)");
    cnnc_module_release(m);
    m = cnnc_upsample_new(CNNC_UPSAMPLE(.scale_factor = CNNC_DOUBLES(1.5, 0.1)));
    CHECK_REPR(m, "Upsample(scale_factor=(1.5, 0.1), mode=nearest)");
    CHECK_OK(cnnc_module_attr(m, "scale_factor", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_FLOATS);
    CHECK_EQ_INT(v.n, 2);
    CHECK_NEAR(v.fs[1], 0.1, 0);
    cnnc_module_release(m);
    m = cnnc_upsamplingbilinear2d_new((cnnc_ints)CNNC_INTS_NONE, (cnnc_doubles)CNNC_DOUBLES(3.0));
    CHECK_REPR(m, "UpsamplingBilinear2d(scale_factor=3.0, mode=bilinear)");
    CHECK_OK(cnnc_module_attr(m, "align_corners", &v));
    CHECK_EQ_INT(v.kind, CNNC_VALUE_BOOL);
    cnnc_module_release(m);
    CHECK_NULL_ERR(cnnc_upsample_new(CNNC_UPSAMPLE(.scale_factor = CNNC_DOUBLES(2.0), .mode = "cubic")));
}

int main(void) {
    RUN_TEST(test_pad_kernels_match_reference);
    RUN_TEST(test_interp_kernels_match_reference);
    RUN_TEST(test_interp_linear_x2_matches_generic);
    RUN_TEST(test_pad_values_and_grad);
    RUN_TEST(test_pad_errors);
    RUN_TEST(test_interpolate_values_and_grad);
    RUN_TEST(test_interpolate_errors);
    RUN_TEST(test_modules);
    return check_summary();
}
