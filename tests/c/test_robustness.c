/* Robustness: every public function of cnnc, called with bad arguments.
 *
 * The library promises that every public function validates its arguments and
 * returns an error (NULL or a status other than CNNC_OK, with a non-empty
 * cnnc_last_error()) and that nothing a caller passes crashes it, leaks or hits
 * undefined behaviour. This program calls each public function with NULL for each
 * pointer argument, wrong dtypes, wrong ranks, zero, negative and huge sizes,
 * garbage option structs (n outside [0, CNNC_MAX_DIMS], NaN/inf, out-of-range enums,
 * unknown strings), exercises every module constructor's module (forward with odd
 * inputs, set_tensor with wrong tensors, load_state_dict with missing / unexpected /
 * mismatched entries, unknown names), and ends with a fixed-seed fuzz of the main
 * ops. Run it under ASan+UBSan and valgrind: it must be clean.
 *
 * Table-driven helpers:
 *   T_ERR(call)   the call returns NULL with an error message (a returned tensor is
 *                 released so the failure does not also leak);
 *   T_OK(call)    the call returns a sane tensor (released);
 *   T_ANY(call)   either a sane tensor or NULL with a message (no crash/leak/UB):
 *                 for arguments PyTorch accepts or that have no PyTorch analogue;
 *   M_ERR / M_OK / M_ANY, S_ERR / S_ANY, L_ERR, STR_ERR: the same for modules,
 *                 statuses, tensor lists and strings.
 *   SWEEP_INPUT(X, call)  the call with X = NULL and X = an int64 tensor must fail.
 *   SWEEP_RANK(X, call)   the call with X 0-d, 1-d and 6-d must fail.
 *   SWEEP_ODD(X, call)    the call with X 0-d, 1-d, 6-d, empty: no crash (T_ANY).
 *
 * Every case runs, including the ten that found bugs (overflows in conv, pool and
 * group_norm validation, a stack overflow from an oversized cnnc_ints, NULL modes,
 * a module cycle, a second backward through a scalar mul): keep it that way. */
#include "check.h"

#include <cnnc.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a capped allocator ------------------------------------------------------
 * Requests above 256 MiB fail (reported by the library as CNNC_ERR_OUT_OF_MEMORY),
 * so huge-but-representable sizes are tested without asking the system (or ASan,
 * which aborts on giant requests) for terabytes. */
#define ROB_ALLOC_CAP ((size_t)256 << 20)
static void *rob_alloc(void *ctx, size_t size) {
    (void)ctx;
    if (size > ROB_ALLOC_CAP) return NULL;
    return malloc(size ? size : 1);
}
static void rob_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

/* ---- checking helpers -------------------------------------------------------- */

static long rob_calls_;

static int error_is_set_(void) {
    const char *e = cnnc_last_error();
    return cnnc_last_status() != CNNC_OK && e && e[0];
}

/* A returned tensor must look sane: rank in [0, MAX], sizes >= 0, numel their
 * product, every element readable. */
static int tensor_sane_(cnnc_tensor *t) {
    int nd = cnnc_tensor_ndim(t);
    if (nd < 0 || nd > CNNC_MAX_DIMS) return 0;
    const int64_t *s = cnnc_tensor_shape(t);
    if (nd > 0 && !s) return 0;
    int64_t n = 1;
    int has_zero = 0;
    for (int i = 0; i < nd; i++) {
        if (s[i] < 0) return 0;
        if (s[i] == 0) has_zero = 1;
    }
    for (int i = 0; i < nd && !has_zero; i++)
        if (__builtin_mul_overflow(n, s[i], &n)) return 0;
    if (has_zero) n = 0;
    if (cnnc_tensor_numel(t) != n) return 0;
    cnnc_dtype dt = cnnc_tensor_dtype(t);
    if (dt == CNNC_FLOAT32) {
        const float *d = cnnc_tensor_data_f32(t);
        if (n > 0 && !d) return 0;
        volatile float acc = 0;
        for (int64_t i = 0; i < n; i++) acc += d[i] == d[i] ? 0.0f : 1.0f; /* reads every element */
        (void)acc;
    } else if (dt == CNNC_INT64) {
        const int64_t *d = cnnc_tensor_data_i64(t);
        if (n > 0 && !d) return 0;
        volatile int64_t acc = 0;
        for (int64_t i = 0; i < n; i++) acc ^= d[i];
        (void)acc;
    } else {
        return 0;
    }
    return 1;
}

static void t_err_(const char *file, int line, const char *expr, cnnc_tensor *t) {
    rob_calls_++;
    check_checks_run_++;
    if (t) {
        check_fail_(file, line, "%s returned a tensor, expected an error", expr);
        cnnc_tensor_release(t);
    } else if (!error_is_set_()) {
        check_fail_(file, line, "%s returned NULL without an error message", expr);
    }
}
static void t_ok_(const char *file, int line, const char *expr, cnnc_tensor *t) {
    rob_calls_++;
    check_checks_run_++;
    if (!t) {
        check_fail_(file, line, "%s failed, expected a tensor", expr);
    } else {
        if (!tensor_sane_(t)) check_fail_(file, line, "%s returned an insane tensor", expr);
        cnnc_tensor_release(t);
    }
}
static void t_any_(const char *file, int line, const char *expr, cnnc_tensor *t) {
    rob_calls_++;
    check_checks_run_++;
    if (t) {
        if (!tensor_sane_(t)) check_fail_(file, line, "%s returned an insane tensor", expr);
        cnnc_tensor_release(t);
    } else if (!error_is_set_()) {
        check_fail_(file, line, "%s returned NULL without an error message", expr);
    }
}
static void m_err_(const char *file, int line, const char *expr, cnnc_module *m) {
    rob_calls_++;
    check_checks_run_++;
    if (m) {
        check_fail_(file, line, "%s returned a module, expected an error", expr);
        cnnc_module_release(m);
    } else if (!error_is_set_()) {
        check_fail_(file, line, "%s returned NULL without an error message", expr);
    }
}
static cnnc_module *m_any_(const char *file, int line, const char *expr, cnnc_module *m) {
    rob_calls_++;
    check_checks_run_++;
    if (!m && !error_is_set_())
        check_fail_(file, line, "%s returned NULL without an error message", expr);
    return m;
}
static cnnc_module *m_ok_(const char *file, int line, const char *expr, cnnc_module *m) {
    rob_calls_++;
    check_checks_run_++;
    if (!m) check_fail_(file, line, "%s failed, expected a module", expr);
    return m;
}
static void s_err_(const char *file, int line, const char *expr, cnnc_status s) {
    rob_calls_++;
    check_checks_run_++;
    if (s == CNNC_OK)
        check_fail_(file, line, "%s returned CNNC_OK, expected an error", expr);
    else if (!error_is_set_() || cnnc_last_status() != s)
        check_fail_(file, line, "%s returned %s without a matching error message", expr,
                    cnnc_status_name(s));
}
static void s_ok_(const char *file, int line, const char *expr, cnnc_status s) {
    rob_calls_++;
    check_checks_run_++;
    if (s != CNNC_OK) check_fail_(file, line, "%s returned %s, expected CNNC_OK", expr, cnnc_status_name(s));
}
static void s_any_(const char *file, int line, const char *expr, cnnc_status s) {
    rob_calls_++;
    check_checks_run_++;
    if (s != CNNC_OK && !error_is_set_())
        check_fail_(file, line, "%s returned %s without an error message", expr, cnnc_status_name(s));
}
static void l_err_(const char *file, int line, const char *expr, cnnc_tensor_list *l) {
    rob_calls_++;
    check_checks_run_++;
    if (l) {
        check_fail_(file, line, "%s returned a list, expected an error", expr);
        cnnc_tensor_list_free(l);
    } else if (!error_is_set_()) {
        check_fail_(file, line, "%s returned NULL without an error message", expr);
    }
}
static void str_err_(const char *file, int line, const char *expr, char *s) {
    rob_calls_++;
    check_checks_run_++;
    if (s) {
        check_fail_(file, line, "%s returned a string, expected an error", expr);
        cnnc_free(s);
    } else if (!error_is_set_()) {
        check_fail_(file, line, "%s returned NULL without an error message", expr);
    }
}
/* A pointer result that is borrowed (nothing to free): NULL with an error. */
static void p_err_(const char *file, int line, const char *expr, const void *p) {
    rob_calls_++;
    check_checks_run_++;
    if (p) check_fail_(file, line, "%s returned non-NULL, expected an error", expr);
    else if (!error_is_set_()) check_fail_(file, line, "%s returned NULL without an error message", expr);
}
/* A void call or a getter with a documented fallback: an error must be set. */
static void set_err_(const char *file, int line, const char *expr) {
    rob_calls_++;
    check_checks_run_++;
    if (!error_is_set_()) check_fail_(file, line, "%s set no error", expr);
}

#define T_ERR(...) t_err_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define T_OK(...) t_ok_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define T_ANY(...) t_any_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define M_ERR(...) m_err_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define M_ANY(...) m_any_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define M_OK(...) m_ok_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define S_ERR(...) s_err_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define S_OK(...) s_ok_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define S_ANY(...) s_any_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define L_ERR(...) l_err_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define STR_ERR(...) str_err_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
#define P_ERR(...) p_err_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))
/* A getter with a fallback value (want) that must also set an error. */
#define GET_ERR(want, ...)                                                     \
    do {                                                                       \
        cnnc_clear_error();                                                    \
        long long get_v_ = (long long)(__VA_ARGS__);                           \
        CHECK_EQ_INT(get_v_, (want));                                          \
        set_err_(__FILE__, __LINE__, #__VA_ARGS__);                            \
    } while (0)
/* ---- fixtures ------------------------------------------------------------------ */

typedef struct fixtures {
    cnnc_tensor *s0;   /* 0-d float */
    cnnc_tensor *v3;   /* [3] */
    cnnc_tensor *r6;   /* [1, 1, 1, 1, 1, 2] */
    cnnc_tensor *e0;   /* [0] */
    cnnc_tensor *m23;  /* [2, 3] */
    cnnc_tensor *x3;   /* [2, 3, 5] */
    cnnc_tensor *x4;   /* [2, 3, 6, 6] */
    cnnc_tensor *x5;   /* [1, 2, 4, 4, 4] */
    cnnc_tensor *z4;   /* [0, 3, 6, 6] */
    cnnc_tensor *e4;   /* [2, 3, 0, 6] */
    cnnc_tensor *i4;   /* int64 [2, 3, 6, 6] */
    cnnc_tensor *i1;   /* int64 [3] */
    cnnc_tensor *i23;  /* int64 [2, 3] */
    cnnc_tensor *i0;   /* int64 0-d */
    cnnc_tensor *w7;   /* [7] */
    cnnc_tensor *h3;   /* [0, 2^62, 4]: empty, but the other sizes' product overflows */
    cnnc_tensor *h4;   /* [0, 2^30, 2^30, 2^30] */
    cnnc_tensor *h5;   /* [2^31, 0, 2^31, 2^31, 2^31] */
} fixtures;
static fixtures fx;

static cnnc_tensor *rnd(int nd, const int64_t *shape) { return cnnc_randn(nd, shape); }

static void fx_init(void) {
    cnnc_manual_seed(1234);
    fx.s0 = rnd(0, NULL);
    fx.v3 = rnd(CNNC_SHAPE(3));
    fx.r6 = rnd(CNNC_SHAPE(1, 1, 1, 1, 1, 2));
    fx.e0 = cnnc_zeros(CNNC_SHAPE(0), CNNC_FLOAT32);
    fx.m23 = rnd(CNNC_SHAPE(2, 3));
    fx.x3 = rnd(CNNC_SHAPE(2, 3, 5));
    fx.x4 = rnd(CNNC_SHAPE(2, 3, 6, 6));
    fx.x5 = rnd(CNNC_SHAPE(1, 2, 4, 4, 4));
    fx.z4 = cnnc_zeros(CNNC_SHAPE(0, 3, 6, 6), CNNC_FLOAT32);
    fx.e4 = cnnc_zeros(CNNC_SHAPE(2, 3, 0, 6), CNNC_FLOAT32);
    fx.i4 = cnnc_zeros(CNNC_SHAPE(2, 3, 6, 6), CNNC_INT64);
    fx.i1 = cnnc_zeros(CNNC_SHAPE(3), CNNC_INT64);
    fx.i23 = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_INT64);
    fx.i0 = cnnc_zeros(0, NULL, CNNC_INT64);
    fx.w7 = rnd(CNNC_SHAPE(7));
    fx.h3 = cnnc_zeros(CNNC_SHAPE(0, (int64_t)1 << 62, 4), CNNC_FLOAT32);
    fx.h4 = cnnc_zeros(CNNC_SHAPE(0, (int64_t)1 << 30, (int64_t)1 << 30, (int64_t)1 << 30), CNNC_FLOAT32);
    fx.h5 = cnnc_zeros(CNNC_SHAPE((int64_t)1 << 31, 0, (int64_t)1 << 31, (int64_t)1 << 31, (int64_t)1 << 31),
                       CNNC_FLOAT32);
}
static void fx_free(void) {
    cnnc_tensor **all[] = {&fx.s0, &fx.v3, &fx.r6, &fx.e0, &fx.m23, &fx.x3, &fx.x4, &fx.x5,
                           &fx.z4, &fx.e4, &fx.i4, &fx.i1, &fx.i23, &fx.i0, &fx.w7,
                           &fx.h3, &fx.h4, &fx.h5};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        cnnc_tensor_release(*all[i]);
        *all[i] = NULL;
    }
}

/* The call with X NULL, then X an int64 tensor: both must fail. */
#define SWEEP_INPUT(X, ...)                                                     \
    do {                                                                        \
        { cnnc_tensor *X = NULL; T_ERR(__VA_ARGS__); }                          \
        { cnnc_tensor *X = fx.i4; T_ERR(__VA_ARGS__); }                         \
    } while (0)
