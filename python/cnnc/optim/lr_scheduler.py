"""cnnc.optim.lr_scheduler: torch.optim.lr_scheduler's schedulers (PyTorch 1.13's
behaviour) over the C library; the classes map torch's arguments only.

    sched = cnnc.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(90):
        train(...); sched.step()
    sched.get_last_lr()
"""
import ctypes
import numbers
from collections import Counter
from ctypes import POINTER, c_bool, c_char_p, c_double, c_int64, c_size_t, c_void_p

from .. import _lib
from . import _c
from ._c import (LR_LAMBDA, CosineAnnealingLROptions, EpochOptions, GroupValues, LinearLROptions,
                 OneCycleLROptions, ReduceLROnPlateauOptions, StepLROptions)
from .optimizer import Optimizer

__all__ = ["LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LinearLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR"]

O = S = c_void_p
ST = ctypes.c_int
L = c_void_p
_lib.declare([
    ("cnnc_steplr_new", S, [O, c_int64, StepLROptions], "ptr"),
    ("cnnc_multisteplr_new", S, [O, c_size_t, POINTER(c_int64), StepLROptions], "ptr"),
    ("cnnc_exponentiallr_new", S, [O, c_double, EpochOptions], "ptr"),
    ("cnnc_cosineannealinglr_new", S, [O, c_int64, CosineAnnealingLROptions], "ptr"),
    ("cnnc_linearlr_new", S, [O, LinearLROptions], "ptr"),
    ("cnnc_onecyclelr_new", S, [O, GroupValues, OneCycleLROptions], "ptr"),
    ("cnnc_reducelronplateau_new", S, [O, ReduceLROnPlateauOptions], "ptr"),
    ("cnnc_lambdalr_new", S, [O, LR_LAMBDA, c_void_p, EpochOptions], "ptr"),
    ("cnnc_lambdalr_new_per_group", S, [O, c_size_t, POINTER(LR_LAMBDA), POINTER(c_void_p),
                                        EpochOptions], "ptr"),
    ("cnnc_sequentiallr_new", S, [O, c_size_t, POINTER(c_void_p), c_size_t, POINTER(c_int64),
                                  EpochOptions], "ptr"),
    ("cnnc_lr_scheduler_retain", S, [S], None),
    ("cnnc_lr_scheduler_release", None, [S], None),
    ("cnnc_lr_scheduler_type", c_char_p, [S], "ptr"),
    ("cnnc_lr_scheduler_optimizer", O, [S], "ptr"),
    ("cnnc_lr_scheduler_step", ST, [S], "status"),
    ("cnnc_lr_scheduler_step_epoch", ST, [S, c_int64], "status"),
    ("cnnc_lr_scheduler_step_metric", ST, [S, c_double], "status"),
    ("cnnc_lr_scheduler_get_last_lr", c_size_t, [S, POINTER(c_double), c_size_t], None),
    ("cnnc_lr_scheduler_last_epoch", c_int64, [S], None),
    ("cnnc_lr_scheduler_set_last_epoch", ST, [S, c_int64], "status"),
    ("cnnc_lr_scheduler_state_dict", L, [S], "ptr"),
    ("cnnc_lr_scheduler_load_state_dict", ST, [S, L], "status"),
])


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError("{} is not an Optimizer".format(type(optimizer).__name__))


def _group_values(v):
    """float | list[float] as a cnnc_group_values (ctypes keeps the array alive with
    the pointer, and with any struct the result is copied into)."""
    if isinstance(v, (list, tuple)):
        arr = (c_double * max(len(v), 1))(*[float(x) for x in v])
        return _c.GroupValues(value=0.0, n=len(v), values=ctypes.cast(arr, POINTER(c_double)))
    return _c.GroupValues(value=float(v), n=0, values=None)


