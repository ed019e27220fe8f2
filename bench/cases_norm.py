"""The norm family's rows: batch, layer, instance and group norm on a ResNet-sized
feature map (memory bound), forward and forward+backward."""

from benchlib import Case, both, fmt_shape, randn

FEAT = (8, 64, 56, 56)

CASES = [
    Case("BatchNorm2d train", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, model, x: model(x)),
         module=lambda lib: lib.nn.BatchNorm2d(64), atol=1e-3),
    Case("LayerNorm [64,56,56]", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, model, x: model(x)),
         module=lambda lib: lib.nn.LayerNorm([64, 56, 56]), atol=1e-3),
    Case("InstanceNorm2d", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, model, x: model(x)),
         module=lambda lib: lib.nn.InstanceNorm2d(64, affine=True), atol=1e-3),
    Case("GroupNorm 32 groups", fmt_shape(FEAT), randn(FEAT),
         **both(lambda lib, model, x: model(x)),
         module=lambda lib: lib.nn.GroupNorm(32, 64), atol=1e-3),
]
