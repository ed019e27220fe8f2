/* softmax / log_softmax over contiguous rows (inner == 1, the fast kernels' lane
 * path of row_reduce.h) at every ISA level this CPU runs, against the reference
 * kernel (plain double sums, libm): every row length 1..300 and a few long ones
 * (several 256-element chunks and their tails), forward and backward, with edge rows
 * (-inf entries, all -inf, NaN, +inf, huge magnitudes, a large offset, results down
 * to the subnormal range). Tolerances follow the error of float lane sums and a
 * 2-ulp exp and log: for rows up to 300 long, a hundred times and more below what
 * losing one element of a row does. The column path (inner > 1) cut into column
 * ranges of several sizes: the bits of one whole call, close to the reference.
 * Then the ops at 1 and 2 threads: the same bits, and close to the reference. */
#include "check.h"

#include "kernels/activation.h"
#include "kernels/isa.h"

static uint64_t lcg_state = 4242;
static double urand(void) { /* [0, 1) */
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) * 0x1.0p-53;
}

/* |a - b| <= tol, NaN matching NaN, infinities equal */
static bool within(float a, float b, double tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs((double)a - (double)b) <= tol;
}

enum { KIND_PLAIN, KIND_NEG_INF, KIND_ALL_NEG_INF, KIND_NAN, KIND_POS_INF, KIND_HUGE,
       KIND_OFFSET, KIND_TINY, KIND_COUNT };

/* a row x[dim] of kind k; scale 1 keeps every element's share of the sum above
 * e^-2 / dim, so a lost element shows */
static void fill_row(float *x, int64_t dim, int kind) {
    const double scale = kind == KIND_PLAIN && urand() < 0.3 ? 30.0 : 1.0;
    for (int64_t d = 0; d < dim; d++) x[d] = (float)((urand() * 2 - 1) * scale);
    const int64_t at = (int64_t)(urand() * (double)dim), last = dim - 1;
    switch (kind) {
    case KIND_NEG_INF: /* a few, one of them in the last (masked) block */
        x[at] = x[last] = x[(at + dim / 2) % dim] = -INFINITY;
        if (dim > 1) x[0] = 0.5f;
        break;
    case KIND_ALL_NEG_INF:
        for (int64_t d = 0; d < dim; d++) x[d] = -INFINITY;
        break;
    case KIND_NAN: x[urand() < 0.5 ? at : last] = NAN; break;
    case KIND_POS_INF: x[at] = INFINITY; break;
    case KIND_HUGE: /* x - m overflows to -inf for some; the max stays finite */
        for (int64_t d = 0; d < dim; d++) x[d] = (float)((urand() * 2 - 1) * 3e38);
        x[at] = 1e30f;
        break;
    case KIND_OFFSET:
        for (int64_t d = 0; d < dim; d++) x[d] += 1e4f;
        break;
    case KIND_TINY: /* e^(x - m) near and below FLT_MIN: subnormal results */
        for (int64_t d = 0; d < dim; d++) x[d] = (float)(-80.0 - urand() * 24.0);
        x[at] = 0.0f;
        break;
    default: break;
    }
}

/* fast forward against the reference; b: the reference result (kept for backward) */
static bool forward_close(bool log, const float *a, const float *b, int64_t dim) {
    float top = 0.0f; /* log_softmax: the largest output, minus the log of the sum */
    for (int64_t d = 0; d < dim && log; d++) top = b[d] > top || d == 0 ? b[d] : top;
    for (int64_t d = 0; d < dim; d++) {
        /* softmax: relative (exp, the sum, 1/sum); log_softmax: the log-sum's error
         * (the sum's relative one, log's ulps), then the final rounding; 1e-43:
         * subnormal results */
        const double tol = log ? 2e-6 + 5e-7 * fabs((double)top) + 2.4e-7 * fabs((double)b[d])
                               : 2e-6 * fabs((double)b[d]) + 1e-43;
        if (!within(a[d], b[d], tol)) {
            fprintf(stderr, "  %s dim %lld at %lld: fast %.9g ref %.9g\n",
                    log ? "log_softmax" : "softmax", (long long)dim, (long long)d, a[d], b[d]);
            return false;
        }
    }
    return true;
}

