/* A tiny test framework for cnnc's C tests.
 *
 *     static void test_something(void) {
 *         cnnc_tensor *t = cnnc_zeros(CNNC_SHAPE(2, 3), CNNC_FLOAT32);
 *         REQUIRE(t);                      // stop this test if NULL
 *         CHECK_EQ_INT(cnnc_tensor_numel(t), 6);
 *         cnnc_tensor_release(t);
 *     }
 *     int main(void) {
 *         RUN_TEST(test_something);
 *         return check_summary();          // prints "N passed, M failed"
 *     }
 *
 * A failed check prints file:line, the failed expression or the values compared,
 * and cnnc_last_error(). Tests are counted as functions: a test passes when none
 * of its checks failed. The summary line is the last line printed and the program
 * exits nonzero if any test failed.
 */
#ifndef CNNC_TEST_CHECK_H
#define CNNC_TEST_CHECK_H

#include <cnnc.h>

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_tests_passed_;
static int check_tests_failed_;
static long check_checks_run_;
static long check_checks_failed_;
static int check_current_failures_;
static const char *check_current_test_ = "(none)";

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void check_fail_(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    check_checks_failed_++;
    check_current_failures_++;
    fprintf(stderr, "%s:%d: %s: ", file, line, check_current_test_);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    const char *err = cnnc_last_error();
    fprintf(stderr, "\n    last error: %s \"%s\"\n", cnnc_status_name(cnnc_last_status()),
            err ? err : "(null)");
    fflush(stderr);
}

