/* The thread pool behind cnnc__parallel_for.
 *
 * cnnc runs its own small pthread pool rather than OpenMP: it shares the process
 * with PyTorch's libgomp in the conformance tests, and it must keep working in a
 * child after fork() (libgomp's pool does not survive a fork). Chunks are static
 * and contiguous, so results never depend on the thread count or on timing. */
#include "core/parallel.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnc.h"
#include "core/alloc.h"
#include "core/error.h"

static _Thread_local bool in_parallel = false;
static _Thread_local void *ws_raw = NULL; /* per-thread workspace (allocation base) */
static _Thread_local size_t ws_bytes = 0; /* usable bytes from the aligned pointer */

static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 256 ? 256 : (int)n);
}

static atomic_int wanted_threads = 0; /* 0: not set yet, use default_threads() */

int cnnc__parallel_threads(void) {
    int n = atomic_load(&wanted_threads);
    return n > 0 ? n : default_threads();
}

int cnnc_get_num_threads(void) { return cnnc__parallel_threads(); }

static void run_chunk(cnnc__range_fn fn, void *ctx, int64_t n, int nchunks, int i) {
    int64_t begin = n * i / nchunks, end = n * (i + 1) / nchunks;
    if (begin < end) fn(ctx, begin, end, i);
}

static int chunks_for(int64_t n, int64_t grain, int threads) {
    if (grain < 1) grain = 1;
    int64_t by_grain = (n + grain - 1) / grain;
    return by_grain < threads ? (int)by_grain : threads;
}

#if defined(CNNC_USE_PTHREADS)
#include <pthread.h>

/* One job at a time; a second caller (another user thread) runs inline. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_t *threads; /* [nworkers] */
    int nworkers;
    bool stop;
    /* the current job */
    uint64_t generation;
    cnnc__range_fn fn;
    void *ctx;
    int64_t n;
    int nchunks;
    atomic_int pending;          /* workers still running chunks of this generation */
    atomic_uint_fast64_t posted; /* generation, readable without the lock (spinning) */
    /* the generation when the current workers were started: a new worker must not
     * mistake the last job before it for a new one */
    uint64_t spawn_generation;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static atomic_flag pool_busy = ATOMIC_FLAG_INIT;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Waking a sleeping thread costs tens of microseconds, more than many ops take
 * per chunk; so a waiting thread first spins this long (short, so an idle pool
 * leaves the CPU to other work, PyTorch's threads included). */
enum { SPIN_NS = 50000 };

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins until *v != old (returns true) or SPIN_NS pass (false). */
static bool spin_while_u64(atomic_uint_fast64_t *v, uint64_t old) {
    int64_t start = now_ns();
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) != old) return true;
        cpu_relax();
        if ((i & 63) == 0 && now_ns() - start > SPIN_NS) return false;
    }
}

static bool spin_while_positive(atomic_int *v) {
    int64_t start = now_ns();
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) <= 0) return true;
        cpu_relax();
        if ((i & 63) == 0 && now_ns() - start > SPIN_NS) return false;
    }
}

