/* IDX files (MNIST, Fashion-MNIST): a magic (0, 0, type code, ndim), big-endian
 * uint32 dims, then the values; raw or gzip. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/tensor.h"
#include "data/dataset.h"
#include "data/readers.h"
#include "data/source.h"

const char *const cnnc_fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

enum { IDX_UBYTE = 0x08, IDX_MAX_DIMS = 3 };

static const char *idx_type_name(uint8_t code) {
    switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

/* One decoded IDX file of unsigned bytes: dims and the values (owned by its source). */
typedef struct idx_file {
    cnnc__source src;
    int64_t dims[IDX_MAX_DIMS];
    const uint8_t *values;
} idx_file;

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads the header (checking magic, type and ndim), then exactly the values it
 * declares, then checks the data ends there. `shape` describes the expected dims. */
static cnnc_status idx_read(idx_file *f, int ndim, const char *shape) {
    cnnc__source *s = &f->src;
    const uint8_t *m, *d;
    cnnc_status st = cnnc__source_take(s, 4, "IDX magic", &m);
    if (st != CNNC_OK) return st;
    if (m[0] != 0 || m[1] != 0)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: not an IDX file (bad magic %02x %02x %02x %02x; an IDX file "
                           "starts with 00 00, its type code and its number of dims)",
                           s->what, m[0], m[1], m[2], m[3]);
    const char *type = idx_type_name(m[2]);
    if (!type)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: invalid IDX type code 0x%02x", s->what,
                           m[2]);
    if (m[2] != IDX_UBYTE)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: IDX type code 0x%02x (%s) is not supported: expected 0x08 "
                           "(unsigned byte)",
                           s->what, m[2], type);
    if (m[3] != ndim)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s: expected an IDX file of %d dims %s, got %d dims", s->what, ndim,
                           shape, m[3]);
    if ((st = cnnc__source_take(s, 4 * (size_t)ndim, "IDX dims", &d)) != CNNC_OK) return st;
    int64_t count = 1;
    bool overflow = false;
    for (int i = 0; i < ndim; i++) {
        f->dims[i] = be32(d + 4 * i);
        overflow |= !cnnc__mul_i64(count, f->dims[i], &count);
    }
    if (overflow || (uint64_t)count > SIZE_MAX) {
        char buf[128];
        cnnc__shape_str(buf, sizeof buf, ndim, f->dims);
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s: the IDX dims %s overflow", s->what, buf);
    }
    if ((st = cnnc__source_take(s, (size_t)count, "IDX values", &f->values)) != CNNC_OK) return st;
    return cnnc__source_end(s, "values its header declares");
}

static cnnc_status idx_open_read(idx_file *f, const char *what, const uint8_t *data, size_t size,
                                 int ndim, const char *shape) {
    cnnc_status st = cnnc__source_open(&f->src, what, data, size);
    return st != CNNC_OK ? st : idx_read(f, ndim, shape);
}

/* Both files decoded and consistent: the data set. */
static cnnc_dataset *idx_build(const idx_file *im, const idx_file *lb, cnnc_idx_options opt) {
    int64_t n = im->dims[0], h = im->dims[1], w = im->dims[2];
    if (h < 1 || w < 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT, "%s: the image size %lldx%lld is empty",
                                im->src.what, (long long)h, (long long)w);
    if (lb->dims[0] != n)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "%s has %lld images but %s has %lld labels", im->src.what,
                                (long long)n, lb->src.what, (long long)lb->dims[0]);
    cnnc_dataset *ds =
        cnnc__dataset_alloc("load_idx", n, 1, h, w, opt.num_classes, opt.class_names);
    if (!ds) return NULL;
    for (int64_t i = 0; i < n; i++) {
        if (cnnc__dataset_set_label(ds, i, lb->src.what, i, lb->values[i]) != CNNC_OK) {
            cnnc_dataset_release(ds);
            return NULL;
        }
    }
    cnnc__bytes_to_unit(cnnc__f32(ds->images), im->values, (size_t)(n * h * w));
    return ds;
}

cnnc_dataset *cnnc__idx_decode(const char *images_what, const uint8_t *images, size_t images_size,
                               const char *labels_what, const uint8_t *labels, size_t labels_size,
                               cnnc_idx_options options) {
    idx_file im = {0}, lb = {0};
    cnnc_dataset *ds = NULL;
    if (idx_open_read(&im, images_what, images, images_size, 3, "[N, H, W] of images") == CNNC_OK &&
        idx_open_read(&lb, labels_what, labels, labels_size, 1, "[N] of labels") == CNNC_OK)
        ds = idx_build(&im, &lb, options);
    cnnc__source_close(&im.src);
    cnnc__source_close(&lb.src);
    return ds;
}

cnnc_dataset *cnnc_dataset_load_idx(const char *images_path, const char *labels_path,
                                    cnnc_idx_options options) {
    CNNC__NONNULL_OR_NULL("dataset_load_idx", images_path);
    CNNC__NONNULL_OR_NULL("dataset_load_idx", labels_path);
    if (options.num_classes < 1)
        return cnnc__error_null(CNNC_ERR_INVALID_ARGUMENT,
                                "dataset_load_idx(): num_classes must be >= 1, got %lld",
                                (long long)options.num_classes);
    uint8_t *im = NULL, *lb = NULL;
    size_t im_size = 0, lb_size = 0;
    cnnc_dataset *ds = NULL;
    if (cnnc__read_file(images_path, &im, &im_size) == CNNC_OK &&
        cnnc__read_file(labels_path, &lb, &lb_size) == CNNC_OK)
        ds = cnnc__idx_decode(images_path, im, im_size, labels_path, lb, lb_size, options);
    cnnc__free(im);
    cnnc__free(lb);
    return ds;
}

/* root/name, or root/name.gz when only that exists; NULL (error set) otherwise. */
static char *find_file(const char *root, const char *name) {
    size_t n = strlen(root) + strlen(name) + 5; /* '/', ".gz", '\0' */
    char *path = cnnc__malloc(n);
    if (!path) return (cnnc__oom("a file name"), NULL);
    struct stat st;
    snprintf(path, n, "%s/%s", root, name);
    if (stat(path, &st) == 0) return path;
    snprintf(path, n, "%s/%s.gz", root, name);
    if (stat(path, &st) == 0) return path;
    cnnc__error(CNNC_ERR_IO, "cannot find '%s/%s' (nor '%s/%s.gz')", root, name, root, name);
    cnnc__free(path);
    return NULL;
}

cnnc_dataset *cnnc_dataset_load_mnist(const char *root, bool train, cnnc_idx_options options) {
    CNNC__NONNULL_OR_NULL("dataset_load_mnist", root);
    const char *prefix = train ? "train" : "t10k";
    char images_name[64], labels_name[64];
    snprintf(images_name, sizeof images_name, "%s-images-idx3-ubyte", prefix);
    snprintf(labels_name, sizeof labels_name, "%s-labels-idx1-ubyte", prefix);
    char *images = find_file(root, images_name);
    char *labels = images ? find_file(root, labels_name) : NULL;
    cnnc_dataset *ds = labels ? cnnc_dataset_load_idx(images, labels, options) : NULL;
    cnnc__free(images);
    cnnc__free(labels);
    return ds;
}
