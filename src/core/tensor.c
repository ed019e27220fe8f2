/* Tensors: creation, reference counting, accessors and in-place fills. */
#include "core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"

static const char *const dtype_names[] = {[CNNC_FLOAT32] = "float32", [CNNC_INT64] = "int64"};
_Static_assert(sizeof(dtype_names) / sizeof(dtype_names[0]) == CNNC_DTYPE_COUNT,
               "one name per dtype");

const char *cnnc_dtype_name(cnnc_dtype dtype) {
    return (unsigned)dtype < CNNC_DTYPE_COUNT ? dtype_names[dtype] : "unknown";
}

size_t cnnc__dtype_size(cnnc_dtype dtype) { return dtype == CNNC_INT64 ? 8 : 4; }

void cnnc__shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t len = 0;
    len += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

cnnc_status cnnc__wrap_dim(int dim, int ndim, int *out) {
    int n = ndim > 0 ? ndim : 1;
    if (dim < -n || dim >= n)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Dimension out of range (expected to be in range of [%d, %d], but got %d)",
                           -n, n - 1, dim);
    *out = dim < 0 ? dim + n : dim;
    return CNNC_OK;
}

cnnc_status cnnc__check_tensor(const char *fn, const char *arg, const cnnc_tensor *t,
                               bool need_float) {
    if (!t) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument '%s' is NULL", fn, arg);
    if (need_float && t->dtype != CNNC_FLOAT32)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): expected argument '%s' to have dtype float32, but got %s", fn,
                           arg, cnnc_dtype_name(t->dtype));
    return CNNC_OK;
}

cnnc_status cnnc__check_shape(const char *fn, int ndim, const int64_t *shape, cnnc_dtype dtype,
                              int64_t *numel) {
    if ((unsigned)dtype >= CNNC_DTYPE_COUNT)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): unknown dtype %d", fn, (int)dtype);
    if (ndim < 0 || ndim > CNNC_MAX_DIMS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): number of dimensions must be in [0, %d], got %d", fn,
                           CNNC_MAX_DIMS, ndim);
    if (ndim > 0 && !shape)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'shape' is NULL", fn);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            char s[256];
            cnnc__shape_str(s, sizeof s, ndim, shape);
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "Trying to create tensor with negative dimension %lld: %s",
                               (long long)shape[i], s);
        }
    }
    for (int i = 0; i < ndim; i++) {
        if (!cnnc__mul_i64(n, shape[i], &n)) {
            /* only an overflow if no later dim is 0 */
            bool has_zero = false;
            for (int j = 0; j < ndim; j++) has_zero |= shape[j] == 0;
            if (has_zero) { n = 0; break; }
            return cnnc__error(CNNC_ERR_OUT_OF_MEMORY, "%s(): the number of elements overflows",
                               fn);
        }
    }
    if ((uint64_t)n > (uint64_t)(PTRDIFF_MAX - 64) / cnnc__dtype_size(dtype))
        return cnnc__error(CNNC_ERR_OUT_OF_MEMORY,
                           "%s(): a tensor of %lld elements does not fit in memory", fn,
                           (long long)n);
    *numel = n;
    return CNNC_OK;
}

cnnc_tensor *cnnc__tensor_new(cnnc_dtype dtype, int ndim, const int64_t *shape) {
    int64_t numel;
    if (cnnc__check_shape("empty", ndim, shape, dtype, &numel) != CNNC_OK) return NULL;
    size_t nbytes = (size_t)numel * cnnc__dtype_size(dtype);
    cnnc_tensor *t = cnnc__malloc(sizeof *t);
    cnnc__storage *s = cnnc__malloc(sizeof *s);
    size_t cap = 0;
    void *raw = cnnc__block_alloc(nbytes + 64, &cap);
    if (!t || !s || !raw) {
        cnnc__free(t);
        cnnc__free(s);
        cnnc__block_free(raw, cap);
        char buf[256];
        cnnc__shape_str(buf, sizeof buf, ndim, shape);
        return cnnc__error_null(CNNC_ERR_OUT_OF_MEMORY,
                                "out of memory allocating a %s tensor of shape %s (%zu bytes)",
                                cnnc_dtype_name(dtype), buf, nbytes);
    }
    atomic_init(&s->refcount, 1);
    atomic_init(&s->version, 0);
    static atomic_uint_fast64_t last_id = 0;
    s->id = atomic_fetch_add_explicit(&last_id, 1, memory_order_relaxed) + 1;
    atomic_init(&s->exposed, false);
    s->raw = raw;
    s->cap = cap;
    s->data = (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    s->nbytes = nbytes;
    memset(t, 0, sizeof *t);
    t->magic = CNNC__TENSOR_MAGIC;
    atomic_init(&t->refcount, 1);
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof(int64_t));
    t->numel = numel;
    t->storage = s;
    return t;
}

