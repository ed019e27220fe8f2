/* The reference activation kernels: activation_impl.h with libm's functions,
 * compiled for the baseline ISA. Always built; tests compare the fast kernels
 * with these. */
#include <math.h>

#include "kernels/activation_internal.h"

#define ACT_EXP(x) expf(x)
#define ACT_EXP_NONPOS(x) expf(x)
#define ACT_TANH(x) tanhf(x)
#define ACT_TANH_ALONE(x) tanhf(x)
#define ACT_ERF(x) erff(x)
#define ACT_LOG1P_POS(x) log1pf(x)
#define ACT_FN(name) cnnc__k_##name##_ref_impl
#define ACT_TARGET

#include "kernels/activation_impl.h"