/* arg is the chunk index this worker runs: 1..nworkers */
static void *worker_main(void *arg) {
    int index = (int)(intptr_t)arg;
    in_parallel = true;
    pthread_mutex_lock(&pool.mu);
    uint64_t seen = pool.spawn_generation;
    for (;;) {
        if (!pool.stop && pool.generation == seen) {
            pthread_mutex_unlock(&pool.mu);
            spin_while_u64(&pool.posted, seen);
            pthread_mutex_lock(&pool.mu);
        }
        while (!pool.stop && pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        if (pool.stop) break;
        seen = pool.generation;
        cnnc__range_fn fn = pool.fn;
        void *ctx = pool.ctx;
        int64_t n = pool.n;
        int nchunks = pool.nchunks;
        pthread_mutex_unlock(&pool.mu);
        if (index < nchunks) run_chunk(fn, ctx, n, nchunks, index);
        if (atomic_fetch_sub(&pool.pending, 1) == 1) { /* the last one wakes the caller */
            pthread_mutex_lock(&pool.mu);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
        pthread_mutex_lock(&pool.mu);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static void stop_workers(void) {
    if (pool.nworkers == 0) return;
    pthread_mutex_lock(&pool.mu);
    pool.stop = true;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.nworkers; i++) pthread_join(pool.threads[i], NULL);
    cnnc__free(pool.threads);
    pool.threads = NULL;
    pool.nworkers = 0;
    pool.stop = false;
}

/* Starts nworkers threads; on failure keeps however many started. */
static void start_workers(int nworkers) {
    pthread_mutex_lock(&pool.mu);
    pool.spawn_generation = pool.generation;
    pthread_mutex_unlock(&pool.mu);
    pool.threads = cnnc__calloc((size_t)nworkers, sizeof(pthread_t));
    if (!pool.threads) return;
    for (int i = 0; i < nworkers; i++) {
        if (pthread_create(&pool.threads[i], NULL, worker_main, (void *)(intptr_t)(i + 1)) != 0)
            break;
        pool.nworkers++;
    }
}

/* fork(): hold the pool lock across it; the child has none of the workers, so
 * it forgets them and starts new ones on its next parallel_for. */
static void atfork_prepare(void) { pthread_mutex_lock(&pool.mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void atfork_child(void) {
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.threads = NULL; /* the array belongs to the parent's threads; leave it */
    pool.nworkers = 0;
    pool.stop = false;
    atomic_store(&pool.pending, 0);
    atomic_flag_clear(&pool_busy);
}
static void install_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

void cnnc__parallel_for(int64_t n, int64_t grain, cnnc__range_fn fn, void *ctx) {
    if (n <= 0) return;
    int threads = cnnc__parallel_threads();
    int nchunks = chunks_for(n, grain, threads);
    if (nchunks <= 1 || in_parallel || atomic_flag_test_and_set(&pool_busy)) {
        /* Inline, but still in the same chunks so results match the threaded run. */
        bool was = in_parallel;
        in_parallel = true;
        for (int i = 0; i < nchunks; i++) run_chunk(fn, ctx, n, nchunks, i);
        in_parallel = was;
        return;
    }
    pthread_once(&atfork_once, install_atfork);
    if (pool.nworkers != threads - 1) {
        stop_workers();
        start_workers(threads - 1);
    }
    int helpers = pool.nworkers < nchunks - 1 ? pool.nworkers : nchunks - 1;
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.nchunks = nchunks;
    atomic_store(&pool.pending, pool.nworkers);
    pool.generation++;
    atomic_store_explicit(&pool.posted, pool.generation, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    in_parallel = true;
    run_chunk(fn, ctx, n, nchunks, 0);
    /* chunks no worker could take (thread creation failed) run here */
    for (int i = helpers + 1; i < nchunks; i++) run_chunk(fn, ctx, n, nchunks, i);
    in_parallel = false;

    if (!spin_while_positive(&pool.pending)) {
        pthread_mutex_lock(&pool.mu);
        while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.done, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
    }
    atomic_flag_clear(&pool_busy);
}

cnnc_status cnnc_set_num_threads(int n) {
    if (n < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "set_num_threads(): number of threads must be positive, got %d", n);
    while (atomic_flag_test_and_set(&pool_busy)) { /* a parallel_for is running */ }
    atomic_store(&wanted_threads, n);
    if (pool.nworkers != n - 1) stop_workers();
    atomic_flag_clear(&pool_busy);
    return CNNC_OK;
}

#else /* no threads: everything inline */

void cnnc__parallel_for(int64_t n, int64_t grain, cnnc__range_fn fn, void *ctx) {
    if (n <= 0) return;
    int nchunks = chunks_for(n, grain, cnnc__parallel_threads());
    bool was = in_parallel;
    in_parallel = true;
    for (int i = 0; i < nchunks; i++) run_chunk(fn, ctx, n, nchunks, i);
    in_parallel = was;
}

cnnc_status cnnc_set_num_threads(int n) {
    if (n < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "set_num_threads(): number of threads must be positive, got %d", n);
    atomic_store(&wanted_threads, n);
    return CNNC_OK;
}
#endif

void *cnnc__workspace(size_t bytes) {
    if (ws_raw && bytes <= ws_bytes) return (void *)(((uintptr_t)ws_raw + 63) & ~(uintptr_t)63);
    if (bytes > SIZE_MAX - 64) {
        cnnc__oom("a workspace");
        return NULL;
    }
    void *raw = cnnc__malloc(bytes + 64);
    if (!raw) {
        cnnc__oom("a workspace");
        return NULL;
    }
    cnnc__free(ws_raw);
    ws_raw = raw;
    ws_bytes = bytes;
    return (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
}

void cnnc_thread_cleanup(void) {
    cnnc__free(ws_raw);
    ws_raw = NULL;
    ws_bytes = 0;
}