cnnc_tensor *cnnc__tensor_zeros(cnnc_dtype dtype, int ndim, const int64_t *shape) {
    cnnc_tensor *t = cnnc__tensor_new(dtype, ndim, shape);
    if (t) memset(t->storage->data, 0, t->storage->nbytes);
    return t;
}

cnnc_tensor *cnnc__tensor_alias(cnnc_tensor *t, int ndim, const int64_t *shape) {
    cnnc_tensor *a = cnnc__malloc(sizeof *a);
    if (!a) return (cnnc__oom("a tensor view"), NULL);
    memset(a, 0, sizeof *a);
    a->magic = CNNC__TENSOR_MAGIC;
    atomic_init(&a->refcount, 1);
    a->dtype = t->dtype;
    a->ndim = ndim;
    if (ndim) memcpy(a->shape, shape, (size_t)ndim * sizeof(int64_t));
    a->numel = t->numel;
    a->storage = t->storage;
    atomic_fetch_add(&t->storage->refcount, 1);
    return a;
}

typedef struct copy_job {
    unsigned char *dst;
    const unsigned char *src;
} copy_job;

/* bytes [begin, end) of the copy */
static cnnc_status copy_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const copy_job *j = ctx;
    memcpy(j->dst + begin, j->src + begin, (size_t)(end - begin));
    return CNNC_OK;
}

cnnc_tensor *cnnc__tensor_copy(const cnnc_tensor *t) {
    cnnc_tensor *c = cnnc__tensor_new(t->dtype, t->ndim, t->shape);
    if (!c || !c->storage->nbytes) return c;
    /* over the threads (a byte: one read, one write): a leaf's first gradient is a
     * copy of a tensor the caller still holds (the upstream gradient of a broadcast
     * add), as large as the activations */
    copy_job j = {c->storage->data, t->storage->data};
    if (cnnc__parallel_for((int64_t)c->storage->nbytes, (cnnc__cost){.bytes = 2.0}, copy_range, &j) !=
        CNNC_OK) {
        cnnc_tensor_release(c);
        return NULL;
    }
    return c;
}

void cnnc__bump_version(cnnc_tensor *t) { atomic_fetch_add(&t->storage->version, 1); }

/* A release too many (or a retain after the last release) is a bug in the caller that
 * would corrupt memory: stop with a clear message while the freed tensor's magic still
 * tells, in every build (as modules do; ASan builds catch every case, including a block
 * the allocator has handed out again). */
static void check_alive(const cnnc_tensor *t, const char *fn) {
    if (t->magic == CNNC__TENSOR_MAGIC) return;
    fprintf(stderr, "cnnc: %s(%p): not a live tensor (released more often than retained?)\n",
            fn, (const void *)t);
    abort();
}

cnnc_tensor *cnnc_tensor_retain(cnnc_tensor *t) {
    if (!t) return NULL;
    check_alive(t, "cnnc_tensor_retain");
    atomic_fetch_add(&t->refcount, 1);
    return t;
}

void cnnc_tensor_release(cnnc_tensor *t) {
    if (!t) return;
    check_alive(t, "cnnc_tensor_release");
    if (atomic_fetch_sub(&t->refcount, 1) != 1) return;
    cnnc__storage *s = t->storage;
    if (atomic_fetch_sub(&s->refcount, 1) == 1) {
        cnnc__block_free(s->raw, s->cap);
        cnnc__free(s);
    }
    cnnc_tensor *grad = t->grad, *base = t->view_base;
    struct cnnc__node *fn = t->grad_fn;
    t->magic = 0;
    cnnc__free(t);
    cnnc_tensor_release(grad);
    cnnc_tensor_release(base);
    cnnc__node_release(fn);
}

/* ---- creation (public) --------------------------------------------------- */

cnnc_tensor *cnnc_empty(int ndim, const int64_t *shape, cnnc_dtype dtype) {
    return cnnc__give(cnnc__tensor_new(dtype, ndim, shape));
}

cnnc_tensor *cnnc_zeros(int ndim, const int64_t *shape, cnnc_dtype dtype) {
    return cnnc__give(cnnc__tensor_zeros(dtype, ndim, shape));
}

static void fill_values(cnnc_tensor *t, double value) {
    if (t->dtype == CNNC_FLOAT32) {
        float v = (float)value, *p = cnnc__f32(t);
        for (int64_t i = 0; i < t->numel; i++) p[i] = v;
    } else {
        int64_t v = (int64_t)value, *p = cnnc__i64(t);
        for (int64_t i = 0; i < t->numel; i++) p[i] = v;
    }
}

