/* Allocation-failure injection, as SQLite does it: a cnnc_allocator that wraps
 * malloc/free fails the N-th allocation, for N = 1, 2, 3, ... until a run makes
 * no injected failure. Each run is one small training step (build
 * Sequential(Linear(4,8), ReLU, Linear(8,2)), forward a [3,4] input, sum,
 * backward, read the grads, state_dict, repr, load_state_dict, free everything).
 * Every run must either succeed with the same results as a run without failures,
 * or fail with CNNC_ERR_OUT_OF_MEMORY and a message naming it; every allocation
 * of the run must be freed again afterwards (no leak on any failure path).
 *
 * Two modes: the N-th allocation fails once ("transient", later ones succeed),
 * and every allocation from the N-th on fails ("persistent", the cleanup paths
 * then run with no memory at all). Both with explicit releases and inside a
 * scope.
 *
 * Then the same with the thread pool at work (2 threads), over ops that run
 * parallel regions: conv forward/backward (Winograd, stride phases, depthwise,
 * 1x1), batched matmul, pooling, interpolation and the norms. Failures are
 * injected at the N-th allocation from any thread, and by refusing every
 * allocation made by a thread other than the caller (a pool thread): each run
 * succeeds with the reference values or fails with CNNC_ERR_OUT_OF_MEMORY, and
 * leaks nothing. */
#include "check.h"

#include <cnnc.h>

#include "core/error.h"
#include "core/parallel.h" /* cnnc__workspace: the one allocation kept by design */

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tracking allocator --------------------------------------------- */

typedef struct live_block {
    void *ptr;
    size_t size;
    long serial; /* which allocation of the run it was (1-based) */
} live_block;

/* Used from every thread (the pool's too), under one lock. */
static pthread_mutex_t A_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    long fail_at;    /* 0: never fail */
    bool persistent; /* fail every allocation from fail_at on */
    bool refuse_others;  /* fail requests of refuse_min bytes or more from other threads */
    size_t refuse_min;
    pthread_t caller;    /* the test's thread */
    long count;      /* allocations attempted in this run */
    long injected;   /* failures injected in this run */
    long refused;    /* requests refused to other threads in this run */
    live_block *live;
    size_t n_live, cap_live;
    long bad_frees; /* frees of pointers this allocator did not hand out */
} A;

static void *tracking_alloc_locked(size_t size) {
    A.count++;
    if (A.fail_at > 0 && (A.count == A.fail_at || (A.persistent && A.count > A.fail_at))) {
        A.injected++;
        return NULL;
    }
    if (A.refuse_others && size >= A.refuse_min && !pthread_equal(pthread_self(), A.caller)) {
        A.injected++;
        A.refused++;
        return NULL;
    }
    if (A.n_live == A.cap_live) {
        size_t cap = A.cap_live ? 2 * A.cap_live : 1024;
        live_block *p = realloc(A.live, cap * sizeof *p);
        if (!p) return NULL;
        A.live = p;
        A.cap_live = cap;
    }
    void *p = malloc(size);
    if (p) A.live[A.n_live++] = (live_block){p, size, A.count};
    return p;
}

static void *tracking_alloc(void *ctx, size_t size) {
    (void)ctx;
    pthread_mutex_lock(&A_lock);
    void *p = tracking_alloc_locked(size);
    pthread_mutex_unlock(&A_lock);
    return p;
}

static void tracking_free(void *ctx, void *ptr) {
    (void)ctx;
    if (!ptr) return;
    pthread_mutex_lock(&A_lock);
    for (size_t i = A.n_live; i-- > 0;) {
        if (A.live[i].ptr == ptr) {
            A.live[i] = A.live[--A.n_live];
            free(ptr);
            pthread_mutex_unlock(&A_lock);
            return;
        }
    }
    A.bad_frees++; /* not ours: leak it rather than corrupt the heap */
    pthread_mutex_unlock(&A_lock);
}

static const cnnc_allocator tracking = {tracking_alloc, tracking_free, NULL};

static void start_run(long fail_at, bool persistent) {
    pthread_mutex_lock(&A_lock);
    A.fail_at = fail_at;
    A.persistent = persistent;
    A.refuse_others = false;
    A.count = 0;
    A.injected = 0;
    A.refused = 0;
    pthread_mutex_unlock(&A_lock);
}

/* A run in which pool threads get no memory (requests of min_bytes or more). */
static void start_refusing_run(size_t min_bytes) {
    start_run(0, false);
    pthread_mutex_lock(&A_lock);
    A.refuse_others = true;
    A.refuse_min = min_bytes;
    pthread_mutex_unlock(&A_lock);
}

