/* The forward of strided convolutions as the transposed implicit GEMM
 * (ops/conv_pospanel.h, kernels/conv_pospanel.h):
 *
 *     Y^T [positions, mg] = A [positions, kdim] W^T [kdim, mg]     per group
 *
 * An item is a span of the batch's output positions (whole panels, across images):
 * for each k block of the GEMM its position panels are packed from the input
 * (cnnc__conv_pack_positions) and multiplied by the filters, packed once as the B
 * panels of all k rows, into Y^T [span, mg]; the span is then transposed into y's
 * rows, image by image, and the epilogue applied there. Each element is summed in
 * the k blocks of the product of depth kdim by the same micro-kernel, in the same
 * order as the phase-plane and implicit GEMMs (filters as A): the same bits as they
 * give, at every thread count. */
#include "ops/conv_pospanel.h"

#include "core/alloc.h"
#include "core/parallel.h"
#include "kernels/conv_cl.h"
#include "kernels/conv_pospanel.h"
#include "kernels/gemm.h"
#include "ops/conv_internal.h"

/* A span's A block and Y^T stay in L2 (a quarter MB each) */
enum { POS_BLOCK_FLOATS = 1 << 16 };

typedef struct pos_job {
    cnnc__isa isa;
    const cnnc__window *g;
    float *y;
    const float *x, *bpk; /* bpk: every group's B panels, b_floats apart */
    const cnnc__conv_epilogue *ep;
    int64_t mg, kdim, osz, total; /* total: the batch's positions */
    int64_t kblk, span, per;      /* k block; positions an item; items a group */
    size_t b_floats, a_floats, slice;
    float *ws; /* per chunk: A block [a_floats], then Y^T [span, mg] */
} pos_job;

size_t cnnc__conv_pospanel_b_floats(cnnc__isa isa, const cnnc__window *g) {
    int64_t mr, nr;
    cnnc__sgemm_tile(isa, &mr, &nr);
    const int64_t mg = g->m / g->groups, kdim = g->c / g->groups * cnnc__window_k_size(g);
    return (size_t)((mg + nr - 1) / nr * nr * kdim);
}

void cnnc__conv_pospanel_pack_filters(cnnc__isa isa, const cnnc__window *g, const float *w,
                                      float *dst) {
    const int64_t mg = g->m / g->groups, kdim = g->c / g->groups * cnnc__window_k_size(g);
    const size_t b_floats = cnnc__conv_pospanel_b_floats(isa, g);
    for (int64_t grp = 0; grp < g->groups; grp++)
        cnnc__sgemm_pack_b_panels(isa, true, kdim, mg, w + grp * mg * kdim, kdim,
                                  dst + (size_t)grp * b_floats);
}

/* y's rows for positions [q0, q0 + n) of group grp from yt [n, mg]: image by image. */
static void scatter(const pos_job *j, const float *yt, int64_t grp, int64_t q0, int64_t n) {
    for (int64_t q = q0; q < q0 + n;) {
        const int64_t img = q / j->osz, o = q % j->osz;
        const int64_t len = j->osz - o < q0 + n - q ? j->osz - o : q0 + n - q;
        float *yg = j->y + (img * j->g->m + grp * j->mg) * j->osz + o;
        cnnc__conv_cl_transpose(j->isa, yg, j->osz, yt + (q - q0) * j->mg, j->mg, NULL, len,
                                j->mg);
        cnnc__conv_epilogue_rows(j->isa, j->ep, yg, j->osz, grp, j->mg, len);
        q += len;
    }
}

static cnnc_status pos_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const pos_job *j = ctx;
    const cnnc__window *g = j->g;
    int64_t mr, nr;
    cnnc__sgemm_tile(j->isa, &mr, &nr);
    float *a = j->ws + (size_t)chunk * j->slice, *yt = a + j->a_floats; /* yt [span, mg] */
    const int64_t cg = g->c / g->groups;
    for (int64_t item = begin; item < end; item++) {
        const int64_t grp = item / j->per, q0 = item % j->per * j->span;
        const int64_t n = j->total - q0 < j->span ? j->total - q0 : j->span;
        const float *b = j->bpk + (size_t)grp * j->b_floats;
        for (int64_t pc = 0; pc < j->kdim; pc += j->kblk) {
            const int64_t kc = j->kdim - pc < j->kblk ? j->kdim - pc : j->kblk;
            cnnc__conv_pack_positions(j->isa, a, j->x, g, grp * cg, q0, n, pc, kc);
            cnnc__sgemm_st_prepacked(j->isa, n, j->mg, kc, a, b + pc * nr, j->kdim * nr,
                                     pc == 0 ? 0.0f : 1.0f, yt, j->mg, NULL);
        }
        scatter(j, yt, grp, q0, n);
    }
    return CNNC_OK;
}

cnnc_status cnnc__conv_pospanel_forward(cnnc__isa isa, const cnnc__window *g, float *y,
                                        const float *x, const float *w, const float *bpk,
                                        const cnnc__conv_epilogue *ep) {
    const int threads = cnnc__parallel_threads();
    const int64_t mr = cnnc__conv_pospanel_mr(isa);
    pos_job j = {.isa = isa, .g = g, .y = y, .x = x, .bpk = bpk, .ep = ep,
                 .mg = g->m / g->groups, .kdim = g->c / g->groups * cnnc__window_k_size(g),
                 .osz = cnnc__window_out_size(g)};
    j.total = g->n * j.osz;
    j.kblk = cnnc__sgemm_k_block(isa, j.kdim);
    j.b_floats = cnnc__conv_pospanel_b_floats(isa, g);
    /* spans: whole panels, A block and Y^T within POS_BLOCK_FLOATS, an even split, and
     * items a multiple of the threads where there are panels enough */
    const int64_t wide = j.kblk > j.mg ? j.kblk : j.mg;
    int64_t smax = POS_BLOCK_FLOATS / wide / mr * mr;
    if (smax < mr) smax = mr;
    const int64_t panels = (j.total + mr - 1) / mr;
    int64_t per = (j.total + smax - 1) / smax;
    if (threads > 1) per = (per + threads - 1) / threads * threads;
    if (per > panels) per = panels;
    j.span = ((panels + per - 1) / per) * mr;
    j.per = (j.total + j.span - 1) / j.span;
    j.a_floats = cnnc__round16((size_t)(j.span * j.kblk));
    j.slice = j.a_floats + cnnc__round16((size_t)(j.span * j.mg));
    const cnnc__par plan = cnnc__par_plan(
        g->groups * j.per, (cnnc__cost){.flops = 2.0 * (double)(j.span * j.mg * j.kdim)}, threads);
    const size_t own_b = bpk ? 0 : (size_t)g->groups * j.b_floats; /* not the cache's */
    float *ws = cnnc__workspace(((size_t)plan.chunks * j.slice + own_b) * sizeof(float));
    if (!ws) return cnnc_last_status();
    j.ws = ws;
    if (own_b) {
        float *b = ws + (size_t)plan.chunks * j.slice;
        cnnc__conv_pospanel_pack_filters(isa, g, w, b);
        j.bpk = b;
    }
    return cnnc__par_run(plan, pos_range, &j);
}
