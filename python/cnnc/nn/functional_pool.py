"""cnnc.nn.functional: the pool family's functions (torch.nn.functional signatures).

Argument mapping only (cnnc._args): an int is cnnc_ints' int form, a tuple/list a
tuple (None entries of adaptive output sizes are CNNC_POOL_KEEP), None is None;
return_indices=True returns (output, indices) as torch does."""
import ctypes
from ctypes import c_bool, c_void_p

from .. import _args, _lib
from .._args import Ints, OptionalInt
from ..tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices"]


class MaxPoolOptions(_lib.CStruct):
    _c_types_ = ("cnnc_max_pool_options",)
    _fields_ = [("kernel_size", Ints), ("stride", Ints), ("padding", Ints),
                ("dilation", Ints), ("ceil_mode", c_bool), ("return_indices", c_bool)]


class MaxUnpoolOptions(_lib.CStruct):
    _c_types_ = ("cnnc_max_unpool_options",)
    _fields_ = [("kernel_size", Ints), ("stride", Ints), ("padding", Ints),
                ("output_size", Ints)]


class AvgPool1dOptions(_lib.CStruct):
    _c_types_ = ("cnnc_avg_pool1d_options",)
    _fields_ = [("kernel_size", Ints), ("stride", Ints), ("padding", Ints),
                ("ceil_mode", c_bool), ("count_include_pad", c_bool)]


class AvgPoolOptions(_lib.CStruct):
    _c_types_ = ("cnnc_avg_pool_options",)
    _fields_ = [("kernel_size", Ints), ("stride", Ints), ("padding", Ints),
                ("ceil_mode", c_bool), ("count_include_pad", c_bool),
                ("divisor_override", OptionalInt)]


_T, _M, _PT = c_void_p, c_void_p, ctypes.POINTER(c_void_p)
_lib.declare(
    [("cnnc_max_pool%dd" % n, _T, [_T, MaxPoolOptions], "ptr") for n in (1, 2, 3)]
    + [("cnnc_max_pool%dd_with_indices" % n, _T, [_T, MaxPoolOptions, _PT], "ptr") for n in (1, 2, 3)]
    + [("cnnc_max_unpool%dd" % n, _T, [_T, _T, MaxUnpoolOptions], "ptr") for n in (1, 2, 3)]
    + [("cnnc_avg_pool1d", _T, [_T, AvgPool1dOptions], "ptr")]
    + [("cnnc_avg_pool%dd" % n, _T, [_T, AvgPoolOptions], "ptr") for n in (2, 3)]
    + [("cnnc_adaptive_avg_pool%dd" % n, _T, [_T, Ints], "ptr") for n in (1, 2, 3)]
    + [("cnnc_adaptive_max_pool%dd" % n, _T, [_T, Ints], "ptr") for n in (1, 2, 3)]
    + [("cnnc_adaptive_max_pool%dd_with_indices" % n, _T, [_T, Ints, _PT], "ptr")
       for n in (1, 2, 3)]
    + [("cnnc_maxpool%dd_new" % n, _M, [MaxPoolOptions], "ptr") for n in (1, 2, 3)]
    + [("cnnc_avgpool1d_new", _M, [AvgPool1dOptions], "ptr")]
    + [("cnnc_avgpool%dd_new" % n, _M, [AvgPoolOptions], "ptr") for n in (2, 3)]
    + [("cnnc_adaptiveavgpool%dd_new" % n, _M, [Ints], "ptr") for n in (1, 2, 3)]
    + [("cnnc_adaptivemaxpool%dd_new" % n, _M, [Ints, c_bool], "ptr") for n in (1, 2, 3)]
    + [("cnnc_maxunpool%dd_new" % n, _M, [MaxUnpoolOptions], "ptr") for n in (1, 2, 3)]
    + [("cnnc_pool_module_forward_with_indices", _T, [_M, _T, _PT], "ptr"),
       ("cnnc_maxunpool_module_forward", _T, [_M, _T, _T, Ints], "ptr")])


