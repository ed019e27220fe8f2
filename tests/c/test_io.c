/* The io layer: safetensors (with cJSON) and .npy round trips, every dtype the readers
 * convert, the exact bytes the writers produce, every malformed case (each error naming
 * what is wrong), module state_dicts through files, bad arguments, and
 * allocation-failure injection over every entry point. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <cnnc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_dir[64];

static const char *path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp_dir, name);
    return out;
}

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

static void bytes_free(bytes *b) {
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

static bytes read_bytes(const char *path) {
    bytes b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc((size_t)n + 1);
    b.n = fread(b.p, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static cnnc_tensor *tensor_f32(int ndim, const int64_t *shape, const float *v) {
    return cnnc_from_data(ndim, shape, CNNC_FLOAT32, v);
}

static void le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- safetensors ----------------------------------------------------------------- */
#ifdef CNNC_HAS_IO

static void test_has_io(void) { CHECK(cnnc_has_io()); }

/* A safetensors file: the 8-byte length of header (as given, no padding), then data. */
static bytes st_bytes(const char *header, const void *data, size_t n) {
    size_t h = strlen(header);
    bytes b = {malloc(8 + h + n + 1), 8 + h + n};
    for (int i = 0; i < 8; i++) b.p[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b.p + 8, header, h);
    if (n) memcpy(b.p + 8 + h, data, n);
    return b;
}


static void test_st_roundtrip(void) {
    char p[600];
    path_of(p, sizeof p, "rt.safetensors");
    const float w[6] = {1.5f, -2, 3.25f, 0, 1e-30f, -7};
    const int64_t ix[1] = {-9000000000LL};
    cnnc_tensor *a = tensor_f32(CNNC_SHAPE(2, 3), w);
    cnnc_tensor *b = cnnc_from_data(0, NULL, CNNC_INT64, ix);
    cnnc_tensor *e = cnnc_zeros(CNNC_SHAPE(0, 3), CNNC_FLOAT32);
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    REQUIRE(a && b && e && l);
    CHECK_OK(cnnc_tensor_list_append(l, "layer.weight", a));
    CHECK_OK(cnnc_tensor_list_append(l, "steps", b));
    CHECK_OK(cnnc_tensor_list_append(l, "empty", e));
    CHECK_OK(cnnc_tensor_list_set_meta(l, "format", "pt"));
    CHECK_OK(cnnc_tensor_list_set_meta(l, "quote\"d", "line\nbreak \xc3\xa9"));
    CHECK_OK(cnnc_safetensors_save(p, l));

    cnnc_tensor_list *r = NULL;
    CHECK_OK(cnnc_safetensors_load(p, &r));
    REQUIRE(r);
    REQUIRE(cnnc_tensor_list_size(r) == 3);
    CHECK_STR_EQ(cnnc_tensor_list_name(r, 0), "layer.weight");
    CHECK_STR_EQ(cnnc_tensor_list_name(r, 1), "steps");
    CHECK_STR_EQ(cnnc_tensor_list_name(r, 2), "empty");
    cnnc_tensor *ra = cnnc_tensor_list_get(r, 0), *rb = cnnc_tensor_list_get(r, 1),
                *re = cnnc_tensor_list_get(r, 2);
    CHECK_EQ_INT(cnnc_tensor_dtype(ra), CNNC_FLOAT32);
    CHECK_EQ_INT(cnnc_tensor_ndim(ra), 2);
    CHECK_EQ_INT(cnnc_tensor_size(ra, 1), 3);
    CHECK(memcmp(cnnc_tensor_data_f32(ra), w, sizeof w) == 0);
    CHECK_EQ_INT(cnnc_tensor_dtype(rb), CNNC_INT64);
    CHECK_EQ_INT(cnnc_tensor_ndim(rb), 0);
    CHECK_EQ_INT(cnnc_tensor_data_i64(rb)[0], ix[0]);
    CHECK_EQ_INT(cnnc_tensor_ndim(re), 2);
    CHECK_EQ_INT(cnnc_tensor_numel(re), 0);
    CHECK_EQ_INT(cnnc_tensor_list_meta_size(r), 2);
    CHECK_STR_EQ(cnnc_tensor_list_meta(r, "format"), "pt");
    CHECK_STR_EQ(cnnc_tensor_list_meta(r, "quote\"d"), "line\nbreak \xc3\xa9");

    /* the bytes: 8-byte length, a space-padded header of a multiple of 8, the data */
    bytes f = read_bytes(p);
    REQUIRE(f.n > 8);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) h |= (uint64_t)f.p[i] << (8 * i);
    CHECK_EQ_INT(h % 8, 0);
    CHECK_EQ_INT(f.n, 8 + h + 24 + 8);
    CHECK(f.p[8] == '{');
    const char *want = "{\"__metadata__\":{\"format\":\"pt\",\"quote\\\"d\":\"line\\nbreak \xc3\xa9\"},"
                       "\"layer.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                       "\"steps\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]},"
                       "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[32,32]}}";
    CHECK(h >= strlen(want) && h < strlen(want) + 8);
    CHECK(memcmp(f.p + 8, want, strlen(want)) == 0);
    for (size_t i = strlen(want); i < h; i++) CHECK(f.p[8 + i] == ' ');
    /* the same bytes from memory */
    cnnc_tensor_list *m = NULL;
    CHECK_OK(cnnc_safetensors_load_buffer(f.p, f.n, &m));
    CHECK_EQ_INT(cnnc_tensor_list_size(m), 3);
    cnnc_tensor_list_free(m);
    bytes_free(&f);

    /* no metadata: no __metadata__ key; an empty list is a valid file */
    cnnc_tensor_list *empty = cnnc_tensor_list_new();
    CHECK_OK(cnnc_safetensors_save(p, empty));
    f = read_bytes(p);
    CHECK_EQ_INT(f.n, 16);
    CHECK(f.n == 16 && memcmp(f.p + 8, "{}      ", 8) == 0);
    cnnc_tensor_list *r2 = NULL;
    CHECK_OK(cnnc_safetensors_load(p, &r2));
    CHECK_EQ_INT(cnnc_tensor_list_size(r2), 0);
    CHECK_EQ_INT(cnnc_tensor_list_meta_size(r2), 0);
    cnnc_tensor_list_free(r2);
    cnnc_tensor_list_free(empty);
    bytes_free(&f);
    remove(p);
    cnnc_tensor_list_free(r);
    cnnc_tensor_list_free(l);
    cnnc_tensor_release(a);
    cnnc_tensor_release(b);
    cnnc_tensor_release(e);
}

