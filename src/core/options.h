/* Internal: validation shared by every op family's option structs. */
#ifndef CNNC_CORE_OPTIONS_H
#define CNNC_CORE_OPTIONS_H
#include "cnnc.h"

/* A cnnc_ints / cnnc_doubles holds 0..CNNC_MAX_DIMS values; anything else is an
 * error naming fn and arg (and is never read past its array). */
cnnc_status cnnc__check_ints(const char *fn, const char *arg, const cnnc_ints *v);
cnnc_status cnnc__check_doubles(const char *fn, const char *arg, const cnnc_doubles *v);
#endif
