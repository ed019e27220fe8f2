/* One replaceable allocator for every allocation the library makes, so tests can
 * fail the N-th allocation and check every failure path (as SQLite does). */
#include "core/alloc.h"

#ifdef CNNC_USE_PTHREADS
#include <pthread.h>
#endif

#include <stdatomic.h>
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
    cnnc__block_cache_clear(); /* its blocks came from the old allocator */
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

/* ---- the block cache ------------------------------------------------------------- */

/* a training step of a deep network frees a few hundred blocks (MobileNetV2 at batch 8:
 * ~150 over 256 KB; with 64 slots the rest were freed and every step faulted ~20 MB of
 * fresh pages back in) */
enum { BLOCK_SLOTS = 512 };

static struct {
    atomic_flag lock;
    int n;
    size_t bytes;
    void *ptr[BLOCK_SLOTS];
    size_t cap[BLOCK_SLOTS];
} blocks = {ATOMIC_FLAG_INIT, 0, 0, {0}, {0}};

static void blocks_lock(void) {
    while (atomic_flag_test_and_set_explicit(&blocks.lock, memory_order_acquire)) {
    }
}
static void blocks_unlock(void) { atomic_flag_clear_explicit(&blocks.lock, memory_order_release); }

/* fork(): the lock is held across it, so the child's copy of the cache is whole and
 * its lock free (a thread spinning in it at the fork does not exist in the child). */
#ifdef CNNC_USE_PTHREADS
static void blocks_atfork_install(void) { pthread_atfork(blocks_lock, blocks_unlock, blocks_unlock); }
static pthread_once_t blocks_atfork_once = PTHREAD_ONCE_INIT;
#endif

/* Only blocks of the default allocator are cached: a caller's own allocator sees
 * every allocation and free (the failure-injection tests count them). */
static bool caching(void) {
#ifdef CNNC_USE_PTHREADS
    pthread_once(&blocks_atfork_once, blocks_atfork_install);
#endif
    return current.alloc == default_alloc;
}

void *cnnc__block_alloc(size_t bytes, size_t *cap) {
    if (bytes >= CNNC__BLOCK_MIN && caching()) {
        /* the smallest cached block that fits without wasting more than a quarter */
        const size_t most = bytes + bytes / 4;
        void *p = NULL;
        blocks_lock();
        int best = -1;
        for (int i = 0; i < blocks.n; i++)
            if (blocks.cap[i] >= bytes && blocks.cap[i] <= most &&
                (best < 0 || blocks.cap[i] < blocks.cap[best]))
                best = i;
        if (best >= 0) {
            p = blocks.ptr[best];
            *cap = blocks.cap[best];
            blocks.bytes -= blocks.cap[best];
            blocks.n--;
            blocks.ptr[best] = blocks.ptr[blocks.n];
            blocks.cap[best] = blocks.cap[blocks.n];
        }
        blocks_unlock();
        if (p) return p;
    }
    *cap = bytes;
    return cnnc__malloc(bytes);
}

void cnnc__block_free(void *ptr, size_t cap) {
    if (!ptr) return;
    if (cap >= CNNC__BLOCK_MIN && cap <= CNNC__BLOCK_CACHE_BYTES && caching()) {
        void *evict = NULL;
        blocks_lock();
        /* full: the oldest block makes room (blocks are swapped in at the end) */
        if (blocks.n == BLOCK_SLOTS || blocks.bytes + cap > CNNC__BLOCK_CACHE_BYTES) {
            if (blocks.n > 0) {
                evict = blocks.ptr[0];
                blocks.bytes -= blocks.cap[0];
                blocks.n--;
                blocks.ptr[0] = blocks.ptr[blocks.n];
                blocks.cap[0] = blocks.cap[blocks.n];
            }
        }
        const bool keep = blocks.n < BLOCK_SLOTS && blocks.bytes + cap <= CNNC__BLOCK_CACHE_BYTES;
        if (keep) {
            blocks.ptr[blocks.n] = ptr;
            blocks.cap[blocks.n] = cap;
            blocks.n++;
            blocks.bytes += cap;
        }
        blocks_unlock();
        cnnc__free(evict);
        if (keep) return;
    }
    cnnc__free(ptr);
}

void cnnc__block_cache_clear(void) {
    for (;;) {
        void *p = NULL;
        blocks_lock();
        if (blocks.n > 0) {
            blocks.n--;
            p = blocks.ptr[blocks.n];
            blocks.bytes -= blocks.cap[blocks.n];
        }
        blocks_unlock();
        if (!p) return;
        cnnc__free(p);
    }
}
