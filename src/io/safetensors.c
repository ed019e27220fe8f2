/* safetensors files (https://github.com/huggingface/safetensors, format.md):
 *   8 bytes   N, unsigned 64-bit little-endian
 *   N bytes   a JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]},
 *             and optionally "__metadata__": {str: str}; may end in spaces
 *   the rest  the tensors' bytes, offsets relative to its start, covered exactly once.
 * The header goes through cJSON; every value taken from it is checked against the
 * file before anything is allocated from it. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/tensor.h"
#include "io/io.h"
#include "io/json.h"

#define ST_MAX_HEADER 100000000u /* the reference reader's limit */
#define ST_METADATA "__metadata__"
#define ST_MAX_EXACT 9007199254740992.0 /* 2^53: JSON numbers are doubles in cJSON */

typedef struct {
    const char *name; /* safetensors' */
    size_t elem;
    char kind; /* cnnc__decode_elems's kind; 0: not readable by cnnc */
    cnnc_dtype dtype;
} st_dtype;

static const st_dtype ST_DTYPES[] = {
    {"F32", 4, 'f', CNNC_FLOAT32},  {"F16", 2, 'f', CNNC_FLOAT32}, {"BF16", 2, 'b', CNNC_FLOAT32},
    {"F64", 8, 'f', CNNC_FLOAT32},  {"I64", 8, 'i', CNNC_INT64},   {"I32", 4, 'i', CNNC_INT64},
    {"I16", 2, 'i', CNNC_INT64},    {"I8", 1, 'i', CNNC_INT64},    {"U8", 1, 'u', CNNC_INT64},
    {"U16", 2, 'u', CNNC_INT64},    {"U32", 4, 'u', CNNC_INT64},   {"BOOL", 1, '?', CNNC_INT64},
    {"U64", 8, 0, CNNC_INT64},      {"F8_E5M2", 1, 0, CNNC_FLOAT32}, {"F8_E4M3", 1, 0, CNNC_FLOAT32},
};

typedef struct {
    const char *name; /* borrowed from the cJSON tree */
    const st_dtype *dtype;
    int ndim;
    int64_t shape[CNNC_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

static cnnc_status bad(const char *what, const char *fmt_name, const char *msg) {
    if (fmt_name)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: tensor '%s': %s", what, fmt_name, msg);
    return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: %s", what, msg);
}

/* A JSON number that is an exact non-negative integer (below 2^53). */
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d < ST_MAX_EXACT) || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

static const st_dtype *find_dtype(const char *name) {
    for (size_t i = 0; i < sizeof ST_DTYPES / sizeof ST_DTYPES[0]; i++)
        if (strcmp(ST_DTYPES[i].name, name) == 0) return &ST_DTYPES[i];
    return NULL;
}

static cnnc_status parse_dtype(const char *what, const char *name, const cJSON *v, st_entry *e) {
    char msg[160];
    if (!cJSON_IsString(v)) return bad(what, name, "\"dtype\" must be a string such as \"F32\"");
    e->dtype = find_dtype(v->valuestring);
    if (!e->dtype) {
        snprintf(msg, sizeof msg, "unknown dtype \"%.40s\"", v->valuestring);
        return bad(what, name, msg);
    }
    if (!e->dtype->kind) {
        snprintf(msg, sizeof msg,
                 "dtype %s is not supported (cnnc reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, "
                 "U16, U32, BOOL)", e->dtype->name);
        return bad(what, name, msg);
    }
    return CNNC_OK;
}

static cnnc_status parse_shape(const char *what, const char *name, const cJSON *v, st_entry *e) {
    char msg[160];
    if (!cJSON_IsArray(v)) return bad(what, name, "\"shape\" must be an array of integers");
    int n = cJSON_GetArraySize(v);
    if (n > CNNC_MAX_DIMS) {
        snprintf(msg, sizeof msg, "shape has %d dimensions; cnnc tensors have at most %d", n,
                 CNNC_MAX_DIMS);
        return bad(what, name, msg);
    }
    e->ndim = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, v) {
        uint64_t u;
        if (!json_uint(d, &u)) {
            snprintf(msg, sizeof msg, "shape entry %d is not a non-negative integer below 2^53", e->ndim);
            return bad(what, name, msg);
        }
        e->shape[e->ndim++] = (int64_t)u;
    }
    return CNNC_OK;
}

