/* GEMM: at every ISA level this CPU supports (each with its own micro-kernel), the
 * single-threaded, pre-packed and multithreaded entry points against the reference
 * loop, on randomized shapes (fixed seed): sizes 1..~300 and a few larger ones that
 * cross the cache blocks, k = 0, all four transpose combinations, leading dimensions
 * larger than needed, beta 0 (over NaN garbage, which must not leak), 1 and others.
 * The error bound is relative to sum_p |A(i,p)||B(p,j)| + |beta C(i,j)|. At one
 * level the pre-packed and multithreaded results must equal the single-threaded one
 * bit for bit, whatever the thread count, and the pre-packed GEMM with a convolution's
 * epilogue fused into its store the bits of the GEMM and the separate pass. */
#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm_mt.h"
#include "core/parallel.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/gemm_small.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng_next(void) {
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int64_t rng_int(int64_t lo, int64_t hi) {
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* Uniform in [-1, 1), on a grid of 2^-23. */
static float rng_float(void) {
    return (float)((double)(rng_next() >> 40) / (double)(1 << 23) - 1.0);
}

/* Marks the C entries outside the m x n matrix (the ldc padding): must stay intact. */
static const float SENTINEL = 12345.0f;

typedef struct gemm_case {
    bool trans_a, trans_b;
    int64_t m, n, k, lda, ldb, ldc;
    float beta;
} gemm_case;

typedef struct buffers {
    float *a, *b, *c0, *c, *c_ref, *c_st, *bound, *ws;
    size_t ws_floats;
} buffers;

static int failures = 0;
static int checks = 0;
static double worst_ratio = 0.0; /* max |c - ref| / bound seen */

static void describe(const gemm_case *g, char *out, size_t size) {
    snprintf(out, size, "ta=%d tb=%d m=%lld n=%lld k=%lld lda=%lld ldb=%lld ldc=%lld beta=%g",
             g->trans_a, g->trans_b, (long long)g->m, (long long)g->n, (long long)g->k,
             (long long)g->lda, (long long)g->ldb, (long long)g->ldc, (double)g->beta);
}

/* Elements a matrix stored rows x cols with leading dim ld needs: the last row only
 * needs cols, so reading past the matrix shows up under AddressSanitizer. */
static size_t stored(int64_t rows, int64_t cols, int64_t ld) {
    return rows > 0 && cols > 0 ? (size_t)((rows - 1) * ld + cols) : 1;
}

static void reset_c(const gemm_case *g, const buffers *bf) {
    memcpy(bf->c, bf->c0, (size_t)(g->m * g->ldc) * sizeof(float));
}

/* Compares bf->c with the reference; `what` names the path under test. */
static void check_result(const gemm_case *g, const buffers *bf, const char *what) {
    checks++;
    for (int64_t i = 0; i < g->m; i++) {
        for (int64_t j = 0; j < g->ldc; j++) {
            const int64_t at = i * g->ldc + j;
            const float got = bf->c[at];
            bool ok;
            double ratio = 0.0;
            if (j >= g->n) {
                ok = memcmp(&got, &SENTINEL, sizeof got) == 0;
            } else {
                const double err = fabs((double)got - (double)bf->c_ref[at]);
                ok = isfinite(got) && err <= bf->bound[at];
                ratio = bf->bound[at] > 0 ? err / bf->bound[at] : (err > 0 ? INFINITY : 0);
            }
            if (ratio > worst_ratio && ok)
                worst_ratio = ratio;
            if (!ok) {
                char desc[256];
                describe(g, desc, sizeof desc);
                fprintf(stderr, "FAIL %s: %s: C[%lld][%lld] = %.9g, expected %.9g (bound %.3g)\n",
                        what, desc, (long long)i, (long long)j, (double)got,
                        j < g->n ? (double)bf->c_ref[at] : (double)SENTINEL,
                        j < g->n ? bf->bound[at] : 0.0);
                failures++;
                return;
            }
        }
    }
}

/* Bit-for-bit equality of bf->c with bf->c_st (the single-threaded result). */
static void check_same_bits(const gemm_case *g, const buffers *bf, const char *what) {
    checks++;
    if (memcmp(bf->c, bf->c_st, (size_t)(g->m * g->ldc) * sizeof(float)) != 0) {
        char desc[256];
        describe(g, desc, sizeof desc);
        fprintf(stderr, "FAIL %s: %s: differs from the single-threaded result\n", what, desc);
        failures++;
    }
}

/* 64-byte aligned, as the library's tensors are (the non-temporal stores of the
 * small paths need it). */
static void *xmalloc(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!p) {
        fprintf(stderr, "test_gemm: out of memory\n");
        exit(2);
    }
    return p;
}

