/* Packed, cache-blocked single-precision GEMM (one thread), the portable C
 * micro-kernel, and the table of micro-kernels (one per ISA level).
 *
 * Blocking (Goto/BLIS style, row-major C = A B):
 *   for jc over n by NC:             C columns [jc, jc+nc)
 *     for pc over k by KC:           one k block; pack B(pc.., jc..) into NR-column
 *                                    panels (pb: KC x NC, stays in L2)
 *       for ic over m by MC:         pack A(ic.., pc..) into MR-row panels
 *                                    (pa: MC x KC, stays in L2)
 *         for jr over nc by NR:      one kc x NR panel of pb stays in L1 ...
 *           for ir over mc by MR:    ... while the panels of pa stream by
 *             micro-kernel: the MR x NR tile of C (+)= A panel * B panel
 * Packed panels are zero-padded to MR rows / NR columns, so edge tiles compute on
 * zeros and the kernel only reads and writes the part of C inside the matrix.
 * Strided copies are packed row by row across all the panels of a block: a panel at
 * a time would visit every source row (often a page of its own) once per panel,
 * and the TLB misses cost more than the copy (measured: 64x3136x576 went from 140
 * to 160 GFLOP/s). AVX2 packs a plain B in groups of 8 such rows (gemm_avx2.c).
 *
 * NC and MC stay as tuned on the Xeon (2 MB L2) on smaller L2s too: on a Zen 3 with
 * 512 KB per core (1 thread, the 6x16 kernel) NC 256..768 instead of 1024 and MC
 * 72..288 instead of 144 gained nothing on the convolution shapes (square 1024 slower
 * with NC <= 512): the KC x NC block of B is read one kc x NR panel at a time, each
 * panel then held in L1 over the MC rows, so it need not fit L2.
 *
 * The k blocks depend on k alone (never on m, n or how a caller split them), and the
 * first block applies beta while the others add, so every C element gets the same
 * sequence of operations wherever it sits: see "Determinism" in gemm.h. */
#include "kernels/gemm.h"

#include <assert.h>

#include "kernels/gemm_small.h"

/* ---- Portable micro-kernel ------------------------------------------------ */

#define SCALAR_MR 4
#define SCALAR_NR 8

/* A 4 x 8 tile in a local array; the loops have constant trip counts, so the
 * compiler keeps the tile in registers and vectorizes the j loops with whatever the
 * baseline ISA offers (SSE2, NEON). Plain multiply then add (no FMA contraction
 * under -std=c11). */
void cnnc__f32_gemm_4x8__scalar(int64_t mr, int64_t nr, int64_t kc, const float *a,
                                const float *b, float *c, int64_t ldc, float beta) {
    float acc[SCALAR_MR][SCALAR_NR] = {{0.0f}};
    for (int64_t p = 0; p < kc; p++) {
        /* Fully unrolled, so acc stays in registers. */
#pragma GCC unroll 4
        for (int i = 0; i < SCALAR_MR; i++) {
            const float ai = a[i];
#pragma GCC unroll 8
            for (int j = 0; j < SCALAR_NR; j++)
                acc[i][j] += ai * b[j];
        }
        a += SCALAR_MR;
        b += SCALAR_NR;
    }
    for (int64_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < nr; j++)
                ci[j] = acc[i][j];
        } else if (beta == 1.0f) {
            for (int64_t j = 0; j < nr; j++)
                ci[j] += acc[i][j];
        } else {
            for (int64_t j = 0; j < nr; j++)
                ci[j] = beta * ci[j] + acc[i][j];
        }
    }
}

/* The kernel, then the epilogue over the tile it has just stored (in L1; the scalar
 * level keeps the k loop above as it is): the arithmetic of cnnc__sgemm_epilogue, in
 * the order of the activation kernels' formulas. */