static cnnc_status check_int_value(const char *fn, double value) {
    if (isnan(value) || value < -0x1p63 || value >= 0x1p63 || value != floor(value))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): value %g cannot be converted to type int64 without overflow", fn,
                           value);
    return CNNC_OK;
}

cnnc_tensor *cnnc_full(int ndim, const int64_t *shape, double value, cnnc_dtype dtype) {
    if (dtype == CNNC_INT64 && check_int_value("full", value) != CNNC_OK) return NULL;
    cnnc_tensor *t = cnnc__tensor_new(dtype, ndim, shape);
    if (t) fill_values(t, value);
    return cnnc__give(t);
}

cnnc_tensor *cnnc_ones(int ndim, const int64_t *shape, cnnc_dtype dtype) {
    return cnnc_full(ndim, shape, 1.0, dtype);
}

cnnc_tensor *cnnc_from_data(int ndim, const int64_t *shape, cnnc_dtype dtype, const void *data) {
    cnnc_tensor *t = cnnc__tensor_new(dtype, ndim, shape);
    if (!t) return NULL;
    if (t->numel > 0 && !data) {
        cnnc_tensor_release(t);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "from_data(): argument 'data' is NULL");
    }
    if (t->numel > 0) memcpy(t->storage->data, data, t->storage->nbytes);
    return cnnc__give(t);
}

cnnc_tensor *cnnc_rand(int ndim, const int64_t *shape) {
    cnnc_tensor *t = cnnc__tensor_new(CNNC_FLOAT32, ndim, shape);
    if (t) cnnc__rng_uniform(cnnc__f32(t), t->numel, 0.0, 1.0);
    return cnnc__give(t);
}

cnnc_tensor *cnnc_randn(int ndim, const int64_t *shape) {
    cnnc_tensor *t = cnnc__tensor_new(CNNC_FLOAT32, ndim, shape);
    if (t) cnnc__rng_normal(cnnc__f32(t), t->numel, 0.0, 1.0);
    return cnnc__give(t);
}

cnnc_tensor *cnnc_arange(double start, double end, double step, cnnc_dtype dtype) {
    if (!isfinite(start) || !isfinite(end))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "unsupported range: %g -> %g", start, end);
    if (step == 0 || isnan(step))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "step must be nonzero");
    if ((step > 0 && start > end) || (step < 0 && start < end))
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "upper bound and larger bound inconsistent with step sign");
    double n = ceil((end - start) / step);
    if (!(n < 0x1p62))
        return cnnc__error_null(CNNC_ERR_OUT_OF_MEMORY, "arange(): %g elements is too many", n);
    int64_t size = (int64_t)n;
    cnnc_tensor *t = cnnc__tensor_new(dtype, 1, &size);
    if (!t) return NULL;
    for (int64_t i = 0; i < size; i++) {
        double v = start + (double)i * step;
        if (dtype == CNNC_FLOAT32)
            cnnc__f32(t)[i] = (float)v;
        else
            cnnc__i64(t)[i] = (int64_t)v;
    }
    return cnnc__give(t);
}

/* ---- accessors ----------------------------------------------------------- */

/* Getters return a fallback value and set the error when given NULL. */
static bool null_tensor(const char *fn, const cnnc_tensor *t) {
    if (t) return false;
    cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 't' is NULL", fn);
    return true;
}

int cnnc_tensor_ndim(const cnnc_tensor *t) { return null_tensor("tensor_ndim", t) ? -1 : t->ndim; }
const int64_t *cnnc_tensor_shape(const cnnc_tensor *t) {
    return null_tensor("tensor_shape", t) ? NULL : t->shape;
}
int64_t cnnc_tensor_numel(const cnnc_tensor *t) { return null_tensor("tensor_numel", t) ? -1 : t->numel; }
cnnc_dtype cnnc_tensor_dtype(const cnnc_tensor *t) {
    return null_tensor("tensor_dtype", t) ? CNNC_DTYPE_COUNT : t->dtype;
}
bool cnnc__null_tensor(const char *fn, const cnnc_tensor *t) { return null_tensor(fn, t); }

int64_t cnnc_tensor_size(const cnnc_tensor *t, int dim) {
    if (cnnc__check_tensor("size", "t", t, false) != CNNC_OK) return -1;
    if (t->ndim == 0) {
        cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                    "Dimension specified as %d but tensor has no dimensions", dim);
        return -1;
    }
    int d = 0;
    if (cnnc__wrap_dim(dim, t->ndim, &d) != CNNC_OK) return -1;
    return t->shape[d];
}

