"""The foundation's rows: elementwise ops, reductions, GEMM-bound ops, a tiny MLP."""

from benchlib import Case, both, fmt_shape, nbytes, randn

MLP_IN, MLP_HIDDEN, MLP_OUT, MLP_BATCH = 784, 256, 10, 64
ACT = (8, 64, 112, 112)
FEAT = (8, 64, 56, 56)

CASES = [
    # elementwise and reductions: memory bound
    # bytes: inputs read and outputs written once; backward: the upstream gradient
    # read, the input gradients written (and what the gradient formula reads)
    Case("relu", fmt_shape(ACT), randn(ACT), **both(lambda lib, x: lib.nn.functional.relu(x)),
         bytes=nbytes(ACT, ACT), bytes_bwd=nbytes(ACT, ACT) + nbytes(ACT, ACT, ACT)),
    Case("add (broadcast)", fmt_shape(FEAT, (64, 1, 1)), randn(FEAT, (64, 1, 1)),
         **both(lambda lib, a, b: lib.add(a, b)),
         bytes=nbytes(FEAT, FEAT), bytes_bwd=nbytes(FEAT, FEAT) + nbytes(FEAT)),
    Case("mul", fmt_shape(FEAT, FEAT), randn(FEAT, FEAT),
         **both(lambda lib, a, b: lib.mul(a, b)),
         bytes=nbytes(FEAT, FEAT, FEAT), bytes_bwd=nbytes(FEAT, FEAT, FEAT) * 2 + nbytes(FEAT, FEAT)),
    Case("sum (all)", fmt_shape(FEAT), randn(FEAT), **both(lambda lib, x: lib.sum(x)),
         atol=1e-2, bytes=nbytes(FEAT), bytes_bwd=nbytes(FEAT, FEAT)),
    Case("mean dim=(2,3)", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, x: lib.mean(x, (2, 3))), bytes=nbytes(FEAT),
         bytes_bwd=nbytes(FEAT, FEAT)),
    # GEMM bound
    Case("linear", fmt_shape((256, 1024), (1024, 1024), (1024,)),
         randn((256, 1024), (1024, 1024), (1024,)),
         **both(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b)), atol=1e-3),
    Case("matmul", fmt_shape((512, 512), (512, 512)), randn((512, 512), (512, 512)),
         **both(lambda lib, a, b: lib.matmul(a, b)), atol=1e-3),
    Case("bmm (matmul)", fmt_shape((32, 128, 64), (32, 64, 128)),
         randn((32, 128, 64), (32, 64, 128)), **both(lambda lib, a, b: lib.matmul(a, b)),
         atol=1e-3),
    # a whole (tiny) network
    Case("mlp 784-256-10", "x " + fmt_shape((MLP_BATCH, MLP_IN)),
         randn((MLP_BATCH, MLP_IN)), **both(lambda lib, model, x: model(x)),
         grad_inputs=[],
         module=lambda lib: lib.nn.Sequential(lib.nn.Linear(MLP_IN, MLP_HIDDEN), lib.nn.ReLU(),
                                              lib.nn.Linear(MLP_HIDDEN, MLP_OUT))),
]


