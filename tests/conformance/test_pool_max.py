"""F.max_pool{1,2,3}d (with and without indices) and nn.MaxPool{1,2,3}d against torch:
randomized configurations over every argument, exhaustive small 1-d sweeps (ceil_mode
windows that would start in the right padding), ties, NaN/inf, errors, modules."""
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

FN = {1: (F.max_pool1d, TF.max_pool1d), 2: (F.max_pool2d, TF.max_pool2d),
      3: (F.max_pool3d, TF.max_pool3d)}
MOD = {1: (cnn.MaxPool1d, tnn.MaxPool1d), 2: (cnn.MaxPool2d, tnn.MaxPool2d),
       3: (cnn.MaxPool3d, tnn.MaxPool3d)}


def arg(r, nsp, values):
    """An int or a tuple (random form) from per-dim values."""
    if (r.rand() < 0.5 or nsp == 1) and len(set(values)) == 1:
        # (a one-element tuple is cnnc_ints' int form: same results, but a module
        # would print it as an int; see pool.h)
        return int(values[0])
    return tuple(int(v) for v in values)


def random_config(r, nsp):
    k = [int(r.randint(1, 5)) for _ in range(nsp)]
    cfg = dict(kernel_size=arg(r, nsp, k))
    if r.rand() < 0.7:
        cfg["stride"] = arg(r, nsp, [int(r.randint(1, 4)) for _ in range(nsp)])
    elif r.rand() < 0.3:
        cfg["stride"] = ()
    if r.rand() < 0.7:
        cfg["padding"] = arg(r, nsp, [int(r.randint(0, kk // 2 + 1)) for kk in k])
    if r.rand() < 0.5:
        cfg["dilation"] = arg(r, nsp, [int(r.randint(1, 4)) for _ in range(nsp)])
    cfg["ceil_mode"] = bool(r.rand() < 0.5)
    batched = r.rand() < 0.7
    shape = ([int(r.randint(1, 4))] if batched else []) + [int(r.randint(1, 4))] + \
        [int(r.randint(1, 12 if nsp < 3 else 8)) for _ in range(nsp)]
    return cfg, shape


def run_case(nsp, cfg, x, return_indices, requires_grad=True, seed=0):
    cf, tf = FN[nsp]
    cnnc_fn = lambda a: cf(a, return_indices=return_indices, **cfg)
    torch_fn = lambda a: tf(a, return_indices=return_indices, **cfg)
    try:
        out = torch_fn(torch.tensor(x, requires_grad=requires_grad))
    except RuntimeError:
        check_error(lambda: cnnc_fn(cnnc.tensor(x, requires_grad=requires_grad)),
                    lambda: torch_fn(torch.tensor(x, requires_grad=requires_grad)))
        return False
    out = out[0] if isinstance(out, tuple) else out
    if np.isfinite(x).all() and torch.isinf(out).any():
        # A dilated window with no tap inside the input (-inf at an index outside
        # its plane): torch's backward then adds into the NEXT plane (or past the
        # tensor, for the last one). cnnc drops that gradient instead; compare the
        # forward (values and indices) only.
        requires_grad = False
    check_op(cnnc_fn, torch_fn, [x], requires_grad=requires_grad, seed=seed)
    return True


@pytest.mark.parametrize("nsp", [1, 2, 3])
@seeds(12)
def test_max_pool_random(nsp, seed):
    r = rng(100 * nsp + seed)
    ran = 0
    for _ in range(20):
        cfg, shape = random_config(r, nsp)
        x = randn(r, *shape)
        for ri in (False, True):
            ran += run_case(nsp, cfg, x, ri, requires_grad=bool(r.rand() < 0.7), seed=seed)
    assert ran > 0


def test_max_pool1d_exhaustive_small():
    """Every small 1-d geometry, ceil_mode on and off, both of torch's max_pool1d
    paths (no grad: empty outputs allowed) and with indices."""
    r = rng(7)
    n = 0
    for L, k, s, d, ceil in itertools.product(range(1, 8), range(1, 5), range(1, 4), (1, 2),
                                              (False, True)):
        for p in range(k // 2 + 1):
            x = randn(r, 2, L)
            cfg = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
            run_case(1, cfg, x, False, requires_grad=False)
            n += run_case(1, cfg, x, True, requires_grad=True)
    assert n > 300


def test_max_pool2d_exhaustive_ceil():
    r = rng(8)
    for H, k, s, p in itertools.product(range(1, 7), range(1, 4), range(1, 4), range(2)):
        if p > k // 2:
            continue
        x = randn(r, 1, 2, H, H + 1)
        run_case(2, dict(kernel_size=k, stride=s, padding=p, ceil_mode=True), x, True)


@pytest.mark.parametrize("shape,cfg,out", [
    ((1, 1, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True), 3),
    ((1, 1, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), 4),
    ((1, 1, 4), dict(kernel_size=2, stride=3, padding=1, ceil_mode=True), 2),
    ((1, 1, 1), dict(kernel_size=2, stride=2, padding=1, dilation=3, ceil_mode=True), 1),
])
def test_ceil_mode_last_window_rule(shape, cfg, out):
    """A last window that would start in the right padding is dropped; a window with
    no in-bounds tap gives -inf at torch's index."""
    x = randn(rng(1), *shape)
    res = check_op(lambda a: F.max_pool1d(a, return_indices=True, **cfg),
                   lambda a: TF.max_pool1d(a, return_indices=True, **cfg), [x])
    assert res.cnnc_out[0].shape[-1] == out
    check_op(lambda a: F.max_pool1d(a, **cfg), lambda a: TF.max_pool1d(a, **cfg), [x],
             requires_grad=False)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_ties_nan_inf(nsp):
    r = rng(3)
    shape = (2, 3) + (7,) * nsp
    x = np.asarray(r.randint(0, 3, shape), np.float32)  # many ties
    check_op(lambda a: FN[nsp][0](a, 3, 2, 1, return_indices=True),
             lambda a: FN[nsp][1](a, 3, 2, 1, return_indices=True), [x])
    y = randn(r, *shape)
    y.flat[::5] = np.nan
    y.flat[1::7] = np.inf
    y.flat[2::4] = -np.inf
    check_op(lambda a: FN[nsp][0](a, 2, 1, 1, return_indices=True),
             lambda a: FN[nsp][1](a, 2, 1, 1, return_indices=True), [y], requires_grad=False)
    z = np.full(shape, -np.inf, np.float32)
    check_op(lambda a: FN[nsp][0](a, 3, 2, 1, ceil_mode=True, return_indices=True),
             lambda a: FN[nsp][1](a, 3, 2, 1, ceil_mode=True, return_indices=True), [z],
             requires_grad=False)
    g = randn(r, *shape)
    g.flat[::3] = np.nan
    check_op(lambda a: FN[nsp][0](a, 2, 1), lambda a: FN[nsp][1](a, 2, 1), [g])


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_empty_batch(nsp):
    x = np.zeros((0, 2) + (4,) * nsp, np.float32)
    check_op(lambda a: FN[nsp][0](a, 2, return_indices=True),
             lambda a: FN[nsp][1](a, 2, return_indices=True), [x])


def test_large_fast_path_matches():
    r = rng(5)
    x = randn(r, 2, 8, 37, 41)
    for cfg in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2),
                dict(kernel_size=(3, 2), stride=(1, 3), padding=(1, 0), ceil_mode=True),
                dict(kernel_size=3, stride=2, padding=1, dilation=2)]:
        check_op(lambda a: F.max_pool2d(a, return_indices=True, **cfg),
                 lambda a: TF.max_pool2d(a, return_indices=True, **cfg), [x])


def test_grad_fn_names():
    x = cnnc.randn(1, 2, 6, 6, requires_grad=True)
    assert F.max_pool2d(x, 2).grad_fn == "MaxPool2DWithIndicesBackward0"
    assert F.max_pool3d(x.reshape(1, 2, 1, 6, 6), 1).grad_fn == "MaxPool3DWithIndicesBackward0"


# --- errors ------------------------------------------------------------------------------

X = {1: (2, 3, 10), 2: (2, 3, 10, 10), 3: (2, 3, 6, 6, 6)}
ERRORS = [
    # (nsp, shape, kwargs, fragment)
    (1, None, dict(kernel_size=3, padding=2), "at most half of kernel size"),
    (2, None, dict(kernel_size=3, padding=2), "pad should be at most half of kernel size, but got pad=2 and kernel_size=3"),
    (3, None, dict(kernel_size=3, padding=2), "pad should be at most half"),
    (2, None, dict(kernel_size=2, padding=2, dilation=3), "kernel_size=2"),
    (2, None, dict(kernel_size=3, padding=-1), "pad must be non-negative, but got pad: -1"),
    (1, None, dict(kernel_size=3, padding=-1), "padding must be non-negative"),
    (1, None, dict(kernel_size=3, stride=0), "stride must be greater than zero"),
    (2, None, dict(kernel_size=3, stride=0), "stride should not be zero"),
    (3, None, dict(kernel_size=3, stride=0), "stride should not be zero"),
    (2, None, dict(kernel_size=3, stride=-1), "stride should be greater than zero, but got dH: -1 dW: -1"),
    (3, None, dict(kernel_size=2, stride=-1), "dT: -1"),
    (2, None, dict(kernel_size=0), "stride should not be zero"),
    (2, None, dict(kernel_size=0, stride=1), "kernel size should be greater than zero, but got kH: 0 kW: 0"),
    (1, None, dict(kernel_size=0, stride=1), "kernel_size must be greater than zero"),
    (3, None, dict(kernel_size=-1, stride=1), "kT: -1 kH: -1 kW: -1"),
    (2, None, dict(kernel_size=2, dilation=0), "dilation should be greater than zero, but got dilationH: 0 dilationW: 0"),
    (1, None, dict(kernel_size=2, dilation=0), "dilation must be greater than zero"),
    (3, None, dict(kernel_size=2, dilation=0), "dilationT: 0"),
    (2, None, dict(kernel_size=11), "Given input size: (3x10x10). Calculated output size: (3x0x0). Output size is too small"),
    (3, None, dict(kernel_size=7), "Calculated output size: (3x0x0x0)"),
    (2, (3, 3), dict(kernel_size=2), "non-empty 3D or 4D (batch mode) tensor expected for input"),
    (2, (2, 3, 6, 6, 6), dict(kernel_size=2), "non-empty 3D or 4D"),
    (3, (2, 3, 10), dict(kernel_size=2), "non-empty 4D or 5D (batch mode) tensor expected for input"),
    (1, (5,), dict(kernel_size=2), "max_pool1d: Expected 2D or 3D (batch mode) tensor"),
    (1, (2, 3, 10, 10), dict(kernel_size=2), "got:[2, 3, 10, 10]"),
    (1, (2, 0, 4), dict(kernel_size=2), "with optional 0 dim batch size"),
    (1, (2, 3, 0), dict(kernel_size=2), "got:[2, 3, 0]"),
    (2, (2, 0, 4, 4), dict(kernel_size=2), "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:[2, 0, 4, 4]"),
    (2, (0, 4, 4), dict(kernel_size=2), "got:[0, 4, 4]"),
    (3, (2, 0, 4, 4, 4), dict(kernel_size=2), "non-batch dimension 0 has length zero!"),
    (2, None, dict(kernel_size=(2, 2, 2)), "max_pool2d: kernel_size must either be a single int, or a tuple of two ints"),
    (2, None, dict(kernel_size=2, stride=(2, 2, 2)), "max_pool2d: stride must either be omitted"),
    (2, None, dict(kernel_size=2, padding=(1, 1, 1)), "max_pool2d: padding must be either be a single int"),
    (2, None, dict(kernel_size=2, dilation=(1, 1, 1)), "max_pool2d: dilation must be either a single int"),
    (2, None, dict(kernel_size=()), "kernel_size must either be a single int"),
    (3, None, dict(kernel_size=(2, 2)), "max_pool3d: kernel_size must either be a single int, or a tuple of three ints"),
    (1, None, dict(kernel_size=(2, 2)), "kernel_size must be an int, list of ints or tuple of ints of size 1 but got size 2"),
    (1, None, dict(kernel_size=2, stride=(2, 2)), "stride must be None, an int, list of ints, or tuple of ints of size 1"),
    (1, None, dict(kernel_size=2, padding=(1, 1)), "padding must be an int, list of ints, or tuple of ints of size 1"),
    (1, None, dict(kernel_size=2, dilation=(1, 1)), "dilation must be an int, list of ints or tuple of ints of size 1"),
    (1, (1, 1, 1), dict(kernel_size=5, stride=1, dilation=3), "max_pool1d() Invalid computed output size: -11"),
]


@pytest.mark.parametrize("nsp,shape,kw,frag", ERRORS)
@pytest.mark.parametrize("mode", ["plain", "grad", "indices"])
def test_errors(nsp, shape, kw, frag, mode):
    shape = shape or X[nsp]
    rg = mode == "grad"
    ri = mode == "indices"

    def run(lib, fn):
        t = lib.zeros(*shape) if lib is cnnc else torch.zeros(*shape)
        if rg:
            t.requires_grad = True
        return fn(t, return_indices=ri, **kw)
    cm, tm = check_error(lambda: run(cnnc, FN[nsp][0]), lambda: run(torch, FN[nsp][1]))
    assert cm == tm, (cm, tm)
    if mode == "plain":
        assert frag in tm, tm


def test_max_pool1d_empty_output_without_grad():
    """torch's max_pool1d without grad allows an empty output; with grad it errors."""
    x = randn(rng(0), 2, 3, 10)
    check_op(lambda a: F.max_pool1d(a, 11), lambda a: TF.max_pool1d(a, 11), [x],
             requires_grad=False)
    with cnnc.no_grad(), torch.no_grad():
        check_op(lambda a: F.max_pool1d(a, 11), lambda a: TF.max_pool1d(a, 11), [x])
    check_error(lambda: F.max_pool1d(cnnc.tensor(x, requires_grad=True), 11),
                lambda: TF.max_pool1d(torch.tensor(x, requires_grad=True), 11), "Output size is too small")


def test_int64_input_refused():
    with pytest.raises(cnnc.Error, match="float32"):
        F.max_pool2d(cnnc.tensor(np.ones((1, 1, 4, 4), np.int64)), 2)


# --- modules -------------------------------------------------------------------------------

@pytest.mark.parametrize("nsp", [1, 2, 3])
@seeds(4)
def test_module_random(nsp, seed):
    r = rng(900 + 10 * nsp + seed)
    for _ in range(6):
        cfg, shape = random_config(r, nsp)
        cfg.pop("stride", None) if cfg.get("stride") == () else None
        ri = bool(r.rand() < 0.5)
        cm, tm = MOD[nsp][0](return_indices=ri, **cfg), MOD[nsp][1](return_indices=ri, **cfg)
        assert repr(cm) == repr(tm)
        for name in ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"):
            assert getattr(cm, name) == getattr(tm, name), name
        assert list(cm.state_dict().keys()) == []
        x = randn(r, *shape)
        try:
            tm(torch.tensor(x, requires_grad=True))
        except RuntimeError:
            check_error(lambda: cm(cnnc.tensor(x, requires_grad=True)),
                        lambda: tm(torch.tensor(x, requires_grad=True)))
            continue
        check_op(cm, tm, [x], seed=seed)


def test_module_repr_examples():
    assert repr(cnn.MaxPool2d(2, stride=2)) == repr(tnn.MaxPool2d(2, stride=2)) == \
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(cnn.MaxPool3d((1, 2, 3), padding=(0, 1, 1), ceil_mode=True)) == \
        repr(tnn.MaxPool3d((1, 2, 3), padding=(0, 1, 1), ceil_mode=True))
    assert repr(cnn.MaxPool1d(3, 1, 1, 2)) == repr(tnn.MaxPool1d(3, 1, 1, 2))


def test_module_in_sequential():
    x = randn(rng(2), 2, 3, 8, 8)
    seq_c = cnn.Sequential(cnn.MaxPool2d(2), cnn.ReLU())
    seq_t = tnn.Sequential(tnn.MaxPool2d(2), tnn.ReLU())
    check_op(seq_c, seq_t, [x])
    assert repr(seq_c) == repr(seq_t)
