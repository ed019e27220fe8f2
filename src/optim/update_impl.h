/* The update loops of update.h, compiled once per target (K(name) gives the
 * variant's name). Each element goes through PyTorch's passes in order; only
 * the explicit fmaf calls are fused. Flags that change which arrays a loop
 * touches select a specialised copy of the loop (an always-inlined body with
 * constant flags); the others are bitwise selects (a branch on a loop-invariant
 * flag keeps gcc from vectorizing), so every copy vectorizes. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "optim/update.h"

#if defined(__GNUC__)
#define K_INLINE static inline __attribute__((always_inline))
#else
#define K_INLINE static inline
#endif

/* torch.maximum: NaN if either is NaN. */
K_INLINE float k_nanmax(float a, float b) { return a != a ? a : b != b ? b : a > b ? a : b; }

K_INLINE uint32_t k_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
K_INLINE float k_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
/* mask all ones: a, mask 0: b */
K_INLINE float k_select(uint32_t mask, float a, float b) {
    return k_float((k_bits(a) & mask) | (k_bits(b) & ~mask));
}
K_INLINE uint32_t k_mask(bool flag) { return flag ? ~UINT32_C(0) : 0; }
/* -x when neg is the sign bit (exactly torch's neg, NaN's sign included) */
K_INLINE float k_neg_if(uint32_t neg, float x) { return k_float(k_bits(x) ^ neg); }
K_INLINE uint32_t k_sign(bool flag) { return flag ? UINT32_C(0x80000000) : 0; }

/* grad, negated with maximize, plus weight decay: d_p.add(param, alpha=wd) */
K_INLINE float k_grad(float g, float p, uint32_t neg, uint32_t wd_mask, float wd) {
    float d = k_neg_if(neg, g);
    return k_select(wd_mask, fmaf(wd, p, d), d);
}

K_INLINE void k_sgd(const cnnc__sgd_args *args, float *p, const float *g, float *buf, int64_t n,
                    const bool momentum, const bool init_buf) {
    const cnnc__sgd_args a = *args;
    const uint32_t neg = k_sign(a.maximize), wd = k_mask(a.has_wd), nesterov = k_mask(a.nesterov);
    for (int64_t i = 0; i < n; i++) {
        float d = k_grad(g[i], p[i], neg, wd, a.wd);
        if (momentum) {
            float b = init_buf ? d                                 /* clone(d_p) */
                               : fmaf(a.one_minus_dampening, d, buf[i] * a.momentum);
            buf[i] = b;
            d = k_select(nesterov, fmaf(a.momentum, b, d), b);
        }
        p[i] = fmaf(a.neg_lr, d, p[i]);                            /* param.add_(d_p, alpha=-lr) */
    }
}

void K(sgd)(const cnnc__sgd_args *a, float *p, const float *g, float *buf, int64_t n) {
    if (!a->has_momentum) k_sgd(a, p, g, buf, n, false, false);
    else if (a->init_buf) k_sgd(a, p, g, buf, n, true, true);
    else k_sgd(a, p, g, buf, n, true, false);
}

K_INLINE void k_adam(const cnnc__adam_args *args, float *p, const float *g, float *m, float *v,
                     float *vmax, int64_t n, const bool amsgrad, const bool decoupled) {
    const cnnc__adam_args a = *args;
    const uint32_t neg = k_sign(a.maximize), wd = k_mask(a.has_wd), max = k_mask(a.maximize);
    for (int64_t i = 0; i < n; i++) {
        float gi;
        if (decoupled) {  /* AdamW: -grad is taken before param.mul_(1 - lr * wd), grad after */
            float before = -g[i];
            p[i] = p[i] * a.decay;
            gi = k_select(max, before, g[i]);
        } else {
            gi = k_grad(g[i], p[i], neg, wd, a.wd);
        }
        float mi = fmaf(a.one_minus_beta1, gi, m[i] * a.beta1);
        float vi = fmaf(a.one_minus_beta2 * gi, gi, v[i] * a.beta2);
        m[i] = mi;
        v[i] = vi;
        if (amsgrad) vi = vmax[i] = k_nanmax(vmax[i], vi);
        float denom = sqrtf(vi) / a.bias_correction2_sqrt + a.eps;
        p[i] = p[i] + (a.neg_step_size * mi) / denom;              /* addcdiv_(value=-step_size) */
    }
}

void K(adam)(const cnnc__adam_args *a, float *p, const float *g, float *m, float *v, float *vmax,
             int64_t n) {
    if (a->decoupled) {
        if (a->amsgrad) k_adam(a, p, g, m, v, vmax, n, true, true);
        else k_adam(a, p, g, m, v, vmax, n, false, true);
    } else {
        if (a->amsgrad) k_adam(a, p, g, m, v, vmax, n, true, false);
        else k_adam(a, p, g, m, v, vmax, n, false, false);
    }
}

K_INLINE void k_rmsprop(const cnnc__rmsprop_args *args, float *p, const float *g, float *sq,
                        float *ga, float *buf, int64_t n, const bool centered, const bool momentum) {
    const cnnc__rmsprop_args a = *args;
    const uint32_t neg = k_sign(a.maximize), wd = k_mask(a.has_wd);
    for (int64_t i = 0; i < n; i++) {
        float gi = k_grad(g[i], p[i], neg, wd, a.wd);
        float s = fmaf(a.one_minus_alpha * gi, gi, sq[i] * a.alpha);
        sq[i] = s;
        float avg;
        if (centered) {
            float gav = fmaf(a.one_minus_alpha, gi, ga[i] * a.alpha);
            ga[i] = gav;
            avg = sqrtf(fmaf(-gav, gav, s));                       /* addcmul(value=-1).sqrt_() */
        } else {
            avg = sqrtf(s);
        }
        avg = avg + a.eps;
        if (momentum) {
            float b = buf[i] * a.momentum + gi / avg;              /* mul_(m).addcdiv_(g, avg) */
            buf[i] = b;
            p[i] = fmaf(a.neg_lr, b, p[i]);
        } else {
            p[i] = p[i] + (a.neg_lr * gi) / avg;
        }
    }
}

void K(rmsprop)(const cnnc__rmsprop_args *a, float *p, const float *g, float *sq, float *ga,
                float *buf, int64_t n) {
    if (a->centered) {
        if (a->has_momentum) k_rmsprop(a, p, g, sq, ga, buf, n, true, true);
        else k_rmsprop(a, p, g, sq, ga, buf, n, true, false);
    } else {
        if (a->has_momentum) k_rmsprop(a, p, g, sq, ga, buf, n, false, true);
        else k_rmsprop(a, p, g, sq, ga, buf, n, false, false);
    }
}

void K(adagrad)(const cnnc__adagrad_args *args, float *p, const float *g, float *sum, int64_t n) {
    const cnnc__adagrad_args a = *args;
    const uint32_t neg = k_sign(a.maximize), wd = k_mask(a.has_wd);
    for (int64_t i = 0; i < n; i++) {
        float gi = k_grad(g[i], p[i], neg, wd, a.wd);
        float s = fmaf(gi, gi, sum[i]);                            /* addcmul_(g, g, value=1) */
        sum[i] = s;
        float std = sqrtf(s) + a.eps;
        p[i] = p[i] + (a.neg_clr * gi) / std;
    }
}

#undef K_INLINE