class _LRScheduler:
    """A cnnc_lr_scheduler owned by Python (released in __del__)."""

    def _attach(self, optimizer, handle):
        self.optimizer = optimizer
        self._h = handle

    def __del__(self, _release=_lib.cnnc_lr_scheduler_release):
        h = self.__dict__.get("_h")
        if h:
            self._h = None
            try:
                _release(h)
            except Exception:  # interpreter shutdown
                pass

    def _call(self, fn, *args):
        """A C call that may run Python callbacks (LambdaLR): their exception wins."""
        self._error = None
        try:
            return fn(*args)
        except _lib.Error:
            if self.__dict__.get("_error") is not None:
                err, self._error = self._error, None
                raise err
            raise

    def step(self, epoch=None):
        if epoch is None:
            self._call(_lib.cnnc_lr_scheduler_step, self._h)
        else:
            self._call(_lib.cnnc_lr_scheduler_step_epoch, self._h, int(epoch))

    def get_last_lr(self):
        n = _lib.cnnc_lr_scheduler_get_last_lr(self._h, None, 0)
        if n == 0:
            _lib.raise_last()
        out = (c_double * n)()
        _lib.cnnc_lr_scheduler_get_last_lr(self._h, out, n)
        return list(out)

    @property
    def last_epoch(self):
        return int(_lib.cnnc_lr_scheduler_last_epoch(self._h))

    @last_epoch.setter
    def last_epoch(self, value):
        _lib.cnnc_lr_scheduler_set_last_epoch(self._h, int(value))

    @property
    def base_lrs(self):
        return self.state_dict()["base_lrs"]

    def state_dict(self):
        lst = _lib.cnnc_lr_scheduler_state_dict(self._h)
        try:
            sd = _c.unflatten([(k, _c.parse_literal(v)) for k, v in _c.list_meta(lst)])
        finally:
            _lib.cnnc_tensor_list_free(lst)
        return _to_torch_layout(sd)

    def load_state_dict(self, state_dict):
        lst = _lib.cnnc_tensor_list_new()
        try:
            for k, v in _c.flatten(_from_torch_layout(dict(state_dict))):
                _lib.cnnc_tensor_list_set_meta(lst, k.encode(), _c.literal(v).encode())
            _lib.cnnc_lr_scheduler_load_state_dict(self._h, lst)
        finally:
            _lib.cnnc_tensor_list_free(lst)


def _to_torch_layout(sd):
    if isinstance(sd.get("milestones"), dict):
        sd["milestones"] = Counter(sd["milestones"])
    for sub in sd.get("_schedulers", []):
        _to_torch_layout(sub)
    return sd


def _from_torch_layout(sd):
    """torch's OneCycleLR keeps its anneal function (a bound method) in the state."""
    fn = sd.pop("anneal_func", None)
    if fn is not None and "anneal_strategy" not in sd:
        sd["anneal_strategy"] = "linear" if "linear" in getattr(fn, "__name__", "") else "cos"
    if "_schedulers" in sd:
        sd["_schedulers"] = [_from_torch_layout(dict(s)) for s in sd["_schedulers"]]
    return sd


class LambdaLR(_LRScheduler):
    def __init__(self, optimizer, lr_lambda, last_epoch=-1, verbose=False):
        _check_optimizer(optimizer)
        self._error = None
        per_group = isinstance(lr_lambda, (list, tuple))
        fns = list(lr_lambda) if per_group else [lr_lambda]
        self._callbacks = [_c.LR_LAMBDA(self._trampoline(f)) for f in fns]
        opts = _c.EpochOptions(last_epoch=int(last_epoch), verbose=bool(verbose))
        self._h = None
        if per_group:
            arr = (_c.LR_LAMBDA * max(len(fns), 1))(*self._callbacks)
            h = self._call(_lib.cnnc_lambdalr_new_per_group, optimizer._h, len(fns), arr, None,
                           opts)
        else:
            h = self._call(_lib.cnnc_lambdalr_new, optimizer._h, self._callbacks[0], None, opts)
        self._attach(optimizer, h)

    def _trampoline(self, fn):
        def call(ctx, epoch, out):
            try:
                out[0] = float(fn(int(epoch)))
                return _lib.OK
            except BaseException as e:  # re-raised by _call once the C call returns
                self._error = e
                return _lib.ERR_RUNTIME
        return call


class StepLR(_LRScheduler):
    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1, verbose=False):
        _check_optimizer(optimizer)
        self._attach(optimizer, _lib.cnnc_steplr_new(optimizer._h, int(step_size), _c.StepLROptions(
            gamma=float(gamma), last_epoch=int(last_epoch), verbose=bool(verbose))))


class MultiStepLR(_LRScheduler):
    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1, verbose=False):
        _check_optimizer(optimizer)
        ms = [int(m) for m in milestones]
        arr = (c_int64 * max(len(ms), 1))(*ms)
        self._attach(optimizer, _lib.cnnc_multisteplr_new(optimizer._h, len(ms), arr,
                                                          _c.StepLROptions(
            gamma=float(gamma), last_epoch=int(last_epoch), verbose=bool(verbose))))


class ExponentialLR(_LRScheduler):
    def __init__(self, optimizer, gamma, last_epoch=-1, verbose=False):
        _check_optimizer(optimizer)
        self._attach(optimizer, _lib.cnnc_exponentiallr_new(optimizer._h, float(gamma),
                                                            _c.EpochOptions(
            last_epoch=int(last_epoch), verbose=bool(verbose))))


