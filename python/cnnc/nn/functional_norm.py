"""cnnc.nn.functional: the norm family's functions (torch.nn.functional signatures)."""
import numbers
from ctypes import Structure, c_bool, c_double, c_int, c_int64, c_void_p

from .. import _lib
from ..tensor import Tensor

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm"]


class BatchNormOptions(Structure):  # cnnc_batch_norm_options
    _fields_ = [("training", c_bool), ("momentum", c_double), ("eps", c_double)]


class InstanceNormOptions(Structure):  # cnnc_instance_norm_options
    _fields_ = [("use_input_stats", c_bool), ("momentum", c_double), ("eps", c_double)]


class LayerNormOptions(Structure):  # cnnc_layer_norm_options
    _fields_ = [("eps", c_double)]


class GroupNormOptions(Structure):  # cnnc_group_norm_options
    _fields_ = [("eps", c_double)]


class LocalResponseNormOptions(Structure):  # cnnc_local_response_norm_options
    _fields_ = [("alpha", c_double), ("beta", c_double), ("k", c_double)]


class Ints(Structure):  # cnnc_ints
    _fields_ = [("n", c_int), ("v", c_int64 * _lib.MAX_DIMS)]


T = c_void_p
_lib.declare([
    ("cnnc_batch_norm", T, [T, T, T, T, T, BatchNormOptions], "ptr"),
    ("cnnc_instance_norm", T, [T, T, T, T, T, InstanceNormOptions], "ptr"),
    ("cnnc_layer_norm", T, [T, Ints, T, T, LayerNormOptions], "ptr"),
    ("cnnc_group_norm", T, [T, c_int64, T, T, GroupNormOptions], "ptr"),
    ("cnnc_local_response_norm", T, [T, c_int64, LocalResponseNormOptions], "ptr"),
])


def _h(t, name, optional=True):
    if t is None and optional:
        return None
    if not isinstance(t, Tensor):
        raise TypeError("%s must be a cnnc.Tensor%s, not %s"
                        % (name, " or None" if optional else "", type(t).__name__))
    return t._h


def ints(values):
    """A cnnc_ints from an int or a sequence of ints."""
    if isinstance(values, numbers.Integral):
        values = (values,)
    values = [int(v) for v in values]
    if len(values) > _lib.MAX_DIMS:
        raise ValueError("at most %d dims are supported, got %d" % (_lib.MAX_DIMS, len(values)))
    return Ints(len(values), (c_int64 * _lib.MAX_DIMS)(*values))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    return Tensor(_lib.cnnc_batch_norm(
        _h(input, "input", False), _h(running_mean, "running_mean"),
        _h(running_var, "running_var"), _h(weight, "weight"), _h(bias, "bias"),
        BatchNormOptions(bool(training), float(momentum), float(eps))))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    return Tensor(_lib.cnnc_instance_norm(
        _h(input, "input", False), _h(running_mean, "running_mean"),
        _h(running_var, "running_var"), _h(weight, "weight"), _h(bias, "bias"),
        InstanceNormOptions(bool(use_input_stats), float(momentum), float(eps))))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    return Tensor(_lib.cnnc_layer_norm(_h(input, "input", False), ints(normalized_shape),
                                       _h(weight, "weight"), _h(bias, "bias"),
                                       LayerNormOptions(float(eps))))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    return Tensor(_lib.cnnc_group_norm(_h(input, "input", False), int(num_groups),
                                       _h(weight, "weight"), _h(bias, "bias"),
                                       GroupNormOptions(float(eps))))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    return Tensor(_lib.cnnc_local_response_norm(
        _h(input, "input", False), int(size),
        LocalResponseNormOptions(float(alpha), float(beta), float(k))))
