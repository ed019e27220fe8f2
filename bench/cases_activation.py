"""The activation family's rows: pointwise activations on a large early-layer
feature map, softmax over the last dim and over channels, log_softmax over the
last dim, and dropout (memory bound), forward and forward+backward. ReLU on the
same shape is in cases_core."""

from benchlib import Case, both, cnnc, fmt_shape, randn, torch

ACT = (8, 64, 112, 112)
FEAT = (8, 64, 56, 56)
LOGITS = (256, 1000)

CASES = [
    Case("gelu", fmt_shape(ACT), randn(ACT), **both(lambda lib, x: lib.nn.functional.gelu(x))),
    Case("gelu tanh", fmt_shape(ACT), randn(ACT),
         **both(lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"))),
    Case("silu", fmt_shape(ACT), randn(ACT), **both(lambda lib, x: lib.nn.functional.silu(x))),
    Case("sigmoid", fmt_shape(ACT), randn(ACT), cnnc_fn=lambda x: cnnc.nn.functional.sigmoid(x),
         torch_fn=lambda x: torch.sigmoid(x)),
    Case("leaky_relu", fmt_shape(ACT), randn(ACT),
         **both(lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1))),
    Case("softmax dim=-1", fmt_shape(LOGITS), randn(LOGITS),
         **both(lambda lib, x: lib.nn.functional.softmax(x, -1))),
    Case("log_softmax dim=-1", fmt_shape(LOGITS), randn(LOGITS),
         **both(lambda lib, x: lib.nn.functional.log_softmax(x, -1))),
    Case("softmax dim=1", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, x: lib.nn.functional.softmax(x, 1))),
    # The masks differ (each library draws its own bits from its own generator), so
    # only shapes are compared (tests/conformance/test_dropout.py checks dropout
    # statistically).
    Case("dropout p=0.5", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, x: lib.nn.functional.dropout(x, 0.5)), values=False),
]
