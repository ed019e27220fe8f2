"""cnnc.nn.functional: the activation family's functions (torch.nn.functional
signatures): pointwise activations (with their in-place forms), prelu,
softmax / log_softmax, dropout / dropout2d / dropout3d.

Argument mapping only: every check and message is the C library's. With
inplace=True (and the *_ functions) the input is modified and returned, as torch.
"""
from ctypes import c_bool, c_char_p, c_double, c_int64

from .. import _args, _lib
from .._args import Ints
from ..tensor import Tensor

__all__ = ["relu6", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_", "elu", "elu_",
           "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh",
           "hardsigmoid", "hardswish", "softplus", "prelu", "softmax", "log_softmax",
           "dropout", "dropout2d", "dropout3d"]


# --- C structs (exact layout of include/cnnc/activation.h) -------------------------

class InplaceOptions(_lib.CStruct):
    _c_types_ = ("cnnc_relu6_options", "cnnc_selu_options", "cnnc_silu_options",
                 "cnnc_mish_options", "cnnc_hardsigmoid_options", "cnnc_hardswish_options")
    _fields_ = [("inplace", c_bool)]


class HardtanhOptions(_lib.CStruct):
    _c_types_ = ("cnnc_hardtanh_options",)
    _fields_ = [("min_val", c_double), ("max_val", c_double), ("inplace", c_bool)]


class LeakyReluOptions(_lib.CStruct):
    _c_types_ = ("cnnc_leaky_relu_options",)
    _fields_ = [("negative_slope", c_double), ("inplace", c_bool)]


class AlphaOptions(_lib.CStruct):
    _c_types_ = ("cnnc_elu_options", "cnnc_celu_options")
    _fields_ = [("alpha", c_double), ("inplace", c_bool)]


class GeluOptions(_lib.CStruct):
    _c_types_ = ("cnnc_gelu_options",)
    _fields_ = [("approximate", c_char_p)]


class SoftplusOptions(_lib.CStruct):
    _c_types_ = ("cnnc_softplus_options",)
    _fields_ = [("beta", c_double), ("threshold", c_double)]


class PreluOptions(_lib.CStruct):
    _c_types_ = ("cnnc_prelu_options",)
    _fields_ = [("num_parameters", c_int64), ("init", c_double)]


class SoftmaxOptions(_lib.CStruct):
    _c_types_ = ("cnnc_softmax_options",)
    _fields_ = [("dim", Ints)]


class DropoutOptions(_lib.CStruct):
    _c_types_ = ("cnnc_dropout_options",)
    _fields_ = [("p", c_double), ("training", c_bool), ("inplace", c_bool)]


