/* Multithreaded GEMM: cuts C into parallel-region chunks along m (whole MR row
 * tiles) or along n (whole NR column tiles), and runs the packed single-thread GEMM
 * on each chunk; a product the small paths take (kernels/gemm_small.h, chosen for the
 * whole product) is cut along n only. Never along k, so every C element is summed
 * exactly as in cnnc__sgemm_st whatever the thread count. */
#include "core/gemm_mt.h"

#include "core/parallel.h"
#include "kernels/gemm.h"
#include "kernels/gemm_small.h"

typedef struct sgemm_task {
    cnnc__isa isa; /* one level for the whole product (workspace slices and kernel) */
    bool trans_a, trans_b;
    int64_t m, n, k;
    const float *a;
    int64_t lda;
    const float *b;
    int64_t ldb;
    float beta;
    float *c;
    int64_t ldc;
    float *ws;
    size_t ws_slice; /* floats per chunk's workspace slice */
    bool small;      /* the in-place small-product path (cnnc__sgemm_small) */
    bool split_m;    /* chunks are row ranges (else column ranges) */
    int64_t unit;    /* MR (split_m), NR, or the small path's column unit */
} sgemm_task;

/* Items are tiles along the split dimension; chunk i uses workspace slice i. */
static cnnc_status sgemm_chunk(void *ctx, int64_t begin, int64_t end, int chunk) {
    const sgemm_task *t = ctx;
    const int64_t extent = t->split_m ? t->m : t->n;
    const int64_t lo = begin * t->unit;
    const int64_t hi = end * t->unit < extent ? end * t->unit : extent;
    if (t->small) {
        const float *b = t->trans_b ? t->b + lo * t->ldb : t->b + lo;
        cnnc__sgemm_small(t->isa, t->trans_a, t->trans_b, t->m, hi - lo, t->k, t->a, t->lda, b,
                          t->ldb, t->beta, t->c + lo, t->ldc);
        return CNNC_OK;
    }
    float *ws = t->ws + (size_t)chunk * t->ws_slice;
    if (t->split_m) {
        const float *a = t->trans_a ? t->a + lo : t->a + lo * t->lda;
        cnnc__sgemm_st_blocked(t->isa, t->trans_a, t->trans_b, hi - lo, t->n, t->k, a, t->lda,
                               t->b, t->ldb, t->beta, t->c + lo * t->ldc, t->ldc, ws);
    } else {
        const float *b = t->trans_b ? t->b + lo * t->ldb : t->b + lo;
        cnnc__sgemm_st_blocked(t->isa, t->trans_a, t->trans_b, t->m, hi - lo, t->k, t->a, t->lda,
                               b, t->ldb, t->beta, t->c + lo, t->ldc, ws);
    }
    return CNNC_OK;
}

/* The small path: column units, each its multiply-adds and its columns of B and C. */
static cnnc__par small_plan(sgemm_task *t, int threads) {
    t->split_m = false;
    t->unit = cnnc__sgemm_small_unit(t->isa, t->trans_b);
    const double unit = (double)t->unit, m = (double)t->m, k = (double)t->k;
    const cnnc__cost tile = {.flops = 2.0 * unit * m * k, .bytes = 4.0 * unit * (k + m)};
    return cnnc__par_plan((t->n + t->unit - 1) / t->unit, tile, threads);
}

/* Chooses the split side and plans its tiles for `threads` threads. */
static cnnc__par sgemm_plan(sgemm_task *t, int threads) {
    if (t->small) return small_plan(t, threads);
    int64_t mr, nr;
    cnnc__sgemm_tile(t->isa, &mr, &nr);
    const int64_t units_m = (t->m + mr - 1) / mr, units_n = (t->n + nr - 1) / nr;
    /* Splitting m makes every chunk pack all of B (k x n), splitting n all of A
     * (m x k): cut the longer side, unless it has too few tiles to go round and the
     * other side has more. */
    bool split_m = t->m >= t->n;
    if (split_m && units_m < threads && units_n > units_m)
        split_m = false;
    else if (!split_m && units_n < threads && units_m > units_n)
        split_m = true;
    t->split_m = split_m;
    t->unit = split_m ? mr : nr;
    const double k = (double)(t->k > 0 ? t->k : 1);
    const double other = (double)(split_m ? t->n : t->m), unit = (double)t->unit;
    /* a tile: its multiply-adds, its own operand rows and its block of C; a chunk:
     * packing (reading and writing) the whole other operand */
    const cnnc__cost tile = {.flops = 2.0 * unit * other * k,
                             .bytes = 4.0 * unit * (k + other),
                             .chunk_bytes = 8.0 * k * other};
    return cnnc__par_plan(split_m ? units_m : units_n, tile, threads);
}

static void sgemm_run(sgemm_task *t, cnnc__par plan) {
    if (plan.chunks == 1 && t->small)
        cnnc__sgemm_small(t->isa, t->trans_a, t->trans_b, t->m, t->n, t->k, t->a, t->lda, t->b,
                          t->ldb, t->beta, t->c, t->ldc);
    else if (plan.chunks == 1)
        cnnc__sgemm_st_blocked(t->isa, t->trans_a, t->trans_b, t->m, t->n, t->k, t->a, t->lda,
                               t->b, t->ldb, t->beta, t->c, t->ldc, t->ws);
    else
        (void)cnnc__par_run(plan, sgemm_chunk, t); /* chunks cannot fail */
}

static sgemm_task make_task(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                            float beta, float *c, int64_t ldc) {
    return (sgemm_task){.isa = isa, .trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k,
                        .a = a, .lda = lda, .b = b, .ldb = ldb, .beta = beta, .c = c,
                        .ldc = ldc, .ws_slice = cnnc__sgemm_workspace_floats(isa),
                        .small = n > 0 && cnnc__sgemm_small_fits(isa, trans_a, trans_b, m, n, k)};
}

cnnc_status cnnc__sgemm(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n,
                        int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0)
        return CNNC_OK;
    sgemm_task t = make_task(isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
    const cnnc__par plan = sgemm_plan(&t, cnnc__parallel_threads());
    if (!t.small) {
        t.ws = cnnc__workspace((size_t)plan.chunks * t.ws_slice * sizeof(float));
        if (!t.ws)
            return cnnc_last_status();
    }
    sgemm_run(&t, plan);
    return CNNC_OK;
}

int cnnc__sgemm_chunks(cnnc__isa isa, int64_t m, int64_t n, int64_t k, int threads) {
    if (m <= 0 || n <= 0)
        return 1;
    sgemm_task t = make_task(isa, false, false, m, n, k, NULL, 0, NULL, 0, 0.0f, NULL, 0);
    return sgemm_plan(&t, threads).chunks;
}

void cnnc__sgemm_ws(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    const float *a, int64_t lda, const float *b, int64_t ldb,
                    float beta, float *c, int64_t ldc, float *ws, size_t ws_floats) {
    if (m <= 0 || n <= 0)
        return;
    sgemm_task t = make_task(isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
    t.ws = ws;
    const size_t slices = ws_floats / t.ws_slice;
    const int threads = cnnc__parallel_threads();
    sgemm_run(&t, sgemm_plan(&t, slices < (size_t)threads ? (slices < 1 ? 1 : (int)slices)
                                                           : threads));
}
