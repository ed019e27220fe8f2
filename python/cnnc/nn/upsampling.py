"""cnnc.nn upsampling modules (torch.nn's constructor signatures)."""
from .. import _lib
from .functional_resample import UpsampleOptions, doubles, ints, opt_bool
from .modules import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        o = UpsampleOptions(ints(size, "size"), doubles(scale_factor, "scale_factor"),
                            str(mode).encode(), opt_bool(align_corners),
                            opt_bool(recompute_scale_factor))
        super().__init__(_lib.cnnc_upsample_new(o))


class UpsamplingNearest2d(Module):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(_lib.cnnc_upsamplingnearest2d_new(
            ints(size, "size"), doubles(scale_factor, "scale_factor")))


class UpsamplingBilinear2d(Module):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(_lib.cnnc_upsamplingbilinear2d_new(
            ints(size, "size"), doubles(scale_factor, "scale_factor")))
