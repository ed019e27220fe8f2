/* Ordered (name, tensor) lists: state_dicts and parameter listings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"

enum { TENSOR_LIST_MAGIC = 0x746c7374 }; /* "tlst" */

struct cnnc_tensor_list {
    uint32_t magic; /* TENSOR_LIST_MAGIC while alive: catches a second free */
    size_t n, cap;
    char **names;         /* [cap] owned */
    cnnc_tensor **tensors;/* [cap] owned references, NULL allowed */
    size_t n_meta, cap_meta;
    char **meta;          /* [2 * cap_meta] owned: key, value, key, value... */
};

cnnc_tensor_list *cnnc_tensor_list_new(void) {
    cnnc_tensor_list *l = cnnc__calloc(1, sizeof *l);
    if (!l) cnnc__oom("a tensor list");
    else l->magic = TENSOR_LIST_MAGIC;
    return l;
}

void cnnc_tensor_list_free(cnnc_tensor_list *l) {
    if (!l) return;
    if (l->magic != TENSOR_LIST_MAGIC) { /* a second free: stop before corrupting memory */
        fprintf(stderr, "cnnc: cnnc_tensor_list_free(%p): not a live tensor list (freed twice?)\n",
                (const void *)l);
        abort();
    }
    l->magic = 0;
    for (size_t i = 0; i < l->n; i++) {
        cnnc__free(l->names[i]);
        cnnc_tensor_release(l->tensors[i]);
    }
    for (size_t i = 0; i < 2 * l->n_meta; i++) cnnc__free(l->meta[i]);
    cnnc__free(l->names);
    cnnc__free(l->tensors);
    cnnc__free(l->meta);
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

/* ---- metadata: a string -> string map beside the tensors ------------------------ */

static char **meta_slot(const cnnc_tensor_list *l, const char *key) {
    for (size_t i = 0; i < l->n_meta; i++)
        if (strcmp(l->meta[2 * i], key) == 0) return &l->meta[2 * i];
    return NULL;
}

cnnc_status cnnc_tensor_list_set_meta(cnnc_tensor_list *l, const char *key, const char *value) {
    CNNC__NONNULL_OR_STATUS("tensor_list_set_meta", l);
    CNNC__NONNULL_OR_STATUS("tensor_list_set_meta", key);
    CNNC__NONNULL_OR_STATUS("tensor_list_set_meta", value);
    char *v = cnnc__strdup(value);
    if (!v) return cnnc__oom("a metadata value");
    char **slot = meta_slot(l, key);
    if (slot) {
        cnnc__free(slot[1]);
        slot[1] = v;
        return CNNC_OK;
    }
    char *k = cnnc__strdup(key);
    size_t cap = l->cap_meta;
    if (!k || !cnnc__grow((void **)&l->meta, &cap, l->n_meta + 1, 2 * sizeof *l->meta)) {
        cnnc__free(k);
        cnnc__free(v);
        return cnnc__oom("a metadata entry");
    }
    l->cap_meta = cap;
    l->meta[2 * l->n_meta] = k;
    l->meta[2 * l->n_meta + 1] = v;
    l->n_meta++;
    return CNNC_OK;
}

const char *cnnc_tensor_list_meta(const cnnc_tensor_list *l, const char *key) {
    CNNC__NONNULL_OR_NULL("tensor_list_meta", l);
    CNNC__NONNULL_OR_NULL("tensor_list_meta", key);
    char **slot = meta_slot(l, key);
    if (!slot)
        return cnnc__error_null(CNNC_ERR_NOT_FOUND, "tensor_list_meta(): no metadata key '%s'", key);
    return slot[1];
}

size_t cnnc_tensor_list_meta_size(const cnnc_tensor_list *l) {
    if (!l) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "tensor_list_meta_size(): argument 'l' is NULL"), 0;
    return l->n_meta;
}

cnnc_status cnnc_tensor_list_meta_at(const cnnc_tensor_list *l, size_t i, const char **key,
                                     const char **value) {
    if (!l || i >= l->n_meta)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "tensor_list_meta_at(): index %zu out of range", i);
    if (key) *key = l->meta[2 * i];
    if (value) *value = l->meta[2 * i + 1];
    return CNNC_OK;
}