/* data_offsets against the data size, and the byte count the shape needs. */
static cnnc_status parse_offsets(const char *what, const char *name, const cJSON *v, st_entry *e,
                                 uint64_t data_size) {
    char msg[640];
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 || !json_uint(v->child, &e->begin) ||
        !json_uint(v->child->next, &e->end))
        return bad(what, name, "\"data_offsets\" must be [begin, end] with non-negative integers");
    if (e->begin > e->end) {
        snprintf(msg, sizeof msg, "data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                 e->begin, e->end);
        return bad(what, name, msg);
    }
    if (e->end > data_size) {
        snprintf(msg, sizeof msg,
                 "data_offsets [%" PRIu64 ", %" PRIu64 "] run past the end of the data (%" PRIu64 " bytes)",
                 e->begin, e->end, data_size);
        return bad(what, name, msg);
    }
    char shape[256];
    cnnc__shape_str(shape, sizeof shape, e->ndim, e->shape);
    uint64_t nbytes = e->dtype->elem;
    for (int i = 0; i < e->ndim; i++)
        if (__builtin_mul_overflow(nbytes, (uint64_t)e->shape[i], &nbytes)) {
            snprintf(msg, sizeof msg, "the byte size of shape %s of %s overflows", shape, e->dtype->name);
            return bad(what, name, msg);
        }
    if (nbytes != e->end - e->begin) {
        snprintf(msg, sizeof msg,
                 "shape %s of %s needs %" PRIu64 " bytes but data_offsets [%" PRIu64 ", %" PRIu64
                 "] hold %" PRIu64, shape, e->dtype->name, nbytes, e->begin, e->end, e->end - e->begin);
        return bad(what, name, msg);
    }
    return CNNC_OK;
}

static cnnc_status parse_entry(const char *what, const cJSON *item, st_entry *e, uint64_t data_size) {
    const char *name = item->string;
    e->name = name;
    if (!cJSON_IsObject(item)) return bad(what, name, "entry must be an object {dtype, shape, data_offsets}");
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL, *f;
    cJSON_ArrayForEach(f, item) {
        const cJSON **slot = strcmp(f->string, "dtype") == 0          ? &dtype
                             : strcmp(f->string, "shape") == 0        ? &shape
                             : strcmp(f->string, "data_offsets") == 0 ? &offsets
                                                                      : NULL;
        char msg[128];
        if (!slot || *slot) {
            snprintf(msg, sizeof msg, "%s field \"%.40s\"", slot ? "duplicate" : "unexpected", f->string);
            return bad(what, name, msg);
        }
        *slot = f;
    }
    if (!dtype || !shape || !offsets)
        return bad(what, name, !dtype ? "missing \"dtype\"" : !shape ? "missing \"shape\"" : "missing \"data_offsets\"");
    cnnc_status st = parse_dtype(what, name, dtype, e);
    if (st == CNNC_OK) st = parse_shape(what, name, shape, e);
    if (st == CNNC_OK) st = parse_offsets(what, name, offsets, e, data_size);
    return st;
}

static cnnc_status parse_metadata(const char *what, const cJSON *item, cnnc_tensor_list *list) {
    if (!cJSON_IsObject(item))
        return bad(what, NULL, "__metadata__ must be an object mapping strings to strings");
    const cJSON *kv;
    cJSON_ArrayForEach(kv, item) {
        if (!cJSON_IsString(kv))
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "%s: __metadata__ value of \"%s\" is not a string", what, kv->string);
        if (cnnc_tensor_list_meta(list, kv->string)) /* set_meta would overwrite */
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: duplicate __metadata__ key \"%s\"",
                               what, kv->string);
        cnnc_clear_error();
        cnnc_status st = cnnc_tensor_list_set_meta(list, kv->string, kv->valuestring);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_offsets(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* names[0..n) sorted: the first name that occurs twice, or NULL. */
static const char *duplicate_name(const char **names, size_t n) {
    if (n > 1) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

/* The entries sorted by offset must tile [0, data_size). */
static cnnc_status check_tiling(const char *what, st_entry *e, size_t n, uint64_t data_size) {
    if (n > 1) qsort(e, n, sizeof *e, cmp_offsets);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin != pos) {
            char msg[256];
            if (e[i].begin < pos)
                snprintf(msg, sizeof msg, "data_offsets [%" PRIu64 ", %" PRIu64 "] overlap the tensor before (which ends at %" PRIu64 ")",
                         e[i].begin, e[i].end, pos);
            else
                snprintf(msg, sizeof msg, "data_offsets [%" PRIu64 ", %" PRIu64 "] leave a gap of %" PRIu64 " bytes after offset %" PRIu64,
                         e[i].begin, e[i].end, e[i].begin - pos, pos);
            return bad(what, e[i].name, msg);
        }
        pos = e[i].end;
    }
    if (pos != data_size)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: the tensors cover %" PRIu64 " bytes of data but the file holds %" PRIu64,
                           what, pos, data_size);
    return CNNC_OK;
}

