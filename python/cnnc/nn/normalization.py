"""cnnc.nn normalization modules (torch.nn's constructor signatures)."""
from ctypes import Structure, c_bool, c_double, c_int64, c_void_p

from .. import _lib
from .functional_norm import Ints, LocalResponseNormOptions, ints
from .modules import Module, _factory_kwargs

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "GroupNorm", "LocalResponseNorm"]


class OptionalDouble(Structure):  # cnnc_optional_double
    _fields_ = [("has_value", c_bool), ("value", c_double)]


class BatchNormModuleOptions(Structure):  # cnnc_batchnorm_options (= cnnc_instancenorm_options)
    _fields_ = [("eps", c_double), ("momentum", OptionalDouble), ("affine", c_bool),
                ("track_running_stats", c_bool)]


class LayerNormModuleOptions(Structure):  # cnnc_layernorm_options
    _fields_ = [("eps", c_double), ("elementwise_affine", c_bool)]


class GroupNormModuleOptions(Structure):  # cnnc_groupnorm_options
    _fields_ = [("eps", c_double), ("affine", c_bool)]


M = c_void_p
_lib.declare([
    ("cnnc_batchnorm1d_new", M, [c_int64, BatchNormModuleOptions], "ptr"),
    ("cnnc_batchnorm2d_new", M, [c_int64, BatchNormModuleOptions], "ptr"),
    ("cnnc_batchnorm3d_new", M, [c_int64, BatchNormModuleOptions], "ptr"),
    ("cnnc_instancenorm1d_new", M, [c_int64, BatchNormModuleOptions], "ptr"),
    ("cnnc_instancenorm2d_new", M, [c_int64, BatchNormModuleOptions], "ptr"),
    ("cnnc_instancenorm3d_new", M, [c_int64, BatchNormModuleOptions], "ptr"),
    ("cnnc_layernorm_new", M, [Ints, LayerNormModuleOptions], "ptr"),
    ("cnnc_groupnorm_new", M, [c_int64, c_int64, GroupNormModuleOptions], "ptr"),
    ("cnnc_localresponsenorm_new", M, [c_int64, LocalResponseNormOptions], "ptr"),
])


def _options(eps, momentum, affine, track_running_stats):
    mom = OptionalDouble(False, 0.0) if momentum is None else OptionalDouble(True, float(momentum))
    return BatchNormModuleOptions(float(eps), mom, bool(affine), bool(track_running_stats))


class _NormBase(Module):
    _new = None

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        _factory_kwargs(device, dtype)
        super().__init__(type(self)._new(int(num_features),
                                         _options(eps, momentum, affine, track_running_stats)))


class BatchNorm1d(_NormBase):
    _new = _lib.cnnc_batchnorm1d_new


class BatchNorm2d(_NormBase):
    _new = _lib.cnnc_batchnorm2d_new


class BatchNorm3d(_NormBase):
    _new = _lib.cnnc_batchnorm3d_new


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)


class InstanceNorm1d(_InstanceNorm):
    _new = _lib.cnnc_instancenorm1d_new


class InstanceNorm2d(_InstanceNorm):
    _new = _lib.cnnc_instancenorm2d_new


class InstanceNorm3d(_InstanceNorm):
    _new = _lib.cnnc_instancenorm3d_new


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-05, elementwise_affine=True, device=None,
                 dtype=None):
        _factory_kwargs(device, dtype)
        super().__init__(_lib.cnnc_layernorm_new(
            ints(normalized_shape), LayerNormModuleOptions(float(eps), bool(elementwise_affine))))


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-05, affine=True, device=None, dtype=None):
        _factory_kwargs(device, dtype)
        super().__init__(_lib.cnnc_groupnorm_new(int(num_groups), int(num_channels),
                                                 GroupNormModuleOptions(float(eps), bool(affine))))


class LocalResponseNorm(Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__(_lib.cnnc_localresponsenorm_new(
            int(size), LocalResponseNormOptions(float(alpha), float(beta), float(k))))
