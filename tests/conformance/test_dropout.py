"""F.dropout / dropout2d / dropout3d and nn.Dropout* against torch 1.13: argument
checks and messages, train/eval, p = 0 and p = 1, masks (statistically: cnnc draws
its own bits from cnnc's generator), exact scaling, gradients through the same
mask, channel-wise structure, in-place forms, reproducibility."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as cnn
import cnnc.nn.functional as F
from helpers import check_error, check_op, randn, rng

warnings.filterwarnings("ignore", category=UserWarning)

FNS = [("dropout", F.dropout, TF.dropout), ("dropout2d", F.dropout2d, TF.dropout2d),
       ("dropout3d", F.dropout3d, TF.dropout3d)]
MODS = [("Dropout", cnn.Dropout, tnn.Dropout), ("Dropout2d", cnn.Dropout2d, tnn.Dropout2d),
        ("Dropout3d", cnn.Dropout3d, tnn.Dropout3d)]


def _nonzero(r, *shape):
    """Values that are never 0, so a 0 in the output is a dropped element."""
    x = randn(r, *shape)
    return np.where(np.abs(x) < 1e-3, np.float32(0.5), x).astype(np.float32)


def _scale(p):
    return np.float32(1.0) / np.float32(1.0 - p)


# --- argument checks ------------------------------------------------------------------

@pytest.mark.parametrize("name,cf,tf", FNS)
@pytest.mark.parametrize("p", [1.5, -0.1, 2, -1, float("nan")])
def test_p_out_of_range(name, cf, tf, p):
    shape = (2, 3, 4, 5, 6)
    msg = "dropout probability has to be between 0 and 1, but got"
    check_error(lambda: cf(cnnc.ones(shape), p), lambda: tf(torch.ones(shape), p), msg)


def test_p_message_value():
    cm, tm = check_error(lambda: F.dropout(cnnc.ones(3), 1.5), lambda: TF.dropout(torch.ones(3), 1.5))
    assert cm == tm == "dropout probability has to be between 0 and 1, but got 1.5"
    cm, tm = check_error(lambda: F.dropout(cnnc.ones(3), -0.1), lambda: TF.dropout(torch.ones(3), -0.1))
    assert cm == tm


@pytest.mark.parametrize("name,cm,tm", MODS)
@pytest.mark.parametrize("p", [1.5, -0.1, -1.0])
def test_module_p_out_of_range(name, cm, tm, p):
    check_error(lambda: cm(p), lambda: tm(p), "dropout probability has to be between 0 and 1")


@pytest.mark.parametrize("name,cf,tf,shape", [
    ("dropout2d", F.dropout2d, TF.dropout2d, (4,)), ("dropout2d", F.dropout2d, TF.dropout2d, ()),
    ("dropout3d", F.dropout3d, TF.dropout3d, ())])
def test_feature_dropout_needs_two_dims(name, cf, tf, shape):
    check_error(lambda: cf(cnnc.ones(shape), 0.5), lambda: tf(torch.ones(shape), 0.5),
                "Feature dropout requires at least 2 dimensions in the input")
    # eval and p == 0 return before that check, as torch
    for kw in ({"training": False}, {"p": 0.0}):
        check_op(lambda a: cf(a, **kw), lambda a: tf(a, **kw), [np.ones(shape, np.float32)])


def test_int64_refused():
    with pytest.raises(cnnc.Error, match="float32"):
        F.dropout(cnnc.tensor([1, 2, 3]))


# --- identity cases, p == 1 ------------------------------------------------------------

@pytest.mark.parametrize("name,cf,tf", FNS)
@pytest.mark.parametrize("kw", [{"training": False}, {"p": 0.0}, {"p": 0.3, "training": False},
                                {"p": 1.0, "training": False}])
def test_identity(name, cf, tf, kw):
    x = randn(rng(1), 2, 3, 4, 5, 2)
    check_op(lambda a: cf(a * 1, **kw), lambda a: tf(a * 1, **kw), [x])
    check_op(lambda a: cf(a, **kw), lambda a: tf(a, **kw), [x])
    c = cnnc.tensor(x)
    assert np.array_equal(cf(c, **kw).numpy(), x)
    # in place on a leaf requiring grad is fine when nothing is done (torch returns early)
    leaf = cnnc.tensor(x, requires_grad=True)
    cf(leaf, inplace=True, **kw)


@pytest.mark.parametrize("name,cf,tf", FNS)
def test_empty_input(name, cf, tf):
    for shape in [(0,), (2, 0, 3), (0, 3, 2, 2, 1)]:
        if name != "dropout" and len(shape) < 2:
            continue
        check_op(lambda a: cf(a * 1), lambda a: tf(a * 1), [np.zeros(shape, np.float32)])


@pytest.mark.parametrize("name,cf,tf", FNS)
def test_p_one(name, cf, tf):
    """p == 1: x * 0 (NaN and inf give NaN, as torch), gradient 0."""
    x = randn(rng(2), 2, 4, 3, 2, 2)
    x.reshape(-1)[:4] = [np.nan, np.inf, -np.inf, 0.0]
    check_op(lambda a: cf(a, 1.0), lambda a: tf(a, 1.0), [x])
    check_op(lambda a: cf(a * 1, 1.0, inplace=True), lambda a: tf(a * 1, 1.0, inplace=True), [x])


# --- masks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.1, 0.5, 0.8, 0.97])
def test_dropout_statistics_scaling_and_gradient(p):
    n = 1_000_000
    r = rng(int(p * 100))
    x = _nonzero(r, 1000, 1000)
    g = randn(r, 1000, 1000)
    cnnc.manual_seed(1234)
    c = cnnc.tensor(x, requires_grad=True)
    y = F.dropout(c, p)
    assert y.grad_fn == TF.dropout(torch.ones(2, requires_grad=True), p).grad_fn.name()
    out = y.numpy()
    kept = out != 0
    frac = 1.0 - kept.mean()
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(frac - p) < 6 * sigma, (frac, p)
    # per block of 10000 elements too (no position bias)
    blocks = 1.0 - kept.reshape(100, 10000).mean(axis=1)
    assert np.all(np.abs(blocks - p) < 6 * np.sqrt(p * (1 - p) / 10000))
    # neighbours are independent: P(both kept) ~ (1 - p)^2
    both = (kept[:, 1:] & kept[:, :-1]).mean()
    assert abs(both - (1 - p) ** 2) < 0.003
    scale = _scale(p)
    np.testing.assert_array_equal(out[kept], x[kept] * scale)
    y.backward(cnnc.tensor(g))
    np.testing.assert_array_equal(c.grad.numpy(), np.where(kept, g * scale, np.float32(0)))


def test_dropout_reproducible_and_fresh():
    x = np.ones((300, 300), np.float32)
    cnnc.manual_seed(7)
    a = F.dropout(cnnc.tensor(x)).numpy()
    b = F.dropout(cnnc.tensor(x)).numpy()
    cnnc.manual_seed(7)
    a2 = F.dropout(cnnc.tensor(x)).numpy()
    cnnc.manual_seed(8)
    c = F.dropout(cnnc.tensor(x)).numpy()
    assert np.array_equal(a, a2)
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_independent_of_thread_count():
    x = np.ones((1 << 20,), np.float32)
    old = cnnc.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            cnnc.set_num_threads(n)
            cnnc.manual_seed(11)
            outs.append(F.dropout2d(cnnc.tensor(x.reshape(64, 64, 256)), 0.4).numpy())
            cnnc.manual_seed(11)
            outs.append(F.dropout(cnnc.tensor(x), 0.4).numpy())
        assert np.array_equal(outs[0], outs[2]) and np.array_equal(outs[0], outs[4])
        assert np.array_equal(outs[1], outs[3]) and np.array_equal(outs[1], outs[5])
    finally:
        cnnc.set_num_threads(old)


def _constant_axes(out):
    """For each axis, whether the array is constant along it."""
    return tuple(bool(np.all(out == np.take(out, [0], axis=ax))) for ax in range(out.ndim))


@pytest.mark.parametrize("name,cf,tf,shape", [
    ("dropout2d", F.dropout2d, TF.dropout2d, (8, 16, 5, 6)),   # per (n, c)
    ("dropout2d", F.dropout2d, TF.dropout2d, (8, 16, 30)),     # 3-d: (N, C, L), as torch 1.13
    ("dropout2d", F.dropout2d, TF.dropout2d, (64, 32)),        # 2-d: per element
    ("dropout2d", F.dropout2d, TF.dropout2d, (4, 16, 3, 4, 5)),
    ("dropout3d", F.dropout3d, TF.dropout3d, (4, 16, 3, 4, 5)),  # per (n, c)
    ("dropout3d", F.dropout3d, TF.dropout3d, (32, 4, 5, 6)),     # unbatched: per dim 0
    ("dropout3d", F.dropout3d, TF.dropout3d, (32, 5, 6)),
    ("dropout3d", F.dropout3d, TF.dropout3d, (32, 6)),
    ("dropout3d", F.dropout3d, TF.dropout3d, (256,)),            # per element
    ("dropout", F.dropout, TF.dropout, (8, 16, 5, 6)),
])
def test_mask_structure_matches_torch(name, cf, tf, shape):
    x = np.ones(shape, np.float32)
    c = cf(cnnc.tensor(x), 0.5).numpy()
    t = tf(torch.tensor(x), 0.5).numpy()
    assert _constant_axes(c) == _constant_axes(t), (_constant_axes(c), _constant_axes(t))
    assert set(np.unique(c)) <= {0.0, 2.0} and set(np.unique(t)) <= {0.0, 2.0}


@pytest.mark.parametrize("name,cf,shape,groups", [
    ("dropout2d", F.dropout2d, (64, 256, 3, 2), 64 * 256),
    ("dropout2d", F.dropout2d, (64, 256, 5), 64 * 256),
    ("dropout3d", F.dropout3d, (32, 512, 2, 2, 2), 32 * 512),
    ("dropout3d", F.dropout3d, (16384, 2, 2, 1), 16384)])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_feature_dropout_statistics_and_gradient(name, cf, shape, groups, p):
    r = rng(3)
    x = _nonzero(r, *shape)
    g = randn(r, *shape)
    c = cnnc.tensor(x, requires_grad=True)
    y = cf(c, p)
    out = y.numpy()
    flat = out.reshape(groups, -1)
    kept = flat != 0
    assert np.all(kept.all(axis=1) | (~kept).all(axis=1))  # whole channels
    frac = 1.0 - kept[:, 0].mean()
    assert abs(frac - p) < 6 * np.sqrt(p * (1 - p) / groups), frac
    scale = _scale(p)
    keep = kept.reshape(shape)
    np.testing.assert_array_equal(out[keep], x[keep] * scale)
    y.backward(cnnc.tensor(g))
    np.testing.assert_array_equal(c.grad.numpy(), np.where(keep, g * scale, np.float32(0)))


@pytest.mark.parametrize("name,cf,tf", FNS)
def test_nan_and_inf_inputs(name, cf, tf):
    """output = x * mask: a dropped NaN or inf is NaN, as torch's multiply."""
    x = np.full((64, 32, 4), np.nan, np.float32)
    x[:, :, 1] = np.inf
    out = cf(cnnc.tensor(x), 0.5).numpy()
    assert np.all(np.isnan(out[..., 0]))
    assert np.all(np.isnan(out[..., 1]) | (out[..., 1] == np.inf))
    assert np.any(out[..., 1] == np.inf) and np.any(np.isnan(out[..., 1]))