/* Tensors from the checked entries, appended in offset order. */
static cnnc_status read_tensors(const char *what, const st_entry *e, size_t n, const uint8_t *base,
                                cnnc_tensor_list *list) {
    for (size_t i = 0; i < n; i++) {
        cnnc_tensor *t = cnnc__tensor_new(e[i].dtype->dtype, e[i].ndim, e[i].shape);
        if (!t) return cnnc_last_status();
        size_t bad_at = cnnc__decode_elems(t->storage->data, t->dtype, base + e[i].begin,
                                           (size_t)t->numel, e[i].dtype->kind, e[i].dtype->elem);
        cnnc_status st = CNNC_OK;
        if (bad_at)
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: tensor '%s': BOOL element %zu is %u, not 0 or 1",
                             what, e[i].name, bad_at - 1, (unsigned)base[e[i].begin + bad_at - 1]);
        if (st == CNNC_OK) st = cnnc_tensor_list_append(list, e[i].name, t);
        cnnc_tensor_release(t);
        if (st != CNNC_OK) return st;
    }
    return CNNC_OK;
}

/* The parsed header object: metadata into list, entries checked and read. */
static cnnc_status read_header(const char *what, const cJSON *root, const uint8_t *base,
                               uint64_t data_size, cnnc_tensor_list *list) {
    size_t n = 0, n_tensors = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) n++;
    const char **names = cnnc__calloc(n ? n : 1, sizeof *names);
    st_entry *entries = cnnc__calloc(n ? n : 1, sizeof *entries);
    cnnc_status st = names && entries ? CNNC_OK : cnnc__oom("the safetensors header entries");
    size_t i = 0;
    if (st == CNNC_OK) cJSON_ArrayForEach(item, root) names[i++] = item->string;
    const char *dup = st == CNNC_OK ? duplicate_name(names, n) : NULL;
    if (dup) st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: duplicate name '%s' in the header", what, dup);
    if (st == CNNC_OK) cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, ST_METADATA) == 0) st = parse_metadata(what, item, list);
        else st = parse_entry(what, item, &entries[n_tensors++], data_size);
        if (st != CNNC_OK) break;
    }
    if (st == CNNC_OK) st = check_tiling(what, entries, n_tensors, data_size);
    if (st == CNNC_OK) st = read_tensors(what, entries, n_tensors, base, list);
    cnnc__free(names);
    cnnc__free(entries);
    return st;
}

static bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static cnnc_status decode(const char *what, const uint8_t *data, size_t size, cnnc_tensor_list **out) {
    if (size < 8)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: file of %zu bytes is too short for the 8-byte header length", what, size);
    const uint64_t n = cnnc__ld_u64(data);
    if (n > ST_MAX_HEADER)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: header length %" PRIu64 " exceeds the limit of %u bytes", what, n, ST_MAX_HEADER);
    if (n > size - 8)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes after the length)",
                           what, n, size - 8);
    if (n == 0 || data[8] != '{') return bad(what, NULL, "the header does not start with '{'");
    /* a NUL-terminated copy for cJSON (n is checked against the file's size) */
    char *text = cnnc__malloc((size_t)n + 1);
    if (!text) return cnnc__oom("the safetensors header");
    memcpy(text, data + 8, (size_t)n);
    text[n] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, false);
    cnnc_status st = CNNC_OK;
    if (!root) {
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: the header is not valid JSON (error at byte %td of %" PRIu64 ")",
                         what, end ? end - text : (ptrdiff_t)0, n);
    } else {
        while (end < text + n && json_space(*end)) end++;
        if (end != text + n)
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: unexpected bytes after the JSON header (at byte %td of %" PRIu64 ")",
                             what, end - text, n);
        else if (!cJSON_IsObject(root))
            st = bad(what, NULL, "the header is not a JSON object");
    }
    cnnc_tensor_list *list = NULL;
    if (st == CNNC_OK) {
        list = cnnc_tensor_list_new();
        if (!list) st = cnnc_last_status();
    }
    if (st == CNNC_OK) st = read_header(what, root, data + 8 + n, size - 8 - n, list);
    cJSON_Delete(root);
    cnnc__free(text);
    if (st != CNNC_OK) {
        cnnc_tensor_list_free(list);
        return st;
    }
    *out = list;
    return CNNC_OK;
}

cnnc_status cnnc_safetensors_load_buffer(const void *data, size_t size, cnnc_tensor_list **out) {
    CNNC__NONNULL_OR_STATUS("safetensors_load_buffer", out);
    *out = NULL;
    if (!data && size)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "safetensors_load_buffer(): argument 'data' is NULL");
    return decode("<buffer>", data ? data : "", size, out);
}