/* fast backward against the reference from the same y (the reference result) */
static bool backward_close(bool log, const float *a, const float *b, const float *g,
                           const float *y, int64_t dim) {
    double s = 0.0; /* the row's sum of magnitudes: the scale of a float lane sum's error */
    for (int64_t d = 0; d < dim; d++) s += fabs(log ? (double)g[d] : (double)g[d] * y[d]);
    for (int64_t d = 0; d < dim; d++) {
        const double p = log ? exp((double)y[d]) : fabs((double)y[d]);
        const double tol = 2e-6 * ((log ? 1.0 : p) * fabs((double)g[d]) + p * s) + 1e-43;
        if (!within(a[d], b[d], isfinite(tol) ? tol : 0.0)) {
            fprintf(stderr, "  %s backward dim %lld at %lld: fast %.9g ref %.9g\n",
                    log ? "log_softmax" : "softmax", (long long)dim, (long long)d, a[d], b[d]);
            return false;
        }
    }
    return true;
}

typedef struct {
    float *x, *g, *a, *b, *ga, *gb;
} rows_bufs;

/* rows [dim] x outer of one kind through level isa and the reference; false on the
 * first mismatch (reported) */
static bool rows_vs_reference(cnnc__isa isa, const rows_bufs *r, int64_t outer, int64_t dim,
                              int kind) {
    for (int64_t o = 0; o < outer; o++) fill_row(r->x + o * dim, dim, o == 0 ? kind : KIND_PLAIN);
    for (int64_t i = 0; i < outer * dim; i++) /* huge gradients in the huge rows only */
        r->g[i] = kind == KIND_HUGE && i < dim && urand() < 0.1 ? 1e30f : (float)(urand() * 2 - 1);
    for (int log = 0; log < 2; log++) {
        cnnc__k_softmax(isa, log, r->a, r->x, dim, 1, 0, outer, 0, 1);
        cnnc__k_softmax_ref(log, r->b, r->x, dim, 1, 0, outer, 0, 1);
        cnnc__k_softmax_backward(isa, log, r->ga, r->g, r->b, dim, 1, 0, outer, 0, 1);
        cnnc__k_softmax_backward_ref(log, r->gb, r->g, r->b, dim, 1, 0, outer, 0, 1);
        for (int64_t o = 0; o < outer; o++) {
            const int64_t off = o * dim;
            if (!forward_close(log, r->a + off, r->b + off, dim) ||
                !backward_close(log, r->ga + off, r->gb + off, r->g + off, r->b + off, dim)) {
                fprintf(stderr, "  level %s, row %lld of kind %d\n", cnnc__isa_name(isa),
                        (long long)o, o == 0 ? kind : KIND_PLAIN);
                return false;
            }
        }
        /* a range of rows not starting at row 0 (as threads split them): the same bits */
        if (outer > 1) {
            cnnc__k_softmax(isa, log, r->b, r->x, dim, 1, 1, outer, 0, 1);
            cnnc__k_softmax_backward(isa, log, r->gb, r->g, r->b, dim, 1, 1, outer, 0, 1);
            cnnc__k_softmax_backward(isa, log, r->ga, r->g, r->a, dim, 1, 0, outer, 0, 1);
            const size_t bytes = (size_t)((outer - 1) * dim) * sizeof(float);
            if (memcmp(r->a + dim, r->b + dim, bytes) || memcmp(r->ga + dim, r->gb + dim, bytes))
                return false;
        }
    }
    return true;
}

static void test_rows_fast_vs_reference(void) {
    enum { MAXN = 3 * 70001 };
    rows_bufs r;
    float **all[] = {&r.x, &r.g, &r.a, &r.b, &r.ga, &r.gb};
    bool ok = true;
    for (size_t k = 0; k < 6; k++) ok &= (*all[k] = malloc(MAXN * sizeof(float))) != NULL;
    REQUIRE(ok);
    static const int64_t long_dims[] = {511, 512, 513, 1000, 4099, 70001};
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        int64_t failed = 0;
        for (int64_t dim = 1; dim <= 300 + 6; dim++) {
            const int64_t d = dim <= 300 ? dim : long_dims[dim - 301];
            const int64_t outer = d > 5000 ? 3 : 1 + (int64_t)(urand() * 3);
            for (int kind = 0; kind < KIND_COUNT; kind++)
                failed += !rows_vs_reference((cnnc__isa)l, &r, outer, d, kind);
        }
        CHECK_EQ_INT(failed, 0);
    }
    for (size_t k = 0; k < 6; k++) free(*all[k]);
}