/* Every readable dtype, its conversion, and file order by offset (the header lists
 * them in another order). */
static void test_st_dtypes(void) {
    uint8_t d[256] = {0};
    size_t o = 0;
    /* F16 [5]: 1.0, -2.5, 2^-24 (smallest subnormal), inf, -0 */
    const uint16_t h[5] = {0x3c00, 0xc100, 0x0001, 0x7c00, 0x8000};
    for (int i = 0; i < 5; i++) le(d + o + 2 * i, h[i], 2);
    o += 10;
    /* BF16 [2]: 1.5, -3.0 */
    le(d + o, 0x3fc0, 2), le(d + o + 2, 0xc040, 2), o += 4;
    /* F64 [2]: 0.1 (rounds to float), 1e300 (inf) */
    double f64[2] = {0.1, 1e300};
    uint64_t u;
    for (int i = 0; i < 2; i++) memcpy(&u, &f64[i], 8), le(d + o + 8 * i, u, 8);
    o += 16;
    /* I32 [2]: -5, 2147483647 */
    le(d + o, (uint32_t)-5, 4), le(d + o + 4, 2147483647u, 4), o += 8;
    /* U8 [2]: 0, 255; BOOL [3]: 1 0 1; I8 [1]: -128; I16 [1]: -300; U16 [1]: 65535; U32 [1] */
    d[o++] = 0, d[o++] = 255;
    d[o++] = 1, d[o++] = 0, d[o++] = 1;
    d[o++] = 0x80;
    le(d + o, (uint16_t)-300, 2), o += 2;
    le(d + o, 65535, 2), o += 2;
    le(d + o, 4000000000u, 4), o += 4;
    /* F32 [1] */
    float one = -0.75f;
    uint32_t u32;
    memcpy(&u32, &one, 4), le(d + o, u32, 4), o += 4;
    /* I64 [1] */
    le(d + o, (uint64_t)INT64_MIN, 8), o += 8;
    char header[1024];
    snprintf(header, sizeof header,
             "{\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[%zu,%zu]},"
             "\"f16\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},"
             "\"f32\":{\"data_offsets\":[%zu,%zu],\"shape\":[1,1],\"dtype\":\"F32\"},"
             "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[10,14]},"
             "\"f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[14,30]},"
             "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[30,38]},"
             "\"u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[38,40]},"
             "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[40,43]},"
             "\"i8\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[43,44]},"
             "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[44,46]},"
             "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[46,48]},"
             "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[48,52]},"
             "\"__metadata__\":{}}   \n",
             o - 8, o, o - 12, o - 8);
    bytes b = st_bytes(header, d, o);
    cnnc_tensor_list *l = NULL;
    CHECK_OK(cnnc_safetensors_load_buffer(b.p, b.n, &l));
    bytes_free(&b);
    REQUIRE(l);
    const char *order[] = {"f16", "bf16", "f64", "i32", "u8", "bool", "i8", "i16", "u16", "u32", "f32", "i64"};
    REQUIRE(cnnc_tensor_list_size(l) == 12);
    for (size_t i = 0; i < 12; i++) CHECK_STR_EQ(cnnc_tensor_list_name(l, i), order[i]);
    const float *f = cnnc_tensor_data_f32(cnnc_tensor_list_get(l, 0));
    CHECK(f[0] == 1.0f && f[1] == -2.5f && f[2] == 0x1p-24f && f[3] == INFINITY && f[4] == 0.0f &&
          signbit(f[4]));
    f = cnnc_tensor_data_f32(cnnc_tensor_list_get(l, 1));
    CHECK(f[0] == 1.5f && f[1] == -3.0f);
    f = cnnc_tensor_data_f32(cnnc_tensor_list_get(l, 2));
    CHECK(f[0] == 0.1f && f[1] == INFINITY);
    const int64_t want_i[][3] = {{-5, 2147483647}, {0, 255}, {1, 0, 1}, {-128}, {-300}, {65535}, {4000000000LL}};
    const int n_i[] = {2, 2, 3, 1, 1, 1, 1};
    for (int k = 0; k < 7; k++) {
        cnnc_tensor *t = cnnc_tensor_list_get(l, 3 + (size_t)k);
        CHECK_EQ_INT(cnnc_tensor_dtype(t), CNNC_INT64);
        CHECK_EQ_INT(cnnc_tensor_numel(t), n_i[k]);
        for (int i = 0; i < n_i[k]; i++) CHECK_EQ_INT(cnnc_tensor_data_i64(t)[i], want_i[k][i]);
    }
    CHECK_EQ_INT(cnnc_tensor_ndim(cnnc_tensor_list_get(l, 6)), 0);
    CHECK(cnnc_tensor_data_f32(cnnc_tensor_list_get(l, 10))[0] == -0.75f);
    CHECK_EQ_INT(cnnc_tensor_data_i64(cnnc_tensor_list_get(l, 11))[0], INT64_MIN);
    CHECK_EQ_INT(cnnc_tensor_list_meta_size(l), 0);
    cnnc_tensor_list_free(l);
}

