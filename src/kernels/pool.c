/* Pooling kernels: plain reference loops and the fast 2-d paths (see pool.h). */
#include "kernels/pool.h"

#include <math.h>
#include <string.h>

#include "kernels/pool_internal.h"

typedef struct pool_variant {
    cnnc__isa isa;
    const char *name;
    bool (*max_idx)(float *out, int64_t *idx, const float *x, const cnnc__window *g, int64_t p0,
                    int64_t p1);
} pool_variant;

static const pool_variant variants[] = {
#define CNNC__X(isa, sfx) {CNNC__ISA_##isa, "f32_maxpool2d_idx__" #sfx, cnnc__k_max_pool2d_idx_##sfx},
    CNNC__POOL_VARIANTS(CNNC__X)
#undef CNNC__X
};

CNNC__ISA_PICKER(variant, pool_variant, variants)

const char *cnnc__k_max_pool2d_variant_name(cnnc__isa isa) { return variant(isa)->name; }

/* First position >= 0 of start + j*dil (j >= 0), i.e. the first in-bounds tap of a
 * window starting at `start` (may lie past the input when the window has none). */
static inline int64_t first_tap(int64_t start, int64_t dil) {
    if (start >= 0) return start;
    return start + ((-start + dil - 1) / dil) * dil;
}

/* ---- max pooling ---------------------------------------------------------------- */

void cnnc__k_max_pool_ref(float *out, int64_t *idx, const float *x, const cnnc__window *g,
                          int64_t p0, int64_t p1) {
    const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int64_t OD = g->out[0], OH = g->out[1], OW = g->out[2];
    const int64_t isz = ID * IH * IW, osz = OD * OH * OW;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * isz;
        float *op = out + p * osz;
        int64_t *ip = idx ? idx + p * osz : NULL;
        for (int64_t od = 0; od < OD; od++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t d0 = od * g->stride[0] - g->pad[0], h0 = oh * g->stride[1] - g->pad[1],
                            w0 = ow * g->stride[2] - g->pad[2];
                    /* the running max starts at -inf with the first in-bounds tap */
                    int64_t mi = first_tap(d0, g->dil[0]) * IH * IW + first_tap(h0, g->dil[1]) * IW +
                                 first_tap(w0, g->dil[2]);
                    float m = -INFINITY;
                    for (int64_t kd = 0; kd < g->k[0]; kd++) {
                        int64_t id = d0 + kd * g->dil[0];
                        if (id < 0 || id >= ID) continue;
                        for (int64_t kh = 0; kh < g->k[1]; kh++) {
                            int64_t ih = h0 + kh * g->dil[1];
                            if (ih < 0 || ih >= IH) continue;
                            for (int64_t kw = 0; kw < g->k[2]; kw++) {
                                int64_t iw = w0 + kw * g->dil[2];
                                if (iw < 0 || iw >= IW) continue;
                                int64_t pos = (id * IH + ih) * IW + iw;
                                float v = xp[pos];
                                if (v > m || isnan(v)) {
                                    m = v;
                                    mi = pos;
                                }
                            }
                        }
                    }
                    int64_t o = (od * OH + oh) * OW + ow;
                    op[o] = m;
                    if (ip) ip[o] = mi;
                }
    }
}

/* 2-d, dilation 1: each output row clips its row range once; columns whose window
 * lies inside the input skip the per-tap bounds checks. Same scan order and update
 * rule as the reference, so values and indices are identical. */
/* Values only (no indices): separable. The kernel rows are reduced into a row buffer
 * (contiguous and vectorisable), then each output reduces its KW columns. The result
 * is NaN when the window holds a NaN and its maximum otherwise, whatever the order,
 * so it equals the row-major scan. */
