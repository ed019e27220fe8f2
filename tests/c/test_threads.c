/* Threads: the parallel-region driver (its grain rule, one thread count per region,
 * failures on pool threads carried back to the caller), worker memory, and cnnc used
 * from several user threads at once: eval forward through one module, training
 * separate modules, backward through shared parameters, the thread count changed
 * while others compute, fork while computing and while drawing random numbers.
 *
 * Every concurrent result is compared bit for bit with the same computation run
 * alone (results never depend on the thread count or on timing). The ThreadSanitizer
 * build (CNNC_TSAN, run by `make test`) runs this file and must report nothing. */
#define _POSIX_C_SOURCE 200809L /* fork, kill, nanosleep */
#include "check.h"

#include <cnnc.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/parallel.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif
/* AddressSanitizer's allocator (gcc 12) is not fork-safe: a child forked while
 * another thread is inside malloc deadlocks in the sanitizer's own lock. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
/* Loop counts: ThreadSanitizer runs code 5-15x slower. */
#define REPS(normal, tsan) (UNDER_TSAN ? (tsan) : (normal))

/* ---- a counting allocator (every thread) ------------------------------------------ */

static atomic_long live_blocks;

static void *counting_alloc(void *ctx, size_t size) {
    (void)ctx;
    void *p = malloc(size);
    if (p) atomic_fetch_add(&live_blocks, 1);
    return p;
}
static void counting_free(void *ctx, void *ptr) {
    (void)ctx;
    if (!ptr) return;
    atomic_fetch_sub(&live_blocks, 1);
    free(ptr);
}
static const cnnc_allocator counting = {counting_alloc, counting_free, NULL};

/* ---- helpers ---------------------------------------------------------------------- */

static cnnc_tensor *randn_seeded(uint64_t seed, int ndim, const int64_t *shape) {
    cnnc_manual_seed(seed);
    return cnnc_randn(ndim, shape);
}

static bool same_bits(cnnc_tensor *a, cnnc_tensor *b) {
    return a && b && cnnc_tensor_numel(a) == cnnc_tensor_numel(b) &&
           memcmp(cnnc_tensor_data_f32(a), cnnc_tensor_data_f32(b),
                  (size_t)cnnc_tensor_numel(a) * sizeof(float)) == 0;
}

static void start_threads(pthread_t *t, int n, void *(*fn)(void *), void *arg) {
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, fn, arg) != 0) abort();
}
static void join_threads(pthread_t *t, int n) {
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
}

/* ---- the driver ------------------------------------------------------------------- */

enum { MAX_ITEMS = 4096, MAX_CHUNKS = 64 };

typedef struct coverage {
    int64_t n;
    int chunks;
    atomic_int owner[MAX_ITEMS];   /* chunk that ran the item, -1 none */
    atomic_int calls[MAX_CHUNKS];  /* times each chunk ran */
    int64_t first[MAX_CHUNKS], last[MAX_CHUNKS];
} coverage;

static cnnc_status cover_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    coverage *c = ctx;
    if (chunk < 0 || chunk >= c->chunks)
        return cnnc__error(CNNC_ERR_RUNTIME, "chunk %d out of range", chunk);
    atomic_fetch_add(&c->calls[chunk], 1);
    c->first[chunk] = begin;
    c->last[chunk] = end;
    for (int64_t i = begin; i < end; i++) {
        int none = -1;
        if (!atomic_compare_exchange_strong(&c->owner[i], &none, chunk))
            return cnnc__error(CNNC_ERR_RUNTIME, "item %lld ran twice", (long long)i);
    }
    return CNNC_OK;
}

/* Runs a plan and checks the chunks: each ran once, in order, covering [0, n) with
 * contiguous ranges of sizes differing by at most one. */
