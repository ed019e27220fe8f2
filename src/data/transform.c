/* The loader's per-image transforms, with torchvision's semantics:
 *   RandomCrop(size, padding): pad with zeros (left, top, right, bottom), then take the
 *     size window whose top-left corner is (top, left), uniform over every position;
 *   RandomHorizontalFlip(p): mirror the crop's columns;
 *   Normalize(mean, std): (x - mean[c]) / std[c] in float32. */
#include "data/transform.h"

#include <math.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/args.h"
#include "data/random.h"

static const char fn[] = "dataloader_new";

static cnnc_status init_crop(cnnc__transform *t, const cnnc_dataloader_options *o) {
    const cnnc_ints *size = &o->crop_size, *pad = &o->crop_padding;
    if (cnnc__check_ints(fn, "crop_size", size) != CNNC_OK ||
        cnnc__check_ints(fn, "crop_padding", pad) != CNNC_OK)
        return cnnc_last_status();
    if (size->n > 2)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Please provide only two dimensions (h, w) for size.");
    if (pad->n != 0 && pad->n != 1 && pad->n != 2 && pad->n != 4)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Padding must be an int or a 1, 2, or 4 element tuple, not a %d element "
                           "tuple",
                           pad->n);
    /* torchvision's order: an int pads every side; (lr, tb); (left, top, right, bottom) */
    const int64_t *p = pad->v;
    int64_t l = 0, tp = 0, r = 0, b = 0;
    if (pad->n == 1) l = tp = r = b = p[0];
    if (pad->n == 2) l = r = p[0], tp = b = p[1];
    if (pad->n == 4) l = p[0], tp = p[1], r = p[2], b = p[3];
    t->crop = size->n > 0;
    if (!t->crop) {
        if (l || tp || r || b)
            return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                               "%s(): crop_padding needs a crop_size (RandomCrop(size, padding))",
                               fn);
        return CNNC_OK;
    }
    int64_t th = size->v[0], tw = size->v[size->n - 1];
    if (th < 1 || tw < 1)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): crop_size must be positive, got (%lld, %lld)", fn, (long long)th,
                           (long long)tw);
    /* pads are at most CNNC's int64 values: add in int64 with overflow checks */
    int64_t ph, pw;
    if (!cnnc__add_i64(t->height, tp, &ph) || !cnnc__add_i64(ph, b, &ph) ||
        !cnnc__add_i64(t->width, l, &pw) || !cnnc__add_i64(pw, r, &pw) || ph > INT32_MAX ||
        pw > INT32_MAX)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT, "%s(): crop_padding is too large", fn);
    if (ph < th || pw < tw)
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Required crop size (%lld, %lld) is larger than input image size "
                           "(%lld, %lld)",
                           (long long)th, (long long)tw, (long long)ph, (long long)pw);
    t->out_h = th;
    t->out_w = tw;
    t->pad_left = l, t->pad_top = tp, t->pad_right = r, t->pad_bottom = b;
    return CNNC_OK;
}

/* mean and std: None, or 1 or C values each (broadcast as torchvision's view(-1, 1, 1)). */
static cnnc_status init_normalize(cnnc__transform *t, const cnnc_dataloader_options *o) {
    const cnnc_doubles *mean = &o->mean, *std = &o->std;
    if (cnnc__check_doubles(fn, "mean", mean) != CNNC_OK ||
        cnnc__check_doubles(fn, "std", std) != CNNC_OK)
        return cnnc_last_status();
    t->normalize = mean->n > 0 || std->n > 0;
    if (!t->normalize) return CNNC_OK;
    int64_t c = t->channels;
    if ((mean->n != 1 && mean->n != c) || (std->n != 1 && std->n != c))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "Normalize: mean has %d and std %d values, but the images have %lld "
                           "channels (expected 1 or %lld values each)",
                           mean->n, std->n, (long long)c, (long long)c);
    t->mean = cnnc__calloc((size_t)c, sizeof(float));
    t->std = cnnc__calloc((size_t)c, sizeof(float));
    if (!t->mean || !t->std) return cnnc__oom("Normalize's mean and std");
    for (int64_t i = 0; i < c; i++) {
        t->mean[i] = (float)mean->v[mean->n == 1 ? 0 : i];
        t->std[i] = (float)std->v[std->n == 1 ? 0 : i];
        if (t->std[i] == 0.0f)
            return cnnc__error(
                CNNC_ERR_INVALID_ARGUMENT,
                "std evaluated to zero after conversion to torch.float32, leading to "
                "division by zero.");
    }
    return CNNC_OK;
}

cnnc_status cnnc__transform_init(cnnc__transform *t, const int64_t *image_shape,
                                 const cnnc_dataloader_options *options) {
    *t = (cnnc__transform){.channels = image_shape[1],
                           .height = image_shape[2],
                           .width = image_shape[3],
                           .out_h = image_shape[2],
                           .out_w = image_shape[3]};
    double p = options->horizontal_flip_p;
    if (!(p >= 0 && p <= 1))
        return cnnc__error(CNNC_ERR_INVALID_ARGUMENT,
                           "%s(): horizontal_flip_p must be in [0, 1], got %g", fn, p);
    t->flip_p = p;
    cnnc_status st = init_crop(t, options);
    if (st == CNNC_OK) st = init_normalize(t, options);
    if (st != CNNC_OK) cnnc__transform_free(t);
    return st;
}

void cnnc__transform_free(cnnc__transform *t) {
    cnnc__free(t->mean);
    cnnc__free(t->std);
    t->mean = t->std = NULL;
}

cnnc__augment cnnc__transform_draw(const cnnc__transform *t, uint64_t seed, int64_t epoch,
                                   int64_t index) {
    cnnc__augment a = {0, 0, false};
    cnnc__drng r =
        cnnc__drng_key(seed, 0x4175676d656e74ULL /* "Augment" */, (uint64_t)epoch, (uint64_t)index);
    if (t->crop) { /* as get_params: the row first, then the column */
        int64_t ph = t->height + t->pad_top + t->pad_bottom;
        int64_t pw = t->width + t->pad_left + t->pad_right;
        a.top = (int64_t)cnnc__drng_below(&r, (uint64_t)(ph - t->out_h + 1));
        a.left = (int64_t)cnnc__drng_below(&r, (uint64_t)(pw - t->out_w + 1));
    }
    if (t->flip_p > 0) a.flip = cnnc__drng_unit(&r) < t->flip_p;
    return a;
}

void cnnc__transform_apply(const cnnc__transform *t, const cnnc__augment *a, const float *src,
                           float *out) {
    int64_t h = t->height, w = t->width, oh = t->out_h, ow = t->out_w;
    /* output (y, x) reads padded (top + y, left + x'), x' = x or ow - 1 - x (flip), i.e.
     * source (top + y - pad_top, left + x' - pad_left); outside the image it is 0 */
    int64_t row0 = a->top - t->pad_top, col0 = a->left - t->pad_left;
    for (int64_t c = 0; c < t->channels; c++) {
        float m = t->normalize ? t->mean[c] : 0.0f, s = t->normalize ? t->std[c] : 1.0f;
        const float *plane = src + c * h * w;
        for (int64_t y = 0; y < oh; y++) {
            float *o = out + (c * oh + y) * ow;
            int64_t sy = row0 + y;
            for (int64_t x = 0; x < ow; x++) {
                int64_t sx = col0 + (a->flip ? ow - 1 - x : x);
                float v = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? plane[sy * w + sx] : 0.0f;
                o[x] = t->normalize ? (v - m) / s : v;
            }
        }
    }
}
