"""GroupNorm and F.group_norm against PyTorch 1.13."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as nn
import cnnc.nn.functional as F
from helpers import check_error, check_module, check_op, randn, rng, seeds
from test_norm_common import float64_reference_check, randomize_affine, step


@seeds(24)
def test_groupnorm_module(seed):
    r = rng(seed)
    g = int(r.randint(1, 5))
    c = g * int(r.randint(1, 4))
    nsp = int(r.randint(0, 4))
    shape = (int(r.randint(1, 4)), c) + tuple(int(v) for v in r.randint(1, 5, size=nsp))
    if shape[0] * (c // g) * int(np.prod(shape[2:])) == 1:
        shape = (2,) + shape[1:]
    affine = bool(r.randint(2))
    eps = [1e-5, 1e-2][r.randint(2)]
    cm, tm = nn.GroupNorm(g, c, eps=eps, affine=affine), tnn.GroupNorm(g, c, eps=eps, affine=affine)
    randomize_affine(tm, r)
    assert repr(cm) == repr(tm)
    for a in ["num_groups", "num_channels", "eps", "affine"]:
        assert getattr(cm, a) == getattr(tm, a)
    assert list(cm.state_dict()) == list(tm.state_dict())
    check_module(cm, tm, (randn(r, *shape) * 2 - 1).astype(np.float32), seed=seed, atol=1e-4)
    step(cm, tm, randn(r, *shape), seed + 1, atol=1e-4)


@seeds(10)
def test_functional(seed):
    r = rng(50 + seed)
    g = int(r.randint(1, 4))
    c = g * int(r.randint(1, 4))
    shape = (int(r.randint(1, 4)), c) + tuple(int(v) for v in r.randint(2, 6, size=int(r.randint(0, 3))))
    w = randn(r, c) if r.randint(2) else None
    b = randn(r, c) if r.randint(2) else None
    # torch 1.13's backward fails ("tensor does not have a device") for a bias grad
    # without a weight; cnnc computes it (tested below), so do not ask torch for it here
    check_op(lambda x, ww, bb: F.group_norm(x, g, ww, bb), lambda x, ww, bb: TF.group_norm(x, g, ww, bb),
             [randn(r, *shape), w, b], requires_grad=[True, True, w is not None], seed=seed,
             atol=1e-4)


def test_bias_grad_without_weight():
    r = rng(4)
    x, b, g = randn(r, 2, 4, 3), randn(r, 4), randn(r, 2, 4, 3)
    bc = cnnc.tensor(b, requires_grad=True)
    F.group_norm(cnnc.tensor(x), 2, None, bc).backward(cnnc.tensor(g))
    np.testing.assert_allclose(bc.grad.numpy(), g.sum(axis=(0, 2)), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="does not have a device"):  # the torch bug
        bt = torch.tensor(b, requires_grad=True)
        TF.group_norm(torch.tensor(x), 2, None, bt).backward(torch.tensor(g))


@pytest.mark.parametrize("shape,g", [((8, 64, 56, 56), 32), ((0, 4, 3), 2), ((2, 4, 0), 2),
                                     ((2, 2), 2), ((1, 6, 3), 6)])
def test_sizes(shape, g):
    r = rng(2)
    c = shape[1]
    check_op(lambda x, w, b: F.group_norm(x, g, w, b), lambda x, w, b: TF.group_norm(x, g, w, b),
             [randn(r, *shape), randn(r, c), randn(r, c)], atol=1e-3)


@pytest.mark.parametrize("xs,g,ws,bs", [((2, 3, 4), -1, None, None), ((2, 3, 4), 2, None, None),
                                        ((2, 3, 4), 3, (4,), None), ((2, 3, 4), 3, (3,), (4,)),
                                        ((1, 2), 2, None, None), ((1, 2, 1), 2, None, None),
                                        ((4,), 2, None, None)])
def test_errors(xs, g, ws, bs):
    def run(lib, fn):
        return fn(lib.zeros(xs), g, None if ws is None else lib.ones(ws),
                  None if bs is None else lib.ones(bs))
    cmsg, tmsg = check_error(lambda: run(cnnc, F.group_norm), lambda: run(torch, TF.group_norm))
    assert cmsg == tmsg


def test_zero_groups_and_constructor_errors():
    check_error(lambda: F.group_norm(cnnc.zeros(2, 3, 4), 0),
                lambda: TF.group_norm(torch.zeros(2, 3, 4), 0),
                torch_exceptions=(ZeroDivisionError,))
    check_error(lambda: nn.GroupNorm(2, 3), lambda: tnn.GroupNorm(2, 3),
                "num_channels must be divisible by num_groups")
    check_error(lambda: nn.GroupNorm(0, 3), lambda: tnn.GroupNorm(0, 3),
                torch_exceptions=(ZeroDivisionError,))
    check_error(lambda: nn.GroupNorm(2, 4)(cnnc.zeros(2, 6, 3)),
                lambda: tnn.GroupNorm(2, 4)(torch.zeros(2, 6, 3)), "Expected weight to be a vector")


def test_large_mean_precision():
    r = rng(12)
    x = (1e4 + randn(r, 2, 8, 64, 64)).astype(np.float32)
    x64 = x.reshape(2, 4, -1).astype(np.float64)
    ref = ((x64 - x64.mean(2, keepdims=True)) / np.sqrt(x64.var(2, keepdims=True) + 1e-5)).reshape(x.shape)
    ec, _ = float64_reference_check(F.group_norm(cnnc.tensor(x), 4).numpy(),
                                    TF.group_norm(torch.tensor(x), 4).numpy(), ref)
    assert ec < 1e-4


@pytest.mark.parametrize("shape,groups", [((2, 4), 4), ((3, 6, 1), 6), ((2, 4, 1, 1), 4), ((3, 2), 2)])
def test_group_norm_one_value_per_group(shape, groups):
    """Issue 9 item 7: a group of one value normalizes to exactly 0 whatever x, so the
    input gradient is exactly 0 (PyTorch's fp32 leaves rounding dust up to ~1.5e-5);
    NaN and Inf inputs keep a NaN gradient, as in PyTorch."""
    r = rng(len(shape) + groups)
    C = shape[1]
    x, w, b = randn(r, *shape) * 3, randn(r, C), randn(r, C)
    g = randn(r, *shape)
    # PyTorch's fp32 x - mean leaves ~1e-5 * |x| / sqrt(eps) of dust in both directions
    check_op(lambda a, ww, bb: F.group_norm(a, groups, ww, bb),
             lambda a, ww, bb: TF.group_norm(a, groups, ww, bb), [x, w, b], grad_output=g,
             atol=3e-4)
    cx = cnnc.tensor(x, requires_grad=True)
    F.group_norm(cx, groups, cnnc.tensor(w), cnnc.tensor(b)).backward(cnnc.tensor(g))
    np.testing.assert_array_equal(cx.grad.numpy(), np.zeros(shape, np.float32))
    cx = cnnc.tensor(x.reshape(shape + (1,)), requires_grad=True)
    F.layer_norm(cx, (1,)).backward(cnnc.tensor(g.reshape(shape + (1,))))
    np.testing.assert_array_equal(cx.grad.numpy(), np.zeros(shape + (1,), np.float32))
    xs = x.copy()
    xs.flat[0], xs.flat[-1] = np.nan, np.inf
    res = check_op(lambda a: F.group_norm(a, groups), lambda a: TF.group_norm(a, groups), [xs],
                   grad_output=g, atol=3e-4)
    got = res.cnnc_inputs[0].grad.numpy()
    assert np.isnan(got.flat[0]) and np.isnan(got.flat[-1])
    np.testing.assert_array_equal(got.ravel()[1:-1], 0.0)
