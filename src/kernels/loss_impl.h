/* Internal: the loss kernels, written once and compiled four times (loss_ref.c with
 * libm; loss_scalar.c, loss_avx2.c and loss_avx512.c with activation_math.h for the
 * baseline ISA, AVX2 and AVX-512). NOT include-guarded.
 *
 * The includer defines:
 *   LOSS_EXP(x), LOSS_LOG(x), LOSS_LOG1P_POS(x)   float math (log: every float, as
 *                                                 logf; log1p: x >= 0)
 *   LOSS_FN(name)   the extern name of a kernel in this variant */
#include <math.h>
#include <stddef.h>

#include "kernels/loss.h"

#include "kernels/loss_pw_impl.h"
#include "kernels/loss_ce_impl.h"
