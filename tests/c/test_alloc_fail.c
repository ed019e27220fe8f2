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
 * scope. */
#include "check.h"

#include <cnnc.h>

#include "core/parallel.h" /* cnnc__workspace: the one allocation kept by design */

#include <stdbool.h>
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

static struct {
    long fail_at;    /* 0: never fail */
    bool persistent; /* fail every allocation from fail_at on */
    long count;      /* allocations attempted in this run */
    long injected;   /* failures injected in this run */
    live_block *live;
    size_t n_live, cap_live;
    long bad_frees; /* frees of pointers this allocator did not hand out */
} A;

static void *tracking_alloc(void *ctx, size_t size) {
    (void)ctx;
    A.count++;
    if (A.fail_at > 0 && (A.count == A.fail_at || (A.persistent && A.count > A.fail_at))) {
        A.injected++;
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

static void tracking_free(void *ctx, void *ptr) {
    (void)ctx;
    if (!ptr) return;
    for (size_t i = A.n_live; i-- > 0;) {
        if (A.live[i].ptr == ptr) {
            A.live[i] = A.live[--A.n_live];
            free(ptr);
            return;
        }
    }
    A.bad_frees++; /* not ours: leak it rather than corrupt the heap */
}

static const cnnc_allocator tracking = {tracking_alloc, tracking_free, NULL};

static void start_run(long fail_at, bool persistent) {
    A.fail_at = fail_at;
    A.persistent = persistent;
    A.count = 0;
    A.injected = 0;
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

static void test_restore_default_allocator(void) {
    cnnc_set_allocator(NULL);
    long count = A.count;
    cnnc_tensor *t = cnnc_ones(CNNC_SHAPE(4), CNNC_FLOAT32);
    CHECK(t != NULL);
    CHECK_EQ_INT(A.count, count); /* the tracking allocator is no longer used */
    cnnc_tensor_release(t);
}

int main(void) {
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
    RUN_TEST(test_restore_default_allocator);
    printf("allocation-failure injection: %ld runs with one allocation failing over 4 sweeps\n",
           points_total);
    free(A.live);
    return check_summary();
}
