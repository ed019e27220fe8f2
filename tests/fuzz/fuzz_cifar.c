/* libFuzzer target: the CIFAR-10 batch reader. The first input byte chooses how many
 * batch buffers (1 to 3) the rest is cut into, evenly. Whatever the bytes, the reader
 * returns a data set or an error with a message, without crashing, leaking or reading
 * out of bounds; a data set it returns is consistent. */
#include <cnnc.h>

#include <stdint.h>
#include <stdlib.h>

#include "data/readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int n = 1 + data[0] % 3;
    data++;
    size--;
    const char *what[3] = {"batch 1", "batch 2", "batch 3"};
    const uint8_t *parts[3];
    size_t sizes[3], each = size / (size_t)n;
    for (int i = 0; i < n; i++) {
        parts[i] = data + (size_t)i * each;
        sizes[i] = i == n - 1 ? size - (size_t)i * each : each;
    }
    cnnc_dataset *ds = cnnc__cifar10_decode(n, what, parts, sizes);
    if (!ds) {
        if (cnnc_last_status() == CNNC_OK || !cnnc_last_error()[0]) abort(); /* no message */
        return 0;
    }
    cnnc_tensor *x = cnnc_dataset_images(ds), *y = cnnc_dataset_labels(ds);
    int64_t count = cnnc_dataset_size(ds);
    if ((size_t)count * 3073 != size || cnnc_tensor_size(x, 1) != 3 || cnnc_tensor_size(x, 2) != 32)
        abort();
    for (int64_t i = 0; i < count; i++)
        if (cnnc_tensor_data_i64(y)[i] < 0 || cnnc_tensor_data_i64(y)[i] >= 10) abort();
    cnnc_dataset_release(ds);
    return 0;
}
