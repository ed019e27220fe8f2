/* PyTorch-style tensor text: precision 4, integer / fixed / scientific modes
 * chosen from the values as torch's formatter does, summarised past 1000 items. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/strbuf.h"

enum { EDGE = 3, THRESHOLD = 1000 };

typedef struct {
    const cnnc_tensor *t;
    bool summarize;
    int mode; /* 0 int-valued floats, 1 fixed, 2 scientific, 3 int64 */
    int width;
} fmt;

static void format_value(const fmt *f, int64_t i, char *out, size_t cap) {
    if (f->mode == 3) {
        snprintf(out, cap, "%lld", (long long)cnnc__i64(f->t)[i]);
        return;
    }
    double v = cnnc__f32(f->t)[i];
    if (isnan(v)) snprintf(out, cap, "nan");
    else if (isinf(v)) snprintf(out, cap, v > 0 ? "inf" : "-inf");
    else if (f->mode == 0) snprintf(out, cap, "%.0f.", v);
    else if (f->mode == 1) snprintf(out, cap, "%.4f", v);
    else snprintf(out, cap, "%.4e", v);
}

static bool shown(const fmt *f, int64_t size, int64_t i) {
    return !f->summarize || size <= 2 * EDGE || i < EDGE || i >= size - EDGE;
}

/* Is element i printed? (torch formats from the summarised data only) */
static bool element_shown(const fmt *f, int64_t i) {
    if (!f->summarize) return true;
    const cnnc_tensor *t = f->t;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (!shown(f, t->shape[d], i % t->shape[d])) return false;
        i /= t->shape[d];
    }
    return true;
}

/* Integer, fixed or scientific, and the column width, as torch's _Formatter
 * decides them from the printed values. */
static void choose_mode(fmt *f) {
    const cnnc_tensor *t = f->t;
    if (t->dtype == CNNC_INT64) { f->mode = 3; }
    else {
        bool all_int = true;
        double amax = 0, amin = INFINITY;
        bool any = false;
        for (int64_t i = 0; i < t->numel; i++) {
            double v = cnnc__f32(t)[i];
            if (!isfinite(v) || !element_shown(f, i)) continue;
            if (v != floor(v)) all_int = false;
            double a = fabs(v);
            if (a == 0) continue;
            any = true;
            if (a > amax) amax = a;
            if (a < amin) amin = a;
        }
        if (all_int) f->mode = (any && amax > 1e8) ? 2 : 0;
        else f->mode = (any && (amax / amin > 1000.0 || amax > 1e8 || amin < 1e-4)) ? 2 : 1;
    }
    /* torch sizes the columns from the finite nonzero values only */
    f->width = 1;
    char tmp[64];
    for (int64_t i = 0; i < t->numel; i++) {
        if (!element_shown(f, i)) continue;
        if (f->mode != 3) {
            float v = cnnc__f32(t)[i];
            if (!isfinite(v) || v == 0.0f) continue;
        }
        format_value(f, i, tmp, sizeof tmp);
        int w = (int)strlen(tmp);
        if (w > f->width) f->width = w;
    }
}

enum { LINEWIDTH = 80 }; /* torch's default print option */

/* Elements (or rows) joined as torch joins them; a summarised run is one "..."
 * item (" ..." among numbers). A row of numbers wraps to lines of
 * floor((80 - indent) / (width + 2)) items, as torch's _vector_str does. */
static void print_dim(cnnc__strbuf *s, const fmt *f, int dim, int64_t offset, int indent) {
    const cnnc_tensor *t = f->t;
    int64_t size = t->shape[dim], stride = 1;
    for (int d = dim + 1; d < t->ndim; d++) stride *= t->shape[d];
    bool last = dim == t->ndim - 1;
    int64_t per_line = (LINEWIDTH - indent) / (f->width + 2);
    if (per_line < 1) per_line = 1;
    int64_t item = 0; /* items printed on this row, "..." included */
    cnnc__strbuf_printf(s, "[");
    for (int64_t i = 0; i < size; i++) {
        bool skip = !shown(f, size, i);
        if (skip && i != EDGE) continue;
        if (item > 0) {
            if (last && item % per_line != 0) cnnc__strbuf_printf(s, ", ");
            else if (last) cnnc__strbuf_printf(s, ",\n%*s", indent + 1, "");
            else {
                cnnc__strbuf_printf(s, ",");
                for (int k = 0; k < t->ndim - 1 - dim; k++) cnnc__strbuf_printf(s, "\n");
                cnnc__strbuf_printf(s, "%*s", indent + 1, "");
            }
        }
        item++;
        if (skip) {
            cnnc__strbuf_printf(s, last ? " ..." : "...");
        } else if (last) {
            char tmp[64];
            format_value(f, offset + i, tmp, sizeof tmp);
            cnnc__strbuf_printf(s, "%*s", f->width, tmp);
        } else {
            print_dim(s, f, dim + 1, offset + i * stride, indent + 1);
        }
    }
    cnnc__strbuf_printf(s, "]");
}

char *cnnc_tensor_to_string(const cnnc_tensor *t) {
    CNNC__NONNULL_OR_NULL("tensor_to_string", t);
    cnnc__strbuf s = {0};
    fmt f = {t, t->numel > THRESHOLD, 0, 1};
    cnnc__strbuf_printf(&s, "tensor(");
    if (t->numel == 0) {
        cnnc__strbuf_printf(&s, "[]");
        if (t->ndim != 1) {
            cnnc__strbuf_printf(&s, ", size=(");
            for (int d = 0; d < t->ndim; d++) cnnc__strbuf_printf(&s, d ? ", %lld" : "%lld", (long long)t->shape[d]);
            cnnc__strbuf_printf(&s, t->ndim == 1 ? ",)" : ")");
        }
        if (t->dtype == CNNC_INT64) cnnc__strbuf_printf(&s, ", dtype=torch.int64");
    } else {
        choose_mode(&f);
        if (t->ndim == 0) {
            char tmp[64];
            format_value(&f, 0, tmp, sizeof tmp);
            cnnc__strbuf_printf(&s, "%s", tmp);
        } else {
            print_dim(&s, &f, 0, 0, 7 /* strlen("tensor(") */);
        }
    }
    if (t->grad_fn) cnnc__strbuf_printf(&s, ", grad_fn=<%s>", t->grad_fn->name);
    else if (t->requires_grad) cnnc__strbuf_printf(&s, ", requires_grad=True");
    cnnc__strbuf_printf(&s, ")");
    return cnnc__strbuf_finish(&s, "a tensor's text");
}

char *cnnc_tensor_shape_string(const cnnc_tensor *t) {
    CNNC__NONNULL_OR_NULL("tensor_shape_string", t);
    char buf[CNNC_MAX_DIMS * 24 + 4];
    cnnc__shape_str(buf, sizeof buf, t->ndim, t->shape);
    char *r = cnnc__strdup(buf);
    if (!r) cnnc__oom("a shape string");
    return r;
}

cnnc_status cnnc_tensor_print(const cnnc_tensor *t, FILE *out) {
    CNNC__NONNULL_OR_STATUS("tensor_print", out);
    char *s = cnnc_tensor_to_string(t);
    if (!s) return cnnc_last_status();
    fprintf(out, "%s\n", s);
    cnnc__free(s);
    return CNNC_OK;
}
