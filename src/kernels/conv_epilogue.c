/* A forward convolution's epilogue (kernels/conv.h): the bias and the activation applied
 * to an output row or tile that the path has just written, while it is in cache. The
 * arithmetic is the activation kernels' (kernels/activation.h) and conv_im2col.c's
 * bias add, so the values are those of the separate ops. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/conv.h"

void cnnc__conv_epilogue_row(cnnc__isa isa, const cnnc__conv_epilogue *e, int64_t o, float *dst,
                             const float *src, int64_t n) {
    if (e->act && e->bias)
        cnnc__k_act_forward_bias(isa, e->op, &e->p, dst, src, e->bias[o], n);
    else if (e->act)
        cnnc__k_act_forward(isa, e->op, &e->p, dst, src, n);
    else if (e->bias)
        cnnc__conv_copy_add(isa, dst, src, e->bias[o], n);
    else if (dst != src)
        memcpy(dst, src, (size_t)n * sizeof(float));
}

void cnnc__conv_epilogue_act(cnnc__isa isa, const cnnc__conv_epilogue *e, float *y, int64_t n) {
    if (e->act) cnnc__k_act_forward(isa, e->op, &e->p, y, y, n);
}

bool cnnc__conv_epilogue_clamp(const cnnc__conv_epilogue *e, cnnc__conv_clamp *c) {
    if (!e->act) return false;
    if (e->op == CNNC__ACT_RELU)
        *c = (cnnc__conv_clamp){0.0f, INFINITY};
    else if (e->op == CNNC__ACT_HARDTANH)
        *c = (cnnc__conv_clamp){e->p.a, e->p.b};
    else
        return false;
    return true;
}

bool cnnc__conv_epilogue_gemm(cnnc__isa isa, const cnnc__conv_epilogue *e, int64_t o0,
                              cnnc__sgemm_epilogue *f) {
    cnnc__conv_clamp c = {-INFINITY, INFINITY}; /* no clamp: the same bits */
    if (!cnnc__sgemm_fuses_epilogue(isa) || !cnnc__conv_epilogue_any(e) ||
        (e->act && !cnnc__conv_epilogue_clamp(e, &c)))
        return false;
    *f = (cnnc__sgemm_epilogue){e->bias ? e->bias + o0 : NULL, c.lo, c.hi};
    return true;
}

const char *cnnc__conv_epilogue_name(const cnnc__conv_epilogue *e, char *buf, size_t size) {
    if (!e->act)
        snprintf(buf, size, "%s", "");
    else if (e->op == CNNC__ACT_HARDTANH)
        snprintf(buf, size, "hardtanh(%g,%g)", (double)e->p.a, (double)e->p.b);
    else if (e->op == CNNC__ACT_LEAKY_RELU)
        snprintf(buf, size, "leaky_relu(%g)", (double)e->p.a);
    else
        snprintf(buf, size, "%s", cnnc__act_name(e->op));
    return buf;
}
