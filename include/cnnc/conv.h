/* cnnc public API: the conv op family. Included by cnnc.h; include <cnnc.h>, not this. */
#ifndef CNNC_CONV_H
#define CNNC_CONV_H
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