/* column j of the [dim, inner] slab o into col[dim] */
static void gather_column(float *col, const float *v, int64_t dim, int64_t inner, int64_t o,
                          int64_t j) {
    for (int64_t d = 0; d < dim; d++) col[d] = v[(o * dim + d) * inner + j];
}

/* The column path (inner > 1: a softmax over dim 1 of [N, C, H, W]) at every level:
 * column ranges cut anywhere (as the op's work items and the kernels' column blocks
 * cut them) give the bits of one call over all columns, and each column is close to
 * the reference. */
static void test_columns_split(void) {
    static const int64_t shapes[][3] = {{2, 3, 70}, {2, 64, 600}, {1, 21, 1100}, {1, 64, 3136}};
    static const int64_t steps[] = {1, 37, 64, 513};
    enum { MAXV = 64 * 3136 };
    float *buf[6];
    bool ok = true;
    for (int k = 0; k < 6; k++) ok &= (buf[k] = malloc(MAXV * sizeof(float))) != NULL;
    REQUIRE(ok);
    float *x = buf[0], *g = buf[1], *a = buf[2], *b = buf[3], *ga = buf[4], *gb = buf[5];
    float ca[64], cb[64], cg[64], cy[64];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t outer = shapes[s][0], dim = shapes[s][1], inner = shapes[s][2];
        const int64_t n = outer * dim * inner;
        for (int64_t i = 0; i < n; i++) {
            x[i] = (float)((urand() * 2 - 1) * 6);
            g[i] = (float)(urand() * 2 - 1);
        }
        for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
            const cnnc__isa isa = (cnnc__isa)l;
            for (int log = 0; log < 2; log++) {
                cnnc__k_softmax(isa, log, a, x, dim, inner, 0, outer, 0, inner);
                cnnc__k_softmax_backward(isa, log, ga, g, a, dim, inner, 0, outer, 0, inner);
                int64_t differ = 0;
                for (size_t t = 0; t < sizeof steps / sizeof steps[0]; t++) {
                    for (int64_t c0 = 0; c0 < inner; c0 += steps[t]) {
                        const int64_t c1 = c0 + steps[t] < inner ? c0 + steps[t] : inner;
                        cnnc__k_softmax(isa, log, b, x, dim, inner, 0, outer, c0, c1);
                        cnnc__k_softmax_backward(isa, log, gb, g, a, dim, inner, 0, outer, c0, c1);
                    }
                    differ += memcmp(a, b, (size_t)n * sizeof(float)) != 0;
                    differ += memcmp(ga, gb, (size_t)n * sizeof(float)) != 0;
                }
                CHECK_EQ_INT(differ, 0);
                cnnc__k_softmax_ref(log, b, x, dim, inner, 0, outer, 0, inner);
                cnnc__k_softmax_backward_ref(log, gb, g, a, dim, inner, 0, outer, 0, inner);
                int64_t bad = 0;
                for (int64_t o = 0; o < outer; o++)
                    for (int64_t j = 0; j < inner; j++) {
                        gather_column(ca, a, dim, inner, o, j);
                        gather_column(cb, b, dim, inner, o, j);
                        bad += !forward_close(log, ca, cb, dim);
                        gather_column(ca, ga, dim, inner, o, j);
                        gather_column(cb, gb, dim, inner, o, j);
                        gather_column(cg, g, dim, inner, o, j);
                        gather_column(cy, a, dim, inner, o, j);
                        bad += !backward_close(log, ca, cb, cg, cy, dim);
                    }
                if (bad) fprintf(stderr, "  level %s, shape %lld: %lld columns off\n",
                                 cnnc__isa_name(isa), (long long)s, (long long)bad);
                CHECK_EQ_INT(bad, 0);
            }
        }
    }
    for (int k = 0; k < 6; k++) free(buf[k]);
}

