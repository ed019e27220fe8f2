"""F.cross_entropy / F.nll_loss and nn.CrossEntropyLoss / nn.NLLLoss against PyTorch
1.13: class-index and class-probability targets, weight, ignore_index, reductions,
label smoothing, K-dimensional and unbatched inputs, empty batches, extreme
logits, gradients of input (and target and weight for probabilities), errors."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as nn
import cnnc.nn.functional as F
from helpers import assert_close, check_error, rand, randn, rng, seeds
from loss_common import both, check_loss

REDUCTIONS = ["mean", "sum", "none"]


def logits(r, ndim, n=None, c=None, lo=1, hi=4):
    """Random logits of rank ndim (1: unbatched [C]) and the shape of the positions."""
    c = int(r.randint(1, 7)) if c is None else c
    if ndim == 1:
        return randn(r, c) * 3, ()
    n = int(r.randint(1, 5)) if n is None else n
    spatial = tuple(int(r.randint(lo, hi + 1)) for _ in range(ndim - 2))
    return randn(r, n, c, *spatial) * float(r.uniform(0.5, 4.0)), (n,) + spatial


def class_targets(r, c, positions, ignore, p_ignore):
    t = np.asarray(r.randint(0, max(c, 1), size=positions), np.int64)
    if p_ignore > 0:
        t = np.where(r.rand(*positions) < p_ignore, ignore, t).astype(np.int64)
    return np.asarray(t, np.int64)


def class_weight(r, c):
    """None, or random class weights with some zeros."""
    if r.rand() < 0.35:
        return None
    w = rand(r, 0.1, 2.0, c)
    return np.where(r.rand(c) < 0.2, 0.0, w).astype(np.float32)


def ce(reduction="mean", **kw):
    return (lambda x, t, w: F.cross_entropy(x, t, weight=w, reduction=reduction, **kw),
            lambda x, t, w: TF.cross_entropy(x, t, weight=w, reduction=reduction, **kw))


def nll(reduction="mean", **kw):
    return (lambda x, t, w: F.nll_loss(x, t, weight=w, reduction=reduction, **kw),
            lambda x, t, w: TF.nll_loss(x, t, weight=w, reduction=reduction, **kw))


# --- class indices -----------------------------------------------------------------

@pytest.mark.parametrize("ndim", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@seeds(8)
def test_cross_entropy_classes_random(ndim, reduction, seed):
    r = rng(seed * 17 + ndim)
    x, pos = logits(r, ndim)
    c = x.shape[0 if ndim == 1 else 1]
    ignore = [-100, -1, int(r.randint(0, c))][r.randint(3)]
    t = class_targets(r, c, pos, ignore, [0.0, 0.3][r.randint(2)])
    ls = [0.0, 0.0, 0.1, 0.45, 1.0][r.randint(5)]
    fc, ft = ce(reduction, ignore_index=ignore, label_smoothing=ls)
    res = check_loss("cross_entropy", fc, ft, [x, t, class_weight(r, c)], [True, False, False])
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("ndim", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@seeds(6)
def test_nll_loss_random(ndim, reduction, seed):
    r = rng(seed * 19 + ndim)
    x, pos = logits(r, ndim)
    c = x.shape[0 if ndim == 1 else 1]
    ignore = [-100, int(r.randint(0, c))][r.randint(2)]
    t = class_targets(r, c, pos, ignore, [0.0, 0.3][r.randint(2)])
    fc, ft = nll(reduction, ignore_index=ignore)
    res = check_loss("nll_loss", fc, ft, [x, t, class_weight(r, c)], [True, False, False])
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ndim", [1, 2, 4])
def test_every_target_ignored(reduction, ls, weighted, ndim):
    """The mean of nothing is NaN; the gradients are zero."""
    r = rng(3)
    x, pos = logits(r, ndim, c=4)
    t = np.full(pos, 2, np.int64)
    w = rand(r, 0.5, 1.5, 4) if weighted else None
    fc, ft = ce(reduction, ignore_index=2, label_smoothing=ls)
    res = check_loss("cross_entropy", fc, ft, [x, t, w], [True, False, False])
    if reduction == "mean":
        assert np.isnan(res.cnnc_out.item())
    assert np.all(res.cnnc_inputs[0].grad.numpy() == 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.3])
def test_zero_weights(reduction, ls):
    """Zero weight on every present class: 0 / 0 in the mean, NaN gradients, as PyTorch."""
    r = rng(4)
    x, _ = logits(r, 2, n=5, c=4)
    t = np.array([0, 1, 0, 1, 3], np.int64)
    w = np.array([0.0, 0.0, 1.5, 0.0], np.float32)
    check_loss("cross_entropy", *ce(reduction, label_smoothing=ls, ignore_index=3), [x, t, w],
               [True, False, False])
    check_loss("nll_loss", *nll(reduction), [x, t, w], [True, False, False])


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 3, 0), (0, 3, 2, 2), (2, 3, 0, 2),
                                   (0, 3, 1, 2, 2), (2, 3, 2, 0, 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_empty_batches(shape, reduction, ls):
    x = np.zeros(shape, np.float32)
    t = np.zeros((shape[0],) + shape[2:], np.int64)
    check_loss("cross_entropy", *ce(reduction, label_smoothing=ls), [x, t, None],
               [True, False, False])
    check_loss("nll_loss", *nll(reduction), [x, t, None], [True, False, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_no_classes_every_target_ignored(reduction):
    x = np.zeros((3, 0), np.float32)
    t = np.full(3, -100, np.int64)
    check_loss("cross_entropy", *ce(reduction), [x, t, None], [True, False, False])


@pytest.mark.parametrize("ls", [0.0, 0.25])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_extreme_logits(ls, reduction):
    inf = np.inf
    x = np.array([[1e30, -1e30, 0.0], [80.0, -80.0, 0.0], [1e4, 1e4, -1e4], [-1e4, -1e4, -1e4],
                  [inf, 0.0, 0.0], [-inf, 0.0, 0.0], [30.0, 30.0, 30.0]], np.float32)
    t = np.array([0, 1, 2, 0, 1, 0, 2], np.int64)
    check_loss("cross_entropy", *ce(reduction, label_smoothing=ls), [x, t, None],
               [True, False, False])


def test_ignore_index_equal_to_a_class_and_targets_out_of_range_ignored():
    r = rng(5)
    x, _ = logits(r, 2, n=4, c=3)
    for ignore, t in [(1, [1, 1, 0, 2]), (7, [7, 0, 7, 2]), (-3, [-3, 0, 1, -3])]:
        for ls in (0.0, 0.4):
            check_loss("cross_entropy", *ce("mean", ignore_index=ignore, label_smoothing=ls),
                       [x, np.array(t, np.int64), rand(r, 0.5, 2, 3)], [True, False, False])


def test_unbatched_matches_batch_of_one():
    r = rng(6)
    x = randn(r, 5)
    for t in range(5):
        for ls in (0.0, 0.3):
            check_loss("cross_entropy", *ce("none", label_smoothing=ls),
                       [x, np.array(t, np.int64), None], [True, False, False])
    # nll_loss takes a 1-d target of the input's size too, and reads its first entry
    check_loss("nll_loss", *nll("none"), [x, np.array([3, 0, 0, 0, 0], np.int64), None],
               [True, False, False])


# --- class probabilities --------------------------------------------------------------

@pytest.mark.parametrize("ndim", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@seeds(5)
def test_cross_entropy_probabilities_random(ndim, reduction, seed):
    """Targets of the input's shape; gradients reach input, target and weight."""
    r = rng(seed * 23 + ndim)
    x, _ = logits(r, ndim)
    c = x.shape[0 if ndim == 1 else 1]
    q = rand(r, 0.0, 1.0, *x.shape)
    if r.rand() < 0.5:  # normalized over the classes
        q = (q / np.maximum(q.sum(axis=0 if ndim == 1 else 1, keepdims=True), 1e-6)).astype(np.float32)
    ls = [0.0, 0.15, 1.0][r.randint(3)]
    w = class_weight(r, c)
    fc, ft = ce(reduction, label_smoothing=ls)
    res = check_loss("cross_entropy (probabilities)", fc, ft, [x, q, w],
                     [True, bool(r.randint(2)), bool(r.randint(2))])
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probabilities_one_hot_equal_class_indices(reduction):
    r = rng(7)
    x, _ = logits(r, 2, n=6, c=4)
    t = np.array([0, 3, 1, 1, 2, 0], np.int64)
    q = np.eye(4, dtype=np.float32)[t]
    a = F.cross_entropy(cnnc.tensor(x), cnnc.tensor(q), reduction=reduction)
    b = F.cross_entropy(cnnc.tensor(x), cnnc.tensor(t), reduction=reduction)
    assert_close(a, b.numpy(), 1e-6, 1e-6)
    check_loss("cross_entropy (probabilities)", *ce(reduction), [x, q, None], [True, True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probabilities_empty_and_extreme(reduction):
    check_loss("cross_entropy (probabilities)", *ce(reduction),
               [np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32), None], True)
    check_loss("cross_entropy (probabilities)", *ce(reduction),
               [np.zeros((2, 0), np.float32), np.zeros((2, 0), np.float32), None], True)
    x = np.array([[1e4, -1e4, 0.0], [60.0, -60.0, 0.0]], np.float32)
    q = np.array([[1.0, 0.0, 0.0], [0.2, 0.0, 0.8]], np.float32)
    check_loss("cross_entropy (probabilities)", *ce(reduction, label_smoothing=0.1), [x, q, None],
               [True, True, False])


# --- modules ---------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@seeds(3)
def test_cross_entropy_loss_module(reduction, seed):
    r = rng(seed + 100)
    x, pos = logits(r, [2, 4][seed % 2])
    c = x.shape[1]
    w = class_weight(r, c)
    t = class_targets(r, c, pos, 1, 0.2)
    kw = dict(ignore_index=1, reduction=reduction, label_smoothing=[0.0, 0.2][seed % 2])
    cm = nn.CrossEntropyLoss(weight=None if w is None else cnnc.tensor(w), **kw)
    tm = tnn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w), **kw)
    check_loss("CrossEntropyLoss", cm, tm, [x, t], [True, False])
    kw["ignore_index"] = -100  # probabilities need a negative ignore_index
    cm = nn.CrossEntropyLoss(weight=None if w is None else cnnc.tensor(w), **kw)
    tm = tnn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w), **kw)
    check_loss("CrossEntropyLoss", cm, tm, [x, rand(r, 0, 1, *x.shape)], [True, True])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_module(reduction):
    r = rng(8)
    x, pos = logits(r, 3, n=3, c=4)
    t = class_targets(r, 4, pos, -100, 0.0)
    w = rand(r, 0.5, 2.0, 4)
    cm = nn.NLLLoss(weight=cnnc.tensor(w), reduction=reduction)
    tm = tnn.NLLLoss(weight=torch.tensor(w), reduction=reduction)
    check_loss("NLLLoss", cm, tm, [x, t], [True, False])


