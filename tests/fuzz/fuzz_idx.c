/* libFuzzer target: the IDX reader (raw and gzip) on a pair of buffers.
 * Input: a 4-byte little-endian split point s, then the bytes; the first s % (rest + 1)
 * bytes are the image file, the others the label file. Whatever the bytes, the reader
 * returns a data set or an error with a message, without crashing, leaking or reading
 * out of bounds; a data set it returns is consistent. */
#include <cnnc.h>

#include <stdint.h>
#include <stdlib.h>

#include "data/readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    uint32_t split = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                     (uint32_t)data[3] << 24;
    data += 4;
    size -= 4;
    size_t n = split % (size + 1);
    cnnc_dataset *ds =
        cnnc__idx_decode("images", data, n, "labels", data + n, size - n, CNNC_IDX());
    if (!ds) {
        if (cnnc_last_status() == CNNC_OK || !cnnc_last_error()[0]) abort(); /* no message */
        return 0;
    }
    cnnc_tensor *x = cnnc_dataset_images(ds), *y = cnnc_dataset_labels(ds);
    int64_t count = cnnc_dataset_size(ds);
    if (cnnc_tensor_ndim(x) != 4 || cnnc_tensor_size(x, 0) != count || cnnc_tensor_size(x, 1) != 1)
        abort();
    const float *px = cnnc_tensor_data_f32(x);
    for (int64_t i = 0; i < cnnc_tensor_numel(x); i++)
        if (!(px[i] >= 0.0f && px[i] <= 1.0f)) abort();
    for (int64_t i = 0; i < count; i++)
        if (cnnc_tensor_data_i64(y)[i] < 0 || cnnc_tensor_data_i64(y)[i] >= 10) abort();
    cnnc_dataset_release(ds);
    return 0;
}