/* ---- one training step ---------------------------------------------------- */

#define N_GRADS (8 * 4 + 8 + 2 * 8 + 2)

typedef struct step_result {
    float y[3 * 2];
    float grads[N_GRADS];
    char repr[512];
    char y_text[512];
    char sd_names[128];
} step_result;

static const char *const expected_repr =
    "Sequential(\n"
    "  (0): Linear(in_features=4, out_features=8, bias=True)\n"
    "  (1): ReLU()\n"
    "  (2): Linear(in_features=8, out_features=2, bias=True)\n"
    ")";

/* A failed call: must be an injected out-of-memory error. Returns false (the run
 * stops there). */
static bool failed(long n, const char *mode, const char *what) {
    check_checks_run_++;
    if (A.injected == 0) {
        check_fail_(__FILE__, __LINE__, "[%s N=%ld] %s failed without an injected failure",
                    mode, n, what);
    } else if (cnnc_last_status() != CNNC_ERR_OUT_OF_MEMORY) {
        check_fail_(__FILE__, __LINE__, "[%s N=%ld] %s failed with %s, expected CNNC_ERR_OUT_OF_MEMORY",
                    mode, n, what, cnnc_status_name(cnnc_last_status()));
    } else if (!check_contains_(cnnc_last_error(), "out of memory")) {
        check_fail_(__FILE__, __LINE__, "[%s N=%ld] %s: the message does not say \"out of memory\"",
                    mode, n, what);
    }
    return false;
}

/* A successful call produced a wrong result. */
static bool wrong(long n, const char *mode, const char *what) {
    check_checks_run_++;
    check_fail_(__FILE__, __LINE__, "[%s N=%ld] %s succeeded with a wrong result (injected %ld)",
                mode, n, what, A.injected);
    return false;
}

/* Runs the step; fills *out when it completes. Returns true when every call
 * succeeded. n and mode only label messages. */
