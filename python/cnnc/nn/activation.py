"""cnnc.nn activation modules (torch.nn's constructor signatures). ReLU lives in
modules.py. Argument mapping only; settings, reprs and checks are the C library's."""
import warnings

from .. import _args, _lib
from .functional_activation import (AlphaOptions, GeluOptions, HardtanhOptions,
                                    InplaceOptions, LeakyReluOptions, PreluOptions,
                                    SoftmaxOptions, SoftplusOptions, optional_dim)
from .modules import Module, _factory_kwargs

__all__ = ["ReLU6", "Hardtanh", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Sigmoid", "Tanh", "Hardsigmoid", "Hardswish", "Softplus", "PReLU", "Softmax",
           "LogSoftmax"]


def _f(v, cls, name):
    return _args.float_arg(v, cls.__name__, name)


class _InplaceModule(Module):
    _new = None

    def __init__(self, inplace=False):
        super().__init__(type(self)._new(InplaceOptions(bool(inplace))))


class ReLU6(_InplaceModule):
    _new = _lib.cnnc_relu6_new


class Hardtanh(Module):
    def __init__(self, min_val=-1., max_val=1., inplace=False, min_value=None, max_value=None):
        if min_value is not None:
            warnings.warn("keyword argument min_value is deprecated and rename to min_val")
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument max_value is deprecated and rename to max_val")
            max_val = max_value
        super().__init__(_lib.cnnc_hardtanh_new(HardtanhOptions(
            _f(min_val, Hardtanh, "min_val"), _f(max_val, Hardtanh, "max_val"), bool(inplace))))


class LeakyReLU(Module):
    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__(_lib.cnnc_leakyrelu_new(
            LeakyReluOptions(_f(negative_slope, LeakyReLU, "negative_slope"), bool(inplace))))


class _AlphaModule(Module):
    _new = None

    def __init__(self, alpha=1., inplace=False):
        super().__init__(type(self)._new(AlphaOptions(_f(alpha, type(self), "alpha"), bool(inplace))))


class ELU(_AlphaModule):
    _new = _lib.cnnc_elu_new


class SELU(_InplaceModule):
    _new = _lib.cnnc_selu_new


class CELU(_AlphaModule):
    _new = _lib.cnnc_celu_new


class GELU(Module):
    def __init__(self, approximate='none'):
        super().__init__(_lib.cnnc_gelu_new(
            GeluOptions(_args.string_arg(approximate, "GELU", "approximate"))))


class SiLU(_InplaceModule):
    _new = _lib.cnnc_silu_new


class Mish(_InplaceModule):
    _new = _lib.cnnc_mish_new


class Sigmoid(Module):
    def __init__(self):
        super().__init__(_lib.cnnc_sigmoid_new())


class Tanh(Module):
    def __init__(self):
        super().__init__(_lib.cnnc_tanh_new())


class Hardsigmoid(_InplaceModule):
    _new = _lib.cnnc_hardsigmoid_new


class Hardswish(_InplaceModule):
    _new = _lib.cnnc_hardswish_new


class Softplus(Module):
    def __init__(self, beta=1, threshold=20):
        super().__init__(_lib.cnnc_softplus_new(SoftplusOptions(
            _f(beta, Softplus, "beta"), _f(threshold, Softplus, "threshold"))))


class PReLU(Module):
    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        _factory_kwargs(device, dtype)
        super().__init__(_lib.cnnc_prelu_new(PreluOptions(
            _args.int_arg(num_parameters, "PReLU", "num_parameters", python=True),
            _f(init, PReLU, "init"))))


class _SoftmaxModule(Module):
    _new = None

    def __init__(self, dim=None):
        super().__init__(type(self)._new(SoftmaxOptions(optional_dim(dim, type(self).__name__))))


class Softmax(_SoftmaxModule):
    _new = _lib.cnnc_softmax_new


class LogSoftmax(_SoftmaxModule):
    _new = _lib.cnnc_logsoftmax_new
