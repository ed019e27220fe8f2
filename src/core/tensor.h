/* Internal: the tensor and storage structs, and constructors that do not register
 * their result in the caller's scope (library code uses these; the public
 * functions hand results to the caller through cnnc__give). */
#ifndef CNNC_CORE_TENSOR_H
#define CNNC_CORE_TENSOR_H
#include <stdatomic.h>
#include <stdint.h>

#include "cnnc.h"

struct cnnc__node;
struct cnnc__grad_hook;

typedef struct cnnc__storage {
    atomic_int refcount;
    atomic_uint_fast64_t version; /* bumped by every in-place change */
    uint64_t id;                  /* unique over the process's storages (from 1) */
    atomic_bool exposed;          /* a writable pointer to data was handed out (sticky):
                                     writes through it bump nothing, so the version no
                                     longer vouches for the data */
    void *raw;                    /* allocation base (core/alloc.h: a block) */
    size_t cap;                   /* bytes of the block */
    void *data;                   /* 64-byte aligned */
    size_t nbytes;
} cnnc__storage;

enum { CNNC__TENSOR_MAGIC = 0x74656e73 }; /* "tens" */

struct cnnc_tensor {
    uint32_t magic; /* CNNC__TENSOR_MAGIC while alive: catches a release too many */
    atomic_int refcount;
    cnnc_dtype dtype;
    int ndim;
    int64_t shape[CNNC_MAX_DIMS];
    int64_t numel;
    cnnc__storage *storage;
    bool requires_grad;        /* leaf: set by the user; non-leaf: grad_fn != NULL */
    bool is_view;              /* shares storage with a base that is part of a graph */
    cnnc_tensor *view_base;    /* owned: the root tensor of that storage, when is_view */
    cnnc_tensor *grad;         /* leaf gradient, or NULL */
    struct cnnc__node *grad_fn;/* the node that produced it (owned reference), or NULL */
    struct cnnc__grad_hook *grad_hook; /* leaf: called when backward is done with its .grad
                                          (autograd.h); not owned */
};

size_t cnnc__dtype_size(cnnc_dtype dtype);

/* Checks ndim and sizes (>= 0, numel and bytes representable), naming `fn` in the
 * message; writes numel. */
cnnc_status cnnc__check_shape(const char *fn, int ndim, const int64_t *shape, cnnc_dtype dtype,
                              int64_t *numel);
/* New uninitialised tensor (shape already checked or checked here). */
cnnc_tensor *cnnc__tensor_new(cnnc_dtype dtype, int ndim, const int64_t *shape);
cnnc_tensor *cnnc__tensor_zeros(cnnc_dtype dtype, int ndim, const int64_t *shape);
/* New tensor struct over t's storage with another shape of equal numel, outside the graph. */
cnnc_tensor *cnnc__tensor_alias(cnnc_tensor *t, int ndim, const int64_t *shape);
/* Deep copy of the values, outside the graph. */
cnnc_tensor *cnnc__tensor_copy(const cnnc_tensor *t);
static inline float *cnnc__f32(const cnnc_tensor *t) { return (float *)t->storage->data; }
static inline int64_t *cnnc__i64(const cnnc_tensor *t) { return (int64_t *)t->storage->data; }
static inline bool cnnc__same_shape(const cnnc_tensor *a, const cnnc_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}
void cnnc__bump_version(cnnc_tensor *t);

/* "[1, 3, 14, 14]" into buf (always terminated). */
void cnnc__shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);
/* Normalises a possibly negative dim against ndim (PyTorch's wrap rule: a 0-d tensor
 * accepts -1 and 0). Sets PyTorch's "Dimension out of range" error on failure. */
cnnc_status cnnc__wrap_dim(int dim, int ndim, int *out);

/* For getters: true (and the error set, naming fn) when t is NULL. */
bool cnnc__null_tensor(const char *fn, const cnnc_tensor *t);

/* Hands a new reference to the caller: registers it in the innermost open scope.
 * Passes NULL through; on failure releases t and returns NULL. */
cnnc_tensor *cnnc__give(cnnc_tensor *t);

/* Checks a public tensor argument: not NULL, and float32 when need_float. */
cnnc_status cnnc__check_tensor(const char *fn, const char *arg, const cnnc_tensor *t,
                               bool need_float);
#endif
