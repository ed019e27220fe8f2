"""The pointwise losses against PyTorch 1.13: mse_loss, l1_loss, smooth_l1_loss
(beta), huber_loss (delta), kl_div (log_target, batchmean), functional and
modules; broadcasting, int64 targets, gradients of input and target, kinks,
empty inputs, errors; and what every loss shares: reductions (legacy
size_average / reduce included), module reprs, attributes and state_dict,
results independent of the thread count."""
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
REGRESSION = {  # functional name -> (module class, its parameter name, values)
    "mse_loss": ("MSELoss", None, [None]),
    "l1_loss": ("L1Loss", None, [None]),
    "smooth_l1_loss": ("SmoothL1Loss", "beta", [1.0, 0.0, 0.5, 2.5]),
    "huber_loss": ("HuberLoss", "delta", [1.0, 0.3, 4.0]),
}


def fn_pair(name, reduction, param=None, value=None, **kw):
    if param is not None:
        kw[param] = value
    return (lambda x, y: getattr(F, name)(x, y, reduction=reduction, **kw),
            lambda x, y: getattr(TF, name)(x, y, reduction=reduction, **kw))


def shapes(r):
    """Two broadcastable shapes (sometimes equal)."""
    s = tuple(int(v) for v in r.randint(1, 5, size=r.randint(0, 5)))
    if r.rand() < 0.5:
        return s, s
    t = tuple(1 if r.rand() < 0.4 else v for v in s[r.randint(0, len(s) + 1):])
    return (s, t) if r.rand() < 0.5 else (t, s)


# --- regression losses ----------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(REGRESSION))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@seeds(8)
def test_regression_random(name, reduction, seed):
    r = rng(seed * 7 + len(name))
    _, param, values = REGRESSION[name]
    sx, sy = shapes(r)
    x, y = randn(r, *sx) * 2, randn(r, *sy) * 2
    fc, ft = fn_pair(name, reduction, param, values[r.randint(len(values))])
    res = check_loss(name, fc, ft, [x, y], [True, bool(r.randint(2))])
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("name", sorted(REGRESSION))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_kinks(name, reduction):
    """Exact ties and the +-beta / +-delta boundaries, where the subgradient is chosen."""
    _, param, values = REGRESSION[name]
    for v in values:
        b = 1.0 if v is None else v
        x = np.array([0.0, b, -b, 0.5 * b, 2 * b, -3.0, np.nan, 1.0, np.inf], np.float32)
        y = np.array([0.0, 0.0, 0.0, 0.0, 0.0, -3.0, 0.0, np.nan, 1.0], np.float32)
        check_loss(name, *fn_pair(name, reduction, param, v), [x, y], True)


@pytest.mark.parametrize("name", sorted(REGRESSION))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_int64_target(name, reduction):
    """An int64 target is promoted. (PyTorch 1.13's own mse_loss and huber_loss
    backward then fail with "Found dtype Long but expected Float"; cnnc gives the
    gradient, so only their values are compared.)"""
    r = rng(11)
    x = randn(r, 3, 4) * 3
    t = r.randint(-3, 4, size=(3, 4)).astype(np.int64)
    grad = name in ("l1_loss", "smooth_l1_loss")
    check_loss(name, *fn_pair(name, reduction), [x, t], [grad, False])
    check_loss(name, *fn_pair(name, reduction), [x, t[0]], [grad, False])


@pytest.mark.parametrize("name", sorted(REGRESSION) + ["kl_div"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0, 4)])
def test_pointwise_empty(name, reduction, shape):
    check_loss(name, *fn_pair(name, reduction), [np.zeros(shape, np.float32),
                                                 np.zeros(shape, np.float32)], True)


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_module(name):
    cls, param, values = REGRESSION[name]
    r = rng(12)
    for reduction in REDUCTIONS:
        for v in values:
            kw = {"reduction": reduction} if param is None else {"reduction": reduction, param: v}
            cm, tm = getattr(nn, cls)(**kw), getattr(tnn, cls)(**kw)
            assert repr(cm) == repr(tm) == cls + "()"
            assert cm.reduction == tm.reduction
            if param:
                assert getattr(cm, param) == getattr(tm, param)
            assert list(cm.state_dict()) == [] and list(cm.named_buffers()) == []
            check_loss(cls, cm, tm, [randn(r, 2, 3), randn(r, 2, 3)], [True, True])


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_errors(name):
    _, param, _ = REGRESSION[name]
    fc, ft = getattr(F, name), getattr(TF, name)
    a, b = np.zeros((3, 4), np.float32), np.zeros((2, 4), np.float32)
    for args, kw in [((a, b), {}), ((a, a), {"reduction": "foo"}), ((a, a), {"reduction": None}),
                     ((a, a), {"reduction": "batchmean"}), ((a, b), {"reduction": "foo"})]:
        cm, tm = check_error(*both(fc, ft, *args, **kw))
        assert cm == tm
    bad = {"beta": [-1.0], "delta": [0.0, -2.0]}.get(param, [])
    for v in bad:
        cm, tm = check_error(*both(fc, ft, a, a, **{param: v}))
        assert cm == tm


