/* Ordered (name, tensor) lists: state_dicts and parameter listings. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"

struct cnnc_tensor_list {
    size_t n, cap;
    char **names;         /* [cap] owned */
    cnnc_tensor **tensors;/* [cap] owned references, NULL allowed */
};

cnnc_tensor_list *cnnc_tensor_list_new(void) {
    cnnc_tensor_list *l = cnnc__calloc(1, sizeof *l);
    if (!l) cnnc__oom("a tensor list");
    return l;
}

void cnnc_tensor_list_free(cnnc_tensor_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        cnnc__free(l->names[i]);
        cnnc_tensor_release(l->tensors[i]);
    }
    cnnc__free(l->names);
    cnnc__free(l->tensors);
    cnnc__free(l);
}

cnnc_status cnnc_tensor_list_append(cnnc_tensor_list *l, const char *name, cnnc_tensor *t) {
    CNNC__NONNULL_OR_STATUS("tensor_list_append", l);
    CNNC__NONNULL_OR_STATUS("tensor_list_append", name);
    size_t cap_n = l->cap, cap_t = l->cap;
    if (!cnnc__grow((void **)&l->names, &cap_n, l->n + 1, sizeof *l->names) ||
        !cnnc__grow((void **)&l->tensors, &cap_t, l->n + 1, sizeof *l->tensors))
        return cnnc__oom("a tensor list entry");
    /* both arrays grow in step; keep the smaller capacity as the list's */
    l->cap = cap_n < cap_t ? cap_n : cap_t;
    char *copy = cnnc__strdup(name);
    if (!copy) return cnnc__oom("a tensor list name");
    l->names[l->n] = copy;
    l->tensors[l->n] = cnnc_tensor_retain(t);
    l->n++;
    return CNNC_OK;
}

size_t cnnc_tensor_list_size(const cnnc_tensor_list *l) {
    if (!l) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "tensor_list_size(): argument 'l' is NULL"), 0;
    return l->n;
}

const char *cnnc_tensor_list_name(const cnnc_tensor_list *l, size_t i) {
    if (!l || i >= l->n)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "tensor_list_name(): index %zu out of range", i);
    return l->names[i];
}

cnnc_tensor *cnnc_tensor_list_get(const cnnc_tensor_list *l, size_t i) {
    if (!l || i >= l->n)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "tensor_list_get(): index %zu out of range", i);
    return l->tensors[i];
}

cnnc_tensor *cnnc_tensor_list_find(const cnnc_tensor_list *l, const char *name) {
    CNNC__NONNULL_OR_NULL("tensor_list_find", l);
    CNNC__NONNULL_OR_NULL("tensor_list_find", name);
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0) return l->tensors[i];
    return cnnc__error_null(CNNC_ERR_NOT_FOUND, "tensor_list_find(): no entry named '%s'", name);
}
