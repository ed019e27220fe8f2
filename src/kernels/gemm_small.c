/* Small-product GEMM (see gemm_small.h): the drivers over the level's tiles.
 *
 * bcast, for each k block (the packed GEMM's, so the bits match it):
 *   for column blocks of JB columns:      the kc x JB block of B stays in L2
 *                                         (BCAST_B_BYTES, and at least 16 tiles)
 *     for row groups (equal, <= R rows):  A's rows of the group
 *       for tiles of W columns:           rows x W of C in registers over kc
 * or, with at most tile_groups row groups, the tiles of W columns outside the row
 * groups: each kc x W tile of B read from DRAM once, again from L1.
 * With many k rows (B rows a page or more apart) each tile prefetches the next
 * tile's part of its B rows: the hardware prefetchers do not follow kc streams. With
 * up to deep_groups row groups inside, the G groups over a column tile share that:
 * group g prefetches the rows p = g, g + G, ... (every group prefetching all the rows,
 * G times the prefetches, lost most of the gain: 1x1 convolutions at batch 8, 1 thread,
 * 144 -> 24 at 56x56 2.43 ms against 2.10 spread, 192 -> 32 at 28x28 1.10 against 0.82).
 * dot:
 *   for blocks of DOT_JB rows of B:
 *     for k blocks (CNNC__SGEMM_DOT_KC):  the A block (m x kc) stays in L1
 *       for groups of 3 rows of B:        kc floats of each, their next k block
 *                                         prefetched meanwhile
 *         for row groups of A:            the rows x 3 lane sums, reduced into C
 * so each B row is read in order, a k block at a time. */
#include "kernels/gemm_small.h"

#include "kernels/gemm.h"

typedef struct small_config {
    cnnc__isa isa;
    cnnc__sgemm_bcast_fn bcast;
    cnnc__sgemm_dot_fn dot;
    void (*fence)(void); /* NULL: the level's tiles store C plainly, never streaming */
    int64_t bcast_rows, bcast_cols, dot_rows;
    int64_t wide_m; /* rows up to which the bcast tiles take a wide B (gemm_small.h:
                       at AVX2 no more than for any B) */
    int64_t align; /* bytes a non-temporal store's address must be a multiple of */
    /* bcast row groups up to which the row groups run inside the column tiles (a
     * kc x W tile of B in L1 for all of them). AVX2, m 8 (2 groups), n 25088, k 4096
     * (VGG's Linear 25088 -> 4096, input gradient at batch 8), 1 thread: row groups
     * outside (B's block from L2 for the second) 55-60 ms, inside 34-37 ms, same bits.
     * AVX-512 takes 8 rows a group: 1, unmeasured there. */
    int64_t tile_groups;
    /* More row groups, up to deep_groups, inside the column tiles when the k blocks are
     * longer than DEEP_KC, sharing the prefetches of B (CNNC__SMALL_SPREAD). AVX2 (8
     * groups: 32 rows), 1 thread, 1x1 convolutions at batch 8 (MobileNetV2's
     * projections; B rows 3 to 50 KB apart), ms, outside -> inside: 144 -> 24 at 56x56
     * 2.49 -> 2.07, 96 -> 24 at 56x56 1.32 -> 1.28, 192 -> 32 at 28x28 1.11 -> 0.82,
     * 144 -> 32 at 28x28 0.73 -> 0.61; 64 -> 16 and 48 -> 24 at 56x56 even; 32 -> 16 at
     * 112x112 (k 32) 1.41 inside 1.52, so not there. AVX-512 (32 groups: its wide
     * products up to 256 rows), Zen 5, 1 thread, batch 8, ms, outside -> inside: 256 ->
     * 64 at 56x56 4.8-4.9 -> 4.1-4.2 (its input gradient 5.7 -> 4.3 for 64 -> 256),
     * 512 -> 64 at 28x28 (packed before: the wide rule's 128 columns) 2.9 -> 2.4. */
    int64_t deep_groups;
} small_config;

#define DEEP_KC 32

