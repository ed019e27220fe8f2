/* Internal: a growable string for printed output (tensor text, module reprs,
 * error reports). Allocation failure is sticky: check `failed` once at the end. */
#ifndef CNNC_CORE_STRBUF_H
#define CNNC_CORE_STRBUF_H
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct cnnc__strbuf {
    char *buf; /* NUL-terminated once anything was written; owned */
    size_t len, cap;
    bool failed;
} cnnc__strbuf;

void cnnc__strbuf_printf(cnnc__strbuf *s, const char *fmt, ...) CNNC__PRINTF(2, 3);
/* The string (caller frees with cnnc__free), or NULL with an out-of-memory error
 * naming `what` if anything failed (the buffer is freed then). */
char *cnnc__strbuf_finish(cnnc__strbuf *s, const char *what);
/* Python's repr() of a float ("2.0", "0.1", "1e-05", "inf") into buf. */
void cnnc__float_repr(double v, char *buf, size_t cap);
#endif
