/* The data layer: IDX and CIFAR-10 readers on small files written here (raw and gzip),
 * every malformed case, the synthetic set's determinism and balance, the loader's
 * order, drop_last, shuffle, crop, flip and normalisation, batch reuse, bad arguments,
 * and allocation-failure injection over every entry point. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <cnnc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef CNNC_HAVE_ZLIB
#include <zlib.h>
#endif

/* ---- files ---------------------------------------------------------------------- */

static char tmp_dir[64];

/* tmp_dir/name in out (the test's own scratch folder). */
static const char *path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp_dir, name);
    return out;
}

static void write_bytes(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    if (n) fwrite(p, 1, n, f);
    fclose(f);
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

/* An IDX file: 00 00 type ndim, big-endian dims, then n payload bytes. */
static bytes idx_bytes(uint8_t type, int ndim, const uint32_t *dims, const uint8_t *payload,
                       size_t n) {
    bytes b = {malloc(4 + 4 * (size_t)ndim + n + 1), 4 + 4 * (size_t)ndim + n};
    b.p[0] = 0, b.p[1] = 0, b.p[2] = type, b.p[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++) b.p[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    if (n) memcpy(b.p + 4 + 4 * ndim, payload, n);
    return b;
}

#ifdef CNNC_HAVE_ZLIB
/* A gzip member holding in[0..n). */
static bytes gzip_bytes(const uint8_t *in, size_t n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    bytes b = {malloc(cap), 0};
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = b.p;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    b.n = z.total_out;
    deflateEnd(&z);
    return b;
}
#endif

/* Test images: 5 of 3x4 bytes with distinct values, and their labels. */
enum { IMG_N = 5, IMG_H = 3, IMG_W = 4 };
static uint8_t img_pixels[IMG_N * IMG_H * IMG_W];
static const uint8_t img_labels[IMG_N] = {3, 0, 9, 1, 3};

static void make_pixels(void) {
    for (int i = 0; i < IMG_N * IMG_H * IMG_W; i++) img_pixels[i] = (uint8_t)(i * 37 % 256);
}

static bytes good_images(void) {
    return idx_bytes(0x08, 3, (const uint32_t[]){IMG_N, IMG_H, IMG_W}, img_pixels,
                     sizeof img_pixels);
}
static bytes good_labels(void) {
    return idx_bytes(0x08, 1, (const uint32_t[]){IMG_N}, img_labels, IMG_N);
}

/* Checks a data set read from the test images. */
static void check_test_images(cnnc_dataset *ds) {
    REQUIRE(ds);
    cnnc_tensor *x = cnnc_dataset_images(ds), *y = cnnc_dataset_labels(ds);
    CHECK_EQ_INT(cnnc_dataset_size(ds), IMG_N);
    CHECK_EQ_INT(cnnc_tensor_ndim(x), 4);
    CHECK_EQ_INT(cnnc_tensor_size(x, 0), IMG_N);
    CHECK_EQ_INT(cnnc_tensor_size(x, 1), 1);
    CHECK_EQ_INT(cnnc_tensor_size(x, 2), IMG_H);
    CHECK_EQ_INT(cnnc_tensor_size(x, 3), IMG_W);
    CHECK_EQ_INT(cnnc_tensor_dtype(y), CNNC_INT64);
    const float *px = cnnc_tensor_data_f32(x);
    int bad = 0;
    for (int i = 0; i < IMG_N * IMG_H * IMG_W; i++) bad += px[i] != (float)img_pixels[i] / 255.0f;
    CHECK_EQ_INT(bad, 0);
    for (int i = 0; i < IMG_N; i++) CHECK_EQ_INT(cnnc_tensor_data_i64(y)[i], img_labels[i]);
}

/* Writes images and labels to files and loads them (options default). */
static cnnc_dataset *load_pair(const bytes *im, const bytes *lb) {
    char a[512], b[512];
    write_bytes(path_of(a, sizeof a, "images.idx"), im->p, im->n);
    write_bytes(path_of(b, sizeof b, "labels.idx"), lb->p, lb->n);
    return cnnc_dataset_load_idx(a, b, CNNC_IDX());
}

/* Loading the pair fails with an error whose message contains `want`. */
static void expect_idx_error(bytes im, bytes lb, const char *want, int line) {
    cnnc_clear_error();
    cnnc_dataset *ds = load_pair(&im, &lb);
    check_checks_run_++;
    if (ds) {
        check_fail_(__FILE__, line, "loading succeeded, expected an error containing \"%s\"", want);
        cnnc_dataset_release(ds);
    } else if (cnnc_last_status() != CNNC_ERR_INVALID_ARGUMENT ||
               !check_contains_(cnnc_last_error(), want)) {
        check_fail_(__FILE__, line, "expected an invalid-argument error containing \"%s\"", want);
    }
    bytes_free(&im);
    bytes_free(&lb);
}
#define EXPECT_IDX_ERROR(im, lb, want) expect_idx_error(im, lb, want, __LINE__)

/* ---- IDX -------------------------------------------------------------------------- */

static void test_idx_raw(void) {
    bytes im = good_images(), lb = good_labels();
    cnnc_dataset *ds = load_pair(&im, &lb);
    check_test_images(ds);
    CHECK_EQ_INT(cnnc_dataset_num_classes(ds), 10);
    CHECK_STR_EQ(cnnc_dataset_class_name(ds, 0), "0");
    CHECK_STR_EQ(cnnc_dataset_class_name(ds, 9), "9");
    CHECK_NULL_ERR(cnnc_dataset_class_name(ds, 10));
    CHECK_NULL_ERR(cnnc_dataset_class_name(ds, -1));
    cnnc_dataset_release(ds);

    /* class names and count from the options */
    char a[512], b[512];
    ds = cnnc_dataset_load_idx(path_of(a, sizeof a, "images.idx"),
                               path_of(b, sizeof b, "labels.idx"),
                               CNNC_IDX(.class_names = cnnc_fashion_mnist_classes));
    REQUIRE(ds);
    CHECK_STR_EQ(cnnc_dataset_class_name(ds, 9), "Ankle boot");
    cnnc_dataset_release(ds);
    CHECK_NULL_ERR(cnnc_dataset_load_idx(a, b, CNNC_IDX(.num_classes = 9))); /* label 9 */
    CHECK_CONTAINS(cnnc_last_error(), "label 9 of sample 2 is out of range for 9 classes");
    CHECK_NULL_ERR(cnnc_dataset_load_idx(a, b, CNNC_IDX(.num_classes = 0)));
    CHECK_NULL_ERR(cnnc_dataset_load_idx(NULL, b, CNNC_IDX()));
    CHECK_NULL_ERR(cnnc_dataset_load_idx(a, NULL, CNNC_IDX()));
    const char *names[10] = {"a", "b", "c", NULL, "e", "f", "g", "h", "i", "j"};
    CHECK_NULL_ERR(cnnc_dataset_load_idx(a, b, CNNC_IDX(.class_names = names)));
    CHECK_ERROR_CONTAINS("class_names[3] is NULL");
    bytes_free(&im);
    bytes_free(&lb);

    /* an empty set is a valid file */
    im = idx_bytes(0x08, 3, (const uint32_t[]){0, 28, 28}, NULL, 0);
    lb = idx_bytes(0x08, 1, (const uint32_t[]){0}, NULL, 0);
    ds = load_pair(&im, &lb);
    bytes_free(&im);
    bytes_free(&lb);
    REQUIRE(ds);
    CHECK_EQ_INT(cnnc_dataset_size(ds), 0);
    CHECK_EQ_INT(cnnc_tensor_size(cnnc_dataset_images(ds), 2), 28);
    cnnc_dataset_release(ds);
}

static void test_idx_malformed(void) {
    const uint32_t dims[3] = {IMG_N, IMG_H, IMG_W};
    bytes im;
    /* bad magic: a nonzero first byte */
    im = good_images();
    im.p[0] = 0x1d;
    EXPECT_IDX_ERROR(im, good_labels(), "bad magic 1d 00 08 03");
    im = good_images();
    im.p[1] = 0x01;
    EXPECT_IDX_ERROR(im, good_labels(), "not an IDX file");
    /* type codes: unknown, and known but not unsigned bytes */
    EXPECT_IDX_ERROR(idx_bytes(0x42, 3, dims, img_pixels, sizeof img_pixels), good_labels(),
                     "invalid IDX type code 0x42");
    EXPECT_IDX_ERROR(idx_bytes(0x0D, 3, dims, img_pixels, sizeof img_pixels), good_labels(),
                     "type code 0x0d (float32) is not supported");
    EXPECT_IDX_ERROR(good_images(), idx_bytes(0x09, 1, dims, img_labels, IMG_N),
                     "type code 0x09 (signed byte) is not supported");
    /* the number of dims */
    EXPECT_IDX_ERROR(idx_bytes(0x08, 2, dims, img_pixels, IMG_N * IMG_H), good_labels(),
                     "expected an IDX file of 3 dims [N, H, W] of images, got 2 dims");
    EXPECT_IDX_ERROR(good_images(),
                     idx_bytes(0x08, 2, (const uint32_t[]){IMG_N, 1}, img_labels, IMG_N),
                     "expected an IDX file of 1 dims [N] of labels, got 2 dims");
    /* dims whose product overflows int64 */
    EXPECT_IDX_ERROR(idx_bytes(0x08, 3, (const uint32_t[]){0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
                               img_pixels, sizeof img_pixels),
                     good_labels(), "[4294967295, 4294967295, 4294967295] overflow");
    /* dims that disagree with the file size: more values than there are, or fewer */
    EXPECT_IDX_ERROR(idx_bytes(0x08, 3, (const uint32_t[]){IMG_N + 1, IMG_H, IMG_W}, img_pixels,
                               sizeof img_pixels),
                     good_labels(),
                     "truncated: expected 72 bytes of IDX values, but only 60 are left");
    EXPECT_IDX_ERROR(
        idx_bytes(0x08, 3, (const uint32_t[]){60000, 28, 28}, img_pixels, sizeof img_pixels),
        good_labels(), "truncated");
    EXPECT_IDX_ERROR(idx_bytes(0x08, 3, (const uint32_t[]){IMG_N - 1, IMG_H, IMG_W}, img_pixels,
                               sizeof img_pixels),
                     good_labels(), "12 bytes of trailing data");
    /* truncated headers */
    EXPECT_IDX_ERROR(((bytes){calloc(1, 1), 0}), good_labels(), "expected 4 bytes of IDX magic");
    im = good_images();
    im.n = 3;
    EXPECT_IDX_ERROR(im, good_labels(), "truncated: expected 4 bytes of IDX magic, but only 3");
    im = good_images();
    im.n = 10;
    EXPECT_IDX_ERROR(im, good_labels(), "expected 12 bytes of IDX dims, but only 6");
    im = good_images();
    im.n -= 1;
    EXPECT_IDX_ERROR(im, good_labels(), "truncated");
    /* image and label counts that differ */
    EXPECT_IDX_ERROR(good_images(),
                     idx_bytes(0x08, 1, (const uint32_t[]){IMG_N - 1}, img_labels, IMG_N - 1),
                     "has 5 images but");
    /* labels out of range */
    uint8_t bad_labels[IMG_N] = {0, 1, 2, 10, 4};
    EXPECT_IDX_ERROR(good_images(), idx_bytes(0x08, 1, dims, bad_labels, IMG_N),
                     "label 10 of sample 3 is out of range for 10 classes");
    /* empty images */
    EXPECT_IDX_ERROR(idx_bytes(0x08, 3, (const uint32_t[]){IMG_N, 0, IMG_W}, NULL, 0),
                     good_labels(), "image size 0x4 is empty");
}

static void test_idx_files(void) {
    char a[600], b[600];
    /* a missing file, a directory */
    CHECK_NULL_ERR(cnnc_dataset_load_idx(path_of(a, sizeof a, "missing"), path_of(b, sizeof b, "x"),
                                         CNNC_IDX()));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_IO);
    CHECK_ERROR_CONTAINS("cannot open");
    CHECK_NULL_ERR(cnnc_dataset_load_idx(tmp_dir, tmp_dir, CNNC_IDX()));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_IO);
    CHECK_ERROR_CONTAINS("not a regular file");

    /* MNIST's folder layout: raw and .gz names side by side */
    char root[512];
    path_of(root, sizeof root, "mnist");
    mkdir(root, 0700);
    bytes im = good_images(), lb = good_labels();
#ifdef CNNC_HAVE_ZLIB
    bytes gz = gzip_bytes(im.p, im.n);
    snprintf(a, sizeof a, "%s/train-images-idx3-ubyte.gz", root);
    write_bytes(a, gz.p, gz.n);
    bytes_free(&gz);
#else
    snprintf(a, sizeof a, "%s/train-images-idx3-ubyte", root);
    write_bytes(a, im.p, im.n);
#endif
    snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte", root);
    write_bytes(b, lb.p, lb.n);
    cnnc_dataset *ds = cnnc_dataset_load_mnist(root, true, CNNC_IDX());
    check_test_images(ds);
    cnnc_dataset_release(ds);
    CHECK_NULL_ERR(cnnc_dataset_load_mnist(root, false, CNNC_IDX()));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_IO);
    CHECK_ERROR_CONTAINS("t10k-images-idx3-ubyte.gz");
    CHECK_NULL_ERR(cnnc_dataset_load_mnist(NULL, true, CNNC_IDX()));
    remove(a);
    remove(b);
    rmdir(root);
    bytes_free(&im);
    bytes_free(&lb);
}

