"""F.binary_cross_entropy / F.binary_cross_entropy_with_logits and nn.BCELoss /
nn.BCEWithLogitsLoss against PyTorch 1.13: weight and pos_weight (broadcast),
reductions, probabilities at 0 and 1 (the -100 clamp), extreme logits, gradients
of input and target, errors."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as nn
import cnnc.nn.functional as F
from helpers import check_error, rand, randn, rng, seeds
from loss_common import both, check_loss

REDUCTIONS = ["mean", "sum", "none"]


def random_shape(r):
    return tuple(int(v) for v in r.randint(1, 5, size=r.randint(0, 5)))


def weight_shape(r, shape):
    """None, or a shape that broadcasts into `shape` without growing it."""
    if r.rand() < 0.35:
        return None
    keep = r.randint(0, len(shape) + 1)
    return tuple(1 if r.rand() < 0.3 else v for v in shape[len(shape) - keep:])


def bce(reduction, **kw):
    return (lambda x, y, w: F.binary_cross_entropy(x, y, weight=w, reduction=reduction, **kw),
            lambda x, y, w: TF.binary_cross_entropy(x, y, weight=w, reduction=reduction, **kw))


def bcel(reduction):
    return (lambda x, y, w, p: F.binary_cross_entropy_with_logits(
                x, y, weight=w, pos_weight=p, reduction=reduction),
            lambda x, y, w, p: TF.binary_cross_entropy_with_logits(
                x, y, weight=w, pos_weight=p, reduction=reduction))


def maybe(r, shape, lo, hi):
    return None if shape is None else rand(r, lo, hi, *shape)


# --- binary_cross_entropy ------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@seeds(10)
def test_bce_random(reduction, seed):
    r = rng(seed * 3 + 1)
    shape = random_shape(r)
    x = rand(r, 0.001, 0.999, *shape)
    y = rand(r, 0.0, 1.0, *shape) if r.rand() < 0.5 else r.randint(0, 2, size=shape).astype(np.float32)
    w = maybe(r, weight_shape(r, shape), 0.0, 2.0)
    res = check_loss("binary_cross_entropy", *bce(reduction), [x, y, w],
                     [True, bool(r.randint(2)), False])
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_probabilities_at_zero_and_one(reduction):
    """log clamped to -100; gradients through max((1 - x) x, 1e-12); the target's
    gradient is -logit(x), infinite at 0 and 1."""
    x = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 1e-30, 1 - 2 ** -24, 1e-7, 0.0], np.float32)
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 0.3, 0.9, 1.0, 0.25], np.float32)
    check_loss("binary_cross_entropy", *bce(reduction), [x, y, None], [True, False, False])
    check_loss("binary_cross_entropy", *bce(reduction), [x, y, None], [True, True, False])
    w = rand(rng(1), 0, 2, 9)
    check_loss("binary_cross_entropy", *bce(reduction), [x, y, w], [True, True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_targets_outside_zero_one_and_empty(reduction):
    """PyTorch 1.13 does not check the target's range."""
    r = rng(2)
    check_loss("binary_cross_entropy", *bce(reduction),
               [rand(r, 0.1, 0.9, 3, 2), rand(r, -2, 3, 3, 2), None], True)
    check_loss("binary_cross_entropy", *bce(reduction),
               [np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), None], True)


def test_bce_errors():
    fc, ft = F.binary_cross_entropy, TF.binary_cross_entropy
    x = np.full((3, 4), 0.5, np.float32)
    cases = [((x, x[0]), {}), ((x, x), {"reduction": "foo"}), ((x, x), {"reduction": None}),
             ((x * 3, x), {}), ((x - 1, x), {}), ((np.full((3, 4), np.nan, np.float32), x), {}),
             ((x, x.astype(np.int64)), {}), ((x, x), {"weight": np.ones(5, np.float32)}),
             ((x, x), {"weight": np.ones((2, 3, 4), np.float32)}),
             ((x, x), {"weight": np.ones((2, 1, 1), np.float32)})]
    for args, kw in cases:
        cm, tm = check_error(*both(fc, ft, *args, **kw))
        assert cm == tm, (cm, tm)
    cm, tm = check_error(
        lambda: fc(cnnc.tensor(x), cnnc.tensor(x), weight=cnnc.ones(4, requires_grad=True)),
        lambda: ft(torch.tensor(x), torch.tensor(x), weight=torch.ones(4, requires_grad=True)))
    assert cm == tm