/* One malformed buffer: an error naming `needle`, nothing returned. */
#define EXPECT_ST_ERROR(b, needle)                                     \
    do {                                                               \
        bytes b_ = (b);                                                \
        cnnc_tensor_list *l_ = (cnnc_tensor_list *)&l_;                \
        CHECK_ERR(cnnc_safetensors_load_buffer(b_.p, b_.n, &l_));      \
        CHECK(l_ == NULL);                                             \
        CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_INVALID_ARGUMENT);   \
        CHECK_ERROR_CONTAINS(needle);                                  \
        bytes_free(&b_);                                               \
    } while (0)

#define ST1(entry) "{\"a\":" entry "}"

static void test_st_malformed(void) {
    const uint8_t z[64] = {0};
    const uint8_t two[1] = {2};
    EXPECT_ST_ERROR(((bytes){calloc(1, 5), 5}), "file of 5 bytes is too short");
    EXPECT_ST_ERROR(((bytes){calloc(1, 1), 0}), "file of 0 bytes is too short");
    bytes past = st_bytes("{}", NULL, 0);
    past.p[0] = 3;
    EXPECT_ST_ERROR(past, "header length 3 runs past the end of the file (2 bytes");
    bytes huge = st_bytes("{}", NULL, 0);
    huge.p[7] = 0xff; /* 2^63 and more: no allocation, no overflow */
    EXPECT_ST_ERROR(huge, "exceeds the limit");
    EXPECT_ST_ERROR(st_bytes(" {}", NULL, 0), "does not start with '{'");
    EXPECT_ST_ERROR(st_bytes("", NULL, 0), "does not start with '{'");
    EXPECT_ST_ERROR(st_bytes("{\"a\":", NULL, 0), "not valid JSON");
    EXPECT_ST_ERROR(st_bytes("{\"a\" 1}", NULL, 0), "not valid JSON");
    EXPECT_ST_ERROR(st_bytes("{} x", NULL, 0), "unexpected bytes after the JSON header");
    bytes nul = st_bytes("{}   ", NULL, 0);
    nul.p[10] = '\0'; /* a NUL inside the header is not JSON whitespace */
    EXPECT_ST_ERROR(nul, "unexpected bytes after the JSON header (at byte 2 of 5)");
    EXPECT_ST_ERROR(st_bytes("{\"a\":1,}", NULL, 0), "not valid JSON");
    /* duplicates */
    EXPECT_ST_ERROR(st_bytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                             "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", z, 2),
                    "duplicate name 'a'");
    EXPECT_ST_ERROR(st_bytes("{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0), "duplicate name '__metadata__'");
    EXPECT_ST_ERROR(st_bytes("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", NULL, 0), "duplicate __metadata__ key \"k\"");
    /* metadata */
    EXPECT_ST_ERROR(st_bytes("{\"__metadata__\":{\"k\":1}}", NULL, 0), "__metadata__ value of \"k\" is not a string");
    EXPECT_ST_ERROR(st_bytes("{\"__metadata__\":{\"k\":null}}", NULL, 0), "is not a string");
    EXPECT_ST_ERROR(st_bytes("{\"__metadata__\":[\"k\"]}", NULL, 0), "__metadata__ must be an object");
    /* entries */
    EXPECT_ST_ERROR(st_bytes(ST1("[]"), NULL, 0), "tensor 'a': entry must be an object");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"shape\":[1],\"data_offsets\":[0,1]}"), z, 1), "missing \"dtype\"");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"data_offsets\":[0,1]}"), z, 1), "missing \"shape\"");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1]}"), z, 1), "missing \"data_offsets\"");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}"), z, 1),
                    "unexpected field \"x\"");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}"), z, 1),
                    "duplicate field \"dtype\"");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}"), z, 4),
                    "tensor 'a': unknown dtype \"F31\"");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}"), z, 4), "\"dtype\" must be a string");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]}"), z, 8),
                    "dtype U64 is not supported");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}"), z, 1), "\"shape\" must be an array");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}"), z, 1),
                    "shape entry 0 is not a non-negative integer");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1,1.5],\"data_offsets\":[0,1]}"), z, 1),
                    "shape entry 1 is not a non-negative integer");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[\"1\"],\"data_offsets\":[0,1]}"), z, 1),
                    "shape entry 0");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}"), z, 1),
                    "shape has 9 dimensions; cnnc tensors have at most 8");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}"), z, 1),
                    "\"data_offsets\" must be [begin, end]");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}"), z, 2), "\"data_offsets\" must be");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1e20]}"), z, 1), "\"data_offsets\" must be");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}"), z, 1), "\"data_offsets\" must be");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,1]}"), z, 2),
                    "data_offsets [2, 1] end before they begin");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"), z, 7),
                    "tensor 'a': data_offsets [0, 8] run past the end of the data (7 bytes)");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}"), z, 8),
                    "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] hold 8");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"F64\",\"shape\":[4503599627370495,4503599627370495],"
                                 "\"data_offsets\":[0,8]}"), z, 8),
                    "overflows");
    /* shape products that wrap to the right byte count: 2^62 * 2^2 F32 elements (cnnc's
     * limit is bytes, not numel: the product is checked, never wrapped) */
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],"
                                 "\"data_offsets\":[0,0]}"), z, 0),
                    "the byte size of shape [4294967296, 4294967296, 4294967296] of U8 overflows");
    /* tiling */
    EXPECT_ST_ERROR(st_bytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                             "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", z, 3),
                    "tensor 'b': data_offsets [1, 3] overlap the tensor before");
    EXPECT_ST_ERROR(st_bytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                             "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", z, 2),
                    "overlap");
    EXPECT_ST_ERROR(st_bytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                             "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}", z, 3),
                    "tensor 'b': data_offsets [2, 3] leave a gap of 1 bytes after offset 1");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}"), z, 2), "leave a gap");
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}"), z, 3),
                    "the tensors cover 1 bytes of data but the file holds 3");
    EXPECT_ST_ERROR(st_bytes("{}", z, 1), "cover 0 bytes");
    /* values */
    EXPECT_ST_ERROR(st_bytes(ST1("{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}"), two, 1),
                    "tensor 'a': BOOL element 0 is 2, not 0 or 1");
    /* a valid file cut short */
    bytes ok = st_bytes(ST1("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"), z, 8);
    cnnc_tensor_list *l = NULL;
    CHECK_OK(cnnc_safetensors_load_buffer(ok.p, ok.n, &l));
    cnnc_tensor_list_free(l);
    for (size_t cut = 0; cut < ok.n; cut++) {
        l = NULL;
        CHECK_ERR(cnnc_safetensors_load_buffer(ok.p, cut, &l));
        CHECK(l == NULL);
    }
    bytes_free(&ok);
}

