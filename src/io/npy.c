/* NumPy's .npy files (format versions 1.0, 2.0, 3.0): the magic "\x93NUMPY", the
 * version bytes, a little-endian header length (2 bytes in 1.0, 4 after), a Python
 * dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded
 * with spaces and a newline, then the data in C order. The dict is read by a small
 * scanner that accepts exactly what np.save writes (keys in any order, either quote,
 * optional trailing commas, Python 2's 3L integers) and nothing else. Needs no JSON. */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/tensor.h"
#include "io/io.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6

typedef struct {
    const char *what;          /* the file name, for messages */
    const uint8_t *p, *begin, *end;
} scanner;

typedef struct {
    char descr[16];
    cnnc_dtype dtype;
    char kind; /* cnnc__decode_elems's kind */
    size_t elem;
    bool fortran_order;
    int ndim;
    int64_t shape[CNNC_MAX_DIMS];
} npy_header;

static cnnc_status syntax(const scanner *s, const char *expected) {
    if (s->p >= s->end)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: .npy header ends early: expected %s",
                           s->what, expected);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "%s: .npy header: expected %s at byte %zu of the header, got '%c'", s->what,
                       expected, (size_t)(s->p - s->begin), *s->p >= 32 && *s->p < 127 ? *s->p : '?');
}

static void skip_ws(scanner *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static bool eat(scanner *s, char c) {
    skip_ws(s);
    if (s->p < s->end && *s->p == c) return s->p++, true;
    return false;
}

static bool eat_word(scanner *s, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, w, n) == 0) return s->p += n, true;
    return false;
}

/* A quoted string without escapes into buf (at most cap - 1 characters). */
static cnnc_status read_string(scanner *s, char *buf, size_t cap, const char *expected) {
    skip_ws(s);
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) return syntax(s, expected);
    const char quote = (char)*s->p++;
    size_t n = 0;
    while (s->p < s->end && *s->p != quote) {
        if (*s->p == '\\' || *s->p < 32 || n + 1 >= cap) return syntax(s, expected);
        buf[n++] = (char)*s->p++;
    }
    if (s->p >= s->end) return syntax(s, "a closing quote");
    s->p++;
    buf[n] = '\0';
    return CNNC_OK;
}

static cnnc_status read_int(scanner *s, int64_t *out) {
    skip_ws(s);
    if (s->p >= s->end || *s->p < '0' || *s->p > '9') return syntax(s, "a non-negative integer");
    int64_t v = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        if (!cnnc__mul_i64(v, 10, &v) || !cnnc__add_i64(v, *s->p - '0', &v))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: .npy shape entry overflows int64",
                               s->what);
        s->p++;
    }
    if (s->p < s->end && *s->p == 'L') s->p++; /* Python 2's long literal */
    *out = v;
    return CNNC_OK;
}

/* (), (3,), (2, 3), (2, 3,) */
static cnnc_status read_shape(scanner *s, npy_header *h) {
    if (!eat(s, '(')) return syntax(s, "'(' starting the shape tuple");
    h->ndim = 0;
    if (eat(s, ')')) return CNNC_OK;
    for (;;) {
        if (h->ndim == CNNC_MAX_DIMS)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "%s: the .npy array has more than %d dimensions (cnnc's limit)",
                               s->what, CNNC_MAX_DIMS);
        cnnc_status st = read_int(s, &h->shape[h->ndim++]);
        if (st != CNNC_OK) return st;
        bool comma = eat(s, ',');
        if (eat(s, ')')) {
            if (h->ndim == 1 && !comma) return syntax(s, "',' in a 1-tuple"); /* (3) is an int */
            return CNNC_OK;
        }
        if (!comma) return syntax(s, "',' or ')' in the shape tuple");
    }
}

static cnnc_status set_dtype(const scanner *s, npy_header *h) {
    static const struct { const char *descr; cnnc_dtype dtype; char kind; size_t elem; } known[] = {
        {"<f4", CNNC_FLOAT32, 'f', 4}, {"<f8", CNNC_FLOAT32, 'f', 8}, {"<f2", CNNC_FLOAT32, 'f', 2},
        {"<i8", CNNC_INT64, 'i', 8},   {"<i4", CNNC_INT64, 'i', 4},   {"|i1", CNNC_INT64, 'i', 1},
        {"|u1", CNNC_INT64, 'u', 1},   {"|b1", CNNC_INT64, '?', 1},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(h->descr, known[i].descr) == 0) {
            h->dtype = known[i].dtype;
            h->kind = known[i].kind;
            h->elem = known[i].elem;
            return CNNC_OK;
        }
    if (h->descr[0] == '>')
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: big-endian .npy dtype '%s' is not supported (only little-endian)",
                           s->what, h->descr);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                       "%s: .npy dtype '%s' is not supported (cnnc reads <f4, <f8, <f2 as float32 "
                       "and <i8, <i4, |i1, |u1, |b1 as int64)",
                       s->what, h->descr);
}

