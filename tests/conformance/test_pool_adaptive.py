"""F.adaptive_{avg,max}_pool{1,2,3}d and the Adaptive*Pool modules against torch:
output sizes that divide, do not divide, exceed the input, are 0, None entries,
return_indices, ties/NaN, the all-ones (mean) path, errors."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as cnn
import cnnc.nn.functional as F
from helpers import check_error, check_op, randn, rng, seeds

AVG = {1: (F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d),
       2: (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d),
       3: (F.adaptive_avg_pool3d, TF.adaptive_avg_pool3d)}
MAX = {1: (F.adaptive_max_pool1d, TF.adaptive_max_pool1d),
       2: (F.adaptive_max_pool2d, TF.adaptive_max_pool2d),
       3: (F.adaptive_max_pool3d, TF.adaptive_max_pool3d)}
MODS = {("avg", 1): (cnn.AdaptiveAvgPool1d, tnn.AdaptiveAvgPool1d),
        ("avg", 2): (cnn.AdaptiveAvgPool2d, tnn.AdaptiveAvgPool2d),
        ("avg", 3): (cnn.AdaptiveAvgPool3d, tnn.AdaptiveAvgPool3d),
        ("max", 1): (cnn.AdaptiveMaxPool1d, tnn.AdaptiveMaxPool1d),
        ("max", 2): (cnn.AdaptiveMaxPool2d, tnn.AdaptiveMaxPool2d),
        ("max", 3): (cnn.AdaptiveMaxPool3d, tnn.AdaptiveMaxPool3d)}


def random_case(r, nsp):
    ins = [int(r.randint(1, 11 if nsp < 3 else 7)) for _ in range(nsp)]
    outs = [int(r.choice([1, 2, 3, 5, i, i + 2, max(i - 1, 1), 2 * i + 1])) for i in ins]
    if nsp == 1 or (r.rand() < 0.3 and len(set(outs)) == 1):
        os = outs[0]
    else:
        os = tuple(None if (r.rand() < 0.25) else o for o in outs)
    batched = r.rand() < 0.7
    shape = ([int(r.randint(1, 4))] if batched else []) + [int(r.randint(1, 4))] + ins
    return os, shape


@pytest.mark.parametrize("nsp", [1, 2, 3])
@seeds(12)
def test_adaptive_random(nsp, seed):
    r = rng(40 + 100 * nsp + seed)
    for _ in range(15):
        os, shape = random_case(r, nsp)
        x = randn(r, *shape)
        rg = bool(r.rand() < 0.8)
        check_op(lambda a: AVG[nsp][0](a, os), lambda a: AVG[nsp][1](a, os), [x],
                 requires_grad=rg, seed=seed)
        check_op(lambda a: MAX[nsp][0](a, os, True), lambda a: MAX[nsp][1](a, os, True), [x],
                 requires_grad=rg, seed=seed)
        check_op(lambda a: MAX[nsp][0](a, os), lambda a: MAX[nsp][1](a, os), [x],
                 requires_grad=rg, seed=seed)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_sizes_sweep(nsp):
    r = rng(nsp)
    for i in range(1, 9 if nsp < 3 else 6):
        for o in range(0, 2 * i + 2):
            x = randn(r, 2, 3, *(i,) * nsp)
            if o == 0 and nsp < 3:  # torch's 2-d backward refuses an empty gradient
                check_op(lambda a: AVG[nsp][0](a, o), lambda a: AVG[nsp][1](a, o), [x],
                         requires_grad=False)
                check_error(lambda: AVG[nsp][0](cnnc.tensor(x, requires_grad=True), o).sum().backward(),
                            lambda: AVG[nsp][1](torch.tensor(x, requires_grad=True), o).sum().backward(),
                            "Expected grad_output to have non-zero size")
                continue
            check_op(lambda a: AVG[nsp][0](a, o), lambda a: AVG[nsp][1](a, o), [x])
            check_op(lambda a: MAX[nsp][0](a, o, True), lambda a: MAX[nsp][1](a, o, True), [x])


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_ties_nan(nsp):
    r = rng(9)
    shape = (2, 3) + (7,) * nsp
    x = np.asarray(r.randint(0, 3, shape), np.float32)
    check_op(lambda a: MAX[nsp][0](a, 3, True), lambda a: MAX[nsp][1](a, 3, True), [x])
    y = randn(r, *shape)
    y.flat[::6] = np.nan
    y.flat[1::5] = -np.inf
    check_op(lambda a: MAX[nsp][0](a, 4, True), lambda a: MAX[nsp][1](a, 4, True), [y],
             requires_grad=False)
    check_op(lambda a: AVG[nsp][0](a, 4), lambda a: AVG[nsp][1](a, 4), [y], requires_grad=False)


def test_global_average_mean_path():
    """All-ones output is torch's mean over the spatial dims: any rank, empty -> nan."""
    r = rng(2)
    for shape in [(3, 3), (1, 2, 3, 4, 5), (2, 3, 7, 7), (32, 5, 7, 7)]:
        x = randn(r, *shape)
        check_op(lambda a: F.adaptive_avg_pool2d(a, 1), lambda a: TF.adaptive_avg_pool2d(a, 1), [x])
        if len(shape) > 2:  # a tuple needs rank > 2 (torch's _list_with_default)
            check_op(lambda a: F.adaptive_avg_pool2d(a, (1, 1)),
                     lambda a: TF.adaptive_avg_pool2d(a, (1, 1)), [x])
    check_op(lambda a: F.adaptive_avg_pool3d(a, 1), lambda a: TF.adaptive_avg_pool3d(a, 1),
             [randn(r, 3, 3, 3)])
    for shape, fn in [((2, 3, 0, 4), (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d)),
                      ((2, 3, 0), (F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d))]:
        check_op(lambda a: fn[0](a, 1), lambda a: fn[1](a, 1), [np.zeros(shape, np.float32)])


