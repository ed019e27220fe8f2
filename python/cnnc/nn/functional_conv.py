"""cnnc.nn.functional: the conv family's functions (torch.nn.functional signatures).

conv1d/2d/3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)
conv_transpose1d/2d/3d(input, weight, bias=None, stride=1, padding=0,
                       output_padding=0, groups=1, dilation=1)

Argument mapping only (cnnc._args): ints and tuples become cnnc_ints in their form,
a padding string goes to padding_str; every check of the values is the C library's.
"""
from ctypes import c_bool, c_char_p, c_int64, c_void_p

from .. import _args, _lib
from .._args import Ints
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d",
           "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


class ConvOptions(_lib.CStruct):
    _c_types_ = ("cnnc_conv_options",)
    _fields_ = [("stride", Ints), ("padding", Ints), ("padding_str", c_char_p),
                ("dilation", Ints), ("groups", c_int64)]


class ConvTransposeOptions(_lib.CStruct):
    _c_types_ = ("cnnc_conv_transpose_options",)
    _fields_ = [("stride", Ints), ("padding", Ints), ("output_padding", Ints),
                ("groups", c_int64), ("dilation", Ints)]


class ConvModuleOptions(_lib.CStruct):
    _c_types_ = ("cnnc_conv_module_options",)
    _fields_ = [("kernel_size", Ints), ("stride", Ints), ("padding", Ints),
                ("padding_str", c_char_p), ("dilation", Ints), ("groups", c_int64),
                ("bias", c_bool), ("padding_mode", c_char_p)]


class ConvTransposeModuleOptions(_lib.CStruct):
    _c_types_ = ("cnnc_conv_transpose_module_options",)
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


def padding_arg(padding, fn, python=False):
    """(padding as cnnc_ints, padding_str): an int, a tuple, or 'same' / 'valid'."""
    if isinstance(padding, str):
        return Ints(), padding.encode()
    return _args.ints_arg(padding, fn, "padding", python=python), None


def _tensors(fn, input, weight, bias):
    return (_args.tensor_arg(input, fn, "input"), _args.tensor_arg(weight, fn, "weight"),
            _args.tensor_arg(bias, fn, "bias", optional=True))


def _conv(n, input, weight, bias, stride, padding, dilation, groups):
    fn = "conv%dd" % n
    pad, pad_str = padding_arg(padding, fn)
    opts = ConvOptions(stride=_args.ints_arg(stride, fn, "stride"), padding=pad,
                       padding_str=pad_str, dilation=_args.ints_arg(dilation, fn, "dilation"),
                       groups=_args.int_arg(groups, fn, "groups"))
    return Tensor(getattr(_lib, "cnnc_" + fn)(*_tensors(fn, input, weight, bias), opts))


def _conv_transpose(n, input, weight, bias, stride, padding, output_padding, groups, dilation):
    fn = "conv_transpose%dd" % n
    opts = ConvTransposeOptions(stride=_args.ints_arg(stride, fn, "stride"),
                                padding=_args.ints_arg(padding, fn, "padding"),
                                output_padding=_args.ints_arg(output_padding, fn, "output_padding"),
                                groups=_args.int_arg(groups, fn, "groups"),
                                dilation=_args.ints_arg(dilation, fn, "dilation"))
    return Tensor(getattr(_lib, "cnnc_" + fn)(*_tensors(fn, input, weight, bias), opts))


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups, dilation)