/* Writable data handed out: the storage's version no longer vouches for it. */
static void *exposed_data(cnnc_tensor *t) {
    atomic_store_explicit(&t->storage->exposed, true, memory_order_relaxed);
    return t->storage->data;
}

void *cnnc_tensor_data(cnnc_tensor *t) {
    CNNC__NONNULL_OR_NULL("tensor_data", t);
    return exposed_data(t);
}

const void *cnnc_tensor_data_const(const cnnc_tensor *t) {
    CNNC__NONNULL_OR_NULL("tensor_data_const", t);
    return t->storage->data;
}

float *cnnc_tensor_data_f32(cnnc_tensor *t) {
    if (cnnc__check_tensor("tensor_data_f32", "t", t, true) != CNNC_OK) return NULL;
    return exposed_data(t);
}

int64_t *cnnc_tensor_data_i64(cnnc_tensor *t) {
    CNNC__NONNULL_OR_NULL("tensor_data_i64", t);
    if (t->dtype != CNNC_INT64)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "tensor_data_i64(): the tensor has dtype %s, not int64",
                                cnnc_dtype_name(t->dtype));
    return exposed_data(t);
}

cnnc_status cnnc_tensor_item(const cnnc_tensor *t, double *out) {
    CNNC__NONNULL_OR_STATUS("item", t);
    CNNC__NONNULL_OR_STATUS("item", out);
    if (t->numel != 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "a Tensor with %lld elements cannot be converted to Scalar",
                           (long long)t->numel);
    *out = t->dtype == CNNC_FLOAT32 ? (double)cnnc__f32(t)[0] : (double)cnnc__i64(t)[0];
    return CNNC_OK;
}

uint64_t cnnc_tensor_version(const cnnc_tensor *t) {
    return null_tensor("tensor_version", t) ? 0 : (uint64_t)atomic_load(&t->storage->version);
}

/* ---- in place ------------------------------------------------------------ */

cnnc_status cnnc__check_inplace(const char *fn, cnnc_tensor *t) {
    CNNC__NONNULL_OR_STATUS(fn, t);
    if (t->requires_grad && !t->grad_fn && cnnc_is_grad_enabled())
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "a leaf Variable that requires grad is being used in an in-place "
                           "operation.");
    if (t->is_view && t->view_base->requires_grad && !t->view_base->grad_fn &&
        cnnc_is_grad_enabled())
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.");
    return CNNC_OK;
}

cnnc_status cnnc_tensor_fill_(cnnc_tensor *t, double value) {
    cnnc_status st = cnnc__check_inplace("fill_", t);
    if (st != CNNC_OK) return st;
    if (t->dtype == CNNC_INT64 && (st = check_int_value("fill_", value)) != CNNC_OK) return st;
    if (t->requires_grad && cnnc_is_grad_enabled())
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "fill_(): in-place fill of a tensor that is part of a graph is not "
                           "supported; fill a detached tensor");
    fill_values(t, value);
    cnnc__bump_version(t);
    return CNNC_OK;
}

cnnc_status cnnc_tensor_zero_(cnnc_tensor *t) { return cnnc_tensor_fill_(t, 0.0); }

cnnc_status cnnc_tensor_copy_(cnnc_tensor *dst, const cnnc_tensor *src) {
    cnnc_status st = cnnc__check_inplace("copy_", dst);
    if (st != CNNC_OK) return st;
    CNNC__NONNULL_OR_STATUS("copy_", src);
    if (dst->dtype != src->dtype || dst->numel != src->numel) {
        char a[256], b[256];
        cnnc__shape_str(a, sizeof a, dst->ndim, dst->shape);
        cnnc__shape_str(b, sizeof b, src->ndim, src->shape);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "copy_(): cannot copy a %s tensor of shape %s into a %s tensor of shape "
                           "%s",
                           cnnc_dtype_name(src->dtype), b, cnnc_dtype_name(dst->dtype), a);
    }
    if (dst->requires_grad && cnnc_is_grad_enabled())
        return cnnc__error(CNNC_ERR_RUNTIME,
                           "copy_(): in-place copy into a tensor that is part of a graph is not "
                           "supported; copy into a detached tensor");
    if (dst->storage->data != src->storage->data && dst->storage->nbytes)
        memmove(dst->storage->data, src->storage->data, dst->storage->nbytes);
    cnnc__bump_version(dst);
    return CNNC_OK;
}

cnnc_tensor *cnnc_tensor_detach(cnnc_tensor *t) {
    CNNC__NONNULL_OR_NULL("detach", t);
    return cnnc__give(cnnc__tensor_alias(t, t->ndim, t->shape));
}
