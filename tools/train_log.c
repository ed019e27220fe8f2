/* The training log: one CSV row per epoch (appended, so a resumed run continues the
 * same file), and an SVG plot drawn from it by hand: two panels side by side, loss
 * (train and test) and accuracy (train and test) against the epoch. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static const char CSV_HEADER[] =
    "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,images_per_s,seconds\n";

bool train_log_append(const char *path, const train_epoch_row *r, char *err, size_t cap)
{
    FILE *f = fopen(path, "a");
    if (!f) {
        snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = true;
    if (ftell(f) == 0)
        ok = fputs(CSV_HEADER, f) >= 0;
    ok = ok && fprintf(f, "%lld,%lld,%.9g,%.6f,%.6f,%.6f,%.6f,%.1f,%.3f\n", (long long)r->epoch,
                       (long long)r->step, r->lr, r->train_loss, r->train_acc, r->test_loss,
                       r->test_acc, r->images_per_s, r->seconds) > 0;
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        snprintf(err, cap, "cannot write %s: %s", path, strerror(errno));
    return ok;
}

enum { MAX_ROWS = 100000 };

typedef struct rows {
    size_t n;
    train_epoch_row *r;
} rows;

/* Every data row of the CSV (the header and malformed lines are skipped). */
static bool read_rows(const char *path, rows *out, char *err, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
        return false;
    }
    size_t cap_rows = 64;
    out->n = 0;
    out->r = malloc(cap_rows * sizeof *out->r);
    char line[512];
    while (out->r && fgets(line, sizeof line, f) && out->n < MAX_ROWS) {
        train_epoch_row r;
        long long epoch, step;
        if (sscanf(line, "%lld,%lld,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &epoch, &step, &r.lr,
                   &r.train_loss, &r.train_acc, &r.test_loss, &r.test_acc, &r.images_per_s,
                   &r.seconds) != 9)
            continue;
        r.epoch = epoch;
        r.step = step;
        if (out->n == cap_rows) {
            train_epoch_row *grown = realloc(out->r, 2 * cap_rows * sizeof *grown);
            if (!grown) {
                free(out->r);
                out->r = NULL;
                break;
            }
            out->r = grown;
            cap_rows *= 2;
        }
        out->r[out->n++] = r;
    }
    fclose(f);
    if (!out->r) {
        snprintf(err, cap, "out of memory reading %s", path);
        return false;
    }
    return true;
}

/* One panel: axes, ticks, and a polyline per series, at (x0, y0) of size w x h. */
typedef struct panel {
    double x0, y0, w, h;
    double xmin, xmax, ymin, ymax;
} panel;

static double px(const panel *p, double x)
{
    return p->x0 + (p->xmax > p->xmin ? (x - p->xmin) / (p->xmax - p->xmin) : 0.5) * p->w;
}

static double py(const panel *p, double y)
{
    return p->y0 + p->h - (p->ymax > p->ymin ? (y - p->ymin) / (p->ymax - p->ymin) : 0.5) * p->h;
}

static void draw_axes(FILE *f, const panel *p, const char *title)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#444\"/>\n", p->x0, p->y0, p->w, p->h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n",
            p->x0 + p->w / 2, p->y0 - 10, title);
    for (int i = 0; i <= 4; i++) {
        double v = p->ymin + (p->ymax - p->ymin) * i / 4;
        double y = py(p, v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                p->x0, y, p->x0 + p->w, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.3g</text>\n",
                p->x0 - 4, y + 4, v);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">epoch</text>\n",
            p->x0 + p->w / 2, p->y0 + p->h + 30);
    for (int i = 0; i <= 4; i++) {
        double v = p->xmin + (p->xmax - p->xmin) * i / 4;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%.3g</text>\n",
                px(p, v), p->y0 + p->h + 15, v);
    }
}

/* A series: the field at `offset` of each row (a double of train_epoch_row). */
static void draw_series(FILE *f, const panel *p, const rows *r, size_t offset, const char *color,
                        const char *label, int legend_row)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (size_t i = 0; i < r->n; i++) {
        double v = *(const double *)((const char *)&r->r[i] + offset);
        if (!isfinite(v)) /* no test set: nothing to draw */
            continue;
        fprintf(f, "%.1f,%.1f ", px(p, (double)r->r[i].epoch), py(p, v));
    }
    fprintf(f, "\"/>\n");
    double lx = p->x0 + p->w - 110, ly = p->y0 + 16 + 16 * legend_row;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"2\"/>\n", lx, ly - 4, lx + 20, ly - 4, color);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s</text>\n", lx + 26, ly, label);
}

static void range_of(const rows *r, size_t a, size_t b, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < r->n; i++)
        for (size_t off = a;; off = b) {
            double v = *(const double *)((const char *)&r->r[i] + off);
            if (isfinite(v)) {
                *lo = v < *lo ? v : *lo;
                *hi = v > *hi ? v : *hi;
            }
            if (off == b)
                break;
        }
    if (!(*lo <= *hi))
        *lo = 0, *hi = 1;
}

bool train_plot_write(const char *csv_path, const char *svg_path, char *err, size_t cap)
{
    rows r;
    if (!read_rows(csv_path, &r, err, cap))
        return false;
    FILE *f = fopen(svg_path, "w");
    if (!f) {
        snprintf(err, cap, "cannot open %s: %s", svg_path, strerror(errno));
        free(r.r);
        return false;
    }
    double xmin = r.n ? (double)r.r[0].epoch : 0, xmax = r.n ? (double)r.r[r.n - 1].epoch : 1;
    if (xmax <= xmin)
        xmin -= 0.5, xmax += 0.5;
    panel loss = {70, 40, 380, 260, xmin, xmax, 0, 1};
    panel acc = {540, 40, 380, 260, xmin, xmax, 0, 1};
    range_of(&r, offsetof(train_epoch_row, train_loss), offsetof(train_epoch_row, test_loss),
             &loss.ymin, &loss.ymax);
    loss.ymin = 0;
    range_of(&r, offsetof(train_epoch_row, train_acc), offsetof(train_epoch_row, test_acc),
             &acc.ymin, &acc.ymax);
    acc.ymax = 1;
    acc.ymin = acc.ymin < 1 ? floor(acc.ymin * 10) / 10 : 0.9;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"350\" "
               "font-family=\"sans-serif\">\n<rect width=\"960\" height=\"350\" fill=\"white\"/>\n");
    draw_axes(f, &loss, "loss");
    draw_series(f, &loss, &r, offsetof(train_epoch_row, train_loss), "#1f77b4", "train", 0);
    draw_series(f, &loss, &r, offsetof(train_epoch_row, test_loss), "#d62728", "test", 1);
    draw_axes(f, &acc, "accuracy");
    draw_series(f, &acc, &r, offsetof(train_epoch_row, train_acc), "#1f77b4", "train", 0);
    draw_series(f, &acc, &r, offsetof(train_epoch_row, test_acc), "#d62728", "test", 1);
    fprintf(f, "</svg>\n");
    bool ok = !ferror(f);
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        snprintf(err, cap, "cannot write %s: %s", svg_path, strerror(errno));
    free(r.r);
    return ok;
}