/* The call with X NULL, int64 0-d, int64 1-d: all must fail. */
#define SWEEP_PARAM(X, ...)                                                     \
    do {                                                                        \
        { cnnc_tensor *X = fx.i1; T_ERR(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.i0; T_ERR(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.w7; T_ERR(__VA_ARGS__); }                         \
    } while (0)
#define SWEEP_RANK(X, ...)                                                      \
    do {                                                                        \
        { cnnc_tensor *X = fx.s0; T_ERR(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.v3; T_ERR(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.r6; T_ERR(__VA_ARGS__); }                         \
    } while (0)
#define SWEEP_ODD(X, ...)                                                       \
    do {                                                                        \
        { cnnc_tensor *X = fx.s0; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.v3; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.r6; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.e0; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.z4; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.e4; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.m23; T_ANY(__VA_ARGS__); }                        \
        { cnnc_tensor *X = fx.x3; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.x5; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.h3; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.h4; T_ANY(__VA_ARGS__); }                         \
        { cnnc_tensor *X = fx.h5; T_ANY(__VA_ARGS__); }                         \
    } while (0)

/* cnnc_ints values that are garbage for any int|tuple argument. */
static cnnc_ints ints_n(int n, int64_t v) {
    cnnc_ints r;
    memset(&r, 0, sizeof r);
    r.n = n;
    for (int i = 0; i < CNNC_MAX_DIMS; i++) r.v[i] = v;
    return r;
}
static cnnc_doubles doubles_n(int n, double v) {
    cnnc_doubles r;
    memset(&r, 0, sizeof r);
    r.n = n;
    for (int i = 0; i < CNNC_MAX_DIMS; i++) r.v[i] = v;
    return r;
}
/* n values that are wrong for a cnnc_ints (beyond the array, negative). */
static const int bad_ns[] = {-1, INT_MIN, CNNC_MAX_DIMS + 1, INT_MAX};
#define N_BAD_NS ((int)(sizeof bad_ns / sizeof *bad_ns))
/* int values that are wrong for sizes/strides/kernels. */
static const int64_t bad_vals[] = {0, -1, INT64_MIN, INT64_MAX, (int64_t)1 << 40};
#define N_BAD_VALS ((int)(sizeof bad_vals / sizeof *bad_vals))

/* ---- core: errors, settings, creation --------------------------------------------- */

static void test_core_settings(void) {
    CHECK_STR_EQ(cnnc_status_name((cnnc_status)99), "CNNC_STATUS_UNKNOWN");
    CHECK_STR_EQ(cnnc_status_name((cnnc_status)-1), "CNNC_STATUS_UNKNOWN");
    CHECK_STR_EQ(cnnc_dtype_name((cnnc_dtype)99), "unknown");
    CHECK_STR_EQ(cnnc_dtype_name((cnnc_dtype)-1), "unknown");
    CHECK(cnnc_version() != NULL);
    cnnc_free(NULL);
    int old = cnnc_get_num_threads();
    S_ERR(cnnc_set_num_threads(0));
    S_ERR(cnnc_set_num_threads(-1));
    S_ERR(cnnc_set_num_threads(INT_MIN));
    CHECK_EQ_INT(cnnc_get_num_threads(), old);
    S_ANY(cnnc_set_num_threads(INT_MAX)); /* may be capped or refused; must not spawn 2^31 threads */
    S_OK(cnnc_set_num_threads(old));
    cnnc_thread_cleanup();
    cnnc_thread_cleanup();
    S_ERR(cnnc_scope_end()); /* no open scope */
    S_OK(cnnc_scope_begin());
    S_OK(cnnc_scope_end());
    S_ERR(cnnc_scope_end());
    /* deep nesting: either works or fails cleanly, and unwinds */
    int opened = 0;
    for (int i = 0; i < 5000; i++) {
        cnnc_clear_error();
        if (cnnc_scope_begin() != CNNC_OK) {
            CHECK(error_is_set_());
            break;
        }
        opened++;
        cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(1), CNNC_FLOAT32);
        (void)t;
    }
    for (int i = 0; i < opened; i++) S_OK(cnnc_scope_end());
    S_ERR(cnnc_scope_end());
    cnnc_manual_seed(UINT64_MAX);
    bool g = cnnc_set_grad_enabled(false);
    CHECK(!cnnc_is_grad_enabled());
    cnnc_set_grad_enabled(g);
}

static void test_creation(void) {
    typedef cnnc_tensor *(*maker)(int, const int64_t *, cnnc_dtype);
    maker makers[] = {cnnc_empty, cnnc_zeros, cnnc_ones};
    const int64_t neg[] = {2, -1};
    const int64_t huge[] = {INT64_MAX};
    const int64_t ovf[] = {(int64_t)1 << 32, (int64_t)1 << 32};
    const int64_t ovf2[] = {INT64_MAX, 2};
    const int64_t ovf3[] = {INT64_MAX, INT64_MAX, 0}; /* product of the first two overflows, total 0 */
    const int64_t big[] = {(int64_t)1 << 40};         /* representable, refused by the capped allocator */
    const int64_t zero[] = {0, 5};
    const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int k = 0; k < 3; k++) {
        for (int dt = 0; dt < 2; dt++) {
            cnnc_dtype d = (cnnc_dtype)dt;
            T_ERR(makers[k](-1, neg, d));
            T_ERR(makers[k](INT_MIN, neg, d));
            T_ERR(makers[k](CNNC_MAX_DIMS + 1, nine, d));
            T_ERR(makers[k](INT_MAX, nine, d));
            T_ERR(makers[k](2, NULL, d));
            T_ERR(makers[k](2, neg, d));
            T_ERR(makers[k](1, huge, d));
            T_ERR(makers[k](2, ovf, d));
            T_ERR(makers[k](2, ovf2, d));
            T_ANY(makers[k](3, ovf3, d)); /* torch.empty(2**63-1, 2**63-1, 0) is a valid empty tensor */
            T_ERR(makers[k](1, big, d));
            T_OK(makers[k](2, zero, d));
            T_OK(makers[k](0, NULL, d));
        }
        T_ERR(makers[k](1, zero, (cnnc_dtype)99));
        T_ERR(makers[k](1, zero, (cnnc_dtype)-1));
        T_ERR(makers[k](1, zero, CNNC_DTYPE_COUNT));
    }
    T_ERR(cnnc_full(2, neg, 1.0, CNNC_FLOAT32));
    T_ERR(cnnc_full(2, NULL, 1.0, CNNC_FLOAT32));
    T_ERR(cnnc_full(-1, NULL, 1.0, CNNC_FLOAT32));
    T_ERR(cnnc_full(1, zero, 1.0, (cnnc_dtype)7));
    T_ERR(cnnc_full(2, ovf, 1.0, CNNC_FLOAT32));
    T_OK(cnnc_full(1, zero + 1, NAN, CNNC_FLOAT32));
    T_OK(cnnc_full(1, zero + 1, INFINITY, CNNC_FLOAT32));
    T_OK(cnnc_full(1, zero + 1, 1e300, CNNC_FLOAT32)); /* torch: inf in float32 */
    /* torch.full((5,), float('nan'), dtype=torch.long) raises "value cannot be converted
     * to type int64_t without overflow"; a double->int64 conversion out of range is UB. */
    T_ERR(cnnc_full(1, zero + 1, NAN, CNNC_INT64));
    T_ERR(cnnc_full(1, zero + 1, 1e300, CNNC_INT64));
    T_ERR(cnnc_full(1, zero + 1, -INFINITY, CNNC_INT64));
    T_ERR(cnnc_full(1, zero + 1, 9223372036854775808.0, CNNC_INT64));
    T_OK(cnnc_full(1, zero + 1, -9223372036854775808.0, CNNC_INT64));
    float buf[4] = {0};
    const int64_t four[] = {4};
    T_ERR(cnnc_from_data(1, four, CNNC_FLOAT32, NULL));
    T_ERR(cnnc_from_data(1, neg + 1, CNNC_FLOAT32, buf));
    T_ERR(cnnc_from_data(1, four, (cnnc_dtype)5, buf));
    T_ERR(cnnc_from_data(2, NULL, CNNC_FLOAT32, buf));
    T_ERR(cnnc_from_data(9, nine, CNNC_FLOAT32, buf));
    T_ERR(cnnc_from_data(2, ovf, CNNC_FLOAT32, buf));
    T_OK(cnnc_from_data(2, zero, CNNC_FLOAT32, NULL));
    T_OK(cnnc_from_data(1, four, CNNC_FLOAT32, buf));
    T_ERR(cnnc_rand(2, neg));
    T_ERR(cnnc_rand(-3, NULL));
    T_ERR(cnnc_rand(2, NULL));
    T_ERR(cnnc_rand(2, ovf));
    T_ERR(cnnc_rand(1, big));
    T_ERR(cnnc_randn(2, neg));
    T_ERR(cnnc_randn(9, nine));
    T_ERR(cnnc_randn(2, ovf2));
    T_OK(cnnc_randn(2, zero));
    /* arange */
    T_ERR(cnnc_arange(0, 10, 0, CNNC_FLOAT32));
    T_ERR(cnnc_arange(0, 10, -1, CNNC_FLOAT32));
    T_ERR(cnnc_arange(10, 0, 1, CNNC_INT64));
    T_ERR(cnnc_arange(NAN, 10, 1, CNNC_FLOAT32));
    T_ERR(cnnc_arange(0, NAN, 1, CNNC_FLOAT32));
    T_ERR(cnnc_arange(0, 10, NAN, CNNC_FLOAT32));
    T_ERR(cnnc_arange(0, INFINITY, 1, CNNC_FLOAT32));
    T_ERR(cnnc_arange(-INFINITY, 0, 1, CNNC_INT64));
    T_ERR(cnnc_arange(0, 1e300, 1, CNNC_FLOAT32));
    T_ERR(cnnc_arange(0, 1e300, 1e-300, CNNC_INT64));
    T_ERR(cnnc_arange(0, 1e18, 1, CNNC_INT64)); /* 8e18 bytes: refused */
    T_ERR(cnnc_arange(0, 10, 1, (cnnc_dtype)42));
    T_ANY(cnnc_arange(0, 1, INFINITY, CNNC_FLOAT32)); /* torch: an empty tensor */
    T_OK(cnnc_arange(0, 0, 1, CNNC_FLOAT32));
    T_OK(cnnc_arange(5, 0, -1, CNNC_INT64));
}

static void test_tensor_accessors(void) {
    fx_init();
    CHECK(cnnc_tensor_retain(NULL) == NULL);
    cnnc_tensor_release(NULL);
    GET_ERR(-1, cnnc_tensor_ndim(NULL));
    P_ERR(cnnc_tensor_shape(NULL));
    GET_ERR(-1, cnnc_tensor_numel(NULL));
    GET_ERR(CNNC_DTYPE_COUNT, cnnc_tensor_dtype(NULL));
    GET_ERR(-1, cnnc_tensor_size(NULL, 0));
    GET_ERR(-1, cnnc_tensor_size(fx.x4, 4));
    GET_ERR(-1, cnnc_tensor_size(fx.x4, -5));
    GET_ERR(-1, cnnc_tensor_size(fx.x4, INT_MIN));
    GET_ERR(-1, cnnc_tensor_size(fx.x4, INT_MAX));
    GET_ERR(-1, cnnc_tensor_size(fx.s0, 0));
    GET_ERR(-1, cnnc_tensor_size(fx.s0, -1));
    CHECK_EQ_INT(cnnc_tensor_size(fx.x4, -4), 2);
    P_ERR(cnnc_tensor_data(NULL));
    P_ERR(cnnc_tensor_data_f32(NULL));
    P_ERR(cnnc_tensor_data_i64(NULL));
    P_ERR(cnnc_tensor_data_f32(fx.i4));
    P_ERR(cnnc_tensor_data_i64(fx.x4));
    double d = 0;
    S_ERR(cnnc_tensor_item(NULL, &d));
    S_ERR(cnnc_tensor_item(fx.s0, NULL));
    S_ERR(cnnc_tensor_item(fx.v3, &d));
    S_ERR(cnnc_tensor_item(fx.e0, &d));
    S_OK(cnnc_tensor_item(fx.i0, &d));
    S_ERR(cnnc_tensor_fill_(NULL, 1.0));
    S_ERR(cnnc_tensor_zero_(NULL));
    S_OK(cnnc_tensor_fill_(fx.e0, 1.0));
    S_OK(cnnc_tensor_fill_(fx.w7, NAN));
    /* torch.zeros(3, dtype=torch.long).fill_(float('nan')) raises "value cannot be
     * converted to type int64_t without overflow"; the C conversion is UB. */
    S_ERR(cnnc_tensor_fill_(fx.i1, NAN));
    S_ERR(cnnc_tensor_fill_(fx.i1, 1e300));
    S_ERR(cnnc_tensor_fill_(fx.i1, -INFINITY));
    S_ERR(cnnc_tensor_copy_(NULL, fx.v3));
    S_ERR(cnnc_tensor_copy_(fx.v3, NULL));
    S_ERR(cnnc_tensor_copy_(fx.v3, fx.w7));
    S_ERR(cnnc_tensor_copy_(fx.v3, fx.i1));
    S_ERR(cnnc_tensor_copy_(fx.i1, fx.v3));
    S_ANY(cnnc_tensor_copy_(fx.v3, fx.v3)); /* self copy */
    /* in place on a leaf that requires grad */
    cnnc_tensor *leaf = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    S_OK(cnnc_tensor_set_requires_grad(leaf, true));
    S_ERR(cnnc_tensor_fill_(leaf, 2.0));
    S_ERR(cnnc_tensor_zero_(leaf));
    S_ERR(cnnc_tensor_copy_(leaf, fx.v3));
    S_ERR(cnnc_relu_(leaf));
    T_ERR(cnnc_tensor_detach(NULL));
    T_ERR(cnnc_tensor_clone(NULL));
    T_OK(cnnc_tensor_detach(fx.e4));
    T_OK(cnnc_tensor_clone(fx.i0));
    STR_ERR(cnnc_tensor_shape_string(NULL));
    STR_ERR(cnnc_tensor_to_string(NULL));
    S_ERR(cnnc_tensor_print(NULL, stdout));
    S_ERR(cnnc_tensor_print(fx.v3, NULL));
    char *s = cnnc_tensor_to_string(fx.r6);
    CHECK(s != NULL);
    cnnc_free(s);
    s = cnnc_tensor_to_string(fx.e4);
    CHECK(s != NULL);
    cnnc_free(s);
    cnnc_tensor *wild = cnnc_from_data(CNNC_SHAPE(4), CNNC_FLOAT32,
                                       (const float[]){NAN, INFINITY, -INFINITY, FLT_MAX});
    s = cnnc_tensor_to_string(wild);
    CHECK(s != NULL);
    cnnc_free(s);
    cnnc_tensor *ibig = cnnc_from_data(CNNC_SHAPE(2), CNNC_INT64, (const int64_t[]){INT64_MIN, INT64_MAX});
    s = cnnc_tensor_to_string(ibig);
    CHECK(s != NULL);
    cnnc_free(s);
    cnnc_tensor *bigt = cnnc_zeros(CNNC_SHAPE(100, 100, 10), CNNC_FLOAT32);
    s = cnnc_tensor_to_string(bigt);
    CHECK(s != NULL);
    cnnc_free(s);
    cnnc_tensor_release(bigt);
    cnnc_tensor_release(wild);
    cnnc_tensor_release(ibig);
    /* autograd accessors */
    GET_ERR(0, cnnc_tensor_requires_grad(NULL));
    S_ERR(cnnc_tensor_set_requires_grad(NULL, true));
    S_ERR(cnnc_tensor_set_requires_grad(fx.i4, true));
    S_OK(cnnc_tensor_set_requires_grad(fx.i4, false));
    GET_ERR(0, cnnc_tensor_is_leaf(NULL));
    P_ERR(cnnc_tensor_grad(NULL));
    S_ERR(cnnc_tensor_set_grad(NULL, fx.v3));
    S_ERR(cnnc_tensor_set_grad(leaf, fx.w7));
    S_ERR(cnnc_tensor_set_grad(leaf, fx.i1));
    S_ERR(cnnc_tensor_set_grad(leaf, fx.s0));
    S_ANY(cnnc_tensor_set_grad(leaf, leaf)); /* torch: "can't assign Variable as its own grad" */
    S_OK(cnnc_tensor_set_grad(leaf, NULL));
    P_ERR(cnnc_tensor_grad_fn_name(NULL));
    GET_ERR(0, cnnc_tensor_version(NULL));
    /* non-leaf */
    cnnc_tensor *y = cnnc_mul_scalar(leaf, 2.0);
    REQUIRE(y);
    S_ERR(cnnc_tensor_set_requires_grad(y, false));
    S_ANY(cnnc_tensor_set_grad(y, fx.v3));
    /* backward */
    S_ERR(cnnc_backward(NULL, NULL, false));
    S_ERR(cnnc_backward(y, NULL, false));      /* not a scalar */
    S_ERR(cnnc_backward(y, fx.w7, false));     /* wrong gradient shape */
    S_ERR(cnnc_backward(y, fx.i1, false));     /* wrong gradient dtype */
    S_ERR(cnnc_backward(fx.x4, NULL, false));  /* does not require grad */
    S_ERR(cnnc_backward(fx.i0, NULL, false));
    cnnc_tensor *z = cnnc_sum(y);
    S_OK(cnnc_backward(z, NULL, false));
    /* torch: "Trying to backward through the graph a second time" (MulBackward0 saved
     * the wrapped scalar); cnnc runs the second backward and accumulates again. */
    S_ERR(cnnc_backward(z, NULL, false));      /* graph freed */
    S_ERR(cnnc_backward(y, fx.v3, false));     /* shares the freed graph */
    cnnc_tensor_release(z);
    cnnc_tensor_release(y);
    cnnc_tensor_release(leaf);
    fx_free();
}

/* ---- core ops ------------------------------------------------------------------- */

static void test_core_ops(void) {
    fx_init();
    typedef cnnc_tensor *(*binop)(cnnc_tensor *, cnnc_tensor *);
    binop bins[] = {cnnc_add, cnnc_sub, cnnc_mul, cnnc_div};
    for (int k = 0; k < 4; k++) {
        SWEEP_INPUT(a, bins[k](a, fx.x4));
        SWEEP_INPUT(b, bins[k](fx.x4, b));
        T_ERR(bins[k](fx.x4, fx.x3));    /* not broadcastable */
        T_ERR(bins[k](fx.w7, fx.v3));
        T_ERR(bins[k](fx.i1, fx.i1));    /* float32 only */
        T_OK(bins[k](fx.s0, fx.r6));
        T_OK(bins[k](fx.e0, fx.s0));
        T_OK(bins[k](fx.z4, fx.s0));
        T_ANY(bins[k](fx.e0, fx.w7)); /* [0] vs [7]: torch raises */
    }
    SWEEP_INPUT(a, cnnc_neg(a));
    SWEEP_INPUT(a, cnnc_add_scalar(a, 1.0));
    SWEEP_INPUT(a, cnnc_mul_scalar(a, NAN));
    SWEEP_INPUT(a, cnnc_sum(a));
    SWEEP_INPUT(a, cnnc_mean(a));
    SWEEP_INPUT(a, cnnc_relu(a));
    S_ERR(cnnc_relu_(NULL));
    S_ERR(cnnc_relu_(fx.i4));
    T_OK(cnnc_mean(fx.e0)); /* NaN, as torch */
    const int d01[] = {0, 1};
    const int rep[] = {1, 1};
    const int oob[] = {4};
    const int oobn[] = {-5};
    const int huge[] = {INT_MAX};
    const int hugen[] = {INT_MIN};
    typedef cnnc_tensor *(*redop)(cnnc_tensor *, int, const int *, bool);
    redop reds[] = {cnnc_sum_dims, cnnc_mean_dims};
    for (int k = 0; k < 2; k++) {
        SWEEP_INPUT(a, reds[k](a, 2, d01, false));
        T_ERR(reds[k](fx.x4, 2, NULL, false));
        T_ERR(reds[k](fx.x4, -1, d01, false));
        T_ERR(reds[k](fx.x4, INT_MIN, d01, true));
        T_ERR(reds[k](fx.x4, 9, d01, false));
        T_ERR(reds[k](fx.x4, 2, rep, false));
        T_ERR(reds[k](fx.x4, 1, oob, true));
        T_ERR(reds[k](fx.x4, 1, oobn, true));
        T_ERR(reds[k](fx.x4, 1, huge, false));
        T_ERR(reds[k](fx.x4, 1, hugen, false));
        T_ERR(reds[k](fx.s0, 1, d01 + 1, false));
        T_OK(reds[k](fx.x4, 0, NULL, false));
        T_OK(reds[k](fx.s0, 1, d01, true)); /* dim 0 of a 0-d tensor is fine in torch */
        T_OK(reds[k](fx.e4, 1, d01, true));
    }
    /* reshape / view */
    typedef cnnc_tensor *(*shapeop)(cnnc_tensor *, int, const int64_t *);
    shapeop shs[] = {cnnc_reshape, cnnc_view};
    for (int k = 0; k < 2; k++) {
        T_ERR(shs[k](NULL, CNNC_SHAPE(-1)));
        T_ERR(shs[k](fx.x4, 2, NULL));
        T_ERR(shs[k](fx.x4, -1, NULL));
        T_ERR(shs[k](fx.x4, INT_MIN, NULL));
        T_ERR(shs[k](fx.x4, 9, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 216}));
        T_ERR(shs[k](fx.x4, CNNC_SHAPE(-1, -1)));
        T_ERR(shs[k](fx.x4, CNNC_SHAPE(-2, 108)));
        T_ERR(shs[k](fx.x4, CNNC_SHAPE(5, 5)));
        T_ERR(shs[k](fx.x4, CNNC_SHAPE(INT64_MAX)));
        T_ERR(shs[k](fx.x4, CNNC_SHAPE(INT64_MAX, -1)));
        T_ERR(shs[k](fx.x4, CNNC_SHAPE(INT64_MIN, -1)));
        T_ERR(shs[k](fx.x4, CNNC_SHAPE((int64_t)1 << 32, (int64_t)1 << 32, 0, -1)));
        T_ERR(shs[k](fx.x4, CNNC_SHAPE(0, -1)));
        T_ERR(shs[k](fx.e0, CNNC_SHAPE(-1, 0))); /* torch: "the unspecified dimension size -1 can be any value" */
        T_ERR(shs[k](fx.x4, CNNC_SHAPE(216, 0)));
        T_ANY(shs[k](fx.e0, CNNC_SHAPE(INT64_MAX, 0)));
        T_ANY(shs[k](fx.e0, CNNC_SHAPE(INT64_MAX, INT64_MAX, 0)));
        T_OK(shs[k](fx.s0, 0, NULL));
        T_OK(shs[k](fx.s0, CNNC_SHAPE(-1)));
        T_OK(shs[k](fx.x4, CNNC_SHAPE(-1)));
        T_OK(shs[k](fx.i4, CNNC_SHAPE(6, -1))); /* shape ops take any dtype */
    }
    /* flatten / transpose / permute */
    T_ERR(cnnc_flatten(NULL, 0, -1));
    T_ERR(cnnc_flatten(fx.x4, 4, -1));
    T_ERR(cnnc_flatten(fx.x4, 0, 4));
    T_ERR(cnnc_flatten(fx.x4, 2, 1));
    T_ERR(cnnc_flatten(fx.x4, INT_MIN, INT_MAX));
    T_ERR(cnnc_flatten(fx.s0, 0, 1));
    T_OK(cnnc_flatten(fx.s0, 0, -1));
    T_OK(cnnc_flatten(fx.e4, 1, 3));
    T_ERR(cnnc_transpose(NULL, 0, 1));
    T_ERR(cnnc_transpose(fx.x4, 0, 4));
    T_ERR(cnnc_transpose(fx.x4, -5, 0));
    T_ERR(cnnc_transpose(fx.x4, INT_MIN, INT_MAX));
    T_ANY(cnnc_transpose(fx.s0, 0, -1)); /* torch allows transpose(0, -1) of a 0-d tensor */
    T_OK(cnnc_transpose(fx.e4, 0, 2));
    const int p4[] = {3, 2, 1, 0};
    const int prep[] = {0, 0, 1, 2};
    const int poob[] = {0, 1, 2, 4};
    const int pneg[] = {0, 1, 2, INT_MIN};
    T_ERR(cnnc_permute(NULL, 4, p4));
    T_ERR(cnnc_permute(fx.x4, 4, NULL));
    T_ERR(cnnc_permute(fx.x4, 3, p4));
    T_ERR(cnnc_permute(fx.x4, -1, p4));
    T_ERR(cnnc_permute(fx.x4, 9, p4));
    T_ERR(cnnc_permute(fx.x4, 4, prep));
    T_ERR(cnnc_permute(fx.x4, 4, poob));
    T_ERR(cnnc_permute(fx.x4, 4, pneg));
    T_OK(cnnc_permute(fx.s0, 0, NULL));
    T_OK(cnnc_permute(fx.i4, 4, p4));
    /* cat */
    cnnc_tensor *two[] = {fx.x4, fx.x4};
    cnnc_tensor *withnull[] = {fx.x4, NULL};
    cnnc_tensor *mixed[] = {fx.x4, fx.i4};
    cnnc_tensor *mism[] = {fx.x4, fx.x3};
    cnnc_tensor *zerod[] = {fx.s0, fx.s0};
    cnnc_tensor *legacy[] = {fx.e0, fx.x4};
    cnnc_tensor *empties[] = {fx.z4, fx.e4};
    T_ERR(cnnc_cat(0, two, 0));
    T_ERR(cnnc_cat(-1, two, 0));
    T_ERR(cnnc_cat(INT_MIN, two, 0));
    T_ERR(cnnc_cat(2, NULL, 0));
    T_ERR(cnnc_cat(2, withnull, 0));
    T_ERR(cnnc_cat(2, mixed, 0));
    T_ERR(cnnc_cat(2, mism, 0));
    T_ERR(cnnc_cat(2, two, 4));
    T_ERR(cnnc_cat(2, two, -5));
    T_ERR(cnnc_cat(2, two, INT_MIN));
    T_ERR(cnnc_cat(2, zerod, 0));
    T_ANY(cnnc_cat(2, legacy, 0)); /* torch skips legacy 1-d empty tensors */
    T_ERR(cnnc_cat(2, empties, 0));
    T_OK(cnnc_cat(2, two, -1));
    T_OK(cnnc_cat(1, two + 1, 0));
    /* matmul / linear */
    SWEEP_INPUT(a, cnnc_matmul(a, fx.v3));
    SWEEP_INPUT(b, cnnc_matmul(fx.m23, b));
    T_ERR(cnnc_matmul(fx.s0, fx.v3));
    T_ERR(cnnc_matmul(fx.v3, fx.s0));
    T_ERR(cnnc_matmul(fx.m23, fx.m23));
    T_ERR(cnnc_matmul(fx.x4, fx.x3));
    T_ERR(cnnc_matmul(fx.w7, fx.v3));
    T_OK(cnnc_matmul(fx.e4, fx.x4));
    T_OK(cnnc_matmul(fx.r6, fx.m23));
    T_OK(cnnc_matmul(fx.v3, fx.v3));
    SWEEP_INPUT(a, cnnc_linear(a, fx.m23, NULL));
    SWEEP_INPUT(w, cnnc_linear(fx.x3, w, NULL));
    SWEEP_PARAM(b, cnnc_linear(fx.m23, fx.m23, b));
    T_ERR(cnnc_linear(fx.s0, fx.m23, NULL));
    T_ERR(cnnc_linear(fx.x4, fx.m23, NULL));
    T_ERR(cnnc_linear(fx.m23, fx.r6, NULL));
    T_ERR(cnnc_linear(fx.m23, fx.s0, NULL));
    T_ANY(cnnc_linear(fx.m23, fx.v3, NULL)); /* torch accepts a 1-d weight */
    T_ERR(cnnc_linear(fx.m23, fx.m23, fx.m23));
    {
        cnnc_tensor *z = cnnc_zeros(CNNC_SHAPE(0, 3), CNNC_FLOAT32);
        T_OK(cnnc_linear(z, fx.m23, NULL));
        cnnc_tensor_release(z);
    }
    fx_free();
}

/* ---- tensor lists and the module core ---------------------------------------------- */

static void test_lists(void) {
    fx_init();
    cnnc_tensor_list_free(NULL);
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(l);
    S_ERR(cnnc_tensor_list_append(NULL, "a", fx.v3));
    S_ERR(cnnc_tensor_list_append(l, NULL, fx.v3));
    S_OK(cnnc_tensor_list_append(l, "a", fx.v3));
    S_OK(cnnc_tensor_list_append(l, "none", NULL));
    S_ANY(cnnc_tensor_list_append(l, "a", fx.w7)); /* duplicate name */
    S_OK(cnnc_tensor_list_append(l, "", fx.s0));
    GET_ERR(0, cnnc_tensor_list_size(NULL));
    P_ERR(cnnc_tensor_list_name(NULL, 0));
    P_ERR(cnnc_tensor_list_name(l, 99));
    P_ERR(cnnc_tensor_list_name(l, SIZE_MAX));
    P_ERR(cnnc_tensor_list_get(NULL, 0));
    P_ERR(cnnc_tensor_list_get(l, 99));
    P_ERR(cnnc_tensor_list_get(l, SIZE_MAX));
    P_ERR(cnnc_tensor_list_find(NULL, "a"));
    P_ERR(cnnc_tensor_list_find(l, NULL));
    P_ERR(cnnc_tensor_list_find(l, "absent"));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_NOT_FOUND);
    CHECK_ERROR_CONTAINS("absent");
    CHECK(cnnc_tensor_list_find(l, "a") != NULL);
    cnnc_tensor_list_free(l);
    fx_free();
}

