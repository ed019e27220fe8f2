"""cnnc.nn.init: torch.nn.init's in-place initialisers over the C functions
(PyTorch's fan and gain rules; the values come from cnnc's generator)."""
from ctypes import POINTER, byref, c_char_p, c_double, c_int, c_int64, c_void_p

from .. import _args, _lib
from .._args import OptionalDouble

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


class KaimingOptions(_lib.CStruct):
    _c_types_ = ("cnnc_kaiming_options",)
    _fields_ = [("a", c_double), ("mode", c_char_p), ("nonlinearity", c_char_p)]


T, S = c_void_p, c_int
_lib.declare([
    ("cnnc_init_calculate_gain", S, [c_char_p, OptionalDouble, POINTER(c_double)], "status"),
    ("cnnc_init_calculate_fan", S, [T, POINTER(c_int64), POINTER(c_int64)], "status"),
    ("cnnc_init_uniform_", S, [T, c_double, c_double], "status"),
    ("cnnc_init_normal_", S, [T, c_double, c_double], "status"),
    ("cnnc_init_constant_", S, [T, c_double], "status"),
    ("cnnc_init_zeros_", S, [T], "status"),
    ("cnnc_init_ones_", S, [T], "status"),
    ("cnnc_init_xavier_uniform_", S, [T, c_double], "status"),
    ("cnnc_init_xavier_normal_", S, [T, c_double], "status"),
    ("cnnc_init_kaiming_uniform_", S, [T, KaimingOptions], "status"),
    ("cnnc_init_kaiming_normal_", S, [T, KaimingOptions], "status"),
])


def _t(tensor, fn):
    return _args.tensor_arg(tensor, fn, "tensor")


def _f(v, fn, name):
    return _args.float_arg(v, fn, name)


def calculate_gain(nonlinearity, param=None):
    if param is not None and (isinstance(param, bool) or not isinstance(param, (int, float))):
        raise _lib.Error("negative_slope {} not a valid number".format(param))
    g = c_double()
    opt = OptionalDouble(param is not None, float(param) if param is not None else 0.0)
    _lib.cnnc_init_calculate_gain(str(nonlinearity).encode(), opt, byref(g))
    return g.value


def uniform_(tensor, a=0.0, b=1.0):
    _lib.cnnc_init_uniform_(_t(tensor, "uniform_"), _f(a, "uniform_", "a"), _f(b, "uniform_", "b"))
    return tensor


def normal_(tensor, mean=0.0, std=1.0):
    _lib.cnnc_init_normal_(_t(tensor, "normal_"), _f(mean, "normal_", "mean"),
                           _f(std, "normal_", "std"))
    return tensor


def constant_(tensor, val):
    _lib.cnnc_init_constant_(_t(tensor, "constant_"), _f(val, "constant_", "val"))
    return tensor


def zeros_(tensor):
    _lib.cnnc_init_zeros_(_t(tensor, "zeros_"))
    return tensor


def ones_(tensor):
    _lib.cnnc_init_ones_(_t(tensor, "ones_"))
    return tensor


def xavier_uniform_(tensor, gain=1.0):
    _lib.cnnc_init_xavier_uniform_(_t(tensor, "xavier_uniform_"), _f(gain, "xavier_uniform_", "gain"))
    return tensor


def xavier_normal_(tensor, gain=1.0):
    _lib.cnnc_init_xavier_normal_(_t(tensor, "xavier_normal_"), _f(gain, "xavier_normal_", "gain"))
    return tensor


def _kaiming(fn, a, mode, nonlinearity):
    return KaimingOptions(_f(a, fn, "a"), str(mode).encode(), str(nonlinearity).encode())


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    _lib.cnnc_init_kaiming_uniform_(_t(tensor, "kaiming_uniform_"),
                                    _kaiming("kaiming_uniform_", a, mode, nonlinearity))
    return tensor


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    _lib.cnnc_init_kaiming_normal_(_t(tensor, "kaiming_normal_"),
                                   _kaiming("kaiming_normal_", a, mode, nonlinearity))
    return tensor
