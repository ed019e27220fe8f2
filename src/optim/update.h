/* Internal: the optimizers' per-element update loops. Each reproduces PyTorch
 * 1.13's single-tensor step, pass by pass, as it rounds on an AVX2 CPU:
 * add(x, alpha=a) is fmaf(a, x, self), addcmul(t1, t2, value=v) is
 * fmaf(v * t1, t2, self), addcdiv is self + (v * t1) / t2, mul_/div by a
 * Python scalar uses the scalar rounded to float. The scalars below are those
 * float roundings (and the flags PyTorch's `if` tests), computed by step.c.
 * Arrays are contiguous float32 of n elements; loops never allocate.
 * Three builds: baseline (fmaf from libm), AVX2+FMA and AVX-512, chosen at run time
 * (the best the CPU has); all give identical bits (no contraction but the explicit
 * fmaf). */
#ifndef CNNC_OPTIM_UPDATE_H
#define CNNC_OPTIM_UPDATE_H
#include <stdbool.h>
#include <stdint.h>

typedef struct cnnc__sgd_args {
    bool maximize, has_wd, has_momentum, nesterov;
    bool init_buf; /* the momentum buffer was just created: buf = d_p */
    float wd, momentum, one_minus_dampening, neg_lr;
} cnnc__sgd_args;

typedef struct cnnc__adam_args {
    bool maximize, has_wd, amsgrad;
    bool decoupled;     /* AdamW: p *= decay first (decay = 1 - lr * weight_decay) */
    float wd, decay;
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    float bias_correction2_sqrt, eps, neg_step_size;
} cnnc__adam_args;

typedef struct cnnc__rmsprop_args {
    bool maximize, has_wd, centered, has_momentum;
    float wd, alpha, one_minus_alpha, eps, momentum, neg_lr;
} cnnc__rmsprop_args;

typedef struct cnnc__adagrad_args {
    bool maximize, has_wd;
    float wd, eps, neg_clr;
} cnnc__adagrad_args;

/* p [n] param, g [n] grad, buf [n] momentum buffer (unused without momentum). */
void cnnc__k_sgd(const cnnc__sgd_args *a, float *p, const float *g, float *buf, int64_t n);
/* m, v [n] exp_avg, exp_avg_sq; vmax [n] max_exp_avg_sq (amsgrad only). */
void cnnc__k_adam(const cnnc__adam_args *a, float *p, const float *g, float *m, float *v,
                  float *vmax, int64_t n);
/* sq [n] square_avg, ga [n] grad_avg (centered), buf [n] momentum buffer. */
void cnnc__k_rmsprop(const cnnc__rmsprop_args *a, float *p, const float *g, float *sq, float *ga,
                     float *buf, int64_t n);
/* sum [n] the accumulator. */
void cnnc__k_adagrad(const cnnc__adagrad_args *a, float *p, const float *g, float *sum, int64_t n);

/* The variants (update_impl.h compiled per target). */
#define CNNC__K_UPDATE_DECLARE(sfx)                                                             \
    void cnnc__k_sgd_##sfx(const cnnc__sgd_args *a, float *p, const float *g, float *buf,      \
                           int64_t n);                                                           \
    void cnnc__k_adam_##sfx(const cnnc__adam_args *a, float *p, const float *g, float *m,      \
                            float *v, float *vmax, int64_t n);                                   \
    void cnnc__k_rmsprop_##sfx(const cnnc__rmsprop_args *a, float *p, const float *g,          \
                               float *sq, float *ga, float *buf, int64_t n);                     \
    void cnnc__k_adagrad_##sfx(const cnnc__adagrad_args *a, float *p, const float *g,          \
                               float *sum, int64_t n);
CNNC__K_UPDATE_DECLARE(base)
#if defined(__x86_64__) && defined(__GNUC__)
#define CNNC__K_UPDATE_X86 1
CNNC__K_UPDATE_DECLARE(avx2)
CNNC__K_UPDATE_DECLARE(avx512)
#else
#define CNNC__K_UPDATE_X86 0
#endif
#endif
