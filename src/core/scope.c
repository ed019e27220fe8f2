/* Scopes: tensors handed to the caller inside a scope are released at its end.
 * Per thread; a stack of marks into one list of registered tensors. */
#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"

static _Thread_local cnnc_tensor **owned = NULL; /* registered tensors, oldest first */
static _Thread_local size_t n_owned = 0, cap_owned = 0;
static _Thread_local size_t *marks = NULL; /* n_owned at each scope_begin */
static _Thread_local size_t n_marks = 0, cap_marks = 0;

cnnc_status cnnc_scope_begin(void) {
    if (!cnnc__grow((void **)&marks, &cap_marks, n_marks + 1, sizeof *marks))
        return cnnc__oom("a scope");
    marks[n_marks++] = n_owned;
    return CNNC_OK;
}

static void free_lists_if_idle(void) {
    if (n_marks) return;
    cnnc__free(owned);
    cnnc__free(marks);
    owned = NULL;
    marks = NULL;
    cap_owned = cap_marks = 0;
}

cnnc_status cnnc_scope_end(void) {
    if (n_marks == 0)
        return cnnc__error(CNNC_ERR_RUNTIME, "scope_end(): no scope is open on this thread");
    size_t mark = marks[--n_marks];
    while (n_owned > mark) cnnc_tensor_release(owned[--n_owned]); /* newest first */
    free_lists_if_idle();
    return CNNC_OK;
}

cnnc_tensor *cnnc__give(cnnc_tensor *t) {
    if (!t || n_marks == 0) return t;
    if (!cnnc__grow((void **)&owned, &cap_owned, n_owned + 1, sizeof *owned)) {
        cnnc_tensor_release(t);
        return cnnc__error_null(CNNC_ERR_OUT_OF_MEMORY,
                                "out of memory while registering a tensor in the open scope");
    }
    owned[n_owned++] = t;
    return t;
}
