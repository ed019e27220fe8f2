/* The built-in architectures of `cnnc train`:
 *   lenet         LeNet-5 with ReLU and max pooling (conv 6@5x5, pool, conv 16@5x5,
 *                 pool, 120, 84, classes); 28x28 inputs get padding 2 in the first
 *                 convolution, as in the original 32x32 layout
 *   cnn-small     conv 16@3x3, batch norm, ReLU, max pool, conv 32@3x3, batch norm,
 *                 ReLU, max pool, linear: the demo's network
 *   resnet-small  a CIFAR-style ResNet of BasicBlocks (16, 32, 64 channels, one block
 *                 per stage, global average pooling): examples/resnet.c
 * Model files (--model) come from cnnc_model_load (python3 -m cnnc.export writes them). */
#include <stdio.h>
#include <string.h>

#include "examples.h"
#include "train.h"

const char *const train_arch_names[] = {"lenet", "cnn-small", "resnet-small", NULL};

static cnnc_module *conv(int64_t in, int64_t out, int64_t k, int64_t pad, bool bias)
{
    return cnnc_conv2d_new(in, out, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(k),
                                                     .padding = CNNC_INTS(pad), .bias = bias));
}

static cnnc_module *maxpool2(void)
{
    return cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2)));
}

static cnnc_module *relu(void) { return cnnc_relu_new(CNNC_RELU()); }

/* Sequential over the n modules (NULL if any is NULL: the others are released). */
static cnnc_module *sequential(int n, cnnc_module **layers)
{
    for (int i = 0; i < n; i++)
        if (!layers[i]) {
            for (int j = 0; j < n; j++)
                cnnc_module_release(layers[j]);
            return NULL;
        }
    return cnnc_sequential_new(n, layers);
}

static cnnc_module *lenet(int64_t c, int64_t size, int64_t classes, char *err, size_t cap)
{
    int64_t pad = size == 28 ? 2 : 0;
    int64_t f = ((size + 2 * pad - 4) / 2 - 4) / 2; /* spatial size before the classifier */
    if (size + 2 * pad < 16 || f < 1) {
        snprintf(err, cap, "lenet needs images of at least 16x16 (28x28 or 32x32 usual), "
                           "got %lldx%lld", (long long)size, (long long)size);
        return NULL;
    }
    cnnc_module *layers[] = {
        conv(c, 6, 5, pad, true), relu(), maxpool2(),
        conv(6, 16, 5, 0, true), relu(), maxpool2(),
        cnnc_flatten_new(CNNC_FLATTEN()),
        cnnc_linear_new(16 * f * f, 120, CNNC_LINEAR()), relu(),
        cnnc_linear_new(120, 84, CNNC_LINEAR()), relu(),
        cnnc_linear_new(84, classes, CNNC_LINEAR()),
    };
    return sequential((int)(sizeof layers / sizeof *layers), layers);
}

static cnnc_module *cnn_small(int64_t c, int64_t size, int64_t classes, char *err, size_t cap)
{
    if (size < 4) {
        snprintf(err, cap, "cnn-small needs images of at least 4x4, got %lldx%lld",
                 (long long)size, (long long)size);
        return NULL;
    }
    int64_t f = size / 4;
    cnnc_module *layers[] = {
        conv(c, 16, 3, 1, false), cnnc_batchnorm2d_new(16, CNNC_BATCHNORM()), relu(), maxpool2(),
        conv(16, 32, 3, 1, false), cnnc_batchnorm2d_new(32, CNNC_BATCHNORM()), relu(), maxpool2(),
        cnnc_flatten_new(CNNC_FLATTEN()),
        cnnc_linear_new(32 * f * f, classes, CNNC_LINEAR()),
    };
    return sequential((int)(sizeof layers / sizeof *layers), layers);
}

cnnc_module *train_model_new(const char *arch, int64_t channels, int64_t size,
                             int64_t num_classes, char *err, size_t cap)
{
    cnnc_module *m = NULL;
    if (!strcmp(arch, "lenet"))
        m = lenet(channels, size, num_classes, err, cap);
    else if (!strcmp(arch, "cnn-small"))
        m = cnn_small(channels, size, num_classes, err, cap);
    else if (!strcmp(arch, "resnet-small")) {
        if (size < 4) {
            snprintf(err, cap, "resnet-small needs images of at least 4x4");
            return NULL;
        }
        m = example_resnet_new(channels, num_classes, 16, 1);
    } else {
        snprintf(err, cap, "unknown architecture '%s' (one of lenet, cnn-small, resnet-small)",
                 arch);
        return NULL;
    }
    if (!m && !*err)
        snprintf(err, cap, "%s", cnnc_last_error());
    return m;
}

/* A cnnc model file (include/cnnc/model.h; part of the library when it is built with
 * its I/O part, CNNC_HAS_IO): any architecture exported from PyTorch, trainable. */
cnnc_module *train_model_load(const char *path, char *err, size_t cap)
{
#ifdef CNNC_HAS_IO
    cnnc_module *m = cnnc_model_load(path);
    if (!m)
        snprintf(err, cap, "--model %s: %s", path, cnnc_last_error());
    return m;
#else
    snprintf(err, cap, "--model %s: this build has no model-file loader (cnnc_model_load; "
                       "the library's I/O part needs cJSON); use --arch", path);
    return NULL;
#endif
}