static void test_module_core_null(void) {
    fx_init();
    cnnc_value v;
    const char *name = NULL;
    cnnc_tensor *t = NULL;
    CHECK(cnnc_module_retain(NULL) == NULL);
    cnnc_module_release(NULL);
    T_ERR(cnnc_module_forward(NULL, fx.x4));
    P_ERR(cnnc_module_type(NULL));
    /* void functions: nothing to report the error through; they must just not crash */
    cnnc_module_train(NULL, true);
    cnnc_module_eval(NULL);
    GET_ERR(0, cnnc_module_is_training(NULL));
    S_ERR(cnnc_module_tensor(NULL, "weight", &t));
    S_ERR(cnnc_module_set_tensor(NULL, "weight", fx.v3));
    GET_ERR(0, cnnc_module_num_children(NULL));
    P_ERR(cnnc_module_child(NULL, 0, &name));
    L_ERR(cnnc_module_named_parameters(NULL));
    L_ERR(cnnc_module_named_buffers(NULL));
    L_ERR(cnnc_module_state_dict(NULL));
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    S_ERR(cnnc_module_load_state_dict(NULL, l, true));
    cnnc_tensor_list_free(l);
    cnnc_module_zero_grad(NULL, false);
    STR_ERR(cnnc_module_repr(NULL));
    STR_ERR(cnnc_module_vars(NULL));
    GET_ERR(0, cnnc_module_num_attrs(NULL));
    S_ERR(cnnc_module_attr_at(NULL, 0, &name, &v));
    S_ERR(cnnc_module_attr(NULL, "x", &v));
    /* constructors of the core modules */
    M_ERR(cnnc_linear_new(-1, 3, CNNC_LINEAR()));
    M_ERR(cnnc_linear_new(3, -1, CNNC_LINEAR()));
    M_ERR(cnnc_linear_new(INT64_MIN, 3, CNNC_LINEAR()));
    M_ERR(cnnc_linear_new(INT64_MAX, INT64_MAX, CNNC_LINEAR()));
    M_ERR(cnnc_linear_new((int64_t)1 << 20, (int64_t)1 << 20, CNNC_LINEAR())); /* 4 TiB */
    cnnc_module_release(M_ANY(cnnc_linear_new(0, 0, CNNC_LINEAR())));
    /* Sequential */
    M_ERR(cnnc_sequential_new(-1, NULL));
    M_ERR(cnnc_sequential_new(INT_MIN, NULL));
    M_ERR(cnnc_sequential_new(2, NULL));
    M_ERR(cnnc_sequential_new(2, (cnnc_module *[]){cnnc_relu_new(CNNC_RELU()), NULL}));
    M_ERR(cnnc_sequential_new(2, (cnnc_module *[]){NULL, cnnc_identity_new()}));
    cnnc_module *seq = M_OK(cnnc_sequential_new(0, NULL));
    REQUIRE(seq);
    T_ANY(cnnc_module_forward(seq, fx.x4)); /* torch: an empty Sequential returns its input */
    S_ERR(cnnc_sequential_append(NULL, cnnc_relu_new(CNNC_RELU())));
    S_ERR(cnnc_sequential_append(seq, NULL));
    cnnc_module *lin = cnnc_linear_new(2, 3, CNNC_LINEAR());
    S_ERR(cnnc_sequential_append(lin, cnnc_relu_new(CNNC_RELU()))); /* not a Sequential */
    cnnc_module_release(lin);
    /* A Sequential appended to itself: a reference cycle (leak) and unbounded recursion
     * in forward / train / state_dict. torch accepts it (RecursionError at forward). */
    S_ERR(cnnc_sequential_append(seq, cnnc_module_retain(seq)));
    cnnc_module_release(seq);
    fx_free();
}

/* ---- the generic module battery -----------------------------------------------------
 * make() builds a fresh module; good is an input its forward accepts (or NULL when the
 * module has no plain forward). Each mutation is done on a fresh module. */
typedef cnnc_module *(*module_maker)(void);

static void forward_any_(const char *file, int line, cnnc_module *m, cnnc_tensor *x) {
    t_any_(file, line, "cnnc_module_forward(m, x)", (cnnc_clear_error(), cnnc_module_forward(m, x)));
}
#define FORWARD_ANY(m, x) forward_any_(__FILE__, __LINE__, (m), (x))

static void exercise_module_text(cnnc_module *m) {
    char *s = cnnc_module_repr(m);
    CHECK(s != NULL);
    cnnc_free(s);
    s = cnnc_module_vars(m);
    CHECK(s != NULL);
    cnnc_free(s);
    cnnc_tensor_list *sd = cnnc_module_state_dict(m);
    CHECK(sd != NULL);
    cnnc_tensor_list_free(sd);
}

static void module_battery(const char *what, module_maker make, cnnc_tensor *good) {
    check_current_test_ = what;
    cnnc_module *m = make();
    REQUIRE(m);
    cnnc_value v;
    const char *name = NULL;
    cnnc_tensor *t = NULL;
    /* forward with odd inputs */
    T_ERR(cnnc_module_forward(m, NULL));
    FORWARD_ANY(m, fx.i4);
    FORWARD_ANY(m, fx.i0);
    FORWARD_ANY(m, fx.s0);
    FORWARD_ANY(m, fx.v3);
    FORWARD_ANY(m, fx.e0);
    FORWARD_ANY(m, fx.r6);
    FORWARD_ANY(m, fx.z4);
    FORWARD_ANY(m, fx.e4);
    FORWARD_ANY(m, fx.m23);
    FORWARD_ANY(m, fx.x3);
    FORWARD_ANY(m, fx.x5);
    if (good) {
        cnnc_module_train(m, true);
        T_OK(cnnc_module_forward(m, good));
        cnnc_module_eval(m);
        T_OK(cnnc_module_forward(m, good));
        cnnc_module_train(m, true);
    }
    /* the type-specific forwards refuse modules of another type, or work */
    {
        cnnc_tensor *idx = NULL;
        cnnc_clear_error();
        cnnc_tensor *y = cnnc_pool_module_forward_with_indices(m, good ? good : fx.x4, &idx);
        check_checks_run_++;
        if (!y && !error_is_set_()) check_fail_(__FILE__, __LINE__, "%s: forward_with_indices: no message", what);
        if (!y && idx) check_fail_(__FILE__, __LINE__, "%s: forward_with_indices: indices set on error", what);
        cnnc_tensor_release(y);
        cnnc_tensor_release(idx);
        T_ERR(cnnc_pool_module_forward_with_indices(m, NULL, &idx));
        T_ANY(cnnc_maxunpool_module_forward(m, fx.x4, fx.i4, (cnnc_ints)CNNC_INTS_NONE));
        T_ERR(cnnc_maxunpool_module_forward(m, fx.x4, NULL, (cnnc_ints)CNNC_INTS_NONE));
        T_ERR(cnnc_maxunpool_module_forward(m, fx.x4, fx.i4, ints_n(-1, 3)));
        T_ANY(cnnc_conv_transpose_forward(m, fx.x4, 0, NULL));
        T_ERR(cnnc_conv_transpose_forward(m, fx.x4, 2, NULL));
        T_ERR(cnnc_conv_transpose_forward(m, fx.x4, -1, (const int64_t[]){6, 6}));
        T_ERR(cnnc_conv_transpose_forward(m, NULL, 0, NULL));
    }
    /* names and attributes */
    S_ERR(cnnc_module_tensor(m, "no_such_tensor", &t));
    S_ERR(cnnc_module_tensor(m, "", &t));
    S_ERR(cnnc_module_tensor(m, "0.", &t));
    S_ERR(cnnc_module_tensor(m, ".weight", &t));
    S_ERR(cnnc_module_tensor(m, "99.weight", &t));
    S_ERR(cnnc_module_tensor(m, NULL, &t));
    S_ERR(cnnc_module_set_tensor(m, "no_such_tensor", fx.v3));
    S_ERR(cnnc_module_set_tensor(m, NULL, fx.v3));
    S_ERR(cnnc_module_attr(m, "no_such_attr", &v));
    S_ERR(cnnc_module_attr(m, NULL, &v));
    S_ERR(cnnc_module_attr(m, "", &v));
    size_t na = cnnc_module_num_attrs(m);
    S_ERR(cnnc_module_attr_at(m, na, &name, &v));
    S_ERR(cnnc_module_attr_at(m, SIZE_MAX, &name, &v));
    for (size_t i = 0; i < na; i++) {
        S_OK(cnnc_module_attr_at(m, i, &name, &v));
        CHECK(name != NULL);
        CHECK((unsigned)v.kind < CNNC_VALUE_KIND_COUNT);
        if (name) S_OK(cnnc_module_attr(m, name, &v));
        S_ANY(cnnc_module_attr_at(m, i, NULL, &v));
        S_ANY(cnnc_module_attr_at(m, i, &name, NULL));
        if (name) S_ANY(cnnc_module_attr(m, name, NULL));
    }
    size_t nc = cnnc_module_num_children(m);
    P_ERR(cnnc_module_child(m, nc, &name));
    P_ERR(cnnc_module_child(m, SIZE_MAX, NULL));
    cnnc_module_zero_grad(m, false);
    cnnc_module_zero_grad(m, true);
    exercise_module_text(m);
    /* the tensors by name: get with NULL out, then mutations on fresh modules */
    cnnc_tensor_list *params = cnnc_module_named_parameters(m);
    cnnc_tensor_list *bufs = cnnc_module_named_buffers(m);
    cnnc_tensor_list *sd = cnnc_module_state_dict(m);
    REQUIRE(params && bufs && sd);
    cnnc_tensor_list *lists[2] = {params, bufs};
    for (int li = 0; li < 2; li++) {
        for (size_t i = 0; i < cnnc_tensor_list_size(lists[li]); i++) {
            const char *tn = cnnc_tensor_list_name(lists[li], i);
            S_ERR(cnnc_module_tensor(m, tn, NULL));
            cnnc_tensor *repl[] = {NULL, fx.w7, fx.s0, fx.i1, fx.i0, fx.e0, fx.x4};
            for (size_t r = 0; r < sizeof repl / sizeof *repl; r++) {
                cnnc_module *m2 = make();
                if (!m2) continue;
                cnnc_clear_error();
                cnnc_status st = cnnc_module_set_tensor(m2, tn, repl[r]);
                s_any_(__FILE__, __LINE__, "cnnc_module_set_tensor(m2, name, repl)", st);
                if (good) {
                    cnnc_module_train(m2, true);
                    FORWARD_ANY(m2, good);
                    cnnc_module_eval(m2);
                    FORWARD_ANY(m2, good);
                }
                exercise_module_text(m2);
                /* loading the original state_dict back must work or fail cleanly */
                S_ANY(cnnc_module_load_state_dict(m2, sd, true));
                if (good) FORWARD_ANY(m2, good);
                cnnc_module_release(m2);
            }
        }
    }
    /* load_state_dict */
    S_ERR(cnnc_module_load_state_dict(m, NULL, true));
    S_OK(cnnc_module_load_state_dict(m, sd, true));
    size_t n = cnnc_tensor_list_size(sd);
    {
        cnnc_tensor_list *bad = cnnc_tensor_list_new();
        for (size_t i = 0; i < n; i++)
            cnnc_tensor_list_append(bad, cnnc_tensor_list_name(sd, i), cnnc_tensor_list_get(sd, i));
        cnnc_tensor_list_append(bad, "unexpected.key", fx.v3);
        S_ERR(cnnc_module_load_state_dict(m, bad, true));
        S_OK(cnnc_module_load_state_dict(m, bad, false));
        cnnc_tensor_list_free(bad);
    }
    for (size_t skip = 0; skip < n; skip++) {
        const char *key = cnnc_tensor_list_name(sd, skip);
        cnnc_tensor *orig = cnnc_tensor_list_get(sd, skip);
        /* missing */
        cnnc_tensor_list *miss = cnnc_tensor_list_new();
        for (size_t i = 0; i < n; i++)
            if (i != skip) cnnc_tensor_list_append(miss, cnnc_tensor_list_name(sd, i), cnnc_tensor_list_get(sd, i));
        S_ERR(cnnc_module_load_state_dict(m, miss, true));
        S_OK(cnnc_module_load_state_dict(m, miss, false));
        /* mismatched shape / dtype / None / rank */
        cnnc_tensor *wrong[] = {fx.w7, fx.s0, fx.r6, NULL, fx.i1};
        for (size_t w = 0; w < sizeof wrong / sizeof *wrong; w++) {
            cnnc_tensor_list *mis = cnnc_tensor_list_new();
            for (size_t i = 0; i < n; i++)
                cnnc_tensor_list_append(mis, cnnc_tensor_list_name(sd, i),
                                        i == skip ? wrong[w] : cnnc_tensor_list_get(sd, i));
            int same_shape = wrong[w] && orig && cnnc_tensor_ndim(wrong[w]) == cnnc_tensor_ndim(orig) &&
                             cnnc_tensor_numel(wrong[w]) == cnnc_tensor_numel(orig);
            if (wrong[w] && !same_shape) {
                S_ERR(cnnc_module_load_state_dict(m, mis, true));
                S_ERR(cnnc_module_load_state_dict(m, mis, false));
            } else {
                S_ANY(cnnc_module_load_state_dict(m, mis, true));
            }
            cnnc_tensor_list_free(mis);
        }
        (void)key;
        cnnc_tensor_list_free(miss);
    }
    /* the module still works after all the failed loads */
    if (good) T_OK(cnnc_module_forward(m, good));
    cnnc_tensor_list_free(params);
    cnnc_tensor_list_free(bufs);
    cnnc_tensor_list_free(sd);
    cnnc_module_release(m);
}

/* ---- module makers ---------------------------------------------------------------- */

#define MAKER(fname, ...) \
    static cnnc_module *fname(void) { return __VA_ARGS__; }
MAKER(mk_linear, cnnc_linear_new(6, 4, CNNC_LINEAR()))
MAKER(mk_linear_nobias, cnnc_linear_new(6, 4, CNNC_LINEAR(.bias = false)))
MAKER(mk_relu, cnnc_relu_new(CNNC_RELU()))
MAKER(mk_relu_inplace, cnnc_relu_new(CNNC_RELU(.inplace = true)))
MAKER(mk_flatten, cnnc_flatten_new(CNNC_FLATTEN()))
MAKER(mk_flatten_bad, cnnc_flatten_new(CNNC_FLATTEN(.start_dim = 5, .end_dim = INT_MIN)))
MAKER(mk_identity, cnnc_identity_new())
static cnnc_module *mk_seq(void) {
    return cnnc_sequential_new(3, (cnnc_module *[]){cnnc_conv2d_new(3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3))),
                                                    cnnc_batchnorm2d_new(4, CNNC_BATCHNORM()),
                                                    cnnc_sequential_new(2, (cnnc_module *[]){
                                                        cnnc_relu_new(CNNC_RELU()), cnnc_flatten_new(CNNC_FLATTEN())})});
}
MAKER(mk_conv1d, cnnc_conv1d_new(3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3))))
MAKER(mk_conv2d, cnnc_conv2d_new(3, 6, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .groups = 3,
                                                        .padding_mode = "circular", .padding = CNNC_INTS(1))))
MAKER(mk_conv2d_same, cnnc_conv2d_new(3, 2, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(2, 3), .padding_str = "same",
                                                             .padding_mode = "reflect", .dilation = CNNC_INTS(2))))
MAKER(mk_conv3d, cnnc_conv3d_new(2, 2, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(2), .bias = false,
                                                        .padding_mode = "replicate", .padding = CNNC_INTS(1))))
MAKER(mk_convt1d, cnnc_convtranspose1d_new(3, 2, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3))))
MAKER(mk_convt2d, cnnc_convtranspose2d_new(3, 3, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3),
                                                                            .stride = CNNC_INTS(2), .groups = 3,
                                                                            .output_padding = CNNC_INTS(1))))
MAKER(mk_convt3d, cnnc_convtranspose3d_new(2, 1, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(1, 2, 2))))
MAKER(mk_maxpool1d, cnnc_maxpool1d_new(CNNC_MAX_POOL1D(.kernel_size = CNNC_INTS(2))))
MAKER(mk_maxpool2d, cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2),
                                                       .padding = CNNC_INTS(1), .ceil_mode = true)))
MAKER(mk_maxpool2d_ri, cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .return_indices = true)))
MAKER(mk_maxpool2d_bad, cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(-3), .stride = CNNC_INTS(0),
                                                           .padding = CNNC_INTS(INT64_MAX), .dilation = CNNC_INTS(INT64_MIN))))
MAKER(mk_maxpool3d, cnnc_maxpool3d_new(CNNC_MAX_POOL3D(.kernel_size = CNNC_INTS(2), .dilation = CNNC_INTS(2))))
MAKER(mk_avgpool1d, cnnc_avgpool1d_new(CNNC_AVG_POOL1D(.kernel_size = CNNC_INTS(2), .count_include_pad = false)))
MAKER(mk_avgpool2d, cnnc_avgpool2d_new(CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1),
                                                       .divisor_override = CNNC_SOME(5))))
MAKER(mk_avgpool2d_bad, cnnc_avgpool2d_new(CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(INT64_MAX), .stride = CNNC_INTS(-1),
                                                           .divisor_override = CNNC_SOME(0))))
MAKER(mk_avgpool3d, cnnc_avgpool3d_new(CNNC_AVG_POOL3D(.kernel_size = CNNC_INTS(2), .ceil_mode = true)))
MAKER(mk_aap1d, cnnc_adaptiveavgpool1d_new((cnnc_ints)CNNC_INTS(3)))
MAKER(mk_aap2d, cnnc_adaptiveavgpool2d_new((cnnc_ints)CNNC_INTS(CNNC_POOL_KEEP, 4)))
MAKER(mk_aap3d, cnnc_adaptiveavgpool3d_new((cnnc_ints)CNNC_INTS(1)))
MAKER(mk_amp1d, cnnc_adaptivemaxpool1d_new((cnnc_ints)CNNC_INTS(2), false))
MAKER(mk_amp2d, cnnc_adaptivemaxpool2d_new((cnnc_ints)CNNC_INTS(5, 7), true))
MAKER(mk_amp3d, cnnc_adaptivemaxpool3d_new((cnnc_ints)CNNC_INTS(2), false))
MAKER(mk_amp2d_bad, cnnc_adaptivemaxpool2d_new(ints_n(2, -7), false))
MAKER(mk_unpool1d, cnnc_maxunpool1d_new(CNNC_MAX_UNPOOL1D(.kernel_size = CNNC_INTS(2))))
MAKER(mk_unpool2d, cnnc_maxunpool2d_new(CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2))))
MAKER(mk_unpool3d, cnnc_maxunpool3d_new(CNNC_MAX_UNPOOL3D(.kernel_size = CNNC_INTS(2), .stride = CNNC_INTS(1))))
MAKER(mk_cpad1d, cnnc_constantpad1d_new((cnnc_ints)CNNC_INTS(2), NAN))
MAKER(mk_cpad2d, cnnc_constantpad2d_new((cnnc_ints)CNNC_INTS(1, -1, 2, 0), 3.0))
MAKER(mk_cpad3d, cnnc_constantpad3d_new((cnnc_ints)CNNC_INTS(-100), 0.0))
MAKER(mk_zpad2d, cnnc_zeropad2d_new((cnnc_ints)CNNC_INTS(1)))
MAKER(mk_rflpad1d, cnnc_reflectionpad1d_new((cnnc_ints)CNNC_INTS(2)))
MAKER(mk_rflpad2d, cnnc_reflectionpad2d_new((cnnc_ints)CNNC_INTS(5)))
MAKER(mk_rflpad3d, cnnc_reflectionpad3d_new((cnnc_ints)CNNC_INTS(1)))
MAKER(mk_reppad1d, cnnc_replicationpad1d_new((cnnc_ints)CNNC_INTS(INT64_MAX)))
MAKER(mk_reppad2d, cnnc_replicationpad2d_new((cnnc_ints)CNNC_INTS(2)))
MAKER(mk_reppad3d, cnnc_replicationpad3d_new((cnnc_ints)CNNC_INTS(1, 0, 1, 0, 1, 0)))
MAKER(mk_upsample, cnnc_upsample_new(CNNC_UPSAMPLE(.scale_factor = CNNC_DOUBLES(2.0), .mode = "bilinear",
                                                  .align_corners = 1)))