void cnnc__f32_gemm_4x8_ep__scalar(int64_t mr, int64_t nr, int64_t kc, const float *a,
                                   const float *b, float *c, int64_t ldc, float beta,
                                   const float *bias, float lo, float hi) {
    cnnc__f32_gemm_4x8__scalar(mr, nr, kc, a, b, c, ldc, beta);
    for (int64_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        const float bi = bias ? bias[i] : -0.0f; /* x + -0 is x, bit for bit */
        for (int64_t j = 0; j < nr; j++) {
            const float v = ci[j] + bi;
            const float y = v < lo ? lo : v; /* NaN stays NaN */
            ci[j] = y > hi ? hi : y;
        }
    }
}

/* ---- Packing -------------------------------------------------------------- */

/* Portable packing; see cnnc__sgemm_pack_a / _b in gemm.h for the layouts. The SIMD
 * kernels have their own (register transposes instead of scattered stores).
 * Both packs come in two cases, the same for A and B up to the names:
 *   pack_rows: source row p (ld apart) holds `len` floats, one for each of the panel
 *              rows/columns: a strided copy (A transposed, B not transposed);
 *   pack_cols: source row i holds the kc floats of panel row/column i: a transpose
 *              (A not transposed, B transposed). */

/* For each p, the len floats at src + p*ld go to dst + (panel)*W*kc + p*W, in
 * panels of W, the last one zero-padded. Row by row across all the panels, so each
 * source row (often a page of its own) is visited once, in order. */
static inline void pack_rows(int64_t kc, int64_t len, const float *src, int64_t ld,
                             int64_t W, float *restrict dst) {
    for (int64_t p = 0; p < kc; p++) {
        const float *s = src + p * ld;
        float *d = dst + p * W;
        int64_t j0 = 0;
        for (; j0 + W <= len; j0 += W, d += W * kc)
            for (int64_t j = 0; j < W; j++)
                d[j] = s[j0 + j];
        if (j0 < len) {
            for (int64_t j = 0; j < len - j0; j++)
                d[j] = s[j0 + j];
            for (int64_t j = len - j0; j < W; j++)
                d[j] = 0.0f;
        }
    }
}

/* Source row r (r < len, ld apart, kc contiguous floats) goes to lane r % W of
 * panel r / W: dst[(r / W)*W*kc + p*W + r % W]; lanes past len are zero. */
static inline void pack_cols(int64_t kc, int64_t len, const float *src, int64_t ld,
                             int64_t W, float *restrict dst) {
    for (int64_t r0 = 0; r0 < len; r0 += W, dst += W * kc) {
        const int64_t rows = len - r0 < W ? len - r0 : W;
        for (int64_t i = 0; i < rows; i++) {
            const float *s = src + (r0 + i) * ld;
            for (int64_t p = 0; p < kc; p++)
                dst[p * W + i] = s[p];
        }
        for (int64_t i = rows; i < W; i++)
            for (int64_t p = 0; p < kc; p++)
                dst[p * W + i] = 0.0f;
    }
}

/* A(ic.., pc..) (mc x kc of op(A)) into MR-row panels. a points at A(ic, pc). */
static inline void pack_a(bool trans, int64_t mc, int64_t kc, const float *a, int64_t lda,
                          int64_t MR, float *restrict dst) {
    if (trans)
        pack_rows(kc, mc, a, lda, MR, dst); /* A stored k x m */
    else
        pack_cols(kc, mc, a, lda, MR, dst);
}

/* B(pc.., jc..) (kc x nc of op(B)) into NR-column panels. b points at B(pc, jc). */
static inline void pack_b(bool trans, int64_t kc, int64_t nc, const float *b, int64_t ldb,
                          int64_t NR, float *restrict dst) {
    if (trans)
        pack_cols(kc, nc, b, ldb, NR, dst); /* B stored n x k */
    else
        pack_rows(kc, nc, b, ldb, NR, dst);
}

void cnnc__f32_gemm_pack_a4__scalar(bool trans, int64_t mc, int64_t kc, const float *a,
                                    int64_t lda, float *dst) {
    pack_a(trans, mc, kc, a, lda, SCALAR_MR, dst);
}

void cnnc__f32_gemm_pack_b8__scalar(bool trans, int64_t kc, int64_t nc, const float *b,
                                    int64_t ldb, float *dst) {
    pack_b(trans, kc, nc, b, ldb, SCALAR_NR, dst);
}

