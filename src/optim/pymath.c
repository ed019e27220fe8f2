/* Python's float / int arithmetic errors (see pymath.h). */
#include "optim/pymath.h"

#include <math.h>

#include "core/error.h"

cnnc_status cnnc__py_pow(double x, double y, double *out) {
    if (x == 0.0 && y < 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "0.0 cannot be raised to a negative power");
    if (x < 0 && isfinite(x) && isfinite(y) && y != floor(y))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "math domain error");
    double r = pow(x, y);
    if (isinf(r) && isfinite(x) && isfinite(y))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "(34, 'Numerical result out of range')");
    *out = r;
    return CNNC_OK;
}

cnnc_status cnnc__py_div(double x, double y, double *out) {
    if (y == 0.0) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "float division by zero");
    *out = x / y;
    return CNNC_OK;
}

cnnc_status cnnc__py_floordiv(int64_t x, int64_t y, int64_t *out) {
    if (y == 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "integer division or modulo by zero");
    if (x == INT64_MIN && y == -1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "integer overflow in floor division");
    int64_t q = x / y;
    if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
    *out = q;
    return CNNC_OK;
}

cnnc_status cnnc__py_mod(int64_t x, int64_t y, int64_t *out) {
    if (y == 0) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "integer modulo by zero");
    if (y == -1) return (*out = 0), CNNC_OK;
    int64_t r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    *out = r;
    return CNNC_OK;
}