static void test_st_files(void) {
    char p[600], q[600];
    cnnc_tensor_list *l = (cnnc_tensor_list *)&l;
    CHECK_STATUS(cnnc_safetensors_load(path_of(p, sizeof p, "missing.safetensors"), &l), CNNC_ERR_IO);
    CHECK(l == NULL);
    CHECK_ERROR_CONTAINS("missing.safetensors");
    CHECK_STATUS(cnnc_safetensors_load(tmp_dir, &l), CNNC_ERR_IO);
    CHECK_ERROR_CONTAINS("not a regular file");
    /* a malformed file's error names the file */
    bytes b = st_bytes("{\"a\":{}}", NULL, 0);
    write_bytes(path_of(p, sizeof p, "bad.safetensors"), b.p, b.n);
    bytes_free(&b);
    CHECK_ERR(cnnc_safetensors_load(p, &l));
    CHECK_ERROR_CONTAINS(p);
    CHECK_ERROR_CONTAINS("tensor 'a': missing \"dtype\"");
    remove(p);
    /* arguments */
    CHECK_ERR(cnnc_safetensors_load(NULL, &l));
    CHECK_ERROR_CONTAINS("argument 'path' is NULL");
    CHECK_ERR(cnnc_safetensors_load(p, NULL));
    CHECK_ERR(cnnc_safetensors_load_buffer(NULL, 4, &l));
    CHECK_ERR(cnnc_safetensors_load_buffer(NULL, 0, &l)); /* an empty buffer: too short */
    CHECK_ERROR_CONTAINS("too short");
    cnnc_tensor_list *s = cnnc_tensor_list_new();
    CHECK_ERR(cnnc_safetensors_save(NULL, s));
    CHECK_ERR(cnnc_safetensors_save(p, NULL));
    CHECK_STATUS(cnnc_safetensors_save(path_of(q, sizeof q, "no/such/dir.safetensors"), s), CNNC_ERR_IO);
    CHECK_ERROR_CONTAINS("no/such/dir.safetensors");
    /* what safetensors cannot hold */
    cnnc_tensor *t = cnnc_ones(CNNC_SHAPE(2), CNNC_FLOAT32);
    CHECK_OK(cnnc_tensor_list_append(s, "a", t));
    CHECK_OK(cnnc_tensor_list_append(s, "none", NULL));
    CHECK_ERR(cnnc_safetensors_save(p, s));
    CHECK_ERROR_CONTAINS("entry 'none' is None");
    cnnc_tensor_list_free(s);
    s = cnnc_tensor_list_new();
    CHECK_OK(cnnc_tensor_list_append(s, "__metadata__", t));
    CHECK_ERR(cnnc_safetensors_save(p, s));
    CHECK_ERROR_CONTAINS("reserved for the metadata");
    cnnc_tensor_list_free(s);
    s = cnnc_tensor_list_new();
    CHECK_OK(cnnc_tensor_list_append(s, "a", t));
    CHECK_OK(cnnc_tensor_list_append(s, "b", t));
    CHECK_OK(cnnc_tensor_list_append(s, "a", t));
    CHECK_ERR(cnnc_safetensors_save(p, s));
    CHECK_ERROR_CONTAINS("two entries are named 'a'");
    struct stat st;
    CHECK(stat(p, &st) != 0); /* nothing written */
    cnnc_tensor_list_free(s);
    cnnc_tensor_release(t);
}

/* state_dict through a file: Conv2d + BatchNorm2d (num_batches_tracked is I64). */
static cnnc_module *small_net(void) {
    return cnnc_sequential_new(2, (cnnc_module *[]){
        cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3))),
        cnnc_batchnorm2d_new(3, CNNC_BATCHNORM())});
}