MAKER(mk_upsample_size, cnnc_upsample_new(CNNC_UPSAMPLE(.size = CNNC_INTS(3), .mode = "nearest-exact")))
MAKER(mk_upnear, cnnc_upsamplingnearest2d_new((cnnc_ints)CNNC_INTS(3, 4), (cnnc_doubles){.n = 0}))
MAKER(mk_upbil, cnnc_upsamplingbilinear2d_new((cnnc_ints)CNNC_INTS_NONE, (cnnc_doubles)CNNC_DOUBLES(1.5)))
MAKER(mk_bn1d, cnnc_batchnorm1d_new(3, CNNC_BATCHNORM()))
MAKER(mk_bn2d, cnnc_batchnorm2d_new(3, CNNC_BATCHNORM(.momentum = CNNC_NONE)))
MAKER(mk_bn2d_plain, cnnc_batchnorm2d_new(3, CNNC_BATCHNORM(.affine = false, .track_running_stats = false)))
MAKER(mk_bn3d, cnnc_batchnorm3d_new(2, CNNC_BATCHNORM()))
MAKER(mk_in1d, cnnc_instancenorm1d_new(3, CNNC_INSTANCENORM(.affine = true, .track_running_stats = true)))
MAKER(mk_in2d, cnnc_instancenorm2d_new(3, CNNC_INSTANCENORM()))
MAKER(mk_in3d, cnnc_instancenorm3d_new(2, CNNC_INSTANCENORM(.track_running_stats = true)))
MAKER(mk_ln, cnnc_layernorm_new((cnnc_ints)CNNC_INTS(6, 6), CNNC_LAYERNORM()))
MAKER(mk_ln_noaff, cnnc_layernorm_new((cnnc_ints)CNNC_INTS(6), CNNC_LAYERNORM(.elementwise_affine = false)))
MAKER(mk_gn, cnnc_groupnorm_new(3, 3, CNNC_GROUPNORM()))
MAKER(mk_lrn, cnnc_localresponsenorm_new(2, CNNC_LOCALRESPONSENORM()))
MAKER(mk_relu6, cnnc_relu6_new(CNNC_RELU6(.inplace = true)))
MAKER(mk_hardtanh, cnnc_hardtanh_new(CNNC_HARDTANH(.min_val = -2)))
MAKER(mk_leaky, cnnc_leakyrelu_new(CNNC_LEAKY_RELU(.negative_slope = -0.5)))
MAKER(mk_elu, cnnc_elu_new(CNNC_ELU()))
MAKER(mk_selu, cnnc_selu_new(CNNC_SELU(.inplace = true)))
MAKER(mk_celu, cnnc_celu_new(CNNC_CELU(.alpha = 0.0)))
MAKER(mk_gelu, cnnc_gelu_new(CNNC_GELU(.approximate = "tanh")))
MAKER(mk_silu, cnnc_silu_new(CNNC_SILU()))
MAKER(mk_mish, cnnc_mish_new(CNNC_MISH()))
MAKER(mk_sigmoid, cnnc_sigmoid_new())
MAKER(mk_tanh, cnnc_tanh_new())
MAKER(mk_hardsigmoid, cnnc_hardsigmoid_new(CNNC_HARDSIGMOID()))
MAKER(mk_hardswish, cnnc_hardswish_new(CNNC_HARDSWISH()))
MAKER(mk_softplus, cnnc_softplus_new(CNNC_SOFTPLUS(.beta = NAN, .threshold = -INFINITY)))
MAKER(mk_prelu, cnnc_prelu_new(CNNC_PRELU(.num_parameters = 3)))
MAKER(mk_softmax, cnnc_softmax_new(CNNC_SOFTMAX(.dim = CNNC_INTS(-1))))
MAKER(mk_log_softmax, cnnc_logsoftmax_new(CNNC_SOFTMAX()))
MAKER(mk_softmax_bad, cnnc_softmax_new(CNNC_SOFTMAX(.dim = CNNC_INTS(99))))
MAKER(mk_dropout, cnnc_dropout_new(CNNC_DROPOUT()))
MAKER(mk_dropout2d, cnnc_dropout2d_new(CNNC_DROPOUT(.p = 1.0, .inplace = true)))
MAKER(mk_dropout3d, cnnc_dropout3d_new(CNNC_DROPOUT(.p = 0.0)))

static void test_module_battery(void) {
    fx_init();
    cnnc_tensor *x2_6 = cnnc_randn(CNNC_SHAPE(2, 6));
    cnnc_tensor *x2d = cnnc_randn(CNNC_SHAPE(2, 3, 6, 6));
    struct {
        const char *name;
        module_maker make;
        cnnc_tensor *good;
    } rows[] = {
        {"Linear", mk_linear, x2_6}, {"Linear(bias=False)", mk_linear_nobias, x2_6},
        {"ReLU", mk_relu, x2d}, {"ReLU(inplace)", mk_relu_inplace, NULL},
        {"Flatten", mk_flatten, x2d}, {"Flatten(bad dims)", mk_flatten_bad, NULL},
        {"Identity", mk_identity, x2d}, {"Sequential", mk_seq, x2d},
        {"Conv1d", mk_conv1d, fx.x3}, {"Conv2d(circular, groups)", mk_conv2d, x2d},
        {"Conv2d(same, reflect)", mk_conv2d_same, x2d}, {"Conv3d(replicate)", mk_conv3d, fx.x5},
        {"ConvTranspose1d", mk_convt1d, fx.x3}, {"ConvTranspose2d", mk_convt2d, x2d},
        {"ConvTranspose3d", mk_convt3d, fx.x5},
        {"MaxPool1d", mk_maxpool1d, fx.x3}, {"MaxPool2d", mk_maxpool2d, x2d},
        {"MaxPool2d(return_indices)", mk_maxpool2d_ri, NULL}, {"MaxPool2d(bad)", mk_maxpool2d_bad, NULL},
        {"MaxPool3d", mk_maxpool3d, fx.x5}, {"AvgPool1d", mk_avgpool1d, fx.x3},
        {"AvgPool2d", mk_avgpool2d, x2d}, {"AvgPool2d(bad)", mk_avgpool2d_bad, NULL},
        {"AvgPool3d", mk_avgpool3d, fx.x5}, {"AdaptiveAvgPool1d", mk_aap1d, fx.x3},
        {"AdaptiveAvgPool2d", mk_aap2d, x2d}, {"AdaptiveAvgPool3d", mk_aap3d, fx.x5},
        {"AdaptiveMaxPool1d", mk_amp1d, fx.x3}, {"AdaptiveMaxPool2d(return_indices)", mk_amp2d, NULL},
        {"AdaptiveMaxPool3d", mk_amp3d, fx.x5}, {"AdaptiveMaxPool2d(bad)", mk_amp2d_bad, NULL},
        {"MaxUnpool1d", mk_unpool1d, NULL}, {"MaxUnpool2d", mk_unpool2d, NULL},
        {"MaxUnpool3d", mk_unpool3d, NULL},
        {"ConstantPad1d", mk_cpad1d, fx.x3}, {"ConstantPad2d", mk_cpad2d, x2d},
        {"ConstantPad3d(-100)", mk_cpad3d, NULL}, {"ZeroPad2d", mk_zpad2d, x2d},
        {"ReflectionPad1d", mk_rflpad1d, fx.x3}, {"ReflectionPad2d(5)", mk_rflpad2d, x2d},
        {"ReflectionPad3d", mk_rflpad3d, fx.x5}, {"ReplicationPad1d(huge)", mk_reppad1d, NULL},
        {"ReplicationPad2d", mk_reppad2d, x2d}, {"ReplicationPad3d", mk_reppad3d, fx.x5},
        {"Upsample(bilinear)", mk_upsample, x2d}, {"Upsample(size)", mk_upsample_size, x2d},
        {"UpsamplingNearest2d", mk_upnear, x2d}, {"UpsamplingBilinear2d", mk_upbil, x2d},
        {"BatchNorm1d", mk_bn1d, fx.x3}, {"BatchNorm2d(momentum None)", mk_bn2d, x2d},
        {"BatchNorm2d(plain)", mk_bn2d_plain, x2d}, {"BatchNorm3d", mk_bn3d, fx.x5},
        {"InstanceNorm1d", mk_in1d, fx.x3}, {"InstanceNorm2d", mk_in2d, x2d},
        {"InstanceNorm3d", mk_in3d, fx.x5}, {"LayerNorm", mk_ln, x2d},
        {"LayerNorm(no affine)", mk_ln_noaff, x2d}, {"GroupNorm", mk_gn, x2d},
        {"LocalResponseNorm", mk_lrn, x2d},
        {"ReLU6(inplace)", mk_relu6, NULL}, {"Hardtanh", mk_hardtanh, x2d},
        {"LeakyReLU", mk_leaky, x2d}, {"ELU", mk_elu, x2d}, {"SELU(inplace)", mk_selu, NULL},
        {"CELU(alpha 0)", mk_celu, NULL}, {"GELU", mk_gelu, x2d}, {"SiLU", mk_silu, x2d},
        {"Mish", mk_mish, x2d}, {"Sigmoid", mk_sigmoid, x2d}, {"Tanh", mk_tanh, x2d},
        {"Hardsigmoid", mk_hardsigmoid, x2d}, {"Hardswish", mk_hardswish, x2d},
        {"Softplus(NaN beta)", mk_softplus, x2d}, {"PReLU", mk_prelu, x2d},
        {"Softmax", mk_softmax, x2d}, {"LogSoftmax", mk_log_softmax, x2d},
        {"Softmax(dim 99)", mk_softmax_bad, NULL},
        {"Dropout", mk_dropout, x2d}, {"Dropout2d(inplace)", mk_dropout2d, NULL},
        {"Dropout3d", mk_dropout3d, fx.x5},
    };
    const char *saved = check_current_test_;
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        module_battery(rows[i].name, rows[i].make, rows[i].good);
        check_current_test_ = saved;
    }
    cnnc_tensor_release(x2_6);
    cnnc_tensor_release(x2d);
    fx_free();
}

/* ---- conv ------------------------------------------------------------------------ */

typedef cnnc_tensor *(*conv_fn)(cnnc_tensor *, cnnc_tensor *, cnnc_tensor *, cnnc_conv_options);
typedef cnnc_tensor *(*convt_fn)(cnnc_tensor *, cnnc_tensor *, cnnc_tensor *, cnnc_conv_transpose_options);

static void test_conv_functional(void) {
    fx_init();
    cnnc_tensor *w2 = cnnc_randn(CNNC_SHAPE(4, 3, 3, 3));
    cnnc_tensor *b4 = cnnc_randn(CNNC_SHAPE(4));
    cnnc_tensor *wt2 = cnnc_randn(CNNC_SHAPE(3, 2, 3, 3));
    cnnc_tensor *b2 = cnnc_randn(CNNC_SHAPE(2));
    conv_fn c2 = cnnc_conv2d;
    SWEEP_INPUT(x, c2(x, w2, b4, CNNC_CONV2D()));
    SWEEP_INPUT(w, c2(fx.x4, w, b4, CNNC_CONV2D()));
    SWEEP_PARAM(b, c2(fx.x4, w2, b, CNNC_CONV2D()));
    SWEEP_RANK(x, c2(x, w2, b4, CNNC_CONV2D()));
    SWEEP_RANK(w, c2(fx.x4, w, b4, CNNC_CONV2D()));
    SWEEP_ODD(x, c2(x, w2, b4, CNNC_CONV2D()));
    T_OK(c2(fx.x4, w2, NULL, CNNC_CONV2D()));
    T_OK(c2(fx.z4, w2, b4, CNNC_CONV2D()));
    T_ERR(c2(fx.e4, w2, b4, CNNC_CONV2D()));
    T_ERR(c2(fx.x4, fx.x4, b4, CNNC_CONV2D())); /* kernel 6 ok but channels 3 vs weight [2,3,6,6]: fine? */
    /* garbage cnnc_ints in every field, one at a time */
    for (int i = 0; i < N_BAD_NS; i++) {
        T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.stride = ints_n(bad_ns[i], 1))));
        T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding = ints_n(bad_ns[i], 0))));
        T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.dilation = ints_n(bad_ns[i], 1))));
    }
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.stride = ints_n(0, 1))));
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.stride = ints_n(3, 1))));
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.dilation = ints_n(0, 1))));
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding = ints_n(0, 1))));
    for (int i = 0; i < N_BAD_VALS; i++) {
        int64_t v = bad_vals[i];
        T_ANY(c2(fx.x4, w2, b4, CNNC_CONV2D(.stride = ints_n(1, v))));
        T_ANY(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding = ints_n(1, v))));
        T_ANY(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding = ints_n(2, v))));
        T_ANY(c2(fx.x4, w2, b4, CNNC_CONV2D(.dilation = ints_n(1, v))));
        T_ANY(c2(fx.x4, w2, b4, CNNC_CONV2D(.groups = v)));
        if (v <= 0) {
            T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.stride = ints_n(1, v))));
            T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.dilation = ints_n(2, v))));
            T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.groups = v)));
        }
        if (v < 0) T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding = ints_n(1, v))));
    }
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding = ints_n(1, INT64_MAX))));
    {   /* BUG: dilation INT64_MIN with a 2-wide kernel: the effective kernel
         * dil (k - 1) + 1 does not overflow, and `padded - kern` does (src/ops/conv.c
         * validate) before the "dilation should be greater than zero" check */
        cnnc_tensor *wk2 = cnnc_randn(CNNC_SHAPE(4, 3, 2, 2));
        T_ERR(c2(fx.x4, wk2, NULL, CNNC_CONV2D(.dilation = CNNC_INTS(INT64_MIN))));
        cnnc_tensor_release(wk2);
    }
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.dilation = ints_n(1, INT64_MAX))));
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.groups = 2)));
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding_str = "bogus")));
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding_str = "")));
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding_str = "SAME")));
    T_ERR(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding_str = "same", .stride = CNNC_INTS(2))));
    T_OK(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding_str = "same", .dilation = CNNC_INTS(3))));
    T_OK(c2(fx.x4, w2, b4, CNNC_CONV2D(.padding_str = "valid", .padding = ints_n(-7, -7))));
    /* conv1d / conv3d quick sweeps */
    cnnc_tensor *w1 = cnnc_randn(CNNC_SHAPE(4, 3, 2));
    cnnc_tensor *w3 = cnnc_randn(CNNC_SHAPE(2, 2, 2, 2, 2));
    conv_fn c1 = cnnc_conv1d, c3 = cnnc_conv3d;
    SWEEP_INPUT(x, c1(x, w1, NULL, CNNC_CONV1D()));
    SWEEP_INPUT(w, c1(fx.x3, w, NULL, CNNC_CONV1D()));
    SWEEP_RANK(x, c1(x, w1, NULL, CNNC_CONV1D()));
    SWEEP_ODD(x, c1(x, w1, NULL, CNNC_CONV1D()));
    SWEEP_INPUT(x, c3(x, w3, NULL, CNNC_CONV3D()));
    SWEEP_INPUT(w, c3(fx.x5, w, NULL, CNNC_CONV3D()));
    SWEEP_RANK(x, c3(x, w3, NULL, CNNC_CONV3D()));
    SWEEP_ODD(x, c3(x, w3, NULL, CNNC_CONV3D()));
    T_ERR(c1(fx.x3, w2, NULL, CNNC_CONV1D()));
    T_ERR(c3(fx.x5, w2, NULL, CNNC_CONV3D()));
    T_ERR(c1(fx.x3, w1, NULL, CNNC_CONV1D(.stride = CNNC_INTS(1, 1))));
    T_ERR(c3(fx.x5, w3, NULL, CNNC_CONV3D(.padding = CNNC_INTS(1, 1))));
    T_OK(c3(fx.x5, w3, NULL, CNNC_CONV3D(.padding_str = "same")));
    /* transposed */
    convt_fn t2 = cnnc_conv_transpose2d;
    SWEEP_INPUT(x, t2(x, wt2, b2, CNNC_CONV_TRANSPOSE2D()));
    SWEEP_INPUT(w, t2(fx.x4, w, b2, CNNC_CONV_TRANSPOSE2D()));
    SWEEP_PARAM(b, t2(fx.x4, wt2, b, CNNC_CONV_TRANSPOSE2D()));
    SWEEP_RANK(x, t2(x, wt2, b2, CNNC_CONV_TRANSPOSE2D()));
    SWEEP_RANK(w, t2(fx.x4, w, b2, CNNC_CONV_TRANSPOSE2D()));
    SWEEP_ODD(x, t2(x, wt2, b2, CNNC_CONV_TRANSPOSE2D()));
    T_OK(t2(fx.z4, wt2, b2, CNNC_CONV_TRANSPOSE2D()));
    for (int i = 0; i < N_BAD_NS; i++) {
        T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.stride = ints_n(bad_ns[i], 1))));
        T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.padding = ints_n(bad_ns[i], 0))));
        T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.output_padding = ints_n(bad_ns[i], 0))));
        T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.dilation = ints_n(bad_ns[i], 1))));
    }
    for (int i = 0; i < N_BAD_VALS; i++) {
        int64_t v = bad_vals[i];
        T_ANY(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.stride = ints_n(1, v))));
        T_ANY(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.padding = ints_n(1, v))));
        /* BUG: output_padding INT64_MAX: signed overflow in `out_pad + 1` (src/ops/conv.c
         * validate) before the "output padding must be smaller than either stride or
         * dilation" check that torch raises */
        T_ANY(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.output_padding = ints_n(1, v))));
        T_ANY(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.dilation = ints_n(1, v))));
        T_ANY(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.groups = v)));
        T_ANY(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.stride = ints_n(1, v), .output_padding = ints_n(1, v == INT64_MIN ? v : v - 1))));
        if (v <= 0) {
            T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.stride = ints_n(1, v))));
            T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.groups = v)));
        }
    }
    T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.output_padding = CNNC_INTS(1))));
    T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.output_padding = CNNC_INTS(-1))));
    T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.padding = CNNC_INTS(5))));
    T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.stride = CNNC_INTS(INT64_MAX))));
    T_ERR(t2(fx.x4, wt2, b2, CNNC_CONV_TRANSPOSE2D(.dilation = CNNC_INTS(INT64_MAX))));
    convt_fn t1 = cnnc_conv_transpose1d, t3 = cnnc_conv_transpose3d;
    SWEEP_INPUT(x, t1(x, w1, NULL, CNNC_CONV_TRANSPOSE1D()));
    SWEEP_RANK(x, t1(x, w1, NULL, CNNC_CONV_TRANSPOSE1D()));
    SWEEP_ODD(x, t1(x, w1, NULL, CNNC_CONV_TRANSPOSE1D()));
    SWEEP_INPUT(x, t3(x, w3, NULL, CNNC_CONV_TRANSPOSE3D()));
    SWEEP_RANK(x, t3(x, w3, NULL, CNNC_CONV_TRANSPOSE3D()));
    SWEEP_ODD(x, t3(x, w3, NULL, CNNC_CONV_TRANSPOSE3D()));
    /* module constructors */
    typedef cnnc_module *(*conv_new)(int64_t, int64_t, cnnc_conv_module_options);
    conv_new cn[] = {cnnc_conv1d_new, cnnc_conv2d_new, cnnc_conv3d_new};
    typedef cnnc_module *(*convt_new)(int64_t, int64_t, cnnc_conv_transpose_module_options);
    convt_new ctn[] = {cnnc_convtranspose1d_new, cnnc_convtranspose2d_new, cnnc_convtranspose3d_new};
    for (int d = 0; d < 3; d++) {
        M_ERR(cn[d](3, 4, CNNC_CONV_MODULE()));                               /* no kernel_size */
        M_ERR(cn[d](-1, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3))));
        M_ERR(cn[d](3, -1, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3))));
        M_ERR(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .groups = 0)));
        M_ERR(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .groups = -2)));
        M_ERR(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .groups = 3)));
        M_ERR(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding_mode = "bogus")));
        M_ERR(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding_str = "bogus")));
        M_ERR(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding_str = "same", .stride = CNNC_INTS(2))));
        /* BUG: signed overflow computing fan_in (src/nn/conv.c conv_new, `fan_in *= k`) */
        M_ERR(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(INT64_MAX))));
        M_ERR(cn[d](INT64_MAX, INT64_MAX, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(1))));
        M_ERR(cn[d](1 << 20, 1 << 20, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(1))));
        M_ERR(ctn[d](3, 4, CNNC_CONV_TRANSPOSE_MODULE()));
        M_ERR(ctn[d](-1, 4, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3))));
        M_ERR(ctn[d](3, 4, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3), .groups = 0)));
        M_ERR(ctn[d](3, 4, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3), .padding_mode = "reflect")));
        M_ERR(ctn[d](3, 4, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3), .padding_mode = "bogus")));
        M_ERR(ctn[d](INT64_MAX, 2, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(INT64_MAX)))); /* fan_in overflow */
        for (int i = 0; i < N_BAD_NS; i++) {
            M_ERR(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = ints_n(bad_ns[i], 3))));
            cnnc_module_release(M_ANY(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .stride = ints_n(bad_ns[i], 1)))));
            cnnc_module_release(M_ANY(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = ints_n(bad_ns[i], 1)))));
            cnnc_module_release(M_ANY(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .dilation = ints_n(bad_ns[i], 1)))));
            M_ERR(ctn[d](3, 4, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = ints_n(bad_ns[i], 3))));
            cnnc_module_release(M_ANY(ctn[d](3, 4, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3), .output_padding = ints_n(bad_ns[i], 1)))));
        }
        for (int i = 0; i < N_BAD_VALS; i++) {
            int64_t v = bad_vals[i];
            cnnc_module *m = M_ANY(cn[d](3, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .stride = ints_n(1, v),
                                                                .padding = ints_n(1, v), .dilation = ints_n(1, v))));
            if (m) {
                FORWARD_ANY(m, fx.x3);
                FORWARD_ANY(m, fx.x4);
                FORWARD_ANY(m, fx.x5);
            }
            cnnc_module_release(m);
            /* BUG: kernel_size INT64_MIN / INT64_MAX overflows fan_in (src/nn/conv.c conv_new) */
            m = M_ANY(cn[d](3, 3, CNNC_CONV_MODULE(.kernel_size = ints_n(1, v), .padding_mode = "circular", .padding = ints_n(1, v))));
            if (m) {
                FORWARD_ANY(m, fx.x4);
                cnnc_module_release(m);
            }
            m = M_ANY(ctn[d](3, 3, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(2), .stride = ints_n(1, v),
                                                              .output_padding = ints_n(1, v))));
            if (m) {
                FORWARD_ANY(m, fx.x4);
                cnnc_module_release(m);
            }
            m = M_ANY(ctn[d](3, 3, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = ints_n(1, v))));
            cnnc_module_release(m);
        }
    }
    /* ConvTranspose forward(output_size) */
    cnnc_module *ct = cnnc_convtranspose2d_new(3, 2, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3),
                                                                                .stride = CNNC_INTS(2)));
    REQUIRE(ct);
    T_OK(cnnc_conv_transpose_forward(ct, fx.x4, 2, (const int64_t[]){14, 14}));
    T_OK(cnnc_conv_transpose_forward(ct, fx.x4, 4, (const int64_t[]){2, 2, 13, 14}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, 2, (const int64_t[]){15, 14}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, 2, (const int64_t[]){-1, -1}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, 2, (const int64_t[]){INT64_MAX, INT64_MIN}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, 1, (const int64_t[]){13}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, 3, (const int64_t[]){2, 13, 13}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, 9, (const int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, INT_MAX, (const int64_t[]){13, 13}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, INT_MIN, (const int64_t[]){13, 13}));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.x4, 2, NULL));
    T_ERR(cnnc_conv_transpose_forward(ct, fx.i4, 2, (const int64_t[]){13, 13}));
    T_ERR(cnnc_conv_transpose_forward(NULL, fx.x4, 2, (const int64_t[]){13, 13}));
    cnnc_module_release(ct);
    cnnc_tensor *rel[] = {w2, b4, wt2, b2, w1, w3};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) cnnc_tensor_release(rel[i]);
    fx_free();
}

