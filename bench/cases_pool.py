"""The pool family's rows (memory bound): max_pool 3x3/2 pad 1 on a ResNet stem
activation, max_pool 2x2, avg_pool 2x2, global adaptive average (ResNet head),
adaptive max to 7x7; forward and forward+backward."""

from benchlib import Case, both, fmt_shape, nbytes, randn

STEM = (8, 64, 112, 112)
HALF = (8, 64, 56, 56)
FEAT = (8, 64, 56, 56)
HEAD = (32, 512, 7, 7)
MID = (8, 128, 28, 28)

CASES = [
    Case("max_pool2d 3x3 s2 p1", fmt_shape(STEM), randn(STEM),
         **both(lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1)),
         bytes=nbytes(STEM, HALF), bytes_bwd=nbytes(STEM, HALF) + nbytes(HALF, STEM)),
    Case("max_pool2d 2x2", fmt_shape(STEM), randn(STEM),
         **both(lambda lib, x: lib.nn.functional.max_pool2d(x, 2)),
         bytes=nbytes(STEM, HALF), bytes_bwd=nbytes(STEM, HALF) + nbytes(HALF, STEM)),
    Case("avg_pool2d 2x2", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, x: lib.nn.functional.avg_pool2d(x, 2))),
    Case("adaptive_avg_pool2d 1x1", fmt_shape(HEAD), randn(HEAD),
         **both(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (1, 1)))),
    Case("adaptive_max_pool2d 7x7", fmt_shape(MID), randn(MID),
         **both(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, 7))),
]
