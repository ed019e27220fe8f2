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