/* ---- pool ------------------------------------------------------------------------ */

typedef cnnc_tensor *(*maxpool_fn)(cnnc_tensor *, cnnc_max_pool_options);
typedef cnnc_tensor *(*maxpool_idx_fn)(cnnc_tensor *, cnnc_max_pool_options, cnnc_tensor **);
typedef cnnc_tensor *(*avgpool_fn)(cnnc_tensor *, cnnc_avg_pool_options);
typedef cnnc_tensor *(*adaptive_fn)(cnnc_tensor *, cnnc_ints);
typedef cnnc_tensor *(*adaptive_idx_fn)(cnnc_tensor *, cnnc_ints, cnnc_tensor **);
typedef cnnc_tensor *(*unpool_fn)(cnnc_tensor *, cnnc_tensor *, cnnc_max_unpool_options);

/* *indices must be NULL after a failure and a sane int64 tensor after success. */
static void idx_call_(const char *file, int line, const char *expr, cnnc_tensor *y, cnnc_tensor *idx,
                      int want_err) {
    if (want_err) t_err_(file, line, expr, y);
    else t_any_(file, line, expr, y);
    check_checks_run_++;
    if (!y && idx) check_fail_(file, line, "%s: *indices not NULL after an error", expr);
    if (y && (!idx || cnnc_tensor_dtype(idx) != CNNC_INT64)) check_fail_(file, line, "%s: bad indices", expr);
    cnnc_tensor_release(idx);
}
#define IDX_ERR(fn, x, opt)                                                                  \
    do {                                                                                     \
        cnnc_tensor *idx_ = (cnnc_tensor *)&fx;                                              \
        cnnc_clear_error();                                                                  \
        cnnc_tensor *y_ = fn(x, opt, &idx_);                                                 \
        idx_call_(__FILE__, __LINE__, #fn "(" #x ", " #opt ")", y_, y_ ? idx_ : (idx_ == (cnnc_tensor *)&fx ? NULL : idx_), 1); \
        if (!y_) CHECK(idx_ == NULL);                                                        \
    } while (0)
#define IDX_ANY(fn, x, opt)                                                                  \
    do {                                                                                     \
        cnnc_tensor *idx_ = NULL;                                                            \
        cnnc_clear_error();                                                                  \
        cnnc_tensor *y_ = fn(x, opt, &idx_);                                                 \
        idx_call_(__FILE__, __LINE__, #fn "(" #x ", " #opt ")", y_, idx_, 0);               \
    } while (0)

static void test_pool_functional(void) {
    fx_init();
    maxpool_fn mp[] = {cnnc_max_pool1d, cnnc_max_pool2d, cnnc_max_pool3d};
    maxpool_idx_fn mpi[] = {cnnc_max_pool1d_with_indices, cnnc_max_pool2d_with_indices, cnnc_max_pool3d_with_indices};
    avgpool_fn ap[] = {NULL, cnnc_avg_pool2d, cnnc_avg_pool3d};
    adaptive_fn aap[] = {cnnc_adaptive_avg_pool1d, cnnc_adaptive_avg_pool2d, cnnc_adaptive_avg_pool3d};
    adaptive_fn amp[] = {cnnc_adaptive_max_pool1d, cnnc_adaptive_max_pool2d, cnnc_adaptive_max_pool3d};
    adaptive_idx_fn ampi[] = {cnnc_adaptive_max_pool1d_with_indices, cnnc_adaptive_max_pool2d_with_indices,
                              cnnc_adaptive_max_pool3d_with_indices};
    unpool_fn up[] = {cnnc_max_unpool1d, cnnc_max_unpool2d, cnnc_max_unpool3d};
    cnnc_tensor *good[] = {fx.x3, fx.x4, fx.x5};
    cnnc_max_pool_options k2 = CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2));
    cnnc_avg_pool_options a2 = CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2));
    for (int d = 0; d < 3; d++) {
        cnnc_tensor *g = good[d];
        SWEEP_INPUT(x, mp[d](x, k2));
        SWEEP_RANK(x, mp[d](x, k2));
        SWEEP_ODD(x, mp[d](x, k2));
        T_OK(mp[d](g, k2));
        T_ERR(mp[d](g, CNNC_MAX_POOL2D()));
        T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .return_indices = true)));
        IDX_ERR(mpi[d], NULL, k2);
        IDX_ERR(mpi[d], fx.i4, k2);
        IDX_ERR(mpi[d], fx.s0, k2);
        IDX_ERR(mpi[d], g, CNNC_MAX_POOL2D());
        IDX_ANY(mpi[d], g, k2);
        IDX_ANY(mpi[d], fx.z4, k2);
        T_ERR(mpi[d](g, k2, NULL));
        for (int i = 0; i < N_BAD_NS; i++) {
            T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = ints_n(bad_ns[i], 2))));
            T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .stride = ints_n(bad_ns[i], 2))));
            T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .padding = ints_n(bad_ns[i], 0))));
            T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .dilation = ints_n(bad_ns[i], 1))));
            IDX_ERR(mpi[d], g, CNNC_MAX_POOL2D(.kernel_size = ints_n(bad_ns[i], 2)));
            if (ap[d]) {
                T_ERR(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = ints_n(bad_ns[i], 2))));
                T_ERR(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .stride = ints_n(bad_ns[i], 2))));
                T_ERR(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .padding = ints_n(bad_ns[i], 0))));
            }
            /* BUG: output_size.n == INT_MAX overflows `os->n + 1` (int) in
             * src/ops/pool.c adaptive_avg_common / adaptive_max_common */
            T_ERR(aap[d](g, ints_n(bad_ns[i], 2)));
            T_ERR(amp[d](g, ints_n(bad_ns[i], 2)));
            IDX_ERR(ampi[d], g, ints_n(bad_ns[i], 2));
        }
        T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = ints_n(d + 2, 2))));
        for (int i = 0; i < N_BAD_VALS; i++) {
            int64_t v = bad_vals[i];
            T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(v))));
            T_ANY(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .stride = CNNC_INTS(v))));
            T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .padding = CNNC_INTS(v == 0 ? -1 : v))));
            T_ERR(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .dilation = CNNC_INTS(v))));
            T_ANY(mp[d](g, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .stride = CNNC_INTS(v), .ceil_mode = true)));
            if (ap[d]) {
                T_ERR(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(v))));
                T_ANY(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .stride = CNNC_INTS(v))));
                T_ERR(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .padding = CNNC_INTS(v == 0 ? -1 : v))));
                T_ANY(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .divisor_override = CNNC_SOME(v))));
                T_ANY(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .stride = CNNC_INTS(v), .ceil_mode = true,
                                               .count_include_pad = false)));
            }
            if (v < 0) {
                T_ERR(aap[d](g, ints_n(1, v)));
                T_ERR(amp[d](g, ints_n(1, v)));
                if (v != CNNC_POOL_KEEP) T_ERR(aap[d](g, ints_n(d + 1, v)));
            } else {
                T_ANY(aap[d](g, ints_n(1, v)));
                T_ANY(amp[d](g, ints_n(d + 1, v)));
                IDX_ANY(ampi[d], g, ints_n(1, v));
            }
        }
        if (ap[d]) {
            SWEEP_INPUT(x, ap[d](x, a2));
            SWEEP_RANK(x, ap[d](x, a2));
            SWEEP_ODD(x, ap[d](x, a2));
            T_ERR(ap[d](g, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .divisor_override = CNNC_SOME(0))));
            T_ERR(ap[d](g, CNNC_AVG_POOL2D()));
        }
        SWEEP_INPUT(x, aap[d](x, ints_n(1, 2)));
        SWEEP_INPUT(x, amp[d](x, ints_n(1, 2)));
        SWEEP_ODD(x, aap[d](x, ints_n(1, 2)));
        SWEEP_ODD(x, amp[d](x, ints_n(1, 2)));
        T_ERR(aap[d](g, ints_n(0, 2)));
        T_ERR(aap[d](g, ints_n(1, CNNC_POOL_KEEP)));
        T_ERR(amp[d](g, ints_n(1, CNNC_POOL_KEEP)));
        T_ERR(aap[d](g, ints_n(d + 2, 2)));
        T_ERR(aap[d](g, ints_n(d + 1, (int64_t)1 << 40)));
        T_ERR(amp[d](g, ints_n(d + 1, INT64_MAX)));
        IDX_ERR(ampi[d], NULL, ints_n(1, 2));
        T_ERR(ampi[d](g, ints_n(1, 2), NULL));
        /* unpooling */
        cnnc_tensor *idx = NULL;
        cnnc_tensor *y = mpi[d](g, k2, &idx);
        REQUIRE(y && idx);
        cnnc_max_unpool_options u2 = CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2));
        T_OK(up[d](y, idx, u2));
        T_ERR(up[d](NULL, idx, u2));
        T_ERR(up[d](y, NULL, u2));
        T_ERR(up[d](fx.i4, idx, u2));
        T_ERR(up[d](y, y, u2));                  /* float indices */
        T_ERR(up[d](y, fx.i4, u2));              /* shape mismatch */
        T_ERR(up[d](idx, idx, u2));
        T_ERR(up[d](y, idx, CNNC_MAX_UNPOOL2D()));
        for (int i = 0; i < N_BAD_NS; i++) {
            T_ERR(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = ints_n(bad_ns[i], 2))));
            T_ERR(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2), .stride = ints_n(bad_ns[i], 2))));
            T_ERR(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2), .padding = ints_n(bad_ns[i], 0))));
            T_ERR(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2), .output_size = ints_n(bad_ns[i], 4))));
        }
        for (int i = 0; i < N_BAD_VALS; i++) {
            int64_t v = bad_vals[i];
            T_ANY(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(v))));
            T_ANY(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2), .stride = CNNC_INTS(v))));
            T_ANY(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2), .padding = CNNC_INTS(v))));
            T_ANY(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2), .output_size = ints_n(d + 1, v))));
            T_ANY(up[d](y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2), .output_size = ints_n(d + 3, v))));
        }
        /* indices out of the output plane */
        int64_t bad_idx[] = {-1, 100000, INT64_MIN, INT64_MAX};
        for (int b = 0; b < 4; b++) {
            cnnc_tensor *idx2 = cnnc_tensor_clone(idx);
            int64_t *p = cnnc_tensor_data_i64(idx2);
            p[cnnc_tensor_numel(idx2) - 1] = bad_idx[b];
            T_ERR(up[d](y, idx2, u2));
            cnnc_tensor_release(idx2);
        }
        cnnc_tensor_release(y);
        cnnc_tensor_release(idx);
    }
    /* avg_pool1d has its own options */
    cnnc_avg_pool1d_options a1 = CNNC_AVG_POOL1D(.kernel_size = CNNC_INTS(2));
    SWEEP_INPUT(x, cnnc_avg_pool1d(x, a1));
    SWEEP_RANK(x, cnnc_avg_pool1d(x, a1));
    SWEEP_ODD(x, cnnc_avg_pool1d(x, a1));
    T_ERR(cnnc_avg_pool1d(fx.x3, CNNC_AVG_POOL1D()));
    for (int i = 0; i < N_BAD_NS; i++)
        T_ERR(cnnc_avg_pool1d(fx.x3, CNNC_AVG_POOL1D(.kernel_size = ints_n(bad_ns[i], 2))));
    for (int i = 0; i < N_BAD_VALS; i++) {
        T_ERR(cnnc_avg_pool1d(fx.x3, CNNC_AVG_POOL1D(.kernel_size = CNNC_INTS(bad_vals[i]))));
        T_ANY(cnnc_avg_pool1d(fx.x3, CNNC_AVG_POOL1D(.kernel_size = CNNC_INTS(2), .stride = CNNC_INTS(bad_vals[i]),
                                                     .ceil_mode = true)));
    }
    /* pool module forwards */
    cnnc_module *mods[] = {mk_maxpool2d_ri(), mk_amp2d(), mk_maxpool2d_bad(), mk_amp2d_bad()};
    for (size_t i = 0; i < 4; i++) {
        REQUIRE(mods[i]);
        T_ERR(cnnc_module_forward(mods[i], fx.x4)); /* return_indices, or bad settings */
        IDX_ANY(cnnc_pool_module_forward_with_indices, mods[i], fx.x4);
        IDX_ERR(cnnc_pool_module_forward_with_indices, mods[i], NULL);
        T_ERR(cnnc_pool_module_forward_with_indices(mods[i], fx.x4, NULL));
        cnnc_module_release(mods[i]);
    }
    IDX_ERR(cnnc_pool_module_forward_with_indices, NULL, fx.x4);
    cnnc_module *un = mk_unpool2d();
    cnnc_tensor *idx = NULL;
    cnnc_tensor *y = cnnc_max_pool2d_with_indices(fx.x4, k2, &idx);
    REQUIRE(un && y && idx);
    T_ERR(cnnc_module_forward(un, y));
    T_OK(cnnc_maxunpool_module_forward(un, y, idx, (cnnc_ints)CNNC_INTS_NONE));
    T_ERR(cnnc_maxunpool_module_forward(NULL, y, idx, (cnnc_ints)CNNC_INTS_NONE));
    T_ERR(cnnc_maxunpool_module_forward(un, NULL, idx, (cnnc_ints)CNNC_INTS_NONE));
    T_ERR(cnnc_maxunpool_module_forward(un, y, NULL, (cnnc_ints)CNNC_INTS_NONE));
    T_ERR(cnnc_maxunpool_module_forward(un, y, y, (cnnc_ints)CNNC_INTS_NONE));
    for (int i = 0; i < N_BAD_NS; i++) T_ERR(cnnc_maxunpool_module_forward(un, y, idx, ints_n(bad_ns[i], 6)));
    for (int i = 0; i < N_BAD_VALS; i++) T_ANY(cnnc_maxunpool_module_forward(un, y, idx, ints_n(2, bad_vals[i])));
    cnnc_tensor_release(y);
    cnnc_tensor_release(idx);
    cnnc_module_release(un);
    /* constructors: only kernel_size is required; unpool modules refuse output_size */
    M_ERR(cnnc_maxpool1d_new(CNNC_MAX_POOL1D()));
    M_ERR(cnnc_maxpool2d_new(CNNC_MAX_POOL2D()));
    M_ERR(cnnc_maxpool3d_new(CNNC_MAX_POOL3D()));
    M_ERR(cnnc_avgpool1d_new(CNNC_AVG_POOL1D()));
    M_ERR(cnnc_avgpool2d_new(CNNC_AVG_POOL2D()));
    M_ERR(cnnc_avgpool3d_new(CNNC_AVG_POOL3D()));
    M_ERR(cnnc_maxunpool1d_new(CNNC_MAX_UNPOOL1D()));
    M_ERR(cnnc_maxunpool2d_new(CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2), .output_size = CNNC_INTS(4, 4))));
    for (int i = 0; i < N_BAD_NS; i++) {
        cnnc_ints b = ints_n(bad_ns[i], 2);
        /* the pool constructors check only the presence of kernel_size: a garbage n is
         * kept, and must fail at forward and print without reading past v[] */
        cnnc_module *gm[] = {M_ANY(cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = b))),
                             M_ANY(cnnc_avgpool1d_new(CNNC_AVG_POOL1D(.kernel_size = b))),
                             M_ANY(cnnc_avgpool3d_new(CNNC_AVG_POOL3D(.kernel_size = b))),
                             M_ANY(cnnc_maxunpool3d_new(CNNC_MAX_UNPOOL3D(.kernel_size = b)))};
        for (int k = 0; k < 4; k++) {
            /* BUG: a kernel_size with n > CNNC_MAX_DIMS is stored, and the forward
             * copies n values into a cnnc_ints (src/nn/pool.c attr_ints):
             * stack-buffer-overflow */
            if (!gm[k]) {
                cnnc_module_release(gm[k]);
                continue;
            }
            T_ERR(cnnc_module_forward(gm[k], fx.x5));
            T_ERR(cnnc_module_forward(gm[k], fx.x3));
            exercise_module_text(gm[k]);
            cnnc_module_release(gm[k]);
        }
        M_ERR(cnnc_adaptiveavgpool1d_new(b));
        M_ERR(cnnc_adaptiveavgpool2d_new(b));
        M_ERR(cnnc_adaptiveavgpool3d_new(b));
        M_ERR(cnnc_adaptivemaxpool1d_new(b, false));
        M_ERR(cnnc_adaptivemaxpool2d_new(b, true));
        M_ERR(cnnc_adaptivemaxpool3d_new(b, false));
        cnnc_module_release(M_ANY(cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2), .stride = b))));
        cnnc_module_release(M_ANY(cnnc_avgpool2d_new(CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2), .padding = b))));
        cnnc_module_release(M_ANY(cnnc_maxunpool1d_new(CNNC_MAX_UNPOOL1D(.kernel_size = CNNC_INTS(2), .stride = b))));
    }
    fx_free();
}

/* ---- resample ------------------------------------------------------------------------ */

