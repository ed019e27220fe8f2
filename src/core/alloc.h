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
/* Large blocks (tensor storage): like cnnc__malloc / cnnc__free, but a block of at
 * least CNNC__BLOCK_MIN bytes freed here is kept (up to CNNC__BLOCK_CACHE_BYTES in
 * all, up to 512 blocks) and handed out again to a later request of about its size,
 * so a steady state (the same shapes every step) allocates nothing and never touches
 * fresh pages: on some systems (virtual machines returning freed memory to the host)
 * the first write to a fresh page costs more than the op that writes it.
 * cnnc__block_alloc returns a block of *cap >= bytes bytes (NULL on failure);
 * cnnc__block_free takes that block and that capacity. Thread-safe. The cache is
 * emptied when the allocator changes and by cnnc__block_cache_clear; with an allocator
 * of the caller's (cnnc_set_allocator) nothing is cached. */
enum { CNNC__BLOCK_MIN = 1 << 18 };
#define CNNC__BLOCK_CACHE_BYTES ((size_t)1 << 30)
void *cnnc__block_alloc(size_t bytes, size_t *cap);
void cnnc__block_free(void *ptr, size_t cap);
void cnnc__block_cache_clear(void);
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
/* PyTorch's size arithmetic (c10::multiply_integers, sums of sizes) wraps around in
 * two's complement: flatten of an empty [0, 2^62, 4] from dim 1 is [0, 0], three [0, 2^62]
 * concatenated along dim 1 are [0, -2^62] (then refused as a negative dimension). These
 * give the same values without signed overflow (unsigned arithmetic, then the
 * implementation-defined, modulo, conversion). Only for sizes of empty tensors, whose
 * loops never run: a non-empty tensor's sizes multiply to at most its numel. */
static inline int64_t cnnc__wrap_mul(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a * (uint64_t)b);
}
static inline int64_t cnnc__wrap_add(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}
/* The product of shape[from..to) with that wrap-around (1 for an empty range). */
static inline int64_t cnnc__wrap_prod(const int64_t *shape, int from, int to) {
    uint64_t p = 1;
    for (int i = from; i < to; i++) p *= (uint64_t)shape[i];
    return (int64_t)p;
}
static inline bool cnnc__mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
/* x rounded up to a multiple of 16: float counts that keep the slices of one workspace
 * 64-byte aligned. */
static inline size_t cnnc__round16(size_t x) { return (x + 15) & ~(size_t)15; }
#endif