/* Case-insensitive substring search (NULL-safe). */
static inline int check_contains_(const char *haystack, const char *needle) {
    if (!haystack || !needle) return 0;
    size_t n = strlen(needle);
    for (const char *p = haystack; *p; p++) {
        size_t i = 0;
        while (i < n && p[i] &&
               tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return n == 0;
}

#define CHECK(cond)                                                             \
    do {                                                                        \
        check_checks_run_++;                                                    \
        if (!(cond)) check_fail_(__FILE__, __LINE__, "CHECK(%s) failed", #cond); \
    } while (0)

/* Stops the current test function (void) when cond is false. */
#define REQUIRE(cond)                                                             \
    do {                                                                          \
        check_checks_run_++;                                                      \
        if (!(cond)) {                                                            \
            check_fail_(__FILE__, __LINE__, "REQUIRE(%s) failed; test stopped", #cond); \
            return;                                                               \
        }                                                                         \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                              \
    do {                                                                                \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                 \
        check_checks_run_++;                                                            \
        if (check_a_ != check_b_)                                                       \
            check_fail_(__FILE__, __LINE__, "CHECK_EQ_INT(%s, %s) failed: %lld != %lld", \
                        #a, #b, check_a_, check_b_);                                    \
    } while (0)

/* |a - b| <= tol, and neither is NaN. */
#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double check_a_ = (double)(a), check_b_ = (double)(b), check_t_ = (double)(tol);  \
        check_checks_run_++;                                                              \
        if (!(fabs(check_a_ - check_b_) <= check_t_))                                     \
            check_fail_(__FILE__, __LINE__,                                               \
                        "CHECK_NEAR(%s, %s, %s) failed: %.9g vs %.9g (diff %.3g)", #a, #b, \
                        #tol, check_a_, check_b_, fabs(check_a_ - check_b_));             \
    } while (0)

#define CHECK_STATUS(expr, want)                                                        \
    do {                                                                                \
        cnnc_status check_s_ = (expr), check_w_ = (want);                               \
        check_checks_run_++;                                                            \
        if (check_s_ != check_w_)                                                       \
            check_fail_(__FILE__, __LINE__, "%s returned %s, expected %s", #expr,        \
                        cnnc_status_name(check_s_), cnnc_status_name(check_w_));         \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, CNNC_OK)

/* expr returned an error (any status but CNNC_OK) with a non-empty message. */
#define CHECK_ERR(expr)                                                                 \
    do {                                                                                \
        cnnc_clear_error();                                                             \
        cnnc_status check_s_ = (expr);                                                  \
        check_checks_run_++;                                                            \
        if (check_s_ == CNNC_OK)                                                        \
            check_fail_(__FILE__, __LINE__, "%s returned CNNC_OK, expected an error", #expr); \
        else if (!cnnc_last_error() || !cnnc_last_error()[0])                           \
            check_fail_(__FILE__, __LINE__, "%s failed without a message", #expr);       \
    } while (0)

/* expr (a pointer) is NULL and an error with a message is set. */
#define CHECK_NULL_ERR(expr)                                                              \
    do {                                                                                  \
        cnnc_clear_error();                                                               \
        const void *check_p_ = (const void *)(expr);                                      \
        check_checks_run_++;                                                              \
        if (check_p_)                                                                     \
            check_fail_(__FILE__, __LINE__, "%s returned non-NULL, expected an error", #expr); \
        else if (cnnc_last_status() == CNNC_OK || !cnnc_last_error()[0])                  \
            check_fail_(__FILE__, __LINE__, "%s returned NULL without an error set", #expr); \
    } while (0)

/* expr (a cnnc_tensor *) fails: NULL with an error set. A tensor returned by
 * mistake is released, so a failure does not also leak. */
#define CHECK_TENSOR_ERR(expr)                                                            \
    do {                                                                                  \
        cnnc_clear_error();                                                               \
        cnnc_tensor *check_t_ = (expr);                                                   \
        check_checks_run_++;                                                              \
        if (check_t_) {                                                                   \
            check_fail_(__FILE__, __LINE__, "%s returned a tensor, expected an error", #expr); \
            cnnc_tensor_release(check_t_);                                                \
        } else if (cnnc_last_status() == CNNC_OK || !cnnc_last_error()[0]) {              \
            check_fail_(__FILE__, __LINE__, "%s returned NULL without an error set", #expr); \
        }                                                                                 \
    } while (0)

/* A call made only for its error: afterwards an error must be set (any status). */
#define CHECK_SETS_ERROR(expr)                                                            \
    do {                                                                                  \
        cnnc_clear_error();                                                               \
        (void)(expr);                                                                     \
        check_checks_run_++;                                                              \
        if (cnnc_last_status() == CNNC_OK || !cnnc_last_error()[0])                       \
            check_fail_(__FILE__, __LINE__, "%s set no error", #expr);                    \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                \
    do {                                                                                  \
        const char *check_a_ = (a), *check_b_ = (b);                                      \
        check_checks_run_++;                                                              \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0)                    \
            check_fail_(__FILE__, __LINE__, "CHECK_STR_EQ(%s, %s) failed:\n  got:  \"%s\"\n  want: \"%s\"", \
                        #a, #b, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
    } while (0)

/* haystack contains needle, ignoring case. */
#define CHECK_CONTAINS(haystack, needle)                                                  \
    do {                                                                                  \
        const char *check_h_ = (haystack), *check_n_ = (needle);                          \
        check_checks_run_++;                                                              \
        if (!check_contains_(check_h_, check_n_))                                         \
            check_fail_(__FILE__, __LINE__, "CHECK_CONTAINS(%s, \"%s\") failed in \"%s\"", \
                        #haystack, check_n_, check_h_ ? check_h_ : "(null)");             \
    } while (0)

/* The last error's message contains needle (ignoring case). */
#define CHECK_ERROR_CONTAINS(needle) CHECK_CONTAINS(cnnc_last_error(), needle)

/* n floats within tol of the expected values; reports the first mismatch. */
#define CHECK_FLOATS_NEAR(got, want, n, tol)                                              \
    do {                                                                                  \
        const float *check_g_ = (got);                                                    \
        const float *check_w_ = (want);                                                   \
        long check_n_ = (long)(n);                                                        \
        double check_t_ = (double)(tol);                                                  \
        check_checks_run_++;                                                              \
        if (!check_g_) {                                                                  \
            check_fail_(__FILE__, __LINE__, "CHECK_FLOATS_NEAR(%s, ...): NULL data", #got); \
            break;                                                                        \
        }                                                                                 \
        for (long check_i_ = 0; check_i_ < check_n_; check_i_++) {                        \
            if (!(fabs((double)check_g_[check_i_] - (double)check_w_[check_i_]) <= check_t_)) { \
                check_fail_(__FILE__, __LINE__,                                           \
                            "CHECK_FLOATS_NEAR(%s, %s) failed at [%ld]: %.9g vs %.9g", #got, \
                            #want, check_i_, (double)check_g_[check_i_],                  \
                            (double)check_w_[check_i_]);                                  \
                break;                                                                    \
            }                                                                             \
        }                                                                                 \
    } while (0)

static void check_run_(const char *name, void (*fn)(void)) {
    check_current_test_ = name;
    check_current_failures_ = 0;
    cnnc_clear_error();
    fn();
    if (check_current_failures_ == 0) {
        check_tests_passed_++;
        printf("ok   %s\n", name);
    } else {
        check_tests_failed_++;
        printf("FAIL %s (%d failed checks)\n", name, check_current_failures_);
    }
    fflush(stdout);
    check_current_test_ = "(none)";
}

#define RUN_TEST(fn) check_run_(#fn, fn)

/* Prints the check count and then "N passed, M failed" as the last line; returns
 * the process exit code. */
static int check_summary(void) {
    printf("%ld checks, %ld failed\n", check_checks_run_, check_checks_failed_);
    printf("%d passed, %d failed\n", check_tests_passed_, check_tests_failed_);
    fflush(stdout);
    return check_tests_failed_ ? 1 : 0;
}

/* A seeded generator for random test cases (splitmix64): the next value of *state. */
static inline uint64_t check_rng_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}
/* Uniform in [lo, hi]. */
static inline int64_t check_rng_int(uint64_t *state, int64_t lo, int64_t hi) {
    return lo + (int64_t)(check_rng_u64(state) % (uint64_t)(hi - lo + 1));
}
/* n floats uniform in [-1, 1) (malloc'ed, at least one). */
static inline float *check_rng_floats(uint64_t *state, int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; p && i < n; i++)
        p[i] = (float)((double)(check_rng_u64(state) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    return p;
}

/* max |a - b| / (1 + max |b|): float sums of many terms err relative to the scale of
 * the whole result, not of each (possibly cancelling) element; NaN fails. */
static inline double max_rel(const float *a, const float *b, int64_t n) {
    double m = 0.0, scale = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m / (1.0 + scale);
}

#endif /* CNNC_TEST_CHECK_H */
