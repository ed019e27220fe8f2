/* The input gradient of convolutions with few channels a group by shifted sums in the
 * input's stride phases (kernels/conv.h, cnnc__conv_phase_sum_data): items (image, group)
 * over the threads, each chunk with its own planes. */
#include "ops/conv_phase.h"

#include <math.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"

enum {
    PHASE_SUM_DIM_MAX = 1 << 16,     /* sane sizes only: no plane arithmetic can overflow */
    PHASE_SUM_SCRATCH_MAX = 1 << 22, /* floats of an item's planes, dy rows and tap tables */
    /* Where it beats the GEMM + col2im path (K = the output channels), measured, 1
     * thread, AVX2, batch 8 unless named, input gradient ms GEMM -> here: the seed's 1 ->
     * 3 3x3 / 2 at 28x28 (batch 64) 0.164 -> 0.068, 1 -> 6 5x5 / 2 (batch 64) 0.44 ->
     * 0.18, 2 -> 8 4x4 / 2 at 32x32 0.081 -> 0.051, 4 -> 4 3x3 / 2 at 64x64 0.180 ->
     * 0.130, 3 -> 4 0.140 -> 0.100, 1 -> 6 0.054 -> 0.049; level or slower from 8 output
     * channels (1 -> 8 0.056 -> 0.059, 3 -> 8 0.264 -> 0.231, 1 -> 16 0.13 -> 0.17, 3 ->
     * 32 at 224 3.96 -> 7.64) and against the phase path from 8 input channels (8 -> 4
     * 0.060 -> 0.080, 16 -> 2 0.089 -> 0.129) */
    PHASE_SUM_OUT_MAX = 6,
    PHASE_SUM_IN_MAX = 7,
};

bool cnnc__conv_phase_sum_fits(const cnnc__window *g) {
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->pad[0] != 0) return false;
    if (cnnc__conv_is_depthwise(g) || cnnc__window_out_size(g) == 0) return false;
    if (g->c / g->groups > PHASE_SUM_IN_MAX || g->m / g->groups > PHASE_SUM_OUT_MAX) return false;
    for (int d = 1; d < 3; d++)
        if (g->stride[d] < 1 || g->stride[d] > PHASE_SUM_DIM_MAX || g->pad[d] < 0 ||
            g->pad[d] > PHASE_SUM_DIM_MAX || g->dil[d] < 1 || g->dil[d] > PHASE_SUM_DIM_MAX ||
            g->k[d] > PHASE_SUM_DIM_MAX || g->in[d] > PHASE_SUM_DIM_MAX ||
            g->out[d] > PHASE_SUM_DIM_MAX)
            return false;
    /* more taps than phases: some phase sums several shifted runs. Where each phase
     * takes one tap at most, the GEMM (+ col2im) path wins (1 thread, AVX2, batch 8, dx
     * ms GEMM -> here: 1x1 3 -> 6 at 56x56 0.025 -> 0.083, 4 -> 4 at 112x112 0.078 ->
     * 0.327, stride 2 0.025 -> 0.060; 2x2 / 2 3 -> 6 at 96x96 0.143 -> 0.187, 1 -> 6
     * 0.052 -> 0.075), where one has several it loses nowhere measured (4x4 / 3 3 -> 6
     * at 96x96 0.385 -> 0.221; 3x3 / 3, one tap a phase, 0.237 -> 0.176, is given up) */
    if (g->k[1] * g->k[2] <= g->stride[1] * g->stride[2]) return false;
    cnnc__conv_phase_sum_dims sd;
    cnnc__conv_phase_sum_geom(g, &sd);
    return (double)sd.planes + (double)sd.dyw + (double)sd.taps <= PHASE_SUM_SCRATCH_MAX;
}

typedef struct phase_sum_job {
    cnnc__isa isa;
    const cnnc__window *g;
    cnnc__conv_phase_sum_dims sd;
    float *dx, *ws;
    const float *dy, *w;
    size_t slice; /* a chunk's planes and dy rows */
} phase_sum_job;

static cnnc_status phase_sum_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const phase_sum_job *j = ctx;
    const cnnc__window *g = j->g;
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, ksz = cnnc__window_k_size(g);
    const int64_t isz = cnnc__window_in_size(g), osz = cnnc__window_out_size(g);
    float *ph = j->ws + (size_t)chunk * j->slice, *dyw = ph + cnnc__round16((size_t)j->sd.planes);
    for (int64_t item = begin; item < end; item++) { /* item = (image, group) */
        const int64_t b = item / g->groups, grp = item % g->groups;
        cnnc__conv_phase_sum_data(j->isa, j->dx + (b * g->c + grp * cg) * isz, ph, dyw,
                                  j->dy + (b * g->m + grp * mg) * osz,
                                  j->w + grp * mg * cg * ksz, g, &j->sd);
    }
    return CNNC_OK;
}

bool cnnc__conv_phase_sum_backward_data(cnnc__isa isa, const cnnc__window *g, float *dx,
                                        const float *dy, const float *w, cnnc_status *st) {
    const int64_t cg = g->c / g->groups, mg = g->m / g->groups, ksz = cnnc__window_k_size(g);
    const int64_t nw = g->m * cg * ksz;
    for (int64_t i = 0; i < nw; i++) /* dy's zero columns meet every weight */
        if (!isfinite(w[i])) return false;
    phase_sum_job j = {.isa = isa, .g = g, .dx = dx, .dy = dy, .w = w};
    cnnc__conv_phase_sum_geom(g, &j.sd);
    /* an item: cg mg ksz multiply-adds per output position, its planes written twice
     * and read once */
    const double macs = (double)(cg * mg * ksz) * (double)cnnc__window_out_size(g);
    const cnnc__cost item = {.flops = 2.0 * macs, .bytes = 12.0 * (double)j.sd.planes};
    const cnnc__par plan = cnnc__par_plan(g->n * g->groups, item, cnnc__parallel_threads());
    j.slice = cnnc__round16((size_t)j.sd.planes) + cnnc__round16((size_t)j.sd.dyw) +
              (size_t)j.sd.taps;
    j.ws = cnnc__workspace((size_t)plan.chunks * j.slice * sizeof(float));
    *st = j.ws ? cnnc__par_run(plan, phase_sum_range, &j) : cnnc_last_status();
    return true;
}
