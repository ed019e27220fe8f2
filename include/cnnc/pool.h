/* cnnc public API: the pool op family. Included by cnnc.h; include <cnnc.h>, not this. */
#ifndef CNNC_POOL_H
#define CNNC_POOL_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
