/* Which optional parts this build of the library has. */
#include "cnnc.h"
#include "cnnc/distributed.h"

bool cnnc_dist_available(void) {
#if defined(CNNC_HAVE_MPI)
    return true;
#else
    return false;
#endif
}
