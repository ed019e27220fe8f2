"""The conv family's rows: ResNet/MobileNet-shaped convolutions (GEMM bound: 3x3,
1x1, strided, the 7x7 stem; the memory-bound depthwise 3x3) and the small MNIST-style
1->3 convolution of the issue, forward and forward+backward (input, weight and bias
gradients)."""

from benchlib import Case, both, fmt_shape, nbytes, randn


def conv_case(name, x, w, stride=1, padding=0, groups=1, atol=1e-2):
    b = (w[0],)
    ho = (x[2] + 2 * padding - w[2]) // stride + 1
    wo = (x[3] + 2 * padding - w[3]) // stride + 1
    macs = x[0] * w[0] * w[1] * w[2] * w[3] * ho * wo
    y = (x[0], w[0], ho, wo)
    # depthwise: memory bound (its rows show bandwidth), the rest: FLOP rates; the
    # backward computes the input and the weight gradients, each as much as the forward
    rates = (dict(bytes=nbytes(x, y), bytes_bwd=nbytes(x, y) + nbytes(x, y, x))
             if groups > 1 and groups == x[1] else dict(flops=2.0 * macs, flops_bwd=6.0 * macs))
    return Case(name, fmt_shape(x, w), randn(x, w, b),
                **both(lambda lib, a, wt, bs: lib.nn.functional.conv2d(
                    a, wt, bs, stride=stride, padding=padding, groups=groups)),
                rtol=1e-3, atol=atol, **rates)


CASES = [
    conv_case("conv2d 3x3 s1 64->64", (8, 64, 56, 56), (64, 64, 3, 3), padding=1),
    conv_case("conv2d 1x1 256->64", (8, 256, 56, 56), (64, 256, 1, 1)),
    conv_case("conv2d 3x3 s2 128->256", (8, 128, 28, 28), (256, 128, 3, 3), stride=2, padding=1),
    conv_case("conv2d 7x7 s2 p3 3->64", (8, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3),
    conv_case("conv2d depthwise 3x3 128ch", (8, 128, 56, 56), (128, 1, 3, 3), padding=1, groups=128),
    conv_case("conv2d depthwise 3x3 s2 128ch", (8, 128, 56, 56), (128, 1, 3, 3), stride=2, padding=1,
              groups=128),
    conv_case("conv2d 1->3 k3 s2 p1", (64, 1, 28, 28), (3, 1, 3, 3), stride=2, padding=1,
              atol=1e-3),
]
