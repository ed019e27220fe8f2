/* Internal: the functional ops as library code calls them. They validate their
 * arguments, record autograd nodes, and return new references that are NOT
 * registered in a scope; the public cnnc_<op> functions wrap them with
 * cnnc__give. Library code calls these, never the public wrappers. */
#ifndef CNNC_OPS_OPS_H
#define CNNC_OPS_OPS_H
#include "core/autograd.h"
#include "kernels/elementwise.h"

/* arith.c */
cnnc_tensor *cnnc__op_binary(cnnc__binop op, cnnc_tensor *a, cnnc_tensor *b);
cnnc_tensor *cnnc__op_add(cnnc_tensor *a, cnnc_tensor *b);
cnnc_tensor *cnnc__op_affine(cnnc_tensor *a, double alpha, double beta);
/* PyTorch's broadcast of two shapes, with its error message. */
cnnc_status cnnc__broadcast_shape(int na, const int64_t *sa, int nb, const int64_t *sb,
                                  int *nout, int64_t *out);
/* a broadcast to shape (not differentiable) */
cnnc_tensor *cnnc__expand(cnnc_tensor *a, int ndim, const int64_t *shape);

/* reduce.c */
cnnc_tensor *cnnc__op_sum_dims(cnnc_tensor *a, int ndims, const int *dims, bool keepdim);
cnnc_tensor *cnnc__op_mean_dims(cnnc_tensor *a, int ndims, const int *dims, bool keepdim);
/* g summed down to shape (the gradient of a broadcast); not differentiable. */
cnnc_tensor *cnnc__sum_to(cnnc_tensor *g, int ndim, const int64_t *shape);

/* shape.c */
cnnc_tensor *cnnc__op_reshape(cnnc_tensor *a, int ndim, const int64_t *shape);
cnnc_tensor *cnnc__op_flatten(cnnc_tensor *a, int start_dim, int end_dim);
cnnc_tensor *cnnc__op_permute(cnnc_tensor *a, int ndim, const int *dims);
cnnc_tensor *cnnc__op_transpose(cnnc_tensor *a, int dim0, int dim1);
cnnc_tensor *cnnc__op_cat(int n, cnnc_tensor *const *ts, int dim);
/* Records an in-place op on `t` (t was modified in place): the new node's single
 * input edge is t's previous history; on a view, the op is recorded on its base and
 * the view's history re-derived from it. Same saved/ctx rules as cnnc__record. */
cnnc_status cnnc__record_inplace(cnnc_tensor *t, const char *name, cnnc__backward_fn backward,
                                 int n_saved, cnnc_tensor *const *saved, size_t ctx_bytes,
                                 void **ctx);

/* slice.c: narrow, and chunk / split writing up to max_out results (their count,
 * or -1) */
cnnc_tensor *cnnc__op_narrow(cnnc_tensor *x, int dim, int64_t start, int64_t length);
int cnnc__op_chunk(cnnc_tensor *x, int chunks, int dim, int max_out, cnnc_tensor **out);
int cnnc__op_split(cnnc_tensor *x, int n_sizes, const int64_t *sizes, int dim, int max_out,
                   cnnc_tensor **out);

/* linalg.c */
cnnc_tensor *cnnc__op_matmul(cnnc_tensor *a, cnnc_tensor *b);
cnnc_tensor *cnnc__op_linear(cnnc_tensor *x, cnnc_tensor *w, cnnc_tensor *b);

/* activation.c */
cnnc_tensor *cnnc__op_relu(cnnc_tensor *x);
cnnc_status cnnc__op_relu_(cnnc_tensor *x);

/* arith.c: out (contiguous, shape it->shape) = a read with it->stride[0] */
cnnc_status cnnc__copy_strided(cnnc_tensor *out, const cnnc_tensor *a, const cnnc__bcast *it);
#endif
