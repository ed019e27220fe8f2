#include "core/options.h"

#include "core/error.h"

static cnnc_status check_count(const char *fn, const char *arg, int n) {
    if (n < 0 || n > CNNC_MAX_DIMS)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): argument '%s' holds %d values; expected 0 (None) to %d", fn,
                           arg, n, CNNC_MAX_DIMS);
    return CNNC_OK;
}

cnnc_status cnnc__check_ints(const char *fn, const char *arg, const cnnc_ints *v) {
    return check_count(fn, arg, v->n);
}

cnnc_status cnnc__check_doubles(const char *fn, const char *arg, const cnnc_doubles *v) {
    return check_count(fn, arg, v->n);
}