static void test_module_io(void) {
    char p[600];
    path_of(p, sizeof p, "net.safetensors");
    cnnc_manual_seed(1);
    cnnc_module *a = small_net();
    cnnc_manual_seed(2);
    cnnc_module *b = small_net();
    REQUIRE(a && b);
    /* a's running stats and step count move */
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 2, 5, 5));
    cnnc_tensor *y = cnnc_module_forward(a, x);
    REQUIRE(y);
    CHECK_OK(cnnc_module_save(a, p));
    cnnc_tensor_list *file = NULL;
    CHECK_OK(cnnc_safetensors_load(p, &file));
    REQUIRE(file);
    const char *keys[] = {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                          "1.num_batches_tracked"};
    REQUIRE(cnnc_tensor_list_size(file) == 7);
    for (size_t i = 0; i < 7; i++) CHECK_STR_EQ(cnnc_tensor_list_name(file, i), keys[i]);
    cnnc_tensor *nbt = cnnc_tensor_list_get(file, 6);
    CHECK_EQ_INT(cnnc_tensor_dtype(nbt), CNNC_INT64);
    CHECK_EQ_INT(cnnc_tensor_data_i64(nbt)[0], 1);
    cnnc_tensor_list_free(file);

    CHECK_OK(cnnc_module_load(b, p, true));
    cnnc_tensor_list *sa = cnnc_module_state_dict(a), *sb = cnnc_module_state_dict(b);
    REQUIRE(sa && sb);
    for (size_t i = 0; i < 7; i++) {
        cnnc_tensor *ta = cnnc_tensor_list_get(sa, i), *tb = cnnc_tensor_list_get(sb, i);
        CHECK_EQ_INT(cnnc_tensor_dtype(ta), cnnc_tensor_dtype(tb));
        size_t nbytes = (size_t)cnnc_tensor_numel(ta) * (cnnc_tensor_dtype(ta) == CNNC_FLOAT32 ? 4 : 8);
        CHECK(memcmp(cnnc_tensor_data(ta), cnnc_tensor_data(tb), nbytes) == 0);
    }
    cnnc_tensor_list_free(sa);
    cnnc_tensor_list_free(sb);
    /* strict: a module with other keys is an error naming them, non-strict loads what fits */
    cnnc_module *other = cnnc_sequential_new(1, (cnnc_module *[]){
        cnnc_conv2d_new(2, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3)))});
    CHECK_ERR(cnnc_module_load(other, p, true));
    CHECK_ERROR_CONTAINS("Unexpected key(s) in state_dict: \"1.weight\"");
    CHECK_OK(cnnc_module_load(other, p, false));
    cnnc_tensor *w = NULL;
    CHECK_OK(cnnc_module_tensor(other, "0.weight", &w));
    cnnc_tensor *wa = NULL;
    CHECK_OK(cnnc_module_tensor(a, "0.weight", &wa));
    CHECK(w && wa && memcmp(cnnc_tensor_data(w), cnnc_tensor_data(wa), 3 * 2 * 9 * 4) == 0);
    /* a shape mismatch is PyTorch's error */
    cnnc_module *wrong = cnnc_sequential_new(2, (cnnc_module *[]){
        cnnc_conv2d_new(2, 4, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3))),
        cnnc_batchnorm2d_new(4, CNNC_BATCHNORM())});
    CHECK_ERR(cnnc_module_load(wrong, p, true));
    CHECK_ERROR_CONTAINS("size mismatch for 0.weight");
    CHECK_ERR(cnnc_module_load(wrong, "/nonexistent/x.safetensors", true));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_IO);
    CHECK_ERR(cnnc_module_save(NULL, p));
    CHECK_ERR(cnnc_module_save(a, NULL));
    CHECK_ERR(cnnc_module_load(NULL, p, true));
    CHECK_ERR(cnnc_module_load(a, NULL, true));
    remove(p);
    cnnc_module_release(wrong);
    cnnc_module_release(other);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    cnnc_module_release(a);
    cnnc_module_release(b);
}
#else
static void test_has_io(void) { CHECK(!cnnc_has_io()); }
#endif /* CNNC_HAS_IO */

/* ---- .npy -------------------------------------------------------------------------- */

/* A .npy file: magic, version, header length (2 or 4 bytes), the dict as given, data. */
static bytes npy_bytes(int major, const char *dict, const void *data, size_t n) {
    size_t h = strlen(dict), lb = major == 1 ? 2 : 4;
    bytes b = {malloc(8 + lb + h + n + 1), 8 + lb + h + n};
    memcpy(b.p, "\x93NUMPY", 6);
    b.p[6] = (uint8_t)major, b.p[7] = 0;
    for (size_t i = 0; i < lb; i++) b.p[8 + i] = (uint8_t)(h >> (8 * i));
    memcpy(b.p + 8 + lb, dict, h);
    if (n) memcpy(b.p + 8 + lb + h, data, n);
    return b;
}