def test_module_weight_is_a_buffer():
    w = np.array([1.0, 2.0, 0.5], np.float32)
    for cls in ("CrossEntropyLoss", "NLLLoss"):
        cm, tm = getattr(nn, cls)(weight=cnnc.tensor(w)), getattr(tnn, cls)(weight=torch.tensor(w))
        assert repr(cm) == repr(tm) == cls + "()"
        assert list(cm.state_dict()) == list(tm.state_dict()) == ["weight"]
        assert [n for n, _ in cm.named_buffers()] == ["weight"]
        assert list(cm.parameters()) == []
        assert_close(cm.weight, tm.weight)
        # loading and assigning the weight change what forward uses
        cm.load_state_dict({"weight": np.array([3.0, 1.0, 1.0], np.float32)})
        tm.load_state_dict({"weight": torch.tensor([3.0, 1.0, 1.0])})
        x, t = randn(rng(1), 4, 3), np.array([0, 1, 2, 0], np.int64)
        check_loss(cls, cm, tm, [x, t], [True, False])
        cm.weight = cnnc.tensor(np.array([1.0, 0.0, 2.0], np.float32))
        tm.weight = torch.tensor([1.0, 0.0, 2.0])
        check_loss(cls, cm, tm, [x, t], [True, False])
        cm.weight = None
        tm.weight = None
        assert list(cm.state_dict()) == list(tm.state_dict()) == []
        check_loss(cls, cm, tm, [x, t], [True, False])


