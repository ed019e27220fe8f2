/* nn.utils.clip_grad_norm_ and clip_grad_value_, with PyTorch 1.13's CPU
 * rounding: each gradient's norm as its norm kernel reduces it (for p = 2 the
 * vectorized last-dim path: 8 fused lanes, a sequential horizontal sum, then
 * the tail; for other p one sequential float accumulation), the norm of those
 * norms, and the clip coefficient in float32. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "optim/optim.h"

/* torch's max / min reductions: NaN wins. */
static float nanmax(float a, float b) { return (a != a || a > b) ? a : b; }
static float nanmin(float a, float b) { return (a != a || a < b) ? a : b; }

/* The p = 2 fast path (ReduceOpsKernel.cpp): AVX2 lanes with FMA, lanes summed
 * in order, then the tail (the compiler does four at a time unfused, the rest
 * fused). */
static float norm2(const float *x, int64_t n) {
    float acc[8] = {0};
    int64_t d = 0, body = n - n % 8;
    for (; d < body; d += 8)
        for (int j = 0; j < 8; j++) acc[j] = fmaf(x[d + j], x[d + j], acc[j]);
    float b = acc[0];
    for (int j = 1; j < 8; j++) b = b + acc[j];
    for (; d + 4 <= n; d += 4)
        for (int j = 0; j < 4; j++) b = b + x[d + j] * x[d + j];
    for (; d < n; d++) b = fmaf(x[d], x[d], b);
    return sqrtf(b);
}

/* torch.norm(x, p) of n floats. */
static float norm_p(const float *x, int64_t n, double p) {
    if (n == 0) return 0.0f;
    if (p == 2.0) return norm2(x, n);
    float acc = 0;
    if (p == INFINITY) {
        for (int64_t i = 0; i < n; i++) acc = nanmax(acc, fabsf(x[i]));
        return acc;
    }
    if (p == -INFINITY) {
        acc = INFINITY;
        for (int64_t i = 0; i < n; i++) acc = nanmin(acc, fabsf(x[i]));
        return acc;
    }
    if (p == 0.0) {
        for (int64_t i = 0; i < n; i++) acc = acc + (x[i] == 0 ? 0.0f : 1.0f);
        return acc;
    }
    if (p == 1.0) {
        for (int64_t i = 0; i < n; i++) acc = acc + fabsf(x[i]);
        return acc;
    }
    float pf = (float)p;
    for (int64_t i = 0; i < n; i++) acc = acc + powf(fabsf(x[i]), pf);
    return powf(acc, 1.0f / pf);
}

/* The parameters' gradients (borrowed), skipping parameters without one. */
static cnnc_status collect_grads(const char *fn, cnnc_params params, cnnc_tensor ***out, size_t *n) {
    if (params.list && (params.n || params.tensors))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): params: give either a tensor list or an array, not both", fn);
    if (params.n && !params.tensors)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): %zu parameters but a NULL array", fn,
                           params.n);
    size_t count = params.list ? cnnc_tensor_list_size(params.list) : params.n;
    cnnc_tensor **grads = cnnc__calloc(count ? count : 1, sizeof *grads);
    if (!grads) return cnnc__oom("the gradients to clip");
    *n = 0;
    for (size_t i = 0; i < count; i++) {
        cnnc_tensor *p = params.list ? cnnc_tensor_list_get(params.list, i) : params.tensors[i];
        if (!p) {
            cnnc__free(grads);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): parameter %zu is NULL ('NoneType' "
                               "object has no attribute 'grad')", fn, i);
        }
        if (!p->grad) continue;
        if (p->grad->dtype != CNNC_FLOAT32) {
            cnnc__free(grads);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): the gradient of parameter %zu is "
                               "%s; cnnc clips float32 gradients", fn, i,
                               cnnc_dtype_name(p->grad->dtype));
        }
        grads[(*n)++] = p->grad;
    }
    *out = grads;
    return CNNC_OK;
}

cnnc_tensor *cnnc_clip_grad_norm_(cnnc_params parameters, double max_norm,
                                  cnnc_clip_grad_norm_options options) {
    cnnc_tensor **grads;
    size_t n;
    if (collect_grads("clip_grad_norm_", parameters, &grads, &n) != CNNC_OK) return NULL;
    double p = options.norm_type;
    cnnc_tensor *out = cnnc__tensor_zeros(CNNC_FLOAT32, 0, NULL);
    float *norms = cnnc__calloc(n ? n : 1, sizeof *norms);
    if (!out || !norms) {
        cnnc_tensor_release(out);
        cnnc__free(norms);
        cnnc__free(grads);
        return cnnc__oom("clip_grad_norm_"), NULL;
    }
    if (n == 0) { /* torch.tensor(0.) */
        cnnc__free(norms);
        cnnc__free(grads);
        return cnnc__give(out);
    }
    for (size_t i = 0; i < n; i++) {
        if (p == INFINITY && grads[i]->numel == 0) { /* g.abs().max() of an empty tensor */
            cnnc__free(norms);
            cnnc__free(grads);
            cnnc_tensor_release(out);
            return cnnc__error_null(CNNC_ERR_RUNTIME, "max(): Expected reduction dim to be "
                                    "specified for input.numel() == 0. Specify the reduction dim "
                                    "with the 'dim' argument.");
        }
        norms[i] = norm_p(cnnc__f32(grads[i]), grads[i]->numel, p);
    }
    float total = norms[0];
    if (p == INFINITY)
        for (size_t i = 1; i < n; i++) total = nanmax(total, norms[i]);
    else
        total = norm_p(norms, (int64_t)n, p);
    cnnc__free(norms);
    if (options.error_if_nonfinite && !isfinite(total)) {
        char b[64];
        cnnc__float_repr(p, b, sizeof b);
        cnnc__free(grads);
        cnnc_tensor_release(out);
        return cnnc__error_null(CNNC_ERR_RUNTIME, "The total norm of order %s for gradients from "
                                "`parameters` is non-finite, so it cannot be clipped. To disable "
                                "this error and scale the gradients by the non-finite norm "
                                "anyway, set `error_if_nonfinite=False`", b);
    }
    /* max_norm / (total_norm + 1e-6) is reciprocal(total + 1e-6) * max_norm in torch */
    float coef = (1.0f / (total + (float)1e-6)) * (float)max_norm;
    if (!(coef != coef) && coef > 1.0f) coef = 1.0f; /* clamp(max=1.0), NaN stays */
    for (size_t i = 0; i < n; i++) {
        float *g = cnnc__f32(grads[i]);
        for (int64_t j = 0; j < grads[i]->numel; j++) g[j] = g[j] * coef;
        cnnc__bump_version(grads[i]);
    }
    cnnc__f32(out)[0] = total;
    cnnc__free(grads);
    return cnnc__give(out);
}

cnnc_status cnnc_clip_grad_value_(cnnc_params parameters, double clip_value) {
    cnnc_tensor **grads;
    size_t n;
    cnnc_status st = collect_grads("clip_grad_value_", parameters, &grads, &n);
    if (st != CNNC_OK) return st;
    float lo = (float)-clip_value, hi = (float)clip_value;
    for (size_t i = 0; i < n; i++) { /* p.grad.data.clamp_(min=-c, max=c): .data, no version */
        float *g = cnnc__f32(grads[i]);
        for (int64_t j = 0; j < grads[i]->numel; j++) g[j] = nanmin(nanmax(g[j], lo), hi);
    }
    cnnc__free(grads);
    return CNNC_OK;
}
