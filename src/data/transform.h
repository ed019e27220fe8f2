/* Internal: the per-image transforms of the data loader (torchvision's RandomCrop with
 * zero padding, RandomHorizontalFlip, Normalize) and the batch fill that applies them. */
#ifndef CNNC_DATA_TRANSFORM_H
#define CNNC_DATA_TRANSFORM_H
#include <stdbool.h>
#include <stdint.h>

#include "cnnc.h"

typedef struct cnnc__transform {
    int64_t channels, height, width; /* the data set's images */
    bool crop;
    int64_t out_h, out_w; /* the crop size, else the image size */
    int64_t pad_left, pad_top, pad_right, pad_bottom;
    double flip_p; /* 0: no flip */
    bool normalize;
    float *mean, *std; /* channels values each, when normalize */
} cnnc__transform;

/* Validates the loader options against the images [N, C, H, W] and fills t (its mean
 * and std arrays are allocated; free with cnnc__transform_free). */
cnnc_status cnnc__transform_init(cnnc__transform *t, const int64_t *image_shape,
                                 const cnnc_dataloader_options *options);
void cnnc__transform_free(cnnc__transform *t);

/* The random choices for one image: the crop's top-left corner in the padded image,
 * and whether to flip. */
typedef struct cnnc__augment {
    int64_t top, left;
    bool flip;
} cnnc__augment;

/* out [C, out_h, out_w] from src [C, H, W] with the given choices. */
void cnnc__transform_apply(const cnnc__transform *t, const cnnc__augment *a, const float *src,
                           float *out);

/* Draws the choices for data-set image `index` in `epoch` (its own stream). */
cnnc__augment cnnc__transform_draw(const cnnc__transform *t, uint64_t seed, int64_t epoch,
                                   int64_t index);
#endif
