/* Internal: the data layer's own seeded generator (splitmix64), one small state per
 * stream. Streams are keyed by tuples (seed, purpose, epoch, index...), so any image
 * or order can be drawn on any thread, in any order, with the same result. Only
 * integer arithmetic: the same numbers on every machine. */
#ifndef CNNC_DATA_RANDOM_H
#define CNNC_DATA_RANDOM_H
#include <stdint.h>

typedef struct cnnc__drng {
    uint64_t state;
} cnnc__drng;

static inline uint64_t cnnc__drng_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A stream keyed by (a, b, c, d): each key is folded in through the mixer, so
 * neighbouring keys give unrelated streams. */
static inline cnnc__drng cnnc__drng_key(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
    const uint64_t golden = 0x9E3779B97F4A7C15ULL;
    uint64_t s = cnnc__drng_mix(a + golden);
    s = cnnc__drng_mix(s ^ (b + 2 * golden));
    s = cnnc__drng_mix(s ^ (c + 3 * golden));
    s = cnnc__drng_mix(s ^ (d + 4 * golden));
    return (cnnc__drng){s};
}

static inline uint64_t cnnc__drng_next(cnnc__drng *r) {
    r->state += 0x9E3779B97F4A7C15ULL;
    return cnnc__drng_mix(r->state);
}

/* Uniform double in [0, 1) from 53 bits. */
static inline double cnnc__drng_unit(cnnc__drng *r) {
    return (double)(cnnc__drng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform double in [lo, hi). */
static inline double cnnc__drng_range(cnnc__drng *r, double lo, double hi) {
    return lo + (hi - lo) * cnnc__drng_unit(r);
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (rejection). */
static inline uint64_t cnnc__drng_below(cnnc__drng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* a multiple of n */
    uint64_t x;
    do x = cnnc__drng_next(r);
    while (x >= limit);
    return x % n;
}
#endif
