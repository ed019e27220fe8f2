/* cnnc public API: the resample op family. Included by cnnc.h; include <cnnc.h>, not this. */
#ifndef CNNC_RESAMPLE_H
#define CNNC_RESAMPLE_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* F.pad's mode. */
typedef enum cnnc_pad_mode {
    CNNC_PAD_CONSTANT = 0,
    CNNC_PAD_REFLECT,
    CNNC_PAD_REPLICATE,
    CNNC_PAD_CIRCULAR,
    CNNC_PAD_MODE_COUNT
} cnnc_pad_mode;

#ifdef __cplusplus
}
#endif
#endif