/* A tracking allocator: counts allocations and remembers the largest request. */
static struct {
    long count;
    size_t largest;
} track;
static void *track_alloc(void *ctx, size_t size) {
    (void)ctx;
    track.count++;
    if (size > track.largest) track.largest = size;
    return malloc(size);
}
static void track_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}
static const cnnc_allocator tracking = {track_alloc, track_free, NULL};
static void track_start(void) {
    track.count = 0;
    track.largest = 0;
    cnnc_set_allocator(&tracking);
}
static void track_stop(void) {
    cnnc_set_allocator(NULL);
}

#ifdef CNNC_HAVE_ZLIB
static void test_idx_gzip(void) {
    bytes im = good_images(), lb = good_labels();
    bytes gi = gzip_bytes(im.p, im.n), gl = gzip_bytes(lb.p, lb.n);
    cnnc_dataset *ds = load_pair(&gi, &lb);
    check_test_images(ds);
    cnnc_dataset_release(ds);
    ds = load_pair(&gi, &gl);
    check_test_images(ds);
    cnnc_dataset_release(ds);

    /* a multi-member file (gzip -c a >f; gzip -c b >>f): the header, then the values */
    bytes m1 = gzip_bytes(im.p, 16), m2 = gzip_bytes(im.p + 16, im.n - 16);
    bytes multi = {malloc(m1.n + m2.n), m1.n + m2.n};
    memcpy(multi.p, m1.p, m1.n);
    memcpy(multi.p + m1.n, m2.p, m2.n);
    ds = load_pair(&multi, &lb);
    check_test_images(ds);
    cnnc_dataset_release(ds);
    bytes_free(&m1);
    bytes_free(&m2);
    bytes_free(&multi);

    /* corrupt: a damaged deflate body, a damaged CRC, a cut stream, trailing bytes */
    bytes c = gzip_bytes(im.p, im.n);
    for (size_t i = 12; i < c.n - 8; i++) c.p[i] ^= 0x5a;
    EXPECT_IDX_ERROR(c, good_labels(), "gzip");
    c = gzip_bytes(im.p, im.n);
    c.p[c.n - 6] ^= 0xff; /* the CRC32 of the trailer */
    EXPECT_IDX_ERROR(c, good_labels(), "corrupt gzip stream (incorrect data check)");
    c = gzip_bytes(im.p, im.n);
    c.n -= 5;
    EXPECT_IDX_ERROR(c, good_labels(), "truncated gzip stream");
    c = gzip_bytes(im.p, im.n);
    c.n = 20;
    EXPECT_IDX_ERROR(c, good_labels(), "truncated");
    c = gzip_bytes(im.p, im.n);
    c.p = realloc(c.p, c.n + 3);
    memcpy(c.p + c.n, "abc", 3);
    c.n += 3;
    EXPECT_IDX_ERROR(c, good_labels(), "3 bytes of trailing data after the gzip stream");
    /* a stream that expands past the size its header declares */
    bytes more = idx_bytes(0x08, 3, (const uint32_t[]){IMG_N - 1, IMG_H, IMG_W}, img_pixels,
                           sizeof img_pixels);
    EXPECT_IDX_ERROR(gzip_bytes(more.p, more.n), good_labels(), "expands past");
    /* a header declaring far more than the stream can hold: an error before any large
     * allocation (the values are never allocated) */
    bytes huge =
        idx_bytes(0x08, 3, (const uint32_t[]){1000000, 1000, 1000}, img_pixels, sizeof img_pixels);
    bytes gh = gzip_bytes(huge.p, huge.n);
    track_start();
    EXPECT_IDX_ERROR(gh, good_labels(), "more than the gzip data left can hold");
    track_stop();
    CHECK(track.largest < 100000); /* zlib's state and window: nothing sized by the header */
    /* declared sizes that fit the bound but not the data: the allocation is bounded by
     * deflate's 1032:1 ratio of the file */
    bytes big = idx_bytes(0x08, 3, (const uint32_t[]){100, 28, 28}, img_pixels, sizeof img_pixels);
    bytes gb = gzip_bytes(big.p, big.n);
    size_t file_size = gb.n;
    track_start();
    EXPECT_IDX_ERROR(gb, good_labels(), "truncated");
    track_stop();
    CHECK(track.largest <= file_size * 1032 + 65536 + 64);
    bytes_free(&more);
    bytes_free(&huge);
    bytes_free(&big);
    bytes_free(&im);
    bytes_free(&lb);
    bytes_free(&gl);
    bytes_free(&gi);
}
#else
static void test_idx_gzip_unsupported(void) {
    CHECK(!cnnc_data_gzip_supported());
    uint8_t gz[20] = {0x1f, 0x8b, 8, 0};
    EXPECT_IDX_ERROR(((bytes){memcpy(malloc(20), gz, 20), 20}), good_labels(),
                     "built without zlib");
}
#endif