static void test_resample_functional(void) {
    fx_init();
    cnnc_pad_mode pm;
    S_ERR(cnnc_pad_mode_from_string(NULL, &pm));
    S_ERR(cnnc_pad_mode_from_string("bogus", &pm));
    S_ERR(cnnc_pad_mode_from_string("", &pm));
    S_ERR(cnnc_pad_mode_from_string("reflect", NULL));
    P_ERR(cnnc_pad_mode_name((cnnc_pad_mode)99));
    P_ERR(cnnc_pad_mode_name((cnnc_pad_mode)-1));
    P_ERR(cnnc_pad_mode_name(CNNC_PAD_MODE_COUNT));
    const int64_t p1[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    for (int mode = 0; mode < 4; mode++) {
        cnnc_pad_mode m = (cnnc_pad_mode)mode;
        SWEEP_INPUT(x, cnnc_pad(x, 2, p1, m, 0.0));
        SWEEP_ODD(x, cnnc_pad(x, 2, p1, m, 0.0));
        SWEEP_ODD(x, cnnc_pad(x, 4, p1, m, 0.0));
        SWEEP_ODD(x, cnnc_pad(x, 6, p1, m, 0.0));
        T_ERR(cnnc_pad(fx.x4, 2, NULL, m, 0.0));
        T_ERR(cnnc_pad(fx.x4, 3, p1, m, 0.0));
        T_ERR(cnnc_pad(fx.x4, -2, p1, m, 0.0));
        T_ERR(cnnc_pad(fx.x4, INT_MIN, p1, m, 0.0));
        T_ERR(cnnc_pad(fx.x4, 10, p1, m, 0.0));
        T_ERR(cnnc_pad(fx.x4, 18, p1, m, 0.0));
        for (int i = 0; i < N_BAD_VALS; i++) {
            int64_t v = bad_vals[i];
            T_ANY(cnnc_pad(fx.x4, 4, (const int64_t[]){v, 1, 1, 1}, m, 0.0));
            T_ANY(cnnc_pad(fx.x4, 4, (const int64_t[]){1, 1, 1, v}, m, 0.0));
            T_ANY(cnnc_pad(fx.x4, 2, (const int64_t[]){v, v}, m, 0.0));
            int64_t nv = v == INT64_MIN ? INT64_MAX : -v;
            T_ANY(cnnc_pad(fx.x4, 4, (const int64_t[]){v, nv, nv, v}, m, 0.0));
            T_ANY(cnnc_pad(fx.x3, 2, (const int64_t[]){nv, v}, m, 0.0));
            T_ANY(cnnc_pad(fx.x5, 6, (const int64_t[]){v, 0, 0, v, 1, -1}, m, 0.0));
            if (v > 100 || v < -100) T_ERR(cnnc_pad(fx.x4, 4, (const int64_t[]){v, 1, 1, 1}, m, 0.0));
        }
        T_ERR(cnnc_pad(fx.x4, 2, (const int64_t[]){-4, -4}, m, 0.0)); /* crops below zero */
        T_ERR(cnnc_pad(fx.x4, 2, (const int64_t[]){INT64_MAX, INT64_MAX}, m, 0.0));
        T_ERR(cnnc_pad(fx.x4, 2, (const int64_t[]){INT64_MIN, INT64_MIN}, m, 0.0));
        T_ERR(cnnc_pad(fx.x4, 2, (const int64_t[]){INT64_MAX, INT64_MIN}, m, 0.0));
        if (m != CNNC_PAD_CONSTANT) {
            T_ERR(cnnc_pad(fx.x4, 4, p1, m, 1.0));
            T_ERR(cnnc_pad(fx.x4, 4, p1, m, NAN));
        }
        T_ANY(cnnc_pad(fx.x4, 4, (const int64_t[]){6, 6, 6, 6}, m, 0.0));
        T_ANY(cnnc_pad(fx.x4, 4, (const int64_t[]){-6, 6, 6, -6}, m, 0.0));
        T_ANY(cnnc_pad(fx.x4, 4, (const int64_t[]){7, -3, -3, 7}, m, 0.0));
        T_ANY(cnnc_pad(fx.x4, 4, (const int64_t[]){-5, 5, 5, -5}, m, 0.0));
    }
    T_ERR(cnnc_pad(fx.x4, 2, p1, (cnnc_pad_mode)99, 0.0));
    T_ERR(cnnc_pad(fx.x4, 2, p1, (cnnc_pad_mode)-1, 0.0));
    T_ERR(cnnc_pad(fx.x4, 2, p1, CNNC_PAD_MODE_COUNT, 0.0));
    T_OK(cnnc_pad(fx.x4, 0, NULL, CNNC_PAD_CONSTANT, 0.0));
    T_ANY(cnnc_pad(fx.i4, 2, p1, CNNC_PAD_CONSTANT, 3.0));
    /* interpolate */
    const char *modes[] = {"nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"};
    for (size_t k = 0; k < sizeof modes / sizeof *modes; k++) {
        const char *md = modes[k];
        SWEEP_INPUT(x, cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = md)));
        SWEEP_RANK(x, cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = md)));
        SWEEP_ODD(x, cnnc_interpolate(x, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = md)));
        SWEEP_ODD(x, cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(0.5), .mode = md)));
        cnnc_tensor *ins[] = {fx.x3, fx.x4, fx.x5};
        for (int d = 0; d < 3; d++) {
            cnnc_tensor *g = ins[d];
            T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md)));
            T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = CNNC_INTS(2), .scale_factor = CNNC_DOUBLES(2))));
            for (int i = 0; i < N_BAD_NS; i++) {
                T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = ints_n(bad_ns[i], 2))));
                T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .scale_factor = doubles_n(bad_ns[i], 2.0))));
            }
            T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = ints_n(d + 2, 2))));
            T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .scale_factor = doubles_n(d + 2, 2.0))));
            for (int i = 0; i < N_BAD_VALS; i++) {
                int64_t v = bad_vals[i];
                if (v == 0 && strcmp(md, "area") == 0) { /* area is adaptive pooling: size 0 is fine in torch */
                    T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = ints_n(1, v))));
                    continue;
                }
                T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = ints_n(1, v))));
                T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = ints_n(d + 1, v))));
            }
            const double bad_sf[] = {NAN, INFINITY, -INFINITY, 0.0, -1.0, 1e300, 1e-300, DBL_MAX, 1e10};
            for (size_t i = 0; i < sizeof bad_sf / sizeof *bad_sf; i++) {
                if ((bad_sf[i] == 0.0 || bad_sf[i] == 1e-300) && strcmp(md, "area") == 0) {
                    /* torch: an empty output for area */
                    T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .scale_factor = doubles_n(1, bad_sf[i]))));
                    continue;
                }
                T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .scale_factor = doubles_n(1, bad_sf[i]))));
                T_ERR(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .scale_factor = doubles_n(d + 1, bad_sf[i]),
                                                           .recompute_scale_factor = 1)));
                T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .scale_factor = doubles_n(d + 1, bad_sf[i]),
                                                           .recompute_scale_factor = 0)));
            }
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .scale_factor = doubles_n(1, 1e-3))));
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = CNNC_INTS(1), .align_corners = 1)));
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = CNNC_INTS(1), .align_corners = 0)));
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = CNNC_INTS(1), .antialias = true)));
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = CNNC_INTS(9), .antialias = true)));
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = CNNC_INTS(3), .align_corners = 7)));
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = CNNC_INTS(3), .align_corners = INT_MIN)));
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .scale_factor = CNNC_DOUBLES(2.0),
                                                       .recompute_scale_factor = 42)));
            T_ANY(cnnc_interpolate(g, CNNC_INTERPOLATE(.mode = md, .size = CNNC_INTS(3), .recompute_scale_factor = 1)));
        }
    }
    /* mode NULL is taken as "nearest"; torch's F.interpolate(mode=None) raises
     * NotImplementedError (and nn.Upsample(mode=None) fails at forward) */
    T_ERR(cnnc_interpolate(fx.x4, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = NULL)));
    M_ERR(cnnc_upsample_new(CNNC_UPSAMPLE(.size = CNNC_INTS(2), .mode = NULL)));
    T_ERR(cnnc_interpolate(fx.x4, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "bogus")));
    T_ERR(cnnc_interpolate(fx.x4, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "")));
    T_ERR(cnnc_interpolate(fx.x4, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "linear")));
    T_ERR(cnnc_interpolate(fx.x3, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "bilinear")));
    T_ERR(cnnc_interpolate(fx.x4, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "nearest", .align_corners = 1)));
    T_ERR(cnnc_interpolate(fx.x4, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = "nearest", .antialias = true)));
    /* pad and upsample module constructors */
    typedef cnnc_module *(*pad_new)(cnnc_ints);
    pad_new pads[] = {cnnc_zeropad2d_new, cnnc_reflectionpad1d_new, cnnc_reflectionpad2d_new,
                      cnnc_reflectionpad3d_new, cnnc_replicationpad1d_new, cnnc_replicationpad2d_new,
                      cnnc_replicationpad3d_new};
    typedef cnnc_module *(*cpad_new)(cnnc_ints, double);
    cpad_new cpads[] = {cnnc_constantpad1d_new, cnnc_constantpad2d_new, cnnc_constantpad3d_new};
    for (int i = 0; i < N_BAD_NS; i++) {
        for (size_t k = 0; k < sizeof pads / sizeof *pads; k++) M_ERR(pads[k](ints_n(bad_ns[i], 1)));
        for (size_t k = 0; k < 3; k++) M_ERR(cpads[k](ints_n(bad_ns[i], 1), 0.0));
    }
    for (size_t k = 0; k < sizeof pads / sizeof *pads; k++) {
        cnnc_module *m = M_ANY(pads[k](ints_n(0, 1)));
        if (m) {
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
        for (int i = 0; i < N_BAD_VALS; i++) {
            m = M_ANY(pads[k](ints_n(1, bad_vals[i])));
            if (!m) continue;
            FORWARD_ANY(m, fx.x3);
            FORWARD_ANY(m, fx.x4);
            FORWARD_ANY(m, fx.x5);
            cnnc_module_release(m);
        }
        m = M_ANY(pads[k](ints_n(7, 1)));
        if (m) {
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
    }
    M_ERR(cnnc_upsample_new(CNNC_UPSAMPLE(.size = CNNC_INTS(2), .mode = "bogus")));
    for (int i = 0; i < N_BAD_NS; i++) {
        M_ERR(cnnc_upsample_new(CNNC_UPSAMPLE(.size = ints_n(bad_ns[i], 2))));
        M_ERR(cnnc_upsample_new(CNNC_UPSAMPLE(.scale_factor = doubles_n(bad_ns[i], 2.0))));
        M_ERR(cnnc_upsamplingnearest2d_new(ints_n(bad_ns[i], 2), (cnnc_doubles){.n = 0}));
        M_ERR(cnnc_upsamplingbilinear2d_new((cnnc_ints)CNNC_INTS_NONE, doubles_n(bad_ns[i], 2.0)));
    }
    const double bad_sf[] = {NAN, INFINITY, -1.0, 1e300};
    for (size_t i = 0; i < 4; i++) {
        cnnc_module *m = M_ANY(cnnc_upsample_new(CNNC_UPSAMPLE(.scale_factor = doubles_n(1, bad_sf[i]))));
        if (m) {
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
        m = M_ANY(cnnc_upsamplingbilinear2d_new((cnnc_ints)CNNC_INTS_NONE, doubles_n(2, bad_sf[i])));
        if (m) {
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
        m = M_ANY(cnnc_upsamplingnearest2d_new(ints_n(2, bad_vals[i]), (cnnc_doubles){.n = 0}));
        if (m) {
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
    }
    fx_free();
}

/* ---- norm ------------------------------------------------------------------------- */

static const double bad_floats[] = {NAN, INFINITY, -INFINITY, -1.0, 0.0, 1e300, -1e-300};
#define N_BAD_FLOATS ((int)(sizeof bad_floats / sizeof *bad_floats))

static void test_norm_functional(void) {
    fx_init();
    cnnc_tensor *c3 = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32);
    cnnc_tensor *c3b = cnnc_zeros(CNNC_SHAPE(3), CNNC_FLOAT32);
    cnnc_tensor *one = cnnc_randn(CNNC_SHAPE(1, 3));
    cnnc_batch_norm_options bt = CNNC_BATCH_NORM(.training = true);
    cnnc_batch_norm_options be = CNNC_BATCH_NORM();
    SWEEP_INPUT(x, cnnc_batch_norm(x, c3b, c3, c3, c3b, bt));
    SWEEP_PARAM(r, cnnc_batch_norm(fx.x4, r, c3, NULL, NULL, bt));
    SWEEP_PARAM(r, cnnc_batch_norm(fx.x4, c3b, r, NULL, NULL, be));
    SWEEP_PARAM(w, cnnc_batch_norm(fx.x4, NULL, NULL, w, NULL, bt));
    SWEEP_PARAM(b, cnnc_batch_norm(fx.x4, NULL, NULL, NULL, b, bt));
    SWEEP_ODD(x, cnnc_batch_norm(x, c3b, c3, c3, c3b, bt));
    SWEEP_ODD(x, cnnc_batch_norm(x, c3b, c3, NULL, NULL, be));
    T_ERR(cnnc_batch_norm(fx.s0, NULL, NULL, NULL, NULL, bt));
    T_ERR(cnnc_batch_norm(fx.v3, NULL, NULL, NULL, NULL, bt));
    T_ERR(cnnc_batch_norm(one, NULL, NULL, NULL, NULL, bt));      /* one value per channel */
    T_ERR(cnnc_batch_norm(fx.x4, NULL, NULL, NULL, NULL, be));    /* eval needs running stats */
    T_ERR(cnnc_batch_norm(fx.x4, c3b, NULL, NULL, NULL, be));
    T_ERR(cnnc_batch_norm(fx.x4, c3b, c3, fx.m23, NULL, bt));
    T_OK(cnnc_batch_norm(fx.x4, NULL, NULL, NULL, NULL, bt));
    T_OK(cnnc_batch_norm(fx.z4, c3b, c3, NULL, NULL, be));
    for (int i = 0; i < N_BAD_FLOATS; i++) {
        double f = bad_floats[i];
        T_ANY(cnnc_batch_norm(fx.x4, c3b, c3, c3, c3b, CNNC_BATCH_NORM(.training = true, .eps = f)));
        T_ANY(cnnc_batch_norm(fx.x4, c3b, c3, c3, c3b, CNNC_BATCH_NORM(.eps = f)));
        T_ANY(cnnc_batch_norm(fx.x4, c3b, c3, NULL, NULL, CNNC_BATCH_NORM(.training = true, .momentum = f)));
    }
    S_OK(cnnc_tensor_fill_(c3, 1.0));
    S_OK(cnnc_tensor_fill_(c3b, 0.0));
    /* a running stat that requires grad */
    cnnc_tensor *rg = cnnc_zeros(CNNC_SHAPE(3), CNNC_FLOAT32);
    cnnc_tensor_set_requires_grad(rg, true);
    T_ERR(cnnc_batch_norm(fx.x4, rg, c3, NULL, NULL, bt));
    cnnc_tensor_release(rg);
    /* instance norm */
    cnnc_instance_norm_options it = CNNC_INSTANCE_NORM();
    cnnc_instance_norm_options ie = CNNC_INSTANCE_NORM(.use_input_stats = false);
    SWEEP_INPUT(x, cnnc_instance_norm(x, NULL, NULL, NULL, NULL, it));
    SWEEP_PARAM(r, cnnc_instance_norm(fx.x4, r, c3, NULL, NULL, it));
    SWEEP_PARAM(w, cnnc_instance_norm(fx.x4, NULL, NULL, w, NULL, it));
    SWEEP_ODD(x, cnnc_instance_norm(x, c3b, c3, c3, c3b, it));
    SWEEP_ODD(x, cnnc_instance_norm(x, c3b, c3, NULL, NULL, ie));
    T_ERR(cnnc_instance_norm(fx.x4, NULL, NULL, NULL, NULL, ie));
    T_ERR(cnnc_instance_norm(fx.s0, NULL, NULL, NULL, NULL, it));
    for (int i = 0; i < N_BAD_FLOATS; i++) {
        T_ANY(cnnc_instance_norm(fx.x4, c3b, c3, NULL, NULL, CNNC_INSTANCE_NORM(.eps = bad_floats[i])));
        T_ANY(cnnc_instance_norm(fx.x4, c3b, c3, NULL, NULL, CNNC_INSTANCE_NORM(.momentum = bad_floats[i])));
    }
    S_OK(cnnc_tensor_fill_(c3, 1.0));
    S_OK(cnnc_tensor_fill_(c3b, 0.0));
    /* layer norm */
    cnnc_ints ns66 = CNNC_INTS(6, 6);
    cnnc_tensor *w66 = cnnc_ones(CNNC_SHAPE(6, 6), CNNC_FLOAT32);
    SWEEP_INPUT(x, cnnc_layer_norm(x, ns66, NULL, NULL, CNNC_LAYER_NORM()));
    SWEEP_PARAM(w, cnnc_layer_norm(fx.x4, ns66, w, NULL, CNNC_LAYER_NORM()));
    SWEEP_PARAM(b, cnnc_layer_norm(fx.x4, ns66, NULL, b, CNNC_LAYER_NORM()));
    SWEEP_ODD(x, cnnc_layer_norm(x, ns66, w66, w66, CNNC_LAYER_NORM()));
    SWEEP_ODD(x, cnnc_layer_norm(x, ints_n(1, 3), NULL, NULL, CNNC_LAYER_NORM()));
    for (int i = 0; i < N_BAD_NS; i++) T_ERR(cnnc_layer_norm(fx.x4, ints_n(bad_ns[i], 6), NULL, NULL, CNNC_LAYER_NORM()));
    T_ERR(cnnc_layer_norm(fx.x4, ints_n(0, 6), NULL, NULL, CNNC_LAYER_NORM()));
    T_ERR(cnnc_layer_norm(fx.x4, ints_n(5, 6), NULL, NULL, CNNC_LAYER_NORM()));
    for (int i = 0; i < N_BAD_VALS; i++) {
        T_ERR(cnnc_layer_norm(fx.x4, ints_n(1, bad_vals[i]), NULL, NULL, CNNC_LAYER_NORM()));
        T_ERR(cnnc_layer_norm(fx.x4, ints_n(2, bad_vals[i]), w66, NULL, CNNC_LAYER_NORM()));
    }
    T_ERR(cnnc_layer_norm(fx.x4, ns66, fx.m23, NULL, CNNC_LAYER_NORM()));
    for (int i = 0; i < N_BAD_FLOATS; i++)
        T_ANY(cnnc_layer_norm(fx.x4, ns66, w66, w66, CNNC_LAYER_NORM(.eps = bad_floats[i])));
    /* group norm */
    SWEEP_INPUT(x, cnnc_group_norm(x, 3, NULL, NULL, CNNC_GROUP_NORM()));
    SWEEP_PARAM(w, cnnc_group_norm(fx.x4, 3, w, NULL, CNNC_GROUP_NORM()));
    SWEEP_PARAM(b, cnnc_group_norm(fx.x4, 3, NULL, b, CNNC_GROUP_NORM()));
    SWEEP_ODD(x, cnnc_group_norm(x, 1, NULL, NULL, CNNC_GROUP_NORM()));
    SWEEP_ODD(x, cnnc_group_norm(x, 3, c3, c3b, CNNC_GROUP_NORM()));
    for (int i = 0; i < N_BAD_VALS; i++) T_ERR(cnnc_group_norm(fx.x4, bad_vals[i], NULL, NULL, CNNC_GROUP_NORM()));
    T_ERR(cnnc_group_norm(fx.x4, 2, NULL, NULL, CNNC_GROUP_NORM()));
    {
        cnnc_tensor *c0 = cnnc_zeros(CNNC_SHAPE(4, 0, 3), CNNC_FLOAT32);
        T_ANY(cnnc_group_norm(c0, 1, NULL, NULL, CNNC_GROUP_NORM()));
        T_ANY(cnnc_group_norm(c0, INT64_MAX, NULL, NULL, CNNC_GROUP_NORM())); /* stat_count overflow */
        cnnc_tensor_release(c0);
    }
    T_ERR(cnnc_group_norm(fx.s0, 1, NULL, NULL, CNNC_GROUP_NORM()));
    for (int i = 0; i < N_BAD_FLOATS; i++)
        T_ANY(cnnc_group_norm(fx.x4, 3, c3, c3b, CNNC_GROUP_NORM(.eps = bad_floats[i])));
    /* local response norm */
    SWEEP_INPUT(x, cnnc_local_response_norm(x, 2, CNNC_LOCAL_RESPONSE_NORM()));
    SWEEP_ODD(x, cnnc_local_response_norm(x, 2, CNNC_LOCAL_RESPONSE_NORM()));
    T_ERR(cnnc_local_response_norm(fx.m23, 2, CNNC_LOCAL_RESPONSE_NORM()));
    T_ERR(cnnc_local_response_norm(fx.x4, 0, CNNC_LOCAL_RESPONSE_NORM()));
    T_ERR(cnnc_local_response_norm(fx.x4, -1, CNNC_LOCAL_RESPONSE_NORM()));
    T_ERR(cnnc_local_response_norm(fx.x4, INT64_MIN, CNNC_LOCAL_RESPONSE_NORM()));
    T_ANY(cnnc_local_response_norm(fx.x4, INT64_MAX, CNNC_LOCAL_RESPONSE_NORM()));
    T_ANY(cnnc_local_response_norm(fx.x5, (int64_t)1 << 40, CNNC_LOCAL_RESPONSE_NORM()));
    for (int i = 0; i < N_BAD_FLOATS; i++) {
        double f = bad_floats[i];
        T_ANY(cnnc_local_response_norm(fx.x4, 3, CNNC_LOCAL_RESPONSE_NORM(.alpha = f)));
        T_ANY(cnnc_local_response_norm(fx.x4, 3, CNNC_LOCAL_RESPONSE_NORM(.beta = f)));
        T_ANY(cnnc_local_response_norm(fx.x4, 3, CNNC_LOCAL_RESPONSE_NORM(.k = f)));
    }
    /* module constructors */
    typedef cnnc_module *(*bn_new)(int64_t, cnnc_batchnorm_options);
    bn_new bns[] = {cnnc_batchnorm1d_new, cnnc_batchnorm2d_new, cnnc_batchnorm3d_new,
                    cnnc_instancenorm1d_new, cnnc_instancenorm2d_new, cnnc_instancenorm3d_new};
    for (int k = 0; k < 6; k++) {
        M_ERR(bns[k](-1, CNNC_BATCHNORM()));
        M_ERR(bns[k](INT64_MIN, CNNC_BATCHNORM()));
        M_ERR(bns[k](INT64_MAX, CNNC_BATCHNORM()));
        M_ERR(bns[k]((int64_t)1 << 40, CNNC_BATCHNORM()));
        cnnc_module *m = M_ANY(bns[k](0, CNNC_BATCHNORM()));
        if (m) {
            FORWARD_ANY(m, fx.z4);
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
        for (int i = 0; i < N_BAD_FLOATS; i++) {
            double f = bad_floats[i];
            m = M_ANY(bns[k](3, CNNC_BATCHNORM(.eps = f, .momentum = CNNC_SOME(f))));
            if (!m) continue;
            FORWARD_ANY(m, fx.x3);
            FORWARD_ANY(m, fx.x4);
            FORWARD_ANY(m, fx.x5);
            cnnc_module_eval(m);
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
    }
    for (int i = 0; i < N_BAD_NS; i++) M_ERR(cnnc_layernorm_new(ints_n(bad_ns[i], 2), CNNC_LAYERNORM()));
    {   /* torch: nn.LayerNorm(()) builds; its forward raises */
        cnnc_module *m = M_ANY(cnnc_layernorm_new(ints_n(0, 2), CNNC_LAYERNORM()));
        if (m) {
            T_ERR(cnnc_module_forward(m, fx.x4));
            cnnc_module_release(m);
        }
    }
    for (int i = 0; i < N_BAD_VALS; i++) {
        cnnc_module *m = M_ANY(cnnc_layernorm_new(ints_n(1, bad_vals[i]), CNNC_LAYERNORM()));
        if (m) {
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
        if (bad_vals[i] < 0) M_ERR(cnnc_layernorm_new(ints_n(1, bad_vals[i]), CNNC_LAYERNORM()));
    }
    M_ERR(cnnc_layernorm_new(ints_n(2, (int64_t)1 << 32), CNNC_LAYERNORM()));
    {
        cnnc_module *m = M_ANY(cnnc_layernorm_new(ints_n(8, INT64_MAX), CNNC_LAYERNORM(.elementwise_affine = false)));
        if (m) {
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
    }
    M_ERR(cnnc_groupnorm_new(0, 3, CNNC_GROUPNORM()));
    {   /* torch: nn.GroupNorm(-1, 3) builds (3 % -1 == 0); its forward raises */
        cnnc_module *m = M_ANY(cnnc_groupnorm_new(-1, 3, CNNC_GROUPNORM()));
        if (m) {
            T_ERR(cnnc_module_forward(m, fx.x4));
            cnnc_module_release(m);
        }
    }
    M_ERR(cnnc_groupnorm_new(2, 3, CNNC_GROUPNORM()));
    M_ERR(cnnc_groupnorm_new(3, -3, CNNC_GROUPNORM()));
    M_ERR(cnnc_groupnorm_new(1, INT64_MAX, CNNC_GROUPNORM()));
    M_ERR(cnnc_groupnorm_new(INT64_MIN, INT64_MIN, CNNC_GROUPNORM()));
    for (int i = 0; i < N_BAD_VALS; i++) {
        cnnc_module *m = M_ANY(cnnc_localresponsenorm_new(bad_vals[i], CNNC_LOCALRESPONSENORM()));
        if (m) {
            FORWARD_ANY(m, fx.x4);
            cnnc_module_release(m);
        }
    }
    cnnc_tensor *rel[] = {c3, c3b, one, w66};
    for (size_t i = 0; i < 4; i++) cnnc_tensor_release(rel[i]);
    fx_free();
}

/* ---- activation ---------------------------------------------------------------------- */

/* A pointwise activation: NULL and int64 fail, any float shape works, in place on a
 * leaf that requires grad fails. */
#define ACT_SWEEP(...)                                                          \
    do {                                                                        \
        SWEEP_INPUT(x, __VA_ARGS__);                                            \
        { cnnc_tensor *x = fx.s0; T_OK(__VA_ARGS__); }                          \
        { cnnc_tensor *x = fx.e0; T_OK(__VA_ARGS__); }                          \
        { cnnc_tensor *x = fx.r6; T_OK(__VA_ARGS__); }                          \
        { cnnc_tensor *x = fx.e4; T_OK(__VA_ARGS__); }                          \
    } while (0)
#define ACT_INPLACE_SWEEP(...)                                                  \
    do {                                                                        \
        { cnnc_tensor *x = NULL; S_ERR(__VA_ARGS__); }                          \
        { cnnc_tensor *x = fx.i4; S_ERR(__VA_ARGS__); }                         \
        { cnnc_tensor *x = leaf; S_ERR(__VA_ARGS__); }                          \
        { cnnc_tensor *x = fx.e0; S_OK(__VA_ARGS__); }                          \
        { cnnc_tensor *x = fx.r6; S_OK(__VA_ARGS__); }                          \
    } while (0)

static void test_activation_functional(void) {
    fx_init();
    cnnc_tensor *leaf = cnnc_randn(CNNC_SHAPE(3));
    cnnc_tensor_set_requires_grad(leaf, true);
    ACT_SWEEP(cnnc_relu6(x, CNNC_RELU6()));
    ACT_SWEEP(cnnc_hardtanh(x, CNNC_HARDTANH()));
    ACT_SWEEP(cnnc_leaky_relu(x, CNNC_LEAKY_RELU()));
    ACT_SWEEP(cnnc_elu(x, CNNC_ELU()));
    ACT_SWEEP(cnnc_selu(x, CNNC_SELU()));
    ACT_SWEEP(cnnc_celu(x, CNNC_CELU()));
    ACT_SWEEP(cnnc_gelu(x, CNNC_GELU()));
    ACT_SWEEP(cnnc_gelu(x, CNNC_GELU(.approximate = "tanh")));
    ACT_SWEEP(cnnc_silu(x, CNNC_SILU()));
    ACT_SWEEP(cnnc_mish(x, CNNC_MISH()));
    ACT_SWEEP(cnnc_sigmoid(x));
    ACT_SWEEP(cnnc_tanh(x));
    ACT_SWEEP(cnnc_hardsigmoid(x, CNNC_HARDSIGMOID()));
    ACT_SWEEP(cnnc_hardswish(x, CNNC_HARDSWISH()));
    ACT_SWEEP(cnnc_softplus(x, CNNC_SOFTPLUS()));
    ACT_SWEEP(cnnc_softmax(x, CNNC_SOFTMAX()));
    ACT_SWEEP(cnnc_log_softmax(x, CNNC_SOFTMAX(.dim = CNNC_INTS(-1))));
    ACT_SWEEP(cnnc_dropout(x, CNNC_DROPOUT()));
    ACT_SWEEP(cnnc_prelu(x, fx.s0));
    ACT_INPLACE_SWEEP(cnnc_hardtanh_(x, CNNC_HARDTANH()));
    ACT_INPLACE_SWEEP(cnnc_leaky_relu_(x, CNNC_LEAKY_RELU()));
    ACT_INPLACE_SWEEP(cnnc_elu_(x, CNNC_ELU()));
    ACT_INPLACE_SWEEP(cnnc_selu_(x));
    ACT_INPLACE_SWEEP(cnnc_celu_(x, CNNC_CELU()));
    /* the .inplace = true forms on a leaf that requires grad and on int64 */
    T_ERR(cnnc_relu6(leaf, CNNC_RELU6(.inplace = true)));
    T_ERR(cnnc_silu(leaf, CNNC_SILU(.inplace = true)));
    T_ERR(cnnc_mish(fx.i4, CNNC_MISH(.inplace = true)));
    T_ERR(cnnc_hardswish(leaf, CNNC_HARDSWISH(.inplace = true)));
    T_ERR(cnnc_hardsigmoid(NULL, CNNC_HARDSIGMOID(.inplace = true)));
    T_ERR(cnnc_dropout(leaf, CNNC_DROPOUT(.inplace = true)));
    /* garbage floats */
    for (int i = 0; i < N_BAD_FLOATS; i++) {
        double f = bad_floats[i];
        T_ANY(cnnc_hardtanh(fx.x4, CNNC_HARDTANH(.min_val = f)));
        T_ANY(cnnc_hardtanh(fx.x4, CNNC_HARDTANH(.max_val = f)));
        T_ANY(cnnc_leaky_relu(fx.x4, CNNC_LEAKY_RELU(.negative_slope = f)));
        T_ANY(cnnc_elu(fx.x4, CNNC_ELU(.alpha = f)));
        T_ANY(cnnc_celu(fx.x4, CNNC_CELU(.alpha = f)));
        T_ANY(cnnc_softplus(fx.x4, CNNC_SOFTPLUS(.beta = f)));
        T_ANY(cnnc_softplus(fx.x4, CNNC_SOFTPLUS(.threshold = f)));
        T_ANY(cnnc_dropout(fx.x4, CNNC_DROPOUT(.p = f)));
        T_ANY(cnnc_dropout2d(fx.x4, CNNC_DROPOUT(.p = f)));
        T_ANY(cnnc_dropout3d(fx.x5, CNNC_DROPOUT(.p = f)));
        cnnc_module_release(M_ANY(cnnc_hardtanh_new(CNNC_HARDTANH(.max_val = f))));
        cnnc_module_release(M_ANY(cnnc_prelu_new(CNNC_PRELU(.init = f))));
        cnnc_module_release(M_ANY(cnnc_softplus_new(CNNC_SOFTPLUS(.beta = f))));
        cnnc_module_release(M_ANY(cnnc_elu_new(CNNC_ELU(.alpha = f))));
        cnnc_module_release(M_ANY(cnnc_celu_new(CNNC_CELU(.alpha = f))));
        cnnc_module_release(M_ANY(cnnc_leakyrelu_new(CNNC_LEAKY_RELU(.negative_slope = f))));
    }
    const double badp[] = {NAN, -0.1, 1.5, INFINITY, -INFINITY};
    for (int i = 0; i < 5; i++) {
        T_ERR(cnnc_dropout(fx.x4, CNNC_DROPOUT(.p = badp[i])));
        T_ERR(cnnc_dropout2d(fx.x4, CNNC_DROPOUT(.p = badp[i])));
        T_ERR(cnnc_dropout3d(fx.x5, CNNC_DROPOUT(.p = badp[i])));
        T_ERR(cnnc_dropout(fx.x4, CNNC_DROPOUT(.p = badp[i], .training = false)));
        M_ERR(cnnc_dropout_new(CNNC_DROPOUT(.p = badp[i])));
        M_ERR(cnnc_dropout2d_new(CNNC_DROPOUT(.p = badp[i])));
        M_ERR(cnnc_dropout3d_new(CNNC_DROPOUT(.p = badp[i])));
    }
    SWEEP_INPUT(x, cnnc_dropout2d(x, CNNC_DROPOUT()));
    SWEEP_INPUT(x, cnnc_dropout3d(x, CNNC_DROPOUT()));
    T_ERR(cnnc_dropout2d(fx.v3, CNNC_DROPOUT()));
    T_ERR(cnnc_dropout2d(fx.s0, CNNC_DROPOUT()));
    T_OK(cnnc_dropout3d(fx.v3, CNNC_DROPOUT())); /* torch: unsqueezed to [1, 3] */
    T_ERR(cnnc_dropout3d(fx.s0, CNNC_DROPOUT()));
    SWEEP_ODD(x, cnnc_dropout2d(x, CNNC_DROPOUT()));
    SWEEP_ODD(x, cnnc_dropout3d(x, CNNC_DROPOUT(.p = 1.0)));
    T_ERR(cnnc_celu(fx.x4, CNNC_CELU(.alpha = 0.0)));
    S_ERR(cnnc_celu_(fx.w7, CNNC_CELU(.alpha = 0.0)));
    T_ERR(cnnc_gelu(fx.x4, CNNC_GELU(.approximate = NULL)));
    T_ERR(cnnc_gelu(fx.x4, CNNC_GELU(.approximate = "bogus")));
    T_ERR(cnnc_gelu(fx.x4, CNNC_GELU(.approximate = "")));
    M_ERR(cnnc_gelu_new(CNNC_GELU(.approximate = NULL)));
    M_ERR(cnnc_gelu_new(CNNC_GELU(.approximate = "TANH")));
    M_ERR(cnnc_hardtanh_new(CNNC_HARDTANH(.min_val = 2, .max_val = 1)));
    /* prelu */
    SWEEP_INPUT(w, cnnc_prelu(fx.x4, w));
    T_ERR(cnnc_prelu(fx.x4, fx.w7));
    T_ERR(cnnc_prelu(fx.x4, fx.m23));
    T_ERR(cnnc_prelu(fx.x4, fx.e0));
    T_ERR(cnnc_prelu(fx.x4, fx.i1));
    T_OK(cnnc_prelu(fx.x4, fx.v3));
    SWEEP_ODD(x, cnnc_prelu(x, fx.v3));
    M_ERR(cnnc_prelu_new(CNNC_PRELU(.num_parameters = -1)));
    M_ERR(cnnc_prelu_new(CNNC_PRELU(.num_parameters = INT64_MIN)));
    M_ERR(cnnc_prelu_new(CNNC_PRELU(.num_parameters = INT64_MAX)));
    cnnc_module_release(M_ANY(cnnc_prelu_new(CNNC_PRELU(.num_parameters = 0))));
    /* softmax dims */
    for (int i = 0; i < N_BAD_NS; i++) {
        T_ERR(cnnc_softmax(fx.x4, CNNC_SOFTMAX(.dim = ints_n(bad_ns[i], 0))));
        T_ERR(cnnc_log_softmax(fx.x4, CNNC_SOFTMAX(.dim = ints_n(bad_ns[i], 0))));
        M_ERR(cnnc_softmax_new(CNNC_SOFTMAX(.dim = ints_n(bad_ns[i], 0))));
        M_ERR(cnnc_logsoftmax_new(CNNC_SOFTMAX(.dim = ints_n(bad_ns[i], 0))));
    }
    T_ERR(cnnc_softmax(fx.x4, CNNC_SOFTMAX(.dim = CNNC_INTS(1, 2))));
    for (int i = 0; i < N_BAD_VALS; i++) {
        T_ANY(cnnc_softmax(fx.x4, CNNC_SOFTMAX(.dim = ints_n(1, bad_vals[i]))));
        T_ANY(cnnc_log_softmax(fx.s0, CNNC_SOFTMAX(.dim = ints_n(1, bad_vals[i]))));
        if (bad_vals[i] != 0 && bad_vals[i] != -1) T_ERR(cnnc_softmax(fx.x4, CNNC_SOFTMAX(.dim = ints_n(1, bad_vals[i]))));
    }
    T_ERR(cnnc_softmax(fx.x4, CNNC_SOFTMAX(.dim = CNNC_INTS(4))));
    T_ERR(cnnc_softmax(fx.x4, CNNC_SOFTMAX(.dim = CNNC_INTS(-5))));
    T_ERR(cnnc_softmax(fx.s0, CNNC_SOFTMAX(.dim = CNNC_INTS(1))));
    T_ERR(cnnc_softmax(fx.x4, CNNC_SOFTMAX(.dim = CNNC_INTS((int64_t)1 << 32))));
    cnnc_tensor_release(leaf);
    fx_free();
}

/* ---- randomized fuzz ------------------------------------------------------------------- */

static uint64_t fz_state;
static uint64_t fz_next(void) {
    fz_state ^= fz_state << 13;
    fz_state ^= fz_state >> 7;
    fz_state ^= fz_state << 17;
    return fz_state;
}
static int64_t fz_range(int64_t lo, int64_t hi) { return lo + (int64_t)(fz_next() % (uint64_t)(hi - lo + 1)); }
/* A mostly plausible int, sometimes implausible. */
static int64_t fz_int(int64_t lo, int64_t hi) {
    uint64_t r = fz_next() % 100;
    if (r < 90) return fz_range(lo, hi);
    static const int64_t odd[] = {-1, 0, -3, 100, INT64_MAX, INT64_MIN, (int64_t)1 << 33};
    return odd[r % 7];
}
static double fz_double(double lo, double hi) {
    uint64_t r = fz_next() % 100;
    if (r < 92) return lo + (hi - lo) * (double)(fz_next() % 10001) / 10000.0;
    static const double odd[] = {NAN, INFINITY, -INFINITY, 0.0, -1.0, 1e30, -1e-30, 1e300};
    return odd[r % 8];
}
static cnnc_ints fz_ints(int nsp, int64_t lo, int64_t hi) {
    cnnc_ints r;
    memset(&r, 0, sizeof r);
    uint64_t c = fz_next() % 20;
    r.n = c < 8 ? 1 : c < 18 ? nsp : c == 18 ? 0 : (int)fz_range(-1, 9);
    for (int i = 0; i < CNNC_MAX_DIMS; i++) r.v[i] = fz_int(lo, hi);
    return r;
}
/* A random float tensor: rank in [rlo, rhi], sizes 0..smax (rarely 0). */
static cnnc_tensor *fz_tensor(int rlo, int rhi, int64_t smax, int64_t *shape_out, int *nd_out) {
    int nd = (int)fz_range(rlo, rhi);
    int64_t shape[CNNC_MAX_DIMS];
    for (int i = 0; i < nd; i++) shape[i] = fz_next() % 12 == 0 ? 0 : fz_range(1, smax);
    if (shape_out)
        for (int i = 0; i < nd; i++) shape_out[i] = shape[i];
    if (nd_out) *nd_out = nd;
    return cnnc_randn(nd, shape);
}

static void fz_result(const char *op, long iter, cnnc_tensor *y) {
    rob_calls_++;
    check_checks_run_++;
    if (y) {
        if (!tensor_sane_(y)) check_fail_(__FILE__, __LINE__, "fuzz %s #%ld: insane output", op, iter);
        cnnc_tensor_release(y);
    } else if (!error_is_set_()) {
        check_fail_(__FILE__, __LINE__, "fuzz %s #%ld: NULL without an error message", op, iter);
    }
}

static void test_fuzz(void) {
    fz_state = 0x9E3779B97F4A7C15ull;
    cnnc_manual_seed(77);
    const char *imodes[] = {"nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area", "bogus"};
    const int iters = 3000;
    for (long it = 0; it < iters; it++) {
        int op = (int)(it % 12);
        int nd = 0;
        int64_t sh[CNNC_MAX_DIMS];
        cnnc_tensor *x = NULL, *w = NULL, *b = NULL, *r1 = NULL, *r2 = NULL;
        cnnc_clear_error();
        switch (op) {
        case 0: { /* conv2d */
            x = fz_tensor(2, 5, 7, sh, &nd);
            int64_t cin = nd >= 3 ? sh[nd - 3] : 1;
            int64_t g = fz_int(1, 3);
            int64_t cout = fz_range(0, 3) * (g > 0 && g < 100 ? g : 1);
            int64_t kh = fz_int(1, 4), kw = fz_int(1, 4);
            int64_t wcin = (g > 0 && g < 100 && cin % g == 0) ? cin / g : cin;
            if (fz_next() % 10 == 0) wcin++;
            int64_t wshape[4] = {cout, wcin, kh > 0 && kh < 10 ? kh : 2, kw > 0 && kw < 10 ? kw : 2};
            w = cnnc_randn(4, wshape);
            if (fz_next() % 2) b = cnnc_randn(CNNC_SHAPE(cout + (fz_next() % 10 == 0)));
            const char *ps = NULL;
            uint64_t c = fz_next() % 10;
            if (c == 0) ps = "same";
            else if (c == 1) ps = "valid";
            else if (c == 2) ps = "bogus";
            cnnc_ints dl = fz_ints(2, 1, 3);
            for (int i = 0; i < CNNC_MAX_DIMS; i++) /* the dilation INT64_MIN bug */
            fz_result("conv2d", it, cnnc_conv2d(x, w, b, CNNC_CONV2D(.stride = fz_ints(2, 1, 3), .padding = fz_ints(2, 0, 2),
                                                                   .dilation = dl, .groups = g,
                                                                   .padding_str = ps)));
            break;
        }
        case 1: { /* max_pool2d */
            x = fz_tensor(2, 5, 9, sh, &nd);
            cnnc_max_pool_options o = CNNC_MAX_POOL2D(.kernel_size = fz_ints(2, 1, 4), .stride = fz_ints(2, 1, 3),
                                                      .padding = fz_ints(2, 0, 2), .dilation = fz_ints(2, 1, 2),
                                                      .ceil_mode = fz_next() % 2);
            if (fz_next() % 2) {
                cnnc_tensor *idx = NULL;
                cnnc_tensor *y = cnnc_max_pool2d_with_indices(x, o, &idx);
                check_checks_run_++;
                if (!y && idx) check_fail_(__FILE__, __LINE__, "fuzz max_pool2d #%ld: indices on error", it);
                if (y && !tensor_sane_(idx)) check_fail_(__FILE__, __LINE__, "fuzz max_pool2d #%ld: bad indices", it);
                if (y && idx && fz_next() % 2) {
                    cnnc_clear_error();
                    fz_result("max_unpool2d", it, cnnc_max_unpool2d(y, idx, CNNC_MAX_UNPOOL2D(.kernel_size = o.kernel_size,
                                                                                             .stride = o.stride,
                                                                                             .padding = o.padding)));
                }
                cnnc_tensor_release(idx);
                fz_result("max_pool2d_with_indices", it, y);
            } else {
                fz_result("max_pool2d", it, cnnc_max_pool2d(x, o));
            }
            break;
        }
        case 2: { /* avg_pool2d */
            x = fz_tensor(2, 5, 9, sh, &nd);
            cnnc_optional_int dv = {.has_value = fz_next() % 4 == 0, .value = fz_int(1, 5)};
            fz_result("avg_pool2d", it, cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = fz_ints(2, 1, 4), .stride = fz_ints(2, 1, 3),
                                                                         .padding = fz_ints(2, 0, 2), .ceil_mode = fz_next() % 2,
                                                                         .count_include_pad = fz_next() % 2,
                                                                         .divisor_override = dv)));
            if (fz_next() % 2) {
                cnnc_clear_error();
                fz_result("adaptive_avg_pool2d", it, cnnc_adaptive_avg_pool2d(x, fz_ints(2, 0, 5)));
            } else {
                cnnc_clear_error();
                fz_result("adaptive_max_pool2d", it, cnnc_adaptive_max_pool2d(x, fz_ints(2, 0, 5)));
            }
            break;
        }
        case 3: { /* interpolate */
            x = fz_tensor(2, 6, 6, sh, &nd);
            cnnc_interpolate_options o = CNNC_INTERPOLATE(.mode = imodes[fz_next() % 8]);
            uint64_t c = fz_next() % 3;
            if (c == 0 || c == 2) o.size = fz_ints(nd - 2 > 0 ? nd - 2 : 1, 0, 8);
            if (c == 1 || c == 2) {
                int n = fz_next() % 2 ? 1 : nd - 2;
                o.scale_factor.n = fz_next() % 15 == 0 ? (int)fz_range(-1, 9) : n;
                for (int i = 0; i < CNNC_MAX_DIMS; i++) o.scale_factor.v[i] = fz_double(0.1, 3.0);
            }
            o.align_corners = (int)fz_range(-1, 1);
            o.recompute_scale_factor = (int)fz_range(-1, 1);
            o.antialias = fz_next() % 5 == 0;
            fz_result("interpolate", it, cnnc_interpolate(x, o));
            break;
        }
        case 4: { /* pad */
            x = fz_tensor(1, 5, 6, sh, &nd);
            int npad = (int)(fz_next() % 7 == 0 ? fz_range(-2, 12) : 2 * fz_range(0, nd));
            int64_t pad[16];
            for (int i = 0; i < 16; i++) {
                int64_t q = fz_int(-3, 3);
                pad[i] = fz_next() % 25 == 0 && q > -1000 && q < 1000 ? q * 1000 : q;
            }
            cnnc_pad_mode m = (cnnc_pad_mode)(fz_next() % 30 == 0 ? 7 : fz_range(0, 3));
            double v = fz_next() % 4 == 0 ? fz_double(-2, 2) : 0.0;
            fz_result("pad", it, cnnc_pad(x, npad, pad, m, v));
            break;
        }
        case 5: { /* batch_norm */
            x = fz_tensor(1, 5, 5, sh, &nd);
            int64_t c = nd >= 2 ? sh[1] : 1;
            if (fz_next() % 8 == 0) c++;
            bool training = fz_next() % 2;
            if (fz_next() % 4) {
                r1 = cnnc_zeros(CNNC_SHAPE(c), CNNC_FLOAT32);
                r2 = cnnc_ones(CNNC_SHAPE(c), CNNC_FLOAT32);
            }
            if (fz_next() % 2) w = cnnc_randn(CNNC_SHAPE(c));
            if (fz_next() % 2) b = cnnc_randn(CNNC_SHAPE(c));
            fz_result("batch_norm", it, cnnc_batch_norm(x, r1, r2, w, b, CNNC_BATCH_NORM(.training = training,
                                                                                         .momentum = fz_double(0, 1),
                                                                                         .eps = fz_double(1e-6, 1e-2))));
            break;
        }
        case 6: { /* layer_norm / group_norm */
            x = fz_tensor(0, 5, 5, sh, &nd);
            cnnc_ints ns;
            memset(&ns, 0, sizeof ns);
            ns.n = (int)(fz_next() % 10 == 0 ? fz_range(-1, 9) : fz_range(1, nd > 0 ? nd : 1));
            for (int i = 0; i < CNNC_MAX_DIMS; i++) {
                int src = nd - (ns.n > 0 && ns.n <= CNNC_MAX_DIMS ? ns.n : 1) + i;
                ns.v[i] = (src >= 0 && src < nd && fz_next() % 8) ? sh[src] : fz_int(0, 4);
            }
            if (fz_next() % 2) {
                fz_result("layer_norm", it, cnnc_layer_norm(x, ns, NULL, NULL, CNNC_LAYER_NORM(.eps = fz_double(1e-6, 1e-3))));
            } else {
                int64_t c = nd >= 2 ? sh[1] : 1;
                if (fz_next() % 2) w = cnnc_randn(CNNC_SHAPE(c));
                int64_t ng = fz_int(1, 3);
                /* BUG: num_groups INT64_MAX with 0 channels overflows N * num_groups
                 * (src/ops/norm.c stat_count) */
                fz_result("group_norm", it, cnnc_group_norm(x, ng, w, NULL, CNNC_GROUP_NORM(.eps = fz_double(1e-6, 1e-3))));
            }
            break;
        }
        case 7: { /* softmax / log_softmax */
            x = fz_tensor(0, 6, 5, sh, &nd);
            cnnc_softmax_options o = CNNC_SOFTMAX(.dim = fz_ints(1, -nd - 1, nd));
            if (fz_next() % 2) fz_result("softmax", it, cnnc_softmax(x, o));
            else fz_result("log_softmax", it, cnnc_log_softmax(x, o));
            break;
        }
        case 8: { /* linear */
            x = fz_tensor(0, 4, 5, sh, &nd);
            int64_t in = nd > 0 ? sh[nd - 1] : 1;
            if (fz_next() % 8 == 0) in++;
            int64_t out = fz_range(0, 4);
            w = cnnc_randn(CNNC_SHAPE(out, in));
            if (fz_next() % 2) b = cnnc_randn(CNNC_SHAPE(out + (fz_next() % 8 == 0)));
            fz_result("linear", it, cnnc_linear(x, w, b));
            break;
        }
        case 9: { /* matmul */
            int nd2 = 0;
            int64_t sh2[CNNC_MAX_DIMS];
            x = fz_tensor(0, 4, 4, sh, &nd);
            w = fz_tensor(0, 4, 4, sh2, &nd2);
            fz_result("matmul", it, cnnc_matmul(x, w));
            break;
        }
        case 10: { /* cat */
            x = fz_tensor(0, 4, 3, sh, &nd);
            int64_t sh2[CNNC_MAX_DIMS];
            for (int i = 0; i < nd; i++) sh2[i] = fz_next() % 5 == 0 ? fz_range(0, 3) : sh[i];
            w = cnnc_randn(nd, sh2);
            b = fz_next() % 4 == 0 ? cnnc_zeros(CNNC_SHAPE(0), CNNC_FLOAT32) : NULL;
            cnnc_tensor *list[3] = {x, w, b};
            int n = b ? 3 : 2;
            fz_result("cat", it, cnnc_cat(n, list, (int)fz_range(-nd - 1, nd)));
            break;
        }
        case 11: { /* reshape / view */
            x = fz_tensor(0, 4, 4, sh, &nd);
            int nd2 = (int)fz_range(0, 5);
            int64_t sh2[8];
            for (int i = 0; i < nd2; i++) sh2[i] = fz_next() % 4 == 0 ? -1 : fz_int(0, 4);
            if (fz_next() % 2) fz_result("reshape", it, cnnc_reshape(x, nd2, sh2));
            else fz_result("view", it, cnnc_view(x, nd2, sh2));
            break;
        }
        }
        cnnc_tensor_release(x);
        cnnc_tensor_release(w);
        cnnc_tensor_release(b);
        cnnc_tensor_release(r1);
        cnnc_tensor_release(r2);
    }
}

/* ---- fuzz with autograd: forward + backward through random configurations ------------ */

static const char *const imodes_bw[] = {"nearest", "bilinear", "bicubic", "area"};

static void test_fuzz_backward(void) {
    fz_state = 0xDEADBEEFCAFEF00Dull;
    cnnc_manual_seed(78);
    for (long it = 0; it < 400; it++) {
        int nd = 0;
        int64_t sh[CNNC_MAX_DIMS];
        cnnc_tensor *x = fz_tensor(3, 5, 6, sh, &nd);
        cnnc_tensor_set_requires_grad(x, true);
        cnnc_tensor *y = NULL;
        cnnc_clear_error();
        switch (it % 6) {
        case 0: y = cnnc_max_pool2d(x, CNNC_MAX_POOL2D(.kernel_size = fz_ints(2, 1, 3), .stride = fz_ints(2, 1, 3),
                                                       .padding = fz_ints(2, 0, 1), .ceil_mode = fz_next() % 2)); break;
        case 1: y = cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = fz_ints(2, 1, 3), .ceil_mode = fz_next() % 2,
                                                       .padding = fz_ints(2, 0, 1))); break;
        case 2: y = cnnc_interpolate(x, CNNC_INTERPOLATE(.size = fz_ints(nd - 2, 0, 7),
                                                         .mode = imodes_bw[fz_next() % 4])); break;
        case 3: {
            int64_t p[6];
            for (int i = 0; i < 6; i++) p[i] = fz_int(-2, 3);
            y = cnnc_pad(x, 2 * (nd - 2), p, (cnnc_pad_mode)fz_range(0, 3), 0.0);
            break;
        }
        case 4: y = cnnc_softmax(x, CNNC_SOFTMAX(.dim = fz_ints(1, -nd, nd - 1))); break;
        case 5: y = cnnc_adaptive_max_pool2d(x, fz_ints(2, 0, 5)); break;
        }
        fz_result("backward-forward", it, y ? cnnc_tensor_retain(y) : NULL);
        if (y) {
            cnnc_tensor *s = cnnc_sum(y);
            cnnc_clear_error();
            cnnc_status st = s ? cnnc_backward(s, NULL, false) : cnnc_last_status();
            s_any_(__FILE__, __LINE__, "backward", st);
            cnnc_tensor *g = cnnc_tensor_grad(x);
            if (st == CNNC_OK && g) {
                check_checks_run_++;
                if (!tensor_sane_(g) || cnnc_tensor_numel(g) != cnnc_tensor_numel(x))
                    check_fail_(__FILE__, __LINE__, "fuzz backward #%ld: bad grad", it);
            }
            cnnc_tensor_release(s);
            cnnc_tensor_release(y);
        }
        cnnc_tensor_release(x);
    }
}



/* Forward and backward of the main ops on empty inputs with 3 channels and huge spatial
 * sizes (their products overflow): a tensor or an error, never UB. */
static void huge_empty_grad_(const char *file, int line, const char *expr, cnnc_tensor *y) {
    rob_calls_++;
    check_checks_run_++;
    if (!y) {
        if (!error_is_set_()) check_fail_(file, line, "%s returned NULL without an error message", expr);
        return;
    }
    if (!tensor_sane_(y)) check_fail_(file, line, "%s returned an insane tensor", expr);
    if (cnnc_tensor_requires_grad(y)) {
        cnnc_tensor *s = cnnc_sum(y);
        if (!s) check_fail_(file, line, "%s: sum failed: %s", expr, cnnc_last_error());
        else if (cnnc_backward(s, NULL, false) != CNNC_OK && !error_is_set_())
            check_fail_(file, line, "%s: backward failed without a message", expr);
        cnnc_tensor_release(s);
    }
    cnnc_tensor_release(y);
}
#define HUGE_GRAD(...) huge_empty_grad_(__FILE__, __LINE__, #__VA_ARGS__, (cnnc_clear_error(), (__VA_ARGS__)))

static void huge_empty_backward(void) {
    const int64_t B = (int64_t)1 << 40, M = (int64_t)1 << 21;
    cnnc_tensor *x[3] = {cnnc_zeros(CNNC_SHAPE(0, 3, (int64_t)1 << 62), CNNC_FLOAT32),
                         cnnc_zeros(CNNC_SHAPE(0, 3, B, B), CNNC_FLOAT32),
                         cnnc_zeros(CNNC_SHAPE(0, 3, M, M, M), CNNC_FLOAT32)};
    cnnc_tensor *w[3] = {cnnc_randn(CNNC_SHAPE(4, 3, 3)), cnnc_randn(CNNC_SHAPE(4, 3, 3, 3)),
                         cnnc_randn(CNNC_SHAPE(4, 3, 3, 3, 3))};
    cnnc_tensor *wt[3] = {cnnc_randn(CNNC_SHAPE(3, 2, 3)), cnnc_randn(CNNC_SHAPE(3, 2, 3, 3)),
                          cnnc_randn(CNNC_SHAPE(3, 2, 3, 3, 3))};
    cnnc_tensor *c3 = cnnc_ones(CNNC_SHAPE(3), CNNC_FLOAT32), *c3b = cnnc_zeros(CNNC_SHAPE(3), CNNC_FLOAT32);
    cnnc_tensor *lw = cnnc_randn(CNNC_SHAPE(5, 3));
    conv_fn cv[3] = {cnnc_conv1d, cnnc_conv2d, cnnc_conv3d};
    convt_fn ct[3] = {cnnc_conv_transpose1d, cnnc_conv_transpose2d, cnnc_conv_transpose3d};
    maxpool_fn mp[] = {cnnc_max_pool1d, cnnc_max_pool2d, cnnc_max_pool3d};
    avgpool_fn ap[] = {NULL, cnnc_avg_pool2d, cnnc_avg_pool3d};
    adaptive_fn aap[] = {cnnc_adaptive_avg_pool1d, cnnc_adaptive_avg_pool2d, cnnc_adaptive_avg_pool3d};
    adaptive_fn amp[] = {cnnc_adaptive_max_pool1d, cnnc_adaptive_max_pool2d, cnnc_adaptive_max_pool3d};
    const char *modes[3] = {"linear", "bilinear", "trilinear"};
    const int64_t p1[] = {1, 1, 1, 1, 1, 1};
    for (int d = 0; d < 3; d++) {
        REQUIRE(x[d] && w[d] && wt[d]);
        CHECK_OK(cnnc_tensor_set_requires_grad(x[d], true));
        cnnc_tensor *a = x[d];
        HUGE_GRAD(cv[d](a, w[d], NULL, CNNC_CONV2D(.stride = CNNC_INTS(2), .padding = CNNC_INTS(1))));
        HUGE_GRAD(ct[d](a, wt[d], NULL, CNNC_CONV_TRANSPOSE2D()));
        HUGE_GRAD(mp[d](a, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2))));
        if (ap[d]) HUGE_GRAD(ap[d](a, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1))));
        else HUGE_GRAD(cnnc_avg_pool1d(a, CNNC_AVG_POOL1D(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1))));
        HUGE_GRAD(aap[d](a, ints_n(1, 2)));
        HUGE_GRAD(amp[d](a, ints_n(1, 2)));
        HUGE_GRAD(cnnc_interpolate(a, CNNC_INTERPOLATE(.size = CNNC_INTS(3), .mode = modes[d])));
        HUGE_GRAD(cnnc_interpolate(a, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(0.5), .mode = "nearest")));
        HUGE_GRAD(cnnc_interpolate(a, CNNC_INTERPOLATE(.size = CNNC_INTS(2), .mode = "area")));
        for (int m = 0; m < 4; m++) HUGE_GRAD(cnnc_pad(a, 2 * (d + 1), p1, (cnnc_pad_mode)m, 0.0));
        HUGE_GRAD(cnnc_batch_norm(a, NULL, NULL, c3, c3b, CNNC_BATCH_NORM(.training = true)));
        HUGE_GRAD(cnnc_instance_norm(a, NULL, NULL, NULL, NULL, CNNC_INSTANCE_NORM()));
        HUGE_GRAD(cnnc_group_norm(a, 3, c3, c3b, CNNC_GROUP_NORM()));
        HUGE_GRAD(cnnc_local_response_norm(a, 3, CNNC_LOCAL_RESPONSE_NORM()));
        HUGE_GRAD(cnnc_softmax(a, CNNC_SOFTMAX(.dim = CNNC_INTS(1))));
        HUGE_GRAD(cnnc_relu(a));
        HUGE_GRAD(cnnc_mse_loss(a, a, CNNC_MSE_LOSS()));
        HUGE_GRAD(cnnc_mean(a));
        HUGE_GRAD(cnnc_flatten(a, 1, -1));
        HUGE_GRAD(cnnc_transpose(a, 1, -1));
    }
    cnnc_tensor *xt = cnnc_transpose(x[0], 1, 2); /* [0, 2^62, 3] */
    REQUIRE(xt);
    HUGE_GRAD(cnnc_linear(xt, lw, NULL));
    cnnc_tensor *mw = cnnc_randn(CNNC_SHAPE(3, 5));
    HUGE_GRAD(cnnc_matmul(xt, mw));
    cnnc_tensor_release(mw);
    cnnc_tensor_release(xt);
    cnnc_tensor *leaks[] = {c3, c3b, lw, x[0], x[1], x[2], w[0], w[1], w[2], wt[0], wt[1], wt[2]};
    for (size_t i = 0; i < sizeof leaks / sizeof *leaks; i++) cnnc_tensor_release(leaks[i]);
}

