/* Padding kernels (see pad.h). */
#include "kernels/pad.h"

#include <string.h>

int64_t cnnc__pad_rows(const cnnc__pad_geom *g) {
    int64_t rows = g->outer;
    for (int i = 0; i + 1 < g->k; i++) rows *= g->out[i];
    return rows;
}

static int64_t prod(const int64_t *v, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= v[i];
    return p;
}

void cnnc__k_pad_ref(float *out, const float *in, const cnnc__pad_geom *g, float value) {
    int k = g->k;
    int64_t on = prod(g->out, k), inn = prod(g->in, k);
    int64_t idx[CNNC__PAD_MAX_DIMS];
    for (int64_t p = 0; p < g->outer; p++) {
        for (int64_t e = 0; e < on; e++) {
            int64_t r = e;
            for (int i = k - 1; i >= 0; i--) {
                idx[i] = r % g->out[i];
                r /= g->out[i];
            }
            int64_t src = 0;
            bool fill = false;
            for (int i = 0; i < k; i++) {
                int64_t s = g->map[i][idx[i]];
                if (s < 0) fill = true;
                src = src * g->in[i] + (s < 0 ? 0 : s);
            }
            out[p * on + e] = fill ? value : in[p * inn + src];
        }
    }
}

/* The input row (offset in elements) output row r reads, or -1 for a filled row;
 * *outer_idx is r's outer index. */
static int64_t source_row(const cnnc__pad_geom *g, int64_t r) {
    int k = g->k;
    int64_t src = 0, mul = 1;
    for (int i = k - 2; i >= 0; i--) {
        int64_t o = r % g->out[i];
        r /= g->out[i];
        int64_t s = g->map[i][o];
        if (s < 0) return -1;
        src += s * mul;
        mul *= g->in[i];
    }
    return (r * mul + src) * g->in[k - 1]; /* r is now the outer index */
}

void cnnc__k_pad_rows(float *out, const float *in, const cnnc__pad_geom *g, float value,
                      int64_t row_begin, int64_t row_end) {
    int k = g->k;
    int64_t ow = g->out[k - 1];
    const int64_t *m = g->map[k - 1];
    int64_t mb = g->mid_b, me = g->mid_e, shift = g->shift;
    for (int64_t r = row_begin; r < row_end; r++) {
        float *o = out + r * ow;
        int64_t s = source_row(g, r);
        if (s < 0) {
            for (int64_t j = 0; j < ow; j++) o[j] = value;
            continue;
        }
        const float *row = in + s;
        for (int64_t j = 0; j < mb; j++) o[j] = m[j] < 0 ? value : row[m[j]];
        if (me > mb) memcpy(o + mb, row + (mb - shift), (size_t)(me - mb) * sizeof(float));
        for (int64_t j = me > mb ? me : mb; j < ow; j++) o[j] = m[j] < 0 ? value : row[m[j]];
    }
}

void cnnc__k_pad_backward_ref(float *grad_in, const float *grad_out, const cnnc__pad_geom *g) {
    int k = g->k;
    int64_t on = prod(g->out, k), inn = prod(g->in, k);
    memset(grad_in, 0, (size_t)(g->outer * inn) * sizeof(float));
    int64_t idx[CNNC__PAD_MAX_DIMS];
    for (int64_t p = 0; p < g->outer; p++) {
        for (int64_t e = 0; e < on; e++) {
            int64_t r = e;
            for (int i = k - 1; i >= 0; i--) {
                idx[i] = r % g->out[i];
                r /= g->out[i];
            }
            int64_t src = 0;
            bool fill = false;
            for (int i = 0; i < k; i++) {
                int64_t s = g->map[i][idx[i]];
                if (s < 0) fill = true;
                src = src * g->in[i] + (s < 0 ? 0 : s);
            }
            if (!fill) grad_in[p * inn + src] += grad_out[p * on + e];
        }
    }
}

void cnnc__k_pad_backward_outer(float *grad_in, const float *grad_out, const cnnc__pad_geom *g,
                                int64_t begin, int64_t end) {
    int k = g->k;
    int64_t on = prod(g->out, k), inn = prod(g->in, k);
    int64_t rows_per = on / (g->out[k - 1] ? g->out[k - 1] : 1);
    int64_t ow = g->out[k - 1];
    const int64_t *m = g->map[k - 1];
    int64_t mb = g->mid_b, me = g->mid_e, shift = g->shift;
    if (end > begin) memset(grad_in + begin * inn, 0, (size_t)((end - begin) * inn) * sizeof(float));
    if (ow == 0) return;
    for (int64_t p = begin; p < end; p++) {
        for (int64_t rr = 0; rr < rows_per; rr++) {
            int64_t r = p * rows_per + rr;
            int64_t s = source_row(g, r);
            if (s < 0) continue;
            float *gi = grad_in + s;
            const float *go = grad_out + r * ow;
            for (int64_t j = 0; j < mb; j++)
                if (m[j] >= 0) gi[m[j]] += go[j];
            for (int64_t j = mb; j < me; j++) gi[j - shift] += go[j];
            for (int64_t j = me > mb ? me : mb; j < ow; j++)
                if (m[j] >= 0) gi[m[j]] += go[j];
        }
    }
}
