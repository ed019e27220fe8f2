/* The data loader: an index list, shuffled per epoch, cut into batches, each image
 * transformed into a batch tensor that is reused once the caller released it. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "data/dataset.h"
#include "data/random.h"
#include "data/transform.h"

enum { FULL, TAIL, SLOTS }; /* cached batches: batch_size images, and the last, smaller one */

struct cnnc_dataloader {
    cnnc_dataset *ds;
    cnnc__transform tf;
    int64_t batch_size;
    bool shuffle, drop_last;
    uint64_t seed;
    int64_t *indices, *order; /* [num_indices]: the list, and this epoch's order of it */
    int64_t num_indices;
    int64_t epoch, pos; /* pos: the next entry of order */
    bool ended;         /* the epoch's last batch was returned; next starts epoch + 1 */
    cnnc_tensor *images[SLOTS], *labels[SLOTS];
};

/* Copies of indices (NULL: 0 .. n-1) into fresh *list and *order arrays. */
static cnnc_status copy_indices(const char *fn, const cnnc_dataset *ds, const int64_t *indices,
                                int64_t num_indices, int64_t **list, int64_t **order) {
    int64_t n = ds->labels->shape[0];
    if (!indices && num_indices != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): num_indices is %lld but indices is NULL", fn,
                           (long long)num_indices);
    if (!indices) num_indices = n;
    if (num_indices < 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): num_indices must be >= 0, got %lld",
                           fn, (long long)num_indices);
    for (int64_t i = 0; indices && i < num_indices; i++)
        if (indices[i] < 0 || indices[i] >= n)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "%s(): index %lld (indices[%lld]) is out of range for a data set of "
                               "size %lld",
                               fn, (long long)indices[i], (long long)i, (long long)n);
    if ((uint64_t)num_indices > SIZE_MAX / sizeof(int64_t))
        return cnnc__error(CNNC_ERR_OUT_OF_MEMORY, "%s(): %lld indices do not fit in memory", fn,
                           (long long)num_indices);
    *list = cnnc__calloc((size_t)num_indices, sizeof(int64_t));
    *order = cnnc__calloc((size_t)num_indices, sizeof(int64_t));
    if (!*list || !*order) {
        cnnc__free(*list);
        cnnc__free(*order);
        *list = *order = NULL;
        return cnnc__oom("the data loader's indices");
    }
    for (int64_t i = 0; i < num_indices; i++) (*list)[i] = indices ? indices[i] : i;
    return CNNC_OK;
}

/* This epoch's order: the list, shuffled by Fisher-Yates from the (seed, epoch) stream. */
static void start_epoch(cnnc_dataloader *dl, int64_t epoch) {
    int64_t n = dl->num_indices;
    memcpy(dl->order, dl->indices, (size_t)n * sizeof(int64_t));
    if (dl->shuffle) {
        cnnc__drng r =
            cnnc__drng_key(dl->seed, 0x53687566666c65ULL /* "Shuffle" */, (uint64_t)epoch, 0);
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)cnnc__drng_below(&r, (uint64_t)i + 1);
            int64_t tmp = dl->order[i];
            dl->order[i] = dl->order[j];
            dl->order[j] = tmp;
        }
    }
    dl->epoch = epoch;
    dl->pos = 0;
    dl->ended = false;
}

cnnc_dataloader *cnnc_dataloader_new(cnnc_dataset *ds, cnnc_dataloader_options options) {
    static const char fn[] = "dataloader_new";
    CNNC__NONNULL_OR_NULL(fn, ds);
    if (options.batch_size < 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "batch_size should be a positive integer value, but got "
                                "batch_size=%lld",
                                (long long)options.batch_size);
    cnnc_dataloader *dl = cnnc__calloc(1, sizeof *dl);
    if (!dl) return (cnnc__oom("a data loader"), NULL);
    if (cnnc__transform_init(&dl->tf, ds->images->shape, &options) != CNNC_OK ||
        copy_indices(fn, ds, options.indices, options.num_indices, &dl->indices, &dl->order) !=
            CNNC_OK) {
        cnnc__transform_free(&dl->tf);
        cnnc__free(dl);
        return NULL;
    }
    dl->ds = cnnc_dataset_retain(ds);
    dl->batch_size = options.batch_size;
    dl->shuffle = options.shuffle;
    dl->drop_last = options.drop_last;
    dl->seed = options.seed;
    dl->num_indices = options.indices ? options.num_indices : ds->labels->shape[0];
    start_epoch(dl, 0);
    return dl;
}

void cnnc_dataloader_free(cnnc_dataloader *dl) {
    if (!dl) return;
    for (int s = 0; s < SLOTS; s++) {
        cnnc_tensor_release(dl->images[s]);
        cnnc_tensor_release(dl->labels[s]);
    }
    cnnc__transform_free(&dl->tf);
    cnnc__free(dl->indices);
    cnnc__free(dl->order);
    cnnc_dataset_release(dl->ds);
    cnnc__free(dl);
}

int64_t cnnc_dataloader_len(const cnnc_dataloader *dl) {
    if (!dl)
        return (cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "dataloader_len(): argument 'dl' is NULL"),
                0);
    int64_t n = dl->num_indices, b = dl->batch_size;
    return dl->drop_last ? n / b : n / b + (n % b != 0);
}

int64_t cnnc_dataloader_epoch(const cnnc_dataloader *dl) {
    if (!dl)
        return (cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "dataloader_epoch(): argument 'dl' is NULL"),
                0);
    return dl->epoch;
}

