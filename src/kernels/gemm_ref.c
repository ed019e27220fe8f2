/* Reference single-precision GEMM: one plain loop per C element, summed in double
 * so it is the closest-to-exact answer the fast kernels are tested against. */
#include "kernels/gemm.h"

void cnnc__sgemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                     const float *a, int64_t lda, const float *b, int64_t ldb,
                     float beta, float *c, int64_t ldc) {
    /* Strides of op(A) (m x k) and op(B) (k x n) along their two dimensions. */
    const int64_t a_si = trans_a ? 1 : lda, a_sp = trans_a ? lda : 1;
    const int64_t b_sp = trans_b ? 1 : ldb, b_sj = trans_b ? ldb : 1;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double sum = 0.0;
            for (int64_t p = 0; p < k; p++)
                sum += (double)a[i * a_si + p * a_sp] * (double)b[p * b_sp + j * b_sj];
            float *cij = &c[i * ldc + j];
            /* beta == 0: C is write-only (its old value, maybe NaN, is never read). */
            *cij = beta == 0.0f ? (float)sum : (float)((double)beta * (double)*cij + sum);
        }
    }
}