static bool training_step(long n, const char *mode, bool scoped, step_result *out,
                          const step_result *ref) {
    bool ok = false, in_scope = false;
    cnnc_module *l1 = NULL, *act = NULL, *l2 = NULL, *net = NULL;
    cnnc_tensor *x = NULL, *y = NULL, *s = NULL;
    cnnc_tensor_list *params = NULL, *sd = NULL;
    char *repr = NULL, *y_text = NULL;
    memset(out, 0, sizeof *out);
    cnnc_clear_error();

    cnnc_manual_seed(0);
    if (!(l1 = cnnc_linear_new(4, 8, CNNC_LINEAR()))) goto fail_l1;
    if (!(act = cnnc_relu_new(CNNC_RELU()))) goto fail_act;
    if (!(l2 = cnnc_linear_new(8, 2, CNNC_LINEAR()))) goto fail_l2;
    net = cnnc_sequential_new(3, (cnnc_module *[]){l1, act, l2});
    l1 = act = l2 = NULL; /* owned by the Sequential, also on failure */
    if (!net) {
        failed(n, mode, "cnnc_sequential_new");
        goto done;
    }
    if (scoped) {
        if (cnnc_scope_begin() != CNNC_OK) {
            failed(n, mode, "cnnc_scope_begin");
            goto done;
        }
        in_scope = true;
    }
    if (!(x = cnnc_randn(CNNC_SHAPE(3, 4)))) {
        failed(n, mode, "cnnc_randn");
        goto done;
    }
    if (!(y = cnnc_module_forward(net, x))) {
        failed(n, mode, "cnnc_module_forward");
        goto done;
    }
    if (cnnc_tensor_ndim(y) != 2 || cnnc_tensor_size(y, 0) != 3 || cnnc_tensor_size(y, 1) != 2) {
        wrong(n, mode, "forward (shape)");
        goto done;
    }
    memcpy(out->y, cnnc_tensor_data_f32(y), sizeof out->y);
    if (!(y_text = cnnc_tensor_to_string(y))) {
        failed(n, mode, "cnnc_tensor_to_string");
        goto done;
    }
    snprintf(out->y_text, sizeof out->y_text, "%s", y_text);
    if (!(s = cnnc_sum(y))) {
        failed(n, mode, "cnnc_sum");
        goto done;
    }
    if (cnnc_backward(s, NULL, false) != CNNC_OK) {
        failed(n, mode, "cnnc_backward");
        goto done;
    }
    if (!(params = cnnc_module_named_parameters(net))) {
        failed(n, mode, "cnnc_module_named_parameters");
        goto done;
    }
    if (cnnc_tensor_list_size(params) != 4) {
        wrong(n, mode, "named_parameters (size)");
        goto done;
    }
    size_t off = 0;
    for (size_t i = 0; i < 4; i++) {
        cnnc_tensor *p = cnnc_tensor_list_get(params, i);
        cnnc_tensor *g = cnnc_tensor_grad(p);
        if (!g || cnnc_tensor_numel(g) != cnnc_tensor_numel(p)) {
            wrong(n, mode, "backward (a parameter has no grad)");
            goto done;
        }
        memcpy(out->grads + off, cnnc_tensor_data_f32(g), (size_t)cnnc_tensor_numel(g) * sizeof(float));
        off += (size_t)cnnc_tensor_numel(g);
    }
    if (!(sd = cnnc_module_state_dict(net))) {
        failed(n, mode, "cnnc_module_state_dict");
        goto done;
    }
    for (size_t i = 0; i < cnnc_tensor_list_size(sd); i++) {
        strncat(out->sd_names, cnnc_tensor_list_name(sd, i), sizeof out->sd_names - strlen(out->sd_names) - 2);
        strcat(out->sd_names, " ");
    }
    if (!(repr = cnnc_module_repr(net))) {
        failed(n, mode, "cnnc_module_repr");
        goto done;
    }
    snprintf(out->repr, sizeof out->repr, "%s", repr);
    if (cnnc_module_load_state_dict(net, sd, true) != CNNC_OK) {
        failed(n, mode, "cnnc_module_load_state_dict");
        goto done;
    }
    ok = true;
    if (ref) { /* everything that succeeded must match the run without failures */
        if (memcmp(out->y, ref->y, sizeof out->y) != 0) ok = wrong(n, mode, "forward (values)");
        if (memcmp(out->grads, ref->grads, sizeof out->grads) != 0) ok = wrong(n, mode, "backward (grads)");
        if (strcmp(out->y_text, ref->y_text) != 0) ok = wrong(n, mode, "to_string");
        if (strcmp(out->sd_names, ref->sd_names) != 0) ok = wrong(n, mode, "state_dict (names)");
        if (strcmp(out->repr, ref->repr) != 0) ok = wrong(n, mode, "repr");
    }
    goto done;

fail_l1:
    failed(n, mode, "cnnc_linear_new(4, 8)");
    goto done;
fail_act:
    failed(n, mode, "cnnc_relu_new");
    goto done;
fail_l2:
    failed(n, mode, "cnnc_linear_new(8, 2)");
    goto done;

done:
    cnnc_free(repr);
    cnnc_free(y_text);
    cnnc_tensor_list_free(sd);
    cnnc_tensor_list_free(params);
    if (in_scope) {
        if (cnnc_scope_end() != CNNC_OK) {
            check_fail_(__FILE__, __LINE__, "[%s N=%ld] cnnc_scope_end failed", mode, n);
            ok = false;
        }
    } else {
        cnnc_tensor_release(s);
        cnnc_tensor_release(y);
        cnnc_tensor_release(x);
    }
    cnnc_module_release(l1);
    cnnc_module_release(act);
    cnnc_module_release(l2);
    cnnc_module_release(net);
    return ok;
}

/* ---- the driver ---------------------------------------------------------- */

static step_result reference;
static size_t baseline_live; /* allocations alive by design after a run */
static long points_total;

/* Checks that the run gave back every allocation it made; lists the leaks. */
static bool check_no_leak(long n, const char *mode) {
    check_checks_run_++;
    if (A.bad_frees) {
        check_fail_(__FILE__, __LINE__, "[%s N=%ld] %ld frees of pointers never allocated", mode, n,
                    A.bad_frees);
        A.bad_frees = 0;
        return false;
    }
    if (A.n_live == baseline_live) return true;
    check_fail_(__FILE__, __LINE__, "[%s N=%ld] %zu allocations alive after the run, expected %zu",
                mode, n, A.n_live, baseline_live);
    int shown = 0;
    for (size_t i = 0; i < A.n_live && shown < 8; i++) {
        if (A.live[i].serial > 0) {
            fprintf(stderr, "    leaked: allocation #%ld of the run, %zu bytes\n", A.live[i].serial,
                    A.live[i].size);
            shown++;
        }
    }
    /* forget them so one leak is reported once */
    for (size_t i = 0; i < A.n_live; i++) A.live[i].serial = -1;
    baseline_live = A.n_live;
    return false;
}

