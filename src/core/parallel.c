/* The threading driver and the thread pool behind it.
 *
 * cnnc runs its own small pthread pool rather than OpenMP: it shares the process
 * with PyTorch's libgomp in the conformance tests, and it must keep working in a
 * child after fork() (libgomp's pool does not survive a fork). Chunks are static
 * and contiguous (which thread runs one is not: the first to claim it), so results
 * never depend on the thread count or on timing. */
#include "core/parallel.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

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

/* ---- the grain rule --------------------------------------------------------------- */

cnnc__par cnnc__par_plan(int64_t n, cnnc__cost item, int threads) {
    cnnc__par p = {n > 0 ? n : 0, 1};
    int64_t most = threads < 1 ? 1 : threads;
    if (most > p.n) most = p.n;
    if (most <= 1) return p;
    /* in double: n * cost may exceed int64_t for huge (valid) sizes */
    const double item_ns = item.flops / CNNC__FLOPS_PER_NS + item.bytes / CNNC__BYTES_PER_NS;
    const double chunk_ns = CNNC__MIN_CHUNK_NS + item.chunk_bytes / CNNC__BYTES_PER_NS;
    const double chunks = (double)p.n * item_ns / chunk_ns;
    p.chunks = chunks >= (double)most ? (int)most : (chunks >= 1.0 ? (int)chunks : 1);
    return p;
}

/* ---- regions ---------------------------------------------------------------------- */

enum { MESSAGE_CAP = 1024 };

/* One region in flight: the plan, the function, and the first failure. */
typedef struct region {
    cnnc__range_fn fn;
    void *ctx;
    int64_t n;
    int chunks;
    bool shared; /* chunks run on several threads: failures are recorded under a lock */
    int failed;  /* the lowest failed chunk, or chunks when none failed */
    cnnc_status status;
    char message[MESSAGE_CAP];
    atomic_int done; /* chunks finished (on the pool) */
} region;

static void region_init(region *r, cnnc__par plan, cnnc__range_fn fn, void *ctx) {
    r->fn = fn;
    r->ctx = ctx;
    r->n = plan.n;
    r->chunks = plan.chunks;
    r->shared = false;
    r->failed = plan.chunks;
    r->status = CNNC_OK;
    r->message[0] = '\0';
    atomic_init(&r->done, 0);
}

static void lock_failures(void);
static void unlock_failures(void);

/* Runs chunk i; a failure is kept if it is the lowest so far (with the message of
 * the thread that ran it). Returns whether it succeeded. */
static bool run_chunk(region *r, int i) {
    /* balanced: the first n % chunks chunks get one item more (no overflow) */
    const int64_t q = r->n / r->chunks, rem = r->n % r->chunks;
    const int64_t begin = (int64_t)i * q + (i < rem ? i : rem);
    const int64_t end = begin + q + (i < rem ? 1 : 0);
    if (begin >= end) return true;
    cnnc_status st = r->fn(r->ctx, begin, end, i);
    if (st == CNNC_OK) return true;
    if (r->shared) lock_failures();
    if (i < r->failed) {
        r->failed = i;
        r->status = st;
        snprintf(r->message, sizeof r->message, "%s", cnnc_last_error());
    }
    if (r->shared) unlock_failures();
    return false;
}

/* The caller's result: its own error set to the lowest failure's. */
static cnnc_status region_result(const region *r) {
    if (r->failed == r->chunks) return CNNC_OK;
    return cnnc__error(r->status, "%s", r->message);
}

/* All chunks in order on the calling thread (stopping at the first failure: no
 * lower chunk can fail after it). */
static cnnc_status run_inline(region *r) {
    bool was = in_parallel;
    in_parallel = true;
    for (int i = 0; i < r->chunks && run_chunk(r, i); i++) {
    }
    in_parallel = was;
    return region_result(r);
}

cnnc_status cnnc__parallel_for(int64_t n, cnnc__cost item, cnnc__range_fn fn, void *ctx) {
    return cnnc__par_run(cnnc__par_plan(n, item, cnnc__parallel_threads()), fn, ctx);
}

void cnnc_thread_cleanup(void);

#if defined(CNNC_USE_PTHREADS)
#include <pthread.h>

