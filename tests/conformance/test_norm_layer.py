"""LayerNorm and F.layer_norm against PyTorch 1.13."""
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
def test_layernorm_module(seed):
    r = rng(seed)
    nd = int(r.randint(1, 6))
    shape = tuple(int(v) for v in r.randint(1, 6, size=nd))
    k = int(r.randint(1, nd + 1))
    ns = shape[nd - k:]
    affine = bool(r.randint(2))
    eps = [1e-5, 1e-3, 0.5][r.randint(3)]
    arg = ns[0] if (k == 1 and r.randint(2)) else list(ns)
    cm = nn.LayerNorm(arg, eps=eps, elementwise_affine=affine)
    tm = tnn.LayerNorm(arg, eps=eps, elementwise_affine=affine)
    randomize_affine(tm, r)
    assert repr(cm) == repr(tm)
    assert cm.normalized_shape == tm.normalized_shape and cm.eps == tm.eps
    assert cm.elementwise_affine == tm.elementwise_affine
    x = (randn(r, *shape) * 2 + 1).astype(np.float32)
    check_module(cm, tm, x, seed=seed, atol=1e-4)
    for i in range(2):
        step(cm, tm, (randn(r, *shape) - 3).astype(np.float32), seed + i, atol=1e-4)


@seeds(10)
def test_functional(seed):
    r = rng(100 + seed)
    nd = int(r.randint(1, 6))
    shape = tuple(int(v) for v in r.randint(1, 7, size=nd))
    k = int(r.randint(1, nd + 1))
    ns = shape[nd - k:]
    w = randn(r, *ns) if r.randint(2) else None
    b = randn(r, *ns) if r.randint(2) else None
    check_op(lambda x, ww, bb: F.layer_norm(x, ns, ww, bb, 1e-5),
             lambda x, ww, bb: TF.layer_norm(x, ns, ww, bb, 1e-5),
             [randn(r, *shape), w, b], seed=seed, atol=1e-4)


@pytest.mark.parametrize("shape,ns", [((8, 64, 56, 56), (64, 56, 56)), ((3, 5000), (5000,)),
                                      ((2, 0), (0,)), ((0, 4), (4,)), ((5, 1), (1,))])
def test_sizes(shape, ns):
    r = rng(1)
    check_op(lambda x, w, b: F.layer_norm(x, ns, w, b), lambda x, w, b: TF.layer_norm(x, ns, w, b),
             [randn(r, *shape), randn(r, *ns), randn(r, *ns)], atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("xs,ns,ws,bs", [
    ((2, 3, 4), [], None, None), ((2, 3, 4), [3], None, None), ((2, 3, 4), [4], (3,), None),
    ((2, 3, 4), [4], (4,), (3,)), ((2, 3, 4), [4], (1, 4), None), ((2, 3, 4), [1, 2, 3, 4], None, None),
    ((), [1], None, None)])
def test_errors(xs, ns, ws, bs):
    def run(lib, fn):
        return fn(lib.zeros(xs), ns, None if ws is None else lib.ones(ws),
                  None if bs is None else lib.ones(bs))
    cmsg, tmsg = check_error(lambda: run(cnnc, F.layer_norm), lambda: run(torch, TF.layer_norm))
    assert cmsg == tmsg


def test_module_errors_and_reprs():
    check_error(lambda: nn.LayerNorm(-1), lambda: tnn.LayerNorm(-1), "negative dimension -1: [-1]")
    assert repr(nn.LayerNorm([])) == repr(tnn.LayerNorm([]))
    check_error(lambda: nn.LayerNorm([])(cnnc.zeros(2)), lambda: tnn.LayerNorm([])(torch.zeros(2)),
                "Expected normalized_shape to be at least 1-dimensional")
    assert repr(nn.LayerNorm(0)) == repr(tnn.LayerNorm(0))
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []


def test_large_mean_precision():
    r = rng(11)
    x = (1e4 + randn(r, 4, 64 * 56 * 56)).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-5)
    ec, _ = float64_reference_check(F.layer_norm(cnnc.tensor(x), [x.shape[1]]).numpy(),
                                    TF.layer_norm(torch.tensor(x), [x.shape[1]]).numpy(), ref)
    assert ec < 1e-4
