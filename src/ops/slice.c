/* Slicing along one dim: torch.narrow, torch.chunk, torch.split. The results are
 * copies (cnnc tensors are contiguous); the gradient of a slice is the incoming
 * gradient placed into zeros of the input's shape. */
#include <string.h>

#include "core/alloc.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "ops/ops.h"

enum { MAX_PIECES = 64 }; /* most results of one chunk / split */

typedef struct {
    int dim;
    int64_t start, in_size; /* the slice's offset and the input's size along dim */
} narrow_ctx;

/* [outer, size along dim, inner] views of x and of the slice */
static void dims_of(const cnnc_tensor *t, int d, int64_t *outer, int64_t *inner) {
    /* wrapped: they overflow only for an empty tensor, whose copies are skipped */
    *outer = cnnc__wrap_prod(t->shape, 0, d);
    *inner = cnnc__wrap_prod(t->shape, d + 1, t->ndim);
}

static cnnc_status narrow_backward(cnnc__node *node, cnnc_tensor *g, cnnc_tensor **gi) {
    const narrow_ctx *c = node->ctx;
    int64_t shape[CNNC_MAX_DIMS], outer, inner;
    memcpy(shape, g->shape, sizeof shape);
    shape[c->dim] = c->in_size;
    gi[0] = cnnc__tensor_zeros(CNNC_FLOAT32, g->ndim, shape);
    if (!gi[0]) return cnnc_last_status();
    dims_of(g, c->dim, &outer, &inner);
    const int64_t len = g->shape[c->dim];
    for (int64_t r = 0; r < outer && g->numel != 0; r++)
        memcpy(cnnc__f32(gi[0]) + (r * c->in_size + c->start) * inner, cnnc__f32(g) + r * len * inner,
               (size_t)(len * inner) * sizeof(float));
    return CNNC_OK;
}

cnnc_tensor *cnnc__op_narrow(cnnc_tensor *x, int dim, int64_t start, int64_t length) {
    if (cnnc__check_tensor("narrow", "input", x, false) != CNNC_OK) return NULL;
    if (x->ndim == 0)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "narrow() cannot be applied to a 0-dim tensor.");
    int d;
    if (cnnc__wrap_dim(dim, x->ndim, &d) != CNNC_OK) return NULL;
    const int64_t size = x->shape[d];
    if (start != size && (start < -size || start >= size)) /* PyTorch wraps start as a dim */
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "Dimension out of range (expected to be in range of [%lld, %lld], but got %lld)",
                                (long long)-size, (long long)size - 1, (long long)start);
    if (start < 0) start += size;
    if (length < 0 || start > size - length)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "start (%lld) + length (%lld) exceeds dimension size (%lld).",
                                (long long)start, (long long)length, (long long)size);
    int64_t shape[CNNC_MAX_DIMS], outer, inner;
    memcpy(shape, x->shape, sizeof shape);
    shape[d] = length;
    cnnc_tensor *out = cnnc__tensor_new(x->dtype, x->ndim, shape);
    if (!out) return NULL;
    dims_of(x, d, &outer, &inner);
    const size_t es = cnnc__dtype_size(x->dtype);
    for (int64_t r = 0; r < outer && out->numel != 0; r++)
        memcpy((char *)out->storage->data + (size_t)(r * length * inner) * es,
               (const char *)x->storage->data + (size_t)((r * size + start) * inner) * es,
               (size_t)(length * inner) * es);
    narrow_ctx *c = NULL;
    if (cnnc__record(out, "SliceBackward0", narrow_backward, 1, &x, 0, NULL, sizeof *c, (void **)&c) != CNNC_OK) {
        cnnc_tensor_release(out);
        return NULL;
    }
    if (c) *c = (narrow_ctx){d, start, size};
    return out;
}

/* Slices [0, s0), [s0, s0 + s1), ... into out (n new references); on failure
 * nothing is left in out. */
static int slices(cnnc_tensor *x, int d, int n, const int64_t *sizes, cnnc_tensor **out) {
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        out[i] = cnnc__op_narrow(x, d, start, sizes[i]);
        if (!out[i]) {
            for (int j = 0; j < i; j++) cnnc_tensor_release(out[j]);
            return -1;
        }
        start += sizes[i];
    }
    return n;
}

static int too_many(const char *fn, int n, int max_out) {
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): %d results, at most %d allowed", fn, n,
                       max_out < MAX_PIECES ? max_out : MAX_PIECES), -1;
}

/* torch.chunk: pieces of ceil(size / chunks), the last one smaller, as many as that
 * gives (possibly fewer than chunks); an empty dim gives chunks empty pieces. */
