/* `cnnc demo resample`: interpolation (nearest, bilinear with align_corners both
 * ways) and padding in each mode, with the modules' printed forms. */
#include "demo.h"

void demo_resample(void)
{
    say("interpolate(x, scale_factor=2, mode='nearest') takes a [1, 16, 7, 7] map to\n"
        "[1, 16, 14, 14]: every pixel is repeated twice along each spatial dim.\n");
    cnnc_tensor *x = NN(cnnc_randn(CNNC_SHAPE(1, 16, 7, 7)));
    cnnc_tensor *up = NN(cnnc_interpolate(x, CNNC_INTERPOLATE(.scale_factor = CNNC_DOUBLES(2.0),
                                                              .mode = "nearest")));
    show_shape("x", x);
    show_shape("up", up);

    say("\nBilinear on a 2x2 input to 4x4. align_corners=True keeps the corner pixels'\n"
        "centres on the corners, so the corners are the input's and the inside is an\n"
        "even blend; align_corners=False treats pixels as squares and clamps at the\n"
        "borders (the default).\n");
    cnnc_tensor *t = NN(cnnc_from_data(CNNC_SHAPE(1, 1, 2, 2), CNNC_FLOAT32,
                                       (const float[]){1, 2, 3, 4}));
    show("t", t);
    show("align_corners=True", NN(cnnc_interpolate(t, CNNC_INTERPOLATE(.size = CNNC_INTS(4),
                                                                       .mode = "bilinear",
                                                                       .align_corners = 1))));
    show("align_corners=False", NN(cnnc_interpolate(t, CNNC_INTERPOLATE(.size = CNNC_INTS(4),
                                                                        .mode = "bilinear",
                                                                        .align_corners = 0))));

    say("\nF.pad(v, (2, 1), mode) on v = [[[1, 2, 3]]] in each mode (constant with value 0):\n");
    cnnc_tensor *v = NN(cnnc_from_data(CNNC_SHAPE(1, 1, 3), CNNC_FLOAT32, (const float[]){1, 2, 3}));
    const int64_t pad[2] = {2, 1};
    for (int m = 0; m < CNNC_PAD_MODE_COUNT; m++)
        show(cnnc_pad_mode_name((cnnc_pad_mode)m), NN(cnnc_pad(v, 2, pad, (cnnc_pad_mode)m, 0.0)));
    say("Negative padding crops: F.pad(v, (-1, 1)) =\n");
    show("cropped", NN(cnnc_pad(v, 2, (const int64_t[]){-1, 1}, CNNC_PAD_CONSTANT, 0.0)));
    say("Reflection needs every pad below the input size:\n");
    EXPECT_NULL(cnnc_pad(v, 2, (const int64_t[]){3, 0}, CNNC_PAD_REFLECT, 0.0));

    say("\nThe modules print as in PyTorch:\n");
    cnnc_module *u = NN(cnnc_upsample_new(CNNC_UPSAMPLE(.scale_factor = CNNC_DOUBLES(2.0),
                                                        .mode = "bilinear")));
    cnnc_module *r = NN(cnnc_reflectionpad2d_new((cnnc_ints)CNNC_INTS(1, 1, 2, 0)));
    show_module(u);
    show_module(r);
    show_shape("ReflectionPad2d(x)", NN(cnnc_module_forward(r, x)));
    cnnc_module_release(u);
    cnnc_module_release(r);
}