/* Runs the step with the N-th allocation failing, for N = 1, 2, ... until a run
 * injects nothing. Returns the number of injection points exercised. */
static long sweep(bool persistent, bool scoped) {
    const char *mode = persistent ? (scoped ? "persistent, scoped" : "persistent")
                                  : (scoped ? "transient, scoped" : "transient");
    step_result r;
    long n, bad_runs = 0, succeeded_after_failure = 0;
    for (n = 1; n < 100000; n++) {
        long before = check_checks_failed_;
        start_run(n, persistent);
        bool ok = training_step(n, mode, scoped, &r, &reference);
        long injected = A.injected;
        start_run(0, false);
        check_no_leak(n, mode);
        if (injected == 0) {
            check_checks_run_++;
            if (!ok) check_fail_(__FILE__, __LINE__, "[%s N=%ld] failed with no injected failure", mode, n);
            break;
        }
        if (ok) succeeded_after_failure++;
        if (check_checks_failed_ != before && ++bad_runs >= 10) {
            fprintf(stderr, "[%s] stopping after 10 failing runs\n", mode);
            break;
        }
    }
    printf("  %s: %ld allocation points, each failed in turn; %ld runs recovered and succeeded\n",
           mode, n - 1, succeeded_after_failure);
    points_total += n - 1;
    return n - 1;
}

/* ---- tests --------------------------------------------------------------- */

static long run_allocations; /* allocations made by one step */

static void test_reference_run_and_accounting(void) {
    /* Two warm-up runs: the first may allocate what the library keeps by design. */
    start_run(0, false);
    REQUIRE(training_step(0, "reference", false, &reference, NULL));
    CHECK_STR_EQ(reference.repr, expected_repr);
    CHECK_STR_EQ(reference.sd_names, "0.weight 0.bias 2.weight 2.bias ");
    baseline_live = A.n_live;
    for (size_t i = 0; i < A.n_live; i++) A.live[i].serial = 0;

    /* Explicit accounting: the only allocation a finished step leaves is the
     * calling thread's reusable workspace (core/parallel.h), at most one. */
    CHECK(baseline_live <= 1);
    if (baseline_live == 1) {
        uintptr_t raw = (uintptr_t)A.live[0].ptr;
        void *ws = cnnc__workspace(0); /* exists, so this allocates nothing */
        CHECK(ws == (void *)((raw + 63) & ~(uintptr_t)63));
        CHECK_EQ_INT(A.n_live, 1);
    }

    step_result again;
    start_run(0, false);
    CHECK(training_step(0, "reference", false, &again, &reference));
    run_allocations = A.count;
    CHECK(run_allocations > 10);
    CHECK_EQ_INT(A.n_live, baseline_live);
    CHECK_EQ_INT(A.bad_frees, 0);
    start_run(0, false);
    CHECK(training_step(0, "reference, scoped", true, &again, &reference));
    CHECK_EQ_INT(A.n_live, baseline_live);
    printf("  one step makes %ld allocations; %zu kept by design (the thread's workspace)\n",
           run_allocations, baseline_live);
}

static void test_fail_nth_allocation_once(void) {
    long points = sweep(false, false);
    CHECK_EQ_INT(points, run_allocations);
}

static void test_fail_every_allocation_from_nth(void) {
    long points = sweep(true, false);
    CHECK_EQ_INT(points, run_allocations);
}

static void test_fail_nth_allocation_once_in_scope(void) {
    long points = sweep(false, true);
    CHECK(points >= run_allocations);
}

static void test_fail_every_allocation_from_nth_in_scope(void) {
    long points = sweep(true, true);
    CHECK(points >= run_allocations);
}

static void test_small_calls_under_failure(void) {
    /* a few more entry points: each either works or reports out of memory */
    for (long n = 1; n < 50; n++) {
        start_run(n, true);
        cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
        cnnc_tensor *c = t ? cnnc_tensor_clone(t) : NULL;
        cnnc_tensor *v = c ? cnnc_view(c, CNNC_SHAPE(6)) : NULL;
        char *str = v ? cnnc_tensor_shape_string(v) : NULL;
        cnnc_tensor_list *l = str ? cnnc_tensor_list_new() : NULL;
        cnnc_status st = l ? cnnc_tensor_list_append(l, "v", v) : CNNC_ERR_OUT_OF_MEMORY;
        if (!t || !c || !v || !str || !l || st != CNNC_OK) {
            CHECK(A.injected > 0);
            CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_OUT_OF_MEMORY);
        }
        cnnc_tensor_list_free(l);
        cnnc_free(str);
        cnnc_tensor_release(v);
        cnnc_tensor_release(c);
        cnnc_tensor_release(t);
        long injected = A.injected;
        start_run(0, false);
        check_no_leak(n, "small calls");
        if (injected == 0) break;
    }
}

