/* Internal: the data set object and what the readers share to build one. */
#ifndef CNNC_DATA_DATASET_H
#define CNNC_DATA_DATASET_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnc.h"

struct cnnc_dataset {
    atomic_int refcount;
    cnnc_tensor *images; /* [N, C, H, W] float32 */
    cnnc_tensor *labels; /* [N] int64 */
    int64_t num_classes;
    char **class_names; /* num_classes strings */
};

/* A data set with uninitialised images [n, c, h, w] and labels [n] for the caller to
 * fill, and copies of the class names (NULL: "0", "1", ...). fn names the caller in
 * errors. */
cnnc_dataset *cnnc__dataset_alloc(const char *fn, int64_t n, int64_t c, int64_t h, int64_t w,
                                  int64_t num_classes, const char *const *class_names);

/* dst[i] = src[i] / 255 (torchvision's ToTensor), for count bytes. */
void cnnc__bytes_to_unit(float *dst, const uint8_t *src, size_t count);

/* Stores label `value` as ds's label i, checking it against the class count; the
 * error names it as sample `sample` of `what` (a file). */
cnnc_status cnnc__dataset_set_label(cnnc_dataset *ds, int64_t i, const char *what, int64_t sample,
                                    int64_t value);
#endif