def max_pool_options(fn, kernel_size, stride, padding, dilation, ceil_mode, return_indices=False):
    return MaxPoolOptions(_args.ints_arg(kernel_size, fn, "kernel_size"),
                          _args.ints_arg(stride, fn, "stride", none=True),
                          _args.ints_arg(padding, fn, "padding"),
                          _args.ints_arg(dilation, fn, "dilation"),
                          bool(ceil_mode), bool(return_indices))


def unpool_output_size(fn, output_size):
    """max_unpool's output_size: None or a sequence (PyTorch's Python takes its len())."""
    if output_size is not None and not isinstance(output_size, (tuple, list)):
        raise TypeError("object of type '%s' has no len()" % type(output_size).__name__)
    return _args.ints_arg(output_size, fn, "output_size", none=True)


def unpool_options(fn, kernel_size, stride, padding, output_size=None):
    return MaxUnpoolOptions(_args.ints_arg(kernel_size, fn, "kernel_size"),
                            _args.ints_arg(stride, fn, "stride", none=True),
                            _args.ints_arg(padding, fn, "padding"),
                            unpool_output_size(fn, output_size))


def avg_options(fn, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override=None):
    k, s, p = (_args.ints_arg(kernel_size, fn, "kernel_size"),
               _args.ints_arg(stride, fn, "stride", none=True), _args.ints_arg(padding, fn, "padding"))
    if fn.endswith("1d"):
        return AvgPool1dOptions(k, s, p, bool(ceil_mode), bool(count_include_pad))
    return AvgPoolOptions(k, s, p, bool(ceil_mode), bool(count_include_pad),
                          _args.optional_int(divisor_override, fn, "divisor_override"))


def output_size_arg(fn, n, output_size):
    """An adaptive output size: the int, or a tuple (None entries keep the input's size,
    2-d and 3-d). None has no len(), as in PyTorch's Python code."""
    if output_size is None and n > 1:
        raise TypeError("object of type 'NoneType' has no len()")
    return _args.ints_arg(output_size, fn, "output_size", keep_none=n > 1)


def _pair_call(fn, *args):
    idx = c_void_p()
    out = fn(*args, ctypes.byref(idx))
    return Tensor(out), Tensor._wrap(idx.value)


# --- max pooling ------------------------------------------------------------------

def _max_pool(n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    fn = "max_pool%dd" % n
    o = max_pool_options(fn, kernel_size, stride, padding, dilation, ceil_mode)
    h = _args.tensor_arg(input, fn, "input")
    if return_indices:
        return _pair_call(getattr(_lib, "cnnc_%s_with_indices" % fn), h, o)
    return Tensor(getattr(_lib, "cnnc_" + fn)(h, o))


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
    fn = "max_unpool%dd" % n
    o = unpool_options(fn, kernel_size, stride, padding, output_size)
    return Tensor(getattr(_lib, "cnnc_" + fn)(_args.tensor_arg(input, fn, "input"),
                                              _args.tensor_arg(indices, fn, "indices"), o))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# --- average pooling --------------------------------------------------------------

def _avg_pool(n, input, *args):
    fn = "avg_pool%dd" % n
    return Tensor(getattr(_lib, "cnnc_" + fn)(_args.tensor_arg(input, fn, "input"),
                                              avg_options(fn, *args)))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# --- adaptive pooling -------------------------------------------------------------

def _adaptive_avg(n, input, output_size):
    fn = "adaptive_avg_pool%dd" % n
    h = _args.tensor_arg(input, fn, "input")
    return Tensor(getattr(_lib, "cnnc_" + fn)(h, output_size_arg(fn, n, output_size)))


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg(3, input, output_size)


def _adaptive_max(n, input, output_size, return_indices):
    fn = "adaptive_max_pool%dd" % n
    h, s = _args.tensor_arg(input, fn, "input"), output_size_arg(fn, n, output_size)
    if return_indices:
        return _pair_call(getattr(_lib, "cnnc_%s_with_indices" % fn), h, s)
    return Tensor(getattr(_lib, "cnnc_" + fn)(h, s))


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
