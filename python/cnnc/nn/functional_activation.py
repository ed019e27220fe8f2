"""cnnc.nn.functional: the activation family's functions (torch.nn.functional
signatures): pointwise activations (with their in-place forms), prelu,
softmax / log_softmax, dropout / dropout2d / dropout3d.

Argument mapping only: every check and message is the C library's. With
inplace=True (and the *_ functions) the input is modified and returned, as torch.
"""
from ctypes import Structure, c_bool, c_char_p, c_double, c_int, c_int64

from .. import _lib
from ..tensor import Tensor

__all__ = ["relu6", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_", "elu", "elu_",
           "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish", "sigmoid", "tanh",
           "hardsigmoid", "hardswish", "softplus", "prelu", "softmax", "log_softmax",
           "dropout", "dropout2d", "dropout3d"]


# --- C structs (exact layout of include/cnnc/activation.h) -------------------------

class Ints(Structure):  # cnnc_ints
    _fields_ = [("n", c_int), ("v", c_int64 * _lib.MAX_DIMS)]


class InplaceOptions(Structure):  # cnnc_{relu6,selu,silu,mish,hardsigmoid,hardswish}_options
    _fields_ = [("inplace", c_bool)]


class HardtanhOptions(Structure):  # cnnc_hardtanh_options
    _fields_ = [("min_val", c_double), ("max_val", c_double), ("inplace", c_bool)]


class LeakyReluOptions(Structure):  # cnnc_leaky_relu_options
    _fields_ = [("negative_slope", c_double), ("inplace", c_bool)]


class AlphaOptions(Structure):  # cnnc_elu_options, cnnc_celu_options
    _fields_ = [("alpha", c_double), ("inplace", c_bool)]


class GeluOptions(Structure):  # cnnc_gelu_options
    _fields_ = [("approximate", c_char_p)]


class SoftplusOptions(Structure):  # cnnc_softplus_options
    _fields_ = [("beta", c_double), ("threshold", c_double)]


class PreluOptions(Structure):  # cnnc_prelu_options
    _fields_ = [("num_parameters", c_int64), ("init", c_double)]


class SoftmaxOptions(Structure):  # cnnc_softmax_options
    _fields_ = [("dim", Ints)]


class DropoutOptions(Structure):  # cnnc_dropout_options
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


def _h(t, name="input"):
    if not isinstance(t, Tensor):
        raise TypeError("%s must be a cnnc.Tensor, not %s" % (name, type(t).__name__))
    return t._h


def _result(input, handle, inplace):
    """The op's new reference; with inplace it is a reference to input itself, so
    the caller gets input back (as torch)."""
    out = Tensor(handle)
    return input if inplace else out


def _optional_dim(dim):
    """torch's `dim: Optional[int]` as a cnnc_ints (n == 0 is None)."""
    if dim is None:
        return Ints(0)
    return Ints(1, (c_int64 * _lib.MAX_DIMS)(int(dim)))


def _check_dtype(dtype):
    if dtype is not None and str(dtype).replace("torch.", "") not in ("float32", "float"):
        raise ValueError("cnnc computes softmax in float32 only, got dtype=%r" % (dtype,))


# --- pointwise activations --------------------------------------------------------------

def relu6(input, inplace=False):
    return _result(input, _lib.cnnc_relu6(_h(input), InplaceOptions(bool(inplace))), inplace)


def hardtanh(input, min_val=-1., max_val=1., inplace=False):
    o = HardtanhOptions(float(min_val), float(max_val), bool(inplace))
    return _result(input, _lib.cnnc_hardtanh(_h(input), o), inplace)


def hardtanh_(input, min_val=-1., max_val=1.):
    _lib.cnnc_hardtanh_(_h(input), HardtanhOptions(float(min_val), float(max_val), True))
    return input


def leaky_relu(input, negative_slope=0.01, inplace=False):
    o = LeakyReluOptions(float(negative_slope), bool(inplace))
    return _result(input, _lib.cnnc_leaky_relu(_h(input), o), inplace)


def leaky_relu_(input, negative_slope=0.01):
    _lib.cnnc_leaky_relu_(_h(input), LeakyReluOptions(float(negative_slope), True))
    return input


def elu(input, alpha=1.0, inplace=False):
    return _result(input, _lib.cnnc_elu(_h(input), AlphaOptions(float(alpha), bool(inplace))),
                   inplace)


def elu_(input, alpha=1.):
    _lib.cnnc_elu_(_h(input), AlphaOptions(float(alpha), True))
    return input


def selu(input, inplace=False):
    return _result(input, _lib.cnnc_selu(_h(input), InplaceOptions(bool(inplace))), inplace)


def selu_(input):
    _lib.cnnc_selu_(_h(input))
    return input


def celu(input, alpha=1., inplace=False):
    return _result(input, _lib.cnnc_celu(_h(input), AlphaOptions(float(alpha), bool(inplace))),
                   inplace)


def celu_(input, alpha=1.):
    _lib.cnnc_celu_(_h(input), AlphaOptions(float(alpha), True))
    return input


def gelu(input, *, approximate='none'):
    if not isinstance(approximate, str):
        raise TypeError("gelu(): argument 'approximate' must be str, not %s"
                        % type(approximate).__name__)
    return Tensor(_lib.cnnc_gelu(_h(input), GeluOptions(approximate.encode())))


def silu(input, inplace=False):
    return _result(input, _lib.cnnc_silu(_h(input), InplaceOptions(bool(inplace))), inplace)


def mish(input, inplace=False):
    return _result(input, _lib.cnnc_mish(_h(input), InplaceOptions(bool(inplace))), inplace)


def sigmoid(input):
    return Tensor(_lib.cnnc_sigmoid(_h(input)))


def tanh(input):
    return Tensor(_lib.cnnc_tanh(_h(input)))


def hardsigmoid(input, inplace=False):
    return _result(input, _lib.cnnc_hardsigmoid(_h(input), InplaceOptions(bool(inplace))),
                   inplace)


def hardswish(input, inplace=False):
    return _result(input, _lib.cnnc_hardswish(_h(input), InplaceOptions(bool(inplace))),
                   inplace)


def softplus(input, beta=1, threshold=20):
    return Tensor(_lib.cnnc_softplus(_h(input), SoftplusOptions(float(beta), float(threshold))))


def prelu(input, weight):
    return Tensor(_lib.cnnc_prelu(_h(input), _h(weight, "weight")))


# --- softmax ------------------------------------------------------------------------------

def softmax(input, dim=None, _stacklevel=3, dtype=None):
    _check_dtype(dtype)
    return Tensor(_lib.cnnc_softmax(_h(input), SoftmaxOptions(_optional_dim(dim))))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    _check_dtype(dtype)
    return Tensor(_lib.cnnc_log_softmax(_h(input), SoftmaxOptions(_optional_dim(dim))))


# --- dropout ------------------------------------------------------------------------------

def dropout(input, p=0.5, training=True, inplace=False):
    o = DropoutOptions(float(p), bool(training), bool(inplace))
    return _result(input, _lib.cnnc_dropout(_h(input), o), inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    o = DropoutOptions(float(p), bool(training), bool(inplace))
    return _result(input, _lib.cnnc_dropout2d(_h(input), o), inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    o = DropoutOptions(float(p), bool(training), bool(inplace))
    return _result(input, _lib.cnnc_dropout3d(_h(input), o), inplace)
