/* The thread-local error: a status and a message naming the argument and values. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { ERROR_MESSAGE_CAP = 2048 };

static _Thread_local cnnc_status last_status = CNNC_OK;
static _Thread_local char last_message[ERROR_MESSAGE_CAP];

static const char *const status_names[] = {
    [CNNC_OK] = "CNNC_OK",
    [CNNC_ERR_INVALID_ARGUMENT] = "CNNC_ERR_INVALID_ARGUMENT",
    [CNNC_ERR_OUT_OF_MEMORY] = "CNNC_ERR_OUT_OF_MEMORY",
    [CNNC_ERR_RUNTIME] = "CNNC_ERR_RUNTIME",
    [CNNC_ERR_NOT_FOUND] = "CNNC_ERR_NOT_FOUND",
    [CNNC_ERR_IO] = "CNNC_ERR_IO",
};
_Static_assert(sizeof(status_names) / sizeof(status_names[0]) == CNNC_STATUS_COUNT,
               "one name per status");

static void set_error(cnnc_status status, const char *fmt, va_list ap) {
    last_status = status;
    vsnprintf(last_message, sizeof last_message, fmt, ap);
}

cnnc_status cnnc__error(cnnc_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(status, fmt, ap);
    va_end(ap);
    return status;
}

void *cnnc__error_null(cnnc_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(status, fmt, ap);
    va_end(ap);
    return NULL;
}

cnnc_status cnnc__error_prefix(const char *fmt, ...) {
    char old[ERROR_MESSAGE_CAP];
    memcpy(old, last_message, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    if (len >= 0 && (size_t)len < sizeof last_message)
        snprintf(last_message + len, sizeof last_message - (size_t)len, "%s", old);
    return last_status;
}

cnnc_status cnnc__oom(const char *what) {
    return cnnc__error(CNNC_ERR_OUT_OF_MEMORY, "out of memory while allocating %s", what);
}

const char *cnnc_last_error(void) { return last_message; }
cnnc_status cnnc_last_status(void) { return last_status; }

void cnnc_clear_error(void) {
    last_status = CNNC_OK;
    last_message[0] = '\0';
}

const char *cnnc_status_name(cnnc_status status) {
    if ((unsigned)status >= CNNC_STATUS_COUNT) return "CNNC_STATUS_UNKNOWN";
    return status_names[status];
}

const char *cnnc_version(void) { return CNNC_VERSION_STRING; }
