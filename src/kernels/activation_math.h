/* Internal: branch-free float approximations of exp, log1p, tanh and erf, written
 * so that loops calling them vectorize (selects, no calls, no float->int
 * conversions of unbounded values). Accuracy, measured against double precision:
 * exp, log and log1p within 2 ulp, tanh within 3 ulp (the rational one 7), erf within
 * 4.2e-7 absolute. NaN propagates and infinities give the limits libm gives. The
 * polynomial coefficients were fitted for cnnc (weighted least squares on Chebyshev
 * nodes).
 * Included by the fast kernel translation units (activation_*.c, loss_*.c). */
#ifndef CNNC_KERNELS_ACTIVATION_MATH_H
#define CNNC_KERNELS_ACTIVATION_MATH_H
#include <stdint.h>
#include <string.h>

static inline float cm_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline uint32_t cm_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* e^x for xc in [-104, 89]: x = n ln2 + r, |r| <= ln2/2; returns e^r (a degree-6
 * polynomial) and n. */
static inline float cm_exp_parts(float xc, int32_t *ni) {
    const float shifter = 0x1.8p23f;
    float t = xc * 1.44269504088896341f + shifter;
    float n = t - shifter;                          /* round(x / ln2) */
    *ni = (int32_t)(cm_bits(t) - cm_bits(shifter)); /* the same, as an integer */
    float r = xc - n * 0.693145751953125f;          /* ln2 split into hi + lo */
    r = r - n * 1.428606765330187e-06f;
    float p = 0.0013941113138571382f;
    p = p * r + 0.008363175205886364f;
    p = p * r + 0.04166637361049652f;
    p = p * r + 0.16666576266288757f;
    p = p * r + 0.5f;
    return 1.0f + r + r * r * p;
}

/* e^x: 2^n applied as two exponent-field factors so results down to the subnormal
 * range are right. */
static inline float cm_exp(float x) {
    float xc = x > -104.0f ? x : -104.0f; /* NaN becomes -104 here; restored below */
    xc = xc < 89.0f ? xc : 89.0f;
    int32_t ni;
    float p = cm_exp_parts(xc, &ni);
    int32_t n1 = ni >> 1, n2 = ni - n1;             /* each in [-75, 64] */
    float s1 = cm_from_bits((uint32_t)(n1 + 127) << 23);
    float s2 = cm_from_bits((uint32_t)(n2 + 127) << 23);
    float y = p * s1 * s2;
    return x != x ? x : y;
}

/* e^x for x <= 0 (and NaN, which propagates), 0 below -87 (results under FLT_MIN,
 * where cm_exp goes on into the subnormals): one exponent-field factor, no clamp
 * from above. The same bits as cm_exp from -87 up. What gelu's backward needs for
 * exp(-x^2 / 2) (its backward at AVX2, with cm_erf below: 1.22 -> 0.99 ns per element). */
static inline float cm_exp_nonpos(float x) {
    float xc = x < -87.0f ? -87.0f : x; /* NaN stays NaN */
    int32_t ni;
    float y = cm_exp_parts(xc, &ni) * cm_from_bits((uint32_t)(ni + 127) << 23);
    return x < -87.0f ? 0.0f : y;
}

/* log(u 2^e0) for normal u > 0 (finite): u = m 2^e, m in [sqrt(1/2), sqrt(2)). */
static inline float cm_log_scaled(float u, int32_t e0) {
    uint32_t b = cm_bits(u) - 0x3f3504f3u;  /* offset so m lands in [sqrt(1/2), sqrt(2)) */
    int32_t e = ((int32_t)b >> 23) + e0;
    float m = cm_from_bits((b & 0x007fffffu) + 0x3f3504f3u);
    float f = m - 1.0f;
    float s = f / (2.0f + f), s2 = s * s;
    float p = -0.04532201588153839f;
    p = p * s2 + 0.29782477021217346f;
    p = p * s2 + 0.39986497163772583f;
    p = p * s2 + 0.6666668653488159f;
    float lm = 2.0f * s + s * s2 * p;
    float ef = (float)e;
    return ef * 0.693145751953125f + (lm + ef * 1.428606765330187e-06f);
}

/* log(u) for u > 0 (finite and normal). */
static inline float cm_log_finite_pos(float u) { return cm_log_scaled(u, 0); }

/* log(x) for every float, as libm: subnormals scaled by 2^23 first, log(0) = -inf,
 * log(x < 0) = NaN, log(+inf) = +inf, NaN propagates (what binary_cross_entropy
 * and kl_div need: probabilities down to 0). */
static inline float cm_log(float x) {
    const int sub = x < 1.17549435e-38f; /* below FLT_MIN (0 and negatives too: replaced below) */
    float xs = sub ? x * 8388608.0f : x;
    xs = xs > 1.17549435e-38f ? xs : 1.0f; /* keep the bit arithmetic on a normal number */
    xs = xs < 3.4028235e38f ? xs : 1.0f;
    float l = cm_log_scaled(xs, sub ? -23 : 0);
    l = x > 0.0f ? l : (x == 0.0f ? -__builtin_inff() : __builtin_nanf(""));
    return x < __builtin_inff() ? l : x; /* +inf; NaN already (x > 0 and x == 0 false) */
}

