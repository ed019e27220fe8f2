"""cnnc.nn upsampling modules (torch.nn's constructor signatures)."""
from .. import _args, _lib
from .functional_resample import UpsampleOptions, size_options
from .modules import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        o = UpsampleOptions(*size_options("Upsample", size, scale_factor),
                            _args.string_arg(mode, "Upsample", "mode"),
                            _args.optional_bool(align_corners),
                            _args.optional_bool(recompute_scale_factor))
        super().__init__(_lib.cnnc_upsample_new(o))


class UpsamplingNearest2d(Module):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(_lib.cnnc_upsamplingnearest2d_new(
            *size_options("UpsamplingNearest2d", size, scale_factor)))


class UpsamplingBilinear2d(Module):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(_lib.cnnc_upsamplingbilinear2d_new(
            *size_options("UpsamplingBilinear2d", size, scale_factor)))