def test_module_attributes():
    cm = nn.CrossEntropyLoss(ignore_index=3, reduction="sum", label_smoothing=0.25)
    tm = tnn.CrossEntropyLoss(ignore_index=3, reduction="sum", label_smoothing=0.25)
    for a in ("reduction", "ignore_index", "label_smoothing", "training"):
        assert getattr(cm, a) == getattr(tm, a), a
    assert cm.weight is None and tm.weight is None
    assert list(cm.state_dict()) == [] and list(cm.named_buffers()) == []
    cn, tn = nn.NLLLoss(), tnn.NLLLoss()
    assert (cn.reduction, cn.ignore_index) == (tn.reduction, tn.ignore_index) == ("mean", -100)
    assert "label_smoothing" not in cn.vars()


# --- errors ----------------------------------------------------------------------------

L, Fl = np.int64, np.float32
X2 = np.zeros((3, 5), Fl)
X4 = np.zeros((2, 3, 4, 5), Fl)


def err(fc, ft, *arrays, **kw):
    cm, tm = check_error(*both(fc, ft, *arrays, **kw))
    assert cm == tm, (cm, tm)


@pytest.mark.parametrize("fns", [(F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)])
def test_class_errors(fns):
    fc, ft = fns
    err(fc, ft, X2, np.array([1, 0, 5], L))                       # Target 5 is out of bounds.
    err(fc, ft, X2, np.array([1, -1, 0], L))                      # Target -1
    err(fc, ft, X4, np.full((2, 4, 5), 3, L))                     # Target 3 (2d)
    err(fc, ft, X4, np.full((2, 4, 5), 3, L), reduction="none")
    err(fc, ft, np.zeros((2, 3, 4), Fl), np.full((2, 4), -7, L))  # K-dim
    err(fc, ft, np.zeros((2, 0), Fl), np.zeros(2, L))             # no classes: Target 0
    err(fc, ft, X2, np.array([1, 0], L))                          # batch size
    err(fc, ft, X2, np.array(1, L))                               # batch size (0-d target)
    err(fc, ft, X2, np.zeros((3, 2), L))                          # multi-target
    err(fc, ft, X2, np.zeros(3, Fl))                              # target dtype
    err(fc, ft, X4, np.zeros((2, 4, 5), Fl))
    err(fc, ft, X2, np.zeros(3, L), weight=np.ones(4, Fl))        # weight size
    err(fc, ft, X2, np.zeros(3, L), weight=np.ones((5, 1), Fl))
    err(fc, ft, X2, np.zeros(3, L), weight=np.ones((), Fl))
    err(fc, ft, X4, np.zeros((2, 4, 5), L), weight=np.ones(4, Fl))
    err(fc, ft, X2, np.zeros(3, L), weight=np.ones(5, L))         # weight dtype
    err(fc, ft, X4, np.zeros((2, 4), L))                          # spatial targets
    err(fc, ft, X4, np.zeros((2, 4, 6), L))                       # size mismatch (2d)
    err(fc, ft, X4, np.zeros((3, 4, 5), L))
    err(fc, ft, np.zeros((2, 3, 4), Fl), np.zeros((2, 5), L))     # Expected target size
    err(fc, ft, np.zeros((2, 3, 4, 5, 6), Fl), np.zeros((2, 4, 5, 7), L))
    err(fc, ft, np.zeros((2, 3, 4), Fl), np.zeros((2,), L))
    err(fc, ft, np.zeros(5, Fl), np.zeros(2, L))                  # size mismatch (1-d)
    err(fc, ft, X2, np.zeros(3, L), reduction="batchmean")
    err(fc, ft, X2, np.zeros(3, L), reduction="foo")
    err(fc, ft, X2, np.zeros(3, L), reduction=None)