# --- kl_div ---------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
@seeds(6)
def test_kl_div_random(reduction, log_target, seed):
    r = rng(seed * 5 + log_target)
    sx, sy = shapes(r)
    x = np.log(rand(r, 0.05, 1.0, *sx))
    y = np.log(rand(r, 0.05, 1.0, *sy)) if log_target else rand(r, 0.0, 1.0, *sy)
    fc, ft = fn_pair("kl_div", reduction, log_target=log_target)
    res = check_loss("kl_div", fc, ft, [x, y], [True, bool(r.randint(2))])
    assert res.cnnc_out.grad_fn == res.torch_out.grad_fn.name()


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div_zero_and_negative_targets(reduction):
    """xlogy: 0 where the target is 0, NaN where it is negative; NaN target
    gradients at 0 (PyTorch's xlogy derivative y / y)."""
    x = np.array([[-1.0, -0.5, -2.0, -0.1], [0.0, -3.0, -1.0, -1.0]], np.float32)
    y = np.array([[0.0, 1.0, -1.0, 0.5], [0.0, 0.25, np.nan, 1e-30]], np.float32)
    check_loss("kl_div", *fn_pair("kl_div", reduction), [x, y], True)
    check_loss("kl_div", *fn_pair("kl_div", reduction, log_target=True), [x, y], True)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div_zero_dim_and_broadcast_batchmean(reduction):
    """batchmean divides by input.size(0); a 0-d input is not divided."""
    r = rng(13)
    check_loss("kl_div", *fn_pair("kl_div", reduction),
               [np.array(-0.7, np.float32), rand(r, 0, 1, 3, 2)], True)
    check_loss("kl_div", *fn_pair("kl_div", reduction), [randn(r, 4), rand(r, 0, 1, 3, 4)], True)
    check_loss("kl_div", *fn_pair("kl_div", reduction), [randn(r, 3, 4), rand(r, 0, 1, 4)], True)


def test_kl_div_module_and_errors():
    for reduction in REDUCTIONS + ["batchmean"]:
        for log_target in (False, True):
            cm = nn.KLDivLoss(reduction=reduction, log_target=log_target)
            tm = tnn.KLDivLoss(reduction=reduction, log_target=log_target)
            assert repr(cm) == repr(tm) == "KLDivLoss()"
            assert (cm.reduction, cm.log_target) == (tm.reduction, tm.log_target)
            r = rng(14)
            check_loss("KLDivLoss", cm, tm, [randn(r, 3, 4), rand(r, 0, 1, 3, 4)], [True, True])
    a = np.zeros((3, 4), np.float32)
    for args, kw in [((a, a), {"reduction": "foo"}), ((a, np.zeros((2, 4), np.float32)), {}),
                     ((a, np.zeros((3, 4), np.int64)), {}), ((a, a), {"reduction": None})]:
        cm, tm = check_error(*both(F.kl_div, TF.kl_div, *args, **kw))
        assert cm == tm


# --- what every loss shares ---------------------------------------------------------------

LEGACY = [(None, None), (True, None), (False, None), (None, True), (None, False), (True, True),
          (False, True), (True, False), (False, False)]


