/* Packed convolution weights kept between inference calls (ops/conv.h).
 *
 * An entry is immutable once published: the source filters it was made from, and
 * their packed transform. A caller takes a reference under one global spin lock (a
 * pointer load and an increment), checks the entry against its own filters outside
 * the lock, and either uses it or builds a new one, which replaces the old in the
 * cache; the old is freed by its last user. So concurrent callers of one module
 * never wait on each other's packing, and none sees a half-built entry. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/parallel.h"
#include "core/spinlock.h"
#include "ops/conv.h"

struct cnnc__conv_wentry {
    atomic_int refs;
    cnnc__conv_wkey key;
    size_t w_floats, s_floats, packed_floats;
    uint64_t wid, wver; /* the source's (cnnc__conv_wsource) */
    float *w_src;  /* [w_floats]: the filters the packing was made from */
    float *s_src;  /* [s_floats]: and their output channels' scales (none: 0 floats) */
    float *packed; /* [packed_floats], 64-byte aligned */
    void *raw;     /* the allocation holding both */
};

/* One lock for every cache: its sections are a few instructions, and fork can hold it
 * (pthread_atfork) without knowing the modules. */
static cnnc__spinlock cache_lock;

#if defined(CNNC_USE_PTHREADS)
#include <pthread.h>
static void lock_for_fork(void) { cnnc__spin_lock(&cache_lock); }
static void unlock_after_fork(void) { cnnc__spin_unlock(&cache_lock); }
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork); }
#endif

bool cnnc__conv_wcache_enabled(void) {
    const char *v = getenv("CNNC_WEIGHT_CACHE");
    return !(v && strcmp(v, "0") == 0);
}

void cnnc__conv_wentry_release(cnnc__conv_wentry *e) {
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        cnnc__free(e->raw);
        cnnc__free(e);
    }
}

void cnnc__conv_wcache_clear(cnnc__conv_wcache *c) {
    for (int k = 0; k < CNNC__CONV_WCACHE_KINDS; k++) {
        cnnc__spin_lock(&cache_lock);
        cnnc__conv_wentry *e = c->entry[k];
        c->entry[k] = NULL;
        cnnc__spin_unlock(&cache_lock);
        cnnc__conv_wentry_release(e);
    }
}

static bool same_key(const cnnc__conv_wkey *a, const cnnc__conv_wkey *b) {
    return a->isa == b->isa && a->tile == b->tile && a->c == b->c && a->m == b->m &&
           a->groups == b->groups;
}

enum { CMP_PIECE = 1 << 16 }; /* floats a thread compares at a time */

typedef struct cmp_job {
    const float *a, *b;
    size_t n;
    atomic_bool differ;
} cmp_job;

static cnnc_status cmp_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)chunk;
    cmp_job *j = ctx;
    for (int64_t i = begin; i < end && !atomic_load_explicit(&j->differ, memory_order_relaxed); i++) {
        const size_t at = (size_t)i * CMP_PIECE, len = j->n - at < CMP_PIECE ? j->n - at : CMP_PIECE;
        if (memcmp(j->a + at, j->b + at, len * sizeof(float)) != 0)
            atomic_store_explicit(&j->differ, true, memory_order_relaxed);
    }
    return CNNC_OK;
}

/* a[0 .. n) == b[0 .. n) bitwise, over the threads (a wide layer's filters are
 * megabytes: one thread comparing them took 2-7% of a network's inference at 2 threads
 * while the other waited) */
static bool same_floats(const float *a, const float *b, size_t n) {
    cmp_job j = {a, b, n, false};
    const double piece = CMP_PIECE;
    if (cnnc__parallel_for((int64_t)((n + CMP_PIECE - 1) / CMP_PIECE),
                           (cnnc__cost){.flops = piece, .bytes = 8.0 * piece}, cmp_range,
                           &j) != CNNC_OK)
        return false;
    return !atomic_load(&j.differ);
}

/* Does e hold a packing of the source src? */
static bool same_source(const cnnc__conv_wentry *e, const cnnc__conv_wkey *key,
                        const cnnc__conv_wsource *src) {
    const size_t s_floats = src->s ? src->s_floats : 0;
    const bool vouched = src->wid && e->wid == src->wid && e->wver == src->wver;
    return same_key(&e->key, key) && e->w_floats == src->w_floats && e->s_floats == s_floats &&
           (vouched || same_floats(e->w_src, src->w, src->w_floats)) &&
           (!s_floats || memcmp(e->s_src, src->s, s_floats * sizeof(float)) == 0);
}

/* A new entry (one reference) holding a copy of src, or NULL. */
static cnnc__conv_wentry *entry_new(const cnnc__conv_wkey *key, const cnnc__conv_wsource *src,
                                    size_t packed_floats) {
    cnnc__conv_wentry *e = cnnc__malloc(sizeof *e);
    const size_t w_floats = src->w_floats, s_floats = src->s ? src->s_floats : 0;
    size_t bytes;
    if (!e || __builtin_add_overflow(w_floats, packed_floats, &bytes) ||
        __builtin_add_overflow(bytes, s_floats, &bytes) ||
        !cnnc__mul_size(bytes, sizeof(float), &bytes) || __builtin_add_overflow(bytes, 64, &bytes) ||
        !(e->raw = cnnc__malloc(bytes))) {
        cnnc__free(e);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    e->key = *key;
    e->w_floats = w_floats;
    e->s_floats = s_floats;
    e->packed_floats = packed_floats;
    e->wid = src->wid;
    e->wver = src->wver;
    e->packed = (float *)(((uintptr_t)e->raw + 63) & ~(uintptr_t)63);
    e->w_src = e->packed + packed_floats;
    e->s_src = e->w_src + w_floats;
    memcpy(e->w_src, src->w, w_floats * sizeof(float));
    if (s_floats) memcpy(e->s_src, src->s, s_floats * sizeof(float));
    return e;
}

cnnc__conv_wentry *cnnc__conv_wcache_get(cnnc__conv_wcache *c, const cnnc__conv_wkey *key,
                                         const cnnc__conv_wsource *src, size_t packed_floats,
                                         cnnc__conv_wpack pack, const void *pack_ctx,
                                         const float **packed) {
#if defined(CNNC_USE_PTHREADS)
    pthread_once(&atfork_once, install_atfork);
#endif
    cnnc__conv_wentry **slot = &c->entry[key->tile / 2 % CNNC__CONV_WCACHE_KINDS];
    cnnc__spin_lock(&cache_lock);
    cnnc__conv_wentry *e = *slot;
    if (e) atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    cnnc__spin_unlock(&cache_lock);
    if (e && same_source(e, key, src)) {
        *packed = e->packed;
        return e;
    }
    cnnc__conv_wentry_release(e);
    if (!(e = entry_new(key, src, packed_floats))) return NULL; /* the caller packs */
    if (!pack(pack_ctx, e->packed)) {
        cnnc__conv_wentry_release(e);
        return NULL;
    }
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed); /* the cache's */
    cnnc__spin_lock(&cache_lock);
    cnnc__conv_wentry *old = *slot;
    *slot = e;
    cnnc__spin_unlock(&cache_lock);
    cnnc__conv_wentry_release(old);
    *packed = e->packed;
    return e;
}
