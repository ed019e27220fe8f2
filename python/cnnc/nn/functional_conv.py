"""cnnc.nn.functional: the conv family's functions (torch.nn.functional signatures).

conv1d/2d/3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)
conv_transpose1d/2d/3d(input, weight, bias=None, stride=1, padding=0,
                       output_padding=0, groups=1, dilation=1)

Argument mapping only: ints and tuples become cnnc_ints, a padding string goes to
padding_str; every check and message is the C library's.
"""
import numbers
from ctypes import Structure, c_bool, c_char_p, c_int, c_int64, c_void_p

from .. import _lib
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d",
           "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


class Ints(Structure):  # cnnc_ints
    _fields_ = [("n", c_int), ("v", c_int64 * _lib.MAX_DIMS)]


class ConvOptions(Structure):  # cnnc_conv_options
    _fields_ = [("stride", Ints), ("padding", Ints), ("padding_str", c_char_p),
                ("dilation", Ints), ("groups", c_int64)]


class ConvTransposeOptions(Structure):  # cnnc_conv_transpose_options
    _fields_ = [("stride", Ints), ("padding", Ints), ("output_padding", Ints),
                ("groups", c_int64), ("dilation", Ints)]


class ConvModuleOptions(Structure):  # cnnc_conv_module_options
    _fields_ = [("kernel_size", Ints), ("stride", Ints), ("padding", Ints),
                ("padding_str", c_char_p), ("dilation", Ints), ("groups", c_int64),
                ("bias", c_bool), ("padding_mode", c_char_p)]


class ConvTransposeModuleOptions(Structure):  # cnnc_conv_transpose_module_options
    _fields_ = [("kernel_size", Ints), ("stride", Ints), ("padding", Ints),
                ("output_padding", Ints), ("groups", c_int64), ("bias", c_bool),
                ("dilation", Ints), ("padding_mode", c_char_p)]


T = c_void_p
_lib.declare([
    ("cnnc_conv1d", T, [T, T, T, ConvOptions], "ptr"),
    ("cnnc_conv2d", T, [T, T, T, ConvOptions], "ptr"),
    ("cnnc_conv3d", T, [T, T, T, ConvOptions], "ptr"),
    ("cnnc_conv_transpose1d", T, [T, T, T, ConvTransposeOptions], "ptr"),
    ("cnnc_conv_transpose2d", T, [T, T, T, ConvTransposeOptions], "ptr"),
    ("cnnc_conv_transpose3d", T, [T, T, T, ConvTransposeOptions], "ptr"),
])


def ints(value, name):
    """torch's int | tuple[int, ...] argument as a cnnc_ints (an int is n == 1)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        vals = [int(value)]
        out = Ints(n=1)
    else:
        if isinstance(value, (str, bytes)):
            raise TypeError("argument '%s' must be an int or a tuple of ints, not str" % name)
        try:
            vals = [int(v) for v in value]
        except TypeError:
            raise TypeError("argument '%s' must be an int or a tuple of ints, not %s"
                            % (name, type(value).__name__)) from None
        if len(vals) > _lib.MAX_DIMS:
            raise ValueError("argument '%s' has more than %d values" % (name, _lib.MAX_DIMS))
        out = Ints(n=len(vals))
    for i, v in enumerate(vals):
        out.v[i] = v
    return out


def encode(s):
    return None if s is None else s.encode()


def _handle(t, name, optional=False):
    if t is None and optional:
        return None
    if not isinstance(t, Tensor):
        raise TypeError("%s must be a cnnc.Tensor%s, not %s"
                        % (name, " or None" if optional else "", type(t).__name__))
    return t._h


def _conv(fn, input, weight, bias, stride, padding, dilation, groups):
    is_str = isinstance(padding, str)
    pad_str = padding.encode() if is_str else None  # kept alive for the call
    opts = ConvOptions(stride=ints(stride, "stride"),
                       padding=Ints(n=0) if is_str else ints(padding, "padding"),
                       padding_str=pad_str, dilation=ints(dilation, "dilation"),
                       groups=int(groups))
    return Tensor(fn(_handle(input, "input"), _handle(weight, "weight"),
                     _handle(bias, "bias", optional=True), opts))


def _conv_transpose(fn, name, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    if isinstance(padding, str):  # torch's argument parser refuses it the same way
        raise TypeError("%s(): argument 'padding' must be tuple of ints, not str" % name)
    opts = ConvTransposeOptions(stride=ints(stride, "stride"), padding=ints(padding, "padding"),
                                output_padding=ints(output_padding, "output_padding"),
                                groups=int(groups), dilation=ints(dilation, "dilation"))
    return Tensor(fn(_handle(input, "input"), _handle(weight, "weight"),
                     _handle(bias, "bias", optional=True), opts))


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(_lib.cnnc_conv1d, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(_lib.cnnc_conv2d, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(_lib.cnnc_conv3d, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(_lib.cnnc_conv_transpose1d, "conv_transpose1d", input, weight, bias,
                           stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(_lib.cnnc_conv_transpose2d, "conv_transpose2d", input, weight, bias,
                           stride, padding, output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(_lib.cnnc_conv_transpose3d, "conv_transpose3d", input, weight, bias,
                           stride, padding, output_padding, groups, dilation)