/* ---- ops with the thread pool at work --------------------------------------- */

/* An op case's results (outputs and gradients), concatenated. */
enum { OUT_CAP = 1 << 20 };
typedef struct op_out {
    float *v; /* [OUT_CAP] */
    size_t len;
} op_out;

static bool put(op_out *o, cnnc_tensor *t) {
    if (!t) return false;
    size_t n = (size_t)cnnc_tensor_numel(t);
    if (o->len + n > OUT_CAP) abort(); /* a test bug */
    memcpy(o->v + o->len, cnnc_tensor_data_f32(t), n * sizeof(float));
    o->len += n;
    return true;
}

/* A random leaf that requires grad (inside the case's scope). */
static cnnc_tensor *leaf(int ndim, const int64_t *shape) {
    cnnc_tensor *t = cnnc_randn(ndim, shape);
    if (t && cnnc_tensor_set_requires_grad(t, true) != CNNC_OK) return NULL;
    return t;
}

/* loss = sum of the sums of n outputs; backward. */
static bool backward_sum(int n, cnnc_tensor *const *ys) {
    cnnc_tensor *loss = NULL;
    for (int i = 0; i < n; i++) {
        cnnc_tensor *s = ys[i] ? cnnc_sum(ys[i]) : NULL;
        loss = !s ? NULL : (i == 0 ? s : (loss ? cnnc_add(loss, s) : NULL));
        if (!loss) return false;
    }
    return cnnc_backward(loss, NULL, false) == CNNC_OK;
}

/* Each case runs inside a scope and returns CNNC_OK or the failing call's status.
 * Sizes make every op run parallel regions of several chunks at 2 threads. */
static cnnc_status case_conv(op_out *o) {
    cnnc_tensor *x = leaf(CNNC_SHAPE(4, 16, 24, 24)), *w = leaf(CNNC_SHAPE(16, 16, 3, 3));
    cnnc_tensor *b = leaf(CNNC_SHAPE(16)), *wd = leaf(CNNC_SHAPE(16, 1, 3, 3));
    cnnc_tensor *w1 = leaf(CNNC_SHAPE(32, 16, 1, 1));
    if (!x || !w || !b || !wd || !w1) return cnnc_last_status();
    cnnc_tensor *y[4] = {
        cnnc_conv2d(x, w, b, CNNC_CONV2D(.padding = CNNC_INTS(1))),     /* Winograd */
        cnnc_conv2d(x, w, NULL, CNNC_CONV2D(.stride = CNNC_INTS(2))),   /* stride phases */
        cnnc_conv2d(x, wd, NULL, CNNC_CONV2D(.groups = 16)),            /* depthwise */
        cnnc_conv2d(x, w1, NULL, CNNC_CONV2D())};                       /* 1x1: a GEMM */
    if (!backward_sum(4, y)) return cnnc_last_status();
    for (int i = 0; i < 4; i++) put(o, y[i]);
    cnnc_tensor *g[5] = {x, w, b, wd, w1};
    for (int i = 0; i < 5; i++) put(o, cnnc_tensor_grad(g[i]));
    return CNNC_OK;
}

static cnnc_status case_matmul(op_out *o) {
    cnnc_tensor *a = leaf(CNNC_SHAPE(64, 48, 48)), *b = leaf(CNNC_SHAPE(64, 48, 48));
    cnnc_tensor *c = leaf(CNNC_SHAPE(64, 16, 16)), *d = leaf(CNNC_SHAPE(64, 16, 16));
    if (!a || !b || !c || !d) return cnnc_last_status();
    cnnc_tensor *y[2] = {cnnc_matmul(a, b), cnnc_matmul(c, d)};
    if (!backward_sum(2, y)) return cnnc_last_status();
    cnnc_tensor *all[6] = {y[0], y[1], cnnc_tensor_grad(a), cnnc_tensor_grad(b),
                           cnnc_tensor_grad(c), cnnc_tensor_grad(d)};
    for (int i = 0; i < 6; i++) put(o, all[i]);
    return CNNC_OK;
}