enum { MAXROW = 4096 };
static bool max_pool2d_values(float *out, const float *x, const cnnc__window *g, int64_t p0,
                              int64_t p1) {
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
    const int64_t KH = g->k[1], KW = g->k[2], SH = g->stride[1], SW = g->stride[2], PH = g->pad[1],
                  PW = g->pad[2];
    if (IW > MAXROW) return false;
    float row[MAXROW];
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * IH * IW;
        float *op = out + p * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0 = oh * SH - PH;
            int64_t hs = h0 < 0 ? 0 : h0, he = h0 + KH < IH ? h0 + KH : IH;
            for (int64_t iw = 0; iw < IW; iw++) row[iw] = -INFINITY;
            for (int64_t ih = hs; ih < he; ih++) {
                const float *r = xp + ih * IW;
                for (int64_t iw = 0; iw < IW; iw++) {
                    float v = r[iw], m = row[iw];
                    row[iw] = ((v > m) | (v != v)) ? v : m;
                }
            }
            float *orow = op + oh * OW;
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t w0 = ow * SW - PW;
                int64_t ws = w0 < 0 ? 0 : w0, we = w0 + KW < IW ? w0 + KW : IW;
                float m = -INFINITY;
                for (int64_t iw = ws; iw < we; iw++) {
                    float v = row[iw];
                    m = ((v > m) | (v != v)) ? v : m;
                }
                orow[ow] = m;
            }
        }
    }
    return true;
}

bool cnnc__k_max_pool2d_fast(cnnc__isa isa, float *out, int64_t *idx, const float *x,
                             const cnnc__window *g, int64_t p0, int64_t p1) {
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1 || g->dil[1] != 1 || g->dil[2] != 1)
        return false;
    if (variant(isa)->max_idx(out, idx, x, g, p0, p1)) return true;
    if (!idx && max_pool2d_values(out, x, g, p0, p1)) return true;
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
    const int64_t KH = g->k[1], KW = g->k[2], SH = g->stride[1], SW = g->stride[2], PH = g->pad[1],
                  PW = g->pad[2];
    /* output columns [ow_lo, ow_hi) have w0 >= 0 and w0 + KW <= IW */
    int64_t ow_lo = (PW + SW - 1) / SW, ow_hi = OW;
    if (IW + PW - KW < 0) {
        ow_hi = 0;
    } else {
        int64_t last = (IW + PW - KW) / SW + 1;
        if (last < ow_hi) ow_hi = last;
    }
    if (ow_lo > ow_hi) ow_lo = ow_hi;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * IH * IW;
        float *op = out + p * OH * OW;
        int64_t *ip = idx ? idx + p * OH * OW : NULL;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0 = oh * SH - PH;
            int64_t hs = h0 < 0 ? 0 : h0, he = h0 + KH < IH ? h0 + KH : IH;
            float *orow = op + oh * OW;
            int64_t *irow = ip ? ip + oh * OW : NULL;
            /* interior columns, eight outputs at a time: eight independent max
             * chains (each still scans its window in row-major order) */
            enum { B = 8 };
            for (int64_t ob = ow_lo; ob + B <= ow_hi; ob += B) {
                float m[B];
                int64_t mi[B];
                const int64_t w0 = ob * SW - PW;
                for (int j = 0; j < B; j++) {
                    m[j] = -INFINITY;
                    mi[j] = hs * IW + w0 + j * SW;
                }
                for (int64_t ih = hs; ih < he; ih++) {
                    const float *r = xp + ih * IW + w0;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        for (int j = 0; j < B; j++) {
                            float v = r[j * SW + kw];
                            bool take = (v > m[j]) | (v != v);
                            m[j] = take ? v : m[j];
                            mi[j] = take ? ih * IW + w0 + j * SW + kw : mi[j];
                        }
                    }
                }
                for (int j = 0; j < B; j++) {
                    orow[ob + j] = m[j];
                    if (irow) irow[ob + j] = mi[j];
                }
            }
            int64_t blocked_end = ow_lo + ((ow_hi - ow_lo) / B) * B;
            for (int64_t ow = 0; ow < OW; ow++) {
                if (ow == ow_lo && blocked_end > ow_lo) ow = blocked_end;
                if (ow >= OW) break;
                int64_t w0 = ow * SW - PW;
                int64_t ws, we;
                if (ow >= ow_lo && ow < ow_hi) {
                    ws = w0;
                    we = w0 + KW;
                } else {
                    ws = w0 < 0 ? 0 : w0;
                    we = w0 + KW < IW ? w0 + KW : IW;
                }
                int64_t mi = hs * IW + ws;
                float m = -INFINITY;
                if (irow) {
                    for (int64_t ih = hs; ih < he; ih++) {
                        const float *r = xp + ih * IW;
                        for (int64_t iw = ws; iw < we; iw++) {
                            float v = r[iw];
                            /* branch-free select: the data decides, not the predictor */
                            bool take = (v > m) | (v != v);
                            m = take ? v : m;
                            mi = take ? ih * IW + iw : mi;
                        }
                    }
                    irow[ow] = mi;
                } else {
                    for (int64_t ih = hs; ih < he; ih++) {
                        const float *r = xp + ih * IW;
                        for (int64_t iw = ws; iw < we; iw++) {
                            float v = r[iw];
                            bool take = (v > m) | (v != v);
                            m = take ? v : m;
                        }
                    }
                }
                orow[ow] = m;
            }
        }
    }
    return true;
}