static void check_plan_runs(cnnc__par plan) {
    static coverage c;
    memset(&c, 0, sizeof c);
    c.n = plan.n;
    c.chunks = plan.chunks;
    for (int64_t i = 0; i < plan.n; i++) atomic_init(&c.owner[i], -1);
    CHECK_OK(cnnc__par_run(plan, cover_range, &c));
    int64_t at = 0, lo = INT64_MAX, hi = 0;
    for (int k = 0; k < plan.chunks; k++) {
        CHECK_EQ_INT(atomic_load(&c.calls[k]), 1);
        CHECK_EQ_INT(c.first[k], at);
        at = c.last[k];
        int64_t len = c.last[k] - c.first[k];
        lo = len < lo ? len : lo;
        hi = len > hi ? len : hi;
    }
    CHECK_EQ_INT(at, plan.n);
    CHECK(hi - lo <= 1);
}

static void test_grain_rule(void) {
    /* flops per ns: an item of F flops costs F / CNNC__FLOPS_PER_NS ns */
    const double ns = CNNC__FLOPS_PER_NS;
    cnnc__par p = cnnc__par_plan(0, (cnnc__cost){.flops = 1e9}, 8);
    CHECK_EQ_INT(p.chunks, 1);
    p = cnnc__par_plan(-5, (cnnc__cost){.flops = 1e9}, 8);
    CHECK_EQ_INT(p.n, 0);
    CHECK_EQ_INT(p.chunks, 1);
    /* small work runs inline: 1000 items of 1 ns */
    p = cnnc__par_plan(1000, (cnnc__cost){.flops = ns}, 8);
    CHECK_EQ_INT(p.chunks, 1);
    /* 1000 items of 1 us: 1 ms, capped at the threads */
    p = cnnc__par_plan(1000, (cnnc__cost){.flops = 1000 * ns}, 8);
    CHECK_EQ_INT(p.chunks, 8);
    /* never more chunks than items */
    p = cnnc__par_plan(3, (cnnc__cost){.flops = 1e12}, 8);
    CHECK_EQ_INT(p.chunks, 3);
    /* 100 items of 1 us: 100 us of work makes floor(100 / 30) = 3 chunks of >= 30 us */
    p = cnnc__par_plan(100, (cnnc__cost){.flops = 1000 * ns}, 8);
    CHECK_EQ_INT(p.chunks, (int)(100000.0 / CNNC__MIN_CHUNK_NS));
    /* bytes count as flops do; a per-chunk cost makes chunks bigger */
    cnnc__par by_bytes = cnnc__par_plan(100, (cnnc__cost){.bytes = 1000 * CNNC__BYTES_PER_NS}, 8);
    CHECK_EQ_INT(by_bytes.chunks, p.chunks);
    p = cnnc__par_plan(1000, (cnnc__cost){.flops = 1000 * ns,
                                          .chunk_bytes = 4 * CNNC__MIN_CHUNK_NS * CNNC__BYTES_PER_NS},
                       64);
    CHECK_EQ_INT(p.chunks, (int)(1e6 / (5 * CNNC__MIN_CHUNK_NS)));
    /* huge sizes do not overflow */
    p = cnnc__par_plan(INT64_MAX, (cnnc__cost){.flops = 1e18}, 4);
    CHECK_EQ_INT(p.chunks, 4);
}

static void test_chunks_cover_the_items(void) {
    const int64_t sizes[] = {1, 2, 7, 64, 1000, 4096};
    const int threads[] = {1, 2, 3, 8};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        CHECK_OK(cnnc_set_num_threads(threads[t]));
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (double cost = 1; cost <= 1e7; cost *= 100)
                check_plan_runs(cnnc__par_plan(sizes[s], (cnnc__cost){.flops = cost}, threads[t]));
    }
    CHECK_OK(cnnc_set_num_threads(2));
}

/* Per-chunk scratch sized from a plan stays valid when the thread count changes
 * between planning and running (issue 9, item 1, at the mechanism). */
typedef struct scratch_job {
    int chunks;
    int *scratch; /* [chunks] */
    atomic_int ran;
} scratch_job;

static cnnc_status scratch_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    scratch_job *j = ctx;
    if (chunk >= j->chunks) return cnnc__error(CNNC_ERR_RUNTIME, "chunk %d beyond the plan", chunk);
    j->scratch[chunk] += (int)(end - begin);
    atomic_fetch_add(&j->ran, 1);
    return CNNC_OK;
}

