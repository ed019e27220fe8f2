/* The training progress bar: on a terminal one line redrawn in place,
 *   epoch 2/5 [##########----------]  80/157  loss 0.4312  acc 86.1%  2310 img/s  ETA 0:03
 * and, when stdout is not a terminal (a log file, a pipe), plain lines at every
 * tenth of the epoch instead, so logs stay readable. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "train.h"

double train_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void train_progress_begin(train_progress *p, FILE *out, int64_t epoch, int64_t epochs,
                          int64_t total)
{
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total;
    p->start = train_now();
    p->last_line = 0;
    p->last_update = p->start;
}

static void format_eta(char *buf, size_t cap, double seconds)
{
    long s = seconds < 0 ? 0 : (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
}

void train_progress_update(train_progress *p, int64_t done, double loss, double acc,
                           int64_t images)
{
    if (!p->out)
        return;
    p->last_update = train_now();
    double elapsed = p->last_update - p->start;
    double rate = elapsed > 0 ? (double)images / elapsed : 0;
    double eta = done > 0 ? elapsed * (double)(p->total - done) / (double)done : 0;
    char eta_s[32];
    format_eta(eta_s, sizeof eta_s, eta);
    if (p->tty) {
        enum { WIDTH = 20 };
        char bar[WIDTH + 1];
        int filled = p->total > 0 ? (int)(WIDTH * done / p->total) : WIDTH;
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '-';
        bar[WIDTH] = 0;
        fprintf(p->out, "\r  epoch %lld/%lld [%s] %4lld/%lld  loss %.4f  acc %5.1f%%  "
                        "%5.0f img/s  ETA %s \033[K",
                (long long)p->epoch, (long long)p->epochs, bar, (long long)done,
                (long long)p->total, loss, 100 * acc, rate, eta_s);
        fflush(p->out);
        return;
    }
    int64_t tenth = p->total / 10 > 0 ? p->total / 10 : 1;
    if (done == p->total || done - p->last_line >= tenth) {
        p->last_line = done;
        fprintf(p->out, "  epoch %lld/%lld batch %lld/%lld  loss %.4f  acc %.1f%%  %.0f img/s  "
                        "ETA %s\n",
                (long long)p->epoch, (long long)p->epochs, (long long)done,
                (long long)p->total, loss, 100 * acc, rate, eta_s);
        fflush(p->out);
    }
}

void train_progress_end(train_progress *p, double loss, double acc, int64_t images,
                        bool has_test, double test_loss, double test_acc)
{
    if (!p->out)
        return;
    double elapsed = p->last_update - p->start; /* training only, not the evaluation */
    if (p->tty)
        fprintf(p->out, "\r\033[K");
    fprintf(p->out, "  epoch %lld/%lld  loss %.4f  acc %.2f%%", (long long)p->epoch,
            (long long)p->epochs, loss, 100 * acc);
    if (has_test)
        fprintf(p->out, "  test loss %.4f  test acc %.2f%%", test_loss, 100 * test_acc);
    fprintf(p->out, "  %.0f img/s  %.1f s\n", elapsed > 0 ? (double)images / elapsed : 0,
            train_now() - p->start);
    fflush(p->out);
}
