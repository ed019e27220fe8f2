/* Networks written as user-defined cnnc modules, the way a PyTorch user writes
 * `class Net(nn.Module)`. Their state_dict keys are those of the same networks in
 * PyTorch (torchvision's BasicBlock; the U-Net of tests/conformance/test_examples.py),
 * so weights move between the two with load_state_dict.
 *
 * Each constructor returns a new module (release with cnnc_module_release), or NULL
 * with cnnc_last_error() set. */
#ifndef CNNC_EXAMPLES_H
#define CNNC_EXAMPLES_H
#include <cnnc.h>

/* torchvision.models.resnet.BasicBlock(inplanes, planes, stride, downsample): two 3x3
 * convolutions with batch norm, and a 1x1 convolution + batch norm on the shortcut
 * when the shape changes (stride != 1 or inplanes != planes). */
cnnc_module *example_basic_block_new(int64_t inplanes, int64_t planes, int64_t stride);

/* A CIFAR-style ResNet of BasicBlocks for [N, in_channels, H, W] images: a 3x3 stem
 * with `width` channels, three stages of `blocks` blocks (width, 2 width, 4 width
 * channels; the last two start with stride 2), global average pooling and a linear
 * classifier. Keys: conv1.weight, bn1.*, layer1.0.conv1.weight, ...,
 * layer2.0.downsample.0.weight, fc.weight, fc.bias. */
cnnc_module *example_resnet_new(int64_t in_channels, int64_t num_classes, int64_t width,
                                int blocks);

/* A small U-Net: two 2x down steps (max pool + double conv), two 2x up steps
 * (transposed conv, concatenation with the skip, double conv), a 1x1 classifier.
 * H and W must be multiples of 4. Keys: inc.0.weight, down1.1.0.weight, up1.weight,
 * conv1.0.weight, ..., outc.weight. */
cnnc_module *example_unet_new(int64_t in_channels, int64_t n_classes, int64_t width);

#endif
