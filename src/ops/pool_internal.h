/* Internal to the pool op family: pool.c (max and average pooling), pool_adaptive.c
 * and pool_unpool.c share these rules and drivers.
 *
 * 1-d ops are PyTorch's 2-d ops on the input with a unit dim inserted before the
 * last one, so their messages show that shape, as PyTorch's do; the result drops
 * the unit dim again. Compute is split over the N*C planes. */
#ifndef CNNC_OPS_POOL_INTERNAL_H
#define CNNC_OPS_POOL_INTERNAL_H
#include <stdatomic.h>

#include "core/args.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/pool.h"
#include "ops/pool.h"

#define POOL_ERR(...) cnnc__error(CNNC_ERR_INVALID_ARGUMENT, __VA_ARGS__)
#define POOL_ERR_NULL(...) cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, __VA_ARGS__)
#define LL(x) ((long long)(x))

/* "one", "two", "three": PyTorch's words in "a tuple of two ints". */
extern const char *const cnnc__pool_tuple_word[4];

/* The work of one parallel loop over planes. */
typedef struct cnnc__pool_job {
    float *out;
    int64_t *idx;
    const float *x;
    const float *gy;
    const cnnc__window *g;
    const cnnc__avg_opts *avg;
    int64_t isize, osize;
    cnnc__isa isa; /* the kernels' level for the whole call */
    _Atomic int64_t bad; /* unpool: last invalid position, or -1 */
} cnnc__pool_job;

/* The cost of one plane of plane_elems elements for the parallel driver: memory
 * bound, about 8 bytes moved per element. */
cnnc__cost cnnc__pool_cost(int64_t plane_elems);
/* x's shape with a unit dim inserted before the last (1-d ops); returns the rank. */
int cnnc__pool_unsqueeze(const cnnc_tensor *x, int64_t *shape);
/* Product of the dims before the nsp spatial ones. */
int64_t cnnc__pool_planes(int ndim, const int64_t *shape, int nsp);
/* The window over the last nsp dims of a shape (sizes only: adaptive pooling). */
void cnnc__pool_sizes_window(cnnc__window *g, int ndim, const int64_t *shape, int nsp,
                             const int64_t *out);

/* PyTorch's checkDimRange(fn, self, 2, 4): a 1-d op's input is 2-d or 3-d. */
cnnc_status cnnc__pool_check_rank_1d(const char *fn, const cnnc_tensor *x);
/* PyTorch's check1d(fn, arg, v) on an int[1] argument: exactly one value. */
cnnc_status cnnc__pool_check1d(const char *fn, const char *arg, const cnnc_ints *v);
/* PyTorch's safe_downcast<int>: every value fits an int. */
cnnc_status cnnc__pool_check_int_range(int n, const int64_t *v);

/* Max pooling and adaptive max pooling: runs `fn` over the planes of g, with the
 * argmax saved for the backward (and given to *indices when want_idx). out_shape:
 * the result's shape. */
cnnc_tensor *cnnc__pool_finish_argmax(cnnc_tensor *x, const cnnc__window *g, int out_ndim,
                                      const int64_t *out_shape, bool want_idx,
                                      cnnc_tensor **indices, cnnc__range_fn fn,
                                      const char *node_name);
#endif
