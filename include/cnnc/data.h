/* cnnc public API: data sets and batches. Included by cnnc.h; include <cnnc.h>, not this.
 *
 * A data set holds every image as one float32 tensor [N, C, H, W] scaled to [0, 1]
 * (as torchvision's ToTensor) and the labels as int64 [N]. It comes from MNIST-style
 * IDX files (raw or gzip), CIFAR-10 binary batches, a built-in synthetic set of drawn
 * shapes (no download needed), or tensors you already have. A data loader walks it in
 * batches (torch.utils.data.DataLoader), with a seeded shuffle per epoch, drop_last,
 * torchvision's RandomCrop(size, padding) and RandomHorizontalFlip(p) for training,
 * and Normalize(mean, std):
 *
 *     cnnc_dataset *train = cnnc_dataset_synthetic(true, 10000, CNNC_SYNTHETIC(.seed = 1));
 *     cnnc_dataloader *loader = cnnc_dataloader_new(train, CNNC_DATALOADER(
 *         .batch_size = 64, .shuffle = true, .seed = 1,
 *         .mean = CNNC_DOUBLES(0.2), .std = CNNC_DOUBLES(0.3)));
 *     cnnc_dataset_release(train);                  // the loader holds its own reference
 *     for (int epoch = 0; epoch < 3; epoch++) {     // each pass is the next epoch
 *         cnnc_tensor *x, *y;                       // [64, 1, 28, 28] float32, [64] int64
 *         while (cnnc_dataloader_next(loader, &x, &y) == CNNC_OK && x) {
 *             ... forward, loss, backward, step ...
 *             cnnc_tensor_release(x);               // released batches are reused:
 *             cnnc_tensor_release(y);               // no allocation in the steady state
 *         }
 *     }
 *     cnnc_dataloader_free(loader);
 *
 * Everything random here (the synthetic images, the shuffle, the augmentation) comes
 * from the seed passed in the options, never from cnnc_manual_seed's generator, and
 * gives the same result on every machine and for every thread count.
 *
 * Malformed files are errors with a message naming the file and what is wrong (bad
 * magic, wrong type code, sizes that overflow or disagree with the file, truncated
 * data, image and label counts that differ, labels out of range, a corrupt gzip
 * stream): CNNC_ERR_IO when a file cannot be read, CNNC_ERR_INVALID_ARGUMENT for a
 * malformed one. No allocation is sized by a file value before that value has been
 * checked against the file's size. gzip needs zlib at build time
 * (cnnc_data_gzip_supported()); without it a gzip file is an error saying so. */