static cnnc_status case_pool(op_out *o) {
    cnnc_tensor *x = leaf(CNNC_SHAPE(4, 16, 48, 48));
    if (!x) return cnnc_last_status();
    cnnc_tensor *y[3] = {
        cnnc_max_pool2d(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2),
                                           .padding = CNNC_INTS(1))),
        cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2))),
        cnnc_adaptive_avg_pool2d(x, (cnnc_ints)CNNC_INTS(5, 7))};
    if (!backward_sum(3, y)) return cnnc_last_status();
    for (int i = 0; i < 3; i++) put(o, y[i]);
    put(o, cnnc_tensor_grad(x));
    return CNNC_OK;
}

static cnnc_status case_interpolate(op_out *o) {
    cnnc_tensor *x = leaf(CNNC_SHAPE(4, 16, 24, 24));
    if (!x) return cnnc_last_status();
    cnnc_tensor *y[2] = {
        cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(2.0), .mode = "bicubic",
                                             .align_corners = 0)),
        cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(37, 29), .mode = "bilinear",
                                             .align_corners = 1))};
    if (!backward_sum(2, y)) return cnnc_last_status();
    for (int i = 0; i < 2; i++) put(o, y[i]);
    put(o, cnnc_tensor_grad(x));
    return CNNC_OK;
}

static cnnc_status case_norms(op_out *o) {
    cnnc_tensor *x = leaf(CNNC_SHAPE(8, 16, 32, 32)), *w = leaf(CNNC_SHAPE(16));
    cnnc_tensor *b = leaf(CNNC_SHAPE(16)), *lw = leaf(CNNC_SHAPE(32, 32));
    cnnc_tensor *rm = cnnc_zeros(CNNC_SHAPE(16), CNNC_FLOAT32);
    cnnc_tensor *rv = cnnc_ones(CNNC_SHAPE(16), CNNC_FLOAT32);
    if (!x || !w || !b || !lw || !rm || !rv) return cnnc_last_status();
    cnnc_tensor *y[4] = {
        cnnc_batch_norm(x, rm, rv, w, b, CNNC_BATCH_NORM(.training = true)),
        cnnc_group_norm(x, 4, w, b, CNNC_GROUP_NORM()),
        cnnc_instance_norm(x, NULL, NULL, w, b, CNNC_INSTANCE_NORM()),
        cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS(32, 32), lw, NULL, CNNC_LAYER_NORM())};
    if (!backward_sum(4, y)) return cnnc_last_status();
    cnnc_tensor *all[9] = {y[0], y[1], y[2], y[3], rm, rv, cnnc_tensor_grad(x),
                           cnnc_tensor_grad(w), cnnc_tensor_grad(lw)};
    for (int i = 0; i < 9; i++) put(o, all[i]);
    return CNNC_OK;
}

/* A Conv2d module's no-grad forwards, which keep its Winograd weights (ops/conv.h):
 * out of memory for the cache, the forward packs them per call instead (the same
 * bits); releasing the module frees the cache. */
static cnnc_status case_conv_cached(op_out *o) {
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(4, 32, 24, 24)); /* several blocks of tiles */
    cnnc_module *conv = cnnc_conv2d_new(
        32, 32, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1)));
    if (!x || !conv) {
        cnnc_module_release(conv);
        return cnnc_last_status();
    }
    cnnc_module_eval(conv);
    const bool grad = cnnc_set_grad_enabled(false);
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++) ok = put(o, cnnc_module_forward(conv, x));
    cnnc_set_grad_enabled(grad);
    cnnc_module_release(conv);
    return ok ? CNNC_OK : cnnc_last_status();
}

typedef struct op_case {
    const char *name;
    cnnc_status (*run)(op_out *o);
    op_out want;
} op_case;

static op_case op_cases[] = {{"conv", case_conv, {0}},
                             {"conv module, cached weights", case_conv_cached, {0}},
                             {"matmul", case_matmul, {0}},
                             {"pool", case_pool, {0}},
                             {"interpolate", case_interpolate, {0}},
                             {"norms", case_norms, {0}}};
enum { N_CASES = sizeof op_cases / sizeof op_cases[0] };

/* Runs the case in a scope (the scope frees whatever the case made, also on
 * failure). */
static cnnc_status run_case(const op_case *c, op_out *o) {
    o->len = 0;
    cnnc_clear_error();
    cnnc_manual_seed(42);
    if (cnnc_scope_begin() != CNNC_OK) return cnnc_last_status();
    cnnc_status st = c->run(o);
    if (st == CNNC_OK && cnnc_last_status() != CNNC_OK) st = cnnc_last_status();
    cnnc_status end = cnnc_scope_end();
    return st != CNNC_OK ? st : end;
}

/* One run under whatever failures are armed: the right values, or out of memory
 * with a message; nothing leaked. Returns the failures injected. */