def test_zero_channel_and_batch():
    for shape, nsp in [((2, 0, 4), 1), ((0, 3, 4), 1), ((2, 0, 4, 4), 2), ((0, 3, 4, 4), 2),
                       ((0, 4, 4), 2), ((0, 3, 4, 4, 4), 3), ((0, 4, 4, 4), 3)]:
        x = np.zeros(shape, np.float32)
        check_op(lambda a: AVG[nsp][0](a, 2), lambda a: AVG[nsp][1](a, 2), [x], requires_grad=False)
        if shape[1] == 0 or len(shape) == 2 + nsp and shape[0] == 0:
            try:
                AVG[nsp][1](torch.tensor(x, requires_grad=True), 2).sum().backward()
            except RuntimeError:
                check_error(lambda: AVG[nsp][0](cnnc.tensor(x, requires_grad=True), 2).sum().backward(),
                            lambda: AVG[nsp][1](torch.tensor(x, requires_grad=True), 2).sum().backward())
                continue
        check_op(lambda a: AVG[nsp][0](a, 2), lambda a: AVG[nsp][1](a, 2), [x])
    for shape, nsp in [((0, 3, 4), 1), ((0, 3, 4, 4), 2), ((0, 3, 4, 4), 2), ((0, 4, 4), 2),
                       ((0, 4, 4, 4), 3)]:
        x = np.zeros(shape, np.float32)
        check_op(lambda a: MAX[nsp][0](a, 2, True), lambda a: MAX[nsp][1](a, 2, True), [x])