/* ---- CIFAR-10 ----------------------------------------------------------------------- */

enum { REC = 3073 };

/* n records: label labels[r], pixel k of record r = (r * 7 + k) % 256. */
static bytes cifar_bytes(int n, const uint8_t *labels) {
    bytes b = {malloc((size_t)n * REC + 1), (size_t)n * REC};
    for (int r = 0; r < n; r++) {
        b.p[r * REC] = labels[r];
        for (int k = 0; k < 3072; k++) b.p[r * REC + 1 + k] = (uint8_t)((r * 7 + k) % 256);
    }
    return b;
}

static void test_cifar(void) {
    char a[512], b[512];
    bytes f1 = cifar_bytes(3, (const uint8_t[]){6, 9, 0}),
          f2 = cifar_bytes(2, (const uint8_t[]){1, 8});
    write_bytes(path_of(a, sizeof a, "c1.bin"), f1.p, f1.n);
    write_bytes(path_of(b, sizeof b, "c2.bin"), f2.p, f2.n);
    cnnc_dataset *ds = cnnc_dataset_load_cifar10_files(2, (const char *const[]){a, b});
    REQUIRE(ds);
    cnnc_tensor *x = cnnc_dataset_images(ds);
    CHECK_EQ_INT(cnnc_dataset_size(ds), 5);
    CHECK_EQ_INT(cnnc_tensor_size(x, 1), 3);
    CHECK_EQ_INT(cnnc_tensor_size(x, 2), 32);
    CHECK_EQ_INT(cnnc_tensor_size(x, 3), 32);
    const int64_t want_labels[5] = {6, 9, 0, 1, 8};
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(cnnc_tensor_data_i64(cnnc_dataset_labels(ds))[i], want_labels[i]);
    const float *px = cnnc_tensor_data_f32(x);
    int bad = 0;
    for (int i = 0; i < 5; i++) { /* record r of its file; the 2nd file restarts r at 0 */
        int r = i < 3 ? i : i - 3;
        for (int k = 0; k < 3072; k++)
            bad += px[i * 3072 + k] != (float)((r * 7 + k) % 256) / 255.0f;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_STR_EQ(cnnc_dataset_class_name(ds, 0), "airplane");
    CHECK_STR_EQ(cnnc_dataset_class_name(ds, 9), "truck");
    cnnc_dataset_release(ds);

    /* the folder layout */
    char root[512], p[600];
    path_of(root, sizeof root, "cifar");
    mkdir(root, 0700);
    snprintf(p, sizeof p, "%s/test_batch.bin", root);
    write_bytes(p, f2.p, f2.n);
    ds = cnnc_dataset_load_cifar10(root, false);
    REQUIRE(ds);
    CHECK_EQ_INT(cnnc_dataset_size(ds), 2);
    cnnc_dataset_release(ds);
    for (int i = 1; i <= 4; i++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", root, i);
        write_bytes(p, f1.p, f1.n);
    }
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10(root, true)); /* data_batch_5.bin is missing */
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_IO);
    CHECK_ERROR_CONTAINS("data_batch_5.bin");
    snprintf(p, sizeof p, "%s/data_batch_5.bin", root);
    write_bytes(p, f2.p, f2.n);
    ds = cnnc_dataset_load_cifar10(root, true);
    REQUIRE(ds);
    CHECK_EQ_INT(cnnc_dataset_size(ds), 14);
    CHECK_EQ_INT(cnnc_tensor_data_i64(cnnc_dataset_labels(ds))[13], 8);
    cnnc_dataset_release(ds);
    for (int i = 1; i <= 5; i++) {
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", root, i);
        remove(p);
    }
    snprintf(p, sizeof p, "%s/test_batch.bin", root);
    remove(p);
    rmdir(root);

    /* malformed: partial records, an empty file, a label out of range, gzip */
    write_bytes(a, f1.p, f1.n - 1);
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10_files(1, (const char *const[]){a}));
    CHECK_ERROR_CONTAINS("whole records of 3073 bytes");
    CHECK_ERROR_CONTAINS("9218 bytes");
    write_bytes(a, f1.p, 0);
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10_files(1, (const char *const[]){a}));
    CHECK_ERROR_CONTAINS("0 bytes");
    f1.p[REC] = 10;
    write_bytes(a, f1.p, f1.n);
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10_files(2, (const char *const[]){b, a}));
    CHECK_ERROR_CONTAINS("label 10 of sample 1 is out of range for 10 classes");
    CHECK_ERROR_CONTAINS("c1.bin");
    f1.p[0] = 0x1f, f1.p[1] = 0x8b;
    write_bytes(a, f1.p, f1.n);
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10_files(1, (const char *const[]){a}));
    CHECK_ERROR_CONTAINS("gzip-compressed");
    /* arguments */
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10_files(0, (const char *const[]){a}));
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10_files(1, NULL));
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10_files(2, (const char *const[]){a, NULL}));
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10_files(1, (const char *const[]){tmp_dir}));
    CHECK_EQ_INT(cnnc_last_status(), CNNC_ERR_IO);
    CHECK_NULL_ERR(cnnc_dataset_load_cifar10(NULL, true));
    bytes_free(&f1);
    bytes_free(&f2);
}

