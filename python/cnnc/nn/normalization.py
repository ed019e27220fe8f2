"""cnnc.nn normalization modules (torch.nn's constructor signatures)."""
from ctypes import c_bool, c_double, c_int64, c_void_p

from .. import _args, _lib
from .._args import Ints, OptionalDouble
from .functional_norm import LocalResponseNormOptions
from .modules import Module, _factory_kwargs

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "GroupNorm", "LocalResponseNorm"]


class BatchNormModuleOptions(_lib.CStruct):
    _c_types_ = ("cnnc_batchnorm_options", "cnnc_instancenorm_options")
    _fields_ = [("eps", c_double), ("momentum", OptionalDouble), ("affine", c_bool),
                ("track_running_stats", c_bool)]


class LayerNormModuleOptions(_lib.CStruct):
    _c_types_ = ("cnnc_layernorm_options",)
    _fields_ = [("eps", c_double), ("elementwise_affine", c_bool)]


class GroupNormModuleOptions(_lib.CStruct):
    _c_types_ = ("cnnc_groupnorm_options",)
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


class _NormBase(Module):
    _new = None

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        _factory_kwargs(device, dtype)
        name = type(self).__name__
        o = BatchNormModuleOptions(_args.float_arg(eps, name, "eps"),
                                   _args.optional_float(momentum, name, "momentum"), bool(affine),
                                   bool(track_running_stats))
        super().__init__(type(self)._new(
            _args.int_arg(num_features, name, "num_features", python=True), o))


class BatchNorm1d(_NormBase):
    _new = _lib.cnnc_batchnorm1d_new


class BatchNorm2d(_NormBase):
    _new = _lib.cnnc_batchnorm2d_new


class BatchNorm3d(_NormBase):
    _new = _lib.cnnc_batchnorm3d_new


_lib.declare([("cnnc_dist_available", c_bool, [], None)])
if _lib.cnnc_dist_available():
    _lib.declare([("cnnc_syncbatchnorm_new", M, [c_int64, BatchNormModuleOptions], "ptr"),
                  ("cnnc_convert_sync_batchnorm", M, [M], "ptr")])


class SyncBatchNorm(_NormBase):
    """nn.SyncBatchNorm: training statistics over every rank's samples (MPI builds)."""

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        if not _lib.cnnc_dist_available():
            raise RuntimeError("cnnc was built without MPI: SyncBatchNorm is not available")
        if process_group is not None:
            raise ValueError("cnnc's SyncBatchNorm synchronises over the whole world "
                             "(process_group must be None)")
        type(self)._new = _lib.cnnc_syncbatchnorm_new
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Every BatchNorm*d in module becomes a SyncBatchNorm (in place: the module
        objects keep their identity); returns module (re-wrapped in its class)."""
        if not _lib.cnnc_dist_available():
            raise RuntimeError("cnnc was built without MPI: SyncBatchNorm is not available")
        if process_group is not None:
            raise ValueError("process_group must be None in cnnc")
        from .modules import _wrap_module
        return _wrap_module(_lib.cnnc_convert_sync_batchnorm(module._h))


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
            _args.ints_arg(normalized_shape, "LayerNorm", "normalized_shape", python=True),
            LayerNormModuleOptions(_args.float_arg(eps, "LayerNorm", "eps"),
                                   bool(elementwise_affine))))


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-05, affine=True, device=None, dtype=None):
        _factory_kwargs(device, dtype)
        super().__init__(_lib.cnnc_groupnorm_new(
            _args.int_arg(num_groups, "GroupNorm", "num_groups", python=True),
            _args.int_arg(num_channels, "GroupNorm", "num_channels", python=True),
            GroupNormModuleOptions(_args.float_arg(eps, "GroupNorm", "eps"), bool(affine))))


class LocalResponseNorm(Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        fn = "LocalResponseNorm"
        super().__init__(_lib.cnnc_localresponsenorm_new(
            _args.int_arg(size, fn, "size", python=True),
            LocalResponseNormOptions(*(_args.float_arg(v, fn, n) for v, n in
                                       ((alpha, "alpha"), (beta, "beta"), (k, "k"))))))