void cnnc__k_index_scatter_add(float *gx, const float *gy, const int64_t *idx, int64_t isize,
                               int64_t osize, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
        float *gp = gx + p * isize;
        const float *yp = gy + p * osize;
        const int64_t *ip = idx + p * osize;
        memset(gp, 0, (size_t)isize * sizeof(float));
        for (int64_t o = 0; o < osize; o++) {
            int64_t i = ip[o];
            if (i >= 0 && i < isize) gp[i] += yp[o]; /* a window without taps has none */
        }
    }
}

/* ---- average pooling ----------------------------------------------------------- */

/* One dim of an average window: in-bounds range [lo, hi) and padded count. */
static inline void avg_range(int64_t o, int64_t k, int64_t s, int64_t pad, int64_t in,
                             int64_t *lo, int64_t *hi, int64_t *padded) {
    int64_t start = o * s - pad;
    int64_t end = start + k < in + pad ? start + k : in + pad;
    *padded = end - start;
    *lo = start < 0 ? 0 : start;
    *hi = end < in ? end : in;
}

static inline float avg_divisor(int64_t padded, int64_t inside, const cnnc__avg_opts *o) {
    return (float)(o->has_divisor ? o->divisor : o->count_include_pad ? padded : inside);
}

static inline float avg_divide(float sum, int64_t padded, int64_t inside,
                               const cnnc__avg_opts *o) {
    return sum / avg_divisor(padded, inside, o);
}

void cnnc__k_avg_pool_ref(float *out, const float *x, const cnnc__window *g,
                          const cnnc__avg_opts *o, int64_t p0, int64_t p1) {
    const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int64_t OD = g->out[0], OH = g->out[1], OW = g->out[2];
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * ID * IH * IW;
        float *op = out + p * OD * OH * OW;
        for (int64_t od = 0; od < OD; od++) {
            int64_t d0, d1, pdn;
            avg_range(od, g->k[0], g->stride[0], g->pad[0], ID, &d0, &d1, &pdn);
            for (int64_t oh = 0; oh < OH; oh++) {
                int64_t h0, h1, phn;
                avg_range(oh, g->k[1], g->stride[1], g->pad[1], IH, &h0, &h1, &phn);
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t w0, w1, pwn;
                    avg_range(ow, g->k[2], g->stride[2], g->pad[2], IW, &w0, &w1, &pwn);
                    float *dst = op + (od * OH + oh) * OW + ow;
                    if (d0 >= d1 || h0 >= h1 || w0 >= w1) {
                        *dst = 0.0f;
                        continue;
                    }
                    float sum = 0.0f;
                    for (int64_t id = d0; id < d1; id++)
                        for (int64_t ih = h0; ih < h1; ih++)
                            for (int64_t iw = w0; iw < w1; iw++) sum += xp[(id * IH + ih) * IW + iw];
                    *dst = avg_divide(sum, pdn * phn * pwn, (d1 - d0) * (h1 - h0) * (w1 - w0), o);
                }
            }
        }
    }
}

