"""cnnc.nn conv modules (torch.nn's constructor signatures).

Conv1d/2d/3d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
             groups=1, bias=True, padding_mode='zeros', device=None, dtype=None)
ConvTranspose1d/2d/3d(in_channels, out_channels, kernel_size, stride=1, padding=0,
                      output_padding=0, groups=1, bias=True, dilation=1,
                      padding_mode='zeros', device=None, dtype=None)
ConvTranspose*.forward(input, output_size=None)
"""
from ctypes import POINTER, c_int, c_int64, c_void_p

from .. import _args, _lib
from ..tensor import Tensor
from .functional_conv import ConvModuleOptions, ConvTransposeModuleOptions, padding_arg
from .modules import Module, _factory_kwargs

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

T = c_void_p
M = c_void_p
_lib.declare([
    ("cnnc_conv1d_new", M, [c_int64, c_int64, ConvModuleOptions], "ptr"),
    ("cnnc_conv2d_new", M, [c_int64, c_int64, ConvModuleOptions], "ptr"),
    ("cnnc_conv3d_new", M, [c_int64, c_int64, ConvModuleOptions], "ptr"),
    ("cnnc_convtranspose1d_new", M, [c_int64, c_int64, ConvTransposeModuleOptions], "ptr"),
    ("cnnc_convtranspose2d_new", M, [c_int64, c_int64, ConvTransposeModuleOptions], "ptr"),
    ("cnnc_convtranspose3d_new", M, [c_int64, c_int64, ConvTransposeModuleOptions], "ptr"),
    ("cnnc_conv_transpose_forward", T, [M, T, c_int, POINTER(c_int64)], "ptr"),
])


def _channels(cls, in_channels, out_channels):
    name = cls.__name__
    return (_args.int_arg(in_channels, name, "in_channels", python=True),
            _args.int_arg(out_channels, name, "out_channels", python=True))


class _ConvNd(Module):
    _new = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode='zeros', device=None, dtype=None):
        _factory_kwargs(device, dtype)
        name = type(self).__name__
        pad, pad_str = padding_arg(padding, name, python=True)
        opts = ConvModuleOptions(
            kernel_size=_args.ints_arg(kernel_size, name, "kernel_size", python=True),
            stride=_args.ints_arg(stride, name, "stride", python=True), padding=pad,
            padding_str=pad_str,
            dilation=_args.ints_arg(dilation, name, "dilation", python=True),
            groups=_args.int_arg(groups, name, "groups", python=True), bias=bool(bias),
            padding_mode=_args.string_arg(padding_mode, name, "padding_mode"))
        super().__init__(type(self)._new(*_channels(type(self), in_channels, out_channels), opts))


class Conv1d(_ConvNd):
    _new = staticmethod(_lib.cnnc_conv1d_new)


class Conv2d(_ConvNd):
    _new = staticmethod(_lib.cnnc_conv2d_new)


class Conv3d(_ConvNd):
    _new = staticmethod(_lib.cnnc_conv3d_new)


class _ConvTransposeNd(Module):
    _new = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode='zeros',
                 device=None, dtype=None):
        _factory_kwargs(device, dtype)
        name = type(self).__name__
        opts = ConvTransposeModuleOptions(
            kernel_size=_args.ints_arg(kernel_size, name, "kernel_size", python=True),
            stride=_args.ints_arg(stride, name, "stride", python=True),
            padding=_args.ints_arg(padding, name, "padding", python=True),
            output_padding=_args.ints_arg(output_padding, name, "output_padding", python=True),
            groups=_args.int_arg(groups, name, "groups", python=True), bias=bool(bias),
            dilation=_args.ints_arg(dilation, name, "dilation", python=True),
            padding_mode=_args.string_arg(padding_mode, name, "padding_mode"))
        super().__init__(type(self)._new(*_channels(type(self), in_channels, out_channels), opts))

    def __call__(self, input, output_size=None):
        if output_size is None:
            return super().__call__(input)
        name = type(self).__name__ + ".forward"
        h = _args.tensor_arg(input, name, "input")
        return Tensor(_lib.cnnc_conv_transpose_forward(
            self._h, h, *_args.shape_arg(output_size, name, "output_size")))

    forward = __call__


class ConvTranspose1d(_ConvTransposeNd):
    _new = staticmethod(_lib.cnnc_convtranspose1d_new)


class ConvTranspose2d(_ConvTransposeNd):
    _new = staticmethod(_lib.cnnc_convtranspose2d_new)


class ConvTranspose3d(_ConvTransposeNd):
    _new = staticmethod(_lib.cnnc_convtranspose3d_new)
