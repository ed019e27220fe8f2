/* The max pooling kernel with indices for the baseline target (see pool_max_body.h). */
#include "kernels/pool_internal.h"

#define POOL_SUFFIX scalar
#include "kernels/pool_max_body.h"
