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
static bool sub(int64_t a, int64_t b, int64_t *r) { return !__builtin_sub_overflow(a, b, r); }
static bool mul(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }

bool cnnc__window_out_len(int64_t in, int64_t k, int64_t stride, int64_t pad_l, int64_t pad_r,
                          int64_t dil, bool ceil_mode, int64_t *out) {
    int64_t left, span, reach, k1, s1;
    if (!add(in, pad_l, &left) || !add(left, pad_r, &span) || !sub(k, 1, &k1) ||
        !mul(dil, k1, &reach) || !add(reach, 1, &reach) || !sub(span, reach, &span) ||
        (ceil_mode && (!sub(stride, 1, &s1) || !add(span, s1, &span))))
        return false;
    if (stride == -1 && span == INT64_MIN) return false;
    int64_t last = cnnc__div_floor(span, stride), start; /* the last window's index: out - 1 */
    /* ceil_mode: the last window starts at last * stride, which must be < in + pad_l
     * (a product that overflows upwards starts past it) */
    if (ceil_mode && (mul(last, stride, &start) ? start >= left : last > 0)) last--;
    return add(last, 1, out);
}

bool cnnc__window_transposed_len(int64_t in, int64_t k, int64_t stride, int64_t pad_l,
                                 int64_t pad_r, int64_t dil, int64_t out_pad, int64_t *out) {
    int64_t in1, k1, a, d, o;
    if (!sub(in, 1, &in1) || !mul(in1, stride, &a) || !sub(k, 1, &k1) || !mul(dil, k1, &d) ||
        !add(a, d, &o) || !add(o, out_pad, &o) || !add(o, 1, &o) || !sub(o, pad_l, &o) ||
        !sub(o, pad_r, &o))
        return false;
    *out = o;
    return true;
}
