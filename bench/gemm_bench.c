/* GEMM speed: GFLOP/s of the reference loop and the packed GEMM (1 and 2 threads)
 * on square and convolution-shaped products. Prints a table; asserts nothing.
 *
 *     ./gemm_bench            all shapes
 *     ./gemm_bench quick      shorter timing runs
 * The kernels of the active ISA level (CNNC_ISA=avx2 ./gemm_bench for another). */
#define _POSIX_C_SOURCE 200809L
#include <cnnc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/gemm_mt.h"
#include "kernels/gemm.h"

typedef struct shape {
    const char *what;
    bool trans_a, trans_b;
    int64_t m, n, k;
} shape;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef enum path { PATH_REF, PATH_ST, PATH_MT } path;

static cnnc__isa isa; /* the level benchmarked */

static void run(path p, const shape *s, const float *a, const float *b, float *c, float *ws) {
    const int64_t lda = s->trans_a ? s->m : s->k, ldb = s->trans_b ? s->k : s->n;
    switch (p) {
    case PATH_REF:
        cnnc__sgemm_ref(s->trans_a, s->trans_b, s->m, s->n, s->k, a, lda, b, ldb, 0.0f, c, s->n);
        break;
    case PATH_ST:
        cnnc__sgemm_st(isa, s->trans_a, s->trans_b, s->m, s->n, s->k, a, lda, b, ldb, 0.0f, c,
                       s->n, ws);
        break;
    case PATH_MT:
        if (cnnc__sgemm(isa, s->trans_a, s->trans_b, s->m, s->n, s->k, a, lda, b, ldb, 0.0f, c,
                        s->n) != 0) {
            fprintf(stderr, "gemm_bench: %s\n", cnnc_last_error());
            exit(1);
        }
        break;
    }
}

/* Best GFLOP/s over repeated runs for about `seconds` (at least one run). */
static double gflops(path p, const shape *s, const float *a, const float *b, float *c,
                     float *ws, double seconds) {
    double best = 1e30, spent = 0.0;
    run(p, s, a, b, c, ws); /* warm-up: page faults, workspace, thread pool */
    for (int rep = 0; rep < 1000 && (rep < 1 || spent < seconds); rep++) {
        const double t0 = now();
        run(p, s, a, b, c, ws);
        const double t = now() - t0;
        spent += t;
        best = t < best ? t : best;
    }
    return 2.0 * (double)s->m * (double)s->n * (double)s->k / best * 1e-9;
}

int main(int argc, char **argv) {
    const bool quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    const double seconds = quick ? 0.1 : 0.5;
    static const shape shapes[] = {
        {"square", false, false, 512, 512, 512},
        {"square, A^T B^T", true, true, 512, 512, 512},
        {"conv 3x3 64->64 56x56, im2col rows", false, false, 3136, 64, 576},
        {"conv 3x3 64->64 56x56, W x cols", false, false, 64, 3136, 576},
        {"conv 1x1 256->64 56x56", false, false, 3136, 64, 256},
        {"conv 3x3 backward-weight (dW = dY cols^T)", false, true, 64, 576, 3136},
        {"square", false, false, 1024, 1024, 1024},
    };
    isa = cnnc__isa_active();
    float *ws = aligned_alloc(64, cnnc__sgemm_workspace_floats(isa) * sizeof(float));
    if (!ws)
        return 1;
    printf("kernel %s\n", cnnc__sgemm_kernel_name(isa));
    printf("%-44s %16s %8s %8s %8s %8s\n", "shape", "m x n x k", "ref", "st", "1 thr",
           "2 thr");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        float *a = malloc((size_t)(s->m * s->k) * sizeof(float));
        float *b = malloc((size_t)(s->k * s->n) * sizeof(float));
        float *c = malloc((size_t)(s->m * s->n) * sizeof(float));
        if (!a || !b || !c)
            return 1;
        for (int64_t j = 0; j < s->m * s->k; j++)
            a[j] = (float)((j * 7919) % 1000) * 1e-3f - 0.5f;
        for (int64_t j = 0; j < s->k * s->n; j++)
            b[j] = (float)((j * 104729) % 1000) * 1e-3f - 0.5f;
        char dims[32];
        snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)s->m, (long long)s->n,
                 (long long)s->k);
        /* The reference is slow: time it once, and not at all on the biggest shape. */
        char ref[16] = "-";
        if (s->m * s->n * s->k <= (int64_t)1 << 28)
            snprintf(ref, sizeof ref, "%.2f", gflops(PATH_REF, s, a, b, c, ws, 0.0));
        const double st = gflops(PATH_ST, s, a, b, c, ws, seconds);
        cnnc_set_num_threads(1);
        const double mt1 = gflops(PATH_MT, s, a, b, c, ws, seconds);
        cnnc_set_num_threads(2);
        const double mt2 = gflops(PATH_MT, s, a, b, c, ws, seconds);
        printf("%-44s %16s %8s %8.1f %8.1f %8.1f\n", s->what, dims, ref, st, mt1, mt2);
        free(a);
        free(b);
        free(c);
    }
    printf("GFLOP/s (2 m n k / best time); ref: plain loop; st: cnnc__sgemm_st; "
           "N thr: cnnc__sgemm with cnnc_set_num_threads(N)\n");
    free(ws);
    return 0;
}
