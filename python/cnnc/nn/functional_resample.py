"""cnnc.nn.functional: the resample family's functions (torch.nn.functional signatures):
pad, interpolate, and the deprecated upsample, upsample_nearest, upsample_bilinear."""
import ctypes
from ctypes import POINTER, Structure, c_bool, c_char_p, c_double, c_int, c_int64, c_void_p

from .. import _lib
from ..tensor import Tensor

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]


class Ints(Structure):  # cnnc_ints
    _fields_ = [("n", c_int), ("v", c_int64 * _lib.MAX_DIMS)]


class Doubles(Structure):  # cnnc_doubles
    _fields_ = [("n", c_int), ("v", c_double * _lib.MAX_DIMS)]


class InterpolateOptions(Structure):  # cnnc_interpolate_options
    _fields_ = [("size", Ints), ("scale_factor", Doubles), ("mode", c_char_p),
                ("align_corners", c_int), ("recompute_scale_factor", c_int),
                ("antialias", c_bool)]


class UpsampleOptions(Structure):  # cnnc_upsample_options
    _fields_ = [("size", Ints), ("scale_factor", Doubles), ("mode", c_char_p),
                ("align_corners", c_int), ("recompute_scale_factor", c_int)]


T, M, S = c_void_p, c_void_p, c_int
_lib.declare([
    ("cnnc_pad_mode_from_string", S, [c_char_p, POINTER(c_int)], "status"),
    ("cnnc_pad", T, [T, c_int, POINTER(c_int64), c_int, c_double], "ptr"),
    ("cnnc_interpolate", T, [T, InterpolateOptions], "ptr"),
    ("cnnc_constantpad1d_new", M, [Ints, c_double], "ptr"),
    ("cnnc_constantpad2d_new", M, [Ints, c_double], "ptr"),
    ("cnnc_constantpad3d_new", M, [Ints, c_double], "ptr"),
    ("cnnc_zeropad2d_new", M, [Ints], "ptr"),
    ("cnnc_reflectionpad1d_new", M, [Ints], "ptr"),
    ("cnnc_reflectionpad2d_new", M, [Ints], "ptr"),
    ("cnnc_reflectionpad3d_new", M, [Ints], "ptr"),
    ("cnnc_replicationpad1d_new", M, [Ints], "ptr"),
    ("cnnc_replicationpad2d_new", M, [Ints], "ptr"),
    ("cnnc_replicationpad3d_new", M, [Ints], "ptr"),
    ("cnnc_upsample_new", M, [UpsampleOptions], "ptr"),
    ("cnnc_upsamplingnearest2d_new", M, [Ints, Doubles], "ptr"),
    ("cnnc_upsamplingbilinear2d_new", M, [Ints, Doubles], "ptr"),
])


def ints(v, name):
    """PyTorch's int | tuple | None as cnnc_ints (a 1-tuple reads as the int)."""
    out = Ints()
    if v is None:
        return out
    vals = list(v) if isinstance(v, (tuple, list)) else [v]
    if len(vals) > _lib.MAX_DIMS:
        raise _lib.Error("%s has %d values; cnnc takes at most %d" % (name, len(vals), _lib.MAX_DIMS))
    out.n = len(vals)
    for i, x in enumerate(vals):
        out.v[i] = int(x)
    return out


def doubles(v, name):
    """PyTorch's float | tuple | None as cnnc_doubles."""
    out = Doubles()
    if v is None:
        return out
    vals = list(v) if isinstance(v, (tuple, list)) else [v]
    if len(vals) > _lib.MAX_DIMS:
        raise _lib.Error("%s has %d values; cnnc takes at most %d" % (name, len(vals), _lib.MAX_DIMS))
    out.n = len(vals)
    for i, x in enumerate(vals):
        out.v[i] = float(x)
    return out


def opt_bool(v):
    return -1 if v is None else int(bool(v))


def _handle(t):
    if not isinstance(t, Tensor):
        raise TypeError("input must be a cnnc.Tensor, not %s" % type(t).__name__)
    return t._h


def pad(input, pad, mode="constant", value=None):
    h = _handle(input)
    m = c_int()
    _lib.cnnc_pad_mode_from_string(str(mode).encode(), ctypes.byref(m))
    vals = [int(p) for p in pad]
    arr = (c_int64 * max(len(vals), 1))(*vals)
    return Tensor(_lib.cnnc_pad(h, len(vals), arr, m.value, 0.0 if value is None else float(value)))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    h = _handle(input)
    mode_b = str(mode).encode()
    o = InterpolateOptions(ints(size, "size"), doubles(scale_factor, "scale_factor"), mode_b,
                           opt_bool(align_corners), opt_bool(recompute_scale_factor),
                           bool(antialias))
    return Tensor(_lib.cnnc_interpolate(h, o))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
