/* A ResNet of BasicBlocks as user-defined cnnc modules (see examples.h).
 *
 * Run it: build/examples/resnet  (prints the network, its parameter count, and one
 * training step's loss on random data). */
#include <stdio.h>
#include <stdlib.h>

#include "examples.h"

/* ---- BasicBlock ------------------------------------------------------------------ */

typedef struct basic_block {
    /* borrowed: the block owns its children */
    cnnc_module *conv1, *bn1, *relu, *conv2, *bn2, *downsample;
} basic_block;

/* out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the callback runs in a
 * scope, so intermediates need no release. */
static cnnc_tensor *basic_block_forward(cnnc_module *self, cnnc_tensor *x) {
    basic_block *b = cnnc_module_data(self);
    cnnc_tensor *out = cnnc_module_forward(b->conv1, x);
    if (out) out = cnnc_module_forward(b->bn1, out);
    if (out) out = cnnc_module_forward(b->relu, out);
    if (out) out = cnnc_module_forward(b->conv2, out);
    if (out) out = cnnc_module_forward(b->bn2, out);
    cnnc_tensor *identity = b->downsample ? cnnc_module_forward(b->downsample, x) : x;
    if (!out || !identity) return NULL;
    out = cnnc_add(out, identity);
    return out ? cnnc_module_forward(b->relu, out) : NULL;
}

/* Registers child under name and keeps a borrowed pointer to it in *slot. */
static cnnc_status add(cnnc_module *m, const char *name, cnnc_module *child, cnnc_module **slot) {
    *slot = child;
    return child ? cnnc_module_register_module(m, name, child) : cnnc_last_status();
}

static cnnc_module *conv3x3(int64_t in, int64_t out, int64_t stride) {
    return cnnc_conv2d_new(in, out, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(stride),
                                                     .padding = CNNC_INTS(1), .bias = false));
}

static cnnc_module *user_module(const char *type_name, cnnc_tensor *(*forward)(cnnc_module *, cnnc_tensor *),
                                size_t data_size) {
    void *data = calloc(1, data_size);
    cnnc_module *m = data ? cnnc_module_new(&(cnnc_module_def){.type_name = type_name, .forward = forward,
                                                                .free_data = free}, data)
                          : NULL;
    if (!m) free(data);
    return m;
}

cnnc_module *example_basic_block_new(int64_t inplanes, int64_t planes, int64_t stride) {
    cnnc_module *m = user_module("BasicBlock", basic_block_forward, sizeof(basic_block));
    if (!m) return NULL;
    basic_block *b = cnnc_module_data(m);
    cnnc_status st = add(m, "conv1", conv3x3(inplanes, planes, stride), &b->conv1);
    if (!st) st = add(m, "bn1", cnnc_batchnorm2d_new(planes, CNNC_BATCHNORM()), &b->bn1);
    if (!st) st = add(m, "relu", cnnc_relu_new(CNNC_RELU(.inplace = true)), &b->relu);
    if (!st) st = add(m, "conv2", conv3x3(planes, planes, 1), &b->conv2);
    if (!st) st = add(m, "bn2", cnnc_batchnorm2d_new(planes, CNNC_BATCHNORM()), &b->bn2);
    if (!st && (stride != 1 || inplanes != planes)) {
        cnnc_module *proj = cnnc_conv2d_new(inplanes, planes, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(1),
                                                                               .stride = CNNC_INTS(stride),
                                                                               .bias = false));
        cnnc_module *bn = cnnc_batchnorm2d_new(planes, CNNC_BATCHNORM());
        st = add(m, "downsample", proj && bn ? cnnc_sequential_new(2, (cnnc_module *[]){proj, bn}) : NULL,
                 &b->downsample);
        if (!proj || !bn) {
            cnnc_module_release(proj);
            cnnc_module_release(bn);
        }
    }
    if (st) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

/* ---- ResNet ------------------------------------------------------------------------ */

typedef struct resnet {
    cnnc_module *conv1, *bn1, *relu, *layer[3], *avgpool, *fc;
} resnet;