static long check_case_run(const op_case *c, long n, const char *mode, op_out *o) {
    cnnc_status st = run_case(c, o);
    const long injected = A.injected;
    char what[64];
    snprintf(what, sizeof what, "the %s case", c->name);
    if (st != CNNC_OK) {
        failed(n, mode, what);
    } else if (o->len != c->want.len || memcmp(o->v, c->want.v, o->len * sizeof(float)) != 0) {
        wrong(n, mode, what);
    }
    start_run(0, false);
    check_no_leak(n, mode);
    return injected;
}

static op_out new_out(void) {
    op_out o = {malloc(OUT_CAP * sizeof(float)), 0};
    if (!o.v) abort();
    return o;
}

/* Two threads from here on; reference results, and the pool and the caller's
 * workspace warmed up (both kept by design), so a run's allocations are its own. */
static void test_thread_pool_references(void) {
    start_run(0, false);
    CHECK_OK(cnnc_set_num_threads(2));
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N_CASES; i++) {
            op_case *c = &op_cases[i];
            if (!c->want.v) c->want = new_out();
            op_out o = new_out();
            CHECK_OK(run_case(c, pass ? &o : &c->want));
            if (pass)
                CHECK(o.len == c->want.len &&
                      memcmp(o.v, c->want.v, o.len * sizeof(float)) == 0);
            free(o.v);
        }
    baseline_live = A.n_live;
    for (size_t i = 0; i < A.n_live; i++) A.live[i].serial = 0;
    /* the caller's workspace and the pool's thread list */
    CHECK(baseline_live <= 2);
}

/* New pool threads, holding no memory of their own yet. */
static void fresh_pool_threads(void) {
    CHECK_OK(cnnc_set_num_threads(1));
    CHECK_OK(cnnc_set_num_threads(2));
}

/* Issue 9, item 2: a pool thread that cannot allocate must not make the caller
 * return success with wrong values. The reproducer first: requests of
 * 256 KiB or more refused to other threads, a batched matmul at 2 threads. */
static void test_matmul_with_pool_threads_refused(void) {
    cnnc_manual_seed(3);
    cnnc_tensor *a = cnnc_randn(CNNC_SHAPE(64, 16, 16)), *b = cnnc_randn(CNNC_SHAPE(64, 16, 16));
    cnnc_tensor *big = cnnc_randn(CNNC_SHAPE(64, 48, 48));
    REQUIRE(a && b && big);
    cnnc_tensor *want = cnnc_matmul(a, b), *want_big = cnnc_matmul(big, big);
    REQUIRE(want && want_big);
    fresh_pool_threads();
    start_refusing_run(256 * 1024);
    cnnc_tensor *got = cnnc_matmul(a, b);
    cnnc_tensor *got_big = cnnc_matmul(big, big);
    cnnc_tensor *pairs[2][2] = {{got, want}, {got_big, want_big}};
    for (int i = 0; i < 2; i++) {
        if (pairs[i][0])
            CHECK(memcmp(cnnc_tensor_data_f32(pairs[i][0]), cnnc_tensor_data_f32(pairs[i][1]),
                         (size_t)cnnc_tensor_numel(pairs[i][1]) * sizeof(float)) == 0);
        else
            CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_OUT_OF_MEMORY);
        cnnc_tensor_release(pairs[i][0]);
        cnnc_tensor_release(pairs[i][1]);
    }
    start_run(0, false);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(big);
    check_no_leak(0, "matmul, pool threads refused");
}

/* Every op case with every allocation refused to the pool threads. */
static void test_ops_with_pool_threads_refused(void) {
    op_out o = new_out();
    for (int i = 0; i < N_CASES; i++) {
        fresh_pool_threads();
        start_refusing_run(1);
        check_case_run(&op_cases[i], 0, "pool threads refused", &o);
    }
    free(o.v);
}

/* A region whose chunks allocate, one of them on a pool thread (the driver's path for
 * any chunk that fails): the caller gets the pool thread's out-of-memory error.
 * Threads claim chunks as they come, so chunk 0 waits until chunk 1 has started: the
 * two then run on two threads (the caller alone would take both while the worker
 * wakes). */
static atomic_int chunk1_started;

static cnnc_status allocating_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)ctx;
    (void)begin;
    (void)end;
    if (chunk == 1)
        atomic_store(&chunk1_started, 1);
    else
        while (!atomic_load(&chunk1_started)) {
        }
    return cnnc__workspace(((size_t)chunk + 1) << 20) ? CNNC_OK : cnnc_last_status();
}

