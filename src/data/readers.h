/* Internal: the IDX and CIFAR-10 parsers over bytes in memory (what the file loaders
 * call after reading a file, and what the fuzz targets drive). `*_what` name the
 * buffers in error messages (the file names). */
#ifndef CNNC_DATA_READERS_H
#define CNNC_DATA_READERS_H
#include <stddef.h>
#include <stdint.h>

#include "cnnc.h"

/* An IDX image file ([N, H, W] unsigned bytes) and an IDX label file ([N] unsigned
 * bytes), raw or gzip, into a data set of [N, 1, H, W] images. */
cnnc_dataset *cnnc__idx_decode(const char *images_what, const uint8_t *images, size_t images_size,
                               const char *labels_what, const uint8_t *labels, size_t labels_size,
                               cnnc_idx_options options);

/* n CIFAR-10 batch buffers (records of 1 label byte + 3072 image bytes) into one data
 * set of [N, 3, 32, 32] images, in order. */
cnnc_dataset *cnnc__cifar10_decode(int n, const char *const *what, const uint8_t *const *data,
                                   const size_t *sizes);
#endif
