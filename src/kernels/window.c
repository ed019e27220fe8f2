#include "kernels/window.h"

void cnnc__window_fill(cnnc__window *g, int nsp, int64_t planes, const int64_t *in,
                       const int64_t *out, const int64_t *k, const int64_t *stride,
                       const int64_t *pad, const int64_t *dil) {
    *g = (cnnc__window){.n = planes, .c = 1, .m = 1, .groups = 1};
    for (int i = 0; i < 3; i++) {
        const int j = i - (3 - nsp); /* the op's dim in slot i, if any */
        g->in[i] = j >= 0 ? in[j] : 1;
        g->out[i] = j >= 0 ? out[j] : 1;
        g->k[i] = j >= 0 && k ? k[j] : 1;
        g->stride[i] = j >= 0 && stride ? stride[j] : 1;
        g->pad[i] = j >= 0 && pad ? pad[j] : 0;
        g->dil[i] = j >= 0 && dil ? dil[j] : 1;
    }
}

static bool add(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }
static bool mul(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* a / b rounded toward negative infinity (b != 0) */
static int64_t div_floor(int64_t a, int64_t b) {
    int64_t q = a / b, r = a % b;
    return (r != 0 && (r < 0) != (b < 0)) ? q - 1 : q;
}

bool cnnc__window_out_len(int64_t in, int64_t k, int64_t stride, int64_t pad_l, int64_t pad_r,
                          int64_t dil, bool ceil_mode, int64_t *out) {
    int64_t left, span, reach;
    if (!add(in, pad_l, &left) || !add(left, pad_r, &span) || !mul(dil, k - 1, &reach) ||
        !add(reach, 1, &reach) || !add(span, -reach, &span) ||
        (ceil_mode && !add(span, stride - 1, &span)))
        return false;
    int64_t o = div_floor(span, stride) + 1, start;
    /* ceil_mode: the last window starts at (o - 1) stride, which must be < in + pad_l
     * (a product that overflows upwards starts past it) */
    if (ceil_mode && (mul(o - 1, stride, &start) ? start >= left : o > 1)) o--;
    *out = o;
    return true;
}

bool cnnc__window_transposed_len(int64_t in, int64_t k, int64_t stride, int64_t pad_l,
                                 int64_t pad_r, int64_t dil, int64_t out_pad, int64_t *out) {
    int64_t a, d, o;
    if (!mul(in - 1, stride, &a) || !mul(dil, k - 1, &d) || !add(a, d, &o) ||
        !add(o, out_pad, &o) || !add(o, 1, &o) || !add(o, -pad_l, &o) || !add(o, -pad_r, &o))
        return false;
    *out = o;
    return true;
}