/* Issue 9 item 10: empty tensors whose other sizes multiply past INT64_MAX. No signed
 * overflow anywhere (UBSan), PyTorch's shapes and messages: PyTorch's size products wrap
 * (flatten of [0, 2^62, 4] from dim 1 is [0, 0]; three [0, 2^62] concatenated along dim
 * 1 sum to -2^62 and fail to allocate), and cnnc computes the same wrap in unsigned
 * arithmetic. */
static void expect_shape_(const char *file, int line, cnnc_tensor *t, int nd, const int64_t *want) {
    check_checks_run_++;
    if (!t) {
        check_fail_(file, line, "failed: %s", cnnc_last_error());
        return;
    }
    int ok = cnnc_tensor_ndim(t) == nd && cnnc_tensor_numel(t) == 0;
    for (int i = 0; ok && i < nd; i++) ok = cnnc_tensor_shape(t)[i] == want[i];
    if (!ok) check_fail_(file, line, "unexpected shape");
    cnnc_tensor_release(t);
}
#define EXPECT_SHAPE(t, ...) \
    expect_shape_(__FILE__, __LINE__, (t), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                  (const int64_t[]){__VA_ARGS__})

static void test_huge_empty(void) {
    fx_init();
    const int64_t H = (int64_t)1 << 62;
    cnnc_tensor *x = cnnc_zeros(CNNC_SHAPE(0, H, 4), CNNC_FLOAT32);
    REQUIRE(x);
    CHECK_OK(cnnc_tensor_set_requires_grad(x, true));
    EXPECT_SHAPE(cnnc_flatten(x, 1, -1), 0, 0);
    EXPECT_SHAPE(cnnc_flatten(x, 0, -1), 0);
    EXPECT_SHAPE(cnnc_flatten(x, 0, 1), 0, 4);
    EXPECT_SHAPE(cnnc_transpose(x, 0, 1), H, 0, 4);
    EXPECT_SHAPE(cnnc_permute(x, 3, (const int[]){2, 0, 1}), 4, 0, H);
    EXPECT_SHAPE(cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS(H, 4), NULL, NULL, CNNC_LAYER_NORM()), 0, H, 4);
    EXPECT_SHAPE(cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS(4), NULL, NULL, CNNC_LAYER_NORM()), 0, H, 4);
    EXPECT_SHAPE(cnnc_sum_dims(x, 1, (const int[]){1}, false), 0, 4);
    T_ERR(cnnc_sum_dims(x, 1, (const int[]){0}, false)); /* [H, 4]: PyTorch "Storage size calculation overflowed" */
    cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(0, H), CNNC_FLOAT32);
    REQUIRE(t);
    cnnc_tensor *three[3] = {t, t, t};
    T_ERR(cnnc_cat(3, three, 1));
    CHECK_STR_EQ(cnnc_last_error(), "Trying to create tensor with negative dimension "
                                    "-4611686018427387904: [0, -4611686018427387904]");
    EXPECT_SHAPE(cnnc_cat(3, three, 0), 0, H);
    cnnc_tensor *four[4] = {t, t, t, t};
    EXPECT_SHAPE(cnnc_cat(4, four, 1), 0, 0); /* 2^64 wraps to 0, as in PyTorch */
    /* backward through each: empty gradients of the input's shape */
    cnnc_tensor *y[] = {cnnc_flatten(x, 1, -1), cnnc_transpose(x, 0, 2),
                        cnnc_permute(x, 3, (const int[]){1, 2, 0}),
                        cnnc_layer_norm(x, (cnnc_ints)CNNC_INTS(H, 4), NULL, NULL, CNNC_LAYER_NORM()),
                        cnnc_softmax(x, CNNC_SOFTMAX(.dim = CNNC_INTS(1)))};
    for (size_t i = 0; i < sizeof y / sizeof *y; i++) {
        REQUIRE(y[i]);
        cnnc_tensor *sy = cnnc_sum(y[i]);
        REQUIRE(sy);
        CHECK_OK(cnnc_backward(sy, NULL, false));
        cnnc_tensor_release(sy);
        cnnc_tensor_release(y[i]);
    }
    EXPECT_SHAPE(cnnc_tensor_retain(cnnc_tensor_grad(x)), 0, H, 4);
    cnnc_tensor *hx[] = {fx.h3, fx.h4, fx.h5};
    for (int i = 0; i < 3; i++) {
        cnnc_tensor *a = hx[i];
        int nd = cnnc_tensor_ndim(a);
        for (int d0 = 0; d0 < nd; d0++) {
            T_ANY(cnnc_flatten(a, d0, -1));
            T_ANY(cnnc_transpose(a, d0, nd - 1));
            T_ANY(cnnc_sum_dims(a, 1, &d0, true));
            T_ANY(cnnc_mean_dims(a, 1, &d0, false));
            T_ANY(cnnc_softmax(a, CNNC_SOFTMAX(.dim = CNNC_INTS(d0))));
            T_ANY(cnnc_log_softmax(a, CNNC_SOFTMAX(.dim = CNNC_INTS(d0))));
            T_ANY(cnnc_cat(2, (cnnc_tensor *const[]){a, a}, d0));
            T_ANY(cnnc_narrow(a, d0, 0, 0));
        }
        T_ANY(cnnc_sum(a));
        T_ANY(cnnc_mean(a));
        T_ANY(cnnc_tensor_clone(a));
        T_ANY(cnnc_add(a, a));
        T_ANY(cnnc_relu(a));
        T_ANY(cnnc_gelu(a, CNNC_GELU()));
        T_ANY(cnnc_group_norm(a, 1, NULL, NULL, CNNC_GROUP_NORM()));
        T_ANY(cnnc_instance_norm(a, NULL, NULL, NULL, NULL, CNNC_INSTANCE_NORM()));
        T_ANY(cnnc_local_response_norm(a, 2, CNNC_LOCAL_RESPONSE_NORM()));
        T_ANY(cnnc_mse_loss(a, a, CNNC_MSE_LOSS()));
        T_ANY(cnnc_l1_loss(a, a, CNNC_L1_LOSS(.reduction = "none")));
        T_ANY(cnnc_dropout(a, CNNC_DROPOUT(.training = true)));
    }
    cnnc_tensor_release(t);
    cnnc_tensor_release(x);
    huge_empty_backward();
    fx_free();
}

int main(void) {
    static const cnnc_allocator capped = {rob_alloc, rob_free, NULL};
    cnnc_set_allocator(&capped);
    cnnc_set_num_threads(2);
    RUN_TEST(test_core_settings);
    RUN_TEST(test_creation);
    RUN_TEST(test_tensor_accessors);
    RUN_TEST(test_core_ops);
    RUN_TEST(test_lists);
    RUN_TEST(test_module_core_null);
    RUN_TEST(test_conv_functional);
    RUN_TEST(test_pool_functional);
    RUN_TEST(test_resample_functional);
    RUN_TEST(test_norm_functional);
    RUN_TEST(test_activation_functional);
    RUN_TEST(test_module_battery);
    RUN_TEST(test_huge_empty);
    RUN_TEST(test_fuzz);
    RUN_TEST(test_fuzz_backward);
    cnnc_thread_cleanup();
    printf("%ld calls checked\n", rob_calls_);
    return check_summary();
}
