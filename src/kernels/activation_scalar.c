/* The fast activation kernels for the baseline ISA (the SCALAR level):
 * activation_impl.h with the vectorizable approximations of activation_math.h,
 * compiled for whatever the baseline target offers (SSE2 on x86-64). */
#include "kernels/activation_internal.h"
#include "kernels/activation_math.h"

#define ACT_EXP(x) cm_exp(x)
#define ACT_EXP_NONPOS(x) cm_exp_nonpos(x)
#define ACT_LOG(x) cm_log(x)
#define ACT_TANH(x) cm_tanh(x)
#define ACT_TANH_ALONE(x) cm_tanh_rational(x)
#define ACT_ERF(x) cm_erf(x)
#define ACT_LOG1P_POS(x) cm_log1p_pos(x)
#define ACT_FN(name) cnnc__k_##name##_scalar_impl
#define ACT_TARGET
#define ACT_ROWS /* the contiguous-row softmax of row_reduce.h */

#include "kernels/activation_impl.h"