static cnnc_tensor *resnet_forward(cnnc_module *self, cnnc_tensor *x) {
    resnet *r = cnnc_module_data(self);
    cnnc_module *seq[] = {r->conv1, r->bn1, r->relu, r->layer[0], r->layer[1], r->layer[2], r->avgpool};
    for (size_t i = 0; i < sizeof seq / sizeof *seq && x; i++) x = cnnc_module_forward(seq[i], x);
    if (x) x = cnnc_flatten(x, 1, -1);
    return x ? cnnc_module_forward(r->fc, x) : NULL;
}

/* A Sequential of `blocks` BasicBlocks, the first with stride (and downsample). */
static cnnc_module *make_layer(int64_t inplanes, int64_t planes, int64_t stride, int blocks) {
    cnnc_module *layer = cnnc_sequential_new(0, NULL);
    for (int i = 0; i < blocks && layer; i++) {
        cnnc_module *b = example_basic_block_new(i ? planes : inplanes, planes, i ? 1 : stride);
        if (!b || cnnc_sequential_append(layer, b) != CNNC_OK) {
            cnnc_module_release(layer);
            layer = NULL;
        }
    }
    return layer;
}

cnnc_module *example_resnet_new(int64_t in_channels, int64_t num_classes, int64_t width, int blocks) {
    cnnc_module *m = user_module("ResNet", resnet_forward, sizeof(resnet));
    if (!m) return NULL;
    resnet *r = cnnc_module_data(m);
    cnnc_status st = add(m, "conv1", conv3x3(in_channels, width, 1), &r->conv1);
    if (!st) st = add(m, "bn1", cnnc_batchnorm2d_new(width, CNNC_BATCHNORM()), &r->bn1);
    if (!st) st = add(m, "relu", cnnc_relu_new(CNNC_RELU(.inplace = true)), &r->relu);
    static const char *const names[3] = {"layer1", "layer2", "layer3"};
    for (int i = 0; i < 3 && !st; i++)
        st = add(m, names[i], make_layer(i ? width << (i - 1) : width, width << i, i ? 2 : 1, blocks),
                 &r->layer[i]);
    if (!st) st = add(m, "avgpool", cnnc_adaptiveavgpool2d_new((cnnc_ints)CNNC_INTS(1, 1)), &r->avgpool);
    if (!st) st = add(m, "fc", cnnc_linear_new(width * 4, num_classes, CNNC_LINEAR()), &r->fc);
    if (st) {
        cnnc_module_release(m);
        return NULL;
    }
    return m;
}

#ifndef CNNC_EXAMPLES_LIBRARY
int main(void) {
    cnnc_manual_seed(0);
    cnnc_module *net = example_resnet_new(3, 10, 16, 2);
    if (!net) {
        fprintf(stderr, "cnnc: %s\n", cnnc_last_error());
        return 1;
    }
    char *text = cnnc_module_repr(net);
    if (text) puts(text);
    cnnc_free(text);
    cnnc_tensor_list *params = cnnc_module_named_parameters(net);
    int64_t count = 0;
    for (size_t i = 0; params && i < cnnc_tensor_list_size(params); i++)
        count += cnnc_tensor_numel(cnnc_tensor_list_get(params, i));
    printf("parameters: %lld in %zu tensors\n", (long long)count, params ? cnnc_tensor_list_size(params) : 0);
    cnnc_tensor_list_free(params);

    int rc = 1;
    cnnc_scope_begin();
    cnnc_tensor *x = cnnc_randn(CNNC_SHAPE(8, 3, 32, 32));
    cnnc_tensor *y = x ? cnnc_module_forward(net, x) : NULL;        /* [8, 10] */
    cnnc_tensor *loss = y ? cnnc_mean(cnnc_mul(y, y)) : NULL;
    double value = 0.0;
    if (loss && cnnc_backward(loss, NULL, false) == CNNC_OK && cnnc_tensor_item(loss, &value) == CNNC_OK) {
        char *shape = cnnc_tensor_shape_string(y);
        printf("output %s, loss %.6f\n", shape ? shape : "?", value);
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
