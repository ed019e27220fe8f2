/* CIFAR-10 binary batches: records of 1 label byte and a 3x32x32 CHW image. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "data/dataset.h"
#include "data/readers.h"
#include "data/source.h"

enum {
    CIFAR_SIDE = 32,
    CIFAR_IMAGE = 3 * 32 * 32,
    CIFAR_RECORD = 1 + CIFAR_IMAGE,
    CIFAR_FILES = 5
};

static const char *const cifar10_classes[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

/* Checks that a buffer is whole uncompressed records (the error set otherwise). */
static cnnc_status check_records(const char *what, const uint8_t *data, size_t size) {
    if (cnnc__is_gzip(data, size))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: the file is gzip-compressed; CIFAR-10 batches are read "
                           "uncompressed (extract the archive first)",
                           what);
    if (size == 0 || size % CIFAR_RECORD != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: a CIFAR-10 batch holds whole records of %d bytes (a label and a "
                           "3x32x32 image), but the file has %zu bytes",
                           what, CIFAR_RECORD, size);
    return CNNC_OK;
}

cnnc_dataset *cnnc__cifar10_decode(int n, const char *const *what, const uint8_t *const *data,
                                   const size_t *sizes) {
    int64_t total = 0;
    for (int f = 0; f < n; f++) {
        if (check_records(what[f], data[f], sizes[f]) != CNNC_OK) return NULL;
        if (!cnnc__add_i64(total, (int64_t)(sizes[f] / CIFAR_RECORD), &total))
            return cnnc__error_null(CNNC_ERR_OUT_OF_MEMORY, "CIFAR-10: too many records");
    }
    cnnc_dataset *ds =
        cnnc__dataset_alloc("load_cifar10", total, 3, CIFAR_SIDE, CIFAR_SIDE, 10, cifar10_classes);
    if (!ds) return NULL;
    float *images = cnnc__f32(ds->images);
    int64_t i = 0;
    for (int f = 0; f < n; f++) {
        for (size_t r = 0; r < sizes[f] / CIFAR_RECORD; r++, i++) {
            const uint8_t *rec = data[f] + r * CIFAR_RECORD;
            if (cnnc__dataset_set_label(ds, i, what[f], (int64_t)r, rec[0]) != CNNC_OK) {
                cnnc_dataset_release(ds);
                return NULL;
            }
            cnnc__bytes_to_unit(images + i * CIFAR_IMAGE, rec + 1, CIFAR_IMAGE);
        }
    }
    return ds;
}

cnnc_dataset *cnnc_dataset_load_cifar10_files(int n, const char *const *paths) {
    static const char fn[] = "dataset_load_cifar10_files";
    if (n < 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): n must be >= 1, got %d", fn, n);
    CNNC__NONNULL_OR_NULL(fn, paths);
    for (int f = 0; f < n; f++)
        if (!paths[f])
            return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s(): paths[%d] is NULL", fn, f);
    uint8_t **data = cnnc__calloc((size_t)n, sizeof *data);
    size_t *sizes = cnnc__calloc((size_t)n, sizeof *sizes);
    cnnc_dataset *ds = NULL;
    if (!data || !sizes) {
        cnnc__oom("CIFAR-10 file buffers");
        goto done;
    }
    for (int f = 0; f < n; f++)
        if (cnnc__read_file(paths[f], &data[f], &sizes[f]) != CNNC_OK) goto done;
    ds = cnnc__cifar10_decode(n, paths, (const uint8_t *const *)data, sizes);
done:
    for (int f = 0; data && f < n; f++) cnnc__free(data[f]);
    cnnc__free(data);
    cnnc__free(sizes);
    return ds;
}

cnnc_dataset *cnnc_dataset_load_cifar10(const char *root, bool train) {
    CNNC__NONNULL_OR_NULL("dataset_load_cifar10", root);
    size_t len = strlen(root) + 32; /* "/data_batch_5.bin" and '\0' */
    char *buf = cnnc__malloc(len * CIFAR_FILES);
    if (!buf) return (cnnc__oom("file names"), NULL);
    const char *paths[CIFAR_FILES];
    int n = train ? CIFAR_FILES : 1;
    for (int f = 0; f < n; f++) {
        char *p = buf + (size_t)f * len;
        if (train)
            snprintf(p, len, "%s/data_batch_%d.bin", root, f + 1);
        else
            snprintf(p, len, "%s/test_batch.bin", root);
        paths[f] = p;
    }
    cnnc_dataset *ds = cnnc_dataset_load_cifar10_files(n, paths);
    cnnc__free(buf);
    return ds;
}