/* A B-packing callback for cnnc__sgemm_st_packed: plain loops straight from op(B)
 * (independent of the kernels' own pack routines). */
typedef struct plain_b {
    cnnc__isa isa;
    const float *b;
    int64_t ldb;
    bool trans;
    float *own; /* non-NULL: the block packed here and returned (a producer's packed B) */
} plain_b;

static const float *plain_pack_b(void *ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                                 int64_t nr, float *dst, float *scratch) {
    const plain_b *pb = ctx;
    if (pb->own) dst = pb->own;
    /* the scratch is ours to use: touch both ends (out of bounds shows under ASan) */
    scratch[0] = 1.0f;
    scratch[cnnc__sgemm_pack_scratch_floats(pb->isa) - 1] = 1.0f;
    for (int64_t s = 0; s * nr < nc; s++)
        for (int64_t p = 0; p < kc; p++)
            for (int64_t j = 0; j < nr; j++) {
                const int64_t col = jc + s * nr + j, row = pc + p;
                float v = 0.0f;
                if (s * nr + j < nc)
                    v = pb->trans ? pb->b[col * pb->ldb + row] : pb->b[row * pb->ldb + col];
                dst[s * nr * kc + p * nr + j] = v;
            }
    return dst;
}

/* The convolution epilogues a fused store (cnnc__sgemm_epilogue) is checked with, each
 * with and without a bias: Hardtanh with both bounds inside the values, ReLU, Hardtanh
 * with min > max (every value max), the bias alone. */
static const cnnc__conv_epilogue FUSED_EPS[] = {
    {.act = true, .op = CNNC__ACT_HARDTANH, .p = {-0.5f, 0.5f, 0.0f}},
    {.act = true, .op = CNNC__ACT_RELU},
    {.act = true, .op = CNNC__ACT_HARDTANH, .p = {0.25f, -0.25f, 0.0f}},
    {.act = false},
};

/* At a level with a fused store: the pre-packed GEMM with each FUSED_EPS epilogue in its
 * store, whole and with its rows split in two at a multiple of MR
 * (cnnc__sgemm_st_packed_rows), must give the bits of the same GEMM followed by the
 * convolution's separate pass (cnnc__conv_epilogue_row), sentinels included. With
 * beta != 0, C starts with NaN, infinities and -0 among its values (they go through the
 * bias and the clamp). Elsewhere cnnc__conv_epilogue_gemm must decline. */
