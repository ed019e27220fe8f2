/* The update loops of update.h, compiled once per target (K(name) gives the
 * variant's name). Each element goes through PyTorch's passes in order; only
 * the explicit fmaf calls are fused. */
#include <math.h>

#include "optim/update.h"

/* torch.maximum: NaN if either is NaN. */
static inline float k_nanmax(float a, float b) {
    return a != a ? a : b != b ? b : a > b ? a : b;
}

void K(sgd)(const cnnc__sgd_args *a, float *p, const float *g, float *buf, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float d = a->maximize ? -g[i] : g[i];
        if (a->has_wd) d = fmaf(a->wd, p[i], d);                 /* d_p.add(param, alpha=wd) */
        if (a->has_momentum) {
            float b = a->init_buf ? d                             /* clone(d_p) */
                                  : fmaf(a->one_minus_dampening, d, buf[i] * a->momentum);
            buf[i] = b;
            d = a->nesterov ? fmaf(a->momentum, b, d) : b;
        }
        p[i] = fmaf(a->neg_lr, d, p[i]);                          /* param.add_(d_p, alpha=-lr) */
    }
}

void K(adam)(const cnnc__adam_args *a, float *p, const float *g, float *m, float *v, float *vmax,
             int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float gi = a->maximize ? -g[i] : 0.0f;  /* -grad is taken before AdamW's decay */
        if (a->decoupled) p[i] = p[i] * a->decay;                 /* param.mul_(1 - lr * wd) */
        if (!a->maximize) gi = g[i];
        if (a->has_wd) gi = fmaf(a->wd, p[i], gi);
        m[i] = fmaf(a->one_minus_beta1, gi, m[i] * a->beta1);
        v[i] = fmaf(a->one_minus_beta2 * gi, gi, v[i] * a->beta2);
        float s = v[i];
        if (a->amsgrad) s = vmax[i] = k_nanmax(vmax[i], v[i]);
        float denom = sqrtf(s) / a->bias_correction2_sqrt + a->eps;
        p[i] = p[i] + (a->neg_step_size * m[i]) / denom;          /* addcdiv_(value=-step_size) */
    }
}

void K(rmsprop)(const cnnc__rmsprop_args *a, float *p, const float *g, float *sq, float *ga,
                float *buf, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float gi = a->maximize ? -g[i] : g[i];
        if (a->has_wd) gi = fmaf(a->wd, p[i], gi);
        sq[i] = fmaf(a->one_minus_alpha * gi, gi, sq[i] * a->alpha);
        float avg;
        if (a->centered) {
            ga[i] = fmaf(a->one_minus_alpha, gi, ga[i] * a->alpha);
            avg = sqrtf(fmaf(-ga[i], ga[i], sq[i]));             /* addcmul(value=-1).sqrt_() */
        } else {
            avg = sqrtf(sq[i]);
        }
        avg = avg + a->eps;
        if (a->has_momentum) {
            buf[i] = buf[i] * a->momentum + gi / avg;             /* mul_(m).addcdiv_(g, avg) */
            p[i] = fmaf(a->neg_lr, buf[i], p[i]);
        } else {
            p[i] = p[i] + (a->neg_lr * gi) / avg;
        }
    }
}

void K(adagrad)(const cnnc__adagrad_args *a, float *p, const float *g, float *sum, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float gi = a->maximize ? -g[i] : g[i];
        if (a->has_wd) gi = fmaf(a->wd, p[i], gi);
        sum[i] = fmaf(gi, gi, sum[i]);                            /* addcmul_(g, g, value=1) */
        float std = sqrtf(sum[i]) + a->eps;
        p[i] = p[i] + (a->neg_clr * gi) / std;
    }
}
