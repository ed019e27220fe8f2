/* libFuzzer target: the .npy reader on arbitrary bytes. Whatever the bytes, it returns
 * a tensor or an error with a message, without crashing, leaking or reading out of
 * bounds. A tensor it returns is consistent with the bytes, and saving it and reading
 * that file back gives the same shape and values. */
#define _POSIX_C_SOURCE 200809L
#include <cnnc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cnnc_tensor *t = NULL;
    if (cnnc_npy_load_buffer(data, size, &t) != CNNC_OK) {
        if (t || cnnc_last_status() == CNNC_OK || !cnnc_last_error()[0]) abort(); /* no message */
        return 0;
    }
    int64_t numel = 1;
    for (int d = 0; d < cnnc_tensor_ndim(t); d++) numel *= cnnc_tensor_shape(t)[d];
    if (numel != cnnc_tensor_numel(t) || (uint64_t)numel > size) abort();
    char path[64];
    snprintf(path, sizeof path, "/tmp/cnnc_fuzz_npy_%ld", (long)getpid());
    cnnc_tensor *back = NULL;
    if (cnnc_npy_save(path, t) != CNNC_OK || cnnc_npy_load(path, &back) != CNNC_OK) abort();
    size_t nbytes = (size_t)numel * (cnnc_tensor_dtype(t) == CNNC_FLOAT32 ? 4 : 8);
    if (cnnc_tensor_dtype(back) != cnnc_tensor_dtype(t) || cnnc_tensor_ndim(back) != cnnc_tensor_ndim(t) ||
        memcmp(cnnc_tensor_shape(back), cnnc_tensor_shape(t), sizeof(int64_t) * (size_t)cnnc_tensor_ndim(t)) ||
        (nbytes && memcmp(cnnc_tensor_data(back), cnnc_tensor_data(t), nbytes)))
        abort();
    remove(path);
    cnnc_tensor_release(back);
    cnnc_tensor_release(t);
    return 0;
}
