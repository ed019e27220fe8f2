/* The machine's limits, which bench.py prints at the top of its tables and divides
 * by: fp32 FMA peak (GFLOP/s, a register-only loop of independent fused multiply-adds
 * at the widest vector width the CPU runs) and copy bandwidth (GB/s counted as bytes
 * read + bytes written, for buffers that live in L2, in L3 and in DRAM), at 1 and 2
 * threads. Asserts nothing.
 *
 *     ./probe          one line per measure: name value
 *     ./probe quick    shorter runs
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The calling thread's CPU time: on a shared machine, the time the scheduler gives
 * to other processes is left out. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Independent accumulators: enough to cover FMA latency x pipes, few enough that they
 * and the two constants stay in registers. With 16 accumulators in AVX2's 16 ymm
 * registers the loop spilled, which read 58 GFLOP/s on a Zen 3 core whose GEMM ran at
 * 91 (12 accumulators: 103). AVX-512 has 32 registers. */
enum { CHAINS_512 = 16, CHAINS = 12 };

/* flops of `iters` rounds of fma_chains(lanes) FMAs of `lanes` floats; the sum keeps
 * the compiler from dropping the loop. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static float fma_avx512(int64_t iters) {
    __m512 acc[CHAINS_512];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS_512; i++) acc[i] = _mm512_set1_ps((float)i);
    for (int64_t t = 0; t < iters; t++)
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS_512; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS_512; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}
__attribute__((target("avx2,fma"))) static float fma_avx2(int64_t iters) {
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    for (int64_t t = 0; t < iters; t++)
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
static int fma_lanes(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
    return 1;
}
#else
static int fma_lanes(void) { return 1; }
#endif

static float fma_scalar(int64_t iters) {
    float acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = (float)i;
    for (int64_t t = 0; t < iters; t++)
#pragma GCC unroll 16
        for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
    float s = 0.0f;
    for (int i = 0; i < CHAINS; i++) s += acc[i];
    return s;
}

static float fma_run(int lanes, int64_t iters) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    if (lanes == 16) return fma_avx512(iters);
    if (lanes == 8) return fma_avx2(iters);
#endif
    return fma_scalar(iters);
}

/* ---- copy bandwidth ---------------------------------------------------------------- */

typedef struct job {
    int lanes;
    int64_t iters;
    float *src, *dst;
    size_t floats;
    int reps;
    double seconds;
    float sink;
} job;

static void *fma_thread(void *p) {
    job *j = p;
    fma_run(j->lanes, j->iters / 10); /* warm-up: clocks up */
    double t0 = now();
    j->sink = fma_run(j->lanes, j->iters);
    j->seconds = now() - t0;
    return NULL;
}

static void *copy_thread(void *p) {
    job *j = p;
    memcpy(j->dst, j->src, j->floats * sizeof(float)); /* touch, warm */
    double t0 = now();
    for (int r = 0; r < j->reps; r++) {
        memcpy(j->dst, j->src, j->floats * sizeof(float));
        __asm__ __volatile__("" ::: "memory");
    }
    j->seconds = now() - t0;
    j->sink = j->dst[j->floats / 2];
    return NULL;
}

/* Runs fn on `threads` threads at once; returns the sum over threads of 1 / seconds
 * (each thread's rate of its own work, timed by its own CPU clock). */
static double run_threads(void *(*fn)(void *), job *jobs, int threads) {
    pthread_t tid[2];
    for (int t = 1; t < threads; t++) pthread_create(&tid[t], NULL, fn, &jobs[t]);
    fn(&jobs[0]);
    double rate = 1.0 / jobs[0].seconds;
    for (int t = 1; t < threads; t++) {
        pthread_join(tid[t], NULL);
        rate += 1.0 / jobs[t].seconds;
    }
    return rate;
}

static double best_of(int tries, double (*measure)(int, int, int), int a, int b, int c) {
    double best = 0.0;
    for (int i = 0; i < tries; i++) {
        double v = measure(a, b, c);
        if (v > best) best = v;
    }
    return best;
}

static double measure_fma(int threads, int lanes, int quick) {
    job jobs[2];
    const int64_t iters = quick ? 2000000 : 10000000;
    for (int t = 0; t < threads; t++) jobs[t] = (job){.lanes = lanes, .iters = iters};
    const int chains = lanes == 16 ? CHAINS_512 : CHAINS;
    return 2.0 * chains * lanes * (double)iters * run_threads(fma_thread, jobs, threads) * 1e-9;
}

static double measure_copy(int threads, int kib, int quick) {
    job jobs[2];
    const size_t floats = (size_t)kib * 256;
    const double total_bytes = quick ? 4e9 : 16e9; /* per thread, read + write */
    int reps = (int)(total_bytes / (2.0 * (double)floats * sizeof(float)));
    if (reps < 2) reps = 2;
    for (int t = 0; t < threads; t++) {
        float *src = aligned_alloc(64, floats * sizeof(float));
        float *dst = aligned_alloc(64, floats * sizeof(float));
        if (!src || !dst) {
            fprintf(stderr, "probe: out of memory\n");
            exit(1);
        }
        for (size_t i = 0; i < floats; i++) src[i] = (float)i;
        jobs[t] = (job){.src = src, .dst = dst, .floats = floats, .reps = reps};
    }
    const double rate = run_threads(copy_thread, jobs, threads);
    for (int t = 0; t < threads; t++) {
        free(jobs[t].src);
        free(jobs[t].dst);
    }
    return 2.0 * (double)floats * sizeof(float) * reps * rate * 1e-9;
}

int main(int argc, char **argv) {
    const int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    const int lanes = fma_lanes(), tries = quick ? 2 : 3;
    printf("fma_lanes %d\n", lanes);
    for (int threads = 1; threads <= 2; threads++) {
        printf("peak_gflops_%dt %.1f\n", threads, best_of(tries, measure_fma, threads, lanes, quick));
        /* 256 KiB per buffer: both in L2; 4 MiB: L3; 64 MiB: DRAM */
        printf("bw_l2_gbs_%dt %.1f\n", threads, best_of(tries, measure_copy, threads, 256, quick));
        printf("bw_l3_gbs_%dt %.1f\n", threads, best_of(tries, measure_copy, threads, 4096, quick));
        printf("bw_dram_gbs_%dt %.1f\n", threads,
               best_of(tries, measure_copy, threads, 65536, quick));
    }
    return 0;
}
