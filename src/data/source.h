/* Internal: where the readers get bytes from. A file is read whole into memory; a
 * cnnc__source then hands out its bytes in order, inflating them on the fly when the
 * buffer is a gzip stream (with zlib; without it a gzip buffer is an error), so a
 * parser is written once for both. A source never allocates more than the caller
 * asks for in one take, and the caller checks each size against cnnc__source_bound
 * first, so no allocation is sized by an unchecked file value. */
#ifndef CNNC_DATA_SOURCE_H
#define CNNC_DATA_SOURCE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnc.h"
#include "core/file.h"


/* Starts with the gzip magic bytes 1f 8b. */
bool cnnc__is_gzip(const uint8_t *data, size_t size);

typedef struct cnnc__source {
    const char *what;    /* the file's name, for messages */
    const uint8_t *data; /* the buffer (borrowed) */
    size_t size, pos;    /* raw buffers: read position */
    bool gzip;
    void *z;        /* z_stream, when gzip */
    uint8_t *taken; /* the last take's buffer, when gzip */
} cnnc__source;

/* Reads from data[0..size); gzip when it starts with the gzip magic. */
cnnc_status cnnc__source_open(cnnc__source *s, const char *what, const uint8_t *data, size_t size);
void cnnc__source_close(cnnc__source *s);

/* The most bytes the rest of the source can possibly hold: the bytes left of a raw
 * buffer; for gzip, deflate's maximum expansion (1032:1) of the compressed bytes left. */
uint64_t cnnc__source_bound(const cnnc__source *s);

/* The next n bytes (n <= cnnc__source_bound): *out points into the buffer (raw) or
 * into memory the source owns until the next take or close (gzip). Fewer bytes left
 * is an error ("truncated: ... expected n bytes of <part>"), naming part. */
cnnc_status cnnc__source_take(cnnc__source *s, size_t n, const char *part, const uint8_t **out);

/* Checks that nothing is left (the data ended where the header said it would). */
cnnc_status cnnc__source_end(cnnc__source *s, const char *declared);
#endif
