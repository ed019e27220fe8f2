/* cnnc public API: the activation op family. Included by cnnc.h; include <cnnc.h>, not this. */
#ifndef CNNC_ACTIVATION_H
#define CNNC_ACTIVATION_H
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