static void test_region_keeps_its_thread_count(void) {
    const int pairs[][2] = {{8, 1}, {2, 8}, {3, 3}, {1, 4}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        CHECK_OK(cnnc_set_num_threads(pairs[i][0]));
        cnnc__par plan = cnnc__par_plan(100, (cnnc__cost){.flops = 1e9}, cnnc__parallel_threads());
        CHECK_EQ_INT(plan.chunks, pairs[i][0]);
        scratch_job j = {plan.chunks, calloc((size_t)plan.chunks, sizeof(int)), 0};
        REQUIRE(j.scratch);
        CHECK_OK(cnnc_set_num_threads(pairs[i][1]));
        CHECK_OK(cnnc__par_run(plan, scratch_range, &j));
        CHECK_EQ_INT(atomic_load(&j.ran), plan.chunks);
        int total = 0;
        for (int k = 0; k < plan.chunks; k++) total += j.scratch[k];
        CHECK_EQ_INT(total, 100);
        free(j.scratch);
    }
    CHECK_OK(cnnc_set_num_threads(2));
}

/* A chunk that fails on a pool thread fails the region, with its message. Threads
 * claim chunks as they come (the caller would take all four while the workers wake),
 * so with `hold` the caller's chunk waits until the workers have started the other
 * three: a failing chunk then runs on a pool thread. */
typedef struct fail_job {
    pthread_t caller;
    atomic_int on_other_thread; /* failing chunks that ran off the caller's thread */
    bool hold;
    atomic_int others; /* chunks started off the caller's thread */
} fail_job;

static cnnc_status failing_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)begin;
    (void)end;
    fail_job *j = ctx;
    const bool on_caller = pthread_equal(pthread_self(), j->caller);
    if (!on_caller)
        atomic_fetch_add(&j->others, 1);
    else if (j->hold)
        while (atomic_load(&j->others) < 3) {
        }
    if (chunk != 1 && chunk != 3) return CNNC_OK;
    if (!on_caller) atomic_fetch_add(&j->on_other_thread, 1);
    return cnnc__error(chunk == 1 ? CNNC_ERR_OUT_OF_MEMORY : CNNC_ERR_RUNTIME,
                       "chunk %d failed", chunk);
}

static void test_chunk_failure_reaches_the_caller(void) {
    for (int threads = 1; threads <= 4; threads++) {
        CHECK_OK(cnnc_set_num_threads(threads));
#if defined(CNNC_USE_PTHREADS)
        fail_job j = {pthread_self(), 0, threads == 4, 0};
#else
        fail_job j = {pthread_self(), 0, false, 0}; /* every chunk on the caller */
#endif
        cnnc__par plan = cnnc__par_plan(4, (cnnc__cost){.flops = 1e9}, 4);
        cnnc_clear_error();
        CHECK_STATUS(cnnc__par_run(plan, failing_range, &j), CNNC_ERR_OUT_OF_MEMORY);
        CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_OUT_OF_MEMORY);
        CHECK_STR_EQ(cnnc_last_error(), "chunk 1 failed"); /* the lowest failing chunk */
        CHECK_ERROR_CONTAINS("chunk 1");
#if defined(CNNC_USE_PTHREADS)
        if (threads == 4) CHECK(atomic_load(&j.on_other_thread) >= 1);
#endif
        /* the next region is unaffected */
        CHECK_OK(cnnc__parallel_for(10, (cnnc__cost){.flops = 1e9}, scratch_range,
                                    &(scratch_job){10, (int[10]){0}, 0}));
    }
    CHECK_OK(cnnc_set_num_threads(2));
}

/* ---- worker memory (issue 9, item 3) ------------------------------------------------ */

static cnnc_status workspace_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)ctx;
    (void)begin;
    (void)end;
    /* a different size per chunk and call, so the buffer is also regrown */
    return cnnc__workspace((size_t)(1 + chunk) << 20) ? CNNC_OK : cnnc_last_status();
}