/* 2-d: the kernel rows are first summed into a row buffer (contiguous, vectorised),
 * then each output sums its KW columns of that buffer. The row buffer lives on the
 * stack in chunks of ROWCHUNK columns. */
enum { ROWCHUNK = 1024 };
/* 2x2 windows at stride 2, all inside (LeNet's, DenseNet's transitions): the sums
 * of the general loop below, in its order ((0 + column 0) + column 1, each column
 * top + bottom), in a loop the compiler vectorises. */
static bool avg_pool_2x2(float *out, const float *x, const cnnc__window *g,
                         const cnnc__avg_opts *o, int64_t p0, int64_t p1) {
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
    if (g->k[1] != 2 || g->k[2] != 2 || g->stride[1] != 2 || g->stride[2] != 2 || g->pad[1] != 0 ||
        g->pad[2] != 0 || 2 * OH > IH || 2 * OW > IW)
        return false;
    const float div = avg_divisor(4, 4, o);
    for (int64_t p = p0; p < p1; p++)
        for (int64_t oh = 0; oh < OH; oh++) {
            const float *restrict r0 = x + (p * IH + 2 * oh) * IW, *restrict r1 = r0 + IW;
            float *restrict orow = out + (p * OH + oh) * OW;
            for (int64_t ow = 0; ow < OW; ow++)
                orow[ow] = ((0.0f + (r0[2 * ow] + r1[2 * ow])) + (r0[2 * ow + 1] + r1[2 * ow + 1])) / div;
        }
    return true;
}

bool cnnc__k_avg_pool2d_fast(float *out, const float *x, const cnnc__window *g,
                             const cnnc__avg_opts *o, int64_t p0, int64_t p1) {
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1) return false;
    if (avg_pool_2x2(out, x, g, o, p0, p1)) return true;
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
    const int64_t KW = g->k[2], SW = g->stride[2], PW = g->pad[2];
    if (KW > ROWCHUNK / 4) return false;
    float rows[ROWCHUNK];
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * IH * IW;
        float *op = out + p * OH * OW;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0, h1, phn;
            avg_range(oh, g->k[1], g->stride[1], g->pad[1], IH, &h0, &h1, &phn);
            float *orow = op + oh * OW;
            /* outputs in chunks whose input column span fits the buffer */
            int64_t ow = 0;
            while (ow < OW) {
                int64_t c0 = ow * SW - PW;
                if (c0 < 0) c0 = 0;
                int64_t per = (ROWCHUNK - KW) / SW;
                if (per < 1) per = 1;
                int64_t ow_end = ow + per < OW ? ow + per : OW;
                int64_t c1 = (ow_end - 1) * SW - PW + KW;
                if (c1 > IW) c1 = IW;
                int64_t ncol = c1 > c0 ? c1 - c0 : 0;
                if (h0 < h1 && ncol > 0) {
                    const float *r = xp + h0 * IW + c0;
                    for (int64_t c = 0; c < ncol; c++) rows[c] = r[c];
                    for (int64_t ih = h0 + 1; ih < h1; ih++) {
                        r = xp + ih * IW + c0;
                        for (int64_t c = 0; c < ncol; c++) rows[c] += r[c];
                    }
                }
                for (; ow < ow_end; ow++) {
                    int64_t w0, w1, pwn;
                    avg_range(ow, KW, SW, PW, IW, &w0, &w1, &pwn);
                    if (h0 >= h1 || w0 >= w1) {
                        orow[ow] = 0.0f;
                        continue;
                    }
                    float sum = 0.0f;
                    for (int64_t iw = w0; iw < w1; iw++) sum += rows[iw - c0];
                    orow[ow] = avg_divide(sum, phn * pwn, (h1 - h0) * (w1 - w0), o);
                }
            }
        }
    }
    return true;
}