T, M, S = _lib.T, _lib.M, _lib.S
_lib.declare([
    ("cnnc_relu6", T, [T, InplaceOptions], "ptr"),
    ("cnnc_hardtanh", T, [T, HardtanhOptions], "ptr"),
    ("cnnc_hardtanh_", S, [T, HardtanhOptions], "status"),
    ("cnnc_leaky_relu", T, [T, LeakyReluOptions], "ptr"),
    ("cnnc_leaky_relu_", S, [T, LeakyReluOptions], "status"),
    ("cnnc_elu", T, [T, AlphaOptions], "ptr"),
    ("cnnc_elu_", S, [T, AlphaOptions], "status"),
    ("cnnc_selu", T, [T, InplaceOptions], "ptr"),
    ("cnnc_selu_", S, [T], "status"),
    ("cnnc_celu", T, [T, AlphaOptions], "ptr"),
    ("cnnc_celu_", S, [T, AlphaOptions], "status"),
    ("cnnc_gelu", T, [T, GeluOptions], "ptr"),
    ("cnnc_silu", T, [T, InplaceOptions], "ptr"),
    ("cnnc_mish", T, [T, InplaceOptions], "ptr"),
    ("cnnc_sigmoid", T, [T], "ptr"),
    ("cnnc_tanh", T, [T], "ptr"),
    ("cnnc_hardsigmoid", T, [T, InplaceOptions], "ptr"),
    ("cnnc_hardswish", T, [T, InplaceOptions], "ptr"),
    ("cnnc_softplus", T, [T, SoftplusOptions], "ptr"),
    ("cnnc_prelu", T, [T, T], "ptr"),
    ("cnnc_softmax", T, [T, SoftmaxOptions], "ptr"),
    ("cnnc_log_softmax", T, [T, SoftmaxOptions], "ptr"),
    ("cnnc_dropout", T, [T, DropoutOptions], "ptr"),
    ("cnnc_dropout2d", T, [T, DropoutOptions], "ptr"),
    ("cnnc_dropout3d", T, [T, DropoutOptions], "ptr"),
    # modules
    ("cnnc_relu6_new", M, [InplaceOptions], "ptr"),
    ("cnnc_hardtanh_new", M, [HardtanhOptions], "ptr"),
    ("cnnc_leakyrelu_new", M, [LeakyReluOptions], "ptr"),
    ("cnnc_elu_new", M, [AlphaOptions], "ptr"),
    ("cnnc_selu_new", M, [InplaceOptions], "ptr"),
    ("cnnc_celu_new", M, [AlphaOptions], "ptr"),
    ("cnnc_gelu_new", M, [GeluOptions], "ptr"),
    ("cnnc_silu_new", M, [InplaceOptions], "ptr"),
    ("cnnc_mish_new", M, [InplaceOptions], "ptr"),
    ("cnnc_sigmoid_new", M, [], "ptr"),
    ("cnnc_tanh_new", M, [], "ptr"),
    ("cnnc_hardsigmoid_new", M, [InplaceOptions], "ptr"),
    ("cnnc_hardswish_new", M, [InplaceOptions], "ptr"),
    ("cnnc_softplus_new", M, [SoftplusOptions], "ptr"),
    ("cnnc_prelu_new", M, [PreluOptions], "ptr"),
    ("cnnc_softmax_new", M, [SoftmaxOptions], "ptr"),
    ("cnnc_logsoftmax_new", M, [SoftmaxOptions], "ptr"),
    ("cnnc_dropout_new", M, [DropoutOptions], "ptr"),
    ("cnnc_dropout2d_new", M, [DropoutOptions], "ptr"),
    ("cnnc_dropout3d_new", M, [DropoutOptions], "ptr"),
])


def _h(t, fn):
    return _args.tensor_arg(t, fn, "input")


def _f(v, fn, name):
    return _args.float_arg(v, fn, name)


def _result(input, handle, inplace):
    """The op's new reference; with inplace it is a reference to input itself, so
    the caller gets input back (as torch)."""
    out = Tensor(handle)
    return input if inplace else out


def optional_dim(dim, fn, ndim=0):
    """torch's `dim: Optional[int]` as a cnnc_ints: None or the int (its range is the
    library's check; a str is torch's named-dim lookup)."""
    if dim is None:
        return Ints()
    if isinstance(dim, str):
        _args.dim_arg(dim, fn, "dim", ndim, named=True)
    return _args.ints_arg(_args.int_arg(dim, fn, "dim"), fn, "dim")


def _check_dtype(dtype):
    if dtype is not None and str(dtype).replace("torch.", "") not in ("float32", "float"):
        raise ValueError("cnnc computes softmax in float32 only, got dtype=%r" % (dtype,))


# --- pointwise activations --------------------------------------------------------------

def _inplace_op(fn, input, inplace):
    return _result(input, getattr(_lib, "cnnc_" + fn)(_h(input, fn), InplaceOptions(bool(inplace))),
                   inplace)


def relu6(input, inplace=False):
    return _inplace_op("relu6", input, inplace)


def _hardtanh_options(fn, min_val, max_val, inplace):
    return HardtanhOptions(_f(min_val, fn, "min_val"), _f(max_val, fn, "max_val"), bool(inplace))


def hardtanh(input, min_val=-1., max_val=1., inplace=False):
    o = _hardtanh_options("hardtanh", min_val, max_val, inplace)
    return _result(input, _lib.cnnc_hardtanh(_h(input, "hardtanh"), o), inplace)


