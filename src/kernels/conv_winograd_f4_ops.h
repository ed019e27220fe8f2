/* Internal: the F(4x4, 3x3) row loops' vector arithmetic (conv_winograd_f4.c's B^T,
 * A^T and G), written once for the AVX-512 loops (conv_winograd_f4.c) and the AVX2 ones
 * (conv_winograd_avx2.c), so that both run the same fused multiply-adds in the same
 * order: the same bits. Included once by each, for its vector width, with
 *   F4_V       the vector type, F4_LANES its floats;
 *   F4_ATTR    the functions' attributes (the target, or empty inside a target region);
 *   F4_OUT     the name of its output loop;
 *   SET1, ADD, SUB, MUL, FMA (a b + c), LOADU, STOREU  the width's intrinsics.
 * Not a public header; include only from code built for x86 (CNNC__ISA_X86). */
#include <stdint.h>

/* r = B^T d for one column of 6 */
F4_ATTR static inline void bt6_v(F4_V r[6], F4_V d0, F4_V d1, F4_V d2, F4_V d3, F4_V d4,
                                 F4_V d5) {
    const F4_V d42 = SUB(d4, d2);
    r[0] = FMA(SET1(1.5f), SUB(d3, d1), FMA(SET1(-2.0f), d2, ADD(d0, d4)));
    r[1] = FMA(SET1(2.5f), d3, FMA(SET1(0.5f), d2, SUB(d4, d1)));
    r[2] = FMA(SET1(0.5f), d3, FMA(SET1(-2.5f), d2, ADD(d4, d1)));
    r[3] = FMA(SET1(2.0f), SUB(d3, d1), d42);
    r[4] = FMA(SET1(0.5f), SUB(d1, d3), d42);
    r[5] = FMA(SET1(1.5f), d42, FMA(SET1(-2.0f), d3, ADD(d1, d5)));
}

/* r = A^T m for one column of 6 */
F4_ATTR static inline void at6_v(F4_V r[4], F4_V m0, F4_V m1, F4_V m2, F4_V m3, F4_V m4,
                                 F4_V m5) {
    const F4_V p = ADD(m1, m2), q = SUB(m1, m2);
    r[0] = ADD(ADD(m0, p), ADD(m3, m4));
    r[1] = FMA(SET1(-2.0f), m4, FMA(SET1(0.5f), m3, q));
    r[2] = FMA(SET1(4.0f), m4, FMA(SET1(0.25f), m3, p));
    r[3] = ADD(FMA(SET1(-8.0f), m4, FMA(SET1(0.125f), m3, q)), m5);
}

/* r = G v for one column of 3 */
F4_ATTR static inline void g3_v(F4_V r[6], F4_V a, F4_V b, F4_V c) {
    r[0] = a;
    r[1] = MUL(ADD(ADD(a, b), c), SET1(1.0f / 3.0f));
    r[2] = MUL(SUB(b, ADD(a, c)), SET1(1.0f / 3.0f));
    r[3] = MUL(FMA(SET1(4.0f), a, FMA(SET1(2.0f), b, c)), SET1(-4.0f / 15.0f));
    r[4] = MUL(FMA(SET1(4.0f), c, FMA(SET1(-2.0f), b, a)), SET1(1.0f / 15.0f));
    r[5] = c;
}

/* The table's out: o[(i 4 + c) os + k] = (A^T m_k A)[i][c] + bv, k < n (m's 36 rows
 * mstride apart); reads and writes up to n rounded up to F4_LANES */
F4_ATTR static void F4_OUT(float *o, int64_t os, const float *m, int64_t mstride, float bv,
                           int64_t n) {
    const F4_V vb = SET1(bv);
    for (int64_t k = 0; k < n; k += F4_LANES) {
        F4_V z[4][6];
        for (int j = 0; j < 6; j++) {
            F4_V a[6], r[4];
            for (int i = 0; i < 6; i++) a[i] = LOADU(m + (i * 6 + j) * mstride + k);
            at6_v(r, a[0], a[1], a[2], a[3], a[4], a[5]);
            for (int i = 0; i < 4; i++) z[i][j] = r[i];
        }
        for (int i = 0; i < 4; i++) {
            F4_V r[4];
            at6_v(r, z[i][0], z[i][1], z[i][2], z[i][3], z[i][4], z[i][5]);
            for (int c = 0; c < 4; c++) STOREU(o + (i * 4 + c) * os + k, ADD(r[c], vb));
        }
    }
}