class CosineAnnealingLR(_LRScheduler):
    def __init__(self, optimizer, T_max, eta_min=0, last_epoch=-1, verbose=False):
        _check_optimizer(optimizer)
        self._attach(optimizer, _lib.cnnc_cosineannealinglr_new(
            optimizer._h, int(T_max), _c.CosineAnnealingLROptions(
                eta_min=float(eta_min), last_epoch=int(last_epoch), verbose=bool(verbose))))


class LinearLR(_LRScheduler):
    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1, verbose=False):
        _check_optimizer(optimizer)
        self._attach(optimizer, _lib.cnnc_linearlr_new(optimizer._h, _c.LinearLROptions(
            start_factor=float(start_factor), end_factor=float(end_factor),
            total_iters=int(total_iters), last_epoch=int(last_epoch), verbose=bool(verbose))))


def _optional_int(v, name):
    if v is None:
        return _c.OptionalInt(has_value=False, value=0)
    if not isinstance(v, numbers.Integral) or isinstance(v, bool):  # torch: isinstance(v, int)
        raise _lib.Error("Expected positive integer {}, but got {}".format(name, v))
    return _c.OptionalInt(has_value=True, value=int(v))


class OneCycleLR(_LRScheduler):
    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy='cos', cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25., final_div_factor=1e4, three_phase=False,
                 last_epoch=-1, verbose=False):
        _check_optimizer(optimizer)
        if not isinstance(pct_start, float):  # torch: `not isinstance(pct_start, float)`
            raise _lib.Error("Expected float between 0 and 1 pct_start, but got {}"
                             .format(pct_start))
        opts = _c.OneCycleLROptions(
            total_steps=_optional_int(total_steps, "total_steps"),
            epochs=_optional_int(epochs, "epochs"),
            steps_per_epoch=_optional_int(steps_per_epoch, "steps_per_epoch"),
            pct_start=pct_start, anneal_strategy=str(anneal_strategy).encode(),
            cycle_momentum=bool(cycle_momentum), base_momentum=_group_values(base_momentum),
            max_momentum=_group_values(max_momentum), div_factor=float(div_factor),
            final_div_factor=float(final_div_factor), three_phase=bool(three_phase),
            last_epoch=int(last_epoch), verbose=bool(verbose))
        self._attach(optimizer, _lib.cnnc_onecyclelr_new(optimizer._h, _group_values(max_lr),
                                                         opts))


class ReduceLROnPlateau(_LRScheduler):
    def __init__(self, optimizer, mode='min', factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8, verbose=False):
        _check_optimizer(optimizer)
        min_lrs = _group_values(min_lr)
        self._attach(optimizer, _lib.cnnc_reducelronplateau_new(
            optimizer._h, _c.ReduceLROnPlateauOptions(
                mode=str(mode).encode(), factor=float(factor), patience=int(patience),
                threshold=float(threshold), threshold_mode=str(threshold_mode).encode(),
                cooldown=int(cooldown), min_lr=min_lrs, eps=float(eps), verbose=bool(verbose))))

    def step(self, metrics, epoch=None):
        if epoch is not None:
            self.last_epoch = int(epoch) - 1
        current = metrics.item() if hasattr(metrics, "item") else float(metrics)
        _lib.cnnc_lr_scheduler_step_metric(self._h, current)


class SequentialLR(_LRScheduler):
    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1, verbose=False):
        _check_optimizer(optimizer)
        scheds = list(schedulers)
        for s in scheds:
            if not isinstance(s, _LRScheduler):
                raise TypeError("SequentialLR expects cnnc schedulers, got %s" % type(s).__name__)
        ms = [int(m) for m in milestones]
        sarr = (c_void_p * max(len(scheds), 1))(*[s._h for s in scheds])
        marr = (c_int64 * max(len(ms), 1))(*ms)
        self._schedulers = scheds
        self._attach(optimizer, self._call(
            _lib.cnnc_sequentiallr_new, optimizer._h, len(scheds), sarr, len(ms), marr,
            _c.EpochOptions(last_epoch=int(last_epoch), verbose=bool(verbose))))

    def step(self):
        self._error = None
        try:
            _lib.cnnc_lr_scheduler_step(self._h)
        except _lib.Error:
            for s in self._schedulers:  # a LambdaLR callback's exception
                if s.__dict__.get("_error") is not None:
                    err, s._error = s._error, None
                    raise err
            raise