def hardtanh_(input, min_val=-1., max_val=1.):
    _lib.cnnc_hardtanh_(_h(input, "hardtanh_"), _hardtanh_options("hardtanh_", min_val, max_val, True))
    return input


def leaky_relu(input, negative_slope=0.01, inplace=False):
    o = LeakyReluOptions(_f(negative_slope, "leaky_relu", "negative_slope"), bool(inplace))
    return _result(input, _lib.cnnc_leaky_relu(_h(input, "leaky_relu"), o), inplace)


def leaky_relu_(input, negative_slope=0.01):
    o = LeakyReluOptions(_f(negative_slope, "leaky_relu_", "negative_slope"), True)
    _lib.cnnc_leaky_relu_(_h(input, "leaky_relu_"), o)
    return input


def _alpha_op(fn, input, alpha, inplace):
    o = AlphaOptions(_f(alpha, fn, "alpha"), bool(inplace))
    return _result(input, getattr(_lib, "cnnc_" + fn)(_h(input, fn), o), inplace)


def _alpha_op_(fn, input, alpha):
    o = AlphaOptions(_f(alpha, fn + "_", "alpha"), True)
    getattr(_lib, "cnnc_%s_" % fn)(_h(input, fn + "_"), o)
    return input


def elu(input, alpha=1.0, inplace=False):
    return _alpha_op("elu", input, alpha, inplace)


def elu_(input, alpha=1.):
    return _alpha_op_("elu", input, alpha)


def selu(input, inplace=False):
    return _inplace_op("selu", input, inplace)


def selu_(input):
    _lib.cnnc_selu_(_h(input, "selu_"))
    return input


def celu(input, alpha=1., inplace=False):
    return _alpha_op("celu", input, alpha, inplace)


def celu_(input, alpha=1.):
    return _alpha_op_("celu", input, alpha)


def gelu(input, *, approximate='none'):
    o = GeluOptions(_args.string_arg(approximate, "gelu", "approximate"))
    return Tensor(_lib.cnnc_gelu(_h(input, "gelu"), o))


def silu(input, inplace=False):
    return _inplace_op("silu", input, inplace)


def mish(input, inplace=False):
    return _inplace_op("mish", input, inplace)


def sigmoid(input):
    return Tensor(_lib.cnnc_sigmoid(_h(input, "sigmoid")))


def tanh(input):
    return Tensor(_lib.cnnc_tanh(_h(input, "tanh")))


def hardsigmoid(input, inplace=False):
    return _inplace_op("hardsigmoid", input, inplace)


def hardswish(input, inplace=False):
    return _inplace_op("hardswish", input, inplace)


def softplus(input, beta=1, threshold=20):
    o = SoftplusOptions(_f(beta, "softplus", "beta"), _f(threshold, "softplus", "threshold"))
    return Tensor(_lib.cnnc_softplus(_h(input, "softplus"), o))


def prelu(input, weight):
    return Tensor(_lib.cnnc_prelu(_h(input, "prelu"), _args.tensor_arg(weight, "prelu", "weight")))


# --- softmax ------------------------------------------------------------------------------

def _softmax(fn, input, dim, dtype):
    _check_dtype(dtype)
    h = _h(input, fn)
    return Tensor(getattr(_lib, "cnnc_" + fn)(h, SoftmaxOptions(optional_dim(dim, fn, input.ndim))))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax("softmax", input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax("log_softmax", input, dim, dtype)


# --- dropout ------------------------------------------------------------------------------

def dropout_options(fn, p, training, inplace):
    return DropoutOptions(_f(p, fn, "p"), bool(training), bool(inplace))


def _dropout(fn, input, p, training, inplace):
    o = dropout_options(fn, p, training, inplace)
    return _result(input, getattr(_lib, "cnnc_" + fn)(_h(input, fn), o), inplace)


def dropout(input, p=0.5, training=True, inplace=False):
    return _dropout("dropout", input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    return _dropout("dropout2d", input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _dropout("dropout3d", input, p, training, inplace)