#ifndef CNNC_DATA_H
#define CNNC_DATA_H
#ifndef CNNC_H
#error "include <cnnc.h> instead"
#endif
#ifdef __cplusplus
extern "C" {
#endif

/* A read-only set of labelled images. Reference counted. */
typedef struct cnnc_dataset cnnc_dataset;

/* True when the library was built with zlib and reads gzip-compressed IDX files. */
CNNC_API bool cnnc_data_gzip_supported(void);

/* ---- data sets ----------------------------------------------------------------- */

/* A data set over tensors you have: images float32 [N, C, H, W] (any values), labels
 * int64 [N], each in [0, num_classes). class_names: NULL (names "0", "1", ...) or
 * num_classes strings, copied. The data set shares the tensors' storage (it keeps a
 * detached alias of each, outside any autograd graph): later in-place changes to them
 * are seen by the data set. num_classes must be >= 1. */
CNNC_API cnnc_dataset *cnnc_dataset_new(cnnc_tensor *images, cnnc_tensor *labels,
                                        int64_t num_classes, const char *const *class_names);

CNNC_API cnnc_dataset *cnnc_dataset_retain(cnnc_dataset *ds);
CNNC_API void cnnc_dataset_release(cnnc_dataset *ds); /* NULL is a no-op */

/* len(dataset): N (0 for NULL, with an error). */
CNNC_API int64_t cnnc_dataset_size(const cnnc_dataset *ds);
/* Borrowed (valid while ds lives): images float32 [N, C, H, W], labels int64 [N]. */
CNNC_API cnnc_tensor *cnnc_dataset_images(const cnnc_dataset *ds);
CNNC_API cnnc_tensor *cnnc_dataset_labels(const cnnc_dataset *ds);
CNNC_API int64_t cnnc_dataset_num_classes(const cnnc_dataset *ds);
/* Borrowed name of class i in [0, num_classes), or NULL with an error. */
CNNC_API const char *cnnc_dataset_class_name(const cnnc_dataset *ds, int64_t i);
/* Per-channel mean and standard deviation of every pixel (population std, divided by
 * N*H*W), accumulated in double: the values to pass to Normalize. mean and std each
 * receive C values. An empty data set is an error. */
CNNC_API cnnc_status cnnc_dataset_channel_stats(const cnnc_dataset *ds, double *mean,
                                                double *std);

/* ---- IDX (MNIST, Fashion-MNIST) ----------------------------------------------------
 * An IDX file is a 4-byte magic (0, 0, type code, number of dims), the dims as
 * big-endian uint32, then the values. Images must be unsigned bytes (type 0x08) of
 * [N, H, W]; labels unsigned bytes of [N]. Either file may be gzip-compressed
 * (recognised by its magic bytes 1f 8b, whatever its name). */
typedef struct cnnc_idx_options {
    int64_t num_classes;            /* labels must be in [0, num_classes) */
    const char *const *class_names; /* NULL: "0", "1", ...; else num_classes names */
} cnnc_idx_options;
#define CNNC_IDX(...) ((cnnc_idx_options){.num_classes = 10, .class_names = NULL, __VA_ARGS__})

/* Images [N, 1, H, W] in [0, 1] (byte / 255) and labels [N] from an IDX image file and
 * an IDX label file. */
CNNC_API cnnc_dataset *cnnc_dataset_load_idx(const char *images_path, const char *labels_path,
                                             cnnc_idx_options options);
/* torchvision's MNIST(root, train) over the original files in the folder root:
 * train-images-idx3-ubyte and train-labels-idx1-ubyte (train), or t10k-images-idx3-ubyte
 * and t10k-labels-idx1-ubyte; each name as is or with ".gz". Fashion-MNIST uses the
 * same names (pass .class_names = cnnc_fashion_mnist_classes). */
CNNC_API cnnc_dataset *cnnc_dataset_load_mnist(const char *root, bool train,
                                               cnnc_idx_options options);
/* Fashion-MNIST's ten class names, "T-shirt/top" ... "Ankle boot" (torchvision's). */
CNNC_API extern const char *const cnnc_fashion_mnist_classes[10];

/* ---- CIFAR-10 binary batches ---------------------------------------------------------
 * A batch file is a sequence of 3073-byte records: the label (0..9), then the 32x32
 * image as 1024 red, 1024 green and 1024 blue bytes (CHW, rows top to bottom). */

/* Images [N, 3, 32, 32] in [0, 1] and labels [N] from n batch files, concatenated in
 * the given order. Class names are CIFAR-10's ("airplane" ... "truck"). */
CNNC_API cnnc_dataset *cnnc_dataset_load_cifar10_files(int n, const char *const *paths);
/* torchvision's CIFAR10(root, train) over the binary version: root is the folder of
 * data_batch_1.bin ... data_batch_5.bin (train) or test_batch.bin. */
CNNC_API cnnc_dataset *cnnc_dataset_load_cifar10(const char *root, bool train);

/* ---- the synthetic set ----------------------------------------------------------------
 * Ten classes of drawn shapes: circle, ring, square, frame (a square outline),
 * triangle, plus, cross (an x), hbars (three horizontal bars), vbars (three vertical
 * bars), diamond. Each image draws one shape at a random position, size, aspect,
 * rotation (within +-15 degrees, so plus and cross stay distinct) and
 * stroke thickness, anti-aliased, with random foreground and background intensities
 * (random colours with 3 channels), a brightness gradient and pixel noise, quantised
 * to bytes like a real image file. Sample i has label i % 10 (so the classes are
 * balanced) and is a function of (seed, train, i) alone: the same arguments give
 * the same images on every machine and thread count, a set of n images is the first
 * n images of any larger one, and the train and test splits are independent draws.
 * A small CNN learns it to well above 95% test accuracy in a few epochs; a linear
 * classifier on the raw pixels does much worse (the shapes move). */
typedef struct cnnc_synthetic_options {
    uint64_t seed;
    int64_t channels;   /* 1 (grey) or 3 (colour) */
    int64_t image_size; /* H = W, in [8, 1024] */
} cnnc_synthetic_options;
#define CNNC_SYNTHETIC(...) \
    ((cnnc_synthetic_options){.seed = 0, .channels = 1, .image_size = 28, __VA_ARGS__})

/* size images ([size, channels, image_size, image_size]) of the train or test split.
 * size >= 0. */
CNNC_API cnnc_dataset *cnnc_dataset_synthetic(bool train, int64_t size,
                                              cnnc_synthetic_options options);

/* ---- the data loader ----------------------------------------------------------------
 * Walks a list of data-set indices (every index by default) in batches. Per epoch the
 * list is shuffled (when shuffle) by a permutation that depends only on (seed, epoch),
 * then cut into batches of batch_size (the last one smaller unless drop_last). Each
 * image then goes through, in torchvision's usual order:
 *   RandomCrop(crop_size, padding=crop_padding) with zero fill (when crop_size is given),
 *   RandomHorizontalFlip(p=horizontal_flip_p) (when p > 0),
 *   Normalize(mean, std): (x - mean[c]) / std[c] in float32 (when mean is given).
 * The random choices for an image (crop offsets i then j, uniform over every position of
 * the crop inside the padded image, and the flip) depend only on (seed, epoch, index in
 * the data set), not on its position in the order, the batch size or the thread count.
 * As in torchvision the zero padding is applied before Normalize (it becomes -mean/std). */
typedef struct cnnc_dataloader_options {
    int64_t batch_size;        /* >= 1 */
    bool shuffle;
    bool drop_last;
    uint64_t seed;             /* of the shuffle and the augmentation */
    /* The indices to walk, copied (NULL: 0 .. N-1). Each in [0, N); repeats allowed.
     * A shard of a data set is the list of its indices. */
    const int64_t *indices;
    int64_t num_indices;
    cnnc_ints crop_size;       /* None: no crop; int or (h, w) */
    cnnc_ints crop_padding;    /* int, (left/right, top/bottom) or (left, top, right,
                                * bottom), as torchvision; negative values crop */
    double horizontal_flip_p;  /* in [0, 1]; 0: no flip */
    cnnc_doubles mean;         /* None: no Normalize; else 1 value or one per channel */
    cnnc_doubles std;          /* as many values as mean, none of them 0 */
} cnnc_dataloader_options;
#define CNNC_DATALOADER(...)                                                            \
    ((cnnc_dataloader_options){.batch_size = 1, .shuffle = false, .drop_last = false,   \
                               .seed = 0, .indices = NULL, .num_indices = 0,            \
                               .crop_size = CNNC_INTS_NONE, .crop_padding = CNNC_INTS(0), \
                               .horizontal_flip_p = 0.0, .mean = {.n = 0}, .std = {.n = 0}, \
                               __VA_ARGS__})

/* A loader is used from one thread at a time (it fills each batch with the library's
 * threads itself). */
typedef struct cnnc_dataloader cnnc_dataloader;

/* A loader over ds (which it retains) at the start of epoch 0. Errors: bad options
 * (torchvision's messages: "Required crop size (30, 30) is larger than input image
 * size (28, 28)", "std evaluated to zero after conversion to torch.float32, leading
 * to division by zero."), an index out of range. */
CNNC_API cnnc_dataloader *cnnc_dataloader_new(cnnc_dataset *ds, cnnc_dataloader_options options);
/* Frees the loader and its reference to the data set. Batches it returned stay valid
 * (they are the caller's references). NULL is a no-op. */
CNNC_API void cnnc_dataloader_free(cnnc_dataloader *dl);

/* The next batch: *images float32 [B, C, h, w] (h, w the crop size, else the image
 * size) and *labels int64 [B], each a new reference the caller releases (given to the
 * current scope, if any). At the end of an epoch both are set to NULL and CNNC_OK is
 * returned; the call after that starts the next epoch. On an error both are NULL.
 * Buffers are reused: when the caller has released the previous batch of the same
 * size (and made no view of it), the next batch is written into the same tensors, so a
 * training loop that releases its batches allocates nothing per step. */
CNNC_API cnnc_status cnnc_dataloader_next(cnnc_dataloader *dl, cnnc_tensor **images,
                                          cnnc_tensor **labels);

/* len(loader): batches per epoch (ceil, or floor with drop_last, of num_indices /
 * batch_size). These getters return 0 with an error for NULL. */
CNNC_API int64_t cnnc_dataloader_len(const cnnc_dataloader *dl);
/* The epoch the loader is in (or has just finished). */
CNNC_API int64_t cnnc_dataloader_epoch(const cnnc_dataloader *dl);
/* Restarts at the first batch of the given epoch (>= 0), e.g. to resume a run. */
CNNC_API cnnc_status cnnc_dataloader_set_epoch(cnnc_dataloader *dl, int64_t epoch);
/* Replaces the index list (copied; each in [0, N)) and restarts the current epoch:
 * a distributed sampler sets each rank's shard per epoch with it. */
CNNC_API cnnc_status cnnc_dataloader_set_indices(cnnc_dataloader *dl, const int64_t *indices,
                                                 int64_t num_indices);

/* ---- the distributed sampler ---------------------------------------------------------
 * torch.utils.data.DistributedSampler: rank `rank` of `num_replicas` gets its shard of a
 * data set of `dataset_len` samples. Per epoch the indices 0..len-1 are shuffled (when
 * shuffle) by a permutation that depends only on (seed, epoch) — the same on every rank,
 * so the shards never overlap — then either padded by repeating indices from the start
 * until the total divides evenly (drop_last false) or cut to the largest multiple of
 * num_replicas (drop_last true); rank r takes entries r, r + num_replicas, ... Every
 * rank gets num_samples indices. (The permutation is cnnc's own seeded shuffle, not
 * torch's randperm; the padding, dropping and striding rules are torch's.) Feed a shard
 * to a loader with cnnc_dataloader_set_indices (shuffle off: the order is the
 * sampler's). Needs no MPI: num_replicas and rank come from cnnc_dist_world_size and
 * cnnc_dist_rank, or from anywhere else. */
typedef struct cnnc_distributed_sampler_options {
    int64_t num_replicas; /* >= 1 */
    int64_t rank;         /* in [0, num_replicas) */
    bool shuffle;
    uint64_t seed;        /* the same on every rank */
    bool drop_last;
} cnnc_distributed_sampler_options;
#define CNNC_DISTRIBUTED_SAMPLER(...)                                                      \
    ((cnnc_distributed_sampler_options){.num_replicas = 1, .rank = 0, .shuffle = true,    \
                                        .seed = 0, .drop_last = false, __VA_ARGS__})

/* len(sampler): the indices each rank gets per epoch (ceil(len / num_replicas), or with
 * drop_last and an uneven len, ceil((len - num_replicas) / num_replicas)); -1 with an
 * error for bad options (torch's "Invalid rank 4, rank should be in the interval [0,
 * 3]") or dataset_len < 0. */
CNNC_API int64_t cnnc_distributed_sampler_len(int64_t dataset_len,
                                              cnnc_distributed_sampler_options options);
/* Writes this rank's indices for the epoch (>= 0) to out, which has room for cap
 * entries (at least cnnc_distributed_sampler_len), and returns their number; -1 with an
 * error otherwise (nothing written). */
CNNC_API int64_t cnnc_distributed_sampler_indices(int64_t dataset_len, int64_t epoch,
                                                  cnnc_distributed_sampler_options options,
                                                  int64_t *out, int64_t cap);

#ifdef __cplusplus
}
#endif
#endif /* CNNC_DATA_H */