/* A bcast column block's B (kc x JB floats) at most this many bytes: in L2, and, where
 * the row groups run outside the column tiles, C's rows written in runs of JB columns
 * rather than 16 tiles (1.5 KB at AVX2: a page walk and a DRAM row per run). VGG's
 * Linear 25088 -> 4096 weight gradient at batch 8 (k 8, C 411 MB), AVX2 (Zen 3), 1
 * thread, min of 20, ms: 16 tiles 80-84, 341 tiles (8184 columns) 75-88 with
 * non-temporal stores; with plain stores 63-74 and 36-38, so the AVX2 tiles store
 * plainly (PyTorch: 82-88). The Linear's backward 123-125 -> 88-104 ms, VGG-11-BN's
 * training step (batch 8, 64x64) 460-462 -> 399-441. AVX-512 keeps its non-temporal
 * stores (unmeasured on this change). */
#define BCAST_B_BYTES (256 * 1024)

#define DOT_COLS 3

static const small_config configs[] = {
#if CNNC__ISA_X86
    {CNNC__ISA_AVX512, cnnc__f32_gemm_bcast_8x48__avx512, cnnc__f32_gemm_dot_8x3__avx512,
     cnnc__f32_gemm_small_fence__avx512, 8, 48, 8, CNNC__SGEMM_BCAST_WIDE_M, 64, 1, 32},
    {CNNC__ISA_AVX2, cnnc__f32_gemm_bcast_4x24__avx2, cnnc__f32_gemm_dot_4x3__avx2,
     NULL, 4, 24, 4, CNNC__SGEMM_BCAST_M, 32, 2, 8},
#endif
    {CNNC__ISA_SCALAR, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0},
};

CNNC__ISA_PICKER(config_of, small_config, configs)

bool cnnc__sgemm_small_fits(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k) {
    const small_config *cfg = config_of(isa);
    if (!cfg->bcast || m <= 0 || k <= 0) return false;
    if (trans_b) return !trans_a && m <= CNNC__SGEMM_SMALL_M;
    return m <= CNNC__SGEMM_BCAST_M || k <= CNNC__SGEMM_SMALL_K ||
           (m <= cfg->wide_m && n >= CNNC__SGEMM_BCAST_WIDE_N);
}

int64_t cnnc__sgemm_small_unit(cnnc__isa isa, bool trans_b) {
    const small_config *cfg = config_of(isa);
    return trans_b ? 8 * DOT_COLS : cfg->bcast_cols;
}

/* Rows per group: m in equal groups of at most `most` rows. */
static int64_t group_rows(int64_t m, int64_t most) {
    const int64_t groups = (m + most - 1) / most;
    return (m + groups - 1) / groups;
}

/* One k block of a bcast product: a, b and c at its start (A(0, pc), B(pc, 0), C). */
typedef struct bcast_block {
    const small_config *cfg;
    int64_t m, rg, kc, sai, sap, ldb, ldc;
    const float *a, *b;
    float *c;
    float beta;
    unsigned pf;
    int64_t spread; /* row groups sharing the prefetches of a column tile (or 0) */
    bool stream;
} bcast_block;

/* The tile of rows i.. (up to rg of them) and columns j..je (up to W). */
static inline void bcast_tile_at(const bcast_block *k, int64_t i, int64_t j, int64_t je) {
    const int64_t W = k->cfg->bcast_cols;
    const int64_t rows = k->m - i < k->rg ? k->m - i : k->rg, cols = je - j < W ? je - j : W;
    unsigned flags = k->pf | (k->stream && cols == W ? CNNC__SMALL_STREAM : 0);
    if (k->pf && k->spread > 1) flags |= CNNC__SMALL_SPREAD(k->spread, i / k->rg);
    k->cfg->bcast(rows, cols, k->kc, k->a + i * k->sai, k->sai, k->sap, k->b + j, k->ldb,
                  k->c + i * k->ldc + j, k->ldc, k->beta, flags);
}