/* The dict literal: the three keys, each once, nothing else. */
static cnnc_status read_dict(scanner *s, npy_header *h) {
    bool seen[3] = {false, false, false};
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    if (!eat(s, '{')) return syntax(s, "'{' starting the header dict");
    while (!eat(s, '}')) {
        char key[32];
        cnnc_status st = read_string(s, key, sizeof key, "a quoted key or '}'");
        if (st != CNNC_OK) return st;
        int k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0) k++;
        if (k == 3)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: unexpected key '%s' in the .npy header",
                               s->what, key);
        if (seen[k])
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: duplicate key '%s' in the .npy header",
                               s->what, key);
        seen[k] = true;
        if (!eat(s, ':')) return syntax(s, "':' after a key");
        skip_ws(s);
        if (k == 0) {
            st = read_string(s, h->descr, sizeof h->descr,
                             "a dtype string such as '<f4' for 'descr' (structured dtypes are not supported)");
        } else if (k == 1) {
            if (eat_word(s, "True")) h->fortran_order = true;
            else if (eat_word(s, "False")) h->fortran_order = false;
            else st = syntax(s, "True or False for 'fortran_order'");
        } else {
            st = read_shape(s, h);
        }
        if (st != CNNC_OK) return st;
        if (!eat(s, ',')) {
            if (!eat(s, '}')) return syntax(s, "',' or '}' after a value");
            break;
        }
    }
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: the .npy header has no '%s'", s->what,
                               keys[k]);
    skip_ws(s);
    if (s->p != s->end) return syntax(s, "only spaces and a newline after the header dict");
    return CNNC_OK;
}

static cnnc_status decode(const char *what, const uint8_t *data, size_t size, cnnc_tensor **out) {
    if (size < NPY_MAGIC_LEN + 2 || memcmp(data, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: not a .npy file (no \\x93NUMPY magic)", what);
    const unsigned major = data[6], minor = data[7];
    if (major < 1 || major > 3 || minor != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: .npy format version %u.%u is not supported (1.0, 2.0 and 3.0 are)", what,
                           major, minor);
    const size_t len_bytes = major == 1 ? 2 : 4, prefix = 8 + len_bytes;
    if (size < prefix)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: truncated .npy file (%zu bytes)", what, size);
    const uint64_t header_len = major == 1 ? cnnc__ld_u16(data + 8) : cnnc__ld_u32(data + 8);
    if (header_len > size - prefix)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: .npy header length %" PRIu64 " runs past the end of the file (%zu bytes "
                           "after the length)", what, header_len, size - prefix);
    scanner s = {what, data + prefix, data + prefix, data + prefix + header_len};
    npy_header h = {0};
    cnnc_status st = read_dict(&s, &h);
    if (st == CNNC_OK) st = set_dtype(&s, &h);
    if (st != CNNC_OK) return st;
    if (h.fortran_order)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: the .npy array is in Fortran order; only C order is supported "
                           "(save np.ascontiguousarray(a))", what);
    char shape[256];
    cnnc__shape_str(shape, sizeof shape, h.ndim, h.shape);
    int64_t numel = 1, nbytes;
    for (int i = 0; i < h.ndim; i++)
        if (!cnnc__mul_i64(numel, h.shape[i], &numel)) numel = -1;
    if (numel < 0 || !cnnc__mul_i64(numel, (int64_t)h.elem, &nbytes))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: .npy shape %s of %s overflows", what, shape,
                           h.descr);
    const size_t left = size - prefix - (size_t)header_len;
    if ((uint64_t)nbytes != left)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: .npy shape %s of %s needs %" PRId64 " bytes of data, the file holds %zu%s",
                           what, shape, h.descr, nbytes, left,
                           (uint64_t)nbytes > left ? " (truncated)" : " (trailing bytes)");
    cnnc_tensor *t = cnnc__tensor_new(h.dtype, h.ndim, h.shape);
    if (!t) return cnnc_last_status();
    size_t bad = cnnc__decode_elems(t->storage->data, h.dtype, data + prefix + header_len,
                                    (size_t)numel, h.kind, h.elem);
    if (bad) {
        cnnc_tensor_release(t);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: .npy bool element %zu is %u, not 0 or 1",
                           what, bad - 1, (unsigned)data[prefix + header_len + bad - 1]);
    }
    *out = cnnc__give(t);
    return *out ? CNNC_OK : cnnc_last_status();
}

cnnc_status cnnc_npy_load_buffer(const void *data, size_t size, cnnc_tensor **out) {
    CNNC__NONNULL_OR_STATUS("npy_load_buffer", out);
    *out = NULL;
    if (!data && size)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "npy_load_buffer(): argument 'data' is NULL");
    return decode("<buffer>", data ? data : "", size, out);
}

cnnc_status cnnc_npy_load(const char *path, cnnc_tensor **out) {
    CNNC__NONNULL_OR_STATUS("npy_load", out);
    *out = NULL;
    CNNC__NONNULL_OR_STATUS("npy_load", path);
    uint8_t *data;
    size_t size;
    cnnc_status st = cnnc__read_file(path, &data, &size);
    if (st != CNNC_OK) return st;
    st = decode(path, data, size, out);
    cnnc__free(data);
    return st;
}

cnnc_status cnnc_npy_save(const char *path, const cnnc_tensor *t) {
    CNNC__NONNULL_OR_STATUS("npy_save", path);
    if (cnnc__null_tensor("npy_save", t)) return cnnc_last_status();
    /* {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } + spaces + '\n' */
    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     t->dtype == CNNC_FLOAT32 ? "<f4" : "<i8");
    for (int i = 0; i < t->ndim; i++)
        n += snprintf(header + n, sizeof header - (size_t)n, "%s%" PRId64, i ? ", " : "", t->shape[i]);
    n += snprintf(header + n, sizeof header - (size_t)n, "%s), }", t->ndim == 1 ? "," : "");
    size_t len = (size_t)n;
    while ((10 + len + 1) % 64) header[len++] = ' '; /* np.save aligns the data to 64 bytes */
    header[len++] = '\n';
    uint8_t prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(len & 0xff), (uint8_t)(len >> 8)};
    cnnc__writer w;
    cnnc_status st = cnnc__writer_open(&w, path);
    if (st != CNNC_OK) return st;
    cnnc__writer_put(&w, prefix, sizeof prefix);
    cnnc__writer_put(&w, header, len);
    cnnc__writer_put_tensor(&w, t);
    return cnnc__writer_close(&w);
}
