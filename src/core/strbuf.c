#include "core/strbuf.h"

#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

void cnnc__strbuf_printf(cnnc__strbuf *s, const char *fmt, ...) {
    if (s->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = s->cap - s->len;
        int n = vsnprintf(s->buf ? s->buf + s->len : NULL, s->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            s->failed = true;
            return;
        }
        if ((size_t)n < room) {
            s->len += (size_t)n;
            return;
        }
        if (!cnnc__grow((void **)&s->buf, &s->cap, s->len + (size_t)n + 1, 1)) {
            s->failed = true;
            return;
        }
    }
}

char *cnnc__strbuf_finish(cnnc__strbuf *s, const char *what) {
    if (s->failed || !s->buf) {
        bool failed = s->failed;
        cnnc__free(s->buf);
        s->buf = NULL;
        if (failed) {
            cnnc__oom(what);
            return NULL;
        }
        char *empty = cnnc__malloc(1);
        if (!empty) return (cnnc__oom(what), NULL);
        empty[0] = '\0';
        return empty;
    }
    return s->buf;
}

/* Python's repr() of a float: the shortest text that reads back exactly, fixed
 * notation for exponents in [-4, 16), else "1e+16" style; always with a '.' or an
 * exponent ("2.0", not "2"). */
void cnnc__float_repr(double v, char *buf, size_t cap) {
    if (isnan(v)) { snprintf(buf, cap, "nan"); return; }
    if (isinf(v)) { snprintf(buf, cap, v < 0 ? "-inf" : "inf"); return; }
    if (v == 0.0) { snprintf(buf, cap, signbit(v) ? "-0.0" : "0.0"); return; }
    char e[64];
    for (int p = 0; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e is "-d.ddde+XX" */
    char digits[32];
    int nd = 0;
    const char *s = e;
    bool neg = *s == '-';
    if (neg) s++;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') digits[nd++] = *s;
    digits[nd] = 0;
    int exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = 0;
    char out[64];
    size_t n = 0;
    if (neg) out[n++] = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            out[n++] = '0';
            out[n++] = '.';
            for (int i = 0; i < -exp10 - 1; i++) out[n++] = '0';
            for (int i = 0; i < nd; i++) out[n++] = digits[i];
        } else {
            for (int i = 0; i <= exp10; i++) out[n++] = i < nd ? digits[i] : '0';
            out[n++] = '.';
            if (nd > exp10 + 1)
                for (int i = exp10 + 1; i < nd; i++) out[n++] = digits[i];
            else
                out[n++] = '0';
        }
        out[n] = 0;
    } else {
        out[n++] = digits[0];
        if (nd > 1) {
            out[n++] = '.';
            for (int i = 1; i < nd; i++) out[n++] = digits[i];
        }
        out[n] = 0;
        snprintf(out + n, sizeof out - n, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
    snprintf(buf, cap, "%s", out);
}