static void check_fused(cnnc__isa isa, const gemm_case *g, const buffers *bf, const float *pa) {
    static const float specials[] = {NAN, INFINITY, -INFINITY, -0.0f};
    const size_t nc = (size_t)(g->m * g->ldc);
    if (g->m == 0 || g->n == 0 || g->k == 0) return;
    float *start = xmalloc(nc * sizeof(float)), *want = xmalloc(nc * sizeof(float));
    float *bias = xmalloc((size_t)g->m * sizeof(float));
    memcpy(start, bf->c0, nc * sizeof(float));
    for (size_t i = 0; g->beta != 0.0f && i < nc; i += 5)
        if ((int64_t)i % g->ldc < g->n) start[i] = specials[i / 5 % 4];
    /* not from the generator: the shapes drawn after this stay the same */
    for (int64_t i = 0; i < g->m; i++) bias[i] = (float)(i * 37 % 101) / 50.0f - 1.0f;
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    const int64_t split = g->m / 2 / mr * mr;
    const plain_b pb = {isa, bf->b, g->ldb, g->trans_b, NULL};
    for (size_t e = 0; e < sizeof FUSED_EPS / sizeof FUSED_EPS[0]; e++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            cnnc__conv_epilogue ep = FUSED_EPS[e];
            ep.bias = with_bias ? bias : NULL;
            cnnc__sgemm_epilogue f;
            const bool fused = cnnc__conv_epilogue_gemm(isa, &ep, 0, &f);
            checks++;
            if (fused != (cnnc__sgemm_fuses_epilogue(isa) && cnnc__conv_epilogue_any(&ep))) {
                fprintf(stderr, "FAIL %s: cnnc__conv_epilogue_gemm %s epilogue %zu\n",
                        cnnc__sgemm_kernel_name(isa), fused ? "took" : "declined", e);
                failures++;
            }
            if (!fused) continue;
            memcpy(want, start, nc * sizeof(float));
            cnnc__sgemm_st_packed(isa, g->m, g->n, g->k, pa, plain_pack_b, (void *)&pb, g->beta,
                                  want, g->ldc, bf->ws, NULL);
            for (int64_t i = 0; i < g->m; i++)
                cnnc__conv_epilogue_row(isa, &ep, i, want + i * g->ldc, want + i * g->ldc, g->n);
            for (int parts = 1; parts <= 2; parts++) {
                memcpy(bf->c, start, nc * sizeof(float));
                if (parts == 1) {
                    cnnc__sgemm_st_packed(isa, g->m, g->n, g->k, pa, plain_pack_b, (void *)&pb,
                                          g->beta, bf->c, g->ldc, bf->ws, &f);
                } else {
                    cnnc__sgemm_st_packed_rows(isa, g->m, 0, split, g->n, g->k, pa, plain_pack_b,
                                               (void *)&pb, g->beta, bf->c, g->ldc, bf->ws, &f);
                    cnnc__sgemm_st_packed_rows(isa, g->m, split, g->m - split, g->n, g->k, pa,
                                               plain_pack_b, (void *)&pb, g->beta,
                                               bf->c + split * g->ldc, g->ldc, bf->ws, &f);
                }
                checks++;
                if (memcmp(bf->c, want, nc * sizeof(float)) != 0) {
                    char desc[256];
                    describe(g, desc, sizeof desc);
                    fprintf(stderr, "FAIL %s fused epilogue %zu (bias %d, %s): %s: differs from "
                                    "the GEMM and the separate pass\n",
                            cnnc__sgemm_kernel_name(isa), e, with_bias,
                            parts == 1 ? "whole" : "rows split", desc);
                    failures++;
                }
            }
        }
    free(start), free(want), free(bias);
}

/* The paths of one level against the reference (bf->c_ref, bf->bound): the
 * single-threaded GEMM, the pre-packed one and (check_mt) the multithreaded ones,
 * which must give the single-threaded result's bits. */