/* ---- data sets from tensors ------------------------------------------------------------- */

static void test_dataset_new(void) {
    cnnc_tensor *x = cnnc_rand(CNNC_SHAPE(4, 2, 3, 3));
    cnnc_tensor *y = cnnc_from_data(CNNC_SHAPE(4), CNNC_INT64, (const int64_t[]){0, 2, 1, 2});
    cnnc_dataset *ds = cnnc_dataset_new(x, y, 3, (const char *const[]){"a", "b", "c"});
    REQUIRE(ds);
    CHECK_EQ_INT(cnnc_dataset_size(ds), 4);
    CHECK_STR_EQ(cnnc_dataset_class_name(ds, 2), "c");
    /* shares storage with the tensors */
    CHECK(cnnc_tensor_data(cnnc_dataset_images(ds)) == cnnc_tensor_data(x));
    /* channel statistics against a direct computation */
    double mean[2], std[2];
    CHECK_OK(cnnc_dataset_channel_stats(ds, mean, std));
    for (int c = 0; c < 2; c++) {
        double s = 0, sq = 0;
        for (int n = 0; n < 4; n++)
            for (int k = 0; k < 9; k++) s += cnnc_tensor_data_f32(x)[(n * 2 + c) * 9 + k];
        double m = s / 36;
        for (int n = 0; n < 4; n++)
            for (int k = 0; k < 9; k++) {
                double d = cnnc_tensor_data_f32(x)[(n * 2 + c) * 9 + k] - m;
                sq += d * d;
            }
        CHECK_NEAR(mean[c], m, 1e-12);
        CHECK_NEAR(std[c], sqrt(sq / 36), 1e-12);
    }
    CHECK_ERR(cnnc_dataset_channel_stats(ds, NULL, std));
    CHECK_ERR(cnnc_dataset_channel_stats(NULL, mean, std));
    /* retain / release */
    CHECK(cnnc_dataset_retain(ds) == ds);
    cnnc_dataset_release(ds);
    cnnc_dataset_release(ds);
    cnnc_dataset_release(NULL);

    /* errors */
    cnnc_tensor *y3 = cnnc_from_data(CNNC_SHAPE(3), CNNC_INT64, (const int64_t[]){0, 1, 2});
    cnnc_tensor *yf = cnnc_zeros(CNNC_SHAPE(4), CNNC_FLOAT32);
    cnnc_tensor *yb = cnnc_from_data(CNNC_SHAPE(4), CNNC_INT64, (const int64_t[]){0, 1, -1, 2});
    cnnc_tensor *x3 = cnnc_rand(CNNC_SHAPE(4, 3, 3));
    CHECK_NULL_ERR(cnnc_dataset_new(x3, y, 3, NULL));
    CHECK_ERROR_CONTAINS("expected images of shape [N, C, H, W], got [4, 3, 3]");
    CHECK_NULL_ERR(cnnc_dataset_new(x, y3, 3, NULL));
    CHECK_ERROR_CONTAINS("expected int64 labels of shape [4]");
    CHECK_NULL_ERR(cnnc_dataset_new(x, yf, 3, NULL));
    CHECK_NULL_ERR(cnnc_dataset_new(y, y, 3, NULL));
    CHECK_NULL_ERR(cnnc_dataset_new(x, yb, 3, NULL));
    CHECK_ERROR_CONTAINS("label -1 of sample 2 is out of range for 3 classes");
    CHECK_NULL_ERR(cnnc_dataset_new(x, y, 2, NULL));
    CHECK_NULL_ERR(cnnc_dataset_new(x, y, 0, NULL));
    CHECK_NULL_ERR(cnnc_dataset_new(NULL, y, 3, NULL));
    CHECK_NULL_ERR(cnnc_dataset_new(x, NULL, 3, NULL));
    CHECK_EQ_INT(cnnc_dataset_size(NULL), 0);
    CHECK_NULL_ERR(cnnc_dataset_images(NULL));
    CHECK_NULL_ERR(cnnc_dataset_labels(NULL));
    CHECK_NULL_ERR(cnnc_dataset_class_name(NULL, 0));
    /* empty */
    cnnc_tensor *x0 = cnnc_zeros(CNNC_SHAPE(0, 1, 2, 2), CNNC_FLOAT32);
    cnnc_tensor *y0 = cnnc_zeros(CNNC_SHAPE(0), CNNC_INT64);
    ds = cnnc_dataset_new(x0, y0, 1, NULL);
    REQUIRE(ds);
    CHECK_ERR(cnnc_dataset_channel_stats(ds, mean, std));
    cnnc_dataset_release(ds);
    cnnc_tensor *all[] = {x, y, y3, yf, yb, x3, x0, y0};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) cnnc_tensor_release(all[i]);
}

/* ---- the synthetic set --------------------------------------------------------------- */

static uint64_t fnv1a(const cnnc_dataset *ds) {
    cnnc_tensor *x = cnnc_dataset_images(ds);
    const float *p = cnnc_tensor_data_f32(x);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int64_t i = 0; i < cnnc_tensor_numel(x); i++) {
        h ^= (uint64_t)(p[i] * 255.0f + 0.5f);
        h *= 0x100000001b3ULL;
    }
    return h;
}

static bool same_images(const cnnc_dataset *a, const cnnc_dataset *b, int64_t n) {
    int64_t per = cnnc_tensor_numel(cnnc_dataset_images(a)) / cnnc_dataset_size(a);
    return memcmp(cnnc_tensor_data(cnnc_dataset_images(a)),
                  cnnc_tensor_data(cnnc_dataset_images(b)), (size_t)(n * per) * sizeof(float)) == 0;
}