static void *matmul_and_exit(void *arg) {
    (void)arg;
    cnnc_tensor *a = cnnc_ones(CNNC_SHAPE(200, 200), CNNC_FLOAT32);
    cnnc_tensor *y = cnnc_matmul(a, a); /* uses this thread's workspace */
    cnnc_tensor_release(y);
    cnnc_tensor_release(a);
    return NULL; /* no cnnc_thread_cleanup: freed at thread exit */
}

static void test_workers_free_their_memory(void) {
    CHECK_OK(cnnc_set_num_threads(1));
    cnnc_thread_cleanup();
    const long base = atomic_load(&live_blocks);
    cnnc_tensor *a = randn_seeded(1, CNNC_SHAPE(64, 48, 48));
    REQUIRE(a);
    for (int i = 0; i < REPS(400, 100); i++) {
        CHECK_OK(cnnc_set_num_threads(2 + i % 2));
        cnnc_tensor *y = cnnc_matmul(a, a);
        CHECK(y != NULL);
        cnnc_tensor_release(y);
        CHECK_OK(cnnc__parallel_for(3, (cnnc__cost){.flops = 1e9}, workspace_range, NULL));
    }
    cnnc_tensor_release(a);
    CHECK_OK(cnnc_set_num_threads(1)); /* the workers exit */
    cnnc_thread_cleanup();
    CHECK_EQ_INT(atomic_load(&live_blocks), base);

    pthread_t t;
    start_threads(&t, 1, matmul_and_exit, NULL);
    join_threads(&t, 1);
    CHECK_EQ_INT(atomic_load(&live_blocks), base);
    CHECK_OK(cnnc_set_num_threads(2));
}

/* ---- the thread count changed while others compute (issue 9, item 1) ---------------- */

typedef struct resize_job {
    cnnc_tensor *x, *w;            /* [4,16,24,24], [16,16,3,3] */
    cnnc_tensor *want[3];          /* bicubic x2, conv 3x3 (Winograd), conv 3x3 stride 2 (phases) */
    atomic_int stop, mismatches, failures;
} resize_job;

static void resize_ops(resize_job *j, cnnc_tensor **out) {
    out[0] = cnnc_interpolate(j->x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(2.0),
                                                     .mode = "bicubic", .align_corners = 0));
    out[1] = cnnc_conv2d(j->x, j->w, NULL, CNNC_CONV2D(.padding = CNNC_INTS(1)));
    out[2] = cnnc_conv2d(j->x, j->w, NULL, CNNC_CONV2D(.stride = CNNC_INTS(2)));
}

static void *resize_toggler(void *arg) {
    resize_job *j = arg;
    for (int i = 0; !atomic_load(&j->stop); i++) cnnc_set_num_threads(i % 2 ? 8 : 1);
    return NULL;
}

static void *resize_worker(void *arg) {
    resize_job *j = arg;
    cnnc_tensor *out[3];
    resize_ops(j, out);
    for (int k = 0; k < 3; k++) {
        if (!out[k])
            atomic_fetch_add(&j->failures, 1);
        else if (!same_bits(out[k], j->want[k]))
            atomic_fetch_add(&j->mismatches, 1);
        cnnc_tensor_release(out[k]);
    }
    cnnc_thread_cleanup();
    return NULL;
}

static void test_thread_count_changed_while_computing(void) {
    resize_job j = {.x = randn_seeded(2, CNNC_SHAPE(4, 16, 24, 24)),
                    .w = randn_seeded(3, CNNC_SHAPE(16, 16, 3, 3))};
    REQUIRE(j.x && j.w);
    CHECK_OK(cnnc_set_num_threads(1));
    resize_ops(&j, j.want);
    for (int k = 0; k < 3; k++) REQUIRE(j.want[k]);
    pthread_t toggler, workers[2];
    start_threads(&toggler, 1, resize_toggler, &j);
    for (int round = 0; round < REPS(30, 12); round++) {
        start_threads(workers, 2, resize_worker, &j);
        join_threads(workers, 2);
    }
    atomic_store(&j.stop, 1);
    join_threads(&toggler, 1);
    CHECK_EQ_INT(atomic_load(&j.failures), 0);
    CHECK_EQ_INT(atomic_load(&j.mismatches), 0);
    for (int k = 0; k < 3; k++) cnnc_tensor_release(j.want[k]);
    cnnc_tensor_release(j.x);
    cnnc_tensor_release(j.w);
    CHECK_OK(cnnc_set_num_threads(2));
}

