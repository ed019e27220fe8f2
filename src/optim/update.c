/* The update loops: the baseline build, and the run-time choice of variant. */
#include "optim/update.h"

#include <stdatomic.h>

#define K(name) cnnc__k_##name##_base
#include "optim/update_impl.h"
#undef K

#if CNNC__K_UPDATE_X86
/* 2: AVX-512F, 1: AVX2 + FMA, 0: neither. */
static int simd_level(void) {
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        __builtin_cpu_init();
        v = !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 0
            : __builtin_cpu_supports("avx512f")                                ? 2
                                                                              : 1;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}
#define DISPATCH(name, ...)                                    \
    (simd_level() == 2   ? cnnc__k_##name##_avx512(__VA_ARGS__) \
     : simd_level() == 1 ? cnnc__k_##name##_avx2(__VA_ARGS__)   \
                         : cnnc__k_##name##_base(__VA_ARGS__))
#else
#define DISPATCH(name, ...) cnnc__k_##name##_base(__VA_ARGS__)
#endif

void cnnc__k_sgd(const cnnc__sgd_args *a, float *p, const float *g, float *buf, int64_t n) {
    DISPATCH(sgd, a, p, g, buf, n);
}
void cnnc__k_adam(const cnnc__adam_args *a, float *p, const float *g, float *m, float *v,
                  float *vmax, int64_t n) {
    DISPATCH(adam, a, p, g, m, v, vmax, n);
}
void cnnc__k_rmsprop(const cnnc__rmsprop_args *a, float *p, const float *g, float *sq, float *ga,
                     float *buf, int64_t n) {
    DISPATCH(rmsprop, a, p, g, sq, ga, buf, n);
}
void cnnc__k_adagrad(const cnnc__adagrad_args *a, float *p, const float *g, float *sum, int64_t n) {
    DISPATCH(adagrad, a, p, g, sum, n);
}