X = {1: (2, 3, 10), 2: (2, 3, 10, 10), 3: (2, 3, 6, 6, 6)}
ERRORS = [
    ("avg", 1, None, -1, "elements of output_size must be greater than or equal to 0 but received {1, -1}"),
    ("avg", 1, None, (2, 2), "adaptive_avg_pool1d() argument 'output_size' should contain one int (got 2)"),
    ("avg", 1, (5,), 2, "Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 'self' (while checking arguments for adaptive_avg_pool1d)"),
    ("avg", 1, (2, 3, 4, 4), 2, "got 4-dimensional"),
    ("avg", 1, (2, 3, 0), 2, "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes [2, 3, 1, 0] with dimension 3 being empty"),
    ("avg", 2, None, -1, "received {-1, -1}"),
    ("avg", 2, None, (-1, 2), "received {-1, 2}"),
    ("avg", 2, None, (2, 2, 2), "adaptive_avg_pool2d: output_size must be 2"),
    ("avg", 2, (3, 3), 2, "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [3, 3]"),
    ("avg", 2, (3, 3), (None, 2), "Input dimension should be at least 3"),
    ("avg", 2, (3, 3), (2, 2), "Input dimension should be at least 3"),
    ("avg", 2, (2, 0), 2, "Expected 3D or 4D tensor, but got [2, 0]"),
    ("avg", 2, (2, 3, 6, 6, 6), 2, "Expected 3D or 4D tensor, but got [2, 3, 6, 6, 6]"),
    ("avg", 2, (2, 3, 0, 4), 2, "with dimension 2 being empty"),
    ("avg", 3, None, -1, "received {-1, -1,-1}"),
    ("avg", 3, None, (2, 2), "adaptive_avg_pool3d: output_size must be 3"),
    ("avg", 3, (2, 3, 10), 2, "adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got [2, 3, 10]"),
    ("avg", 3, (2, 0, 3), 2, "with dimension 1 being empty"),
    ("avg", 3, (2, 0, 4, 4, 4), 2, "adaptive_avg_pool3d(): Expected input to have non-zero size"),
    ("max", 1, None, -1, "Trying to create tensor with negative dimension -1: [2, 3, 1, -1]"),
    ("max", 1, None, (2, 2), "adaptive_max_pool1d() argument 'output_size' should contain one int (got 2)"),
    ("max", 1, (5,), 2, "while checking arguments for adaptive_max_pool1d"),
    ("max", 1, (2, 0, 4), 2, "adaptive_max_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes [2, 0, 1, 4] with dimension 1 being empty"),
    ("max", 2, None, -1, "Trying to create tensor with negative dimension -1: [2, 3, -1, -1]"),
    ("max", 2, None, (2, 2, 2), "adaptive_max_pool2d(): internal error: output_size.size() must be 2"),
    ("max", 2, (3, 3), 2, "adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: [3, 3]"),
    ("max", 2, (2, 3), -1, "Expected 3D or 4D tensor, but got: [2, 3]"),
    ("max", 2, (2, 0, 4, 4), 2, "with dimension 1 being empty"),
    ("max", 2, (3, 3), (None, 2), "Input dimension should be at least 3"),
    ("max", 3, None, -1, "[2, 3, -1, -1, -1]"),
    ("max", 3, None, (2, 2), "adaptive_max_pool3d(): internal error: output_size.size() must be 3"),
    ("max", 3, (2, 3, 10), 2, "adaptive_max_pool3d(): Expected 4D or 5D tensor, but got: [2, 3, 10]"),
    ("max", 3, (2, 3, 0, 4, 4), 2, "with dimension 2 being empty"),
]


@pytest.mark.parametrize("kind,nsp,shape,os,frag", ERRORS)
def test_errors(kind, nsp, shape, os, frag):
    fns = (AVG if kind == "avg" else MAX)[nsp]
    shape = shape or X[nsp]
    cm, tm = check_error(lambda: fns[0](cnnc.zeros(*shape), os),
                         lambda: fns[1](torch.zeros(*shape), os), frag)
    assert cm == tm, (cm, tm)


@pytest.mark.parametrize("kind", ["avg", "max"])
@pytest.mark.parametrize("nsp", [1, 2, 3])
@seeds(3)
def test_modules(kind, nsp, seed):
    r = rng(500 + seed + 10 * nsp)
    cls_c, cls_t = MODS[(kind, nsp)]
    for _ in range(6):
        os, shape = random_case(r, nsp)
        extra = {"return_indices": bool(r.rand() < 0.5)} if kind == "max" else {}
        cm, tm = cls_c(os, **extra), cls_t(os, **extra)
        assert repr(cm) == repr(tm)
        assert cm.output_size == tm.output_size
        if kind == "max":
            assert cm.return_indices == tm.return_indices
        assert list(cm.state_dict().keys()) == []
        check_op(cm, tm, [randn(r, *shape)], seed=seed)


def test_module_reprs():
    assert repr(cnn.AdaptiveAvgPool2d((None, 7))) == repr(tnn.AdaptiveAvgPool2d((None, 7))) == \
        "AdaptiveAvgPool2d(output_size=(None, 7))"
    assert repr(cnn.AdaptiveAvgPool2d((1, 1))) == "AdaptiveAvgPool2d(output_size=(1, 1))"
    assert repr(cnn.AdaptiveMaxPool3d(2, True)) == repr(tnn.AdaptiveMaxPool3d(2, True))
    assert cnn.AdaptiveAvgPool3d((None, 2, None)).output_size == (None, 2, None)
