/* One replaceable allocator for every allocation the library makes, so tests can
 * fail the N-th allocation and check every failure path (as SQLite does). */
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "cnnc.h"

static void *default_alloc(void *ctx, size_t size) {
    (void)ctx;
    return malloc(size);
}
static void default_free(void *ctx, void *ptr) {
    (void)ctx;
    free(ptr);
}

static cnnc_allocator current = {default_alloc, default_free, NULL};

void cnnc_set_allocator(const cnnc_allocator *allocator) {
    if (allocator && allocator->alloc && allocator->free)
        current = *allocator;
    else
        current = (cnnc_allocator){default_alloc, default_free, NULL};
}

void *cnnc__malloc(size_t size) { return current.alloc(current.ctx, size ? size : 1); }

void *cnnc__calloc(size_t count, size_t size) {
    size_t bytes;
    if (!cnnc__mul_size(count, size, &bytes)) return NULL;
    void *p = cnnc__malloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void cnnc__free(void *ptr) {
    if (ptr) current.free(current.ctx, ptr);
}

void cnnc_free(void *ptr) { cnnc__free(ptr); }

bool cnnc__grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t new_cap = *cap ? *cap : 8;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2) return false;
        new_cap *= 2;
    }
    size_t bytes;
    if (!cnnc__mul_size(new_cap, elem, &bytes)) return false;
    void *p = cnnc__malloc(bytes);
    if (!p) return false;
    if (*buf) {
        memcpy(p, *buf, *cap * elem);
        cnnc__free(*buf);
    }
    *buf = p;
    *cap = new_cap;
    return true;
}

char *cnnc__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = cnnc__malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
