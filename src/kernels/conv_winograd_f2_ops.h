/* Internal: the F(2x2, 3x3) output transform on a vector of tiles (conv_winograd_f2.c's
 * A^T), written once for the AVX-512 loop (conv_winograd_f2.c) and the AVX2 one
 * (conv_winograd_avx2.c). Included once by each, for its vector width, with
 *   F2_V     the vector type;
 *   F2_ATTR  the function's attributes (the target, or empty inside a target region);
 *   ADD, SUB, LOADU, STOREU  the width's intrinsics.
 * Not a public header; include only from code built for x86 (CNNC__ISA_X86). */
#include <stdint.h>

/* o[i] + k = the 2x2 outputs (+ vb) of A^T m A for a vector of tiles from k on (m's 16
 * rows mstride apart), the scalar loop's operations (inlined: the AVX-512 object
 * code is the same as when this was written out in its loop) */
F2_ATTR __attribute__((always_inline)) static inline void out_step(
    float *const o[4], const float *m, int64_t mstride, F2_V vb, int64_t k) {
    F2_V z0[4], z1[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const F2_V a0 = LOADU(m + (0 * 4 + j) * mstride + k);
        const F2_V a1 = LOADU(m + (1 * 4 + j) * mstride + k);
        const F2_V a2 = LOADU(m + (2 * 4 + j) * mstride + k);
        const F2_V a3 = LOADU(m + (3 * 4 + j) * mstride + k);
        z0[j] = ADD(ADD(a0, a1), a2);
        z1[j] = SUB(SUB(a1, a2), a3);
    }
    STOREU(o[0] + k, ADD(ADD(ADD(z0[0], z0[1]), z0[2]), vb));
    STOREU(o[1] + k, ADD(SUB(SUB(z0[1], z0[2]), z0[3]), vb));
    STOREU(o[2] + k, ADD(ADD(ADD(z1[0], z1[1]), z1[2]), vb));
    STOREU(o[3] + k, ADD(SUB(SUB(z1[1], z1[2]), z1[3]), vb));
}
