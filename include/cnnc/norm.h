/* cnnc public API: the norm op family. Included by cnnc.h; include <cnnc.h>, not this. */
#ifndef CNNC_NORM_H
#define CNNC_NORM_H
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