/* ---- Kernel table ---------------------------------------------------------- */

typedef struct sgemm_config {
    cnnc__isa isa;
    const char *name;
    cnnc__sgemm_ukernel ukernel;
    cnnc__sgemm_ukernel ukernel_stream; /* the same sums, prefetching A from memory */
    cnnc__sgemm_pack_a pack_a;
    cnnc__sgemm_pack_b pack_b;
    int64_t mr, nr;              /* register tile */
    int64_t kc;                  /* k block: a kc x NR panel of B stays in L1 */
    int64_t mc;                  /* m block, multiple of MR: the MC x KC packed A in L2 */
    int64_t nc;                  /* n block, multiple of NR: the KC x NC packed B */
} sgemm_config;

static const sgemm_config configs[] = {
#define CNNC__X(isa, kernel, stream, pack_a, pack_b, MR, NR, KC, MC, NC)              \
    {CNNC__ISA_##isa, #kernel, cnnc__##kernel, cnnc__##stream, cnnc__##pack_a,          \
     cnnc__##pack_b, MR, NR, KC, MC, NC},
    CNNC__SGEMM_KERNELS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(config_of, sgemm_config, configs)

/* The fused stores (CNNC__SGEMM_EP_KERNELS) of a level's kernel. */
typedef struct sgemm_ep_config {
    cnnc__isa isa;
    cnnc__sgemm_ukernel_ep ukernel, ukernel_stream;
} sgemm_ep_config;

static const sgemm_ep_config ep_configs[] = {
#define CNNC__X(isa, kernel, stream) {CNNC__ISA_##isa, cnnc__##kernel, cnnc__##stream},
    CNNC__SGEMM_EP_KERNELS(CNNC__X)
#undef CNNC__X
};

/* The fused stores of cfg's kernel (the same level exactly: another level's tile
 * differs), or NULL. */
static const sgemm_ep_config *ep_config_of(const sgemm_config *cfg) {
    for (size_t i = 0; i < sizeof ep_configs / sizeof ep_configs[0]; i++)
        if (ep_configs[i].isa == cfg->isa) return &ep_configs[i];
    return NULL;
}

bool cnnc__sgemm_fuses_epilogue(cnnc__isa isa) { return ep_config_of(config_of(isa)) != NULL; }

const char *cnnc__sgemm_kernel_name(cnnc__isa isa) { return config_of(isa)->name; }

void cnnc__sgemm_tile(cnnc__isa isa, int64_t *mr, int64_t *nr) {
    const sgemm_config *cfg = config_of(isa);
    *mr = cfg->mr;
    *nr = cfg->nr;
}

static size_t round16(size_t x) { return (x + 15) & ~(size_t)15; }

/* Packed A block first, then the packed B block (64-byte aligned offset). */
static size_t pa_floats(const sgemm_config *cfg) { return round16((size_t)(cfg->mc * cfg->kc)); }

size_t cnnc__sgemm_workspace_floats(cnnc__isa isa) {
    const sgemm_config *cfg = config_of(isa);
    return pa_floats(cfg) + round16((size_t)(cfg->kc * cfg->nc));
}

/* ---- Driver ----------------------------------------------------------------- */

/* Block length for `total` split into equal blocks of at most `max` (a multiple of
 * `unit`), rounded up to `unit`: 300 with max 256 gives 152 + 148, not 256 + 44. */
static int64_t even_block(int64_t total, int64_t max, int64_t unit) {
    const int64_t nblocks = (total + max - 1) / max;
    const int64_t blk = (total + nblocks - 1) / nblocks;
    return (blk + unit - 1) / unit * unit;
}

static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < n; j++)
                ci[j] = 0.0f;
        } else if (beta != 1.0f) {
            for (int64_t j = 0; j < n; j++)
                ci[j] *= beta;
        }
    }
}

/* Nothing to multiply (m or n empty, or k empty: C = beta C, done here)? */
static bool empty_product(int64_t m, int64_t n, int64_t k, float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0)
        return true;
    if (k > 0)
        return false;
    scale_c(m, n, beta, c, ldc);
    return true;
}

