#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>

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
