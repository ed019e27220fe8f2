"""cnnc.nn conv modules (torch.nn's constructor signatures).

Conv1d/2d/3d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
             groups=1, bias=True, padding_mode='zeros', device=None, dtype=None)
ConvTranspose1d/2d/3d(in_channels, out_channels, kernel_size, stride=1, padding=0,
                      output_padding=0, groups=1, bias=True, dilation=1,
                      padding_mode='zeros', device=None, dtype=None)
ConvTranspose*.forward(input, output_size=None)
"""
from ctypes import POINTER, c_int, c_int64, c_void_p

from .. import _lib
from ..tensor import Tensor
from .functional_conv import (ConvModuleOptions, ConvTransposeModuleOptions, Ints, encode,
                              ints)
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


def _conv_options(kernel_size, stride, padding, dilation, groups, bias, padding_mode):
    is_str = isinstance(padding, str)
    return ConvModuleOptions(
        kernel_size=ints(kernel_size, "kernel_size"), stride=ints(stride, "stride"),
        padding=Ints(n=0) if is_str else ints(padding, "padding"),
        padding_str=encode(padding) if is_str else None, dilation=ints(dilation, "dilation"),
        groups=int(groups), bias=bool(bias), padding_mode=encode(str(padding_mode)))


class _ConvNd(Module):
    _new = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode='zeros', device=None, dtype=None):
        _factory_kwargs(device, dtype)
        opts = _conv_options(kernel_size, stride, padding, dilation, groups, bias, padding_mode)
        super().__init__(type(self)._new(int(in_channels), int(out_channels), opts))


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
        if isinstance(padding, str):  # torch's _ntuple turns it into a tuple of characters
            raise TypeError("%s(): padding must be an int or a tuple of ints, not str"
                            % type(self).__name__)
        opts = ConvTransposeModuleOptions(
            kernel_size=ints(kernel_size, "kernel_size"), stride=ints(stride, "stride"),
            padding=ints(padding, "padding"),
            output_padding=ints(output_padding, "output_padding"), groups=int(groups),
            bias=bool(bias), dilation=ints(dilation, "dilation"),
            padding_mode=encode(str(padding_mode)))
        super().__init__(type(self)._new(int(in_channels), int(out_channels), opts))

    def __call__(self, input, output_size=None):
        if output_size is None:
            return super().__call__(input)
        if not isinstance(input, Tensor):
            raise TypeError("%s expects a cnnc.Tensor input, got %s"
                            % (type(self).__name__, type(input).__name__))
        n, arr = _lib.shape_array(list(output_size))
        return Tensor(_lib.cnnc_conv_transpose_forward(self._h, input._h, n, arr))

    forward = __call__


class ConvTranspose1d(_ConvTransposeNd):
    _new = staticmethod(_lib.cnnc_convtranspose1d_new)


class ConvTranspose2d(_ConvTransposeNd):
    _new = staticmethod(_lib.cnnc_convtranspose2d_new)


class ConvTranspose3d(_ConvTransposeNd):
    _new = staticmethod(_lib.cnnc_convtranspose3d_new)
