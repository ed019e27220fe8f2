/* The fast loss kernels for the baseline ISA (the SCALAR level): loss_impl.h with the
 * vectorizable approximations of activation_math.h, compiled for whatever the
 * baseline target offers (SSE2 on x86-64). */
#include "kernels/activation_math.h"
#include "kernels/loss_internal.h"

#define LOSS_EXP(x) cm_exp(x)
#define LOSS_LOG(x) cm_log(x)
#define LOSS_LOG1P_POS(x) cm_log1p_pos(x)
#define LOSS_FN(name) cnnc__k_##name##_scalar

#include "kernels/loss_impl.h"
