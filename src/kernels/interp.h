/* Internal kernels: separable interpolation (nearest, linear, cubic and the
 * antialiased filters all reduce to per-dim index/weight tables), forward and
 * backward. Raw pointers and dims; no allocation (scratch is passed in); range
 * forms let the layer above split the work over threads. */
#ifndef CNNC_KERNELS_INTERP_H
#define CNNC_KERNELS_INTERP_H
#include <stdbool.h>
#include <stdint.h>

/* One resampled dim: out[o] = sum over t < n(o) of w[o * taps + t] * in[idx[o * taps + t]],
 * every idx in [0, in); n(o) = count[o] when count is set (antialias filters cut at the
 * input's edges: the taps past count[o] are not read at all, so an Inf or NaN under
 * them does not leak in as Inf * 0), else taps. */
typedef struct cnnc__interp_dim {
    int64_t in, out;
    int taps;
    const int64_t *idx;   /* [out * taps] */
    const float *w;       /* [out * taps] */
    const int32_t *count; /* [out] or NULL */
} cnnc__interp_dim;

/* n(o) above. */
static inline int cnnc__interp_taps(const cnnc__interp_dim *d, int64_t o) {
    return d->count ? d->count[o] : d->taps;
}

/* planes = N * C independent [d0, ..., d_{nd-1}] blocks; dim nd-1 is contiguous.
 * nearest: taps 1 everywhere and weights 1 (the forward is a plain gather). */
typedef struct cnnc__interp_geom {
    int nd; /* 1..3 */
    int64_t planes;
    cnnc__interp_dim d[3];
    bool nearest;
} cnnc__interp_geom;

/* Output rows: planes * out[0] * ... * out[nd-2]. */
int64_t cnnc__interp_rows(const cnnc__interp_geom *g);

/* The whole output, one element at a time from the tables: the reference. */
void cnnc__k_interp_ref(float *out, const float *in, const cnnc__interp_geom *g);
/* Output rows [begin, end): each source row is first resampled along the last dim
 * (cached, so output rows that share source rows reuse it), then the rows are
 * blended. scratch: cnnc__interp_scratch_floats(g) floats. */
int64_t cnnc__interp_scratch_floats(const cnnc__interp_geom *g);
void cnnc__k_interp_rows(float *out, const float *in, const cnnc__interp_geom *g, float *scratch,
                         int64_t begin, int64_t end);

/* grad_in (zeroed here) = the transpose of the forward applied to grad_out: the
 * reference, whole tensor. */
void cnnc__k_interp_backward_ref(float *grad_in, const float *grad_out, const cnnc__interp_geom *g);
/* Planes [begin, end): rows of grad_out are first accumulated into per-source-row
 * sums (vectorisable), then scattered along the last dim. scratch:
 * cnnc__interp_backward_scratch_floats(g) floats. */
int64_t cnnc__interp_backward_scratch_floats(const cnnc__interp_geom *g);
void cnnc__k_interp_backward_planes(float *grad_in, const float *grad_out,
                                    const cnnc__interp_geom *g, float *scratch, int64_t begin,
                                    int64_t end);
#endif
