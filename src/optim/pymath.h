/* Internal: Python's float and int arithmetic where it differs from C's: the
 * errors it raises (ZeroDivisionError, OverflowError) and floor division. The
 * messages are Python's. */
#ifndef CNNC_OPTIM_PYMATH_H
#define CNNC_OPTIM_PYMATH_H
#include <stdint.h>

#include "cnnc.h"

/* math.pi */
#define CNNC__PI 3.141592653589793

/* x ** y for floats: "0.0 cannot be raised to a negative power",
 * "(34, 'Numerical result out of range')", "math domain error" (a negative
 * base with a non-integral exponent, which Python answers with a complex). */
cnnc_status cnnc__py_pow(double x, double y, double *out);
/* x / y: "float division by zero". */
cnnc_status cnnc__py_div(double x, double y, double *out);
/* x // y and x % y for ints (floor semantics): "integer division or modulo by
 * zero", "integer modulo by zero" (Python 3.11's words). */
cnnc_status cnnc__py_floordiv(int64_t x, int64_t y, int64_t *out);
cnnc_status cnnc__py_mod(int64_t x, int64_t y, int64_t *out);
#endif
