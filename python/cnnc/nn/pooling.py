"""cnnc.nn pooling modules (torch.nn's constructor signatures)."""
import ctypes

from .. import _lib
from ..tensor import Tensor
from .functional_pool import (POOL_KEEP, AvgPool1dOptions, MaxUnpoolOptions, _avg_options, _h,
                              ints, max_pool_options)
from .modules import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
           "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"]


# MaxPool and AdaptiveMaxPool with return_indices=True return (output, indices):
# their C forward gives two results, which Module.__call__ returns as a tuple.

class _MaxPoolNd(Module):
    _new = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__(type(self)._new(max_pool_options(kernel_size, stride, padding, dilation,
                                                          ceil_mode, return_indices)))


class MaxPool1d(_MaxPoolNd):
    _new = staticmethod(lambda o: _lib.cnnc_maxpool1d_new(o))


class MaxPool2d(_MaxPoolNd):
    _new = staticmethod(lambda o: _lib.cnnc_maxpool2d_new(o))


class MaxPool3d(_MaxPoolNd):
    _new = staticmethod(lambda o: _lib.cnnc_maxpool3d_new(o))


class AvgPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(_lib.cnnc_avgpool1d_new(AvgPool1dOptions(
            ints(kernel_size), ints(stride), ints(padding), bool(ceil_mode),
            bool(count_include_pad))))


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(_lib.cnnc_avgpool2d_new(_avg_options(
            kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)))


class AvgPool3d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(_lib.cnnc_avgpool3d_new(_avg_options(
            kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)))


def _output_size_attr(self):
    """The C attr with CNNC_POOL_KEEP entries shown as None (torch keeps None)."""
    v = _lib.Value()
    _lib.cnnc_module_attr(self._h, b"output_size", ctypes.byref(v))
    value = _lib.value_to_python(v)
    if isinstance(value, tuple):
        return tuple(None if e == POOL_KEEP else e for e in value)
    return value


class _AdaptiveAvgPoolNd(Module):
    _n = 0
    output_size = property(_output_size_attr)

    def __init__(self, output_size):
        super().__init__(getattr(_lib, "cnnc_adaptiveavgpool%dd_new" % self._n)(
            ints(output_size, self._n > 1)))


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    _n = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    _n = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    _n = 3


class _AdaptiveMaxPoolNd(Module):
    _n = 0
    output_size = property(_output_size_attr)

    def __init__(self, output_size, return_indices=False):
        super().__init__(getattr(_lib, "cnnc_adaptivemaxpool%dd_new" % self._n)(
            ints(output_size, self._n > 1), bool(return_indices)))


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    _n = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    _n = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    _n = 3


class _MaxUnpoolNd(Module):
    _n = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(getattr(_lib, "cnnc_maxunpool%dd_new" % self._n)(MaxUnpoolOptions(
            ints(kernel_size), ints(stride), ints(padding), ints(None))))

    def __call__(self, input, indices, output_size=None):
        return Tensor(_lib.cnnc_maxunpool_module_forward(
            self._h, _h(input), _h(indices, "indices"),
            ints(None if output_size is None else tuple(output_size))))

    forward = __call__


class MaxUnpool1d(_MaxUnpoolNd):
    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    _n = 3
