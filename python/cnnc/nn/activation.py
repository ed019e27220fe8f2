"""cnnc.nn activation modules (torch.nn's constructor signatures). ReLU lives in
modules.py. Argument mapping only; settings, reprs and checks are the C library's."""
import warnings

from .. import _lib
from .functional_activation import (AlphaOptions, GeluOptions, HardtanhOptions,
                                    InplaceOptions, LeakyReluOptions, PreluOptions,
                                    SoftmaxOptions, SoftplusOptions, _optional_dim)
from .modules import Module, _factory_kwargs

__all__ = ["ReLU6", "Hardtanh", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Sigmoid", "Tanh", "Hardsigmoid", "Hardswish", "Softplus", "PReLU", "Softmax",
           "LogSoftmax"]


class ReLU6(Module):
    def __init__(self, inplace=False):
        super().__init__(_lib.cnnc_relu6_new(InplaceOptions(bool(inplace))))


class Hardtanh(Module):
    def __init__(self, min_val=-1., max_val=1., inplace=False, min_value=None, max_value=None):
        if min_value is not None:
            warnings.warn("keyword argument min_value is deprecated and rename to min_val")
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument max_value is deprecated and rename to max_val")
            max_val = max_value
        super().__init__(_lib.cnnc_hardtanh_new(
            HardtanhOptions(float(min_val), float(max_val), bool(inplace))))


class LeakyReLU(Module):
    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__(_lib.cnnc_leakyrelu_new(
            LeakyReluOptions(float(negative_slope), bool(inplace))))


class ELU(Module):
    def __init__(self, alpha=1., inplace=False):
        super().__init__(_lib.cnnc_elu_new(AlphaOptions(float(alpha), bool(inplace))))


class SELU(Module):
    def __init__(self, inplace=False):
        super().__init__(_lib.cnnc_selu_new(InplaceOptions(bool(inplace))))


class CELU(Module):
    def __init__(self, alpha=1., inplace=False):
        super().__init__(_lib.cnnc_celu_new(AlphaOptions(float(alpha), bool(inplace))))


class GELU(Module):
    def __init__(self, approximate='none'):
        if not isinstance(approximate, str):
            raise TypeError("GELU(): argument 'approximate' must be str, not %s"
                            % type(approximate).__name__)
        super().__init__(_lib.cnnc_gelu_new(GeluOptions(approximate.encode())))


class SiLU(Module):
    def __init__(self, inplace=False):
        super().__init__(_lib.cnnc_silu_new(InplaceOptions(bool(inplace))))


class Mish(Module):
    def __init__(self, inplace=False):
        super().__init__(_lib.cnnc_mish_new(InplaceOptions(bool(inplace))))


class Sigmoid(Module):
    def __init__(self):
        super().__init__(_lib.cnnc_sigmoid_new())


class Tanh(Module):
    def __init__(self):
        super().__init__(_lib.cnnc_tanh_new())


class Hardsigmoid(Module):
    def __init__(self, inplace=False):
        super().__init__(_lib.cnnc_hardsigmoid_new(InplaceOptions(bool(inplace))))


class Hardswish(Module):
    def __init__(self, inplace=False):
        super().__init__(_lib.cnnc_hardswish_new(InplaceOptions(bool(inplace))))


class Softplus(Module):
    def __init__(self, beta=1, threshold=20):
        super().__init__(_lib.cnnc_softplus_new(SoftplusOptions(float(beta), float(threshold))))


class PReLU(Module):
    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        _factory_kwargs(device, dtype)
        super().__init__(_lib.cnnc_prelu_new(PreluOptions(int(num_parameters), float(init))))


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__(_lib.cnnc_softmax_new(SoftmaxOptions(_optional_dim(dim))))


class LogSoftmax(Module):
    def __init__(self, dim=None):
        super().__init__(_lib.cnnc_logsoftmax_new(SoftmaxOptions(_optional_dim(dim))))