cnnc_status cnnc_dataloader_set_epoch(cnnc_dataloader *dl, int64_t epoch) {
    CNNC__NONNULL_OR_STATUS("dataloader_set_epoch", dl);
    if (epoch < 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "dataloader_set_epoch(): epoch must be >= 0, got %lld",
                           (long long)epoch);
    start_epoch(dl, epoch);
    return CNNC_OK;
}

cnnc_status cnnc_dataloader_set_indices(cnnc_dataloader *dl, const int64_t *indices,
                                        int64_t num_indices) {
    static const char fn[] = "dataloader_set_indices";
    CNNC__NONNULL_OR_STATUS(fn, dl);
    int64_t *list, *order;
    cnnc_status st = copy_indices(fn, dl->ds, indices, num_indices, &list, &order);
    if (st != CNNC_OK) return st;
    cnnc__free(dl->indices);
    cnnc__free(dl->order);
    dl->indices = list;
    dl->order = order;
    dl->num_indices = indices ? num_indices : dl->ds->labels->shape[0];
    start_epoch(dl, dl->epoch);
    return CNNC_OK;
}

/* ---- batches --------------------------------------------------------------------- */

/* Only the loader holds t (no caller reference, no view of its storage, no autograd
 * state): its memory can be overwritten. */
static bool reusable(const cnnc_tensor *t, int64_t b) {
    return t && atomic_load(&t->refcount) == 1 && atomic_load(&t->storage->refcount) == 1 &&
           !t->requires_grad && !t->grad && !t->grad_fn && t->shape[0] == b;
}

/* The cached tensors of slot s for a batch of b, or new ones. */
static cnnc_status batch_tensors(cnnc_dataloader *dl, int s, int64_t b) {
    if (reusable(dl->images[s], b) && reusable(dl->labels[s], b)) {
        cnnc__bump_version(dl->images[s]);
        cnnc__bump_version(dl->labels[s]);
        return CNNC_OK;
    }
    cnnc_tensor_release(dl->images[s]);
    cnnc_tensor_release(dl->labels[s]);
    dl->labels[s] = NULL;
    const int64_t shape[4] = {b, dl->tf.channels, dl->tf.out_h, dl->tf.out_w};
    if (!(dl->images[s] = cnnc__tensor_new(CNNC_FLOAT32, 4, shape))) return cnnc_last_status();
    if (!(dl->labels[s] = cnnc__tensor_new(CNNC_INT64, 1, shape))) return cnnc_last_status();
    return CNNC_OK;
}

typedef struct fill_job {
    const cnnc_dataloader *dl;
    const int64_t *order; /* [b]: the data-set indices of the batch */
    float *images;        /* [b, C, out_h, out_w] */
    int64_t *labels;      /* [b] */
} fill_job;

static cnnc_status fill_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    const fill_job *job = ctx;
    const cnnc__transform *tf = &job->dl->tf;
    const float *src = cnnc__f32(job->dl->ds->images);
    const int64_t *labels = cnnc__i64(job->dl->ds->labels);
    int64_t in_size = tf->channels * tf->height * tf->width;
    int64_t out_size = tf->channels * tf->out_h * tf->out_w;
    for (int64_t k = begin; k < end; k++) {
        int64_t idx = job->order[k];
        cnnc__augment a = cnnc__transform_draw(tf, job->dl->seed, job->dl->epoch, idx);
        cnnc__transform_apply(tf, &a, src + idx * in_size, job->images + k * out_size);
        job->labels[k] = labels[idx];
    }
    return CNNC_OK;
}

cnnc_status cnnc_dataloader_next(cnnc_dataloader *dl, cnnc_tensor **images, cnnc_tensor **labels) {
    static const char fn[] = "dataloader_next";
    if (images) *images = NULL;
    if (labels) *labels = NULL;
    CNNC__NONNULL_OR_STATUS(fn, dl);
    CNNC__NONNULL_OR_STATUS(fn, images);
    CNNC__NONNULL_OR_STATUS(fn, labels);
    if (dl->ended) start_epoch(dl, dl->epoch + 1);
    int64_t left = dl->num_indices - dl->pos;
    if (left == 0 || (dl->drop_last && left < dl->batch_size)) {
        dl->ended = true;
        return CNNC_OK;
    }
    int64_t b = left < dl->batch_size ? left : dl->batch_size;
    int s = b == dl->batch_size ? FULL : TAIL;
    cnnc_status st = batch_tensors(dl, s, b);
    if (st != CNNC_OK) return st;
    fill_job job = {dl, dl->order + dl->pos, cnnc__f32(dl->images[s]), cnnc__i64(dl->labels[s])};
    int64_t pixels = dl->tf.channels * dl->tf.out_h * dl->tf.out_w;
    /* per image: a read and a write of each pixel, a few operations on it */
    st = cnnc__parallel_for(b, (cnnc__cost){.flops = 8.0 * (double)pixels, .bytes = 8.0 * (double)pixels},
                            fill_range, &job);
    if (st != CNNC_OK) return st;
    dl->pos += b;
    /* the caller's references (the loader keeps its own to reuse the buffers) */
    cnnc_tensor *x = cnnc__give(cnnc_tensor_retain(dl->images[s]));
    cnnc_tensor *y = x ? cnnc__give(cnnc_tensor_retain(dl->labels[s])) : NULL;
    if (!x || !y) return cnnc_last_status(); /* a scope's list could not grow; x is the scope's */
    *images = x;
    *labels = y;
    return CNNC_OK;
}