/* ---- modules from several threads ---------------------------------------------------- */

/* Conv2d(3,16,3,p1), BatchNorm2d(16), ReLU, MaxPool2d(2), Conv2d(16,8,3,p1) */
static cnnc_module *conv_net(uint64_t seed) {
    cnnc_manual_seed(seed);
    return cnnc_sequential_new(
        5, (cnnc_module *[]){
               cnnc_conv2d_new(3, 16, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                       .padding = CNNC_INTS(1))),
               cnnc_batchnorm2d_new(16, CNNC_BATCHNORM()), cnnc_relu_new(CNNC_RELU()),
               cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2))),
               cnnc_conv2d_new(16, 8, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                       .padding = CNNC_INTS(1)))});
}

typedef struct eval_job {
    cnnc_module *net;
    cnnc_tensor *x, *want;
    atomic_int bad;
} eval_job;

static void *eval_worker(void *arg) {
    eval_job *j = arg;
    for (int i = 0; i < REPS(8, 3); i++) {
        bool old = cnnc_set_grad_enabled(i % 2 == 0); /* with and without recording */
        cnnc_tensor *y = cnnc_module_forward(j->net, j->x);
        cnnc_set_grad_enabled(old);
        if (!same_bits(y, j->want)) atomic_fetch_add(&j->bad, 1);
        cnnc_tensor_release(y);
    }
    cnnc_thread_cleanup();
    return NULL;
}

static void test_eval_forward_from_several_threads(void) {
    eval_job j = {.net = conv_net(4), .x = randn_seeded(5, CNNC_SHAPE(4, 3, 16, 16))};
    REQUIRE(j.net && j.x);
    cnnc_module_eval(j.net);
    j.want = cnnc_module_forward(j.net, j.x);
    REQUIRE(j.want);
    pthread_t t[4];
    start_threads(t, 4, eval_worker, &j);
    join_threads(t, 4);
    CHECK_EQ_INT(atomic_load(&j.bad), 0);
    cnnc_tensor_release(j.want);
    cnnc_tensor_release(j.x);
    cnnc_module_release(j.net);
}

/* Conv2d(16,32,3,p1), ReLU, Conv2d(32,16,3,p1): on 8x8 maps, both in the domain of the
 * no-grad forward's cached Winograd weights (ops/conv.h) */
static cnnc_module *cached_conv_net(uint64_t seed) {
    cnnc_manual_seed(seed);
    return cnnc_sequential_new(
        3, (cnnc_module *[]){
               cnnc_conv2d_new(16, 32, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                        .padding = CNNC_INTS(1))),
               cnnc_relu_new(CNNC_RELU()),
               cnnc_conv2d_new(32, 16, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                        .padding = CNNC_INTS(1)))});
}

static void *no_grad_worker(void *arg) {
    eval_job *j = arg;
    const bool old = cnnc_set_grad_enabled(false);
    for (int i = 0; i < REPS(8, 3); i++) {
        cnnc_tensor *y = cnnc_module_forward(j->net, j->x);
        if (!same_bits(y, j->want)) atomic_fetch_add(&j->bad, 1);
        cnnc_tensor_release(y);
    }
    cnnc_set_grad_enabled(old);
    cnnc_thread_cleanup();
    return NULL;
}

/* Threads that find a module's weight cache empty all pack and publish at once; each
 * result has the bits of a twin module's forward run alone. */
static void test_cached_weights_from_several_threads(void) {
    cnnc_module *twin = cached_conv_net(6);
    eval_job j = {.net = cached_conv_net(6), .x = randn_seeded(7, CNNC_SHAPE(2, 16, 8, 8))};
    REQUIRE(twin && j.net && j.x);
    cnnc_module_eval(twin);
    cnnc_module_eval(j.net);
    const bool old = cnnc_set_grad_enabled(false);
    j.want = cnnc_module_forward(twin, j.x);
    cnnc_set_grad_enabled(old);
    REQUIRE(j.want);
    pthread_t t[4];
    start_threads(t, 4, no_grad_worker, &j);
    join_threads(t, 4);
    CHECK_EQ_INT(atomic_load(&j.bad), 0);
    cnnc_tensor_release(j.want);
    cnnc_tensor_release(j.x);
    cnnc_module_release(j.net);
    cnnc_module_release(twin);
}