/* log1p(y) for y >= 0 (what softplus and mish need: y = exp(...)), NaN and +inf
 * propagate. u = 1 + y rounds; the correction ((u - 1) - y) / u restores what
 * rounding lost. */
static inline float cm_log1p_pos(float y) {
    float u = 1.0f + y;
    float uc = u < 3.0e38f ? u : 3.0e38f; /* NaN and inf handled by the select below */
    float l = cm_log_finite_pos(uc) - ((uc - 1.0f) - y) / uc;
    l = y < 1e-30f ? y : l;               /* tiny (and zero) y: log1p(y) = y */
    return (u < 3.0e38f) ? l : (y != y ? y : __builtin_inff());
}

/* tanh: an odd polynomial for |x| < 0.625, 1 - 2 / (e^{2|x|} + 1) beyond. */
static inline float cm_tanh(float x) {
    float ax = x < 0.0f ? -x : x;
    float x2 = x * x;
    float p = -0.00612056627869606f;
    p = p * x2 + 0.021016528829932213f;
    p = p * x2 - 0.05385594442486763f;
    p = p * x2 + 0.1333281397819519f;
    p = p * x2 - 0.333333283662796f;
    float small = x + x * x2 * p;
    float e = cm_exp(2.0f * (ax < 10.0f ? ax : 10.0f));
    float big = 1.0f - 2.0f / (e + 1.0f);
    big = x < 0.0f ? -big : big;
    float y = ax < 0.625f ? small : big;
    return x != x ? x : y;
}

/* tanh by x P(x^2) / Q(x^2) (degree 4 over 4) inside +-9, +-1 from there on (tanh
 * rounds to 1 from 9.011 on; exactly 1, as libm). The rational was fitted for cnnc
 * (weighted least squares iterated to minimax on [0, 9.02]: relative error 2.2e-8
 * in exact arithmetic); in float, checked on every float, 6.4 ulp at most with fused
 * multiply-adds, 5.1 without. One division and no exp: 1 thread, AVX2, 301 k floats
 * (LeNet-5's first activation at batch 64) 0.41 -> 0.22 ms against cm_tanh. Near +-1 it
 * is a few ulp off, not within 1 ulp: the Tanh activation takes it; gelu's and
 * mish's 1 -+ tanh, which cancel in the tails, keep cm_tanh. */
static inline float cm_tanh_rational(float x) {
    const float lim = 9.0f;
    float xc = x < -lim ? -lim : (x > lim ? lim : x); /* NaN stays NaN */
    float t = xc * xc;
    float p = 1.33843129e-08f;
    p = p * t + 2.06358406e-05f;
    p = p * t + 0.00349745889f;
    p = p * t + 0.133826883f;
    p = p * t + 1.0f;
    float q = 7.79025884e-07f;
    q = q * t + 0.000328851925f;
    q = q * t + 0.0258843657f;
    q = q * t + 0.467160096f;
    q = q * t + 1.0f;
    float y = xc * (p / q); /* not (xc * p) / q: clang fuses that differently in the
                             * in-place and out-of-place loops */
    y = y > 1.0f ? 1.0f : y; /* the rational slightly exceeds 1 near 8.5 (NaN stays) */
    y = y < -1.0f ? -1.0f : y;
    y = xc == lim ? 1.0f : y;
    return xc == -lim ? -1.0f : y;
}

/* erf: sign(z) |z| P(z^2) / Q(z^2), both of degree 5, with |z| clamped to 4 (erf(4)
 * is 1 in float) and the result to 1. No exp, no range select: 10 multiply-adds and a
 * division where two polynomials (degrees 6 and 12) were (gelu's forward at AVX2:
 * 0.83 -> 0.53 ns per element). Fitted for cnnc (Lawson-weighted least squares,
 * error absolute above |z| = 1, relative below); measured over every float in
 * [0, 5] against double erf: within 3.7e-7 absolute at AVX2 (FMA), 4.2e-7 in the
 * baseline build (2.5e-8 in exact arithmetic; the rest is float rounding, the
 * previous two-polynomial form measured 2.2e-7), 4.5 ulp relative below 1. */
static inline float cm_erf(float z) {
    float az = cm_from_bits(cm_bits(z) & 0x7fffffffu);
    az = az > 4.0f ? 4.0f : az; /* NaN stays NaN */
    float t = az * az;
    float p = 1.985766821e-06f;
    p = p * t + 2.845234106e-04f;
    p = p * t + 3.884515659e-03f;
    p = p * t + 5.310614185e-02f;
    p = p * t + 1.935812715e-01f;
    p = p * t + 1.128379143e+00f;
    float q = 3.740706985e-05f;
    q = q * t + 1.185704466e-03f;
    q = q * t + 1.521003441e-02f;
    q = q * t + 1.153644817e-01f;
    q = q * t + 5.048895407e-01f;
    q = q * t + 1.0f;
    float y = az * (p / q); /* both chains end in a multiply-add (clang pairs them) */
    y = y > 1.0f ? 1.0f : y;
    return cm_from_bits(cm_bits(y) | (cm_bits(z) & 0x80000000u));
}
#endif