cnnc_status cnnc_safetensors_load(const char *path, cnnc_tensor_list **out) {
    CNNC__NONNULL_OR_STATUS("safetensors_load", out);
    *out = NULL;
    CNNC__NONNULL_OR_STATUS("safetensors_load", path);
    uint8_t *data;
    size_t size;
    cnnc_status st = cnnc__read_file(path, &data, &size);
    if (st != CNNC_OK) return st;
    st = decode(path, data, size, out);
    cnnc__free(data);
    return st;
}

/* ---- writing ---------------------------------------------------------------------- */

static cJSON *json_uint_raw(uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf); /* exact digits (cJSON would print doubles) */
}

/* Every entry writable: a tensor, a name that is not __metadata__, no duplicates. */
static cnnc_status check_list(const cnnc_tensor_list *list, size_t n) {
    const char **names = cnnc__calloc(n ? n : 1, sizeof *names);
    if (!names) return cnnc__oom("safetensors_save names");
    cnnc_status st = CNNC_OK;
    for (size_t i = 0; i < n && st == CNNC_OK; i++) {
        names[i] = cnnc_tensor_list_name(list, i);
        if (!cnnc_tensor_list_get(list, i))
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                             "safetensors_save(): entry '%s' is None; safetensors stores tensors only", names[i]);
        else if (strcmp(names[i], ST_METADATA) == 0)
            st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                             "safetensors_save(): '%s' is reserved for the metadata and cannot name a tensor",
                             ST_METADATA);
    }
    const char *dup = st == CNNC_OK ? duplicate_name(names, n) : NULL;
    if (dup)
        st = cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                         "safetensors_save(): two entries are named '%s'; safetensors names are unique", dup);
    cnnc__free(names);
    return st;
}

/* The header object, or NULL (out of memory). */
static cJSON *build_header(const cnnc_tensor_list *list, size_t n) {
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    size_t n_meta = cnnc_tensor_list_meta_size(list);
    if (ok && n_meta) {
        cJSON *meta = cJSON_AddObjectToObject(root, ST_METADATA);
        ok = meta != NULL;
        for (size_t i = 0; i < n_meta && ok; i++) {
            const char *k, *v;
            cnnc_tensor_list_meta_at(list, i, &k, &v);
            ok = cJSON_AddStringToObject(meta, k, v) != NULL;
        }
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n && ok; i++) {
        const cnnc_tensor *t = cnnc_tensor_list_get(list, i);
        cJSON *e = cJSON_AddObjectToObject(root, cnnc_tensor_list_name(list, i));
        cJSON *shape = e ? cJSON_CreateArray() : NULL, *offs = shape ? cJSON_CreateArray() : NULL;
        ok = e && shape && offs && cJSON_AddStringToObject(e, "dtype", t->dtype == CNNC_FLOAT32 ? "F32" : "I64");
        if (ok) ok = cJSON_AddItemToObject(e, "shape", shape);
        if (!ok) {
            cJSON_Delete(shape);
            cJSON_Delete(offs);
            break;
        }
        ok = cJSON_AddItemToObject(e, "data_offsets", offs);
        if (!ok) cJSON_Delete(offs);
        for (int d = 0; d < t->ndim && ok; d++) ok = cJSON_AddItemToArray(shape, json_uint_raw((uint64_t)t->shape[d]));
        const uint64_t nbytes = (uint64_t)t->numel * cnnc__dtype_size(t->dtype);
        if (ok) ok = cJSON_AddItemToArray(offs, json_uint_raw(offset));
        offset += nbytes;
        if (ok) ok = cJSON_AddItemToArray(offs, json_uint_raw(offset));
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

cnnc_status cnnc_safetensors_save(const char *path, const cnnc_tensor_list *list) {
    CNNC__NONNULL_OR_STATUS("safetensors_save", path);
    CNNC__NONNULL_OR_STATUS("safetensors_save", list);
    const size_t n = cnnc_tensor_list_size(list);
    cnnc_status st = check_list(list, n);
    if (st != CNNC_OK) return st;
    cJSON *root = build_header(list, n);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return cnnc__oom("the safetensors header");
    const size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    uint8_t prefix[8];
    for (int b = 0; b < 8; b++) prefix[b] = (uint8_t)((uint64_t)padded >> (8 * b));
    cnnc__writer w;
    st = cnnc__writer_open(&w, path);
    if (st == CNNC_OK) {
        cnnc__writer_put(&w, prefix, sizeof prefix);
        cnnc__writer_put(&w, text, len);
        cnnc__writer_put(&w, "       ", padded - len);
        for (size_t i = 0; i < n; i++) cnnc__writer_put_tensor(&w, cnnc_tensor_list_get(list, i));
        st = cnnc__writer_close(&w);
    }
    cJSON_free(text);
    return st;
}