void cnnc__k_avg_pool_backward_ref(float *gx, const float *gy, const cnnc__window *g,
                                   const cnnc__avg_opts *o, int64_t p0, int64_t p1) {
    const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int64_t OD = g->out[0], OH = g->out[1], OW = g->out[2];
    for (int64_t p = p0; p < p1; p++) {
        float *xp = gx + p * ID * IH * IW;
        const float *yp = gy + p * OD * OH * OW;
        memset(xp, 0, (size_t)(ID * IH * IW) * sizeof(float));
        for (int64_t od = 0; od < OD; od++) {
            int64_t d0, d1, pdn;
            avg_range(od, g->k[0], g->stride[0], g->pad[0], ID, &d0, &d1, &pdn);
            for (int64_t oh = 0; oh < OH; oh++) {
                int64_t h0, h1, phn;
                avg_range(oh, g->k[1], g->stride[1], g->pad[1], IH, &h0, &h1, &phn);
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t w0, w1, pwn;
                    avg_range(ow, g->k[2], g->stride[2], g->pad[2], IW, &w0, &w1, &pwn);
                    if (d0 >= d1 || h0 >= h1 || w0 >= w1) continue;
                    float v = avg_divide(yp[(od * OH + oh) * OW + ow], pdn * phn * pwn,
                                         (d1 - d0) * (h1 - h0) * (w1 - w0), o);
                    for (int64_t id = d0; id < d1; id++)
                        for (int64_t ih = h0; ih < h1; ih++) {
                            float *r = xp + (id * IH + ih) * IW;
                            for (int64_t iw = w0; iw < w1; iw++) r[iw] += v;
                        }
                }
            }
        }
    }
}

/* Input row r [IW] of an output row's windows (h0 <= r < h1, phn of them padded): each
 * window's columns 0 + gy[ow] / divisor (the reference's bits: its sum of one term),
 * the columns of no window 0. */
static void avg_back_row(float *restrict r, const float *restrict gyr, const cnnc__window *g,
                         const cnnc__avg_opts *o, int64_t h0, int64_t h1, int64_t phn) {
    const int64_t IW = g->in[2], OW = g->out[2], KW = g->k[2], SW = g->stride[2];
    if (KW == 2 && SW == 2 && g->pad[2] == 0 && 2 * OW <= IW) { /* 2x2 windows, all inside */
        const float div = avg_divisor(phn * 2, (h1 - h0) * 2, o);
        for (int64_t ow = 0; ow < OW; ow++) {
            const float v = 0.0f + gyr[ow] / div;
            r[2 * ow] = v;
            r[2 * ow + 1] = v;
        }
        for (int64_t iw = 2 * OW; iw < IW; iw++) r[iw] = 0.0f;
        return;
    }
    memset(r, 0, (size_t)IW * sizeof(float));
    for (int64_t ow = 0; ow < OW; ow++) {
        int64_t w0, w1, pwn;
        avg_range(ow, KW, SW, g->pad[2], IW, &w0, &w1, &pwn);
        if (w0 >= w1) continue;
        const float v = 0.0f + avg_divide(gyr[ow], phn * pwn, (h1 - h0) * (w1 - w0), o);
        for (int64_t iw = w0; iw < w1; iw++) r[iw] = v;
    }
}

/* Stride 1 (windows overlap): each input row gathers the shares of the windows over it,
 * in the reference's order (windows by output row, then column: for a column, the
 * taps q ascending read share row column iw + PW + q - (K - 1)), from K share rows
 * kept in a ring, each padded with K - 1 zeros either side (adding +0.0 changes no sum
 * that starts from +0.0, so the padding's terms keep the reference's bits). */
