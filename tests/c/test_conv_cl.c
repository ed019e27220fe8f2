/* The weight gradient from channels-last copies (ops/conv_wgrad.c) and its kernels
 * (kernels/conv_cl.h), at every ISA level this CPU runs: the transpose and the panel
 * builder against their definitions (bit-exact: they only move floats), and the
 * driver against the reference loop on geometries that cross images, taps, k blocks
 * and panels with several runs, bit-identical at 1, 2 and 3 threads. */
#include <cnnc.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/conv.h"
#include "kernels/conv_cl.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "ops/conv.h"
#include "ops/conv_cols.h"

static uint64_t rng_state = 0x3C6EF372FE94F82Bu;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1)); }

static float *rand_buf(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = (float)((double)(rng_next() >> 40) / (double)(1 << 23) - 1.0);
    return p;
}

static void transpose_case(cnnc__isa isa) {
    const int64_t rows = rnd(1, 40), cols = rnd(1, 40), lds = cols + rnd(0, 5);
    const int64_t ldd = rows + rnd(0, 5), srows = rows + rnd(0, 10);
    float *src = rand_buf(srows * lds), *dst = rand_buf(cols * ldd), *want = malloc((size_t)(cols * ldd) * 4);
    int64_t *idx = malloc((size_t)rows * sizeof *idx);
    for (int64_t i = 0; i < rows; i++) idx[i] = rnd(0, srows - 1);
    const bool indexed = rnd(0, 1);
    memcpy(want, dst, (size_t)(cols * ldd) * 4);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) want[j * ldd + i] = src[(indexed ? idx[i] : i) * lds + j];
    cnnc__conv_cl_transpose(isa, dst, ldd, src, lds, indexed ? idx : NULL, rows, cols);
    CHECK(memcmp(dst, want, (size_t)(cols * ldd) * 4) == 0);
    free(src), free(dst), free(want), free(idx);
}

static void panel_case(cnnc__isa isa) {
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    const int64_t rows = rnd(1, mr), kc = rnd(1, 50), n = 4000;
    float *src = rand_buf(n), *dst = rand_buf(kc * mr + 16), *want = malloc((size_t)(kc * mr) * 4);
    int64_t lane[17], off[16], base[50], nruns = 0;
    for (int64_t i = 0, o = 0; i < rows; i++, o++) { /* runs: increasing offsets, random breaks */
        if (i == 0 || rnd(0, 3) == 0) {
            o += i == 0 ? rnd(0, 30) : rnd(1, 30);
            lane[nruns] = i;
            off[nruns++] = o;
        }
    }
    lane[nruns] = rows;
    for (int64_t p = 0; p < kc; p++) base[p] = rnd(0, 3000);
    for (int64_t p = 0; p < kc; p++)
        for (int64_t i = 0; i < mr; i++) {
            float v = 0.0f;
            for (int64_t r = 0; r < nruns; r++)
                if (i >= lane[r] && i < lane[r + 1]) v = src[base[p] + off[r] + i - lane[r]];
            want[p * mr + i] = v;
        }
    cnnc__conv_cl_panel(isa, dst, mr, kc, src, base, lane, off, nruns);
    CHECK(memcmp(dst, want, (size_t)(kc * mr) * 4) == 0);
    free(src), free(dst), free(want);
}

static void test_kernels(void) {
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--)
        for (int it = 0; it < 200; it++) {
            transpose_case((cnnc__isa)l);
            panel_case((cnnc__isa)l);
        }
}

/* The driver against the reference, and the same bits at 1, 2 and 3 threads. */
static void driver_case(const cnnc__window *g) {
    REQUIRE(cnnc__conv_wgrad_cl_fits(g));
    const int64_t nx = g->n * g->c * cnnc__window_in_size(g), ny = g->n * g->m * cnnc__window_out_size(g);
    const int64_t nw = g->m * (g->c / g->groups) * cnnc__window_k_size(g);
    float *x = rand_buf(nx), *dy = rand_buf(ny), *ref = malloc((size_t)nw * 4);
    float *dw[3];
    cnnc__conv_ref_backward_weight(ref, dy, x, g);
    for (int t = 0; t < 3; t++) {
        dw[t] = rand_buf(nw);
        CHECK_OK(cnnc_set_num_threads(t + 1));
        CHECK_OK(cnnc__conv_wgrad_cl(cnnc__isa_active(), g, dw[t], dy, x));
    }
    CHECK(max_rel(dw[0], ref, nw) < 1e-5);
    CHECK(memcmp(dw[0], dw[1], (size_t)nw * 4) == 0);
    CHECK(memcmp(dw[0], dw[2], (size_t)nw * 4) == 0);
    cnnc_set_num_threads(2);
    free(x), free(dy), free(ref), free(dw[0]), free(dw[1]), free(dw[2]);
}

static void test_driver(void) {
    const cnnc__isa saved = cnnc__isa_active();
    const cnnc__window cases[] = {
        /* several chunks per image, channel runs across taps (cg 20), groups */
        {.n = 3, .c = 40, .m = 36, .groups = 2, .in = {1, 30, 31}, .out = {1, 30, 31},
         .k = {1, 3, 3}, .stride = {1, 1, 1}, .pad = {0, 1, 1}, .dil = {1, 1, 1}},
        /* small maps: chunks across images; stride 2, extra trailing output */
        {.n = 9, .c = 64, .m = 70, .groups = 1, .in = {1, 9, 9}, .out = {1, 5, 5},
         .k = {1, 3, 3}, .stride = {1, 2, 2}, .pad = {0, 1, 1}, .dil = {1, 1, 1}},
        /* 3-d, dilation, 10 channels (several runs per panel) */
        {.n = 2, .c = 10, .m = 17, .groups = 1, .in = {6, 11, 12}, .out = {4, 7, 8},
         .k = {2, 3, 3}, .stride = {1, 1, 1}, .pad = {0, 1, 1}, .dil = {2, 2, 2}},
        /* 1-d, long rows */
        {.n = 2, .c = 9, .m = 33, .groups = 1, .in = {1, 1, 700}, .out = {1, 1, 349},
         .k = {1, 1, 5}, .stride = {1, 1, 2}, .pad = {0, 0, 2}, .dil = {1, 1, 1}},
    };
    for (int l = (int)cnnc__isa_cpu(); l >= 0; l--) {
        REQUIRE(cnnc__isa_set_cap((cnnc__isa)l));
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) driver_case(&cases[i]);
    }
    CHECK(cnnc__isa_set_cap(saved));
}

int main(void) {
    (void)check_contains_; /* check.h's, for tests of error messages */
    RUN_TEST(test_kernels);
    RUN_TEST(test_driver);
    cnnc_thread_cleanup();
    return check_summary();
}