static void run_level(cnnc__isa isa, const gemm_case *g, buffers *bf, bool check_mt) {
    const size_t nc = (size_t)(g->m * g->ldc);
    const char *kernel = cnnc__sgemm_kernel_name(isa);
    char what[96];
    reset_c(g, bf);
    cnnc__sgemm_st_blocked(isa, g->trans_a, g->trans_b, g->m, g->n, g->k, bf->a, g->lda, bf->b,
                           g->ldb, g->beta, bf->c, g->ldc, bf->ws);
    snprintf(what, sizeof what, "%s blocked", kernel);
    check_result(g, bf, what);
    memcpy(bf->c_st, bf->c, nc * sizeof(float));

    /* Whole A packed once, B packed by a callback: the same bits as the blocked GEMM. */
    const size_t pa_n = cnnc__sgemm_packed_a_floats(isa, g->m, g->k);
    float *pa = aligned_alloc(64, (pa_n ? pa_n : 16) * sizeof(float));
    if (!pa) {
        fprintf(stderr, "test_gemm: out of memory\n");
        exit(2);
    }
    cnnc__sgemm_pack_a_full(isa, g->trans_a, g->m, g->k, bf->a, g->lda, pa);
    /* the blocks in the GEMM's buffer, then in the callback's own (returned) */
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    float *own = aligned_alloc(64, (size_t)((g->k + 1) * (g->n + nr) + 16) / 16 * 16 * sizeof(float));
    if (!own) {
        fprintf(stderr, "test_gemm: out of memory\n");
        exit(2);
    }
    for (int o = 0; o < 2; o++) {
        plain_b pb = {isa, bf->b, g->ldb, g->trans_b, o ? own : NULL};
        reset_c(g, bf);
        cnnc__sgemm_st_packed(isa, g->m, g->n, g->k, pa, plain_pack_b, &pb, g->beta, bf->c, g->ldc,
                              bf->ws, NULL);
        snprintf(what, sizeof what, "%s pre-packed%s", kernel, o ? " (callback's copy)" : "");
        check_result(g, bf, what);
        check_same_bits(g, bf, what);
    }
    check_fused(isa, g, bf, pa);
    /* B packed whole by the caller in full-height panels, the product reading a row range
     * of a taller B (rows outside it NaN: never read): the same bits again. */
    const int64_t off = 3, kall = g->k + off + 2, npan = (g->n + nr - 1) / nr;
    float *bw = aligned_alloc(64, (size_t)((npan * kall * nr + 16 + 15) / 16 * 16) * sizeof(float));
    if (!bw) {
        fprintf(stderr, "test_gemm: out of memory\n");
        exit(2);
    }
    for (int64_t sp = 0; sp < npan; sp++)
        for (int64_t p = 0; p < kall; p++)
            for (int64_t j = 0; j < nr; j++) {
                const int64_t col = sp * nr + j, row = p - off;
                float v = NAN;
                if (row >= 0 && row < g->k)
                    v = col >= g->n ? 0.0f
                        : g->trans_b ? bf->b[col * g->ldb + row] : bf->b[row * g->ldb + col];
                bw[(sp * kall + p) * nr + j] = v;
            }
    reset_c(g, bf);
    cnnc__sgemm_st_prepacked(isa, g->m, g->n, g->k, pa, bw + off * nr, kall * nr, g->beta, bf->c,
                             g->ldc, NULL);
    snprintf(what, sizeof what, "%s B packed by the caller", kernel);
    check_result(g, bf, what);
    check_same_bits(g, bf, what);
    free(pa), free(own), free(bw);

    /* The dispatching entry: the small paths (gemm_small.h) keep the blocked bits but
     * for the dot products; the multithreaded entries must give its bits. */
    reset_c(g, bf);
    cnnc__sgemm_st(isa, g->trans_a, g->trans_b, g->m, g->n, g->k, bf->a, g->lda, bf->b, g->ldb,
                   g->beta, bf->c, g->ldc, bf->ws);
    const bool small = g->n > 0 && cnnc__sgemm_small_fits(isa, g->trans_a, g->trans_b, g->m, g->n, g->k);
    snprintf(what, sizeof what, "%s%s", kernel,
             !small ? "" : g->trans_b ? " small (dot)" : " small (bcast)");
    check_result(g, bf, what);
    if (!(small && g->trans_b))
        check_same_bits(g, bf, what);
    memcpy(bf->c_st, bf->c, nc * sizeof(float));

    if (!check_mt)
        return;
    static const int thread_counts[] = {1, 2, 3};
    for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
        cnnc_set_num_threads(thread_counts[t]);
        reset_c(g, bf);
        if (cnnc__sgemm(isa, g->trans_a, g->trans_b, g->m, g->n, g->k, bf->a, g->lda, bf->b,
                        g->ldb, g->beta, bf->c, g->ldc) != 0) {
            fprintf(stderr, "FAIL cnnc__sgemm returned an error: %s\n", cnnc_last_error());
            failures++;
        }
        snprintf(what, sizeof what, "%s, cnnc__sgemm with %d threads", kernel, thread_counts[t]);
        check_result(g, bf, what);
        check_same_bits(g, bf, what);
        /* A caller-owned workspace (room for 3 threads' slices). */
        reset_c(g, bf);
        cnnc__sgemm_ws(isa, g->trans_a, g->trans_b, g->m, g->n, g->k, bf->a, g->lda, bf->b,
                       g->ldb, g->beta, bf->c, g->ldc, bf->ws, bf->ws_floats);
        snprintf(what, sizeof what, "%s, cnnc__sgemm_ws with %d threads", kernel,
                 thread_counts[t]);
        check_same_bits(g, bf, what);
    }
    cnnc_set_num_threads(2);
}

