"""The loss family's rows: cross entropy on classifier logits and on a segmentation
map (the softmax over C per position is the heavy part), with label smoothing, and
the pointwise losses on a large tensor, forward and forward+backward."""
import numpy as np

from benchlib import Case, both, fmt_shape

LOGITS = (256, 1000)
SEG = (8, 21, 128, 128)
BIG = (8, 64, 56, 56)


def classes(shape, c):
    """logits of `shape` and int64 targets in [0, c) for its positions"""
    targets = (shape[0],) + shape[2:]
    return lambda rng: [rng.standard_normal(shape, dtype=np.float32),
                        rng.integers(0, c, size=targets, dtype=np.int64)]


def pair(shape, lo=None):
    """input, target of `shape`; probabilities when lo is given"""
    if lo is None:
        return lambda rng: [rng.standard_normal(shape, dtype=np.float32) for _ in range(2)]
    return lambda rng: [rng.uniform(lo, 1 - lo, shape).astype(np.float32) for _ in range(2)]


F = lambda lib: lib.nn.functional  # noqa: E731

CASES = [
    Case("cross_entropy", fmt_shape(LOGITS), classes(LOGITS, 1000), grad_inputs=[0],
         **both(lambda lib, x, t: F(lib).cross_entropy(x, t))),
    Case("cross_entropy ls=0.1", fmt_shape(LOGITS), classes(LOGITS, 1000), grad_inputs=[0],
         **both(lambda lib, x, t: F(lib).cross_entropy(x, t, label_smoothing=0.1))),
    Case("cross_entropy 2d", fmt_shape(SEG), classes(SEG, 21), grad_inputs=[0],
         **both(lambda lib, x, t: F(lib).cross_entropy(x, t))),
    Case("mse_loss", fmt_shape(BIG), pair(BIG), grad_inputs=[0],
         **both(lambda lib, x, y: F(lib).mse_loss(x, y))),
    Case("smooth_l1_loss", fmt_shape(BIG), pair(BIG), grad_inputs=[0],
         **both(lambda lib, x, y: F(lib).smooth_l1_loss(x, y))),
    Case("bce_with_logits", fmt_shape(BIG), pair(BIG), grad_inputs=[0],
         **both(lambda lib, x, y: F(lib).binary_cross_entropy_with_logits(x, y))),
    Case("binary_cross_entropy", fmt_shape(BIG), pair(BIG, 0.01), grad_inputs=[0],
         **both(lambda lib, x, y: F(lib).binary_cross_entropy(x, y))),
]
