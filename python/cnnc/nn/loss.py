"""cnnc.nn loss modules (torch.nn's constructor signatures). Argument mapping only:
attributes, buffers (weight, pos_weight), reprs and checks are the C library's.
Called as loss(input, target)."""
from ctypes import c_void_p

from .. import _lib
from ..tensor import Tensor
from .functional_loss import (BceOptions, BceWithLogitsOptions, CrossEntropyOptions,
                              KlDivOptions, NllLossOptions, ReductionOptions,
                              SmoothL1Options, HuberOptions, legacy_reduction, reduction_arg)
from .modules import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]

M = c_void_p
_lib.declare([
    ("cnnc_crossentropyloss_new", M, [CrossEntropyOptions], "ptr"),
    ("cnnc_nllloss_new", M, [NllLossOptions], "ptr"),
    ("cnnc_mseloss_new", M, [ReductionOptions], "ptr"),
    ("cnnc_l1loss_new", M, [ReductionOptions], "ptr"),
    ("cnnc_smoothl1loss_new", M, [SmoothL1Options], "ptr"),
    ("cnnc_huberloss_new", M, [HuberOptions], "ptr"),
    ("cnnc_bceloss_new", M, [BceOptions], "ptr"),
    ("cnnc_bcewithlogitsloss_new", M, [BceWithLogitsOptions], "ptr"),
    ("cnnc_kldivloss_new", M, [KlDivOptions], "ptr"),
])


def _buffer(t, name):
    """A tensor given for a buffer (torch's register_buffer rule)."""
    if t is not None and not isinstance(t, Tensor):
        raise TypeError("cannot assign '%s' object to buffer '%s' (cnnc.Tensor or None required)"
                        % (type(t).__name__, name))
    return t._h if t is not None else None


def _reduction(size_average, reduce, reduction):
    return reduction_arg(legacy_reduction(size_average, reduce, reduction))


class CrossEntropyLoss(Module):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction='mean', label_smoothing=0.0):
        super().__init__(_lib.cnnc_crossentropyloss_new(CrossEntropyOptions(
            _buffer(weight, "weight"), int(ignore_index),
            _reduction(size_average, reduce, reduction), float(label_smoothing))))


class NLLLoss(Module):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction='mean'):
        super().__init__(_lib.cnnc_nllloss_new(NllLossOptions(
            _buffer(weight, "weight"), int(ignore_index),
            _reduction(size_average, reduce, reduction))))


class MSELoss(Module):
    def __init__(self, size_average=None, reduce=None, reduction='mean'):
        super().__init__(_lib.cnnc_mseloss_new(
            ReductionOptions(_reduction(size_average, reduce, reduction))))


class L1Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction='mean'):
        super().__init__(_lib.cnnc_l1loss_new(
            ReductionOptions(_reduction(size_average, reduce, reduction))))


class SmoothL1Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction='mean', beta=1.0):
        super().__init__(_lib.cnnc_smoothl1loss_new(
            SmoothL1Options(_reduction(size_average, reduce, reduction), float(beta))))


class HuberLoss(Module):
    def __init__(self, reduction='mean', delta=1.0):
        super().__init__(_lib.cnnc_huberloss_new(
            HuberOptions(reduction_arg(reduction), float(delta))))


class BCELoss(Module):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction='mean'):
        super().__init__(_lib.cnnc_bceloss_new(BceOptions(
            _buffer(weight, "weight"), _reduction(size_average, reduce, reduction))))


class BCEWithLogitsLoss(Module):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction='mean',
                 pos_weight=None):
        super().__init__(_lib.cnnc_bcewithlogitsloss_new(BceWithLogitsOptions(
            _buffer(weight, "weight"), _reduction(size_average, reduce, reduction),
            _buffer(pos_weight, "pos_weight"))))


class KLDivLoss(Module):
    def __init__(self, size_average=None, reduce=None, reduction='mean', log_target=False):
        super().__init__(_lib.cnnc_kldivloss_new(
            KlDivOptions(_reduction(size_average, reduce, reduction), bool(log_target))))