static void sgemm_blocked(const sgemm_config *cfg, bool trans_a, bool trans_b,
                          int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                          const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
                          float *ws) {
    if (empty_product(m, n, k, beta, c, ldc))
        return;
    const int64_t MR = cfg->mr, NR = cfg->nr;
    const int64_t kc_blk = even_block(k, cfg->kc, 1); /* from k alone: determinism */
    const int64_t mc_blk = even_block(m, cfg->mc, MR);
    const int64_t nc_blk = even_block(n, cfg->nc, NR);
    float *pa = ws;                  /* MC x KC */
    float *pb = ws + pa_floats(cfg); /* KC x NC */
    const cnnc__sgemm_ukernel ukernel = cfg->ukernel;

    for (int64_t jc = 0; jc < n; jc += nc_blk) {
        const int64_t nc = n - jc < nc_blk ? n - jc : nc_blk;
        for (int64_t pc = 0; pc < k; pc += kc_blk) {
            const int64_t kc = k - pc < kc_blk ? k - pc : kc_blk;
            const float beta_blk = pc == 0 ? beta : 1.0f;
            cfg->pack_b(trans_b, kc, nc, trans_b ? b + jc * ldb + pc : b + pc * ldb + jc, ldb,
                        pb);
            for (int64_t ic = 0; ic < m; ic += mc_blk) {
                const int64_t mc = m - ic < mc_blk ? m - ic : mc_blk;
                cfg->pack_a(trans_a, mc, kc, trans_a ? a + pc * lda + ic : a + ic * lda + pc,
                            lda, pa);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int64_t nr = nc - jr < NR ? nc - jr : NR;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int64_t mr = mc - ir < MR ? mc - ir : MR;
                        ukernel(mr, nr, kc, pa + ir * kc, pb + jr * kc,
                                c + (ic + ir) * ldc + jc + jr, ldc, beta_blk);
                    }
                }
            }
        }
    }
}

/* ---- Pre-packed A, caller-packed B ------------------------------------------ */

void cnnc__sgemm_pack_b_panels(cnnc__isa isa, bool trans, int64_t kc, int64_t nc, const float *b,
                               int64_t ldb, float *dst) {
    config_of(isa)->pack_b(trans, kc, nc, b, ldb, dst);
}

const float *cnnc__sgemm_plain_pack_b(void *ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                                      int64_t nr, float *dst, float *scratch) {
    (void)nr, (void)scratch;
    const cnnc__sgemm_plain_b *pb = ctx;
    cnnc__sgemm_pack_b_panels(pb->isa, false, kc, nc, pb->b + pc * pb->ldb + jc, pb->ldb, dst);
    return dst;
}

size_t cnnc__sgemm_pack_scratch_floats(cnnc__isa isa) {
    const sgemm_config *cfg = config_of(isa);
    return round16((size_t)(cfg->nc + cfg->nr));
}

/* Whole-A layout: k block pc (rows [pc, pc+kc)) starts at pc * mpad and holds the
 * mpad/MR panels of kc groups of MR floats; rows ic.. of it start at pc*mpad + ic*kc. */
static int64_t mpad_of(const sgemm_config *cfg, int64_t m) {
    return (m + cfg->mr - 1) / cfg->mr * cfg->mr;
}

size_t cnnc__sgemm_packed_a_floats(cnnc__isa isa, int64_t m, int64_t k) {
    const sgemm_config *cfg = config_of(isa);
    if (m <= 0 || k <= 0)
        return 0;
    return round16((size_t)(mpad_of(cfg, m) * k));
}

size_t cnnc__sgemm_packed_a_offset(cnnc__isa isa, int64_t m, int64_t k, int64_t r, int64_t p) {
    const sgemm_config *cfg = config_of(isa);
    const int64_t kc_blk = even_block(k, cfg->kc, 1);
    const int64_t pc = p / kc_blk * kc_blk, kc = k - pc < kc_blk ? k - pc : kc_blk;
    return (size_t)(pc * mpad_of(cfg, m) + r / cfg->mr * cfg->mr * kc + (p - pc) * cfg->mr +
                    r % cfg->mr);
}

