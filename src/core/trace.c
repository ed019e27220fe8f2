/* CNNC_TRACE: per-call lines and an exit summary (core/trace.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/trace.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/spinlock.h"
#include "core/tensor.h"

static atomic_int state; /* 0: not read yet, 1: off, 2: on */

/* Spans open on this thread: a span's line is indented by the ones around it, and only
 * outermost spans count in the summary's total (an inner span's time is in its outer one's). */
static _Thread_local int depth;

enum { SUMMARY_ROWS = 128, INDENT_MAX = 16 };

static struct {
    cnnc__spinlock lock;
    int n;
    double outer; /* seconds of the outermost spans */
    struct {
        const char *op;
        char kernel[64];
        long calls;
        double seconds;
        bool inner; /* some call was inside another span */
    } row[SUMMARY_ROWS];
} summary;

static void print_summary(void) {
    cnnc__spin_lock(&summary.lock);
    const double total = summary.outer;
    if (summary.n > 0) {
        fprintf(stderr, "cnnc trace summary (%.3f ms traced; share: of that time, rows marked * "
                        "ran inside other rows' calls):\n", total * 1e3);
        fprintf(stderr, "  %-26s %-44s %7s %11s %10s %6s\n", "op", "kernel", "calls", "total ms",
                "mean ms", "share");
    }
    /* largest total first */
    bool done[SUMMARY_ROWS] = {false};
    for (int k = 0; k < summary.n; k++) {
        int best = -1;
        for (int i = 0; i < summary.n; i++)
            if (!done[i] && (best < 0 || summary.row[i].seconds > summary.row[best].seconds))
                best = i;
        done[best] = true;
        const double s = summary.row[best].seconds;
        fprintf(stderr, "%c %-26s %-44s %7ld %11.3f %10.3f %5.1f%%\n",
                summary.row[best].inner ? '*' : ' ', summary.row[best].op,
                summary.row[best].kernel, summary.row[best].calls, s * 1e3,
                s * 1e3 / (double)summary.row[best].calls, total > 0 ? 100.0 * s / total : 0.0);
    }
    cnnc__spin_unlock(&summary.lock);
}

bool cnnc__trace_on(void) {
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (s == 0) {
        const char *v = getenv("CNNC_TRACE");
        const int want = v && v[0] && strcmp(v, "0") != 0 ? 2 : 1;
        int expected = 0;
        if (atomic_compare_exchange_strong(&state, &expected, want) && want == 2)
            atexit(print_summary);
        s = atomic_load(&state);
    }
    return s == 2;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cnnc__trace_begin(void) {
    if (!cnnc__trace_on()) return 0.0;
    depth++;
    const double t = now_s();
    return t > 0.0 ? t : 1e-9;
}

/* The summary row of (op, kernel), added if there is room; -1 when there is none. */
static int row_of(const char *op, const char *kernel) {
    int i = 0;
    while (i < summary.n && (strcmp(summary.row[i].op, op) != 0 ||
                             strncmp(summary.row[i].kernel, kernel, sizeof summary.row[i].kernel - 1) != 0))
        i++;
    if (i < summary.n) return i;
    if (summary.n == SUMMARY_ROWS) return -1;
    summary.row[i].op = op;
    snprintf(summary.row[i].kernel, sizeof summary.row[i].kernel, "%s", kernel);
    summary.row[i].calls = 0;
    summary.row[i].seconds = 0.0;
    summary.row[i].inner = false;
    return summary.n++;
}

void cnnc__trace_end(double t0, const char *op, const char *kernel, const char *shapes) {
    if (t0 <= 0.0) return;
    const double dt = now_s() - t0;
    const int inner = --depth > 0 ? depth : 0;
    fprintf(stderr, "cnnc trace: %*s%-24s %-44s %s %.3f ms\n",
            2 * (inner < INDENT_MAX ? inner : INDENT_MAX), "", op, kernel, shapes, dt * 1e3);
    cnnc__spin_lock(&summary.lock);
    if (!inner) summary.outer += dt;
    const int i = row_of(op, kernel);
    if (i >= 0) {
        summary.row[i].calls++;
        summary.row[i].seconds += dt;
        summary.row[i].inner |= inner > 0;
    }
    cnnc__spin_unlock(&summary.lock);
}

void cnnc__trace_shapes(char *buf, size_t cap, int n_in, cnnc_tensor *const *in, int n_out,
                        cnnc_tensor *const *out) {
    size_t len = 0;
    buf[0] = '\0';
    for (int side = 0; side < 2; side++) {
        const int n = side ? n_out : n_in;
        cnnc_tensor *const *t = side ? out : in;
        for (int i = 0; i < n && len + 1 < cap; i++) {
            char s[160];
            if (t[i]) cnnc__shape_str(s, sizeof s, t[i]->ndim, t[i]->shape);
            else snprintf(s, sizeof s, "None");
            const int w = snprintf(buf + len, cap - len, "%s%s", i ? ", " : side ? " -> " : "", s);
            len = w < 0 ? cap : len + (size_t)w;
        }
    }
}
