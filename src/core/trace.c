/* CNNC_TRACE: per-call lines and an exit summary (core/trace.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/trace.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/spinlock.h"

static atomic_int state; /* 0: not read yet, 1: off, 2: on */

enum { SUMMARY_ROWS = 64 };

static struct {
    cnnc__spinlock lock;
    int n;
    struct {
        const char *op;
        char kernel[64];
        long calls;
        double seconds;
    } row[SUMMARY_ROWS];
} summary;

static void print_summary(void) {
    cnnc__spin_lock(&summary.lock);
    double total = 0.0;
    for (int i = 0; i < summary.n; i++) total += summary.row[i].seconds;
    if (summary.n > 0) {
        fprintf(stderr, "cnnc trace summary (%.3f ms traced):\n", total * 1e3);
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
        fprintf(stderr, "  %-26s %-44s %7ld %11.3f %10.3f %5.1f%%\n", summary.row[best].op,
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

double cnnc__trace_begin(void) {
    if (!cnnc__trace_on()) return 0.0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double t = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return t > 0.0 ? t : 1e-9;
}

void cnnc__trace_end(double t0, const char *op, const char *kernel, const char *shapes) {
    if (t0 <= 0.0) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double dt = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec - t0;
    fprintf(stderr, "cnnc trace: %-24s %-44s %s %.3f ms\n", op, kernel, shapes, dt * 1e3);
    cnnc__spin_lock(&summary.lock);
    int i = 0;
    while (i < summary.n && (summary.row[i].op != op ||
                             strncmp(summary.row[i].kernel, kernel, sizeof summary.row[i].kernel - 1) != 0))
        i++;
    if (i == summary.n && summary.n < SUMMARY_ROWS) {
        summary.row[i].op = op;
        snprintf(summary.row[i].kernel, sizeof summary.row[i].kernel, "%s", kernel);
        summary.row[i].calls = 0;
        summary.row[i].seconds = 0.0;
        summary.n++;
    }
    if (i < summary.n) {
        summary.row[i].calls++;
        summary.row[i].seconds += dt;
    }
    cnnc__spin_unlock(&summary.lock);
}
