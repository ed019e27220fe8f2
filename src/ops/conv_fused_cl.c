/* The chain (ops/conv_fused.c: a 1x1 convolution A, the depthwise B that alone reads it,
 * the 1x1 C that alone reads B) on small planes, channels-last inside. Per image, 16
 * channels at a time:
 *   E [pixels of B's input][16] = those channels of A's product, as X^T A^T (x's pixels
 *     the GEMM's rows, A's filters packed once per call as its B), raw;
 *   B over E right away, 8 channels a vector, A's epilogue applied as each pixel is read
 *     (cnnc__dwconv_forward_cl), into D, which is C's B packed: rows B's channels,
 *     columns its output pixels;
 * then C's output planes = C's filters times D, C's epilogue fused into the store.
 * The depthwise then needs no transposes in and loses no lanes to short rows (the band
 * kernels run 14-wide rows 16 lanes at a time, a third of their time filling buffers),
 * C packs nothing, and neither A's nor B's output goes through memory whole. Each GEMM
 * sums over k in the order of the unfused ops' (the same k blocks, the same
 * micro-kernel: a x b is b x a), and the depthwise has the channels-last groups' bits,
 * which are the band kernels': the bits of A, B and C one after the other. */
#include <assert.h>

#include "core/alloc.h"
#include "core/parallel.h"
#include "kernels/gemm.h"
#include "ops/conv.h"
#include "ops/conv_internal.h"

typedef struct cl_job {
    cnnc__isa isa;
    const cnnc__window *ga, *gb, *gc;
    float *y;
    const float *x, *wb;
    const float *apk; /* A's filters transposed, in the GEMM's B panels [ca rows][ma] */
    const float *cpk; /* C's filters packed as the GEMM's A */
    const cnnc__conv_epilogue *epa, *epb, *epc;
    cnnc__conv_clamp ca, cb;
    bool clamp_a, clamp_b;
    size_t slice; /* per chunk: E, D, x's image packed as A */
    float *ws;
} cl_job;

/* B's input and output planes of at most CL_MAX_PIXELS, output rows of at least
 * CL_MIN_W. Measured, 1 thread, batch 8, MobileNetV2's blocks (folded BatchNorm, ReLU6,
 * the residual add), thread CPU time, min of 11, five alternations in one process, ms
 * band chain or unfused -> channels-last: 32 -> 192 -> 32 at 28x28 2.48 -> 2.30, stride
 * 2 (to 64 at 14x14) 1.70 -> 1.54, 64 -> 384 -> 64 at 14x14 2.20 -> 1.96, 96 -> 576 ->
 * 96 4.53 -> 4.15; 24 -> 144 at 56x56 stride 2 (28x28 out) even (4.05 / 4.15, noisy):
 * E's block of 16 channels, 200 KB, no longer in L1. 7x7 outputs not: C's product on
 * an image's 49 columns loses a quarter of its 16-wide panels (160 -> 960 -> 160 at 7x7
 * 3.08 -> 3.24, 160 -> 960 -> 320 4.29 -> 5.03; 96 -> 576 stride 2 to 7x7 3.01 -> 2.96,
 * three alternations of separate libraries). */
enum { CL_MAX_PIXELS = 28 * 28, CL_MIN_W = 14 };

bool cnnc__conv_chain_cl_fits(cnnc__isa isa, const cnnc__window *ga, const cnnc__window *gb,
                              const cnnc__window *gc, const cnnc__conv_epilogue *epa,
                              const cnnc__conv_epilogue *epb) {
    cnnc__conv_clamp c;
    if (isa != CNNC__ISA_AVX2 || !ga || !cnnc__conv_chain_fusable(ga, gb, gc)) return false;
    if (gb->m % 8 || gb->out[2] < CL_MIN_W || cnnc__window_out_size(gb) > CL_MAX_PIXELS ||
        cnnc__window_in_size(gb) > CL_MAX_PIXELS || !cnnc__dwconv_cl_fits(isa, gb))
        return false;
    return (!epa || !epa->act || cnnc__conv_epilogue_clamp(epa, &c)) &&
           (!epb || !epb->act || cnnc__conv_epilogue_clamp(epb, &c));
}

/* Image i (ws: the chunk's slice), nr channels at a time: E's block of them, then B on
 * it while it is in L1 (E whole, 450 KB at 576 x 14x14, came back from L3 for B). */