/* A few plain SGD steps on mean((net(x) - target)^2); returns false on an error. */
static bool train_steps(cnnc_module *net, cnnc_tensor *x, cnnc_tensor *target, int steps) {
    cnnc_tensor_list *params = cnnc_module_named_parameters(net);
    if (!params) return false;
    bool ok = true;
    for (int s = 0; s < steps && ok; s++) {
        cnnc_module_zero_grad(net, true);
        cnnc_tensor *y = cnnc_module_forward(net, x);
        cnnc_tensor *d = y ? cnnc_sub(y, target) : NULL;
        cnnc_tensor *sq = d ? cnnc_mul(d, d) : NULL;
        cnnc_tensor *loss = sq ? cnnc_mean(sq) : NULL;
        ok = loss && cnnc_backward(loss, NULL, false) == CNNC_OK;
        for (size_t i = 0; ok && i < cnnc_tensor_list_size(params); i++) {
            cnnc_tensor *p = cnnc_tensor_list_get(params, i), *g = cnnc_tensor_grad(p);
            if (!g) continue;
            float *pd = cnnc_tensor_data_f32(p);
            const float *gd = cnnc_tensor_data_f32(g);
            for (int64_t k = 0; k < cnnc_tensor_numel(p); k++) pd[k] -= 0.05f * gd[k];
        }
        cnnc_tensor_release(loss);
        cnnc_tensor_release(sq);
        cnnc_tensor_release(d);
        cnnc_tensor_release(y);
    }
    cnnc_tensor_list_free(params);
    return ok;
}

static bool same_state(cnnc_module *a, cnnc_module *b) {
    cnnc_tensor_list *sa = cnnc_module_state_dict(a), *sb = cnnc_module_state_dict(b);
    bool same = sa && sb && cnnc_tensor_list_size(sa) == cnnc_tensor_list_size(sb);
    for (size_t i = 0; same && i < cnnc_tensor_list_size(sa); i++) {
        cnnc_tensor *ta = cnnc_tensor_list_get(sa, i), *tb = cnnc_tensor_list_get(sb, i);
        same = cnnc_tensor_dtype(ta) == CNNC_FLOAT32
                   ? same_bits(ta, tb)
                   : memcmp(cnnc_tensor_data(ta), cnnc_tensor_data(tb), 8) == 0;
    }
    cnnc_tensor_list_free(sa);
    cnnc_tensor_list_free(sb);
    return same;
}

enum { TRAINERS = 3, TRAIN_STEPS = 4 };

typedef struct train_job {
    cnnc_module *net;
    cnnc_tensor *x, *target;
    bool ok;
} train_job;

static void *train_worker(void *arg) {
    train_job *j = arg;
    j->ok = train_steps(j->net, j->x, j->target, TRAIN_STEPS);
    cnnc_thread_cleanup();
    return NULL;
}

static void test_train_separate_modules_in_parallel(void) {
    train_job jobs[TRAINERS];
    cnnc_module *ref[TRAINERS];
    for (int i = 0; i < TRAINERS; i++) {
        const uint64_t seed = 10 * (uint64_t)(i + 1);
        jobs[i] = (train_job){conv_net(seed), randn_seeded(seed + 1, CNNC_SHAPE(2, 3, 12, 12)),
                              randn_seeded(seed + 2, CNNC_SHAPE(2, 8, 6, 6)), false};
        ref[i] = conv_net(seed);
        REQUIRE(jobs[i].net && jobs[i].x && jobs[i].target && ref[i]);
        CHECK(train_steps(ref[i], jobs[i].x, jobs[i].target, TRAIN_STEPS)); /* alone */
    }
    pthread_t t[TRAINERS];
    for (int i = 0; i < TRAINERS; i++) start_threads(&t[i], 1, train_worker, &jobs[i]);
    join_threads(t, TRAINERS);
    for (int i = 0; i < TRAINERS; i++) {
        CHECK(jobs[i].ok);
        CHECK(same_state(jobs[i].net, ref[i])); /* parameters and running statistics */
        cnnc_module_release(jobs[i].net);
        cnnc_module_release(ref[i]);
        cnnc_tensor_release(jobs[i].x);
        cnnc_tensor_release(jobs[i].target);
    }
}

