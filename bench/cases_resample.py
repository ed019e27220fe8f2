"""The resample family's rows: nearest and bilinear x2 upsampling and reflect
padding on a ResNet-sized feature map, bicubic x2 on a smaller one (all memory
bound), forward and forward+backward."""

from benchlib import Case, both, fmt_shape, nbytes, randn

FEAT = (8, 64, 56, 56)
UP = (8, 64, 112, 112)
SMALL = (8, 32, 28, 28)

CASES = [
    Case("interpolate nearest x2", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2, mode="nearest")),
         bytes=nbytes(FEAT, UP), bytes_bwd=nbytes(FEAT, UP) + nbytes(UP, FEAT)),
    Case("interpolate bilinear x2", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2, mode="bilinear",
                                                             align_corners=False))),
    Case("interpolate bicubic x2", fmt_shape(SMALL), randn(SMALL),
         **both(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2, mode="bicubic",
                                                             align_corners=False)), atol=1e-3),
    Case("pad reflect 2d (1,1,1,1)", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, x: lib.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"))),
]