static void test_synthetic(void) {
    CHECK_OK(cnnc_set_num_threads(2));
    cnnc_dataset *a = cnnc_dataset_synthetic(true, 120, CNNC_SYNTHETIC(.seed = 7));
    cnnc_dataset *b = cnnc_dataset_synthetic(true, 50, CNNC_SYNTHETIC(.seed = 7));
    cnnc_dataset *c = cnnc_dataset_synthetic(true, 120, CNNC_SYNTHETIC(.seed = 8));
    cnnc_dataset *t = cnnc_dataset_synthetic(false, 120, CNNC_SYNTHETIC(.seed = 7));
    CHECK_OK(cnnc_set_num_threads(1));
    cnnc_dataset *a1 = cnnc_dataset_synthetic(true, 120, CNNC_SYNTHETIC(.seed = 7));
    CHECK_OK(cnnc_set_num_threads(2));
    REQUIRE(a && b && c && t && a1);
    cnnc_tensor *x = cnnc_dataset_images(a);
    CHECK_EQ_INT(cnnc_tensor_size(x, 0), 120);
    CHECK_EQ_INT(cnnc_tensor_size(x, 1), 1);
    CHECK_EQ_INT(cnnc_tensor_size(x, 2), 28);
    CHECK_EQ_INT(cnnc_tensor_size(x, 3), 28);
    CHECK(same_images(a, a1, 120)); /* thread count */
    CHECK(same_images(a, b, 50));   /* a prefix */
    CHECK(!same_images(a, c, 1));   /* another seed */
    CHECK(!same_images(a, t, 1));   /* the other split */
    /* the same bytes on every machine: pinned hashes */
    cnnc_dataset *g = cnnc_dataset_synthetic(true, 20, CNNC_SYNTHETIC());
    cnnc_dataset *g3 =
        cnnc_dataset_synthetic(false, 20, CNNC_SYNTHETIC(.channels = 3, .image_size = 32));
    REQUIRE(g && g3);
    CHECK_EQ_INT(cnnc_tensor_size(cnnc_dataset_images(g3), 1), 3);
    CHECK_EQ_INT(cnnc_tensor_size(cnnc_dataset_images(g3), 3), 32);
    printf("synthetic hashes: %016llx %016llx\n", (unsigned long long)fnv1a(g),
           (unsigned long long)fnv1a(g3));
    CHECK(fnv1a(g) == 0xfed8e92776f9fb6aULL);
    CHECK(fnv1a(g3) == 0x09c4eef345b6b9ceULL);

    /* labels i % 10 (balanced), bytes / 255 in [0, 1], every image has a drawn shape */
    const int64_t *y = cnnc_tensor_data_i64(cnnc_dataset_labels(a));
    int64_t counts[10] = {0};
    for (int i = 0; i < 120; i++) counts[y[i]] += y[i] == i % 10;
    for (int k = 0; k < 10; k++) CHECK_EQ_INT(counts[k], 12);
    CHECK_EQ_INT(cnnc_dataset_num_classes(a), 10);
    CHECK_STR_EQ(cnnc_dataset_class_name(a, 0), "circle");
    CHECK_STR_EQ(cnnc_dataset_class_name(a, 9), "diamond");
    const float *p = cnnc_tensor_data_f32(x);
    int off_grid = 0, flat = 0;
    for (int i = 0; i < 120; i++) {
        float lo = 1, hi = 0;
        for (int k = 0; k < 784; k++) {
            float v = p[i * 784 + k];
            off_grid += !(v >= 0 && v <= 1 && (float)(int)(v * 255.0f + 0.5f) / 255.0f == v);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        flat += hi - lo < 0.3f; /* the shape stands out from the background */
    }
    CHECK_EQ_INT(off_grid, 0);
    CHECK_EQ_INT(flat, 0);
    cnnc_dataset *all[] = {a, b, c, t, a1, g, g3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) cnnc_dataset_release(all[i]);

    cnnc_dataset *e = cnnc_dataset_synthetic(true, 0, CNNC_SYNTHETIC());
    REQUIRE(e);
    CHECK_EQ_INT(cnnc_dataset_size(e), 0);
    cnnc_dataset_release(e);
    CHECK_NULL_ERR(cnnc_dataset_synthetic(true, -1, CNNC_SYNTHETIC()));
    CHECK_NULL_ERR(cnnc_dataset_synthetic(true, 1, CNNC_SYNTHETIC(.channels = 2)));
    CHECK_ERROR_CONTAINS("channels must be 1 or 3, got 2");
    CHECK_NULL_ERR(cnnc_dataset_synthetic(true, 1, CNNC_SYNTHETIC(.image_size = 7)));
    CHECK_NULL_ERR(cnnc_dataset_synthetic(true, 1, CNNC_SYNTHETIC(.image_size = 1025)));
}

/* ---- the loader -------------------------------------------------------------------------- */

/* n images [C, H, W]: pixel k of image i is i * 1000 + k (distinct everywhere), label i % 3. */
static cnnc_dataset *ramp_dataset(int64_t n, int64_t c, int64_t h, int64_t w) {
    cnnc_tensor *x = cnnc_empty(CNNC_SHAPE(n, c, h, w), CNNC_FLOAT32);
    cnnc_tensor *y = cnnc_empty(CNNC_SHAPE(n), CNNC_INT64);
    float *px = cnnc_tensor_data_f32(x);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t k = 0; k < c * h * w; k++) px[i * c * h * w + k] = (float)(i * 1000 + k);
        cnnc_tensor_data_i64(y)[i] = i % 3;
    }
    cnnc_dataset *ds = cnnc_dataset_new(x, y, 3, NULL);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    return ds;
}

/* The data-set index of each image of a batch (from the ramp's first pixel). */
static int batch_indices(cnnc_tensor *x, int64_t *out) {
    int64_t b = cnnc_tensor_size(x, 0), per = cnnc_tensor_numel(x) / (b ? b : 1);
    for (int64_t i = 0; i < b; i++) out[i] = (int64_t)(cnnc_tensor_data_f32(x)[i * per] / 1000);
    return (int)b;
}

/* One epoch's image indices, in order, into out; returns how many, or -1 (with a failed
 * check) if a label disagrees with its image. sizes receives the batch sizes. */
static int run_epoch(cnnc_dataloader *dl, int64_t *out, int64_t *sizes, int *nbatches) {
    int n = 0, nb = 0;
    cnnc_tensor *x, *y;
    while (cnnc_dataloader_next(dl, &x, &y) == CNNC_OK && x) {
        int b = batch_indices(x, out + n);
        for (int i = 0; i < b; i++)
            if (cnnc_tensor_data_i64(y)[i] != out[n + i] % 3) n = -100000;
        if (sizes) sizes[nb] = b;
        nb++;
        n += b;
        cnnc_tensor_release(x);
        cnnc_tensor_release(y);
    }
    if (nbatches) *nbatches = nb;
    return n;
}

