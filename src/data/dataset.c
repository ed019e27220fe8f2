/* The data set object: images [N, C, H, W] float32, labels [N] int64, class names. */
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"

bool cnnc_data_gzip_supported(void) {
#ifdef CNNC_HAVE_ZLIB
    return true;
#else
    return false;
#endif
}

static void free_names(char **names, int64_t n) {
    if (!names) return;
    for (int64_t i = 0; i < n; i++) cnnc__free(names[i]);
    cnnc__free(names);
}

static void dataset_free(cnnc_dataset *ds) {
    cnnc_tensor_release(ds->images);
    cnnc_tensor_release(ds->labels);
    free_names(ds->class_names, ds->num_classes);
    cnnc__free(ds);
}

/* Copies of the names, or "0", "1", ... when names is NULL. */
static char **copy_names(const char *fn, int64_t n, const char *const *names) {
    size_t bytes;
    if ((uint64_t)n > SIZE_MAX || !cnnc__mul_size((size_t)n, sizeof(char *), &bytes))
        return cnnc__error_null(CNNC_ERR_OUT_OF_MEMORY,
                                "%s(): %lld class names do not fit in memory", fn, (long long)n);
    char **out = cnnc__calloc((size_t)n, sizeof *out);
    if (!out) return (cnnc__oom("class names"), NULL);
    for (int64_t i = 0; i < n; i++) {
        char number[24];
        const char *name = number;
        if (names) {
            if (!names[i]) {
                free_names(out, n);
                return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                        "%s(): class_names[%lld] is NULL", fn, (long long)i);
            }
            name = names[i];
        } else {
            snprintf(number, sizeof number, "%lld", (long long)i);
        }
        if (!(out[i] = cnnc__strdup(name))) {
            free_names(out, n);
            return (cnnc__oom("class names"), NULL);
        }
    }
    return out;
}

static cnnc_dataset *dataset_wrap(const char *fn, cnnc_tensor *images, cnnc_tensor *labels,
                                  int64_t num_classes, const char *const *class_names) {
    cnnc_dataset *ds = cnnc__calloc(1, sizeof *ds);
    char **names = ds ? copy_names(fn, num_classes, class_names) : NULL;
    if (!ds || !names) {
        if (!ds) cnnc__oom("a dataset");
        cnnc__free(ds);
        cnnc_tensor_release(images);
        cnnc_tensor_release(labels);
        return NULL;
    }
    atomic_init(&ds->refcount, 1);
    ds->images = images;
    ds->labels = labels;
    ds->num_classes = num_classes;
    ds->class_names = names;
    return ds;
}

static cnnc_status check_num_classes(const char *fn, int64_t num_classes) {
    if (num_classes < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): num_classes must be >= 1, got %lld",
                           fn, (long long)num_classes);
    return CNNC_OK;
}

cnnc_dataset *cnnc__dataset_alloc(const char *fn, int64_t n, int64_t c, int64_t h, int64_t w,
                                  int64_t num_classes, const char *const *class_names) {
    if (check_num_classes(fn, num_classes) != CNNC_OK) return NULL;
    cnnc_tensor *images = cnnc__tensor_new(CNNC_FLOAT32, 4, (const int64_t[]){n, c, h, w});
    if (!images) return NULL;
    cnnc_tensor *labels = cnnc__tensor_new(CNNC_INT64, 1, &n);
    if (!labels) {
        cnnc_tensor_release(images);
        return NULL;
    }
    return dataset_wrap(fn, images, labels, num_classes, class_names);
}

void cnnc__bytes_to_unit(float *dst, const uint8_t *src, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = (float)src[i] / 255.0f;
}

cnnc_status cnnc__dataset_set_label(cnnc_dataset *ds, int64_t i, const char *what, int64_t sample,
                                    int64_t value) {
    if (value < 0 || value >= ds->num_classes)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: label %lld of sample %lld is out of range for %lld classes", what,
                           (long long)value, (long long)sample, (long long)ds->num_classes);
    cnnc__i64(ds->labels)[i] = value;
    return CNNC_OK;
}

