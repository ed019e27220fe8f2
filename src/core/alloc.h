/* Internal: the replaceable allocator and overflow-checked size arithmetic. */
#ifndef CNNC_CORE_ALLOC_H
#define CNNC_CORE_ALLOC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Through the current cnnc_allocator. NULL on failure (no error set: callers name
 * what they allocate with cnnc__oom). size 0 allocates a minimal block. */
void *cnnc__malloc(size_t size);
void *cnnc__calloc(size_t count, size_t size); /* overflow-checked, zeroed */
void cnnc__free(void *ptr);
/* Grows *buf (of *cap elements of elem bytes) to hold at least need elements. */
bool cnnc__grow(void **buf, size_t *cap, size_t need, size_t elem);
/* A copy of s through the allocator, or NULL. */
char *cnnc__strdup(const char *s);

/* false on overflow. */
static inline bool cnnc__mul_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool cnnc__add_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool cnnc__mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
#endif
