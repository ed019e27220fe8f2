/* Data sets of `cnnc train` / `cnnc eval`: --data synthetic (the built-in shapes),
 * mnist:DIR / fashion-mnist:DIR (IDX files, raw or gzip) or cifar10:DIR (the binary
 * batches). Normalisation always uses the training split's channel statistics, so
 * `cnnc eval` normalises the test split exactly as `cnnc train` did. */
#include <stdio.h>
#include <string.h>

#include "train.h"

/* "kind:DIR" -> kind matched, *dir set. */
static bool prefixed(const char *spec, const char *kind, const char **dir)
{
    size_t n = strlen(kind);
    if (strncmp(spec, kind, n) != 0 || spec[n] != ':' || !spec[n + 1])
        return false;
    *dir = spec + n + 1;
    return true;
}

static cnnc_dataset *load_split(const train_data_options *o, bool train, char *err, size_t cap)
{
    const char *dir = NULL;
    cnnc_dataset *ds = NULL;
    if (!strcmp(o->spec, "synthetic"))
        ds = cnnc_dataset_synthetic(train, train ? o->train_size : o->test_size,
                                    CNNC_SYNTHETIC(.seed = o->seed, .channels = o->channels,
                                                   .image_size = o->image_size));
    else if (prefixed(o->spec, "mnist", &dir))
        ds = cnnc_dataset_load_mnist(dir, train, CNNC_IDX());
    else if (prefixed(o->spec, "fashion-mnist", &dir))
        ds = cnnc_dataset_load_mnist(dir, train,
                                     CNNC_IDX(.class_names = cnnc_fashion_mnist_classes));
    else if (prefixed(o->spec, "cifar10", &dir))
        ds = cnnc_dataset_load_cifar10(dir, train);
    else {
        snprintf(err, cap, "unknown --data '%s' (synthetic, mnist:DIR, fashion-mnist:DIR or "
                           "cifar10:DIR)", o->spec);
        return NULL;
    }
    if (!ds)
        snprintf(err, cap, "%s", cnnc_last_error());
    return ds;
}

bool train_data_load(const train_data_options *o, bool want_train, bool want_test,
                     train_data *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    /* The statistics always come from the training split (eval normalises as train did). */
    cnnc_dataset *train = load_split(o, true, err, cap);
    if (!train)
        return false;
    cnnc_tensor *images = cnnc_dataset_images(train);
    out->channels = cnnc_tensor_size(images, 1);
    out->image_size = cnnc_tensor_size(images, 2);
    out->num_classes = cnnc_dataset_num_classes(train);
    out->augment_ok = out->channels == 3 && out->image_size == 32;
    if (out->channels > 3 || cnnc_dataset_channel_stats(train, out->mean, out->std) != CNNC_OK) {
        snprintf(err, cap, "channel statistics: %s",
                 out->channels > 3 ? "more than 3 channels" : cnnc_last_error());
        cnnc_dataset_release(train);
        return false;
    }
    for (int c = 0; c < out->channels; c++)
        if (out->std[c] == 0)
            out->std[c] = 1; /* a constant channel: leave its scale alone */
    if (want_test) {
        out->test = load_split(o, false, err, cap);
        if (!out->test) {
            cnnc_dataset_release(train);
            return false;
        }
    }
    if (want_train)
        out->train = train;
    else
        cnnc_dataset_release(train);
    return true;
}

void train_data_free(train_data *d)
{
    if (!d)
        return;
    cnnc_dataset_release(d->train);
    cnnc_dataset_release(d->test);
    d->train = d->test = NULL;
}
