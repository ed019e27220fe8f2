/* `cnnc demo conv`: the convolution walk-through. nn.Conv2d on an MNIST-sized
 * image, its parameters and print(module); F.conv2d's output-size rule; groups and
 * depthwise convolution; a transposed convolution that undoes a stride. */
#include "demo.h"

void demo_conv(void)
{
    say("Conv2d(1, 3, kernel_size=3, stride=2, padding=1) on a [1, 1, 28, 28] image: each\n"
        "spatial size becomes floor((n + 2p - d(k - 1) - 1) / s + 1) = floor((28 + 2 - 2 - 1) / 2\n"
        "+ 1) = 14. The weight holds one 3x3 filter per output channel, the bias one value.\n");
    cnnc_module *conv = NN(cnnc_conv2d_new(1, 3, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                                  .stride = CNNC_INTS(2),
                                                                  .padding = CNNC_INTS(1))));
    cnnc_tensor *img = NN(cnnc_randn(CNNC_SHAPE(1, 1, 28, 28)));
    cnnc_tensor *y = NN(cnnc_module_forward(conv, img));
    cnnc_tensor *w = NULL, *b = NULL;
    OK(cnnc_module_tensor(conv, "weight", &w));
    OK(cnnc_module_tensor(conv, "bias", &b));
    show_shape("output", y);
    show_shape("weight", w);
    show_shape("bias", b);
    show_module(conv);
    say("The initial values are U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = 1 * 3 * 3,\n"
        "PyTorch's kaiming_uniform(a=sqrt(5)) rule:\n");
    show("bias", b);

    say("\nF.conv2d with a [16, 3, 5, 5] weight on a [1, 3, 28, 28] input: stride 1, padding 1\n"
        "gives 28 + 2 - 4 = 26; stride 2, padding 2 gives floor((28 + 4 - 4 - 1) / 2) + 1 = 14.\n");
    cnnc_tensor *x3 = NN(cnnc_randn(CNNC_SHAPE(1, 3, 28, 28)));
    cnnc_tensor *w16 = NN(cnnc_randn(CNNC_SHAPE(16, 3, 5, 5)));
    show_shape("F.conv2d(x, w, stride=1, padding=1)",
               NN(cnnc_conv2d(x3, w16, NULL, CNNC_CONV2D(.stride = CNNC_INTS(1),
                                                          .padding = CNNC_INTS(1)))));
    show_shape("F.conv2d(x, w, stride=2, padding=2)",
               NN(cnnc_conv2d(x3, w16, NULL, CNNC_CONV2D(.stride = CNNC_INTS(2),
                                                          .padding = CNNC_INTS(2)))));
    show_shape("F.conv2d(x, w, padding='same')", NN(cnnc_conv2d(x3, w16, NULL, CNNC_CONV2D(.padding_str = "same"))));
    say("A weight that does not match the input's channels is refused, as in PyTorch:\n");
    EXPECT_NULL(cnnc_conv2d(NN(cnnc_randn(CNNC_SHAPE(1, 2, 28, 28))), w, NULL, CNNC_CONV2D()));

    say("\nGroups split the channels: with groups=g each output channel sees in/g input\n"
        "channels, so the weight is [out, in/g, k, k]. groups = in_channels is a depthwise\n"
        "convolution (one filter per channel, run by a direct kernel here):\n");
    cnnc_module *dw = NN(cnnc_conv2d_new(32, 32, CNNC_CONV_MODULE(.kernel_size = CNNC_INTS(3),
                                                                  .padding = CNNC_INTS(1),
                                                                  .groups = 32)));
    cnnc_tensor *feat = NN(cnnc_randn(CNNC_SHAPE(1, 32, 14, 14)));
    cnnc_tensor *wdw = NULL;
    OK(cnnc_module_tensor(dw, "weight", &wdw));
    show_module(dw);
    show_shape("weight", wdw);
    show_shape("output", NN(cnnc_module_forward(dw, feat)));

    say("\nA transposed convolution maps sizes the other way: (n - 1) s - 2p + d(k - 1) +\n"
        "output_padding + 1. ConvTranspose2d(3, 1, 3, stride=2, padding=1, output_padding=1)\n"
        "turns the 14x14 output above back into 28x28:\n");
    cnnc_module *up = NN(cnnc_convtranspose2d_new(
        3, 1, CNNC_CONV_TRANSPOSE_MODULE(.kernel_size = CNNC_INTS(3), .stride = CNNC_INTS(2),
                                         .padding = CNNC_INTS(1), .output_padding = CNNC_INTS(1))));
    show_module(up);
    show_shape("output", NN(cnnc_module_forward(up, y)));
    say("Its forward also takes output_size, which picks the output_padding (0 for 27):\n");
    show_shape("up(y, output_size=[27, 27])",
               NN(cnnc_conv_transpose_forward(up, y, 2, (const int64_t[]){27, 27})));

    say("\nGradients reach the input, the weight and the bias:\n");
    OK(cnnc_tensor_set_requires_grad(img, true));
    cnnc_tensor *out = NN(cnnc_module_forward(conv, img));
    say("  grad_fn = %s\n", grad_fn(out));
    OK(cnnc_backward(NN(cnnc_sum(out)), NULL, false));
    show_shape("input.grad", cnnc_tensor_grad(img));
    show_shape("weight.grad", cnnc_tensor_grad(w));
    show("bias.grad (196 output positions each)", cnnc_tensor_grad(b));
    cnnc_module_release(up);
    cnnc_module_release(dw);
    cnnc_module_release(conv);
}