int64_t cnnc__sgemm_packed_a_kc(cnnc__isa isa, int64_t k) {
    return even_block(k, config_of(isa)->kc, 1);
}

void cnnc__sgemm_pack_a_full(cnnc__isa isa, bool trans_a, int64_t m, int64_t k, const float *a,
                             int64_t lda, float *dst) {
    const sgemm_config *cfg = config_of(isa);
    if (m <= 0 || k <= 0)
        return;
    const int64_t kc_blk = even_block(k, cfg->kc, 1);
    const int64_t mpad = mpad_of(cfg, m);
    for (int64_t pc = 0; pc < k; pc += kc_blk) {
        const int64_t kc = k - pc < kc_blk ? k - pc : kc_blk;
        cfg->pack_a(trans_a, m, kc, trans_a ? a + pc * lda : a + pc, lda, dst + pc * mpad);
    }
}

enum { STREAM_A_BYTES = 1 << 20 }; /* a pre-packed A past this is read from memory */

void cnnc__sgemm_st_packed(cnnc__isa isa, int64_t m, int64_t n, int64_t k,
                           const float *a_packed, cnnc__sgemm_pack_b_fn pack_b, void *ctx,
                           float beta, float *c, int64_t ldc, float *ws,
                           const cnnc__sgemm_epilogue *ep) {
    cnnc__sgemm_st_packed_rows(isa, m, 0, m, n, k, a_packed, pack_b, ctx, beta, c, ldc, ws, ep);
}

/* The micro-kernels of a k block: the plain stores, or (ep set) the fused ones, each
 * with its streaming twin. */
typedef struct block_kernels {
    cnnc__sgemm_ukernel plain, plain_stream;
    cnnc__sgemm_ukernel_ep ep, ep_stream;
} block_kernels;

/* One tile: rows [row, row + mr) of the whole product (ep's bias index), the stream
 * kernel when `stream`. */
static inline void run_tile(const block_kernels *kn, const cnnc__sgemm_epilogue *ep, bool stream,
                            int64_t row, int64_t mr, int64_t nr, int64_t kc, const float *a,
                            const float *b, float *c, int64_t ldc, float beta) {
    if (!ep) {
        (stream ? kn->plain_stream : kn->plain)(mr, nr, kc, a, b, c, ldc, beta);
        return;
    }
    (stream ? kn->ep_stream : kn->ep)(mr, nr, kc, a, b, c, ldc, beta,
                                      ep->bias ? ep->bias + row : NULL, ep->lo, ep->hi);
}

/* The k block [pc, pc + kc) of C's rows [ic0, ic0 + m) (r0: their first row in the
 * packed A of m_all rows) x columns [jc, jc + nc): B's panels at bp, pstride floats
 * apart, each kc groups of NR floats. ep: fused into the last k block's stores (or
 * NULL). */
static void packed_block(const sgemm_config *cfg, int64_t m_all, int64_t r0, int64_t m,
                         int64_t mc_blk, int64_t k, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                         const float *a_packed, const float *bp, int64_t pstride, float beta,
                         float *c, int64_t ldc, const cnnc__sgemm_epilogue *ep) {
    const int64_t MR = cfg->mr, NR = cfg->nr, mpad = mpad_of(cfg, m_all);
    const float beta_blk = pc == 0 ? beta : 1.0f;
    if (pc + kc < k) ep = NULL;
    const sgemm_ep_config *ek = ep ? ep_config_of(cfg) : NULL;
    assert(!ep || ek); /* callers ask cnnc__sgemm_fuses_epilogue first */
    const block_kernels kn = {cfg->ukernel, cfg->ukernel_stream, ek ? ek->ukernel : NULL,
                              ek ? ek->ukernel_stream : NULL};
    /* the first column panel of a block reads its A panels from memory when all of A
     * is past L2; the rest find them in L2 */
    const bool stream_a = (double)mpad * (double)k * sizeof(float) > STREAM_A_BYTES;
    for (int64_t ic = 0; ic < m; ic += mc_blk) {
        const int64_t mc = m - ic < mc_blk ? m - ic : mc_blk;
        const float *pa = a_packed + pc * mpad + (r0 + ic) * kc;
        for (int64_t jr = 0; jr < nc; jr += NR) {
            const int64_t nr = nc - jr < NR ? nc - jr : NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
                const int64_t mr = mc - ir < MR ? mc - ir : MR;
                run_tile(&kn, ep, stream_a && !jr, r0 + ic + ir, mr, nr, kc, pa + ir * kc,
                         bp + jr / NR * pstride, c + (ic + ir) * ldc + jc + jr, ldc, beta_blk);
            }
        }
    }
}