def test_nll_only_errors():
    err(F.nll_loss, TF.nll_loss, np.zeros((), Fl), np.zeros((), L))
    err(F.nll_loss, TF.nll_loss, np.zeros((2, 0, 3), Fl), np.zeros((2, 3), L))  # empty views


def test_cross_entropy_only_errors():
    fc, ft = F.cross_entropy, TF.cross_entropy
    err(fc, ft, X2, np.zeros(3, L), label_smoothing=1.5)
    err(fc, ft, X2, np.zeros((3, 5), L))                           # probabilities must be float
    err(fc, ft, X2, np.zeros((3, 5), Fl), ignore_index=0)
    err(fc, ft, X2, np.zeros((3, 5), Fl), label_smoothing=1.5)
    err(fc, ft, X2, np.zeros((3, 5), Fl), label_smoothing=1.0000001)
    err(fc, ft, X2, np.zeros((3, 5), Fl), weight=np.ones(4, Fl))
    err(fc, ft, X2, np.zeros((3, 5), Fl), weight=np.ones((5, 1), Fl))
    err(fc, ft, np.zeros((), Fl), np.zeros((), L))
    err(fc, ft, np.zeros((), Fl), np.zeros((), Fl))
    err(fc, ft, np.zeros((), Fl), np.zeros(2, L))