static void run_case(const gemm_case *g, const buffers *shared, bool check_mt) {
    const int64_t a_rows = g->trans_a ? g->k : g->m, a_cols = g->trans_a ? g->m : g->k;
    const int64_t b_rows = g->trans_b ? g->n : g->k, b_cols = g->trans_b ? g->k : g->n;
    const size_t na = stored(a_rows, a_cols, g->lda), nb = stored(b_rows, b_cols, g->ldb);
    const size_t nc = (size_t)(g->m * g->ldc);
    buffers bf = *shared;
    bf.a = xmalloc(na * sizeof(float));
    bf.b = xmalloc(nb * sizeof(float));
    bf.c0 = xmalloc(nc * sizeof(float));
    bf.c = xmalloc(nc * sizeof(float));
    bf.c_ref = xmalloc(nc * sizeof(float));
    bf.c_st = xmalloc(nc * sizeof(float));
    bf.bound = xmalloc(nc * sizeof(float));
    /* Padding between rows gets NaN: it must never be read into the result. */
    for (size_t i = 0; i < na; i++)
        bf.a[i] = NAN;
    for (size_t i = 0; i < nb; i++)
        bf.b[i] = NAN;
    for (int64_t r = 0; r < a_rows; r++)
        for (int64_t s = 0; s < a_cols; s++)
            bf.a[r * g->lda + s] = rng_float();
    for (int64_t r = 0; r < b_rows; r++)
        for (int64_t s = 0; s < b_cols; s++)
            bf.b[r * g->ldb + s] = rng_float();
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->ldc; j++)
            bf.c0[i * g->ldc + j] = j >= g->n ? SENTINEL : g->beta == 0.0f ? NAN : rng_float();

    /* Reference and error bound: (k + 2) eps (sum |a||b| + |beta c|) bounds the
     * rounding error of any summation order, fused or not. */
    memcpy(bf.c_ref, bf.c0, nc * sizeof(float));
    cnnc__sgemm_ref(g->trans_a, g->trans_b, g->m, g->n, g->k, bf.a, g->lda, bf.b, g->ldb,
                    g->beta, bf.c_ref, g->ldc);
    for (int64_t i = 0; i < g->m; i++) {
        for (int64_t j = 0; j < g->n; j++) {
            double s = g->beta == 0.0f ? 0.0 : fabs((double)g->beta * bf.c0[i * g->ldc + j]);
            for (int64_t p = 0; p < g->k; p++) {
                const float av = g->trans_a ? bf.a[p * g->lda + i] : bf.a[i * g->lda + p];
                const float bv = g->trans_b ? bf.b[j * g->ldb + p] : bf.b[p * g->ldb + j];
                s += fabs((double)av * bv);
            }
            bf.bound[i * g->ldc + j] = (float)((double)(g->k + 2) * 1.1920929e-7 * s + 1e-30);
        }
    }

    /* The reference itself on a sentinel-padded copy (it must respect ldc too). */
    check_result(g, &(buffers){.c = bf.c_ref, .c_ref = bf.c_ref, .bound = bf.bound}, "ref");

    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--)
        run_level((cnnc__isa)l, g, &bf, check_mt);
    free(bf.a);
    free(bf.b);
    free(bf.c0);
    free(bf.c);
    free(bf.c_ref);
    free(bf.c_st);
    free(bf.bound);
}

/* cnnc__sgemm called from inside a parallel_for (it then runs inline on each
 * worker, with that worker's workspace): same bits as the single-threaded call. */
typedef struct nested_job {
    cnnc__isa isa;
    int64_t m, n, k;
    const float *a, *b;
    float *c;
    int status;
} nested_job;

static cnnc_status nested_fn(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    nested_job *jobs = ctx;
    for (int64_t i = begin; i < end; i++) {
        nested_job *j = &jobs[i];
        j->status = cnnc__sgemm(j->isa, false, true, j->m, j->n, j->k, j->a, j->k, j->b, j->k, 0.0f,
                                j->c, j->n);
    }
    return CNNC_OK;
}