/* the ops on [rows, dim] (last dim) at 1 and 2 threads: the same bits, forward and
 * the input's gradient, and close to the reference kernels */
static void op_at_threads(int64_t rows, int64_t dim, const float *xv, const float *gv,
                          float *y_out, float *gx_out, bool log) {
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_from_data(CNNC_SHAPE(rows, dim), CNNC_FLOAT32, xv);
    cnnc_tensor *g = cnnc_from_data(CNNC_SHAPE(rows, dim), CNNC_FLOAT32, gv);
    REQUIRE(x && g);
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    cnnc_softmax_options o = CNNC_SOFTMAX(.dim = CNNC_INTS(-1));
    cnnc_tensor *y = log ? cnnc_log_softmax(x, o) : cnnc_softmax(x, o);
    REQUIRE(y);
    CHECK_OK(cnnc_backward(y, g, false));
    cnnc_tensor *gx = cnnc_tensor_grad(x);
    REQUIRE(gx);
    memcpy(y_out, cnnc_tensor_data_f32(y), (size_t)(rows * dim) * sizeof(float));
    memcpy(gx_out, cnnc_tensor_data_f32(gx), (size_t)(rows * dim) * sizeof(float));
    CHECK_OK(cnnc_scope_end());
}

static void test_ops_threads(void) {
    static const int64_t shapes[][2] = {{67, 300}, {256, 1000}, {1000, 10}, {5, 4099}};
    enum { MAXV = 256000 };
    float *buf[8];
    bool ok = true;
    for (int k = 0; k < 8; k++) ok &= (buf[k] = malloc(MAXV * sizeof(float))) != NULL;
    REQUIRE(ok);
    float *x = buf[0], *g = buf[1], *y[2] = {buf[2], buf[3]}, *gx[2] = {buf[4], buf[5]};
    float *ry = buf[6], *rg = buf[7];
    char old_isa[16];
    snprintf(old_isa, sizeof old_isa, "%s", cnnc_get_isa());
    int old_threads = cnnc_get_num_threads();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t rows = shapes[s][0], dim = shapes[s][1];
        for (int64_t i = 0; i < rows * dim; i++) {
            x[i] = (float)((urand() * 2 - 1) * 4);
            g[i] = (float)(urand() * 2 - 1);
        }
        for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
            CHECK_OK(cnnc_set_isa(cnnc__isa_name((cnnc__isa)l)));
            for (int log = 0; log < 2; log++) {
                for (int th = 1; th <= 2; th++) {
                    CHECK_OK(cnnc_set_num_threads(th));
                    op_at_threads(rows, dim, x, g, y[th - 1], gx[th - 1], log);
                }
                const size_t bytes = (size_t)(rows * dim) * sizeof(float);
                CHECK(memcmp(y[0], y[1], bytes) == 0);
                CHECK(memcmp(gx[0], gx[1], bytes) == 0);
                cnnc__k_softmax_ref(log, ry, x, dim, 1, 0, rows, 0, 1);
                /* the reference gradient from the op's own result, as the op's */
                cnnc__k_softmax_backward_ref(log, rg, g, y[0], dim, 1, 0, rows, 0, 1);
                int64_t bad = 0;
                for (int64_t o = 0; o < rows; o++)
                    bad += !forward_close(log, y[0] + o * dim, ry + o * dim, dim) ||
                           !backward_close(log, gx[0] + o * dim, rg + o * dim, g + o * dim,
                                           y[0] + o * dim, dim);
                CHECK_EQ_INT(bad, 0);
            }
        }
    }
    CHECK_OK(cnnc_set_isa(old_isa));
    CHECK_OK(cnnc_set_num_threads(old_threads));
    for (int k = 0; k < 8; k++) free(buf[k]);
}

int main(void) {
    RUN_TEST(test_rows_fast_vs_reference);
    RUN_TEST(test_columns_split);
    RUN_TEST(test_ops_threads);
    return check_summary();
}
