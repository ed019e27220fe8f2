"""F.avg_pool{1,2,3}d and nn.AvgPool{1,2,3}d against torch: randomized configurations
(ceil_mode, count_include_pad, divisor_override, int/tuple forms, batched/unbatched),
exhaustive small sweeps, errors, modules."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as cnn
import cnnc.nn.functional as F
from helpers import check_error, check_op, randn, rng, seeds

FN = {1: (F.avg_pool1d, TF.avg_pool1d), 2: (F.avg_pool2d, TF.avg_pool2d),
      3: (F.avg_pool3d, TF.avg_pool3d)}
MOD = {1: (cnn.AvgPool1d, tnn.AvgPool1d), 2: (cnn.AvgPool2d, tnn.AvgPool2d),
       3: (cnn.AvgPool3d, tnn.AvgPool3d)}


def arg(r, nsp, values):
    if (r.rand() < 0.5 or nsp == 1) and len(set(values)) == 1:
        return int(values[0])  # a 1-tuple is cnnc_ints' int form (pool.h)
    return tuple(int(v) for v in values)


def random_config(r, nsp):
    k = [int(r.randint(1, 5)) for _ in range(nsp)]
    cfg = dict(kernel_size=arg(r, nsp, k))
    if r.rand() < 0.7:
        cfg["stride"] = arg(r, nsp, [int(r.randint(1, 4)) for _ in range(nsp)])
    if r.rand() < 0.7:
        cfg["padding"] = arg(r, nsp, [int(r.randint(0, kk // 2 + 1)) for kk in k])
    cfg["ceil_mode"] = bool(r.rand() < 0.5)
    cfg["count_include_pad"] = bool(r.rand() < 0.5)
    if nsp > 1 and r.rand() < 0.3:
        cfg["divisor_override"] = int(r.choice([1, 2, 3, 7, -2]))
    batched = r.rand() < 0.7
    shape = ([int(r.randint(1, 4))] if batched else []) + [int(r.randint(1, 4))] + \
        [int(r.randint(1, 12 if nsp < 3 else 8)) for _ in range(nsp)]
    return cfg, shape


def run_case(nsp, cfg, x, requires_grad=True, seed=0):
    cf, tf = FN[nsp]
    try:
        tf(torch.tensor(x), **cfg)
    except RuntimeError:
        check_error(lambda: cf(cnnc.tensor(x), **cfg), lambda: tf(torch.tensor(x), **cfg))
        return False
    check_op(lambda a: cf(a, **cfg), lambda a: tf(a, **cfg), [x], requires_grad=requires_grad,
             seed=seed)
    return True


@pytest.mark.parametrize("nsp", [1, 2, 3])
@seeds(12)
def test_avg_pool_random(nsp, seed):
    r = rng(300 + 100 * nsp + seed)
    ran = 0
    for _ in range(25):
        cfg, shape = random_config(r, nsp)
        ran += run_case(nsp, cfg, randn(r, *shape), requires_grad=bool(r.rand() < 0.8), seed=seed)
    assert ran > 0


def test_avg_pool1d_exhaustive_small():
    r = rng(11)
    n = 0
    for L, k, s, ceil, cip in itertools.product(range(1, 9), range(1, 5), range(1, 4),
                                                (False, True), (False, True)):
        for p in range(k // 2 + 1):
            n += run_case(1, dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil,
                                  count_include_pad=cip), randn(r, 2, 3, L))
    assert n > 300


def test_avg_pool2d_ceil_divisor_clipped_at_padded_edge():
    r = rng(12)
    for H, k, s, p, cip in itertools.product(range(1, 7), range(1, 4), range(1, 4), range(2),
                                             (False, True)):
        if p > k // 2:
            continue
        run_case(2, dict(kernel_size=k, stride=s, padding=p, ceil_mode=True,
                         count_include_pad=cip), randn(r, 1, 2, H, H + 2))


@pytest.mark.parametrize("div", [1, 3, -1, 100])
@pytest.mark.parametrize("nsp", [2, 3])
def test_divisor_override(nsp, div):
    x = randn(rng(div + 10), 2, 3, *(6,) * nsp)
    check_op(lambda a: FN[nsp][0](a, 3, 2, 1, True, False, div),
             lambda a: FN[nsp][1](a, 3, 2, 1, True, False, div), [x])


def test_avg_pool1d_has_no_divisor_override():
    with pytest.raises(TypeError):
        F.avg_pool1d(cnnc.zeros(1, 1, 4), 2, divisor_override=2)
    with pytest.raises(TypeError):
        TF.avg_pool1d(torch.zeros(1, 1, 4), 2, divisor_override=2)


def test_large_fast_path_matches():
    r = rng(5)
    x = randn(r, 2, 8, 37, 41)
    for cfg in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                dict(kernel_size=(3, 5), stride=(1, 3), padding=(1, 2), ceil_mode=True,
                     count_include_pad=False)]:
        check_op(lambda a: F.avg_pool2d(a, **cfg), lambda a: TF.avg_pool2d(a, **cfg), [x])
    wide = randn(r, 1, 1, 3, 3000)  # wider than the fast kernel's row buffer
    check_op(lambda a: F.avg_pool2d(a, (2, 7), (1, 5), (1, 3)),
             lambda a: TF.avg_pool2d(a, (2, 7), (1, 5), (1, 3)), [wide])


def test_special_values_and_empty_batch():
    x = randn(rng(1), 1, 2, 6, 6)
    x[0, 0, 1, 1] = np.nan
    x[0, 1, 2, 3] = np.inf
    check_op(lambda a: F.avg_pool2d(a, 2), lambda a: TF.avg_pool2d(a, 2), [x], requires_grad=False)
    for nsp in (1, 2, 3):
        z = np.zeros((0, 2) + (4,) * nsp, np.float32)
        check_op(lambda a: FN[nsp][0](a, 2), lambda a: FN[nsp][1](a, 2), [z])


X = {1: (2, 3, 10), 2: (2, 3, 10, 10), 3: (2, 3, 6, 6, 6)}
ERRORS = [
    (1, None, dict(kernel_size=3, padding=2), "pad should be at most half of kernel size, but got pad=2 and kernel_size=3"),
    (2, None, dict(kernel_size=3, padding=2), "pad should be at most half"),
    (3, None, dict(kernel_size=3, padding=2), "pad should be at most half"),
    (1, None, dict(kernel_size=11), "Given input size: (3x1x10). Calculated output size: (3x1x0). Output size is too small"),
    (2, None, dict(kernel_size=11), "Calculated output size: (3x0x0)"),
    (3, None, dict(kernel_size=7), "input image (T: 6 H: 6 W: 6) smaller than kernel size (kT: 7 kH: 7 kW: 7)"),
    (3, (1, 1, 3, 3, 3), dict(kernel_size=4, padding=2, stride=1), "smaller than kernel size"),
    (1, None, dict(kernel_size=3, stride=0), "stride should not be zero"),
    (2, None, dict(kernel_size=3, stride=0), "stride should not be zero"),
    (3, None, dict(kernel_size=3, stride=0), "stride should not be zero"),
    (2, None, dict(kernel_size=3, stride=-1), "stride should be greater than zero, but got dH: -1 dW: -1"),
    (3, None, dict(kernel_size=3, stride=-1), "dT: -1 dH: -1 dW: -1"),
    (2, None, dict(kernel_size=0, stride=1), "kernel size should be greater than zero, but got kH: 0 kW: 0"),
    (1, None, dict(kernel_size=0, stride=1), "kernel size should be greater than zero, but got kH: 1 kW: 0"),
    (3, None, dict(kernel_size=0, stride=1), "kT: 0 kH: 0 kW: 0"),
    (2, None, dict(kernel_size=3, padding=-1), "pad must be non-negative, but got pad: -1"),
    (2, None, dict(kernel_size=3, divisor_override=0), "divisor must be not zero"),
    (3, None, dict(kernel_size=3, divisor_override=0), "divisor must be not zero"),
    (2, (3, 3), dict(kernel_size=2), "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    (2, (2, 3, 6, 6, 6), dict(kernel_size=2), "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:[2, 3, 6, 6, 6]"),
    (1, (5,), dict(kernel_size=2), "Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 'self' (while checking arguments for avg_pool1d)"),
    (1, (2, 3, 4, 4), dict(kernel_size=2), "got 4-dimensional tensor"),
    (3, (2, 3, 10), dict(kernel_size=2), "non-empty 4D or 5D (batch mode) tensor expected for input"),
    (1, None, dict(kernel_size=(2, 2)), "avg_pool1d() argument 'kernel_size' should contain one int (got 2)"),
    (1, None, dict(kernel_size=2, stride=(2, 2)), "avg_pool1d() argument 'stride' should contain one int (got 2)"),
    (1, None, dict(kernel_size=2, padding=(0, 0)), "avg_pool1d() argument 'padding' should contain one int (got 2)"),
    (2, None, dict(kernel_size=(2, 2, 2)), "avg_pool2d: kernel_size must either be a single int, or a tuple of two ints"),
    (2, None, dict(kernel_size=2, stride=(2, 2, 2)), "avg_pool2d: stride must either be omitted, a single int, or a tuple of two ints"),
    (2, None, dict(kernel_size=2, padding=(1, 1, 1)), "avg_pool2d: padding must either be a single int, or a tuple of two ints"),
    (3, None, dict(kernel_size=(2, 2)), "avg_pool3d: kernel_size must be a single int, or a tuple of three ints"),
    (3, None, dict(kernel_size=2, stride=(1, 1)), "avg_pool3d: stride must be omitted"),
    (3, None, dict(kernel_size=2, padding=(1, 1)), "avg_pool3d: padding must be a single int"),
    (2, (2, 0, 4, 4), dict(kernel_size=2), "but got:[2, 0, 4, 4]"),
    (1, (2, 0, 4), dict(kernel_size=2), "but got:[2, 0, 1, 4]"),
    (1, (2, 3, 0), dict(kernel_size=2), "but got:[2, 3, 1, 0]"),
    (3, (2, 0, 4, 4, 4), dict(kernel_size=2), "avg_pool3d(): Expected input's non-batch dimensions to have positive length"),
    (3, (0, 4, 4, 4), dict(kernel_size=2), "has a shape of [0, 4, 4, 4]"),
]


@pytest.mark.parametrize("nsp,shape,kw,frag", ERRORS)
def test_errors(nsp, shape, kw, frag):
    shape = shape or X[nsp]
    cm, tm = check_error(lambda: FN[nsp][0](cnnc.zeros(*shape), **kw),
                         lambda: FN[nsp][1](torch.zeros(*shape), **kw), frag)
    assert cm == tm, (cm, tm)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@seeds(4)
def test_module_random(nsp, seed):
    r = rng(700 + 10 * nsp + seed)
    for _ in range(8):
        cfg, shape = random_config(r, nsp)
        cm, tm = MOD[nsp][0](**cfg), MOD[nsp][1](**cfg)
        assert repr(cm) == repr(tm)
        names = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"]
        names += ["divisor_override"] if nsp > 1 else []
        for name in names:
            assert getattr(cm, name) == getattr(tm, name), name
        assert list(cm.state_dict().keys()) == []
        x = randn(r, *shape)
        try:
            tm(torch.tensor(x))
        except RuntimeError:
            check_error(lambda: cm(cnnc.tensor(x)), lambda: tm(torch.tensor(x)))
            continue
        check_op(cm, tm, [x], seed=seed)


def test_module_reprs():
    for c, t in [(cnn.AvgPool1d(3), tnn.AvgPool1d(3)), (cnn.AvgPool2d(2, stride=2), tnn.AvgPool2d(2, stride=2)),
                 (cnn.AvgPool2d((2, 3), padding=1, divisor_override=2), tnn.AvgPool2d((2, 3), padding=1, divisor_override=2)),
                 (cnn.AvgPool3d(2, (1, 2, 1)), tnn.AvgPool3d(2, (1, 2, 1)))]:
        assert repr(c) == repr(t)
    assert repr(cnn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
