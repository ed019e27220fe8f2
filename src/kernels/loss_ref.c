/* The reference loss kernels: loss_impl.h with libm's functions, compiled for the
 * baseline ISA. Always built; tests compare the fast kernels with these. */
#include <math.h>

#include "kernels/loss_internal.h"

#define LOSS_EXP(x) expf(x)
#define LOSS_LOG(x) logf(x)
#define LOSS_LOG1P_POS(x) log1pf(x)
#define LOSS_FN(name) cnnc__k_##name##_ref_impl

#include "kernels/loss_impl.h"
