"""LocalResponseNorm and F.local_response_norm against PyTorch 1.13."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as nn
import cnnc.nn.functional as F
from helpers import check_error, check_module, check_op, randn, rng, seeds


@seeds(24)
def test_lrn_random(seed):
    r = rng(seed)
    nd = int(r.randint(3, 7))
    shape = tuple(int(v) for v in r.randint(1, 6, size=nd))
    size = int(r.randint(1, 8))
    alpha = [1e-4, 0.1, 1.0][r.randint(3)]
    beta = [0.75, 0.5, 1.0, 0.3, 2.0][r.randint(5)]
    k = [1.0, 2.0, 0.5][r.randint(3)]
    x = randn(r, *shape) * 2
    check_op(lambda a: F.local_response_norm(a, size, alpha, beta, k),
             lambda a: TF.local_response_norm(a, size, alpha, beta, k), [x], seed=seed, atol=1e-4)
    cm, tm = nn.LocalResponseNorm(size, alpha, beta, k), tnn.LocalResponseNorm(size, alpha, beta, k)
    assert repr(cm) == repr(tm)
    for a in ["size", "alpha", "beta", "k"]:
        assert getattr(cm, a) == getattr(tm, a)
    check_module(cm, tm, x, seed=seed, atol=1e-4)


def test_lrn_wide():
    r = rng(3)
    x = randn(r, 2, 40, 33, 37)
    check_op(lambda a: F.local_response_norm(a, 5, 0.5, 0.75, 1.0),
             lambda a: TF.local_response_norm(a, 5, 0.5, 0.75, 1.0), [x], atol=1e-4)


def test_lrn_empty_and_errors():
    check_op(lambda a: F.local_response_norm(a, 2), lambda a: TF.local_response_norm(a, 2),
             [np.zeros((0, 3, 4), np.float32)])
    check_op(lambda a: F.local_response_norm(a, 2), lambda a: TF.local_response_norm(a, 2),
             [np.zeros((2, 3, 0), np.float32)])
    cmsg, tmsg = check_error(lambda: F.local_response_norm(cnnc.zeros(2, 3), 2),
                             lambda: TF.local_response_norm(torch.zeros(2, 3), 2))
    assert cmsg == tmsg
    for shape in [(2, 3, 4), (2, 3, 4, 4)]:
        cmsg, tmsg = check_error(lambda: F.local_response_norm(cnnc.zeros(*shape), 0),
                                 lambda: TF.local_response_norm(torch.zeros(*shape), 0))
        assert cmsg == tmsg
        check_error(lambda: F.local_response_norm(cnnc.zeros(*shape), -2),
                    lambda: TF.local_response_norm(torch.zeros(*shape), -2))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("values", [
    [1e9, 1, 1, 1, 1, 1],          # the sliding sum of squares cancelled: 1e18 + 1 - 1e18
    [-3e8, 2, -1, 1e8, 1, 1],
    [np.nan, 1, 1, 1, 1, 1],       # NaN reaches every channel whose window holds it
    [1, 1, np.inf, 1, 1, 1],       # Inf: Inf/Inf is NaN at the channel, x/Inf = 0 beside it
    [1, -np.inf, 1, np.nan, 1, 2],
])
def test_lrn_large_and_special_values(values, size):
    """Issue 9 item 5: every window's sum of squares is summed afresh (no cancellation,
    no Inf - Inf), forward and input gradient as PyTorch's."""
    x = np.array(values, np.float32).reshape(1, 6, 1)
    g = (np.arange(6, dtype=np.float32) + 1).reshape(1, 6, 1)
    check_op(lambda a: F.local_response_norm(a, size, 1.0, 0.75, 1.0),
             lambda a: TF.local_response_norm(a, size, 1.0, 0.75, 1.0), [x], grad_output=g)
    x4 = np.repeat(x.reshape(1, 6, 1, 1), 3, axis=3)
    check_op(lambda a: F.local_response_norm(a, size, 0.5, 1.0, 2.0),
             lambda a: TF.local_response_norm(a, size, 0.5, 1.0, 2.0), [x4])