cnnc_dataset *cnnc_dataset_new(cnnc_tensor *images, cnnc_tensor *labels, int64_t num_classes,
                               const char *const *class_names) {
    static const char fn[] = "dataset_new";
    if (cnnc__check_tensor(fn, "images", images, true) != CNNC_OK ||
        cnnc__check_tensor(fn, "labels", labels, false) != CNNC_OK ||
        check_num_classes(fn, num_classes) != CNNC_OK)
        return NULL;
    char shape[256];
    cnnc__shape_str(shape, sizeof shape, images->ndim, images->shape);
    if (images->ndim != 4)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): expected images of shape [N, C, H, W], got %s", fn, shape);
    if (labels->dtype != CNNC_INT64 || labels->ndim != 1 || labels->shape[0] != images->shape[0]) {
        char lshape[256];
        cnnc__shape_str(lshape, sizeof lshape, labels->ndim, labels->shape);
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s(): expected int64 labels of shape [%lld] for images %s, got %s "
                                "%s",
                                fn, (long long)images->shape[0], shape,
                                cnnc_dtype_name(labels->dtype), lshape);
    }
    const int64_t *l = cnnc__i64(labels);
    for (int64_t i = 0; i < labels->numel; i++)
        if (l[i] < 0 || l[i] >= num_classes)
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                    "%s(): label %lld of sample %lld is out of range for %lld "
                                    "classes",
                                    fn, (long long)l[i], (long long)i, (long long)num_classes);
    cnnc_tensor *im = cnnc__tensor_alias(images, 4, images->shape);
    cnnc_tensor *lb = im ? cnnc__tensor_alias(labels, 1, labels->shape) : NULL;
    if (!lb) {
        cnnc_tensor_release(im);
        return NULL;
    }
    return dataset_wrap(fn, im, lb, num_classes, class_names);
}

cnnc_dataset *cnnc_dataset_retain(cnnc_dataset *ds) {
    if (ds) atomic_fetch_add(&ds->refcount, 1);
    return ds;
}

void cnnc_dataset_release(cnnc_dataset *ds) {
    if (ds && atomic_fetch_sub(&ds->refcount, 1) == 1) dataset_free(ds);
}

static bool null_dataset(const char *fn, const cnnc_dataset *ds) {
    if (ds) return false;
    cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): argument 'ds' is NULL", fn);
    return true;
}

int64_t cnnc_dataset_size(const cnnc_dataset *ds) {
    return null_dataset("dataset_size", ds) ? 0 : ds->labels->shape[0];
}

cnnc_tensor *cnnc_dataset_images(const cnnc_dataset *ds) {
    return null_dataset("dataset_images", ds) ? NULL : ds->images;
}

cnnc_tensor *cnnc_dataset_labels(const cnnc_dataset *ds) {
    return null_dataset("dataset_labels", ds) ? NULL : ds->labels;
}

int64_t cnnc_dataset_num_classes(const cnnc_dataset *ds) {
    return null_dataset("dataset_num_classes", ds) ? 0 : ds->num_classes;
}

const char *cnnc_dataset_class_name(const cnnc_dataset *ds, int64_t i) {
    if (null_dataset("dataset_class_name", ds)) return NULL;
    if (i < 0 || i >= ds->num_classes)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "dataset_class_name(): class %lld is out of range for %lld classes",
                                (long long)i, (long long)ds->num_classes);
    return ds->class_names[i];
}

cnnc_status cnnc_dataset_channel_stats(const cnnc_dataset *ds, double *mean, double *std) {
    static const char fn[] = "dataset_channel_stats";
    if (null_dataset(fn, ds)) return cnnc_last_status();
    CNNC__NONNULL_OR_STATUS(fn, mean);
    CNNC__NONNULL_OR_STATUS(fn, std);
    const int64_t *s = ds->images->shape; /* [N, C, H, W] */
    int64_t plane = s[2] * s[3], count = s[0] * plane;
    if (count == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): the data set has no pixels", fn);
    const float *x = cnnc__f32(ds->images);
    for (int64_t c = 0; c < s[1]; c++) {
        /* two passes in double: the mean, then the squared deviations */
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < s[0]; n++)
            for (int64_t i = 0; i < plane; i++) sum += x[(n * s[1] + c) * plane + i];
        double m = sum / (double)count;
        for (int64_t n = 0; n < s[0]; n++)
            for (int64_t i = 0; i < plane; i++) {
                double d = x[(n * s[1] + c) * plane + i] - m;
                sq += d * d;
            }
        mean[c] = m;
        std[c] = sqrt(sq / (double)count);
    }
    return CNNC_OK;
}
