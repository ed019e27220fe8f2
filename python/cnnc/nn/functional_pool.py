"""cnnc.nn.functional: the pool family's functions (torch.nn.functional signatures).

Argument mapping only: an int is cnnc_ints' int form, a tuple/list one entry per
spatial dim (None entries of adaptive output sizes become CNNC_POOL_KEEP), None
is n == 0; return_indices=True returns (output, indices) as torch does."""
import ctypes
import numbers
from ctypes import Structure, c_bool, c_int, c_int64, c_void_p

from .. import _lib
from ..tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices"]

POOL_KEEP = -(2 ** 63)  # CNNC_POOL_KEEP (INT64_MIN): PyTorch's None entry of an output size


class PoolInts(Structure):  # cnnc_ints
    _fields_ = [("n", c_int), ("v", c_int64 * _lib.MAX_DIMS)]


class OptionalInt(Structure):  # cnnc_optional_int
    _fields_ = [("has_value", c_bool), ("value", c_int64)]


class MaxPoolOptions(Structure):  # cnnc_max_pool_options
    _fields_ = [("kernel_size", PoolInts), ("stride", PoolInts), ("padding", PoolInts),
                ("dilation", PoolInts), ("ceil_mode", c_bool), ("return_indices", c_bool)]


class MaxUnpoolOptions(Structure):  # cnnc_max_unpool_options
    _fields_ = [("kernel_size", PoolInts), ("stride", PoolInts), ("padding", PoolInts),
                ("output_size", PoolInts)]


class AvgPool1dOptions(Structure):  # cnnc_avg_pool1d_options
    _fields_ = [("kernel_size", PoolInts), ("stride", PoolInts), ("padding", PoolInts),
                ("ceil_mode", c_bool), ("count_include_pad", c_bool)]


class AvgPoolOptions(Structure):  # cnnc_avg_pool_options
    _fields_ = [("kernel_size", PoolInts), ("stride", PoolInts), ("padding", PoolInts),
                ("ceil_mode", c_bool), ("count_include_pad", c_bool),
                ("divisor_override", OptionalInt)]


_T, _M, _PT = c_void_p, c_void_p, ctypes.POINTER(c_void_p)
_lib.declare(
    [("cnnc_max_pool%dd" % n, _T, [_T, MaxPoolOptions], "ptr") for n in (1, 2, 3)]
    + [("cnnc_max_pool%dd_with_indices" % n, _T, [_T, MaxPoolOptions, _PT], "ptr") for n in (1, 2, 3)]
    + [("cnnc_max_unpool%dd" % n, _T, [_T, _T, MaxUnpoolOptions], "ptr") for n in (1, 2, 3)]
    + [("cnnc_avg_pool1d", _T, [_T, AvgPool1dOptions], "ptr")]
    + [("cnnc_avg_pool%dd" % n, _T, [_T, AvgPoolOptions], "ptr") for n in (2, 3)]
    + [("cnnc_adaptive_avg_pool%dd" % n, _T, [_T, PoolInts], "ptr") for n in (1, 2, 3)]
    + [("cnnc_adaptive_max_pool%dd" % n, _T, [_T, PoolInts], "ptr") for n in (1, 2, 3)]
    + [("cnnc_adaptive_max_pool%dd_with_indices" % n, _T, [_T, PoolInts, _PT], "ptr")
       for n in (1, 2, 3)]
    + [("cnnc_maxpool%dd_new" % n, _M, [MaxPoolOptions], "ptr") for n in (1, 2, 3)]
    + [("cnnc_avgpool1d_new", _M, [AvgPool1dOptions], "ptr")]
    + [("cnnc_avgpool%dd_new" % n, _M, [AvgPoolOptions], "ptr") for n in (2, 3)]
    + [("cnnc_adaptiveavgpool%dd_new" % n, _M, [PoolInts], "ptr") for n in (1, 2, 3)]
    + [("cnnc_adaptivemaxpool%dd_new" % n, _M, [PoolInts, c_bool], "ptr") for n in (1, 2, 3)]
    + [("cnnc_maxunpool%dd_new" % n, _M, [MaxUnpoolOptions], "ptr") for n in (1, 2, 3)]
    + [("cnnc_pool_module_forward_with_indices", _T, [_M, _T, _PT], "ptr"),
       ("cnnc_maxunpool_module_forward", _T, [_M, _T, _T, PoolInts], "ptr")])