@pytest.mark.parametrize("name,cf,tf", FNS)
def test_inplace(name, cf, tf):
    r = rng(4)
    x = _nonzero(r, 16, 32, 4, 2)
    g = randn(r, 16, 32, 4, 2)
    c = cnnc.tensor(x, requires_grad=True)
    b = c * 1
    v = b._version
    out = cf(b, 0.3, inplace=True)
    assert out is b and b._version > v
    assert b.grad_fn == "MulBackward0"
    vals = b.numpy()
    kept = vals != 0
    np.testing.assert_array_equal(vals[kept], x[kept] * _scale(0.3))
    b.backward(cnnc.tensor(g))
    np.testing.assert_array_equal(c.grad.numpy(), np.where(kept, g * _scale(0.3), np.float32(0)))
    # on a leaf requiring grad, in training: torch's error
    check_error(lambda: cf(cnnc.ones(2, 3, 4, requires_grad=True), 0.3, inplace=True),
                lambda: tf(torch.ones(2, 3, 4, requires_grad=True), 0.3, inplace=True), "leaf")


def test_positional_and_keyword_signature():
    x = np.ones((4, 4, 4), np.float32)
    for cf in (F.dropout, F.dropout2d, F.dropout3d):
        y = cf(cnnc.tensor(x), 0.25, False, False)
        assert np.array_equal(y.numpy(), x)
        y = cf(input=cnnc.tensor(x), p=0.25, training=False, inplace=False)
        assert np.array_equal(y.numpy(), x)
        assert set(np.unique(cf(cnnc.tensor(x)).numpy())) <= {0.0, 2.0}  # training=True default


