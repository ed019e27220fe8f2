/* Internal: setting the thread-local error. */
#ifndef CNNC_CORE_ERROR_H
#define CNNC_CORE_ERROR_H
#include "cnnc.h"

#if defined(__GNUC__)
#define CNNC__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CNNC__PRINTF(a, b)
#endif

/* Sets the thread's error (status + printf-style message) and returns status. */
cnnc_status cnnc__error(cnnc_status status, const char *fmt, ...) CNNC__PRINTF(2, 3);
/* The same, returning NULL, for functions that return pointers. */
void *cnnc__error_null(cnnc_status status, const char *fmt, ...) CNNC__PRINTF(2, 3);
/* Puts the printf-style text in front of the current message, keeping the status
 * (context for an error a callee set: "file.safetensors: "); returns the status. */
cnnc_status cnnc__error_prefix(const char *fmt, ...) CNNC__PRINTF(1, 2);
/* Out of memory, naming what was being allocated. */
cnnc_status cnnc__oom(const char *what);

/* Checks a required pointer argument: `CNNC__CHECK_ARG(fn, x)` returns NULL with
 * "fn: argument 'x' is NULL". */
#define CNNC__NONNULL_OR_NULL(fn, arg)                                                   \
    do {                                                                                  \
        if (!(arg)) return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,                   \
                                            "%s(): argument '%s' is NULL", fn, #arg);     \
    } while (0)
#define CNNC__NONNULL_OR_STATUS(fn, arg)                                                 \
    do {                                                                                  \
        if (!(arg)) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,                        \
                                       "%s(): argument '%s' is NULL", fn, #arg);          \
    } while (0)
#endif
