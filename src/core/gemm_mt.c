/* Multithreaded GEMM: cuts C into at most one chunk per thread, along m (whole MR
 * row tiles) or along n (whole NR column tiles), and runs the packed single-thread
 * GEMM on each chunk. Never along k, so every C element is summed exactly as in
 * cnnc__sgemm_st whatever the thread count. */
#include "core/gemm_mt.h"

#include "core/parallel.h"
#include "kernels/gemm.h"

/* Fewest multiply-adds worth a chunk of its own (~40 us of one core). Waking a
 * sleeping pool thread costs tens of microseconds on a VM (the idle vCPU has to be
 * woken by the host), and each chunk packs its own copy of the shared operand:
 * measured on 2 vCPUs, 2 threads start to win at about 12M multiply-adds (230^3). */
#define SGEMM_MIN_MACS_PER_CHUNK ((int64_t)1 << 22)

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
    bool split_m;    /* chunks are row ranges (else column ranges) */
    int64_t unit;    /* MR (split_m) or NR */
    int64_t units;   /* tiles along the split dimension */
    int64_t chunks;  /* <= the pool's threads; chunk i uses workspace slice i */
} sgemm_task;

/* Chunks [begin, end) are one contiguous range of tiles; they own workspace slices
 * [begin, end) (chunk indices are disjoint between concurrent calls, whatever tid). */
static void sgemm_chunks(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const sgemm_task *t = ctx;
    const int64_t extent = t->split_m ? t->m : t->n;
    const int64_t lo = begin * t->units / t->chunks * t->unit;
    int64_t hi = end * t->units / t->chunks * t->unit;
    if (hi > extent)
        hi = extent;
    if (lo >= hi)
        return;
    float *ws = t->ws + (size_t)begin * t->ws_slice;
    if (t->split_m) {
        const float *a = t->trans_a ? t->a + lo : t->a + lo * t->lda;
        cnnc__sgemm_st(t->isa, t->trans_a, t->trans_b, hi - lo, t->n, t->k, a, t->lda, t->b, t->ldb,
                       t->beta, t->c + lo * t->ldc, t->ldc, ws);
    } else {
        const float *b = t->trans_b ? t->b + lo * t->ldb : t->b + lo;
        cnnc__sgemm_st(t->isa, t->trans_a, t->trans_b, t->m, hi - lo, t->k, t->a, t->lda, b, t->ldb,
                       t->beta, t->c + lo, t->ldc, ws);
    }
}

/* Fills t's split: along which side, in how many chunks (at most max_chunks). */
static void sgemm_plan(sgemm_task *t, int64_t max_chunks) {
    int64_t mr, nr;
    cnnc__sgemm_tile(t->isa, &mr, &nr);
    const int64_t units_m = (t->m + mr - 1) / mr, units_n = (t->n + nr - 1) / nr;
    /* Splitting m makes every chunk pack all of B (k x n), splitting n all of A
     * (m x k): cut the longer side, unless it has too few tiles to go round and the
     * other side has more. */
    bool split_m = t->m >= t->n;
    if (split_m && units_m < max_chunks && units_n > units_m)
        split_m = false;
    else if (!split_m && units_n < max_chunks && units_m > units_n)
        split_m = true;
    t->split_m = split_m;
    t->unit = split_m ? mr : nr;
    t->units = split_m ? units_m : units_n;
    /* In double: m*n*k may not fit in int64_t for absurd (but valid) sizes. */
    const double macs = (double)t->m * (double)t->n * (double)(t->k > 0 ? t->k : 1);
    int64_t chunks = max_chunks;
    if (macs < (double)SGEMM_MIN_MACS_PER_CHUNK * (double)max_chunks)
        chunks = (int64_t)(macs / (double)SGEMM_MIN_MACS_PER_CHUNK);
    if (chunks > t->units)
        chunks = t->units;
    t->chunks = chunks < 1 ? 1 : chunks;
}

static void sgemm_run(const sgemm_task *t) {
    if (t->chunks == 1)
        cnnc__sgemm_st(t->isa, t->trans_a, t->trans_b, t->m, t->n, t->k, t->a, t->lda, t->b, t->ldb,
                       t->beta, t->c, t->ldc, t->ws);
    else
        cnnc__parallel_for(t->chunks, 1, sgemm_chunks, (void *)t);
}

static sgemm_task make_task(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n,
                            int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                            float beta, float *c, int64_t ldc) {
    return (sgemm_task){.isa = isa, .trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k,
                        .a = a, .lda = lda, .b = b, .ldb = ldb, .beta = beta, .c = c,
                        .ldc = ldc, .ws_slice = cnnc__sgemm_workspace_floats(isa)};
}

int cnnc__sgemm(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                const float *a, int64_t lda, const float *b, int64_t ldb,
                float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0)
        return 0;
    sgemm_task t = make_task(isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
    sgemm_plan(&t, cnnc__parallel_threads());
    t.ws = cnnc__workspace((size_t)t.chunks * t.ws_slice * sizeof(float));
    if (!t.ws)
        return -1;
    sgemm_run(&t);
    return 0;
}

void cnnc__sgemm_ws(cnnc__isa isa, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    const float *a, int64_t lda, const float *b, int64_t ldb,
                    float beta, float *c, int64_t ldc, float *ws, size_t ws_floats) {
    if (m <= 0 || n <= 0)
        return;
    sgemm_task t = make_task(isa, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
    t.ws = ws;
    const int64_t slices = (int64_t)(ws_floats / t.ws_slice);
    const int64_t threads = cnnc__parallel_threads();
    sgemm_plan(&t, slices < threads ? (slices < 1 ? 1 : slices) : threads);
    sgemm_run(&t);
}

size_t cnnc__sgemm_ws_floats(cnnc__isa isa) {
    return (size_t)cnnc__parallel_threads() * cnnc__sgemm_workspace_floats(isa);
}
