"""cnnc.nn pooling modules (torch.nn's constructor signatures)."""
import ctypes

from .. import _args, _lib
from ..tensor import Tensor
from .functional_pool import (avg_options, max_pool_options, output_size_arg, unpool_options,
                              unpool_output_size)
from .modules import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
           "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"]


# MaxPool and AdaptiveMaxPool with return_indices=True return (output, indices):
# their C forward gives two results, which Module.__call__ returns as a tuple.

class _PoolNd(Module):
    _n = 0
    _kind = ""  # "maxpool", "avgpool", ...

    @classmethod
    def _new(cls, options, *more):
        return getattr(_lib, "cnnc_%s%dd_new" % (cls._kind, cls._n))(options, *more)


class _MaxPoolNd(_PoolNd):
    _kind = "maxpool"

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__(self._new(max_pool_options(type(self).__name__, kernel_size, stride,
                                                    padding, dilation, ceil_mode, return_indices)))


class MaxPool1d(_MaxPoolNd):
    _n = 1


class MaxPool2d(_MaxPoolNd):
    _n = 2


class MaxPool3d(_MaxPoolNd):
    _n = 3


class _AvgPoolNd(_PoolNd):
    _kind = "avgpool"


class AvgPool1d(_AvgPoolNd):
    _n = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(self._new(avg_options("AvgPool1d", kernel_size, stride, padding,
                                               ceil_mode, count_include_pad)))


class AvgPool2d(_AvgPoolNd):
    _n = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(self._new(avg_options("AvgPool2d", kernel_size, stride, padding,
                                               ceil_mode, count_include_pad, divisor_override)))


class AvgPool3d(_AvgPoolNd):
    _n = 3

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(self._new(avg_options("AvgPool3d", kernel_size, stride, padding,
                                               ceil_mode, count_include_pad, divisor_override)))


def _output_size_attr(self):
    """The C attr with CNNC_POOL_KEEP entries shown as None (torch keeps None)."""
    v = _lib.Value()
    _lib.cnnc_module_attr(self._h, b"output_size", ctypes.byref(v))
    value = _lib.value_to_python(v)
    if isinstance(value, tuple):
        return tuple(None if e == _args.POOL_KEEP else e for e in value)
    return value


class _AdaptiveAvgPoolNd(_PoolNd):
    _kind = "adaptiveavgpool"
    output_size = property(_output_size_attr)

    def __init__(self, output_size):
        super().__init__(self._new(output_size_arg(type(self).__name__, self._n, output_size)))


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    _n = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    _n = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    _n = 3


class _AdaptiveMaxPoolNd(_PoolNd):
    _kind = "adaptivemaxpool"
    output_size = property(_output_size_attr)

    def __init__(self, output_size, return_indices=False):
        super().__init__(self._new(output_size_arg(type(self).__name__, self._n, output_size),
                                   bool(return_indices)))


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    _n = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    _n = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    _n = 3


class _MaxUnpoolNd(_PoolNd):
    _kind = "maxunpool"

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(self._new(unpool_options(type(self).__name__, kernel_size, stride,
                                                  padding)))

    def __call__(self, input, indices, output_size=None):
        fn = type(self).__name__ + ".forward"
        return Tensor(_lib.cnnc_maxunpool_module_forward(
            self._h, _args.tensor_arg(input, fn, "input"), _args.tensor_arg(indices, fn, "indices"),
            unpool_output_size(fn, output_size)))

    forward = __call__


class MaxUnpool1d(_MaxUnpoolNd):
    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    _n = 3
