"""cnnc.nn.functional: the norm family's functions (torch.nn.functional signatures)."""
from ctypes import c_bool, c_double, c_int64, c_void_p

from .. import _args, _lib
from .._args import Ints
from ..tensor import Tensor

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm"]


class BatchNormOptions(_lib.CStruct):
    _c_types_ = ("cnnc_batch_norm_options",)
    _fields_ = [("training", c_bool), ("momentum", c_double), ("eps", c_double)]


class InstanceNormOptions(_lib.CStruct):
    _c_types_ = ("cnnc_instance_norm_options",)
    _fields_ = [("use_input_stats", c_bool), ("momentum", c_double), ("eps", c_double)]


class LayerNormOptions(_lib.CStruct):
    _c_types_ = ("cnnc_layer_norm_options",)
    _fields_ = [("eps", c_double)]


class GroupNormOptions(_lib.CStruct):
    _c_types_ = ("cnnc_group_norm_options",)
    _fields_ = [("eps", c_double)]


class LocalResponseNormOptions(_lib.CStruct):
    _c_types_ = ("cnnc_local_response_norm_options", "cnnc_localresponsenorm_options")
    _fields_ = [("alpha", c_double), ("beta", c_double), ("k", c_double)]


T = c_void_p
_lib.declare([
    ("cnnc_batch_norm", T, [T, T, T, T, T, BatchNormOptions], "ptr"),
    ("cnnc_instance_norm", T, [T, T, T, T, T, InstanceNormOptions], "ptr"),
    ("cnnc_layer_norm", T, [T, Ints, T, T, LayerNormOptions], "ptr"),
    ("cnnc_group_norm", T, [T, c_int64, T, T, GroupNormOptions], "ptr"),
    ("cnnc_local_response_norm", T, [T, c_int64, LocalResponseNormOptions], "ptr"),
])


def _tensors(fn, input, *optional):
    """input's handle, then the optional tensors' (name, tensor) pairs' handles."""
    return [_args.tensor_arg(input, fn, "input")] + [_args.tensor_arg(t, fn, name, optional=True)
                                                     for name, t in optional]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    o = BatchNormOptions(bool(training), _args.float_arg(momentum, "batch_norm", "momentum"),
                         _args.float_arg(eps, "batch_norm", "eps"))
    return Tensor(_lib.cnnc_batch_norm(*_tensors("batch_norm", input, ("running_mean", running_mean),
                                                 ("running_var", running_var), ("weight", weight),
                                                 ("bias", bias)), o))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    o = InstanceNormOptions(bool(use_input_stats),
                            _args.float_arg(momentum, "instance_norm", "momentum"),
                            _args.float_arg(eps, "instance_norm", "eps"))
    return Tensor(_lib.cnnc_instance_norm(*_tensors(
        "instance_norm", input, ("running_mean", running_mean), ("running_var", running_var),
        ("weight", weight), ("bias", bias)), o))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    h = _tensors("layer_norm", input, ("weight", weight), ("bias", bias))
    shape = _args.ints_arg(normalized_shape, "layer_norm", "normalized_shape", int_ok=False)
    return Tensor(_lib.cnnc_layer_norm(h[0], shape, h[1], h[2],
                                       LayerNormOptions(_args.float_arg(eps, "layer_norm", "eps"))))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    h = _tensors("group_norm", input, ("weight", weight), ("bias", bias))
    return Tensor(_lib.cnnc_group_norm(h[0], _args.int_arg(num_groups, "group_norm", "num_groups"),
                                       h[1], h[2],
                                       GroupNormOptions(_args.float_arg(eps, "group_norm", "eps"))))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    fn = "local_response_norm"
    return Tensor(_lib.cnnc_local_response_norm(
        _args.tensor_arg(input, fn, "input"), _args.int_arg(size, fn, "size"),
        LocalResponseNormOptions(*(_args.float_arg(v, fn, n) for v, n in
                                   ((alpha, "alpha"), (beta, "beta"), (k, "k"))))))
