"""cnnc.nn upsampling modules (torch.nn's constructor signatures)."""
import ctypes

from .. import _lib
from .functional_resample import UpsampleOptions, doubles, ints, opt_bool
from .modules import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


class _UpsampleBase(Module):
    @property
    def scale_factor(self):
        """A float, a tuple of floats or None, as torch stores it."""
        out = (ctypes.c_double * _lib.MAX_DIMS)()
        is_tuple = ctypes.c_bool()
        n = _lib.cnnc_upsample_scale_factor(self._h, out, ctypes.byref(is_tuple))
        if n < 0:
            _lib.raise_last()
        if n == 0:
            return None
        if not is_tuple.value:
            return float(out[0])
        return tuple(float(out[i]) for i in range(n))


class Upsample(_UpsampleBase):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        o = UpsampleOptions(ints(size, "size"), doubles(scale_factor, "scale_factor"),
                            str(mode).encode(), opt_bool(align_corners),
                            opt_bool(recompute_scale_factor))
        super().__init__(_lib.cnnc_upsample_new(o))


class UpsamplingNearest2d(_UpsampleBase):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(_lib.cnnc_upsampling_nearest2d_new(
            ints(size, "size"), doubles(scale_factor, "scale_factor")))


class UpsamplingBilinear2d(_UpsampleBase):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(_lib.cnnc_upsampling_bilinear2d_new(
            ints(size, "size"), doubles(scale_factor, "scale_factor")))