static void test_npy_roundtrip(void) {
    char p[600];
    path_of(p, sizeof p, "t.npy");
    const float v[24] = {1, -2, 3.5f, 1e-38f, -0.0f, 7};
    const int64_t shapes[][3] = {{0}, {6}, {2, 3}, {2, 3, 4}, {0, 5}};
    const int ndims[] = {0, 1, 2, 3, 2};
    const char *texts[] = {"()", "(6,)", "(2, 3)", "(2, 3, 4)", "(0, 5)"};
    for (int k = 0; k < 5; k++) {
        for (int dt = 0; dt < 2; dt++) {
            cnnc_tensor *t = dt ? cnnc_arange(-3, 21, 1, CNNC_INT64) : tensor_f32(1, (const int64_t[]){24}, v);
            cnnc_tensor *s = cnnc_reshape(t, 1, (const int64_t[]){24});
            int64_t n = 1;
            for (int i = 0; i < ndims[k]; i++) n *= shapes[k][i];
            cnnc_tensor *u = cnnc_narrow(s, 0, 0, n);
            cnnc_tensor *w = cnnc_reshape(u, ndims[k], shapes[k]);
            REQUIRE(w);
            CHECK_OK(cnnc_npy_save(p, w));
            bytes f = read_bytes(p);
            char want[128];
            snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     dt ? "<i8" : "<f4", texts[k]);
            CHECK(f.n >= 10 && memcmp(f.p, "\x93NUMPY\x01\x00", 8) == 0);
            size_t hl = f.p[8] | (size_t)f.p[9] << 8;
            CHECK_EQ_INT((10 + hl) % 64, 0);
            CHECK(memcmp(f.p + 10, want, strlen(want)) == 0);
            CHECK(f.p[10 + hl - 1] == '\n');
            CHECK_EQ_INT(f.n, 10 + hl + (size_t)n * (dt ? 8 : 4));
            cnnc_tensor *r = NULL;
            CHECK_OK(cnnc_npy_load(p, &r));
            REQUIRE(r);
            CHECK_EQ_INT(cnnc_tensor_dtype(r), dt ? CNNC_INT64 : CNNC_FLOAT32);
            CHECK_EQ_INT(cnnc_tensor_ndim(r), ndims[k]);
            for (int i = 0; i < ndims[k]; i++) CHECK_EQ_INT(cnnc_tensor_size(r, i), shapes[k][i]);
            CHECK(memcmp(cnnc_tensor_data(r), cnnc_tensor_data(w), (size_t)n * (dt ? 8 : 4)) == 0);
            cnnc_tensor *m = NULL;
            CHECK_OK(cnnc_npy_load_buffer(f.p, f.n, &m));
            CHECK(m && cnnc_tensor_numel(m) == n);
            cnnc_tensor_release(m);
            bytes_free(&f);
            cnnc_tensor_release(r);
            cnnc_tensor_release(w);
            cnnc_tensor_release(u);
            cnnc_tensor_release(s);
            cnnc_tensor_release(t);
        }
    }
    remove(p);
}

