/* A small U-Net as a user-defined cnnc module (see examples.h): the encoder and
 * decoder are Sequentials of built-in modules, the skip connections live in the
 * forward callback.
 *
 * Run it: build/examples/unet  (prints the network and one forward/backward on a
 * random 2x1x64x64 batch). */
#include <stdio.h>
#include <stdlib.h>

#include "examples.h"

typedef struct unet {
    cnnc_module *inc, *down1, *down2, *up1, *conv1, *up2, *conv2, *outc; /* borrowed */
} unet;

/* cat([skip, up(x)], dim=1) then the double conv */
static cnnc_tensor *up_step(cnnc_module *up, cnnc_module *conv, cnnc_tensor *x, cnnc_tensor *skip) {
    cnnc_tensor *u = cnnc_module_forward(up, x);
    if (!u) return NULL;
    cnnc_tensor *c = cnnc_cat(2, (cnnc_tensor *[]){skip, u}, 1);
    return c ? cnnc_module_forward(conv, c) : NULL;
}

static cnnc_tensor *unet_forward(cnnc_module *self, cnnc_tensor *x) {
    unet *n = cnnc_module_data(self);
    cnnc_tensor *x1 = cnnc_module_forward(n->inc, x);
    cnnc_tensor *x2 = x1 ? cnnc_module_forward(n->down1, x1) : NULL;
    cnnc_tensor *x3 = x2 ? cnnc_module_forward(n->down2, x2) : NULL;
    cnnc_tensor *u = x3 ? up_step(n->up1, n->conv1, x3, x2) : NULL;
    u = u ? up_step(n->up2, n->conv2, u, x1) : NULL;
    return u ? cnnc_module_forward(n->outc, u) : NULL;
}

/* (conv3x3 => BN => ReLU) * 2, as a Sequential */
static cnnc_module *double_conv(int64_t in, int64_t out) {
    cnnc_conv_module_options o = CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .padding = CNNC_INTS(1),
                                                  .bias = false);
    return cnnc_sequential_new(6, (cnnc_module *[]){
        cnnc_conv2d_new(in, out, o), cnnc_batchnorm2d_new(out, CNNC_BATCHNORM()), cnnc_relu_new(CNNC_RELU()),
        cnnc_conv2d_new(out, out, o), cnnc_batchnorm2d_new(out, CNNC_BATCHNORM()), cnnc_relu_new(CNNC_RELU())});
}

static cnnc_module *down(int64_t in, int64_t out) {
    cnnc_module *pool = cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2)));
    cnnc_module *conv = double_conv(in, out);
    if (pool && conv) return cnnc_sequential_new(2, (cnnc_module *[]){pool, conv});
    cnnc_module_release(pool);
    cnnc_module_release(conv);
    return NULL;
}

static cnnc_module *up(int64_t in, int64_t out) {
    return cnnc_convtranspose2d_new(in, out, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(2),
                                                                        .stride = CNNC_INTS(2)));
}

static cnnc_status add(cnnc_module *m, const char *name, cnnc_module *child, cnnc_module **slot) {
    *slot = child;
    return child ? cnnc_module_register_module(m, name, child) : cnnc_last_status();
}

cnnc_module *example_unet_new(int64_t in_channels, int64_t n_classes, int64_t width) {
    unet *n = calloc(1, sizeof *n);
    cnnc_module *m = n ? cnnc_module_new(&(cnnc_module_def){.type_name = "UNet", .forward = unet_forward,
                                                             .free_data = free}, n)
                       : NULL;
    if (!m) {
        free(n);
        return NULL;
    }
    const int64_t w = width;
    cnnc_status st = add(m, "inc", double_conv(in_channels, w), &n->inc);
    if (!st) st = add(m, "down1", down(w, 2 * w), &n->down1);
    if (!st) st = add(m, "down2", down(2 * w, 4 * w), &n->down2);
    if (!st) st = add(m, "up1", up(4 * w, 2 * w), &n->up1);
    if (!st) st = add(m, "conv1", double_conv(4 * w, 2 * w), &n->conv1);
    if (!st) st = add(m, "up2", up(2 * w, w), &n->up2);
    if (!st) st = add(m, "conv2", double_conv(2 * w, w), &n->conv2);
    if (!st)
        st = add(m, "outc", cnnc_conv2d_new(w, n_classes, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(1))),
                 &n->outc);
    if (st) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

#ifndef CNNC_EXAMPLES_LIBRARY
int main(void) {
    cnnc_manual_seed(0);
    cnnc_module *net = example_unet_new(1, 2, 8);
    if (!net) {
        fprintf(stderr, "cnnc: %s\n", cnnc_last_error());
        return 1;
    }
    char *text = cnnc_module_repr(net);
    if (text) puts(text);
    cnnc_free(text);
    int rc = 1;
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(2, 1, 64, 64));
    cnnc_tensor *y = x ? cnnc_module_forward(net, x) : NULL; /* [2, 2, 64, 64] */
    cnnc_tensor *loss = y ? cnnc_mean(y) : NULL;
    if (loss && cnnc_backward(loss, NULL, false) == CNNC_OK) {
        char *shape = cnnc_tensor_shape_string(y);
        printf("output %s\n", shape ? shape : "?");
        cnnc_free(shape);
        rc = 0;
    } else {
        fprintf(stderr, "cnnc: %s\n", cnnc_last_error());
    }
    cnnc_scope_end();
    cnnc_module_release(net);
    return rc;
}
#endif