static void test_loader_order(void) {
    cnnc_dataset *ds = ramp_dataset(10, 1, 2, 2);
    REQUIRE(ds);
    int64_t order[64], sizes[16];
    int nb;
    /* in order, a smaller last batch, then the next epoch */
    cnnc_dataloader *dl = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 4));
    REQUIRE(dl);
    CHECK_EQ_INT(cnnc_dataloader_len(dl), 3);
    CHECK_EQ_INT(run_epoch(dl, order, sizes, &nb), 10);
    CHECK_EQ_INT(nb, 3);
    CHECK_EQ_INT(sizes[2], 2);
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(order[i], i);
    CHECK_EQ_INT(cnnc_dataloader_epoch(dl), 0);
    CHECK_EQ_INT(run_epoch(dl, order, NULL, NULL), 10);
    CHECK_EQ_INT(cnnc_dataloader_epoch(dl), 1);
    cnnc_tensor *x, *y;
    CHECK_OK(cnnc_dataloader_next(dl, &x, &y)); /* epoch 2 */
    CHECK_EQ_INT(cnnc_tensor_size(x, 0), 4);
    CHECK_EQ_INT(cnnc_tensor_size(y, 0), 4);
    CHECK_EQ_INT(cnnc_tensor_size(x, 1), 1);
    CHECK_EQ_INT(cnnc_tensor_size(x, 2), 2);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    CHECK_EQ_INT(cnnc_dataloader_epoch(dl), 2);
    cnnc_dataloader_free(dl);

    /* drop_last */
    dl = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 4, .drop_last = true));
    REQUIRE(dl);
    CHECK_EQ_INT(cnnc_dataloader_len(dl), 2);
    CHECK_EQ_INT(run_epoch(dl, order, sizes, &nb), 8);
    CHECK_EQ_INT(nb, 2);
    cnnc_dataloader_free(dl);
    dl = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 11, .drop_last = true));
    CHECK_EQ_INT(cnnc_dataloader_len(dl), 0);
    CHECK_EQ_INT(run_epoch(dl, order, sizes, &nb), 0);
    cnnc_dataloader_free(dl);
    dl = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 5, .drop_last = true));
    CHECK_EQ_INT(cnnc_dataloader_len(dl), 2);
    CHECK_EQ_INT(run_epoch(dl, order, sizes, &nb), 10);
    cnnc_dataloader_free(dl);

    /* shuffle: a permutation per epoch, a function of (seed, epoch) only */
    int64_t e0[10], e1[10], again[10], b3[10];
    dl = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 4, .shuffle = true, .seed = 5));
    CHECK_EQ_INT(run_epoch(dl, e0, NULL, NULL), 10);
    CHECK_EQ_INT(run_epoch(dl, e1, NULL, NULL), 10);
    int seen[10] = {0}, same_as_sorted = 1;
    for (int i = 0; i < 10; i++) seen[e0[i]]++, same_as_sorted &= e0[i] == i;
    for (int i = 0; i < 10; i++) CHECK_EQ_INT(seen[i], 1);
    CHECK(!same_as_sorted);
    CHECK(memcmp(e0, e1, sizeof e0) != 0);
    CHECK_OK(cnnc_dataloader_set_epoch(dl, 0));
    CHECK_EQ_INT(run_epoch(dl, again, NULL, NULL), 10);
    CHECK(memcmp(e0, again, sizeof e0) == 0);
    CHECK_ERR(cnnc_dataloader_set_epoch(dl, -1));
    cnnc_dataloader_free(dl);
    /* another loader, another batch size, set straight to epoch 1: the same order */
    dl = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 3, .shuffle = true, .seed = 5));
    CHECK_OK(cnnc_dataloader_set_epoch(dl, 1));
    CHECK_EQ_INT(run_epoch(dl, b3, NULL, NULL), 10);
    CHECK(memcmp(e1, b3, sizeof e1) == 0);
    cnnc_dataloader_free(dl);
    dl = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 4, .shuffle = true, .seed = 6));
    CHECK_EQ_INT(run_epoch(dl, again, NULL, NULL), 10);
    CHECK(memcmp(e0, again, sizeof e0) != 0);
    cnnc_dataloader_free(dl);

    /* an index list (a shard), repeats allowed; then replaced */
    dl = cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 2,
                                                 .indices = (const int64_t[]){7, 2, 2, 9, 0},
                                                 .num_indices = 5));
    REQUIRE(dl);
    CHECK_EQ_INT(cnnc_dataloader_len(dl), 3);
    CHECK_EQ_INT(run_epoch(dl, order, NULL, NULL), 5);
    const int64_t want[5] = {7, 2, 2, 9, 0};
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(order[i], want[i]);
    CHECK_OK(cnnc_dataloader_set_indices(dl, (const int64_t[]){4, 5, 6}, 3));
    CHECK_EQ_INT(cnnc_dataloader_len(dl), 2);
    CHECK_EQ_INT(run_epoch(dl, order, NULL, NULL), 3);
    CHECK_EQ_INT(order[0], 4);
    CHECK_EQ_INT(order[2], 6);
    CHECK_ERR(cnnc_dataloader_set_indices(dl, (const int64_t[]){4, 10}, 2));
    CHECK_ERROR_CONTAINS("index 10 (indices[1]) is out of range for a data set of size 10");
    CHECK_EQ_INT(cnnc_dataloader_len(dl), 2);           /* unchanged */
    CHECK_OK(cnnc_dataloader_set_indices(dl, NULL, 0)); /* every index again */
    CHECK_EQ_INT(cnnc_dataloader_len(dl), 5);
    CHECK_OK(cnnc_dataloader_set_indices(dl, (const int64_t[]){1}, 0)); /* an empty shard */
    CHECK_EQ_INT(run_epoch(dl, order, NULL, NULL), 0);
    cnnc_dataloader_free(dl);

    /* bad arguments */
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 0)));
    CHECK_ERROR_CONTAINS("batch_size should be a positive integer value, but got batch_size=0");
    CHECK_NULL_ERR(cnnc_dataloader_new(NULL, CNNC_DATALOADER()));
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.indices = (const int64_t[]){-1}, .num_indices = 1)));
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.indices = (const int64_t[]){1}, .num_indices = -1)));
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.num_indices = 3)));
    CHECK_ERR(cnnc_dataloader_next(NULL, &x, &y));
    dl = cnnc_dataloader_new(ds, CNNC_DATALOADER());
    CHECK_ERR(cnnc_dataloader_next(dl, NULL, &y));
    CHECK_ERR(cnnc_dataloader_next(dl, &x, NULL));
    CHECK(x == NULL);
    CHECK_ERR(cnnc_dataloader_set_epoch(NULL, 0));
    CHECK_ERR(cnnc_dataloader_set_indices(NULL, NULL, 0));
    CHECK_SETS_ERROR(cnnc_dataloader_len(NULL));
    CHECK_SETS_ERROR(cnnc_dataloader_epoch(NULL));
    cnnc_dataloader_free(dl);
    cnnc_dataloader_free(NULL);
    cnnc_dataset_release(ds);
}

static void test_loader_normalize(void) {
    cnnc_dataset *ds =
        cnnc_dataset_synthetic(true, 6, CNNC_SYNTHETIC(.channels = 3, .image_size = 9));
    REQUIRE(ds);
    const double mean[3] = {0.4914, 0.4822, 0.4465}, std[3] = {0.2470, 0.2435, 0.2616};
    cnnc_dataloader *dl = cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.batch_size = 6, .mean = CNNC_DOUBLES(0.4914, 0.4822, 0.4465),
                            .std = CNNC_DOUBLES(0.2470, 0.2435, 0.2616)));
    REQUIRE(dl);
    cnnc_tensor *x, *y;
    CHECK_OK(cnnc_dataloader_next(dl, &x, &y));
    REQUIRE(x);
    const float *src = cnnc_tensor_data_f32(cnnc_dataset_images(ds)),
                *out = cnnc_tensor_data_f32(x);
    int bad = 0;
    for (int i = 0; i < 6 * 3 * 81; i++) {
        int c = i / 81 % 3;
        bad += out[i] != (src[i] - (float)mean[c]) / (float)std[c]; /* exactly, in float */
    }
    CHECK_EQ_INT(bad, 0);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    cnnc_dataloader_free(dl);
    /* one value for every channel */
    dl = cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.batch_size = 6, .mean = CNNC_DOUBLES(0.5), .std = CNNC_DOUBLES(0.25)));
    CHECK_OK(cnnc_dataloader_next(dl, &x, &y));
    REQUIRE(x);
    out = cnnc_tensor_data_f32(x);
    bad = 0;
    for (int i = 0; i < 6 * 3 * 81; i++) bad += out[i] != (src[i] - 0.5f) / 0.25f;
    CHECK_EQ_INT(bad, 0);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    cnnc_dataloader_free(dl);
    /* errors */
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.mean = CNNC_DOUBLES(0.5), .std = CNNC_DOUBLES(0.0))));
    CHECK_ERROR_CONTAINS(
        "std evaluated to zero after conversion to torch.float32, leading to division by zero.");
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.mean = CNNC_DOUBLES(0.5), .std = CNNC_DOUBLES(1e-50))));
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.mean = CNNC_DOUBLES(0.5, 0.5), .std = CNNC_DOUBLES(1, 1))));
    CHECK_ERROR_CONTAINS("mean has 2 and std 2 values, but the images have 3 channels");
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.mean = CNNC_DOUBLES(0.5))));
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.std = CNNC_DOUBLES(0.5))));
    CHECK_NULL_ERR(
        cnnc_dataloader_new(ds, CNNC_DATALOADER(.mean = {.n = 9}, .std = CNNC_DOUBLES(0.5))));
    cnnc_dataset_release(ds);
}

/* How many windows of the zero-padded image match out (mirrored when flip): out is
 * [oh, ow], the image [h, w] with pads (left, top, right, bottom). *top and *left
 * receive the last match. */
static int matching_windows(const float *out, int oh, int ow, const float *img, int h, int w,
                            const int *pad, bool flip, int *top, int *left) {
    int matches = 0;
    for (int i = 0; i <= h + pad[1] + pad[3] - oh; i++) {
        for (int j = 0; j <= w + pad[0] + pad[2] - ow; j++) {
            bool ok = true;
            for (int y = 0; y < oh && ok; y++)
                for (int x = 0; x < ow && ok; x++) {
                    int sy = i + y - pad[1], sx = j + (flip ? ow - 1 - x : x) - pad[0];
                    float v = sy >= 0 && sy < h && sx >= 0 && sx < w ? img[sy * w + sx] : 0.0f;
                    ok = out[y * ow + x] == v;
                }
            if (ok) matches++, *top = i, *left = j;
        }
    }
    return matches;
}

/* Over epochs of a one-image loader: each output is exactly one window of the padded
 * image (flipped or not as allowed) and every window position and flip shows up. */