static void check_nested(cnnc__isa isa, float *ws) {
    enum { JOBS = 4 };
    nested_job jobs[JOBS];
    float *want[JOBS];
    for (int i = 0; i < JOBS; i++) {
        nested_job *j = &jobs[i];
        j->isa = isa;
        j->m = 150 + 31 * i;
        j->n = 170 - 13 * i;
        j->k = 200 + 7 * i;
        float *a = xmalloc((size_t)(j->m * j->k) * sizeof(float));
        float *b = xmalloc((size_t)(j->n * j->k) * sizeof(float));
        for (int64_t q = 0; q < j->m * j->k; q++)
            a[q] = rng_float();
        for (int64_t q = 0; q < j->n * j->k; q++)
            b[q] = rng_float();
        j->a = a;
        j->b = b;
        j->c = xmalloc((size_t)(j->m * j->n) * sizeof(float));
        want[i] = xmalloc((size_t)(j->m * j->n) * sizeof(float));
        cnnc__sgemm_st(isa, false, true, j->m, j->n, j->k, a, j->k, b, j->k, 0.0f, want[i], j->n,
                       ws);
    }
    cnnc_set_num_threads(2);
    /* costly enough items: two chunks, the second on a pool thread */
    cnnc__parallel_for(JOBS, (cnnc__cost){.flops = 1e9}, nested_fn, jobs);
    for (int i = 0; i < JOBS; i++) {
        nested_job *j = &jobs[i];
        checks++;
        if (j->status != 0 ||
            memcmp(j->c, want[i], (size_t)(j->m * j->n) * sizeof(float)) != 0) {
            fprintf(stderr, "FAIL %s: cnnc__sgemm inside parallel_for: job %d (%lldx%lldx%lld) "
                            "%s\n", cnnc__sgemm_kernel_name(isa), i, (long long)j->m,
                    (long long)j->n, (long long)j->k,
                    j->status ? "returned an error" : "differs from the single-threaded result");
            failures++;
        }
        free((void *)j->a);
        free((void *)j->b);
        free(j->c);
        free(want[i]);
    }
}

/* The level's B packing (cnnc__sgemm_pack_b_panels) against plain_pack_b's layout, bit
 * for bit, columns past nc zero: depths around AVX2's groups of 8 rows, widths around
 * the panels, both storage orders, a leading dim past the block. */
static void check_pack_b(cnnc__isa isa) {
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    static const int64_t kcs[] = {1, 2, 7, 8, 9, 15, 16, 17, 23, 64, 257};
    enum { MAX_NC = 70, MAX_KC = 257, LD = MAX_KC + MAX_NC + 3 };
    const size_t panels = (MAX_NC + 31) / 16 * 16;
    float *b = xmalloc((size_t)(LD * LD) * sizeof(float));
    float *got = xmalloc(panels * MAX_KC * 32 * sizeof(float));
    float *want = xmalloc(panels * MAX_KC * 32 * sizeof(float));
    float *scratch = xmalloc(cnnc__sgemm_pack_scratch_floats(isa) * sizeof(float));
    for (int64_t q = 0; q < LD * LD; q++)
        b[q] = rng_float();
    for (int trans = 0; trans < 2; trans++)
        for (size_t i = 0; i < sizeof kcs / sizeof kcs[0]; i++)
            for (int64_t nc = 1; nc <= MAX_NC; nc++) {
                const int64_t kc = kcs[i], floats = (nc + nr - 1) / nr * nr * kc;
                plain_b pb = {isa, b, LD, trans, NULL};
                plain_pack_b(&pb, 0, kc, 0, nc, nr, want, scratch);
                for (int64_t q = 0; q < floats; q++)
                    got[q] = NAN;
                cnnc__sgemm_pack_b_panels(isa, trans, kc, nc, b, LD, got);
                checks++;
                if (memcmp(got, want, (size_t)floats * sizeof(float)) != 0) {
                    fprintf(stderr, "FAIL %s: pack B (%s) of %lld x %lld differs from the "
                                    "plain layout\n", cnnc__sgemm_kernel_name(isa),
                            trans ? "transposed" : "plain", (long long)kc, (long long)nc);
                    failures++;
                }
            }
    free(b), free(got), free(want), free(scratch);
}