enum { AVG_BACK_MAXK = 8, AVG_BACK_ROW = 1024 + 2 * (AVG_BACK_MAXK - 1) };
static bool avg_back_stride1(float *gx, const float *gy, const cnnc__window *g,
                             const cnnc__avg_opts *o, int64_t p0, int64_t p1) {
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
    const int64_t KH = g->k[1], KW = g->k[2], PH = g->pad[1], PW = g->pad[2];
    const int64_t wide = OW + 2 * (KW - 1); /* a share row with its padding */
    if (KH > AVG_BACK_MAXK || KW > AVG_BACK_MAXK || wide > AVG_BACK_ROW) return false;
    float ring[AVG_BACK_MAXK][AVG_BACK_ROW];
    for (int64_t p = p0; p < p1; p++) {
        float *xp = gx + p * IH * IW;
        int64_t next = 0; /* the next share row to compute */
        for (int64_t ih = 0; ih < IH; ih++) {
            float *r = xp + ih * IW;
            memset(r, 0, (size_t)IW * sizeof(float));
            const int64_t lo = ih + PH - KH + 1 > 0 ? ih + PH - KH + 1 : 0;
            const int64_t hi = ih + PH + 1 < OH ? ih + PH + 1 : OH; /* rows over ih */
            for (; next < hi; next++) { /* share row `next` */
                float *sr = ring[next % KH];
                int64_t h0, h1, phn;
                avg_range(next, KH, 1, PH, IH, &h0, &h1, &phn);
                memset(sr, 0, (size_t)wide * sizeof(float));
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t w0, w1, pwn;
                    avg_range(ow, KW, 1, PW, IW, &w0, &w1, &pwn);
                    if (h0 < h1 && w0 < w1)
                        sr[KW - 1 + ow] = avg_divide(gy[(p * OH + next) * OW + ow], phn * pwn,
                                                     (h1 - h0) * (w1 - w0), o);
                }
            }
            for (int64_t oh = lo; oh < hi; oh++) {
                const float *sr = ring[oh % KH] + PW;
                for (int64_t q = 0; q < KW; q++)
                    for (int64_t iw = 0; iw < IW; iw++) r[iw] += sr[iw + q];
            }
        }
    }
    return true;
}

bool cnnc__k_avg_pool2d_backward_fast(float *gx, const float *gy, const cnnc__window *g,
                                      const cnnc__avg_opts *o, int64_t p0, int64_t p1) {
    if (g->in[0] != 1 || g->out[0] != 1 || g->k[0] != 1) return false;
    if (g->stride[1] == 1 && g->stride[2] == 1) return avg_back_stride1(gx, gy, g, o, p0, p1);
    if (g->stride[1] < g->k[1] || g->stride[2] < g->k[2]) return false;
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];
    for (int64_t p = p0; p < p1; p++) {
        float *xp = gx + p * IH * IW;
        int64_t done = 0; /* rows of xp written */
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0, h1, phn;
            avg_range(oh, g->k[1], g->stride[1], g->pad[1], IH, &h0, &h1, &phn);
            if (h0 >= h1) continue;
            memset(xp + done * IW, 0, (size_t)((h0 - done) * IW) * sizeof(float));
            avg_back_row(xp + h0 * IW, gy + (p * OH + oh) * OW, g, o, h0, h1, phn);
            for (int64_t ih = h0 + 1; ih < h1; ih++)
                memcpy(xp + ih * IW, xp + h0 * IW, (size_t)IW * sizeof(float));
            done = h1;
        }
        memset(xp + done * IW, 0, (size_t)((IH - done) * IW) * sizeof(float));
    }
    return true;
}

/* ---- adaptive pooling ---------------------------------------------------------- */

