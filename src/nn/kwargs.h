/* Internal: reading a module's constructor keyword arguments (names + cnnc_value)
 * with PyTorch's errors. Readers take a default; a missing required argument, a
 * value of the wrong kind, or (at cnnc__kw_finish) an argument nobody read is an
 * error. The first error sticks: readers after it return their defaults, and
 * cnnc__kw_finish returns it, so a constructor reads everything and checks once. */
#ifndef CNNC_NN_KWARGS_H
#define CNNC_NN_KWARGS_H
#include <stdint.h>

#include "cnnc.h"

enum { CNNC__MAX_KWARGS = 64 };

typedef struct cnnc__kwargs {
    const char *fn; /* "Conv2d", for the messages */
    size_t n;
    const char *const *names;
    const cnnc_value *values;
    uint64_t used;  /* bit i: names[i] was read */
    cnnc_status st; /* the first error */
} cnnc__kwargs;

/* Checks the list itself (count, NULL or repeated names); kw->st holds the result. */
void cnnc__kw_init(cnnc__kwargs *kw, const char *fn, size_t n, const char *const *names,
                   const cnnc_value *values);
/* The value named name, or NULL (marks it read). */
const cnnc_value *cnnc__kw_get(cnnc__kwargs *kw, const char *name);
/* An error unless the argument is given (PyTorch's missing-argument message). */
void cnnc__kw_require(cnnc__kwargs *kw, const char *name);

int64_t cnnc__kw_int(cnnc__kwargs *kw, const char *name, int64_t def);
double cnnc__kw_float(cnnc__kwargs *kw, const char *name, double def); /* int or float */
bool cnnc__kw_bool(cnnc__kwargs *kw, const char *name, bool def);
/* A string (borrowed from the value), or def; None gives NULL. */
const char *cnnc__kw_string(cnnc__kwargs *kw, const char *name, const char *def);
/* An int or a tuple of ints (None entries as CNNC_POOL_KEEP); None gives n == 0. */
cnnc_ints cnnc__kw_ints(cnnc__kwargs *kw, const char *name, cnnc_ints def);
/* A float or a tuple of floats; None gives n == 0. */
cnnc_doubles cnnc__kw_doubles(cnnc__kwargs *kw, const char *name, cnnc_doubles def);
cnnc_optional_double cnnc__kw_opt_float(cnnc__kwargs *kw, const char *name, cnnc_optional_double def);
cnnc_optional_int cnnc__kw_opt_int(cnnc__kwargs *kw, const char *name, cnnc_optional_int def);
/* None, False, True as -1, 0, 1. */
int cnnc__kw_opt_bool(cnnc__kwargs *kw, const char *name, int def);
/* Is the argument given as a string (Conv2d's padding='same')? Does not mark it read. */
bool cnnc__kw_is_string(const cnnc__kwargs *kw, const char *name);

/* The unexpected-argument error for anything not read, or the first error. */
cnnc_status cnnc__kw_finish(cnnc__kwargs *kw);
#endif
