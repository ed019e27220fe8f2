/* What the io formats share (always built; needs no JSON): byte decoding, half
 * precision, file writing, and cnnc_has_io. */
#include "io/io.h"

#include <errno.h>
#include <string.h>

#include "core/error.h"
#include "core/tensor.h"

bool cnnc_has_io(void) {
#ifdef CNNC_HAVE_CJSON
    return true;
#else
    return false;
#endif
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double bits_f64(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

float cnnc__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | man << 13); /* inf, NaN (payload kept) */
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in float */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | (exp + 112) << 23 | man << 13);
}

float cnnc__bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

static double load_float(const uint8_t *p, char kind, size_t elem) {
    if (kind == 'b') return cnnc__bf16_to_f32(cnnc__ld_u16(p));
    if (elem == 2) return cnnc__f16_to_f32(cnnc__ld_u16(p));
    if (elem == 4) return bits_f32(cnnc__ld_u32(p));
    return bits_f64(cnnc__ld_u64(p));
}

static int64_t load_int(const uint8_t *p, char kind, size_t elem) {
    if (kind == '?' || (kind == 'u' && elem == 1)) return p[0];
    if (kind == 'u') return elem == 2 ? (int64_t)cnnc__ld_u16(p) : (int64_t)cnnc__ld_u32(p);
    if (elem == 1) return (int8_t)p[0];
    if (elem == 2) return (int16_t)cnnc__ld_u16(p);
    if (elem == 4) return (int32_t)cnnc__ld_u32(p);
    return (int64_t)cnnc__ld_u64(p);
}

size_t cnnc__decode_elems(void *dst, cnnc_dtype dst_dtype, const uint8_t *src, size_t n,
                          char kind, size_t elem) {
    if (dst_dtype == CNNC_FLOAT32) {
        float *out = dst;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (kind == 'f' && elem == 4) { /* the common case: a plain copy */
            if (n) memcpy(out, src, n * 4);
            return 0;
        }
#endif
        for (size_t i = 0; i < n; i++) out[i] = (float)load_float(src + i * elem, kind, elem);
        return 0;
    }
    int64_t *out = dst;
    for (size_t i = 0; i < n; i++) {
        if (kind == '?' && src[i] > 1) return i + 1;
        out[i] = load_int(src + i * elem, kind, elem);
    }
    return 0;
}

/* ---- writing ---------------------------------------------------------------------- */

cnnc_status cnnc__writer_open(cnnc__writer *w, const char *path) {
    w->path = path;
    w->err = 0;
    w->f = fopen(path, "wb");
    if (!w->f) return cnnc__error(CNNC_ERR_IO, "cannot open '%s' for writing: %s", path, strerror(errno));
    return CNNC_OK;
}

void cnnc__writer_put(cnnc__writer *w, const void *data, size_t n) {
    if (w->err || !n) return;
    if (fwrite(data, 1, n, w->f) != n) w->err = errno ? errno : -1;
}

void cnnc__writer_put_tensor(cnnc__writer *w, const cnnc_tensor *t) {
    const size_t elem = cnnc__dtype_size(t->dtype), n = (size_t)t->numel;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    cnnc__writer_put(w, t->storage->data, n * elem);
#else
    /* byte-swap through a small buffer */
    const uint8_t *src = t->storage->data;
    uint8_t buf[4096];
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        for (; i < n && m + elem <= sizeof buf; i++, m += elem)
            for (size_t b = 0; b < elem; b++) buf[m + b] = src[i * elem + elem - 1 - b];
        cnnc__writer_put(w, buf, m);
    }
#endif
}

cnnc_status cnnc__writer_close(cnnc__writer *w) {
    if (fflush(w->f) != 0 && !w->err) w->err = errno ? errno : -1;
    if (fclose(w->f) != 0 && !w->err) w->err = errno ? errno : -1;
    w->f = NULL;
    if (!w->err) return CNNC_OK;
    remove(w->path);
    return cnnc__error(CNNC_ERR_IO, "cannot write '%s': %s", w->path,
                       w->err > 0 ? strerror(w->err) : "short write");
}