void cnnc__k_adaptive_avg_ref(float *out, const float *x, const cnnc__window *g, int64_t p0,
                              int64_t p1) {
    const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int64_t OD = g->out[0], OH = g->out[1], OW = g->out[2];
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * ID * IH * IW;
        float *op = out + p * OD * OH * OW;
        for (int64_t od = 0; od < OD; od++) {
            int64_t d0 = cnnc__adaptive_start(od, OD, ID), d1 = cnnc__adaptive_end(od, OD, ID);
            for (int64_t oh = 0; oh < OH; oh++) {
                int64_t h0 = cnnc__adaptive_start(oh, OH, IH), h1 = cnnc__adaptive_end(oh, OH, IH);
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t w0 = cnnc__adaptive_start(ow, OW, IW),
                            w1 = cnnc__adaptive_end(ow, OW, IW);
                    float sum = 0.0f;
                    for (int64_t id = d0; id < d1; id++)
                        for (int64_t ih = h0; ih < h1; ih++)
                            for (int64_t iw = w0; iw < w1; iw++) sum += xp[(id * IH + ih) * IW + iw];
                    op[(od * OH + oh) * OW + ow] = sum / (float)((d1 - d0) * (h1 - h0) * (w1 - w0));
                }
            }
        }
    }
}

/* cnnc__k_adaptive_avg_ref's loops and sums with each dim's window bounds read from
 * a table made once per call (the ref divides 6 times per output element). */
bool cnnc__k_adaptive_avg_tab(float *out, const float *x, const cnnc__window *g, int64_t p0,
                              int64_t p1) {
    enum { TAB = 256 };
    int32_t lo[3][TAB], hi[3][TAB];
    for (int d = 0; d < 3; d++) {
        if (g->out[d] > TAB || g->in[d] > INT32_MAX) return false;
        for (int64_t o = 0; o < g->out[d]; o++) {
            lo[d][o] = (int32_t)cnnc__adaptive_start(o, g->out[d], g->in[d]);
            hi[d][o] = (int32_t)cnnc__adaptive_end(o, g->out[d], g->in[d]);
        }
    }
    const int64_t IH = g->in[1], IW = g->in[2], OD = g->out[0], OH = g->out[1], OW = g->out[2];
    const int64_t isz = g->in[0] * IH * IW;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * isz;
        float *op = out + p * OD * OH * OW;
        for (int64_t od = 0; od < OD; od++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    const int64_t d0 = lo[0][od], d1 = hi[0][od], h0 = lo[1][oh], h1 = hi[1][oh];
                    const int64_t w0 = lo[2][ow], w1 = hi[2][ow];
                    float sum = 0.0f;
                    for (int64_t id = d0; id < d1; id++)
                        for (int64_t ih = h0; ih < h1; ih++)
                            for (int64_t iw = w0; iw < w1; iw++) sum += xp[(id * IH + ih) * IW + iw];
                    op[(od * OH + oh) * OW + ow] = sum / (float)((d1 - d0) * (h1 - h0) * (w1 - w0));
                }
    }
    return true;
}

/* Global average: eight independent partial sums (vectorisable), combined in a
 * fixed order. */
bool cnnc__k_adaptive_avg_global(float *out, const float *x, const cnnc__window *g,
                                 int64_t p0, int64_t p1) {
    if (g->out[0] != 1 || g->out[1] != 1 || g->out[2] != 1) return false;
    const int64_t n = cnnc__window_in_size(g);
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * n;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; j++) acc[j] += xp[i + j];
        float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; i < n; i++) sum += xp[i];
        out[p] = sum / (float)n;
    }
    return true;
}