int cnnc__op_chunk(cnnc_tensor *x, int chunks, int dim, int max_out, cnnc_tensor **out) {
    int d;
    if (cnnc__check_tensor("chunk", "input", x, false) != CNNC_OK) return -1;
    if (chunks <= 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "chunk expects `chunks` to be greater than 0, got: %d",
                           chunks), -1;
    if (x->ndim == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "chunk expects at least a 1-dimensional tensor"), -1;
    if (cnnc__wrap_dim(dim, x->ndim, &d) != CNNC_OK) return -1;
    const int64_t size = x->shape[d], step = (size + chunks - 1) / chunks;
    const int n = step == 0 ? chunks : (int)((size + step - 1) / step);
    if (n > max_out || n > MAX_PIECES) return too_many("chunk", n, max_out);
    int64_t pieces[MAX_PIECES];
    for (int i = 0; i < n; i++) pieces[i] = (i + 1) * step <= size ? step : size - i * step;
    return slices(x, d, n, pieces, out);
}

/* torch.split(x, split_size, dim): pieces of split_size, the last one smaller. */
static int split_even(int64_t size, int64_t split, int max_out, int64_t *pieces) {
    if (split < 0 || (split == 0 && size != 0))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "split_size can only be 0 if dimension size is 0, but got dimension size of %lld",
                           (long long)size), -1;
    const int64_t n = split == 0 ? 1 : size == 0 ? 1 : (size + split - 1) / split;
    if (n > max_out || n > MAX_PIECES) return too_many("split", (int)(n < MAX_PIECES * 2 ? n : MAX_PIECES * 2), max_out);
    for (int64_t i = 0; i < n; i++) pieces[i] = (i + 1) * split <= size ? split : size - i * split;
    return (int)n;
}

/* torch.split(x, [sizes], dim): the sizes must add up to the dim's size. */
static int split_sizes(int64_t size, int d, int n, const int64_t *sizes, int max_out, int64_t *pieces) {
    if (n > max_out || n > MAX_PIECES) return too_many("split", n, max_out);
    int64_t total = 0;
    cnnc__strbuf list = {0};
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0 || !cnnc__add_i64(total, sizes[i], &total)) total = -1;
        pieces[i] = sizes[i];
        cnnc__strbuf_printf(&list, "%s%lld", i ? ", " : "", (long long)sizes[i]);
    }
    if (total != size)
        cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                    "split_with_sizes expects split_sizes to sum exactly to %lld (input tensor's size at "
                    "dimension %d), but got split_sizes=[%s]", (long long)size, d, list.buf ? list.buf : "");
    cnnc__free(list.buf);
    return total == size ? n : -1;
}

/* n_sizes == 1: an int split_size; more: a list of sizes. */
int cnnc__op_split(cnnc_tensor *x, int n_sizes, const int64_t *sizes, int dim, int max_out,
                   cnnc_tensor **out) {
    int d;
    if (cnnc__check_tensor("split", "input", x, false) != CNNC_OK) return -1;
    if (x->ndim == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "split expects at least a 1-dimensional tensor"), -1;
    if (n_sizes < 1) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "split(): no sizes given"), -1;
    if (cnnc__wrap_dim(dim, x->ndim, &d) != CNNC_OK) return -1;
    int64_t pieces[MAX_PIECES];
    int n = n_sizes == 1 ? split_even(x->shape[d], sizes[0], max_out, pieces)
                         : split_sizes(x->shape[d], d, n_sizes, sizes, max_out, pieces);
    return n < 0 ? -1 : slices(x, d, n, pieces, out);
}

/* ---- public ----------------------------------------------------------------------------- */

cnnc_tensor *cnnc_narrow(cnnc_tensor *x, int dim, int64_t start, int64_t length) {
    return cnnc__give(cnnc__op_narrow(x, dim, start, length));
}

static int give_all(int n, cnnc_tensor **out) {
    for (int i = 0; i < n; i++)
        if (!(out[i] = cnnc__give(out[i]))) {
            for (int j = i + 1; j < n; j++) cnnc_tensor_release(out[j]);
            return -1;
        }
    return n;
}

int cnnc_chunk(cnnc_tensor *x, int chunks, int dim, int max_out, cnnc_tensor **out) {
    if (!out || max_out < 0) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "chunk(): no output array"), -1;
    return give_all(cnnc__op_chunk(x, chunks, dim, max_out, out), out);
}

int cnnc_split(cnnc_tensor *x, int n_sizes, const int64_t *sizes, int dim, int max_out, cnnc_tensor **out) {
    if (!out || max_out < 0 || (n_sizes > 0 && !sizes))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "split(): no output array or sizes"), -1;
    return give_all(cnnc__op_split(x, n_sizes, sizes, dim, max_out, out), out);
}
