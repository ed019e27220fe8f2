/* The default generator: xoshiro256** seeded by splitmix64, behind a lock so that
 * one seed gives one sequence whatever thread draws from it. The lock is held
 * across fork() (the child must not inherit it locked by a thread it does not
 * have), so a child draws the parent's next numbers. */
#include "core/rng.h"

#include <math.h>

#include "cnnc.h"
#include "core/error.h"
#include "core/spinlock.h"
#include "core/tensor.h"

static uint64_t state[4];
static cnnc__spinlock lock;
static int seeded = 0;
static const uint64_t DEFAULT_SEED = 67280421310721ULL; /* PyTorch's default seed value */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void seed_locked(uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) state[i] = splitmix64(&x);
    seeded = 1;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_locked(void) {
    if (!seeded) seed_locked(DEFAULT_SEED);
    uint64_t result = rotl(state[1] * 5, 7) * 9;
    uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
}

static void release(void) { cnnc__spin_unlock(&lock); }

#if defined(CNNC_USE_PTHREADS)
#include <pthread.h>
static void lock_for_fork(void) { cnnc__spin_lock(&lock); }
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(lock_for_fork, release, release); }
#endif

static void acquire(void) {
#if defined(CNNC_USE_PTHREADS)
    pthread_once(&atfork_once, install_atfork);
#endif
    cnnc__spin_lock(&lock);
}

void cnnc_manual_seed(uint64_t seed) {
    acquire();
    seed_locked(seed);
    release();
}

/* 53 random bits as a double in [0, 1). */
static double next_unit_locked(void) { return (double)(next_locked() >> 11) * 0x1.0p-53; }

void cnnc__rng_uniform(float *out, int64_t n, double low, double high) {
    acquire();
    for (int64_t i = 0; i < n; i++) {
        /* float [0,1) from 24 bits, as PyTorch draws floats, then scaled */
        float u = (float)(next_locked() >> 40) * 0x1.0p-24f;
        float v = (float)(u * (high - low) + low);
        out[i] = v < (float)high ? v : (float)low; /* rounding must not reach high */
    }
    release();
}

void cnnc__rng_normal(float *out, int64_t n, double mean, double std) {
    const double two_pi = 6.283185307179586476925286766559;
    acquire();
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = 1.0 - next_unit_locked(); /* (0, 1]: log is finite */
        double u2 = next_unit_locked();
        double r = sqrt(-2.0 * log(u1));
        out[i] = (float)(mean + std * r * cos(two_pi * u2));
        if (i + 1 < n) out[i + 1] = (float)(mean + std * r * sin(two_pi * u2));
    }
    release();
}

void cnnc__rng_get_state(uint64_t out[4]) {
    acquire();
    if (!seeded) seed_locked(DEFAULT_SEED);
    for (int i = 0; i < 4; i++) out[i] = state[i];
    release();
}

cnnc_tensor *cnnc_get_rng_state(void) {
    cnnc_tensor *t = cnnc__tensor_new(CNNC_INT64, 1, (const int64_t[]){4});
    if (!t) return NULL;
    cnnc__rng_get_state((uint64_t *)cnnc__i64(t)); /* the bits, as is */
    return cnnc__give(t);
}

cnnc_status cnnc_set_rng_state(const cnnc_tensor *new_state) {
    cnnc_status st = cnnc__check_tensor("set_rng_state", "new_state", new_state, false);
    if (st != CNNC_OK) return st;
    if (new_state->dtype != CNNC_INT64 || new_state->ndim != 1 || new_state->shape[0] != 4) {
        char shape[96];
        cnnc__shape_str(shape, sizeof shape, new_state->ndim, new_state->shape);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "set_rng_state(): expected an int64 tensor of shape [4] (from "
                           "get_rng_state), got %s of shape %s",
                           cnnc_dtype_name(new_state->dtype), shape);
    }
    const int64_t *v = cnnc__i64(new_state);
    if (!(v[0] | v[1] | v[2] | v[3]))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "set_rng_state(): the state is all zeros, which the generator "
                           "(xoshiro256**) cannot leave");
    acquire();
    for (int i = 0; i < 4; i++) state[i] = (uint64_t)v[i];
    seeded = 1;
    release();
    return CNNC_OK;
}