static void check_crop(cnnc_dataloader_options opt, int h, int w, int oh, int ow, const int *pad,
                       int flips) {
    cnnc_dataset *ds = ramp_dataset(1, 1, h, w);
    opt.batch_size = 1;
    cnnc_dataloader *dl = cnnc_dataloader_new(ds, opt);
    REQUIRE(dl);
    const float *img = cnnc_tensor_data_f32(cnnc_dataset_images(ds));
    int npos = (h + pad[1] + pad[3] - oh + 1) * (w + pad[0] + pad[2] - ow + 1);
    int hits[64][2] = {{0}}, bad = 0;
    for (int epoch = 0; epoch < 400; epoch++) {
        cnnc_tensor *x, *y;
        if (cnnc_dataloader_next(dl, &x, &y) != CNNC_OK || !x) {
            bad++;
            break;
        }
        CHECK_EQ_INT(cnnc_tensor_size(x, 2), oh);
        CHECK_EQ_INT(cnnc_tensor_size(x, 3), ow);
        const float *out = cnnc_tensor_data_f32(x);
        int ti = 0, tj = 0, found = 0;
        for (int f = 0; f < 2; f++) {
            if (!(flips & (1 << f))) continue;
            int m = matching_windows(out, oh, ow, img, h, w, pad, f, &ti, &tj);
            if (m) hits[ti * (w + pad[0] + pad[2] - ow + 1) + tj][f]++;
            found += m;
        }
        bad += found != 1;
        cnnc_tensor_release(x);
        cnnc_tensor_release(y);
        CHECK_OK(cnnc_dataloader_next(dl, &x, &y)); /* the end of the epoch */
        CHECK(x == NULL);
    }
    CHECK_EQ_INT(bad, 0);
    int missing = 0;
    for (int k = 0; k < npos; k++)
        for (int f = 0; f < 2; f++) missing += (flips & (1 << f)) && hits[k][f] == 0;
    CHECK_EQ_INT(missing, 0);
    cnnc_dataloader_free(dl);
    cnnc_dataset_release(ds);
}

static void test_loader_augment(void) {
    /* RandomCrop(size, padding=int): 16 positions of a 4x5 window in 6x7 padded by 1 */
    check_crop(CNNC_DATALOADER(.crop_size = CNNC_INTS(4, 5), .crop_padding = CNNC_INTS(1)), 4, 5, 4,
               5, (const int[]){1, 1, 1, 1}, 1);
    /* (h, w) size without padding; the square int form; 2- and 4-value paddings */
    check_crop(CNNC_DATALOADER(.crop_size = CNNC_INTS(2, 3)), 4, 5, 2, 3, (const int[]){0, 0, 0, 0},
               1);
    check_crop(CNNC_DATALOADER(.crop_size = CNNC_INTS(3), .crop_padding = CNNC_INTS(2, 1)), 3, 3, 3,
               3, (const int[]){2, 1, 2, 1}, 1);
    check_crop(CNNC_DATALOADER(.crop_size = CNNC_INTS(3, 4), .crop_padding = CNNC_INTS(1, 0, 2, 1)),
               3, 4, 3, 4, (const int[]){1, 0, 2, 1}, 1);
    /* negative padding crops the border first, as torchvision's pad */
    check_crop(CNNC_DATALOADER(.crop_size = CNNC_INTS(2), .crop_padding = CNNC_INTS(-1)), 5, 5, 2,
               2, (const int[]){-1, -1, -1, -1}, 1);
    /* RandomHorizontalFlip(p=1) mirrors exactly; p=0.5 gives both; with a crop */
    check_crop(CNNC_DATALOADER(.horizontal_flip_p = 1.0), 3, 4, 3, 4, (const int[]){0, 0, 0, 0}, 2);
    check_crop(CNNC_DATALOADER(.horizontal_flip_p = 0.5), 3, 4, 3, 4, (const int[]){0, 0, 0, 0}, 3);
    check_crop(CNNC_DATALOADER(.crop_size = CNNC_INTS(3), .crop_padding = CNNC_INTS(1),
                               .horizontal_flip_p = 0.5),
               3, 3, 3, 3, (const int[]){1, 1, 1, 1}, 3);

    /* the choices depend on (seed, epoch, index), not on batch size or threads */
    cnnc_dataset *ds =
        cnnc_dataset_synthetic(true, 24, CNNC_SYNTHETIC(.channels = 3, .image_size = 12));
    REQUIRE(ds);
    cnnc_dataloader_options o =
        CNNC_DATALOADER(.crop_size = CNNC_INTS(10), .crop_padding = CNNC_INTS(3),
                        .horizontal_flip_p = 0.5, .seed = 3, .shuffle = true);
    float *ref = malloc(24 * 3 * 100 * sizeof(float));
    int64_t ref_order[24];
    for (int run = 0; run < 3; run++) {
        CHECK_OK(cnnc_set_num_threads(run == 2 ? 1 : 2));
        o.batch_size = run == 0 ? 24 : 5;
        cnnc_dataloader *dl = cnnc_dataloader_new(ds, o);
        REQUIRE(dl);
        CHECK_OK(cnnc_dataloader_set_epoch(dl, 4));
        cnnc_tensor *x, *y;
        int n = 0, bad = 0;
        while (cnnc_dataloader_next(dl, &x, &y) == CNNC_OK && x) {
            int64_t b = cnnc_tensor_size(x, 0);
            const float *p = cnnc_tensor_data_f32(x);
            if (run == 0) memcpy(ref, p, (size_t)b * 300 * sizeof(float));
            for (int64_t i = 0; i < b; i++, n++) {
                if (run == 0) ref_order[n] = cnnc_tensor_data_i64(y)[i];
                bad += memcmp(ref + n * 300, p + i * 300, 300 * sizeof(float)) != 0;
                bad += ref_order[n] != cnnc_tensor_data_i64(y)[i];
            }
            cnnc_tensor_release(x);
            cnnc_tensor_release(y);
        }
        CHECK_EQ_INT(n, 24);
        CHECK_EQ_INT(bad, 0);
        cnnc_dataloader_free(dl);
    }
    CHECK_OK(cnnc_set_num_threads(2));
    free(ref);

    /* errors, with torchvision's messages where it has one */
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.crop_size = CNNC_INTS(13))));
    CHECK_ERROR_CONTAINS("Required crop size (13, 13) is larger than input image size (12, 12)");
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.crop_size = CNNC_INTS(17), .crop_padding = CNNC_INTS(2))));
    CHECK_ERROR_CONTAINS("Required crop size (17, 17) is larger than input image size (16, 16)");
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.crop_size = CNNC_INTS(3, 3, 3))));
    CHECK_ERROR_CONTAINS("Please provide only two dimensions (h, w) for size.");
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.crop_size = CNNC_INTS(3), .crop_padding = CNNC_INTS(1, 2, 3))));
    CHECK_ERROR_CONTAINS(
        "Padding must be an int or a 1, 2, or 4 element tuple, not a 3 element tuple");
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.crop_padding = CNNC_INTS(4))));
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.crop_size = CNNC_INTS(0))));
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.crop_size = CNNC_INTS(3), .crop_padding = CNNC_INTS(INT64_MAX))));
    CHECK_NULL_ERR(cnnc_dataloader_new(
        ds, CNNC_DATALOADER(.crop_size = CNNC_INTS(3), .crop_padding = CNNC_INTS(INT64_MIN))));
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.crop_size = {.n = -1})));
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.horizontal_flip_p = 1.5)));
    CHECK_ERROR_CONTAINS("horizontal_flip_p must be in [0, 1], got 1.5");
    CHECK_NULL_ERR(cnnc_dataloader_new(ds, CNNC_DATALOADER(.horizontal_flip_p = NAN)));
    cnnc_dataset_release(ds);
}

/* Batches are written into the same tensors once the caller released them; a batch the
 * caller still holds (or a view of it) is never overwritten. No allocation per step. */