static void cl_image(const cl_job *j, int64_t i, float *ws) {
    const cnnc__window *ga = j->ga, *gb = j->gb, *gc = j->gc;
    const int64_t m = gb->m, pin = cnnc__window_in_size(gb), pout = cnnc__window_out_size(gb);
    int64_t mr, nr;
    cnnc__sgemm_tile(j->isa, &mr, &nr);
    const int64_t pstride = m * nr;                                  /* C's B panels */
    float *d = ws;                                                   /* [pout / nr][m][nr] */
    float *e = d + cnnc__round16((size_t)((pout + nr - 1) / nr * pstride)); /* [pin][nr] */
    float *xpk = e + cnnc__round16((size_t)(pin * nr));              /* x's image as A */
    cnnc__sgemm_pack_a_full(j->isa, true, pin, ga->c, j->x + i * ga->c * pin, pin, xpk);
    const float *ab = j->epa->bias, *bb = j->epb->bias;
    for (int64_t c0 = 0; c0 < m; c0 += nr) {
        const int64_t nc = nr < m - c0 ? nr : m - c0;
        cnnc__sgemm_st_prepacked(j->isa, pin, nc, ga->c, xpk, j->apk + c0 * ga->c, ga->c * nr,
                                 0.0f, e, nr, NULL);
        const bool done = cnnc__dwconv_forward_cl(
            j->isa, d + c0 * nr, pstride, e, nr, pin * nr, ab ? ab + c0 : NULL,
            j->clamp_a ? &j->ca : NULL, j->wb + 9 * c0, bb ? bb + c0 : NULL, nc, gb,
            j->clamp_b ? &j->cb : NULL);
        (void)done;
        assert(done); /* cnnc__conv_chain_cl_fits took the geometry */
    }
    cnnc__sgemm_epilogue f;
    const bool fused = cnnc__conv_epilogue_gemm(j->isa, j->epc, 0, &f);
    float *yi = j->y + i * gc->m * pout;
    cnnc__sgemm_st_prepacked(j->isa, gc->m, pout, m, j->cpk, d, pstride, 0.0f, yi, pout,
                             fused ? &f : NULL);
    if (!fused) cnnc__conv_epilogue_rows(j->isa, j->epc, yi, pout, 0, gc->m, pout);
}

static cnnc_status cl_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    const cl_job *j = ctx;
    for (int64_t i = begin; i < end; i++) cl_image(j, i, j->ws + (size_t)chunk * j->slice);
    return CNNC_OK;
}

cnnc_status cnnc__conv_run_chain_cl(const cnnc__window *ga, const cnnc__window *gb,
                                    const cnnc__window *gc, float *y, const float *x,
                                    const float *wa, const float *wb, const float *wc,
                                    const cnnc__conv_epilogue *epa,
                                    const cnnc__conv_epilogue *epb,
                                    const cnnc__conv_epilogue *epc) {
    cl_job j = {.isa = cnnc__isa_active(), .ga = ga, .gb = gb, .gc = gc, .y = y, .x = x, .wb = wb,
                .epa = epa, .epb = epb, .epc = epc};
    j.clamp_a = cnnc__conv_epilogue_clamp(epa, &j.ca);
    j.clamp_b = cnnc__conv_epilogue_clamp(epb, &j.cb);
    int64_t mr, nr;
    cnnc__sgemm_tile(j.isa, &mr, &nr);
    const int64_t m = gb->m, pin = cnnc__window_in_size(gb), pout = cnnc__window_out_size(gb);
    const size_t af = (size_t)((m + nr - 1) / nr * nr * ga->c); /* A's filters as B panels */
    const size_t cf = cnnc__sgemm_packed_a_floats(j.isa, gc->m, gc->c);
    j.slice = cnnc__round16((size_t)((pout + nr - 1) / nr * m * nr)) +
              cnnc__round16((size_t)(pin * nr)) + cnnc__sgemm_packed_a_floats(j.isa, pin, ga->c);
    const double macs = (double)m * (double)pout * (double)(9 + gc->m) +
                        (double)m * (double)ga->c * (double)pin;
    const cnnc__par plan = cnnc__par_plan(gb->n, (cnnc__cost){.flops = 2.0 * macs},
                                          cnnc__parallel_threads());
    float *ws = cnnc__workspace((cnnc__round16(af) + cf + (size_t)plan.chunks * j.slice) *
                                sizeof(float));
    if (!ws) return cnnc_last_status();
    /* [A's panels | C's packed filters | chunks x slice]; A's panels: B (ca x ma) = A's
     * filters [ma][ca] transposed */
    cnnc__sgemm_pack_b_panels(j.isa, true, ga->c, m, wa, ga->c, ws);
    cnnc__sgemm_pack_a_full(j.isa, false, gc->m, gc->c, wc, gc->c, ws + cnnc__round16(af));
    j.apk = ws, j.cpk = ws + cnnc__round16(af);
    j.ws = ws + cnnc__round16(af) + cf;
    return cnnc__par_run(plan, cl_range, &j);
}