/* One region at a time owns the pool (owner); another caller's region runs inline. */
static struct {
    pthread_mutex_t owner; /* held by the thread whose region uses the pool */
    pthread_mutex_t mu;    /* the fields below */
    pthread_cond_t wake, done;
    pthread_t *threads; /* [nworkers] */
    int nworkers;
    bool stop;
    /* the current region */
    uint64_t generation;
    region *job;
    /* its chunks still to claim: the generation's low 32 bits, the chunk count (16
     * bits) and the next chunk (16 bits), so that a late worker sees from this word
     * alone whether a chunk is left (and only then reads job) */
    atomic_uint_fast64_t claim;
    atomic_uint_fast64_t posted; /* generation, readable without the lock (spinning) */
    /* the generation when the current workers were started: a new worker must not
     * mistake the last job before it for a new one */
    uint64_t spawn_generation;
} pool = {.owner = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void lock_failures(void) { pthread_mutex_lock(&pool.mu); }
static void unlock_failures(void) { pthread_mutex_unlock(&pool.mu); }

/* Waking a sleeping thread costs tens of microseconds, more than many ops take
 * per chunk; so a waiting thread first spins this long (short, so an idle pool
 * leaves the CPU to other work, PyTorch's threads included). Long enough to span the
 * single-threaded ops between a model's parallel regions: on a virtual machine whose
 * host shortens its halt polling after idle periods, 50 us let the worker sleep
 * between them and LeNet-5 inference at 2 threads took 3.0 ms for its first 20 runs
 * after a 0.3 s pause (1.0 ms with 200 us). */
enum { SPIN_NS = 200000 };

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

/* Runs chunks of region r (posted as generation gen) while any is left to claim; the
 * thread finishing the last one wakes the region's caller. Chunks go to whichever
 * thread claims them first, so a worker that wakes late (a sleeping thread on a busy
 * or virtual machine can take milliseconds) holds nobody up: the caller runs what is
 * left. Results do not change: a chunk computes the same whichever thread runs it.
 * (Measured: LeNet-5's training step at 2 threads after a 0.2 s pause took 14.6 ms
 * with each worker's chunk fixed, 3.95 ms so; 2.1 ms back to back.) */
static void claim_chunks(region *r, uint64_t gen) {
    uint_fast64_t w = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        const unsigned chunks = (unsigned)(w >> 16) & 0xFFFFu, next = (unsigned)w & 0xFFFFu;
        if ((uint32_t)(w >> 32) != (uint32_t)gen || next >= chunks) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.claim, &w, w + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        run_chunk(r, (int)next);
        if (atomic_fetch_add_explicit(&r->done, 1, memory_order_acq_rel) + 1 == (int)chunks) {
            pthread_mutex_lock(&pool.mu); /* (r may be gone once done is seen complete) */
            pthread_cond_broadcast(&pool.done);
            pthread_mutex_unlock(&pool.mu);
            return;
        }
        w = atomic_load_explicit(&pool.claim, memory_order_acquire);
    }
}

/* The worker frees its thread-local memory when it exits (the pool is resized or
 * stopped). */
static void *worker_main(void *arg) {
    (void)arg;
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
        region *r = pool.job;
        pthread_mutex_unlock(&pool.mu);
        claim_chunks(r, seen);
        pthread_mutex_lock(&pool.mu);
    }
    pthread_mutex_unlock(&pool.mu);
    cnnc_thread_cleanup();
    return NULL;
}

/* With pool.owner held. */
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

/* With pool.owner held. Starts nworkers threads; on failure keeps however many
 * started (their chunks then run on the caller). */
static void start_workers(int nworkers) {
    pthread_mutex_lock(&pool.mu);
    pool.spawn_generation = pool.generation;
    pthread_mutex_unlock(&pool.mu);
    if (nworkers < 1) return;
    pool.threads = cnnc__calloc((size_t)nworkers, sizeof(pthread_t));
    if (!pool.threads) return;
    for (int i = 0; i < nworkers; i++) {
        if (pthread_create(&pool.threads[i], NULL, worker_main, (void *)(intptr_t)(i + 1)) != 0)
            break;
        pool.nworkers++;
    }
}

/* fork(): hold the pool lock across it; the child has none of the workers (nor the
 * thread that owned the pool, if another did), so it forgets them and starts new
 * ones on its next region. */