static void test_loader_reuse(void) {
    cnnc_dataset *ds = ramp_dataset(12, 1, 3, 3);
    cnnc_dataloader *dl =
        cnnc_dataloader_new(ds, CNNC_DATALOADER(.batch_size = 4, .shuffle = true));
    REQUIRE(dl);
    cnnc_tensor *x, *y, *x2, *y2;
    CHECK_OK(cnnc_dataloader_next(dl, &x, &y));
    cnnc_tensor *first = x;
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    CHECK_OK(cnnc_dataloader_next(dl, &x, &y));
    CHECK(x == first); /* reused */
    float keep = cnnc_tensor_data_f32(x)[0];
    CHECK_OK(cnnc_dataloader_next(dl, &x2, &y2)); /* x still held: a new tensor */
    CHECK(x2 != x);
    CHECK(cnnc_tensor_data_f32(x)[0] == keep);
    cnnc_tensor *v = cnnc_reshape(x, CNNC_SHAPE(4, 9));
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    cnnc_tensor_release(x2);
    cnnc_tensor_release(y2);
    CHECK_OK(cnnc_dataloader_next(dl, &x, &y)); /* the end of the epoch */
    CHECK(x == NULL);
    CHECK_OK(cnnc_dataloader_next(dl, &x, &y)); /* a view of the old batch is alive */
    CHECK(cnnc_tensor_data_f32(v)[0] == keep);
    cnnc_tensor_release(v);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
    /* the steady state allocates nothing (set the threads first: the pool allocates) */
    for (int i = 0; i < 8; i++) {
        if (cnnc_dataloader_next(dl, &x, &y) != CNNC_OK) break;
        cnnc_tensor_release(x);
        cnnc_tensor_release(y);
    }
    track_start();
    for (int i = 0; i < 40; i++) {
        CHECK_OK(cnnc_dataloader_next(dl, &x, &y));
        cnnc_tensor_release(x);
        cnnc_tensor_release(y);
    }
    track_stop();
    CHECK_EQ_INT(track.count, 0);
    /* inside a scope: the scope releases the batches */
    for (int i = 0; i < 6; i++) {
        CHECK_OK(cnnc_scope_begin());
        CHECK_OK(cnnc_dataloader_next(dl, &x, &y));
        CHECK_OK(cnnc_scope_end());
    }
    /* freeing the loader leaves the caller's batch valid */
    CHECK_OK(cnnc_dataloader_next(dl, &x, &y));
    cnnc_dataloader_free(dl);
    cnnc_dataset_release(ds);
    if (x) CHECK_EQ_INT(cnnc_tensor_numel(x), 36);
    cnnc_tensor_release(x);
    cnnc_tensor_release(y);
}

/* ---- allocation-failure injection ---------------------------------------------------------- */

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

/* One scenario per entry point: true and a checksum of the result, or false. */
static bool scenario(int which, double *sum) {
    char a[512], b[512];
    path_of(a, sizeof a, "inj_images");
    path_of(b, sizeof b, "inj_labels");
    cnnc_dataset *ds = NULL;
    *sum = 0;
    switch (which) {
    case 0: ds = cnnc_dataset_load_idx(a, b, CNNC_IDX()); break; /* gzip images, when zlib */
    case 1: ds = cnnc_dataset_load_cifar10_files(2, (const char *const[]){a, a}); break;
    case 2:
        ds = cnnc_dataset_synthetic(true, 12, CNNC_SYNTHETIC(.channels = 3, .image_size = 10));
        break;
    default: {
        cnnc_dataset *src = cnnc_dataset_synthetic(false, 10, CNNC_SYNTHETIC(.image_size = 8));
        cnnc_dataloader *dl =
            src ? cnnc_dataloader_new(
                      src,
                      CNNC_DATALOADER(.batch_size = 4, .shuffle = true, .crop_size = CNNC_INTS(6),
                                      .crop_padding = CNNC_INTS(1), .horizontal_flip_p = 0.5,
                                      .mean = CNNC_DOUBLES(0.3), .std = CNNC_DOUBLES(0.2)))
                : NULL;
        cnnc_dataset_release(src);
        if (!dl) return false;
        bool ok = true;
        cnnc_tensor *x, *y;
        for (int step = 0; step < 7 && ok; step++) { /* into a second epoch */
            ok = cnnc_dataloader_next(dl, &x, &y) == CNNC_OK;
            for (int64_t i = 0; x && i < cnnc_tensor_numel(x); i++)
                *sum += cnnc_tensor_data_f32(x)[i];
            cnnc_tensor_release(x);
            cnnc_tensor_release(y);
        }
        ok = ok && cnnc_dataloader_set_indices(dl, (const int64_t[]){1, 2, 3}, 3) == CNNC_OK;
        cnnc_dataloader_free(dl);
        return ok;
    }
    }
    if (!ds) return false;
    cnnc_tensor *x = cnnc_dataset_images(ds);
    for (int64_t i = 0; i < cnnc_tensor_numel(x); i++) *sum += cnnc_tensor_data_f32(x)[i];
    *sum += (double)strlen(cnnc_dataset_class_name(ds, 9));
    cnnc_dataset_release(ds);
    return true;
}

static void test_alloc_failures(void) {
    char a[512], b[512];
    bytes im = good_images(), lb = good_labels();
#ifdef CNNC_HAVE_ZLIB
    bytes gz = gzip_bytes(im.p, im.n);
    write_bytes(path_of(a, sizeof a, "inj_images"), gz.p, gz.n);
    bytes_free(&gz);
#else
    write_bytes(path_of(a, sizeof a, "inj_images"), im.p, im.n);
#endif
    write_bytes(path_of(b, sizeof b, "inj_labels"), lb.p, lb.n);
    for (int which = 0; which < 4; which++) {
        if (which == 1) { /* the CIFAR scenario reads a CIFAR file */
            bytes c = cifar_bytes(2, (const uint8_t[]){3, 9});
            write_bytes(a, c.p, c.n);
            bytes_free(&c);
        }
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
                check_fail_(__FILE__, __LINE__,
                            "scenario %d, failing allocation %ld: %ld blocks leaked", which, n,
                            inj.live);
            if (ok) {
                CHECK(got == want);
                if (inj.injected == 0) break; /* every allocation was tried: done */
                continue;
            }
            failures++;
            if (cnnc_last_status() != CNNC_ERR_OUT_OF_MEMORY ||
                !check_contains_(cnnc_last_error(), "out of memory"))
                check_fail_(__FILE__, __LINE__, "scenario %d, failing allocation %ld: %s \"%s\"",
                            which, n, cnnc_status_name(cnnc_last_status()), cnnc_last_error());
        }
        printf("allocation failures: scenario %d failed cleanly at %ld points\n", which, failures);
        CHECK(failures > 0);
    }
    bytes_free(&im);
    bytes_free(&lb);
    remove(a);
    remove(b);
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cnnc_test_data_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 2;
    }
    make_pixels();
    CHECK_OK(cnnc_set_num_threads(2));
    { /* start the thread pool before the allocators are swapped */
        cnnc_dataset *warm = cnnc_dataset_synthetic(true, 64, CNNC_SYNTHETIC());
        cnnc_dataset_release(warm);
    }
    RUN_TEST(test_idx_raw);
    RUN_TEST(test_idx_malformed);
    RUN_TEST(test_idx_files);
#ifdef CNNC_HAVE_ZLIB
    RUN_TEST(test_idx_gzip);
#else
    RUN_TEST(test_idx_gzip_unsupported);
#endif
    RUN_TEST(test_cifar);
    RUN_TEST(test_dataset_new);
    RUN_TEST(test_synthetic);
    RUN_TEST(test_loader_order);
    RUN_TEST(test_loader_normalize);
    RUN_TEST(test_loader_augment);
    RUN_TEST(test_loader_reuse);
    RUN_TEST(test_alloc_failures);
    char p[600];
    const char *names[] = {"images.idx", "labels.idx", "c1.bin", "c2.bin"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        remove(path_of(p, sizeof p, names[i]));
    rmdir(tmp_dir);
    return check_summary();
}
