"""BatchNorm1d/2d/3d and F.batch_norm against PyTorch 1.13."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as nn
import cnnc.nn.functional as F
from helpers import (assert_close, check_error, check_module, check_op, randn, rng, seeds)
from test_norm_common import float64_reference_check, randomize_affine, step

MOMENTA = [0.1, 0.0, 1.0, None, 0.3]
CLASSES = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}


def make(ndim, c, **kw):
    name = CLASSES[ndim]
    return getattr(nn, name)(c, **kw), getattr(tnn, name)(c, **kw)


def random_input(r, ndim, n=None, c=None):
    n = int(r.randint(1, 5)) if n is None else n
    c = int(r.randint(1, 6)) if c is None else c
    spatial = [int(r.randint(1, 6)) for _ in range(ndim - 2)]
    if n == 1 and (not spatial or np.prod(spatial) == 1):
        spatial = spatial[:-1] + [3] if spatial else []
        if not spatial:
            n = 2
    x = randn(r, n, c, *spatial) * float(r.uniform(0.5, 3.0)) + float(r.uniform(-2, 2))
    return x.astype(np.float32)


@pytest.mark.parametrize("ndim", [2, 3, 4, 5])
@pytest.mark.parametrize("momentum", MOMENTA)
@seeds(6)
def test_batchnorm_module_steps(ndim, momentum, seed):
    """Random configs: several training steps, eval steps, back to training; outputs,
    every grad and every buffer after each step."""
    r = rng(seed * 31 + ndim)
    affine, track = bool(r.randint(2)), bool(r.randint(2))
    eps = [1e-5, 1e-3, 0.1][r.randint(3)]
    c = int(r.randint(1, 6))
    cm, tm = make(ndim, c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    randomize_affine(tm, r)
    x = random_input(r, ndim, c=c)
    check_module(cm, tm, x, seed=seed)
    for i in range(3):
        step(cm, tm, random_input(r, ndim, c=c), seed + i, atol=1e-4, what="train step %d" % i)
    cm.eval()
    tm.eval()
    for i in range(2):
        step(cm, tm, random_input(r, ndim, c=c), seed + 10 + i, atol=1e-4, what="eval step %d" % i)
    cm.train()
    tm.train()
    step(cm, tm, random_input(r, ndim, c=c), seed + 20, atol=1e-4, what="train again")
    if track:
        assert int(cm.num_batches_tracked.item()) == int(tm.num_batches_tracked) == 5


@pytest.mark.parametrize("ndim", [3, 4, 5])
def test_batch_size_one_with_spatial(ndim):
    r = rng(ndim)
    cm, tm = make(ndim, 4)
    randomize_affine(tm, r)
    check_module(cm, tm, random_input(r, ndim, n=1, c=4))
    step(cm, tm, random_input(r, ndim, n=1, c=4), 1, atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 16), (1, 16, 1), (1, 3, 1, 1), (1, 2, 1, 1, 1)])
def test_one_value_per_channel_error(shape):
    ndim = len(shape)
    cm, tm = make(ndim, shape[1])
    x = np.zeros(shape, np.float32)
    cmsg, tmsg = check_error(lambda: cm(cnnc.tensor(x)), lambda: tm(torch.tensor(x)),
                             "Expected more than 1 value per channel when training")
    assert cmsg == tmsg
    # eval mode with running stats is fine; without tracked stats it is not
    cm.eval()
    tm.eval()
    check_module(cm, tm, x, load_state=True)


def test_one_value_message_exact():
    cmsg, tmsg = check_error(lambda: nn.BatchNorm1d(16)(cnnc.zeros(1, 16)),
                             lambda: tnn.BatchNorm1d(16)(torch.zeros(1, 16)))
    assert cmsg == tmsg == ("Expected more than 1 value per channel when training, got input "
                            "size torch.Size([1, 16])")
    check_error(lambda: nn.BatchNorm1d(3, track_running_stats=False).eval()(cnnc.zeros(1, 3)),
                lambda: tnn.BatchNorm1d(3, track_running_stats=False).eval()(torch.zeros(1, 3)),
                "Expected more than 1 value per channel")


@pytest.mark.parametrize("ndim,bad", [(2, 4), (3, 1), (4, 3), (5, 4), (2, 5)])
def test_input_dim_errors(ndim, bad):
    cm, tm = make(ndim, 3)
    x = np.zeros((2, 3) + (2,) * (bad - 2) if bad >= 2 else (3,), np.float32)
    cmsg, tmsg = check_error(lambda: cm(cnnc.tensor(x)), lambda: tm(torch.tensor(x)), "expected")
    assert cmsg == tmsg


@pytest.mark.parametrize("affine,track", [(True, True), (False, True), (True, False)])
def test_channel_mismatch_errors(affine, track):
    x = np.zeros((2, 3, 4), np.float32)
    cmsg, tmsg = check_error(
        lambda: nn.BatchNorm1d(4, affine=affine, track_running_stats=track)(cnnc.tensor(x)),
        lambda: tnn.BatchNorm1d(4, affine=affine, track_running_stats=track)(torch.tensor(x)))
    assert cmsg == tmsg


def test_channel_mismatch_without_anything_works():
    x = randn(rng(0), 2, 3, 4)
    check_module(nn.BatchNorm1d(4, affine=False, track_running_stats=False),
                 tnn.BatchNorm1d(4, affine=False, track_running_stats=False), x)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 3, 0), (0, 3, 2, 2)])
def test_empty_batch(shape):
    ndim = len(shape)
    cm, tm = make(ndim, 3)
    randomize_affine(tm, rng(1))
    check_module(cm, tm, np.zeros(shape, np.float32))
    cm.eval()
    tm.eval()
    check_module(cm, tm, np.zeros(shape, np.float32))


# --- repr, attributes, state_dict ------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"eps": 1e-3, "momentum": 0.5},
                                {"affine": False}, {"track_running_stats": False},
                                {"eps": 0.1, "affine": False, "track_running_stats": False}])
@pytest.mark.parametrize("ndim", [2, 4, 5])
def test_repr_attrs_state(kw, ndim):
    cm, tm = make(ndim, 16, **kw)
    assert repr(cm) == repr(tm)
    for a in ["num_features", "eps", "momentum", "affine", "track_running_stats", "training"]:
        assert getattr(cm, a) == getattr(tm, a), a
    assert list(cm.state_dict().keys()) == list(tm.state_dict().keys())
    for name in ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]:
        c, t = getattr(cm, name), getattr(tm, name)
        assert (c is None) == (t is None), name
        if t is not None:
            assert_close(c, t, 0, 0, name)
    assert [n for n, _ in cm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in cm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    if tm.track_running_stats:
        assert cm.num_batches_tracked.dtype == "int64" and cm.num_batches_tracked.shape == ()
    if tm.affine:
        assert cm.weight.requires_grad and cm.bias.requires_grad


def test_vars_listing():
    text = nn.BatchNorm2d(16).vars()
    for frag in ["training: True", "weight: [16]", "bias: [16]", "running_mean: [16]",
                 "running_var: [16]", "num_batches_tracked: [] int64", "num_features: 16",
                 "eps: 1e-05", "momentum: 0.1", "affine: True", "track_running_stats: True"]:
        assert frag in text, (frag, text)
    assert "momentum: None" in nn.BatchNorm2d(16, momentum=None).vars()


def test_constructor_errors():
    check_error(lambda: nn.BatchNorm1d(-1), lambda: tnn.BatchNorm1d(-1), "negative dimension")


# --- functional -------------------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("ndim", [2, 3, 4, 5])
@seeds(4)
def test_functional_batch_norm(training, ndim, seed):
    r = rng(100 + seed * 7 + ndim)
    x = random_input(r, ndim)
    c = x.shape[1]
    w = randn(r, c) if r.randint(2) else None
    b = randn(r, c) if r.randint(2) else None
    momentum = [0.0, 1.0, 0.1, 0.7][r.randint(4)]
    eps = [1e-5, 1e-2][r.randint(2)]
    give_stats = (not training) or bool(r.randint(2))
    rm0 = randn(r, c)
    rv0 = np.asarray(r.uniform(0.5, 2, c), np.float32)
    rc = [cnnc.tensor(rm0), cnnc.tensor(rv0)] if give_stats else [None, None]
    rt = [torch.tensor(rm0), torch.tensor(rv0)] if give_stats else [None, None]
    versions = [t._version for t in rc if t is not None]
    check_op(lambda a, ww, bb: F.batch_norm(a, rc[0], rc[1], ww, bb, training, momentum, eps),
             lambda a, ww, bb: TF.batch_norm(a, rt[0], rt[1], ww, bb, training, momentum, eps),
             [x, w, b], seed=seed, atol=1e-4)
    if give_stats:
        assert_close(rc[0], rt[0], 1e-5, 1e-6, "running_mean")
        assert_close(rc[1], rt[1], 1e-5, 1e-6, "running_var")
        assert not rc[0].requires_grad and rc[0].grad is None
        if training:
            assert all(t._version > v for t, v in zip(rc, versions))


def test_functional_running_mean_only():
    r = rng(5)
    x = randn(r, 4, 3, 5)
    rc, rt = cnnc.zeros(3), torch.zeros(3)
    check_op(lambda a: F.batch_norm(a, rc, None, training=True),
             lambda a: TF.batch_norm(a, rt, None, training=True), [x])
    assert_close(rc, rt)


def test_unbiased_running_var():
    """running_var gets the unbiased batch variance; the output uses the biased one."""
    x = randn(rng(3), 2, 2, 1) * 3
    rc, rt = cnnc.ones(2), torch.ones(2)
    check_op(lambda a: F.batch_norm(a, None, rc, training=True, momentum=1.0),
             lambda a: TF.batch_norm(a, None, rt, training=True, momentum=1.0), [x])
    assert_close(rc, rt)
    np.testing.assert_allclose(rc.numpy(), x.reshape(2, 2).var(0, ddof=1), rtol=1e-5)


@pytest.mark.parametrize("args,match", [
    (dict(rm=None, rv=None), "running_mean must be defined in evaluation mode"),
    (dict(rm=3, rv=None), "running_var must be defined in evaluation mode"),
    (dict(rm=4, rv=3), "running_mean should contain 3 elements not 4"),
    (dict(rm=3, rv=4), "running_var should contain 3 elements not 4"),
    (dict(rm=3, rv=3, w=4), "weight should contain 3 elements not 4"),
    (dict(rm=3, rv=3, b=4), "bias should contain 3 elements not 4"),
])
def test_functional_errors(args, match):
    def run(lib, fn):
        mk = lambda n: None if n is None else lib.zeros(n)  # noqa: E731
        return fn(lib.zeros(2, 3, 4), mk(args.get("rm")), mk(args.get("rv")), mk(args.get("w")),
                  mk(args.get("b")))
    cmsg, tmsg = check_error(lambda: run(cnnc, F.batch_norm), lambda: run(torch, TF.batch_norm),
                             match)
    assert cmsg == tmsg


def test_functional_more_errors():
    check_error(lambda: F.batch_norm(cnnc.zeros(3), cnnc.zeros(3), cnnc.ones(3)),
                lambda: TF.batch_norm(torch.zeros(3), torch.zeros(3), torch.ones(3)),
                "running_mean should contain 0 elements not 3")
    # momentum None is a module feature: the functional form refuses it in both
    with pytest.raises(TypeError):
        TF.batch_norm(torch.zeros(2, 3), torch.zeros(3), torch.ones(3), momentum=None)
    with pytest.raises(TypeError):
        F.batch_norm(cnnc.zeros(2, 3), cnnc.zeros(3), cnnc.ones(3), momentum=None)
    check_error(lambda: F.batch_norm(cnnc.zeros(2, 3), cnnc.zeros(3, requires_grad=True),
                                     cnnc.ones(3), training=True),
                lambda: TF.batch_norm(torch.zeros(2, 3), torch.zeros(3, requires_grad=True),
                                      torch.ones(3), training=True),
                "is not differentiable with respect to argument 'running_mean'")
    check_error(lambda: nn.BatchNorm1d(0)(cnnc.zeros(2, 0)), lambda: tnn.BatchNorm1d(0)(torch.zeros(2, 0)))


# --- numerics -------------------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False])
def test_large_mean_precision(training):
    """mean 1e4, std 1, many values per channel: compared with a float64 reference,
    cnnc is at least about as accurate as torch."""
    r = rng(42)
    x = (1e4 + randn(r, 8, 3, 64, 64)).astype(np.float32)
    x64 = x.astype(np.float64)
    if training:
        mean = x64.mean(axis=(0, 2, 3), keepdims=True)
        var = x64.var(axis=(0, 2, 3), keepdims=True)
        rm = rv = None
    else:
        rm = np.full(3, 1e4 + 0.01, np.float32)
        rv = np.full(3, 1.1, np.float32)
        mean = rm.astype(np.float64).reshape(1, 3, 1, 1)
        var = rv.astype(np.float64).reshape(1, 3, 1, 1)
    ref = (x64 - mean) / np.sqrt(var + 1e-5)
    yc = F.batch_norm(cnnc.tensor(x), None if rm is None else cnnc.tensor(rm),
                      None if rv is None else cnnc.tensor(rv), training=training).numpy()
    yt = TF.batch_norm(torch.tensor(x), None if rm is None else torch.tensor(rm),
                       None if rv is None else torch.tensor(rv), training=training).numpy()
    ec, et = float64_reference_check(yc, yt, ref)
    assert ec < 1e-4, ec
    if training:  # the running statistics too
        rc, rt = cnnc.zeros(3), torch.zeros(3)
        vc, vt = cnnc.ones(3), torch.ones(3)
        F.batch_norm(cnnc.tensor(x), rc, vc, training=True, momentum=1.0)
        TF.batch_norm(torch.tensor(x), rt, vt, training=True, momentum=1.0)
        ref_v = x64.var(axis=(0, 2, 3), ddof=1)
        float64_reference_check(vc.numpy(), vt.numpy(), ref_v, floor=1e-6)
        float64_reference_check(rc.numpy(), rt.numpy(), x64.mean(axis=(0, 2, 3)), floor=1e-3)


def test_large_mean_gradients():
    r = rng(7)
    x = (1e4 + randn(r, 4, 2, 32, 32)).astype(np.float32)
    check_op(lambda a, w, b: F.batch_norm(a, None, None, w, b, True),
             lambda a, w, b: TF.batch_norm(a, None, None, w, b, True),
             [x, randn(r, 2), randn(r, 2)], rtol=1e-3, atol=1e-3)
