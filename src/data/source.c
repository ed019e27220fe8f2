/* Handing out a buffer's bytes raw or through zlib's inflate. */
#include "data/source.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

#ifdef CNNC_HAVE_ZLIB
#include <zlib.h>
#endif

bool cnnc__is_gzip(const uint8_t *data, size_t size) {
    return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/* ---- gzip through zlib ----------------------------------------------------------- */
#ifdef CNNC_HAVE_ZLIB
/* zlib allocates through cnnc's allocator, so failure injection reaches it too. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    size_t bytes;
    return cnnc__mul_size(items, size, &bytes) ? cnnc__malloc(bytes) : Z_NULL;
}
static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    cnnc__free(p);
}

static cnnc_status gz_open(cnnc__source *s) {
    z_stream *z = cnnc__calloc(1, sizeof *z);
    if (!z) return cnnc__oom("a gzip stream");
    z->zalloc = z_alloc;
    z->zfree = z_free;
    z->next_in = (Bytef *)s->data;
    z->avail_in = 0; /* fed in pieces of at most UINT_MAX bytes by gz_inflate */
    if (inflateInit2(z, 16 + MAX_WBITS) != Z_OK) { /* 16: a gzip wrapper, not zlib's */
        cnnc__free(z);
        return cnnc__oom("a gzip stream");
    }
    s->z = z;
    return CNNC_OK;
}

static void gz_close(cnnc__source *s) {
    if (!s->z) return;
    inflateEnd(s->z);
    cnnc__free(s->z);
    s->z = NULL;
}

static size_t gz_input_left(const cnnc__source *s) {
    const z_stream *z = s->z;
    return s->size - (size_t)(z->next_in - s->data);
}

/* Inflates up to n bytes into out; *got receives how many came. *ended is set when
 * the stream (every gzip member) ended with no input left over. */
static cnnc_status gz_inflate(cnnc__source *s, uint8_t *out, size_t n, size_t *got, bool *ended) {
    z_stream *z = s->z;
    *got = 0;
    *ended = false;
    while (*got < n) {
        size_t in_left = gz_input_left(s);
        z->avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        size_t want = n - *got;
        z->next_out = out + *got;
        z->avail_out = want > UINT_MAX ? UINT_MAX : (uInt)want;
        uInt before = z->avail_out;
        int ret = inflate(z, Z_NO_FLUSH);
        *got += before - z->avail_out;
        if (ret == Z_STREAM_END) {
            in_left = gz_input_left(s);
            if (in_left == 0) {
                *ended = true;
                return CNNC_OK;
            }
            if (!cnnc__is_gzip(z->next_in, in_left))
                return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                                   "%s: %zu bytes of trailing data after the gzip stream", s->what,
                                   in_left);
            if (inflateReset(z) != Z_OK) /* the next member of a multi-member file */
                return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: corrupt gzip stream", s->what);
            continue;
        }
        if (ret == Z_MEM_ERROR) return cnnc__oom("a gzip stream");
        if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: corrupt gzip stream (%s)", s->what,
                               z->msg ? z->msg : "invalid data");
        if (ret == Z_BUF_ERROR && gz_input_left(s) == 0)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: truncated gzip stream", s->what);
    }
    return CNNC_OK;
}
#else
static cnnc_status gz_open(cnnc__source *s) {
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "%s: the file is gzip-compressed, but cnnc was built without zlib "
                       "(decompress it first, or rebuild with zlib installed)",
                       s->what);
}
static void gz_close(cnnc__source *s) {
    (void)s;
}
#endif

/* ---- the source ------------------------------------------------------------------ */

cnnc_status cnnc__source_open(cnnc__source *s, const char *what, const uint8_t *data, size_t size) {
    *s = (cnnc__source){.what = what, .data = data, .size = size};
    s->gzip = cnnc__is_gzip(data, size);
    return s->gzip ? gz_open(s) : CNNC_OK;
}

void cnnc__source_close(cnnc__source *s) {
    gz_close(s);
    cnnc__free(s->taken);
    s->taken = NULL;
}

uint64_t cnnc__source_bound(const cnnc__source *s) {
#ifdef CNNC_HAVE_ZLIB
    /* deflate expands at most 1032:1; the slack covers output inflate holds back
     * (a pending match) and tiny streams */
    if (s->gzip) return (uint64_t)gz_input_left(s) * 1032u + 65536u;
#endif
    return s->size - s->pos;
}

cnnc_status cnnc__source_take(cnnc__source *s, size_t n, const char *part, const uint8_t **out) {
    *out = NULL;
    uint64_t bound = cnnc__source_bound(s);
    if (n > bound) {
        if (s->gzip)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "%s: truncated: expected %zu bytes of %s, more than the gzip data "
                               "left can hold",
                               s->what, n, part);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: truncated: expected %zu bytes of %s, but only %zu are left",
                           s->what, n, part, (size_t)bound);
    }
    if (!s->gzip) {
        *out = s->data + s->pos;
        s->pos += n;
        return CNNC_OK;
    }
#ifdef CNNC_HAVE_ZLIB
    cnnc__free(s->taken);
    if (!(s->taken = cnnc__malloc(n)))
        return cnnc__error(CNNC_ERR_OUT_OF_MEMORY, "out of memory reading %s of %s (%zu bytes)",
                           part, s->what, n);
    size_t got;
    bool ended;
    cnnc_status st = gz_inflate(s, s->taken, n, &got, &ended);
    if (st != CNNC_OK) return st;
    if (got < n)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: truncated: expected %zu bytes of %s, but the gzip data ends "
                           "after %zu",
                           s->what, n, part, got);
    *out = s->taken;
#endif
    return CNNC_OK;
}

cnnc_status cnnc__source_end(cnnc__source *s, const char *declared) {
    if (!s->gzip) {
        if (s->pos == s->size) return CNNC_OK;
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: %zu bytes of trailing data after the %s (the file size disagrees "
                           "with its header)",
                           s->what, s->size - s->pos, declared);
    }
#ifdef CNNC_HAVE_ZLIB
    /* One more byte must not come: the stream ends (and its CRC is checked) here. */
    uint8_t extra;
    size_t got;
    bool ended;
    cnnc_status st = gz_inflate(s, &extra, 1, &got, &ended);
    if (st != CNNC_OK) return st;
    if (got)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: the gzip stream expands past the %s (the decompressed size "
                           "disagrees with the header)",
                           s->what, declared);
    if (!ended) return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: truncated gzip stream", s->what);
#endif
    return CNNC_OK;
}