void cnnc__sgemm_st_packed_rows(cnnc__isa isa, int64_t m_all, int64_t r0, int64_t m, int64_t n,
                                int64_t k, const float *a_packed, cnnc__sgemm_pack_b_fn pack_b,
                                void *ctx, float beta, float *c, int64_t ldc, float *ws,
                                const cnnc__sgemm_epilogue *ep) {
    const sgemm_config *cfg = config_of(isa);
    assert(k > 0 || !ep); /* no k block to fuse it into */
    if (empty_product(m, n, k, beta, c, ldc))
        return;
    const int64_t NR = cfg->nr;
    const int64_t kc_blk = even_block(k, cfg->kc, 1);
    const int64_t mc_blk = even_block(m, cfg->mc, cfg->mr);
    const int64_t nc_blk = even_block(n, cfg->nc, NR);
    float *pb = ws + pa_floats(cfg);
    float *scratch = ws; /* the A block area is free: A comes packed */
    for (int64_t jc = 0; jc < n; jc += nc_blk) {
        const int64_t nc = n - jc < nc_blk ? n - jc : nc_blk;
        for (int64_t pc = 0; pc < k; pc += kc_blk) {
            const int64_t kc = k - pc < kc_blk ? k - pc : kc_blk;
            const float *bp = pack_b(ctx, pc, kc, jc, nc, NR, pb, scratch);
            packed_block(cfg, m_all, r0, m, mc_blk, k, pc, kc, jc, nc, a_packed, bp, kc * NR, beta,
                         c, ldc, ep);
        }
    }
}

void cnnc__sgemm_st_prepacked(cnnc__isa isa, int64_t m, int64_t n, int64_t k,
                              const float *a_packed, const float *b, int64_t b_pstride, float beta,
                              float *c, int64_t ldc, const cnnc__sgemm_epilogue *ep) {
    const sgemm_config *cfg = config_of(isa);
    assert(k > 0 || !ep); /* no k block to fuse it into */
    if (empty_product(m, n, k, beta, c, ldc))
        return;
    const int64_t kc_blk = even_block(k, cfg->kc, 1);
    const int64_t mc_blk = even_block(m, cfg->mc, cfg->mr);
    for (int64_t pc = 0; pc < k; pc += kc_blk) {
        const int64_t kc = k - pc < kc_blk ? k - pc : kc_blk;
        packed_block(cfg, m, 0, m, mc_blk, k, pc, kc, 0, n, a_packed, b + pc * cfg->nr, b_pstride,
                     beta, c, ldc, ep);
    }
}

int64_t cnnc__sgemm_k_block(cnnc__isa isa, int64_t k) {
    return even_block(k, config_of(isa)->kc, 1);
}

void cnnc__sgemm_st_blocked(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                            float beta, float *c, int64_t ldc, float *ws) {
    sgemm_blocked(config_of(isa), trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, ws);
}

void cnnc__sgemm_st(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    const float *a, int64_t lda, const float *b, int64_t ldb,
                    float beta, float *c, int64_t ldc, float *ws) {
    if (n > 0 && cnnc__sgemm_small_fits(isa, trans_a, trans_b, m, n, k))
        cnnc__sgemm_small(isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
    else
        sgemm_blocked(config_of(isa), trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, ws);
}
