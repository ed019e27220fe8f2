/* Internal: what the io formats share: little-endian loads, half-precision
 * conversions, and writing a file in pieces with one error check at the end. */
#ifndef CNNC_IO_IO_H
#define CNNC_IO_IO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnnc.h"

static inline uint16_t cnnc__ld_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t cnnc__ld_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t cnnc__ld_u64(const uint8_t *p) {
    return (uint64_t)cnnc__ld_u32(p) | (uint64_t)cnnc__ld_u32(p + 4) << 32;
}

/* IEEE half and bfloat16 bit patterns to float (exact: subnormals, infinities, NaN). */
float cnnc__f16_to_f32(uint16_t h);
float cnnc__bf16_to_f32(uint16_t b);

/* Little-endian elements of src (n of elem bytes) into dst's n values: float kinds
 * into float32 ('f' IEEE float, elem 2 half, 4 float, 8 double rounded to nearest;
 * 'b' bfloat16), integer kinds into int64 ('i' signed, elem 1/2/4/8; 'u' unsigned,
 * elem 1/2/4; '?' bool byte). Returns 0, or i + 1 when bool byte i is neither 0 nor 1. */
size_t cnnc__decode_elems(void *dst, cnnc_dtype dst_dtype, const uint8_t *src, size_t n,
                          char kind, size_t elem);

/* A file written in pieces: the first failure is kept (and later writes skipped);
 * close reports it as CNNC_ERR_IO naming the path and removes the partial file. */
typedef struct cnnc__writer {
    FILE *f;
    const char *path;
    int err; /* errno of the first failure, or -1 for a short write; 0 if none */
} cnnc__writer;
cnnc_status cnnc__writer_open(cnnc__writer *w, const char *path);
void cnnc__writer_put(cnnc__writer *w, const void *data, size_t n);
/* A tensor's float32 or int64 values, little-endian whatever the host. */
void cnnc__writer_put_tensor(cnnc__writer *w, const cnnc_tensor *t);
cnnc_status cnnc__writer_close(cnnc__writer *w);
#endif
