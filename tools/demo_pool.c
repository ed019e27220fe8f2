/* `cnnc demo pool`: max and average pooling, adaptive pooling, indices and
 * unpooling, with the modules' printed forms. */
#include "demo.h"

void demo_pool(void)
{
    say("A [1, 16, 14, 14] feature map through MaxPool2d(2, stride=2) and\n"
        "avg_pool2d(x, 2, stride=2): each 2x2 block becomes one value, [1, 16, 7, 7].\n");
    cnnc_tensor *x = NN(cnnc_randn(CNNC_SHAPE(1, 16, 14, 14)));
    cnnc_module *mp = NN(cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2),
                                                            .stride = CNNC_INTS(2))));
    show_module(mp);
    show_shape("x", x);
    show_shape("MaxPool2d(x)", NN(cnnc_module_forward(mp, x)));
    show_shape("avg_pool2d(x, 2, stride=2)",
               NN(cnnc_avg_pool2d(x, CNNC_AVG_POOL2D(.kernel_size = CNNC_INTS(2),
                                                     .stride = CNNC_INTS(2)))));

    say("\nAdaptiveAvgPool2d((1, 1)) averages each channel whatever the input size\n"
        "(a classifier head):\n");
    cnnc_module *gap = NN(cnnc_adaptiveavgpool2d_new((cnnc_ints)CNNC_INTS(1, 1)));
    show_module(gap);
    show_shape("AdaptiveAvgPool2d(x)", NN(cnnc_module_forward(gap, x)));
    say("None in an output size keeps that dim: AdaptiveAvgPool2d((None, 3)):\n");
    cnnc_module *keep = NN(cnnc_adaptiveavgpool2d_new((cnnc_ints)CNNC_INTS(CNNC_POOL_KEEP, 3)));
    show_module(keep);
    show_shape("AdaptiveAvgPool2d((None, 3))(x)", NN(cnnc_module_forward(keep, x)));

    say("\nOn a small 4x4 map, the maxima and where they were (return_indices=True:\n"
        "flat positions h*W + w inside each plane):\n");
    cnnc_tensor *t = NN(cnnc_from_data(CNNC_SHAPE(1, 1, 4, 4), CNNC_FLOAT32,
                                       (const float[]){1, 5, 2, 0, 3, 4, 8, 1,
                                                       0, 2, 6, 7, 9, 1, 3, 2}));
    show("t", t);
    cnnc_tensor *idx = NULL;
    cnnc_tensor *m = NN(cnnc_max_pool2d_with_indices(t, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2)),
                                                     &idx));
    show("max_pool2d(t, 2)", m);
    show("indices", idx);
    say("max_unpool2d puts each maximum back at its index (zeros elsewhere):\n");
    show("max_unpool2d", NN(cnnc_max_unpool2d(m, idx, CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2)))));

    say("\nThe same round trip on x with the modules, back to [1, 16, 14, 14]:\n");
    cnnc_module *mpi = NN(cnnc_maxpool2d_new(CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(2),
                                                             .stride = CNNC_INTS(2),
                                                             .return_indices = true)));
    cnnc_module *unpool = NN(cnnc_maxunpool2d_new(CNNC_MAX_UNPOOL2D(.kernel_size = CNNC_INTS(2),
                                                                    .stride = CNNC_INTS(2))));
    show_module(unpool);
    cnnc_tensor *xi = NULL;
    cnnc_tensor *xm = NN(cnnc_pool_module_forward_with_indices(mpi, x, &xi));
    show_shape("pooled", xm);
    show_shape("indices", xi);
    show_shape("MaxUnpool2d(pooled, indices)",
               NN(cnnc_maxunpool_module_forward(unpool, xm, xi, (cnnc_ints)CNNC_INTS_NONE)));

    say("\nPadding may be at most half the kernel, as in PyTorch:\n");
    EXPECT_NULL(cnnc_max_pool2d(x, CNNC_MAX_POOL2D(.kernel_size = CNNC_INTS(3),
                                                   .padding = CNNC_INTS(2))));
    cnnc_module_release(mp);
    cnnc_module_release(gap);
    cnnc_module_release(keep);
    cnnc_module_release(mpi);
    cnnc_module_release(unpool);
}