def ints(v, keep_none=False):
    """A cnnc_ints: None -> n = 0, an int -> the int form, a sequence -> a tuple
    (None entries are CNNC_POOL_KEEP when keep_none)."""
    r = PoolInts()
    if v is None:
        return r
    if isinstance(v, numbers.Integral):
        r.n, r.v[0] = 1, int(v)
        return r
    if isinstance(v, Tensor) or not hasattr(v, "__len__"):
        raise TypeError("expected an int or a sequence of ints, got %s" % type(v).__name__)
    v = list(v)
    if len(v) > _lib.MAX_DIMS:
        raise ValueError("at most %d entries, got %d" % (_lib.MAX_DIMS, len(v)))
    r.n = len(v)
    for i, e in enumerate(v):
        if e is None and keep_none:
            r.v[i] = POOL_KEEP
        elif isinstance(e, numbers.Integral):
            r.v[i] = int(e)
        else:
            raise TypeError("expected ints, got %s" % type(e).__name__)
    return r


def optional_int(v):
    if v is None:
        return OptionalInt(False, 0)
    if not isinstance(v, numbers.Integral):
        raise TypeError("divisor_override must be an int or None, got %s" % type(v).__name__)
    return OptionalInt(True, int(v))


def _h(t, name="input"):
    if not isinstance(t, Tensor):
        raise TypeError("%s must be a cnnc.Tensor, not %s" % (name, type(t).__name__))
    return t._h


def max_pool_options(kernel_size, stride, padding, dilation, ceil_mode, return_indices=False):
    return MaxPoolOptions(ints(kernel_size), ints(stride), ints(padding), ints(dilation),
                          bool(ceil_mode), bool(return_indices))


def _pair_call(fn, *args):
    idx = c_void_p()
    out = fn(*args, ctypes.byref(idx))
    return Tensor(out), Tensor(idx.value)


# --- max pooling ------------------------------------------------------------------

def _max_pool(n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    o = max_pool_options(kernel_size, stride, padding, dilation, ceil_mode)
    if return_indices:
        return _pair_call(getattr(_lib, "cnnc_max_pool%dd_with_indices" % n), _h(input), o)
    return Tensor(getattr(_lib, "cnnc_max_pool%dd" % n)(_h(input), o))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, True)


# --- max unpooling ----------------------------------------------------------------

def _max_unpool(n, input, indices, kernel_size, stride, padding, output_size):
    o = MaxUnpoolOptions(ints(kernel_size), ints(stride), ints(padding),
                         ints(None if output_size is None else tuple(output_size)))
    return Tensor(getattr(_lib, "cnnc_max_unpool%dd" % n)(_h(input), _h(indices, "indices"), o))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# --- average pooling --------------------------------------------------------------

def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    o = AvgPool1dOptions(ints(kernel_size), ints(stride), ints(padding), bool(ceil_mode),
                         bool(count_include_pad))
    return Tensor(_lib.cnnc_avg_pool1d(_h(input), o))


def _avg_options(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    return AvgPoolOptions(ints(kernel_size), ints(stride), ints(padding), bool(ceil_mode),
                          bool(count_include_pad), optional_int(divisor_override))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    o = _avg_options(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return Tensor(_lib.cnnc_avg_pool2d(_h(input), o))


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    o = _avg_options(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    return Tensor(_lib.cnnc_avg_pool3d(_h(input), o))


# --- adaptive pooling -------------------------------------------------------------

def adaptive_avg_pool1d(input, output_size):
    return Tensor(_lib.cnnc_adaptive_avg_pool1d(_h(input), ints(output_size)))


def adaptive_avg_pool2d(input, output_size):
    return Tensor(_lib.cnnc_adaptive_avg_pool2d(_h(input), ints(output_size, True)))


def adaptive_avg_pool3d(input, output_size):
    return Tensor(_lib.cnnc_adaptive_avg_pool3d(_h(input), ints(output_size, True)))


def _adaptive_max(n, input, output_size, return_indices):
    s = ints(output_size, n > 1)
    if return_indices:
        return _pair_call(getattr(_lib, "cnnc_adaptive_max_pool%dd_with_indices" % n), _h(input), s)
    return Tensor(getattr(_lib, "cnnc_adaptive_max_pool%dd" % n)(_h(input), s))


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max(1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max(2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, True)