@pytest.mark.parametrize("size_average,reduce", LEGACY)
def test_legacy_size_average_and_reduce(size_average, reduce):
    r = rng(15)
    x, y, t = randn(r, 4, 3), rand(r, 0.01, 0.99, 4, 3), np.array([0, 2, 1, 1], np.int64)
    cases = [("mse_loss", "MSELoss", x, y), ("l1_loss", "L1Loss", x, y),
             ("smooth_l1_loss", "SmoothL1Loss", x, y), ("kl_div", "KLDivLoss", x, y),
             ("binary_cross_entropy", "BCELoss", y, y),
             ("binary_cross_entropy_with_logits", "BCEWithLogitsLoss", x, y),
             ("cross_entropy", "CrossEntropyLoss", x, t), ("nll_loss", "NLLLoss", x, t)]
    for fname, cls, a, b in cases:
        kw = dict(size_average=size_average, reduce=reduce, reduction="sum")
        check_loss(fname, lambda p, q: getattr(F, fname)(p, q, **kw),
                   lambda p, q: getattr(TF, fname)(p, q, **kw), [a, b], [True, False])
        cm, tm = getattr(nn, cls)(**kw), getattr(tnn, cls)(**kw)
        assert cm.reduction == tm.reduction
        check_loss(cls, cm, tm, [a, b], [True, False])


ALL_MODULES = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
               "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]


@pytest.mark.parametrize("cls", ALL_MODULES)
def test_module_defaults_and_vars(cls):
    cm, tm = getattr(nn, cls)(), getattr(tnn, cls)()
    assert repr(cm) == repr(tm) == cls + "()"
    public = {k: v for k, v in vars(tm).items() if not k.startswith("_") and k != "training"}
    for k, v in public.items():
        assert getattr(cm, k) == v, k
    listed = [line.split(":")[0].strip() for line in cm.vars().splitlines()[1:]
              if not line.startswith("    ")]  # the attributes, in order
    assert [k for k in listed if k not in ("training", "parameters", "buffers")] == list(public)
    assert cm.training and list(cm.parameters()) == [] and list(cm.state_dict()) == []
    cm.eval()
    assert not cm.training
    for name in tm._buffers:  # weight / pos_weight: None buffers
        assert getattr(cm, name) is None
    # an invalid reduction is kept and reported by forward, as PyTorch
    cm, tm = getattr(nn, cls)(reduction="foo"), getattr(tnn, cls)(reduction="foo")
    assert cm.reduction == tm.reduction == "foo"
    x = np.full((2, 3), 0.5, np.float32)
    t = np.zeros(2, np.int64) if cls in ("CrossEntropyLoss", "NLLLoss") else x
    a, b = check_error(*both(cm, tm, x, t))
    assert a == b == "foo is not a valid value for reduction"


def test_module_buffer_type_error():
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'weight'"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'pos_weight'"):
        nn.BCEWithLogitsLoss(pos_weight=[1.0, 2.0])


def test_results_independent_of_thread_count():
    """Large losses, forward and backward, bit for bit with 1 and 3 threads."""
    r = rng(16)
    x4 = randn(r, 8, 10, 40, 40)
    t4 = r.randint(0, 10, size=(8, 40, 40)).astype(np.int64)
    x2, y2 = randn(r, 600, 500), randn(r, 600, 500)
    p2 = rand(r, 0.0, 1.0, 600, 500)
    w = rand(r, 0.5, 2.0, 10)
    calls = [
        lambda: F.cross_entropy(X(x4), cnnc.tensor(t4), weight=cnnc.tensor(w), label_smoothing=0.1),
        lambda: F.cross_entropy(X(x4), cnnc.tensor(t4), reduction="sum"),
        lambda: F.cross_entropy(X(x2[:, :10].copy()), cnnc.tensor(p2[:, :10].copy())),
        lambda: F.mse_loss(X(x2), cnnc.tensor(y2)),
        lambda: F.binary_cross_entropy_with_logits(X(x2), cnnc.tensor(p2)),
        lambda: F.kl_div(X(x2), cnnc.tensor(p2), reduction="batchmean"),
    ]
    old = cnnc.get_num_threads()
    try:
        for call in calls:
            got = []
            for n in (1, 3):
                cnnc.set_num_threads(n)
                X.last = None
                loss = call()
                loss.backward()
                got.append((loss.numpy(), X.last.grad.numpy()))
            assert np.array_equal(got[0][0], got[1][0])
            assert np.array_equal(got[0][1], got[1][1])
    finally:
        cnnc.set_num_threads(old)


def X(a):
    """A fresh input requiring grad, remembered in X.last."""
    X.last = cnnc.tensor(a, requires_grad=True)
    return X.last
