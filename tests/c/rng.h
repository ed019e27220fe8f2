/* The C tests' random numbers: splitmix64 from rng_state (a test file sets it to a
 * seed before each group of cases, or defines TEST_RNG_SEED first for its start),
 * uniform integers in [lo, hi], floats in [-1, 1) and malloc'ed buffers of them. */
#ifndef CNNC_TEST_RNG_H
#define CNNC_TEST_RNG_H
#include <stdint.h>
#include <stdlib.h>

#ifndef TEST_RNG_SEED
#define TEST_RNG_SEED 0
#endif
static uint64_t rng_state = TEST_RNG_SEED;

static inline uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static inline int64_t rnd(int64_t lo, int64_t hi) { /* [lo, hi] */
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static inline float rndf(void) {
    return (float)((double)(rng_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static inline float *rand_buf(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n && p; i++) p[i] = rndf();
    return p;
}
#endif
