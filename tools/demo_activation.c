/* `cnnc demo activation`: a few activations on a small tensor, softmax over a dim,
 * module reprs, an in-place activation's gradient, and dropout in train vs eval. */
#include "demo.h"

void demo_activation(void)
{
    say("Activations on x = [-4, -3, -1, 0, 1, 3, 7] (PyTorch's torch.nn.functional):\n");
    cnnc_tensor *x = NN(cnnc_from_data(CNNC_SHAPE(7), CNNC_FLOAT32,
                                       (const float[]){-4, -3, -1, 0, 1, 3, 7}));
    show("relu6(x)", NN(cnnc_relu6(x, CNNC_RELU6())));
    show("leaky_relu(x, 0.1)", NN(cnnc_leaky_relu(x, CNNC_LEAKY_RELU(.negative_slope = 0.1))));
    show("gelu(x)", NN(cnnc_gelu(x, CNNC_GELU())));
    show("gelu(x, approximate='tanh')", NN(cnnc_gelu(x, CNNC_GELU(.approximate = "tanh"))));
    show("hardswish(x)", NN(cnnc_hardswish(x, CNNC_HARDSWISH())));
    say("An unknown approximation is refused, with PyTorch's message:\n");
    EXPECT_NULL(cnnc_gelu(x, CNNC_GELU(.approximate = "fast")));

    say("\nsoftmax over dim 1 of a [2, 3] tensor: each row sums to 1; log_softmax is its\n"
        "log, computed stably (the row max is subtracted first, so 1000 is no problem):\n");
    cnnc_tensor *logits = NN(cnnc_from_data(CNNC_SHAPE(2, 3), CNNC_FLOAT32,
                                            (const float[]){1, 2, 3, 1000, 1000, 1001}));
    show("softmax(logits, dim=1)", NN(cnnc_softmax(logits, CNNC_SOFTMAX(.dim = CNNC_INTS(1)))));
    show("log_softmax(logits, dim=1)",
         NN(cnnc_log_softmax(logits, CNNC_SOFTMAX(.dim = CNNC_INTS(1)))));
    show("softmax(logits, dim=0)", NN(cnnc_softmax(logits, CNNC_SOFTMAX(.dim = CNNC_INTS(0)))));

    say("\nModules print as in PyTorch; PReLU has a learnable weight per channel:\n");
    cnnc_module *lr = NN(cnnc_leakyrelu_new(CNNC_LEAKY_RELU(.negative_slope = 0.2, .inplace = true)));
    cnnc_module *sp = NN(cnnc_softplus_new(CNNC_SOFTPLUS()));
    cnnc_module *pr = NN(cnnc_prelu_new(CNNC_PRELU(.num_parameters = 3)));
    show_module(lr);
    show_module(sp);
    show_module(pr);
    cnnc_tensor *img = NN(cnnc_randn(CNNC_SHAPE(2, 3, 4, 4)));
    OK(cnnc_tensor_set_requires_grad(img, true));
    OK(cnnc_backward(NN(cnnc_sum(NN(cnnc_module_forward(pr, img)))), NULL, false));
    cnnc_tensor *w = NULL;
    OK(cnnc_module_tensor(pr, "weight", &w));
    show("PReLU weight.grad (sum of the negative inputs per channel)", cnnc_tensor_grad(w));

    say("\nIn place on an intermediate result: elu_ overwrites y, bumps its version and\n"
        "still differentiates (from its result, as PyTorch); on a leaf that requires grad\n"
        "it is refused:\n");
    cnnc_tensor *leaf = NN(cnnc_from_data(CNNC_SHAPE(3), CNNC_FLOAT32, (const float[]){-1, 0.5, 2}));
    OK(cnnc_tensor_set_requires_grad(leaf, true));
    cnnc_tensor *y = NN(cnnc_mul_scalar(leaf, 2.0));
    OK(cnnc_elu_(y, CNNC_ELU()));
    say("  y.grad_fn = %s, version %llu\n", grad_fn(y), (unsigned long long)cnnc_tensor_version(y));
    OK(cnnc_backward(NN(cnnc_sum(y)), NULL, false));
    show("leaf.grad", cnnc_tensor_grad(leaf));
    EXPECT_FAIL(cnnc_elu_(leaf, CNNC_ELU()));

    say("\nDropout(p=0.5) on ones(2, 8): in training about half the values are zeroed and\n"
        "the others scaled by 1/(1-p) = 2; Dropout2d zeroes whole channels; in eval both\n"
        "are the identity:\n");
    cnnc_module *drop = NN(cnnc_dropout_new(CNNC_DROPOUT(.p = 0.5)));
    cnnc_module *drop2d = NN(cnnc_dropout2d_new(CNNC_DROPOUT(.p = 0.5)));
    show_module(drop);
    cnnc_tensor *ones = NN(cnnc_ones(CNNC_SHAPE(2, 8), CNNC_FLOAT32));
    show("train", NN(cnnc_module_forward(drop, ones)));
    cnnc_tensor *maps = NN(cnnc_ones(CNNC_SHAPE(1, 4, 2, 2), CNNC_FLOAT32));
    show("Dropout2d train on ones(1, 4, 2, 2)", NN(cnnc_module_forward(drop2d, maps)));
    cnnc_module_eval(drop);
    show("eval", NN(cnnc_module_forward(drop, ones)));
    say("A probability outside [0, 1] is refused:\n");
    EXPECT_NULL(cnnc_dropout_new(CNNC_DROPOUT(.p = 1.5)));
    cnnc_module_release(lr);
    cnnc_module_release(sp);
    cnnc_module_release(pr);
    cnnc_module_release(drop);
    cnnc_module_release(drop2d);
}