/* A random size: mostly small, sometimes up to max. */
static int64_t rand_size(int64_t max) {
    const uint64_t r = rng_next() % 8;
    if (r < 3)
        return rng_int(1, 20);
    if (r < 6)
        return rng_int(1, 128 < max ? 128 : max);
    return rng_int(1, max);
}

/* Leading dimensions are the minimum or up to 9 more, beta one of a few values. */
static gemm_case random_case(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
    static const float betas[] = {0.0f, 1.0f, 0.0f, 1.0f, 0.5f, -2.0f};
    gemm_case g = {.trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k};
    const int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
    g.lda = (a_cols > 0 ? a_cols : 1) + (rng_next() % 2 ? rng_int(1, 9) : 0);
    g.ldb = (b_cols > 0 ? b_cols : 1) + (rng_next() % 2 ? rng_int(1, 9) : 0);
    g.ldc = n + (rng_next() % 2 ? rng_int(1, 9) : 0);
    g.beta = betas[rng_next() % (sizeof betas / sizeof betas[0])];
    return g;
}

int main(void) {
    buffers shared = {0};
    /* One workspace big enough for any ISA's blocking and for 3 threads. */
    size_t per = 0;
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        const size_t f = cnnc__sgemm_workspace_floats((cnnc__isa)l);
        per = f > per ? f : per;
    }
    shared.ws_floats = 3 * per;
    shared.ws = aligned_alloc(64, shared.ws_floats * sizeof(float));
    if (!shared.ws) {
        fprintf(stderr, "test_gemm: out of memory\n");
        return 2;
    }

#if CNNC__ISA_X86
    /* AVX-512 keeps the epilogue a separate pass (its fused store is unwritten) */
    checks++;
    if (cnnc__sgemm_fuses_epilogue(CNNC__ISA_AVX512)) {
        fprintf(stderr, "FAIL: AVX-512 claims a fused store\n");
        failures++;
    }