/* ---- backward through shared parameters (issue 9, item 4) ---------------------------- */

enum { BACKWARD_THREADS = 4 };

typedef struct shared_job {
    cnnc_module *net;
    cnnc_tensor *x;
    int passes;
    atomic_int failures;
} shared_job;

static void *backward_worker(void *arg) {
    shared_job *j = arg;
    for (int i = 0; i < j->passes; i++) {
        cnnc_tensor *y = cnnc_module_forward(j->net, j->x);
        cnnc_tensor *s = y ? cnnc_sum(y) : NULL;
        if (!s || cnnc_backward(s, NULL, false) != CNNC_OK) atomic_fetch_add(&j->failures, 1);
        cnnc_tensor_release(s);
        cnnc_tensor_release(y);
    }
    cnnc_thread_cleanup();
    return NULL;
}

/* Copies of the parameters' gradients, in order (NULL-terminated by count). */
static size_t grads_of(cnnc_module *net, cnnc_tensor **out, size_t cap) {
    cnnc_tensor_list *ps = cnnc_module_named_parameters(net);
    size_t n = 0;
    for (size_t i = 0; ps && i < cnnc_tensor_list_size(ps) && n < cap; i++) {
        cnnc_tensor *g = cnnc_tensor_grad(cnnc_tensor_list_get(ps, i));
        out[n++] = g ? cnnc_tensor_clone(g) : NULL;
    }
    cnnc_tensor_list_free(ps);
    return n;
}

static void test_backward_through_shared_parameters(void) {
    cnnc_manual_seed(6);
    cnnc_module *net = cnnc_sequential_new(
        3, (cnnc_module *[]){cnnc_linear_new(16, 512, CNNC_LINEAR()), cnnc_relu_new(CNNC_RELU()),
                             cnnc_linear_new(512, 256, CNNC_LINEAR())});
    shared_job j = {.net = net, .x = randn_seeded(7, CNNC_SHAPE(8, 16)),
                    .passes = REPS(25, 12)};
    REQUIRE(net && j.x);
    /* Every pass adds the same gradient g into .grad, so the total after N passes,
     * g + g + ... + g added one at a time, does not depend on their order. */
    for (int i = 0; i < BACKWARD_THREADS; i++) backward_worker(&j);
    cnnc_tensor *want[4], *got[4];
    REQUIRE(grads_of(net, want, 4) == 4);
    cnnc_module_zero_grad(net, true);
    pthread_t t[BACKWARD_THREADS];
    start_threads(t, BACKWARD_THREADS, backward_worker, &j);
    join_threads(t, BACKWARD_THREADS);
    CHECK_EQ_INT(atomic_load(&j.failures), 0);
    REQUIRE(grads_of(net, got, 4) == 4);
    for (int i = 0; i < 4; i++) {
        CHECK(same_bits(got[i], want[i]));
        cnnc_tensor_release(got[i]);
        cnnc_tensor_release(want[i]);
    }
    cnnc_tensor_release(j.x);
    cnnc_module_release(net);
}

/* ---- fork (issue 9, item 9; the pool's atfork handlers) ----------------------------- */

/* Waits for the child up to `seconds`; kills it if it hangs. Returns its exit code,
 * -1 when it hung, or -2 when a signal ended it. */
