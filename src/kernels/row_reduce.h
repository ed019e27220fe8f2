/* Internal: reductions along a contiguous row of floats, in one fixed order that
 * vectorizes: ROW_LANES float lanes (element i in lane i % ROW_LANES of its chunk)
 * over chunks of ROW_CHUNK elements, each chunk's lanes then added in double. A lane
 * adds at most ROW_CHUNK / ROW_LANES terms in float, so a sum of positive terms is
 * good to a few float ulp whatever the row length. The order does not depend on
 * where a caller's thread ranges start (a row is never split). Shared by the
 * softmax rows (activation_impl.h) and cross entropy's (loss_ce_impl.h); the
 * includer's target attributes (AVX2, AVX-512) apply. */
#ifndef CNNC_KERNELS_ROW_REDUCE_H
#define CNNC_KERNELS_ROW_REDUCE_H
#include <math.h>
#include <stdint.h>

enum { ROW_LANES = 16, ROW_CHUNK = 256 }; /* the lane folds below assume 16 */

/* the lanes v[ROW_LANES] folded in halves (a tree, not a chain of 16 dependent
 * operations per row) */
static inline float row_lanes_max(const float *v) {
    float h[8], q[4];
    for (int k = 0; k < 8; k++) h[k] = v[k + 8] > v[k] ? v[k + 8] : v[k];
    for (int k = 0; k < 4; k++) q[k] = h[k + 4] > h[k] ? h[k + 4] : h[k];
    const float a = q[2] > q[0] ? q[2] : q[0], b = q[3] > q[1] ? q[3] : q[1];
    return b > a ? b : a;
}
static inline double row_lanes_sum(const float *v) {
    double h[8], q[4];
    for (int k = 0; k < 8; k++) h[k] = (double)v[k] + (double)v[k + 8];
    for (int k = 0; k < 4; k++) q[k] = h[k] + h[k + 4];
    return (q[0] + q[2]) + (q[1] + q[3]);
}

/* The blocks take a lane count r <= ROW_LANES: the last block of a row reads (and
 * writes) only its r elements, as masked vector loads where the ISA has them. A
 * lane past r reads as -inf, which changes no max and adds e^(-inf - m) = +0 to
 * no sum. */
static inline void row_max_block(float *restrict mx, const float *restrict x, int r) {
    for (int k = 0; k < ROW_LANES; k++) {
        const float v = k < r ? x[k] : -INFINITY;
        mx[k] = v > mx[k] ? v : mx[k];
    }
}

/* the max over x[0..n) (-inf for n == 0; NaN skipped: it reaches a softmax's sums
 * through x - m) */
static inline float row_max(const float *x, int64_t n) {
    float mx[ROW_LANES];
    for (int k = 0; k < ROW_LANES; k++) mx[k] = -INFINITY;
    int64_t i = 0;
    for (; i + ROW_LANES <= n; i += ROW_LANES) row_max_block(mx, x + i, ROW_LANES);
    if (i < n) row_max_block(mx, x + i, (int)(n - i));
    return row_lanes_max(mx);
}

#ifdef ROW_EXP
/* acc[k] += e^(x[k] - m) over a block, stored in e[k] too unless e is NULL */
static inline void row_exp_block(float *restrict acc, const float *restrict x, float m,
                                 float *restrict e, int r) {
    if (e)
        for (int k = 0; k < ROW_LANES; k++) {
            const float v = ROW_EXP((k < r ? x[k] : -INFINITY) - m);
            if (k < r) e[k] = v;
            acc[k] += v;
        }
    else
        for (int k = 0; k < ROW_LANES; k++) acc[k] += ROW_EXP((k < r ? x[k] : -INFINITY) - m);
}

/* the sum of e^(x[i] - m) over [0, n), the terms stored in e[0..n) unless e is NULL
 * (e does not overlap x). The includer defines ROW_EXP(x), its float exp, before
 * it includes this header. */
static inline double row_sum_exp(const float *x, int64_t n, float m, float *e) {
    double total = 0.0;
    for (int64_t c = 0; c < n; c += ROW_CHUNK) {
        const int64_t end = c + ROW_CHUNK < n ? c + ROW_CHUNK : n;
        float acc[ROW_LANES] = {0};
        int64_t i = c;
        for (; i + ROW_LANES <= end; i += ROW_LANES)
            row_exp_block(acc, x + i, m, e ? e + i : NULL, ROW_LANES);
        if (i < end) row_exp_block(acc, x + i, m, e ? e + i : NULL, (int)(end - i));
        total += row_lanes_sum(acc);
    }
    return total;
}
#endif

/* total (a double lvalue) += the sum of TERM over i in [0, n), TERM a float
 * expression of the int64_t i (cheap terms: the last block of a chunk is a scalar
 * loop). */
#define ROW_SUM(total, n, i, TERM)                                                        \
    do {                                                                                  \
        const int64_t row_n_ = (n);                                                       \
        for (int64_t row_c_ = 0; row_c_ < row_n_; row_c_ += ROW_CHUNK) {                  \
            const int64_t row_e_ = row_c_ + ROW_CHUNK < row_n_ ? row_c_ + ROW_CHUNK : row_n_; \
            float row_acc_[ROW_LANES] = {0};                                              \
            int64_t row_b_ = row_c_;                                                      \
            for (; row_b_ + ROW_LANES <= row_e_; row_b_ += ROW_LANES)                     \
                for (int row_k_ = 0; row_k_ < ROW_LANES; row_k_++) {                      \
                    const int64_t i = row_b_ + row_k_;                                    \
                    row_acc_[row_k_] += (TERM);                                           \
                }                                                                         \
            for (int row_k_ = 0; row_b_ + row_k_ < row_e_; row_k_++) {                    \
                const int64_t i = row_b_ + row_k_;                                        \
                row_acc_[row_k_] += (TERM);                                               \
            }                                                                             \
            (total) += row_lanes_sum(row_acc_);                                           \
        }                                                                                 \
    } while (0)
#endif
