/* `cnnc demo norm`: batch, layer and instance normalization, running statistics,
 * the module listing, and train() against eval(). */
#include "demo.h"

/* numel of a new tensor, for "how many means" */
static long long count(const cnnc_tensor *t) { return (long long)cnnc_tensor_numel(t); }

void demo_norm(void)
{
    say("BatchNorm1d(16) on rand(100, 16, 784): one training step updates the running\n"
        "statistics with momentum 0.1 from (0, 1): running_mean -> 0.1 * 0.5 = 0.05 and\n"
        "running_var -> 0.9 + 0.1 * (1/12) = 0.908 (the unbiased batch variance).\n");
    cnnc_module *bn1 = NN(cnnc_batchnorm1d_new(16, CNNC_BATCHNORM()));
    cnnc_tensor *x = NN(cnnc_rand(CNNC_SHAPE(100, 16, 784)));
    NN(cnnc_module_forward(bn1, x));
    cnnc_tensor *rm = NULL, *rv = NULL, *nbt = NULL;
    OK(cnnc_module_tensor(bn1, "running_mean", &rm));
    OK(cnnc_module_tensor(bn1, "running_var", &rv));
    OK(cnnc_module_tensor(bn1, "num_batches_tracked", &nbt));
    show("running_mean", rm);
    show("running_var", rv);
    show("num_batches_tracked", nbt);
    say("A single value per channel cannot be normalized in training:\n");
    EXPECT_NULL(cnnc_module_forward(bn1, NN(cnnc_rand(CNNC_SHAPE(1, 16)))));
    cnnc_module_release(bn1);

    say("\nBatchNorm2d(16) on a [1, 16, 7, 7] input: gamma (weight) and beta (bias) have one\n"
        "value per channel; the listing shows the training flag, parameters, buffers and\n"
        "settings (vars(layer) in PyTorch).\n");
    cnnc_module *bn2 = NN(cnnc_batchnorm2d_new(16, CNNC_BATCHNORM()));
    cnnc_tensor *img = NN(cnnc_randn(CNNC_SHAPE(1, 16, 7, 7)));
    cnnc_tensor *y = NN(cnnc_module_forward(bn2, img));
    cnnc_tensor *w = NULL, *b = NULL;
    OK(cnnc_module_tensor(bn2, "weight", &w));
    OK(cnnc_module_tensor(bn2, "bias", &b));
    show_shape("weight", w);
    show_shape("bias", b);
    show_shape("output", y);
    show_module(bn2);
    show_vars(bn2);

    say("\nOn data shaped [6, 3, 784] (6 samples, 3 channels), the three norms average over\n"
        "different sets, so they compute different numbers of means (each mean of the\n"
        "output over the normalized set is ~0):\n");
    cnnc_tensor *d = NN(cnnc_add_scalar(NN(cnnc_mul_scalar(NN(cnnc_randn(CNNC_SHAPE(6, 3, 784))), 3.0)), 5.0));
    cnnc_module *bn = NN(cnnc_batchnorm1d_new(3, CNNC_BATCHNORM()));
    cnnc_module *ln = NN(cnnc_layernorm_new((cnnc_ints)CNNC_INTS(3, 784), CNNC_LAYERNORM()));
    cnnc_module *in = NN(cnnc_instancenorm1d_new(3, CNNC_INSTANCENORM()));
    cnnc_tensor *mb = NN(cnnc_mean_dims(NN(cnnc_module_forward(bn, d)), 2, (int[]){0, 2}, false));
    cnnc_tensor *ml = NN(cnnc_mean_dims(NN(cnnc_module_forward(ln, d)), 2, (int[]){1, 2}, false));
    cnnc_tensor *mi = NN(cnnc_mean_dims(NN(cnnc_module_forward(in, d)), 1, (int[]){2}, false));
    say("  batch norm:    %lld means (one per channel, over samples and positions)\n", count(mb));
    say("  layer norm:    %lld means (one per sample, over channels and positions)\n", count(ml));
    say("  instance norm: %lld means (one per sample and channel, over positions)\n", count(mi));
    show("instance norm output means", mi);
    cnnc_module_release(ln);
    cnnc_module_release(in);

    say("\ntrain() against eval(): in training batch norm normalizes with the batch's own\n"
        "statistics (output mean ~0) and updates the running ones; in eval it uses the\n"
        "running statistics, so after one step from (0, 1) the output keeps most of the\n"
        "data's offset of 5, and the buffers stay as they are.\n");
    cnnc_tensor *rmb = NULL;
    OK(cnnc_module_tensor(bn, "running_mean", &rmb));
    show("running_mean after the training step", rmb);
    cnnc_module_eval(bn);
    say("  training: %s\n", yes_no(cnnc_module_is_training(bn)));
    cnnc_tensor *ye = NN(cnnc_module_forward(bn, d));
    show("eval output mean per channel", NN(cnnc_mean_dims(ye, 2, (int[]){0, 2}, false)));
    show("running_mean after eval", rmb);
    cnnc_module_train(bn, true);
    cnnc_tensor *yt = NN(cnnc_module_forward(bn, d));
    show("train output mean per channel", NN(cnnc_mean_dims(yt, 2, (int[]){0, 2}, false)));
    show("running_mean after a second training step", rmb);
    cnnc_module_release(bn);
    cnnc_module_release(bn2);
}