#endif
    int cases = 0;
    /* Every transpose combination and beta on small sizes around the register tiles
     * of all kernels (4x8, 6x16, 14x32), k = 0 included. */
    static const int64_t sizes[] = {1, 2, 3, 5, 6, 7, 13, 14, 15, 16, 17, 29, 31, 32, 33, 65};
    static const int64_t ks[] = {0, 1, 2, 7, 33};
    const size_t nsizes = sizeof sizes / sizeof sizes[0];
    for (size_t mi = 0; mi < nsizes; mi++) {
        for (size_t ni = 0; ni < nsizes; ni++) {
            const int64_t k = ks[(mi + ni) % (sizeof ks / sizeof ks[0])];
            const bool ta = (mi + ni / 2) % 2, tb = (ni + mi / 2) % 2;
            gemm_case g = random_case(ta, tb, sizes[mi], sizes[ni], k);
            run_case(&g, &shared, (mi * nsizes + ni) % 7 == 0);
            cases++;
        }
    }
    /* Random shapes up to ~300, k = 0 now and then. */
    for (int r = 0; r < 160; r++) {
        const int64_t m = rand_size(300), n = rand_size(300);
        const int64_t k = rng_next() % 20 == 0 ? 0 : rand_size(300);
        gemm_case g = random_case(rng_next() & 1, rng_next() & 1, m, n, k);
        run_case(&g, &shared, r % 4 == 0);
        cases++;
    }
    /* Shapes that cross the k, m and n cache blocks (several KC, MC and NC blocks,
     * uneven last blocks), and ones big enough for cnnc__sgemm to split over 2 or 3
     * threads along m and along n; each with all four transpose combinations. */
    static const int64_t big[][3] = {
        {3, 5, 700},    {37, 45, 1030}, {600, 7, 9},    {6, 2100, 5},
        {1, 4200, 3},   {290, 70, 290}, {1, 1, 2000},   {4300, 2, 2},
        {2, 1, 4099},   {313, 64, 576}, {64, 313, 576}, {700, 40, 500},
        {40, 700, 500}, {400, 90, 300}, {90, 400, 300},
        /* the small paths: a few rows over several k blocks of theirs, short k; 7 rows:
         * AVX2's two row groups inside the column tiles, over several column blocks */
        {8, 301, 4500}, {16, 97, 2100},  {9, 50, 4100}, {17, 60, 700},
        {500, 700, 16}, {3, 5000, 600}, {7, 900, 520},
    };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        for (int t = 0; t < 4; t++) {
            gemm_case g = random_case(t & 1, t >> 1, big[i][0], big[i][1], big[i][2]);
            run_case(&g, &shared, true);
            cases++;
        }
    }
    /* AVX2's deep row groups (gemm_small.c: 9 to 32 rows in up to 8 groups inside the
     * column tiles, k blocks over 32, prefetches spread over the groups) and the shapes
     * around them: every row count from 1 to 33, columns off the 24-column tiles, k from
     * 1 to 600 (one k block and several); the packed GEMM's bits. */
    static const int64_t deep_k[] = {1, 17, 32, 33, 96, 257, 600};
    for (int64_t m = 1; m <= 33; m++)
        for (size_t i = 0; i < sizeof deep_k / sizeof deep_k[0]; i++) {
            const int64_t n = 24 * rng_int(1, 20) + rng_int(-7, 7);
            gemm_case g = random_case((m + (int64_t)i) % 3 == 0, false, m, n, deep_k[i]);
            run_case(&g, &shared, (m + (int64_t)i) % 5 == 0);
            cases++;
        }
    /* AVX-512's wide products (up to 256 rows, 128 columns or more: 8-row groups, up to
     * 32 of them, inside the column tiles with the prefetches spread over them) and
     * the shapes at their edges: 64, 256 and 257 rows, 127 and 128 columns, columns off
     * the 48-column tiles; the packed GEMM's bits. */
    static const int64_t wide_m[] = {33, 64, 65, 100, 129, 200, 255, 256, 257};
    static const int64_t wide_k[] = {33, 257, 600};
    for (size_t mi = 0; mi < sizeof wide_m / sizeof wide_m[0]; mi++)
        for (size_t i = 0; i < sizeof wide_k / sizeof wide_k[0]; i++) {
            const int64_t n = (mi + i) % 4 == 0 ? 127 + (int64_t)(i % 2)
                                                : 48 * rng_int(3, 8) + rng_int(-7, 7);
            gemm_case g = random_case((mi + i) % 3 == 0, false, wide_m[mi], n, wide_k[i]);
            run_case(&g, &shared, (mi + i) % 4 == 1);
            cases++;
        }
    /* A C big enough for the non-temporal stores of the short-k path (beta 0, aligned
     * rows), and one just as big with beta 1 (plain stores). */
    for (int t = 0; t < 2; t++) {
        gemm_case g = {.trans_a = true, .trans_b = false, .m = 2048, .n = 4096, .k = 8,
                       .lda = 2048, .ldb = 4096, .ldc = 4096, .beta = (float)t};
        run_case(&g, &shared, true);
        cases++;
    }
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--)
        check_nested((cnnc__isa)l, shared.ws);
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--)
        check_pack_b((cnnc__isa)l);
    /* m or n == 0: nothing happens (and nothing is touched). */
    checks++;
    const cnnc__isa best = cnnc__isa_cpu();
    cnnc__sgemm_st(best, false, false, 0, 5, 3, NULL, 3, NULL, 5, 0.0f, NULL, 5, shared.ws);
    cnnc__sgemm_st(best, true, true, 4, 0, 3, NULL, 4, NULL, 3, 1.0f, NULL, 1, shared.ws);
    if (cnnc__sgemm(best, false, false, 0, 0, 0, NULL, 1, NULL, 1, 0.0f, NULL, 1) != 0) {
        fprintf(stderr, "FAIL cnnc__sgemm with m = n = 0 returned an error\n");
        failures++;
    }
    free(shared.ws);

    char kernels[256] = "";
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        const size_t used = strlen(kernels);
        snprintf(kernels + used, sizeof kernels - used, "%s%s (%s)", used ? ", " : "",
                 cnnc__sgemm_kernel_name((cnnc__isa)l), cnnc__isa_name((cnnc__isa)l));
    }
    printf("test_gemm: %s: %d cases at each level, %d checks, %d failures; kernels tested: %s; "
           "worst error %.3f of bound\n",
           failures ? "FAIL" : "OK", cases, checks, failures, kernels, worst_ratio);
    return failures ? 1 : 0;
}