static int wait_child(pid_t pid, int seconds) {
    for (int i = 0; i < seconds * 100; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

typedef struct busy_job {
    atomic_int stop;
    cnnc_tensor *x, *w;
    bool draw; /* draw random numbers, else convolve */
} busy_job;

static void *busy_worker(void *arg) {
    busy_job *j = arg;
    while (!atomic_load(&j->stop)) {
        cnnc_tensor *y = j->draw ? cnnc_randn(CNNC_SHAPE(1 << 16))
                                 : cnnc_conv2d(j->x, j->w, NULL, CNNC_CONV2D(.padding = CNNC_INTS(1)));
        cnnc_tensor_release(y);
    }
    cnnc_thread_cleanup();
    return NULL;
}

/* In the child: draw, convolve (on a new pool) and run a backward; 0 when all work. */
static int child_work(busy_job *j, cnnc_tensor *want) {
    /* ThreadSanitizer cannot start threads after a multithreaded fork: one thread */
    if (UNDER_TSAN) cnnc_set_num_threads(1);
    cnnc_tensor *r = cnnc_randn(CNNC_SHAPE(1000));
    cnnc_tensor *y = cnnc_conv2d(j->x, j->w, NULL, CNNC_CONV2D(.padding = CNNC_INTS(1)));
    cnnc_tensor *w = cnnc_tensor_clone(j->w);
    bool ok = r && y && w && same_bits(y, want) && cnnc_tensor_set_requires_grad(w, true) == CNNC_OK;
    cnnc_tensor *y2 = ok ? cnnc_conv2d(j->x, w, NULL, CNNC_CONV2D()) : NULL;
    cnnc_tensor *s = y2 ? cnnc_sum(y2) : NULL;
    ok = s && cnnc_backward(s, NULL, false) == CNNC_OK && cnnc_tensor_grad(w);
    return ok ? 0 : 1;
}

static void fork_while(bool draw) {
    busy_job j = {.x = randn_seeded(8, CNNC_SHAPE(2, 16, 20, 20)),
                  .w = randn_seeded(9, CNNC_SHAPE(16, 16, 3, 3)), .draw = draw};
    REQUIRE(j.x && j.w);
    cnnc_tensor *want = cnnc_conv2d(j.x, j.w, NULL, CNNC_CONV2D(.padding = CNNC_INTS(1)));
    REQUIRE(want);
    pthread_t t[2];
    start_threads(t, 2, busy_worker, &j);
    int hung = 0, failed = 0;
    for (int i = 0; i < REPS(10, 6); i++) {
        nanosleep(&(struct timespec){0, 3000000}, NULL);
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) _exit(child_work(&j, want));
        int code = wait_child(pid, UNDER_TSAN ? 120 : 30);
        if (code == -1) hung++;
        else if (code != 0) failed++;
    }
    atomic_store(&j.stop, 1);
    join_threads(t, 2);
    CHECK_EQ_INT(hung, 0);
    CHECK_EQ_INT(failed, 0);
    cnnc_tensor_release(want);
    cnnc_tensor_release(j.x);
    cnnc_tensor_release(j.w);
}

static void test_fork_while_computing(void) { fork_while(false); }
static void test_fork_while_drawing_random_numbers(void) { fork_while(true); }

int main(void) {
    cnnc_set_allocator(&counting);
    cnnc_set_num_threads(2);
    RUN_TEST(test_grain_rule);
    RUN_TEST(test_chunks_cover_the_items);
    RUN_TEST(test_region_keeps_its_thread_count);
    RUN_TEST(test_chunk_failure_reaches_the_caller);
    RUN_TEST(test_workers_free_their_memory);
    RUN_TEST(test_thread_count_changed_while_computing);
    RUN_TEST(test_eval_forward_from_several_threads);
    RUN_TEST(test_cached_weights_from_several_threads);
    RUN_TEST(test_train_separate_modules_in_parallel);
    RUN_TEST(test_backward_through_shared_parameters);
    if (UNDER_ASAN) {
        printf("skipped the fork tests: AddressSanitizer's malloc is not fork-safe (the release "
               "and ThreadSanitizer builds run them)\n");
    } else {
        RUN_TEST(test_fork_while_computing);
        RUN_TEST(test_fork_while_drawing_random_numbers);
    }
    cnnc_set_num_threads(1);
    cnnc_thread_cleanup();
    return check_summary();
}