# --- binary_cross_entropy_with_logits -----------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@seeds(10)
def test_bce_with_logits_random(reduction, seed):
    r = rng(seed * 3 + 2)
    shape = random_shape(r)
    x = randn(r, *shape) * float(r.uniform(0.5, 6.0))
    y = rand(r, 0.0, 1.0, *shape) if r.rand() < 0.5 else r.randint(0, 2, size=shape).astype(np.float32)
    w = maybe(r, weight_shape(r, shape), 0.0, 2.0)
    pw = maybe(r, weight_shape(r, shape), 0.1, 4.0)
    res = check_loss("binary_cross_entropy_with_logits", *bcel(reduction), [x, y, w, pw],
                     [True, bool(r.randint(2)), False, False])
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, 3.0])
def test_bce_with_logits_extreme(reduction, pos_weight):
    """The max-value trick keeps large logits finite and exact."""
    x = np.array([100.0, -100.0, 1e4, -1e4, 88.0, -104.0, 0.0, 20.0, -20.0, np.inf, -np.inf],
                 np.float32)
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.0, 1.0, 0.0], np.float32)
    pw = None if pos_weight is None else np.full(11, pos_weight, np.float32)
    check_loss("binary_cross_entropy_with_logits", *bcel(reduction), [x, y, None, pw],
               [True, True, False, False])


def test_bce_with_logits_empty():
    for reduction in REDUCTIONS:
        check_loss("binary_cross_entropy_with_logits", *bcel(reduction),
                   [np.zeros((2, 0), np.float32), np.zeros((2, 0), np.float32), None,
                    np.ones(0, np.float32)], [True, True, False, False])


def test_bce_with_logits_errors():
    fc, ft = F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits
    x = np.zeros((3, 4), np.float32)
    cases = [((x, x[0]), {}), ((x, x), {"reduction": "foo"}), ((x, x.astype(np.int64)), {}),
             ((x, x), {"weight": np.ones(5, np.float32)}),
             ((x, x), {"weight": np.ones((2, 3, 4), np.float32)}),
             ((x, x), {"pos_weight": np.ones(5, np.float32)}),
             ((x, x), {"pos_weight": np.ones((2, 3, 4), np.float32)}),
             ((x, x), {"pos_weight": np.ones((3, 4), np.float32), "weight": np.ones(7, np.float32)})]
    for args, kw in cases:
        cm, tm = check_error(*both(fc, ft, *args, **kw))
        assert cm == tm, (cm, tm)
    for arg in ("weight", "pos_weight"):
        cm, tm = check_error(
            lambda: fc(cnnc.tensor(x), cnnc.tensor(x), **{arg: cnnc.ones(4, requires_grad=True)}),
            lambda: ft(torch.tensor(x), torch.tensor(x), **{arg: torch.ones(4, requires_grad=True)}))
        assert cm == tm


# --- modules -------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_modules(reduction):
    r = rng(4)
    x, y = rand(r, 0.01, 0.99, 4, 3), rand(r, 0, 1, 4, 3)
    w, pw = rand(r, 0.5, 2, 3), rand(r, 0.5, 2, 4, 1)
    cm = nn.BCELoss(weight=cnnc.tensor(w), reduction=reduction)
    tm = tnn.BCELoss(weight=torch.tensor(w), reduction=reduction)
    assert repr(cm) == repr(tm) == "BCELoss()"
    assert list(cm.state_dict()) == list(tm.state_dict()) == ["weight"]
    check_loss("BCELoss", cm, tm, [x, y], [True, True])
    cm = nn.BCEWithLogitsLoss(pos_weight=cnnc.tensor(pw), reduction=reduction)
    tm = tnn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw), reduction=reduction)
    assert repr(cm) == repr(tm) == "BCEWithLogitsLoss()"
    assert list(cm.state_dict()) == list(tm.state_dict()) == ["pos_weight"]
    assert cm.weight is None and tm.weight is None
    check_loss("BCEWithLogitsLoss", cm, tm, [randn(r, 4, 3), y], [True, True])
    cm = nn.BCEWithLogitsLoss(weight=cnnc.tensor(w), pos_weight=cnnc.tensor(pw), reduction=reduction)
    tm = tnn.BCEWithLogitsLoss(weight=torch.tensor(w), pos_weight=torch.tensor(pw),
                               reduction=reduction)
    assert list(cm.state_dict()) == list(tm.state_dict()) == ["weight", "pos_weight"]
    cm.load_state_dict({"weight": w * 2, "pos_weight": pw + 1})
    tm.load_state_dict({"weight": torch.tensor(w * 2), "pos_weight": torch.tensor(pw + 1)})
    check_loss("BCEWithLogitsLoss", cm, tm, [randn(r, 4, 3), y], [True, True])
