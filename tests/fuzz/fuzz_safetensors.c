/* libFuzzer target: the safetensors reader on arbitrary bytes. Whatever the bytes, it
 * returns a tensor list or an error with a message, without crashing, leaking or reading
 * out of bounds. A list it returns is consistent, and writing it and reading that file
 * back gives the same names, shapes, values and metadata. (Without cJSON the library has
 * no safetensors reader and this target checks nothing.) */
#define _POSIX_C_SOURCE 200809L
#include <cnnc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef CNNC_HAS_IO
static size_t nbytes(cnnc_tensor *t) {
    return (size_t)cnnc_tensor_numel(t) * (cnnc_tensor_dtype(t) == CNNC_FLOAT32 ? 4 : 8);
}

static void same_lists(const cnnc_tensor_list *a, const cnnc_tensor_list *b) {
    size_t n = cnnc_tensor_list_size(a);
    if (cnnc_tensor_list_size(b) != n || cnnc_tensor_list_meta_size(a) != cnnc_tensor_list_meta_size(b))
        abort();
    for (size_t i = 0; i < n; i++) {
        cnnc_tensor *x = cnnc_tensor_list_get(a, i), *y = cnnc_tensor_list_get(b, i);
        if (strcmp(cnnc_tensor_list_name(a, i), cnnc_tensor_list_name(b, i)) != 0 ||
            cnnc_tensor_dtype(x) != cnnc_tensor_dtype(y) || cnnc_tensor_ndim(x) != cnnc_tensor_ndim(y) ||
            memcmp(cnnc_tensor_shape(x), cnnc_tensor_shape(y), sizeof(int64_t) * (size_t)cnnc_tensor_ndim(x)) ||
            (nbytes(x) && memcmp(cnnc_tensor_data(x), cnnc_tensor_data(y), nbytes(x))))
            abort();
    }
    for (size_t i = 0; i < cnnc_tensor_list_meta_size(a); i++) {
        const char *k, *v, *k2, *v2;
        if (cnnc_tensor_list_meta_at(a, i, &k, &v) || cnnc_tensor_list_meta_at(b, i, &k2, &v2) ||
            strcmp(k, k2) || strcmp(v, v2))
            abort();
    }
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
#ifdef CNNC_HAS_IO
    cnnc_tensor_list *l = NULL;
    if (cnnc_safetensors_load_buffer(data, size, &l) != CNNC_OK) {
        if (l || cnnc_last_status() == CNNC_OK || !cnnc_last_error()[0]) abort(); /* no message */
        return 0;
    }
    for (size_t i = 0; i < cnnc_tensor_list_size(l); i++) {
        cnnc_tensor *t = cnnc_tensor_list_get(l, i);
        int64_t numel = 1;
        for (int d = 0; d < cnnc_tensor_ndim(t); d++) numel *= cnnc_tensor_shape(t)[d];
        if (!t || numel != cnnc_tensor_numel(t) || nbytes(t) > size) abort();
    }
    /* names with a NUL inside a JSON string are cut short, so two may now collide:
     * then the writer refuses (with a message) and there is nothing to compare */
    char path[64];
    snprintf(path, sizeof path, "/tmp/cnnc_fuzz_safetensors_%ld", (long)getpid());
    if (cnnc_safetensors_save(path, l) == CNNC_OK) {
        cnnc_tensor_list *back = NULL;
        if (cnnc_safetensors_load(path, &back) != CNNC_OK) abort();
        same_lists(l, back);
        cnnc_tensor_list_free(back);
    } else if (!cnnc_last_error()[0]) {
        abort();
    }
    remove(path);
    cnnc_tensor_list_free(l);
#else
    (void)data, (void)size;
#endif
    return 0;
}