@pytest.mark.parametrize("ls", [-0.5, float("nan")])
def test_label_smoothing_below_zero_or_nan_is_none(ls):
    """No smoothing (and no error) for label_smoothing <= 0 or NaN, as PyTorch."""
    r = rng(9)
    x, _ = logits(r, 2, n=3, c=4)
    check_loss("cross_entropy", *ce("mean", label_smoothing=ls),
               [x, np.array([0, 1, 3], L), None], [True, False, False])
    check_loss("cross_entropy (probabilities)", *ce("mean", label_smoothing=ls),
               [x, rand(r, 0, 1, 3, 4), None], [True, True, False])


@pytest.mark.parametrize("ndim", [2, 4])
def test_weight_requires_grad_error(ndim):
    x = np.zeros((2, 3) + (2,) * (ndim - 2), Fl)
    t = np.zeros((2,) + (2,) * (ndim - 2), L)
    for fc, ft in [(F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)]:
        cm, tm = check_error(
            lambda: fc(cnnc.tensor(x), cnnc.tensor(t), weight=cnnc.ones(3, requires_grad=True)),
            lambda: ft(torch.tensor(x), torch.tensor(t), weight=torch.ones(3, requires_grad=True)))
        assert cm == tm
    with cnnc.no_grad(), torch.no_grad():  # no error without grad mode
        a = F.cross_entropy(cnnc.tensor(x), cnnc.tensor(t), weight=cnnc.ones(3, requires_grad=True))
        b = TF.cross_entropy(torch.tensor(x), torch.tensor(t), weight=torch.ones(3, requires_grad=True))
        assert_close(a, b)


def test_module_forward_argument_errors():
    cm, tm = nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()
    x, t = np.zeros((2, 3), Fl), np.zeros(2, L)
    for args in [(), (x,), (x, t, t)]:
        a, b = check_error(lambda: cm(*[cnnc.tensor(v) for v in args]),
                           lambda: tm(*[torch.tensor(v) for v in args]))
        assert a == b
    a, b = check_error(lambda: nn.NLLLoss(reduction="bad")(cnnc.tensor(x), cnnc.tensor(t)),
                       lambda: tnn.NLLLoss(reduction="bad")(torch.tensor(x), torch.tensor(t)))
    assert a == b


def test_target_changed_in_place_after_forward():
    """The target is saved for backward: changing it in place is PyTorch's error."""
    x = cnnc.tensor(randn(rng(1), 3, 4), requires_grad=True)
    t = cnnc.tensor(np.array([0, 1, 2], L))
    loss = F.cross_entropy(x, t)
    t.fill_(1)
    with pytest.raises(cnnc.Error, match="modified by an inplace operation"):
        loss.backward()