/* Versions 2 and 3, the other dtypes, np.save's variations of the dict. */
static void test_npy_variants(void) {
    double d[2] = {0.1, -1e300};
    cnnc_tensor *t = NULL;
    bytes b = npy_bytes(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }      \n", d, 16);
    CHECK_OK(cnnc_npy_load_buffer(b.p, b.n, &t));
    REQUIRE(t);
    CHECK(cnnc_tensor_data_f32(t)[0] == 0.1f && cnnc_tensor_data_f32(t)[1] == -INFINITY);
    cnnc_tensor_release(t);
    bytes_free(&b);
    const uint8_t u[4] = {0, 1, 255, 7};
    b = npy_bytes(3, "{\"shape\": (2L, 2L), \"fortran_order\": False, \"descr\": \"|u1\"}\n", u, 4);
    CHECK_OK(cnnc_npy_load_buffer(b.p, b.n, &t));
    REQUIRE(t);
    CHECK_EQ_INT(cnnc_tensor_dtype(t), CNNC_INT64);
    CHECK(cnnc_tensor_data_i64(t)[2] == 255 && cnnc_tensor_data_i64(t)[3] == 7);
    cnnc_tensor_release(t);
    bytes_free(&b);
    const uint8_t bools[3] = {0, 1, 1};
    b = npy_bytes(1, "{'descr':'|b1','fortran_order':False,'shape':(3,)}", bools, 3);
    CHECK_OK(cnnc_npy_load_buffer(b.p, b.n, &t));
    REQUIRE(t);
    CHECK(cnnc_tensor_data_i64(t)[0] == 0 && cnnc_tensor_data_i64(t)[1] == 1);
    cnnc_tensor_release(t);
    bytes_free(&b);
    const uint16_t h[2] = {0x3c00, 0xfc00}; /* 1, -inf (little-endian host, as the test data) */
    uint8_t hb[4];
    le(hb, h[0], 2), le(hb + 2, h[1], 2);
    b = npy_bytes(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", hb, 4);
    CHECK_OK(cnnc_npy_load_buffer(b.p, b.n, &t));
    REQUIRE(t);
    CHECK(cnnc_tensor_data_f32(t)[0] == 1.0f && cnnc_tensor_data_f32(t)[1] == -INFINITY);
    cnnc_tensor_release(t);
    bytes_free(&b);
    uint8_t i4[8];
    le(i4, (uint32_t)-7, 4), le(i4 + 4, 9, 4);
    b = npy_bytes(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", i4, 8);
    CHECK_OK(cnnc_npy_load_buffer(b.p, b.n, &t));
    REQUIRE(t);
    CHECK(cnnc_tensor_data_i64(t)[0] == -7 && cnnc_tensor_data_i64(t)[1] == 9);
    cnnc_tensor_release(t);
    bytes_free(&b);
}

#define EXPECT_NPY_ERROR(b, needle)                                  \
    do {                                                             \
        bytes b_ = (b);                                              \
        cnnc_tensor *t_ = (cnnc_tensor *)&t_;                        \
        CHECK_ERR(cnnc_npy_load_buffer(b_.p, b_.n, &t_));            \
        CHECK(t_ == NULL);                                           \
        CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_INVALID_ARGUMENT); \
        CHECK_ERROR_CONTAINS(needle);                                \
        bytes_free(&b_);                                             \
    } while (0)

#define NPY(shape_descr) "{'descr': " shape_descr "}"

static void test_npy_malformed(void) {
    const uint8_t z[64] = {0};
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    EXPECT_NPY_ERROR(((bytes){calloc(1, 4), 4}), "not a .npy file");
    EXPECT_NPY_ERROR(((bytes){(uint8_t *)strdup("\x93NUMPX\x01\x00"), 8}), "not a .npy file");
    bytes v = npy_bytes(1, good, z, 8);
    v.p[6] = 4;
    EXPECT_NPY_ERROR(v, "format version 4.0 is not supported");
    v = npy_bytes(1, good, z, 8);
    v.p[7] = 1;
    EXPECT_NPY_ERROR(v, "format version 1.1");
    v = npy_bytes(2, good, z, 8);
    v.n = 10; /* version 2's length needs 4 bytes */
    EXPECT_NPY_ERROR(v, "truncated .npy file");
    v = npy_bytes(1, good, z, 8);
    v.p[9] = 0x7f;
    EXPECT_NPY_ERROR(v, "header length 32569 runs past the end of the file (65 bytes after the length)");
    v = npy_bytes(3, good, z, 8);
    v.p[11] = 0xff;
    EXPECT_NPY_ERROR(v, "runs past the end");
    EXPECT_NPY_ERROR(npy_bytes(1, good, z, 7), "needs 8 bytes of data, the file holds 7 (truncated)");
    EXPECT_NPY_ERROR(npy_bytes(1, good, z, 9), "the file holds 9 (trailing bytes)");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", z, 8),
                     "Fortran order");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", z, 8),
                     "big-endian .npy dtype '>f4'");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", z, 16),
                     ".npy dtype '<c8' is not supported");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", z, 8),
                     "structured dtypes are not supported");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False}", z, 8), "has no 'shape'");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'shape': (2,)}", z, 8), "has no 'fortran_order'");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'descr': '<f4', 'shape': (2,)}", z, 8), "duplicate key 'descr'");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", z, 8),
                     "unexpected key 'x'");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", z, 8),
                     "True or False");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", z, 8),
                     "',' in a 1-tuple");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}", z, 8),
                     "a non-negative integer");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", z, 8),
                     "'(' starting the shape tuple");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", z, 8),
                     "',' or ')'");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", z, 8),
                     "overflows int64");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", z, 8),
                     "shape [4294967296, 4294967296] of <f4 overflows");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", z, 4),
                     "more than 8 dimensions");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", z, 8),
                     "only spaces and a newline after the header dict");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", z, 8), "ends early");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '<f\\4', 'fortran_order': False, 'shape': (2,)}", z, 8), "descr");
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr' '<f4'}", z, 8), "':' after a key");
    EXPECT_NPY_ERROR(npy_bytes(1, "", z, 8), "ends early");
    const uint8_t two[1] = {2};
    EXPECT_NPY_ERROR(npy_bytes(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (1,)}", two, 1),
                     "bool element 0 is 2");
    /* every prefix of a valid file fails cleanly */
    bytes ok = npy_bytes(1, good, z, 8);
    for (size_t cut = 0; cut < ok.n; cut++) {
        cnnc_tensor *t = NULL;
        CHECK_ERR(cnnc_npy_load_buffer(ok.p, cut, &t));
        CHECK(t == NULL);
    }
    bytes_free(&ok);
    /* files and arguments */
    char p[600];
    cnnc_tensor *t = NULL;
    CHECK_STATUS(cnnc_npy_load(path_of(p, sizeof p, "missing.npy"), &t), CNNC_ERR_IO);
    CHECK_ERROR_CONTAINS("missing.npy");
    bytes bad = npy_bytes(1, good, z, 3);
    write_bytes(path_of(p, sizeof p, "bad.npy"), bad.p, bad.n);
    bytes_free(&bad);
    CHECK_ERR(cnnc_npy_load(p, &t));
    CHECK_ERROR_CONTAINS(p);
    remove(p);
    CHECK_ERR(cnnc_npy_load(NULL, &t));
    CHECK_ERR(cnnc_npy_load(p, NULL));
    CHECK_ERR(cnnc_npy_load_buffer(NULL, 3, &t));
    cnnc_tensor *one = cnnc_ones(CNNC_SHAPE(1), CNNC_FLOAT32);
    CHECK_ERR(cnnc_npy_save(NULL, one));
    CHECK_ERR(cnnc_npy_save(p, NULL));
    CHECK_STATUS(cnnc_npy_save("/nonexistent-dir/x.npy", one), CNNC_ERR_IO);
    cnnc_tensor_release(one);
}

/* ---- allocation-failure injection ---------------------------------------------------- */

typedef struct injector {
    long fail_at, count, injected, live;
} injector;
static injector inj;
static void *inj_alloc(void *ctx, size_t size) {
    (void)ctx;
    if (++inj.count == inj.fail_at) {
        inj.injected++;
        return NULL;
    }
    void *p = malloc(size);
    if (p) inj.live++;
    return p;
}
static void inj_free(void *ctx, void *p) {
    (void)ctx;
    if (p) inj.live--;
    free(p);
}
static const cnnc_allocator injecting = {inj_alloc, inj_free, NULL};