static void bcast_driver(const small_config *cfg, cnnc__isa isa, bool trans_a, int64_t m,
                         int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                         int64_t ldb, float beta, float *c, int64_t ldc) {
    const int64_t kc_blk = cnnc__sgemm_k_block(isa, k); /* the packed GEMM's k blocks */
    const int64_t sai = trans_a ? 1 : lda, sap = trans_a ? lda : 1;
    const int64_t W = cfg->bcast_cols, rg = group_rows(m, cfg->bcast_rows);
    const int64_t kc_top = k < kc_blk ? k : kc_blk;
    const int64_t fit = BCAST_B_BYTES / (int64_t)sizeof(float) / kc_top / W * W;
    const int64_t JB = fit > 16 * W ? fit : 16 * W;
    const int64_t vec = cfg->align / (int64_t)sizeof(float);
    const bool stream = cfg->fence && beta == 0.0f && k <= kc_blk &&
                        m * n >= CNNC__SGEMM_STREAM_FLOATS &&
                        (uintptr_t)c % (uintptr_t)cfg->align == 0 && ldc % vec == 0;
    const unsigned pf = kc_blk > CNNC__SGEMM_SMALL_K ? CNNC__SMALL_PREFETCH : 0;
    const int64_t groups = (m + rg - 1) / rg;
    const bool deep = groups > cfg->tile_groups && groups <= cfg->deep_groups && kc_blk > DEEP_KC;
    const bool groups_inside = groups <= cfg->tile_groups || deep;
    const int64_t spread = deep ? groups : 0;
    for (int64_t pc = 0; pc < k; pc += kc_blk) {
        const bcast_block blk = {cfg, m, rg, k - pc < kc_blk ? k - pc : kc_blk, sai, sap, ldb, ldc,
                                 a + pc * sap, b + pc * ldb, c, pc == 0 ? beta : 1.0f, pf,
                                 spread, stream};
        for (int64_t jb = 0; jb < n; jb += JB) {
            const int64_t je = n - jb < JB ? n : jb + JB;
            if (groups_inside) {
                for (int64_t j = jb; j < je; j += W)
                    for (int64_t i = 0; i < m; i += rg) bcast_tile_at(&blk, i, j, je);
            } else {
                for (int64_t i = 0; i < m; i += rg)
                    for (int64_t j = jb; j < je; j += W) bcast_tile_at(&blk, i, j, je);
            }
        }
    }
    if (stream) cfg->fence(); /* the non-temporal stores before anything that follows */
}

/* k blocks of at most CNNC__SGEMM_DOT_KC, equal and a multiple of 16, from k alone. */
static int64_t dot_k_block(int64_t k) {
    const int64_t nblocks = (k + CNNC__SGEMM_DOT_KC - 1) / CNNC__SGEMM_DOT_KC;
    const int64_t blk = (k + nblocks - 1) / nblocks;
    return (blk + 15) / 16 * 16;
}

/* B rows per block: each read a k block at a time, so each row streams in order. */
#define DOT_JB (16 * DOT_COLS)

static void dot_driver(const small_config *cfg, int64_t m, int64_t n, int64_t k, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc) {
    const int64_t kc_blk = dot_k_block(k), rg = group_rows(m, cfg->dot_rows);
    for (int64_t jb = 0; jb < n; jb += DOT_JB) {
        const int64_t je = n - jb < DOT_JB ? n : jb + DOT_JB;
        for (int64_t pc = 0; pc < k; pc += kc_blk) {
            const int64_t kc = k - pc < kc_blk ? k - pc : kc_blk;
            const float beta_blk = pc == 0 ? beta : 1.0f;
            for (int64_t j = jb; j < je; j += DOT_COLS) {
                const int64_t cols = je - j < DOT_COLS ? je - j : DOT_COLS;
                /* the same rows' next k block: read DOT_JB / 3 tiles later, time
                 * enough to come from DRAM into L2 */
                const float *next = b + j * ldb + pc + kc;
                for (int64_t i = 0; i < m; i += rg) {
                    const int64_t rows = m - i < rg ? m - i : rg;
                    cfg->dot(rows, cols, kc, a + i * lda + pc, lda, b + j * ldb + pc, next, ldb,
                             c + i * ldc + j, ldc, beta_blk);
                }
            }
        }
    }
}

void cnnc__sgemm_small(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc) {
    const small_config *cfg = config_of(isa);
    if (m <= 0 || n <= 0) return;
    if (trans_b)
        dot_driver(cfg, m, n, k, a, lda, b, ldb, beta, c, ldc);
    else
        bcast_driver(cfg, isa, trans_a, m, n, k, a, lda, b, ldb, beta, c, ldc);
}