static cnnc_status scratch_free_range(void *ctx, int64_t begin, int64_t end, int chunk) {
    (void)ctx;
    (void)begin;
    (void)end;
    (void)chunk;
    return CNNC_OK;
}

static void test_region_returns_a_pool_threads_failure(void) {
    const cnnc__cost big = {.flops = 1e9};
    start_refusing_run(1);
    cnnc_clear_error();
    atomic_store(&chunk1_started, 0);
    CHECK_STATUS(cnnc__parallel_for(2, big, allocating_range, NULL), CNNC_ERR_OUT_OF_MEMORY);
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_OUT_OF_MEMORY);
    CHECK_ERROR_CONTAINS("out of memory while allocating a workspace");
    CHECK(A.refused >= 1);
    start_run(0, false);
    check_no_leak(0, "region, pool threads refused");
    /* allowed, the pool thread keeps its workspace until it exits */
    atomic_store(&chunk1_started, 0);
    CHECK_OK(cnnc__parallel_for(2, big, allocating_range, NULL));
    CHECK_EQ_INT(A.n_live, baseline_live + 1);
    CHECK_OK(cnnc_set_num_threads(1)); /* its thread exits */
    CHECK_OK(cnnc_set_num_threads(2));
    CHECK_OK(cnnc__parallel_for(2, big, scratch_free_range, NULL)); /* a new pool */
    check_no_leak(0, "region, after the pool threads exited");
}

/* Every op case with its N-th allocation failing (once, and from then on). */
static void test_ops_fail_nth_allocation_with_threads(void) {
    op_out o = new_out();
    for (int i = 0; i < N_CASES; i++) {
        const op_case *c = &op_cases[i];
        for (int persistent = 0; persistent < 2; persistent++) {
            char mode[64];
            snprintf(mode, sizeof mode, "%s, 2 threads, %s", c->name,
                     persistent ? "persistent" : "transient");
            long n, bad_runs = 0;
            for (n = 1; n < 100000; n++) {
                long before = check_checks_failed_;
                start_run(n, persistent);
                if (check_case_run(c, n, mode, &o) == 0) break;
                if (check_checks_failed_ != before && ++bad_runs >= 10) break;
            }
            printf("  %s: %ld allocation points, each failed in turn\n", mode, n - 1);
            points_total += n - 1;
        }
    }
    free(o.v);
}

static void test_restore_default_allocator(void) {
    cnnc_set_allocator(NULL);
    long count = A.count;
    cnnc_tensor *t = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    CHECK(t != NULL);
    CHECK_EQ_INT(A.count, count); /* the tracking allocator is no longer used */
    cnnc_tensor_release(t);
}

/* --no-pool-sweeps leaves out the N-th-allocation sweeps over the op cases (about
 * 1200 runs of real ops), for slow checkers (valgrind); every other test runs. */
int main(int argc, char **argv) {
    const bool pool_sweeps = !(argc > 1 && strcmp(argv[1], "--no-pool-sweeps") == 0);
    /* One thread: the pool starts no workers, so every allocation is made by this
     * thread in a deterministic order. Before installing the allocator. */
    if (cnnc_set_num_threads(1) != CNNC_OK) return 1;
    cnnc_set_allocator(&tracking);

    RUN_TEST(test_reference_run_and_accounting);
    RUN_TEST(test_fail_nth_allocation_once);
    RUN_TEST(test_fail_every_allocation_from_nth);
    RUN_TEST(test_fail_nth_allocation_once_in_scope);
    RUN_TEST(test_fail_every_allocation_from_nth_in_scope);
    RUN_TEST(test_small_calls_under_failure);
    /* the pool at work: 2 threads */
    A.caller = pthread_self();
    RUN_TEST(test_thread_pool_references);
    RUN_TEST(test_matmul_with_pool_threads_refused);
    RUN_TEST(test_ops_with_pool_threads_refused);
    RUN_TEST(test_region_returns_a_pool_threads_failure);
    if (pool_sweeps) RUN_TEST(test_ops_fail_nth_allocation_with_threads);
    CHECK_OK(cnnc_set_num_threads(1)); /* the pool threads exit */
    RUN_TEST(test_restore_default_allocator);
    printf("allocation-failure injection: %ld runs with one allocation failing over %d sweeps\n",
           points_total, 4 + (pool_sweeps ? 2 * N_CASES : 0));
    for (int i = 0; i < N_CASES; i++) free(op_cases[i].want.v);
    free(A.live);
    return check_summary();
}
