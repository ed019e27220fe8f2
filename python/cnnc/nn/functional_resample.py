"""cnnc.nn.functional: the resample family's functions (torch.nn.functional signatures):
pad, interpolate, and the deprecated upsample, upsample_nearest, upsample_bilinear."""
import ctypes
from ctypes import POINTER, c_bool, c_char_p, c_double, c_int, c_int64, c_void_p

from .. import _args, _lib
from .._args import Doubles, Ints
from ..tensor import Tensor

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]


class InterpolateOptions(_lib.CStruct):
    _c_types_ = ("cnnc_interpolate_options",)
    _fields_ = [("size", Ints), ("scale_factor", Doubles), ("mode", c_char_p),
                ("align_corners", c_int), ("recompute_scale_factor", c_int),
                ("antialias", c_bool)]


class UpsampleOptions(_lib.CStruct):
    _c_types_ = ("cnnc_upsample_options",)
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


def size_options(fn, size, scale_factor):
    """size (int | tuple | None) and scale_factor (float | tuple | None) in their forms."""
    return (_args.ints_arg(size, fn, "size", none=True, python=True),  # [size] * dim in Python
            _args.doubles_arg(scale_factor, fn, "scale_factor"))


def pad(input, pad, mode="constant", value=None):
    h = _args.tensor_arg(input, "pad", "input")
    m = c_int()
    _lib.cnnc_pad_mode_from_string(_args.string_arg(mode, "pad", "mode"), ctypes.byref(m))
    n, arr = _args.shape_arg(pad, "pad", "pad")
    value = 0.0 if value is None else _args.float_arg(value, "pad", "value")
    return Tensor(_lib.cnnc_pad(h, n, arr, m.value, value))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    h = _args.tensor_arg(input, "interpolate", "input")
    o = InterpolateOptions(*size_options("interpolate", size, scale_factor),
                           None if mode is None else _args.string_arg(mode, "interpolate", "mode"),
                           _args.optional_bool(align_corners),
                           _args.optional_bool(recompute_scale_factor), bool(antialias))
    return Tensor(_lib.cnnc_interpolate(h, o))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
