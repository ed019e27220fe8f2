"""cnnc.nn.functional: the loss family's functions (torch.nn.functional signatures).

Argument mapping only: every check and message is the C library's. The deprecated
size_average / reduce arguments map to a reduction string as torch's
_Reduction.legacy_get_string does (its deprecation warning is not emitted).
"""
from ctypes import Structure, c_bool, c_char_p, c_double, c_int64, c_void_p

from .. import _lib
from ..tensor import Tensor
from .._args import tensor_arg


def _h(t, name, optional=False):
    return tensor_arg(t, "loss", name, optional)

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]


# --- C structs (exact layout of include/cnnc/loss.h) -------------------------------

class CrossEntropyOptions(Structure):  # cnnc_cross_entropy_options
    _c_types_ = ("cnnc_cross_entropy_options",)
    _fields_ = [("weight", c_void_p), ("ignore_index", c_int64), ("reduction", c_char_p),
                ("label_smoothing", c_double)]


class NllLossOptions(Structure):  # cnnc_nll_loss_options
    _c_types_ = ("cnnc_nll_loss_options",)
    _fields_ = [("weight", c_void_p), ("ignore_index", c_int64), ("reduction", c_char_p)]


class ReductionOptions(Structure):  # cnnc_mse_loss_options, cnnc_l1_loss_options
    _c_types_ = ("cnnc_mse_loss_options", "cnnc_l1_loss_options")
    _fields_ = [("reduction", c_char_p)]


class SmoothL1Options(Structure):  # cnnc_smooth_l1_loss_options
    _c_types_ = ("cnnc_smooth_l1_loss_options",)
    _fields_ = [("reduction", c_char_p), ("beta", c_double)]


class HuberOptions(Structure):  # cnnc_huber_loss_options
    _c_types_ = ("cnnc_huber_loss_options",)
    _fields_ = [("reduction", c_char_p), ("delta", c_double)]


class BceOptions(Structure):  # cnnc_binary_cross_entropy_options
    _c_types_ = ("cnnc_binary_cross_entropy_options",)
    _fields_ = [("weight", c_void_p), ("reduction", c_char_p)]


class BceWithLogitsOptions(Structure):  # cnnc_binary_cross_entropy_with_logits_options
    _c_types_ = ("cnnc_binary_cross_entropy_with_logits_options",)
    _fields_ = [("weight", c_void_p), ("reduction", c_char_p), ("pos_weight", c_void_p)]


class KlDivOptions(Structure):  # cnnc_kl_div_options
    _c_types_ = ("cnnc_kl_div_options",)
    _fields_ = [("reduction", c_char_p), ("log_target", c_bool)]


T = c_void_p
_lib.declare([
    ("cnnc_cross_entropy", T, [T, T, CrossEntropyOptions], "ptr"),
    ("cnnc_nll_loss", T, [T, T, NllLossOptions], "ptr"),
    ("cnnc_mse_loss", T, [T, T, ReductionOptions], "ptr"),
    ("cnnc_l1_loss", T, [T, T, ReductionOptions], "ptr"),
    ("cnnc_smooth_l1_loss", T, [T, T, SmoothL1Options], "ptr"),
    ("cnnc_huber_loss", T, [T, T, HuberOptions], "ptr"),
    ("cnnc_binary_cross_entropy", T, [T, T, BceOptions], "ptr"),
    ("cnnc_binary_cross_entropy_with_logits", T, [T, T, BceWithLogitsOptions], "ptr"),
    ("cnnc_kl_div", T, [T, T, KlDivOptions], "ptr"),
])


# --- argument mapping --------------------------------------------------------------

def legacy_reduction(size_average, reduce, reduction):
    """torch's _Reduction.legacy_get_string when either deprecated argument is given."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def reduction_arg(reduction):
    """The C string for a reduction (None stays NULL: the library names it None)."""
    return None if reduction is None else str(reduction).encode()


def _call(fn, input, target, options):
    return Tensor(fn(_h(input, "input"), _h(target, "target"), options))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    r = reduction_arg(legacy_reduction(size_average, reduce, reduction))
    return _call(_lib.cnnc_cross_entropy, input, target, CrossEntropyOptions(
        _h(weight, "weight", True), int(ignore_index), r, float(label_smoothing)))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    r = reduction_arg(legacy_reduction(size_average, reduce, reduction))
    return _call(_lib.cnnc_nll_loss, input, target,
                 NllLossOptions(_h(weight, "weight", True), int(ignore_index), r))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    r = reduction_arg(legacy_reduction(size_average, reduce, reduction))
    return _call(_lib.cnnc_mse_loss, input, target, ReductionOptions(r))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    r = reduction_arg(legacy_reduction(size_average, reduce, reduction))
    return _call(_lib.cnnc_l1_loss, input, target, ReductionOptions(r))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    r = reduction_arg(legacy_reduction(size_average, reduce, reduction))
    return _call(_lib.cnnc_smooth_l1_loss, input, target, SmoothL1Options(r, float(beta)))


def huber_loss(input, target, reduction="mean", delta=1.0):
    return _call(_lib.cnnc_huber_loss, input, target,
                 HuberOptions(reduction_arg(reduction), float(delta)))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    r = reduction_arg(legacy_reduction(size_average, reduce, reduction))
    return _call(_lib.cnnc_binary_cross_entropy, input, target,
                 BceOptions(_h(weight, "weight", True), r))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    r = reduction_arg(legacy_reduction(size_average, reduce, reduction))
    return _call(_lib.cnnc_binary_cross_entropy_with_logits, input, target, BceWithLogitsOptions(
        _h(weight, "weight", True), r, _h(pos_weight, "pos_weight", True)))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    r = reduction_arg(legacy_reduction(size_average, reduce, reduction))
    return _call(_lib.cnnc_kl_div, input, target, KlDivOptions(r, bool(log_target)))