void cnnc__k_adaptive_avg_backward_ref(float *gx, const float *gy, const cnnc__window *g,
                                       int64_t p0, int64_t p1) {
    const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int64_t OD = g->out[0], OH = g->out[1], OW = g->out[2];
    for (int64_t p = p0; p < p1; p++) {
        float *xp = gx + p * ID * IH * IW;
        const float *yp = gy + p * OD * OH * OW;
        if (OD * OH * OW == 1) { /* global: one value for the whole plane */
            float v = yp[0] / (float)(ID * IH * IW);
            for (int64_t i = 0; i < ID * IH * IW; i++) xp[i] = v;
            continue;
        }
        memset(xp, 0, (size_t)(ID * IH * IW) * sizeof(float));
        for (int64_t od = 0; od < OD; od++) {
            int64_t d0 = cnnc__adaptive_start(od, OD, ID), d1 = cnnc__adaptive_end(od, OD, ID);
            for (int64_t oh = 0; oh < OH; oh++) {
                int64_t h0 = cnnc__adaptive_start(oh, OH, IH), h1 = cnnc__adaptive_end(oh, OH, IH);
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t w0 = cnnc__adaptive_start(ow, OW, IW),
                            w1 = cnnc__adaptive_end(ow, OW, IW);
                    float v = yp[(od * OH + oh) * OW + ow] /
                              (float)((d1 - d0) * (h1 - h0) * (w1 - w0));
                    for (int64_t id = d0; id < d1; id++)
                        for (int64_t ih = h0; ih < h1; ih++) {
                            float *r = xp + (id * IH + ih) * IW;
                            for (int64_t iw = w0; iw < w1; iw++) r[iw] += v;
                        }
                }
            }
        }
    }
}

void cnnc__k_adaptive_max_ref(float *out, int64_t *idx, const float *x, const cnnc__window *g,
                              int64_t p0, int64_t p1) {
    const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2];
    const int64_t OD = g->out[0], OH = g->out[1], OW = g->out[2];
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * ID * IH * IW;
        float *op = out + p * OD * OH * OW;
        int64_t *ip = idx ? idx + p * OD * OH * OW : NULL;
        for (int64_t od = 0; od < OD; od++) {
            int64_t d0 = cnnc__adaptive_start(od, OD, ID), d1 = cnnc__adaptive_end(od, OD, ID);
            for (int64_t oh = 0; oh < OH; oh++) {
                int64_t h0 = cnnc__adaptive_start(oh, OH, IH), h1 = cnnc__adaptive_end(oh, OH, IH);
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t w0 = cnnc__adaptive_start(ow, OW, IW),
                            w1 = cnnc__adaptive_end(ow, OW, IW);
                    int64_t mi = (d0 * IH + h0) * IW + w0;
                    float m = -INFINITY;
                    for (int64_t id = d0; id < d1; id++)
                        for (int64_t ih = h0; ih < h1; ih++)
                            for (int64_t iw = w0; iw < w1; iw++) {
                                int64_t pos = (id * IH + ih) * IW + iw;
                                float v = xp[pos];
                                if (v > m || isnan(v)) {
                                    m = v;
                                    mi = pos;
                                }
                            }
                    int64_t o = (od * OH + oh) * OW + ow;
                    op[o] = m;
                    if (ip) ip[o] = mi;
                }
            }
        }
    }
}

/* ---- max unpooling ------------------------------------------------------------- */

int64_t cnnc__k_max_unpool(float *out, const float *x, const int64_t *idx, int64_t isize,
                           int64_t osize, int64_t p0, int64_t p1) {
    int64_t bad = -1;
    for (int64_t p = p0; p < p1; p++) {
        float *op = out + p * osize;
        const float *xp = x + p * isize;
        const int64_t *ip = idx + p * isize;
        memset(op, 0, (size_t)osize * sizeof(float));
        for (int64_t i = 0; i < isize; i++) {
            int64_t j = ip[i];
            if (j < 0 || j >= osize) {
                bad = p * isize + i;
                continue;
            }
            op[j] = xp[i];
        }
    }
    return bad;
}

void cnnc__k_index_gather(float *gx, const float *gy, const int64_t *idx, int64_t isize,
                          int64_t osize, int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
        float *gp = gx + p * isize;
        const float *yp = gy + p * osize;
        const int64_t *ip = idx + p * isize;
        for (int64_t i = 0; i < isize; i++) {
            int64_t j = ip[i];
            gp[i] = (j >= 0 && j < osize) ? yp[j] : 0.0f;
        }
    }
}
