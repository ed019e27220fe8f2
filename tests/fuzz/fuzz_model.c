/* libFuzzer target: the model loader (src/io/model_load.c) on an arbitrary
 * architecture description (the JSON of a model file's "cnnc.model" metadata, with
 * no tensors: modules keep the values they are built with). Whatever the text, the
 * loader returns a model or an error with a message, without crashing, leaking or
 * reading out of bounds; a model it returns runs on a zero input of the recorded
 * shape (when small) in eval and in training mode, and backward through it, each
 * returning a result or an error; and it is described again and rebuilt from that
 * description with its own weights. Allocations are capped (an architecture can ask
 * for any size of weight; past the cap the library must report running out of
 * memory). */
#include <cnnc.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef CNNC_HAS_IO
#include "io/model.h"

enum { MAX_ALLOC = 16 << 20, MAX_TOTAL = 256 << 20, MAX_INPUT = 1 << 14 };

/* The cap (set once, before the library allocates anything: it frees with the
 * allocator it allocated with). No locking: the count is approximate when worker
 * threads allocate, which only moves the cap a little. */
static size_t total;

static void *capped_alloc(void *ctx, size_t n) {
    (void)ctx;
    if (n > MAX_ALLOC || total + n > MAX_TOTAL) return NULL;
    size_t *p = malloc(n + sizeof(max_align_t));
    if (!p) return NULL;
    *p = n;
    __atomic_add_fetch(&total, n, __ATOMIC_RELAXED);
    return (char *)p + sizeof(max_align_t);
}

static void capped_free(void *ctx, void *ptr) {
    (void)ctx;
    if (!ptr) return;
    size_t *p = (size_t *)(void *)((char *)ptr - sizeof(max_align_t));
    __atomic_sub_fetch(&total, *p, __ATOMIC_RELAXED);
    free(p);
}

static void must_have_message(void) {
    if (cnnc_last_status() == CNNC_OK || !cnnc_last_error()[0]) abort();
}

static void run(cnnc_module *m, bool train) {
    int64_t shape[CNNC_MAX_DIMS], numel = 1;
    int ndim = cnnc_model_input_shape(m, 0, shape);
    for (int i = 0; i < ndim; i++) numel = shape[i] && numel <= MAX_INPUT ? numel * shape[i] : numel;
    if (ndim < 0 || numel > MAX_INPUT || cnnc_model_input_shape(m, 1, shape) >= 0) return;
    cnnc_model_input_shape(m, 0, shape);
    cnnc_module_train(m, train);
    cnnc_tensor *x = cnnc_zeros(ndim, shape, CNNC_FLOAT32), *out[CNNC_MAX_OUTPUTS];
    if (!x) return must_have_message();
    int n = cnnc_module_forward_n(m, 1, &x, out);
    if (n < 0) must_have_message();
    if (n > 0 && train && cnnc_tensor_requires_grad(out[0]) && cnnc_tensor_dtype(out[0]) == CNNC_FLOAT32) {
        cnnc_tensor *s = cnnc_sum(out[0]);
        if (!s || cnnc_backward(s, NULL, false) != CNNC_OK) must_have_message();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static bool capped;
    if (!capped) cnnc_set_allocator(&(cnnc_allocator){capped_alloc, capped_free, NULL});
    capped = true;
    cnnc_scope_begin();
    cnnc_tensor_list *list = cnnc_tensor_list_new();
    cnnc_module *m = NULL;
    if (list && cnnc_tensor_list_set_meta(list, "cnnc.model", text) == CNNC_OK) {
        m = cnnc__model_build(list, false);
        if (!m) must_have_message();
    }
    if (m) {
        run(m, false);
        run(m, true);
        cnnc_tensor_list *again = cnnc_model_to_list(m);
        cnnc_module *back = again ? cnnc__model_build(again, true) : NULL;
        if (!back) must_have_message();
        if (again && !back && cnnc_last_status() != CNNC_ERR_OUT_OF_MEMORY) abort(); /* must rebuild */
        cnnc_module_release(back);
        cnnc_tensor_list_free(again);
    }
    cnnc_module_release(m);
    cnnc_tensor_list_free(list);
    cnnc_scope_end();
    free(text);
    return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    (void)data;
    (void)size;
    return 0;
}
#endif
