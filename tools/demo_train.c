/* The demo's last section: a small CNN (conv, batch norm, ReLU, max pooling, linear)
 * trained on the built-in synthetic shapes with Adam and cross-entropy, to at least
 * 95% test accuracy, with the progress bar of `cnnc train`. */
#include "demo.h"
#include "train.h"

#include <stdlib.h>

enum { TRAIN_SIZE = 10000, TEST_SIZE = 2000, EPOCHS = 3, BATCH = 64 };

void demo_train_cnn(void)
{
    say("The synthetic set draws ten shapes (circle, ring, square, frame, triangle, plus,\n"
        "cross, hbars, vbars, diamond) at random positions, sizes, rotations and\n"
        "intensities, with noise, as 28x28 grey images; no download needed:\n"
        "    train = cnnc_dataset_synthetic(true, %d, CNNC_SYNTHETIC(.seed = 0))\n"
        "The network (`cnnc train --arch cnn-small`):\n",
        TRAIN_SIZE);
    train_data_options o = {.spec = "synthetic", .train_size = TRAIN_SIZE,
                            .test_size = TEST_SIZE, .image_size = 28, .channels = 1};
    train_data d;
    char err[512] = "";
    if (!train_data_load(&o, true, true, &d, err, sizeof err)) {
        fprintf(stderr, "cnnc: %s\n", err);
        exit(1);
    }
    cnnc_module *net = train_model_new("cnn-small", 1, 28, 10, err, sizeof err);
    if (!net) {
        fprintf(stderr, "cnnc: %s\n", err);
        exit(1);
    }
    show_module(net);
    cnnc_tensor_list *params = NN(cnnc_module_named_parameters(net));
    cnnc_optimizer *opt = NN(cnnc_adam_new(CNNC_PARAM_LIST(params), CNNC_ADAM(.lr = 3e-3)));
    cnnc_dataloader_options lo = CNNC_DATALOADER(.batch_size = BATCH, .shuffle = true,
                                                 .mean = CNNC_DOUBLES(d.mean[0]),
                                                 .std = CNNC_DOUBLES(d.std[0]));
    cnnc_dataloader *loader = NN(cnnc_dataloader_new(d.train, lo));
    say("\nnormalised with the training set's mean %.4f and std %.4f; optim.Adam(lr=3e-3),\n"
        "F.cross_entropy, batches of %d, %d epochs, %d threads. Each step: zero_grad,\n"
        "forward, loss, backward, step, inside a scope that frees the step's tensors:\n\n",
        d.mean[0], d.std[0], BATCH, EPOCHS, cnnc_get_num_threads());
    double start = train_now(), test_loss = 0, test_acc = 0;
    int64_t step = 0;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        train_progress p;
        train_progress_begin(&p, stdout, epoch + 1, EPOCHS, cnnc_dataloader_len(loader));
        train_epoch_result res;
        if (!train_one_epoch(net, loader, opt, NULL, &p, 0, 0, &step, &res) ||
            !train_evaluate(net, d.test, d.mean, d.std, 500, &test_loss, &test_acc))
            demo_die("training", __FILE__, __LINE__);
        train_progress_end(&p, res.loss, res.acc, res.images, true, test_loss, test_acc);
    }
    double seconds = train_now() - start;
    say("\n%d test images: accuracy %.2f%% after %lld steps in %.1f s.\n", TEST_SIZE,
        100 * test_acc, (long long)step, seconds);
    if (test_acc < 0.95) {
        fprintf(stderr, "cnnc: the demo network reached only %.2f%% test accuracy (< 95%%)\n",
                100 * test_acc);
        exit(1);
    }
    say("The same run from the command line, with a CSV log and an SVG plot:\n"
        "    cnnc train --arch cnn-small --optimizer adam --lr 3e-3 --epochs 3 \\\n"
        "               --train-size %d --log run.csv --plot run.svg\n", TRAIN_SIZE);
    cnnc_dataloader_free(loader);
    cnnc_optimizer_release(opt);
    cnnc_tensor_list_free(params);
    cnnc_module_release(net);
    train_data_free(&d);
}