# --- modules ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,cm,tm", MODS)
@pytest.mark.parametrize("args", [(), (0.3,), (0.0, True), (1.0,), (0.25, False)])
def test_module(name, cm, tm, args):
    c, t = cm(*args), tm(*args)
    assert repr(c) == repr(t)
    assert c.p == t.p and c.inplace == t.inplace
    assert list(c.state_dict().keys()) == list(t.state_dict().keys()) == []
    x = _nonzero(rng(5), 8, 16, 3, 3, 2)
    # eval: identity, gradient passes through
    c.eval()
    t.eval()
    check_op(lambda a: c(a * 1), lambda a: t(a * 1), [x])
    # train: a mask with the module's p
    c.train()
    y = c(cnnc.tensor(x)).numpy()
    p = t.p
    kept = y != 0
    if p == 0.0:
        assert kept.all()
    elif p == 1.0:
        assert not kept.any()
    else:
        np.testing.assert_array_equal(y[kept], x[kept] * _scale(p))
        assert 0 < kept.mean() < 1


def test_module_inplace_in_sequential():
    m = cnn.Sequential(cnn.Linear(8, 8), cnn.Dropout(0.5, inplace=True), cnn.ReLU())
    x = cnnc.tensor(randn(rng(6), 64, 8), requires_grad=True)
    m(x).sum().backward()
    assert x.grad is not None
    m.eval()
    t = tnn.Sequential(tnn.Linear(8, 8), tnn.Dropout(0.5, inplace=True), tnn.ReLU()).eval()
    t.load_state_dict({k: torch.tensor(v) for k, v in m.state_dict().items()})
    xv = randn(rng(7), 5, 8)
    np.testing.assert_allclose(m(cnnc.tensor(xv)).numpy(), t(torch.tensor(xv)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