#define N_SCENARIOS 5

/* One scenario per entry point over the files made by test_alloc_failures: true and a
 * checksum of the result, or false with the error set. */
static bool scenario(int which, double *sum) {
    char st[600], npy[600], out[600];
    path_of(st, sizeof st, "inj.safetensors");
    path_of(npy, sizeof npy, "inj.npy");
    path_of(out, sizeof out, "inj_out");
    *sum = 0;
    if (which == 0) {
        cnnc_tensor *t = NULL;
        if (cnnc_npy_load(npy, &t) != CNNC_OK) return false;
        for (int64_t i = 0; i < cnnc_tensor_numel(t); i++) *sum += cnnc_tensor_data_f32(t)[i];
        cnnc_tensor_release(t);
        return true;
    }
    if (which == 1) {
        cnnc_tensor *t = cnnc_ones(CNNC_SHAPE(3, 2), CNNC_FLOAT32);
        bool ok = t && cnnc_npy_save(out, t) == CNNC_OK;
        cnnc_tensor_release(t);
        return ok;
    }
#ifdef CNNC_HAS_IO
    if (which == 2) {
        cnnc_tensor_list *l = NULL;
        if (cnnc_safetensors_load(st, &l) != CNNC_OK) return false;
        for (size_t k = 0; k < cnnc_tensor_list_size(l); k++) {
            cnnc_tensor *t = cnnc_tensor_list_get(l, k);
            for (int64_t i = 0; i < cnnc_tensor_numel(t); i++)
                *sum += cnnc_tensor_dtype(t) == CNNC_FLOAT32 ? cnnc_tensor_data_f32(t)[i]
                                                             : (double)cnnc_tensor_data_i64(t)[i];
        }
        *sum += (double)strlen(cnnc_tensor_list_meta(l, "k"));
        cnnc_tensor_list_free(l);
        return true;
    }
    cnnc_module *m = cnnc_batchnorm2d_new(3, CNNC_BATCHNORM());
    if (!m) return false;
    bool ok = which == 3 ? cnnc_module_save(m, out) == CNNC_OK : cnnc_module_load(m, st, false) == CNNC_OK;
    cnnc_module_release(m);
    return ok;
#else
    return true;
#endif
}

static void test_alloc_failures(void) {
    char p[600];
    const float v[6] = {1, 2, 3, 4, 5, 6};
    cnnc_tensor *t = tensor_f32(CNNC_SHAPE(2, 3), v);
    REQUIRE(t);
    CHECK_OK(cnnc_npy_save(path_of(p, sizeof p, "inj.npy"), t));
#ifdef CNNC_HAS_IO
    cnnc_tensor_list *l = cnnc_tensor_list_new();
    cnnc_tensor *steps = cnnc_full(0, NULL, 5, CNNC_INT64), *w = tensor_f32(CNNC_SHAPE(3), v);
    CHECK_OK(cnnc_tensor_list_append(l, "weight", w));
    CHECK_OK(cnnc_tensor_list_append(l, "num_batches_tracked", steps));
    CHECK_OK(cnnc_tensor_list_set_meta(l, "k", "value"));
    CHECK_OK(cnnc_safetensors_save(path_of(p, sizeof p, "inj.safetensors"), l));
    cnnc_tensor_list_free(l);
    cnnc_tensor_release(steps);
    cnnc_tensor_release(w);
#endif
    cnnc_tensor_release(t);
    for (int which = 0; which < N_SCENARIOS; which++) {
        double want, got;
        REQUIRE(scenario(which, &want));
        long failures = 0;
        for (long n = 1; n < 10000; n++) {
            inj = (injector){.fail_at = n};
            cnnc_set_allocator(&injecting);
            cnnc_clear_error();
            bool ok = scenario(which, &got);
            cnnc_set_allocator(NULL);
            check_checks_run_++;
            if (inj.live != 0)
                check_fail_(__FILE__, __LINE__, "scenario %d, failing allocation %ld: %ld blocks leaked",
                            which, n, inj.live);
            if (ok) {
                CHECK(got == want);
                if (inj.injected == 0) break; /* every allocation was tried */
                continue;
            }
            failures++;
            if (cnnc_last_status() != CNNC_ERR_OUT_OF_MEMORY || !check_contains_(cnnc_last_error(), "out of memory"))
                check_fail_(__FILE__, __LINE__, "scenario %d, failing allocation %ld: %s \"%s\"", which, n,
                            cnnc_status_name(cnnc_last_status()), cnnc_last_error());
        }
        printf("allocation failures: scenario %d failed cleanly at %ld points\n", which, failures);
#ifndef CNNC_HAS_IO
        if (which >= 2) continue;
#endif
        CHECK(failures > 0);
    }
    const char *names[] = {"inj.npy", "inj.safetensors", "inj_out"};
    for (size_t i = 0; i < 3; i++) remove(path_of(p, sizeof p, names[i]));
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cnnc_test_io_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN_TEST(test_has_io);
#ifdef CNNC_HAS_IO
    RUN_TEST(test_st_roundtrip);
    RUN_TEST(test_st_dtypes);
    RUN_TEST(test_st_malformed);
    RUN_TEST(test_st_files);
    RUN_TEST(test_module_io);
#endif
    RUN_TEST(test_npy_roundtrip);
    RUN_TEST(test_npy_variants);
    RUN_TEST(test_npy_malformed);
    RUN_TEST(test_alloc_failures);
    rmdir(tmp_dir);
    return check_summary();
}
