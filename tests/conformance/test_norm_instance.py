"""InstanceNorm1d/2d/3d and F.instance_norm against PyTorch 1.13."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as nn
import cnnc.nn.functional as F
from helpers import assert_close, check_error, check_module, check_op, randn, rng, seeds
from test_norm_common import float64_reference_check, randomize_affine, step

CLASSES = {1: "InstanceNorm1d", 2: "InstanceNorm2d", 3: "InstanceNorm3d"}


def make(nsp, c, **kw):
    return getattr(nn, CLASSES[nsp])(c, **kw), getattr(tnn, CLASSES[nsp])(c, **kw)


def random_input(r, nsp, c, batched=True, n=None):
    n = int(r.randint(1, 4)) if n is None else n
    spatial = [int(r.randint(1, 5)) for _ in range(nsp)]
    if np.prod(spatial) == 1:
        spatial[-1] = 2
    shape = ([n] if batched else []) + [c] + spatial
    return (randn(r, *shape) * float(r.uniform(0.5, 3)) + float(r.uniform(-2, 2))).astype(np.float32)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("momentum", [0.1, 0.0, 1.0, 0.4])
@seeds(5)
def test_instancenorm_module_steps(nsp, momentum, seed):
    r = rng(seed * 13 + nsp)
    affine, track = bool(r.randint(2)), bool(r.randint(2))
    eps = [1e-5, 1e-3][r.randint(2)]
    c = int(r.randint(1, 5))
    cm, tm = make(nsp, c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    randomize_affine(tm, r)
    check_module(cm, tm, random_input(r, nsp, c), seed=seed)
    for i in range(2):
        step(cm, tm, random_input(r, nsp, c), seed + i, atol=1e-4, what="train %d" % i)
    step(cm, tm, random_input(r, nsp, c, batched=False), seed + 5, atol=1e-4, what="unbatched")
    cm.eval()
    tm.eval()
    for i in range(2):
        step(cm, tm, random_input(r, nsp, c), seed + 10 + i, atol=1e-4, what="eval %d" % i)
    step(cm, tm, random_input(r, nsp, c, batched=False), seed + 15, atol=1e-4, what="eval unbatched")
    if track:  # never incremented by instance norm
        assert int(cm.num_batches_tracked.item()) == int(tm.num_batches_tracked) == 0


@pytest.mark.parametrize("kw", [{}, {"affine": True}, {"track_running_stats": True},
                                {"affine": True, "track_running_stats": True, "eps": 1e-3},
                                {"momentum": None}])
@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_repr_attrs_state(kw, nsp):
    cm, tm = make(nsp, 5, **kw)
    assert repr(cm) == repr(tm)
    for a in ["num_features", "eps", "momentum", "affine", "track_running_stats"]:
        assert getattr(cm, a) == getattr(tm, a)
    assert list(cm.state_dict().keys()) == list(tm.state_dict().keys())


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_momentum_none_errors(nsp):
    for track in [False, True]:
        cm, tm = make(nsp, 3, momentum=None, track_running_stats=track)
        x = np.zeros((2, 3) + (4,) * nsp, np.float32)
        check_error(lambda: cm(cnnc.tensor(x)), lambda: tm(torch.tensor(x)),
                    "argument 'momentum' (position 7) must be float, not NoneType")


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_dim_errors(nsp):
    cm, tm = make(nsp, 3)
    for nd in [nsp, nsp + 3]:
        x = np.zeros((3,) * nd, np.float32)
        cmsg, tmsg = check_error(lambda: cm(cnnc.tensor(x)), lambda: tm(torch.tensor(x)), "expected")
        assert cmsg == tmsg


@pytest.mark.parametrize("shape", [(2, 3, 1), (3, 1)])
def test_single_spatial_errors(shape):
    cm, tm = make(1, 3)
    cmsg, tmsg = check_error(lambda: cm(cnnc.zeros(*shape)), lambda: tm(torch.zeros(*shape)),
                             "Expected more than 1 spatial element when training")
    assert cmsg == tmsg
    cm.eval()
    tm.eval()
    check_error(lambda: cm(cnnc.zeros(*shape)), lambda: tm(torch.zeros(*shape)),
                "Expected more than 1 spatial element")
    cm, tm = make(1, 3, track_running_stats=True)
    cm.eval()
    tm.eval()
    check_module(cm, tm, randn(rng(0), *shape))


@pytest.mark.parametrize("kw", [{"affine": True}, {"track_running_stats": True}])
def test_channel_mismatch(kw):
    x = np.zeros((2, 3, 4), np.float32)
    cmsg, tmsg = check_error(lambda: nn.InstanceNorm1d(4, **kw)(cnnc.tensor(x)),
                             lambda: tnn.InstanceNorm1d(4, **kw)(torch.tensor(x)))
    assert cmsg == tmsg
    # without parameters or stats num_features is not checked (as torch)
    check_module(nn.InstanceNorm1d(4), tnn.InstanceNorm1d(4), randn(rng(1), 2, 3, 4))


@pytest.mark.parametrize("use_input_stats", [True, False])
@seeds(6)
def test_functional(use_input_stats, seed):
    r = rng(seed)
    nsp = int(r.randint(1, 4))
    c = int(r.randint(1, 5))
    x = random_input(r, nsp, c)
    w = randn(r, c) if r.randint(2) else None
    b = randn(r, c) if r.randint(2) else None
    give = (not use_input_stats) or bool(r.randint(2))
    rm0, rv0 = randn(r, c), np.asarray(r.uniform(0.5, 2, c), np.float32)
    rc = [cnnc.tensor(rm0), cnnc.tensor(rv0)] if give else [None, None]
    rt = [torch.tensor(rm0), torch.tensor(rv0)] if give else [None, None]
    mom = [0.1, 0.0, 1.0, 0.5][r.randint(4)]
    check_op(lambda a, ww, bb: F.instance_norm(a, rc[0], rc[1], ww, bb, use_input_stats, mom),
             lambda a, ww, bb: TF.instance_norm(a, rt[0], rt[1], ww, bb, use_input_stats, mom),
             [x, w, b], seed=seed, atol=1e-4)
    for cc, tt in zip(rc, rt):
        assert_close(cc, tt, 1e-5, 1e-6, "running stat")


def test_functional_one_running_stat():
    x = randn(rng(2), 3, 2, 5)
    for which in [0, 1]:
        rc = [None, None]
        rt = [None, None]
        rc[which], rt[which] = cnnc.ones(2), torch.ones(2)
        check_op(lambda a: F.instance_norm(a, rc[0], rc[1]),
                 lambda a: TF.instance_norm(a, rt[0], rt[1]), [x])
        assert_close(rc[which], rt[which])


def test_functional_errors():
    check_error(lambda: F.instance_norm(cnnc.zeros(2, 3, 4), use_input_stats=False),
                lambda: TF.instance_norm(torch.zeros(2, 3, 4), use_input_stats=False),
                "Expected running_mean and running_var to be defined when use_input_stats is false")
    for shape in [(3, 4), (3,)]:
        cmsg, tmsg = check_error(lambda: F.instance_norm(cnnc.zeros(*shape)),
                                 lambda: TF.instance_norm(torch.zeros(*shape)))
        assert cmsg == tmsg


def test_empty_batch_running_stats():
    for shape in [(0, 3, 4), (2, 3, 0)]:
        rc, vc, rt, vt = cnnc.zeros(3), cnnc.ones(3), torch.zeros(3), torch.ones(3)
        check_op(lambda a: F.instance_norm(a, rc, vc), lambda a: TF.instance_norm(a, rt, vt),
                 [np.zeros(shape, np.float32)])
        assert_close(rc, rt)
        assert_close(vc, vt)


def test_large_mean_precision():
    r = rng(9)
    x = (1e4 + randn(r, 2, 3, 128, 128)).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = (x64 - x64.mean(axis=(2, 3), keepdims=True)) / np.sqrt(
        x64.var(axis=(2, 3), keepdims=True) + 1e-5)
    yc = F.instance_norm(cnnc.tensor(x)).numpy()
    yt = TF.instance_norm(torch.tensor(x)).numpy()
    ec, _ = float64_reference_check(yc, yt, ref)
    assert ec < 1e-4


def test_empty_batch_with_affine_errors():
    cmsg, tmsg = check_error(lambda: F.instance_norm(cnnc.zeros(0, 3, 4), None, None, cnnc.ones(3)),
                             lambda: TF.instance_norm(torch.zeros(0, 3, 4), None, None, torch.ones(3)),
                             "select(): index 0 out of range")
    assert cmsg == tmsg