static void atfork_prepare(void) { pthread_mutex_lock(&pool.mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void atfork_child(void) {
    pthread_mutex_init(&pool.owner, NULL);
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    cnnc__free(pool.threads); /* the child's copy of the parent's array: those threads are not here */
    pool.threads = NULL;
    pool.nworkers = 0;
    pool.stop = false;
    atomic_store(&pool.claim, 0);
}
static void install_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

static bool spin_while_below(atomic_int *v, int target) {
    int64_t start = now_ns();
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(v, memory_order_acquire) >= target) return true;
        cpu_relax();
        if ((i & 63) == 0 && now_ns() - start > SPIN_NS) return false;
    }
}

/* With pool.owner held: posts r to the workers, claims chunks with them, waits for
 * the ones they run. */
static void run_on_pool(region *r) {
    const int threads = cnnc__parallel_threads();
    if (pool.nworkers != threads - 1) {
        stop_workers();
        start_workers(threads - 1);
    }
    r->shared = true;
    pthread_mutex_lock(&pool.mu);
    pool.job = r;
    pool.generation++;
    atomic_store_explicit(&pool.claim,
                          (uint_fast64_t)(uint32_t)pool.generation << 32 | (uint_fast64_t)r->chunks << 16,
                          memory_order_release);
    atomic_store_explicit(&pool.posted, pool.generation, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    const uint64_t gen = pool.generation;
    pthread_mutex_unlock(&pool.mu);

    in_parallel = true;
    claim_chunks(r, gen); /* every chunk, when no worker takes one */
    in_parallel = false;

    if (!spin_while_below(&r->done, r->chunks)) {
        pthread_mutex_lock(&pool.mu);
        while (atomic_load(&r->done) < r->chunks) pthread_cond_wait(&pool.done, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
    }
}

cnnc_status cnnc__par_run(cnnc__par plan, cnnc__range_fn fn, void *ctx) {
    if (plan.n <= 0) return CNNC_OK;
    region r;
    region_init(&r, plan, fn, ctx);
    if (plan.chunks <= 1 || plan.chunks > 0xFFFF || in_parallel || pthread_mutex_trylock(&pool.owner) != 0)
        return run_inline(&r); /* the same chunks, so results match the threaded run */
    pthread_once(&atfork_once, install_atfork);
    run_on_pool(&r);
    pthread_mutex_unlock(&pool.owner);
    return region_result(&r);
}

cnnc_status cnnc_set_num_threads(int n) {
    if (n < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "set_num_threads(): number of threads must be positive, got %d", n);
    atomic_store(&wanted_threads, n);
    /* Stop surplus workers now unless a region is running (its owner, or the next
     * region, resizes the pool); never wait for a region. */
    if (!in_parallel && pthread_mutex_trylock(&pool.owner) == 0) {
        if (pool.nworkers != n - 1) stop_workers();
        pthread_mutex_unlock(&pool.owner);
    }
    return CNNC_OK;
}

/* Workspace of threads that exit without cnnc_thread_cleanup. */
static pthread_key_t ws_key;
static bool ws_key_ok = false;
static pthread_once_t ws_key_once = PTHREAD_ONCE_INIT;
static void free_at_exit(void *raw) { cnnc__free(raw); }
static void make_ws_key(void) { ws_key_ok = pthread_key_create(&ws_key, free_at_exit) == 0; }

static void track_workspace(void *raw) {
    pthread_once(&ws_key_once, make_ws_key);
    if (ws_key_ok) pthread_setspecific(ws_key, raw);
}

#else /* no threads: everything inline */

static void lock_failures(void) {}
static void unlock_failures(void) {}

cnnc_status cnnc__par_run(cnnc__par plan, cnnc__range_fn fn, void *ctx) {
    if (plan.n <= 0) return CNNC_OK;
    region r;
    region_init(&r, plan, fn, ctx);
    return run_inline(&r);
}

cnnc_status cnnc_set_num_threads(int n) {
    if (n < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "set_num_threads(): number of threads must be positive, got %d", n);
    atomic_store(&wanted_threads, n);
    return CNNC_OK;
}

static void track_workspace(void *raw) { (void)raw; }
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
    track_workspace(raw);
    return (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
}

void cnnc_thread_cleanup(void) {
    cnnc__free(ws_raw);
    ws_raw = NULL;
    ws_bytes = 0;
    track_workspace(NULL);
}
