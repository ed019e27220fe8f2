/* Internal: the default random generator (xoshiro256**, seeded by splitmix64). */
#ifndef CNNC_CORE_RNG_H
#define CNNC_CORE_RNG_H
#include <stdint.h>
/* Fill out[0..n) from the default generator (one lock per call). */
void cnnc__rng_uniform(float *out, int64_t n, double low, double high); /* [low, high) */
void cnnc__rng_normal(float *out, int64_t n, double mean, double std);
/* The generator's four state words (seeding it with the default seed first if it was
 * never seeded), as cnnc_get_rng_state gives them. */
void cnnc__rng_get_state(uint64_t out[4]);
#endif
