"""F.max_unpool{1,2,3}d and nn.MaxUnpool{1,2,3}d against torch: round trips from
max_pool with random geometry, output_size (spatial and full forms), duplicate
indices, gradients, the errors (bad indices, output_size, shapes, dtypes)."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as cnn
import cnnc.nn.functional as F
from helpers import check_error, check_op, randn, rng, seeds

POOL = {1: TF.max_pool1d, 2: TF.max_pool2d, 3: TF.max_pool3d}
UNPOOL = {1: (F.max_unpool1d, TF.max_unpool1d), 2: (F.max_unpool2d, TF.max_unpool2d),
          3: (F.max_unpool3d, TF.max_unpool3d)}
MOD = {1: (cnn.MaxUnpool1d, tnn.MaxUnpool1d), 2: (cnn.MaxUnpool2d, tnn.MaxUnpool2d),
       3: (cnn.MaxUnpool3d, tnn.MaxUnpool3d)}


def random_case(r, nsp):
    k = [int(r.randint(1, 4)) for _ in range(nsp)]
    s = [int(r.randint(1, 4)) for _ in range(nsp)]
    p = [int(r.randint(0, kk // 2 + 1)) for kk in k]
    form = (lambda v: int(v[0]) if (nsp == 1 or len(set(v)) == 1) and r.rand() < 0.7 else tuple(v))
    batched = r.rand() < 0.7
    shape = ([int(r.randint(1, 3))] if batched else []) + [int(r.randint(1, 4))] + \
        [int(r.randint(max(k) + 2, 10 if nsp < 3 else 7)) for _ in range(nsp)]
    x = randn(r, *shape)
    kw = dict(kernel_size=form(k), stride=form(s) if r.rand() < 0.8 else None, padding=form(p))
    tkw = dict(kw)
    if tkw["stride"] is None:
        tkw.pop("stride")
    y, idx = POOL[nsp](torch.tensor(x), return_indices=True, **tkw)
    return kw, y.numpy(), idx.numpy()


def compare(cf, tf, y, idx, seed=0):
    """Forward (or both errors); then the input gradient, or both backward errors
    (torch's gather refuses an empty output plane)."""
    try:
        out = tf(torch.tensor(y), torch.tensor(idx))
    except (RuntimeError, ValueError):
        check_error(lambda: cf(cnnc.tensor(y), cnnc.tensor(idx)),
                    lambda: tf(torch.tensor(y), torch.tensor(idx)))
        return 0
    if out.numel() == 0 and idx.size > 0:
        check_op(cf, tf, [y, idx], requires_grad=False)
        cm, tm = check_error(
            lambda: cf(cnnc.tensor(y, requires_grad=True), cnnc.tensor(idx)).sum().backward(),
            lambda: tf(torch.tensor(y, requires_grad=True), torch.tensor(idx)).sum().backward(),
            "is out of bounds for dimension")
        assert cm == tm
        return 0
    check_op(cf, tf, [y, idx], requires_grad=[True, False], seed=seed)
    return 1


@pytest.mark.parametrize("nsp", [1, 2, 3])
@seeds(12)
def test_unpool_random(nsp, seed):
    r = rng(60 + 100 * nsp + seed)
    ok = 0
    for _ in range(12):
        kw, y, idx = random_case(r, nsp)
        sizes = [None]
        sp = y.shape[-nsp:]
        k = kw["kernel_size"] if isinstance(kw["kernel_size"], tuple) else (kw["kernel_size"],) * nsp
        st = kw["stride"] if kw["stride"] is not None else k
        st = st if isinstance(st, tuple) else (st,) * nsp
        pd = kw["padding"] if isinstance(kw["padding"], tuple) else (kw["padding"],) * nsp
        default = [(sp[d] - 1) * st[d] + k[d] - 2 * pd[d] for d in range(nsp)]
        extra = [int(r.randint(-st[d] + 1, st[d])) for d in range(nsp)]
        sizes.append(tuple(default[d] + extra[d] for d in range(nsp)))
        sizes.append(tuple(y.shape[:-nsp]) + sizes[-1] if y.ndim == nsp + 2 else sizes[-1])
        for os in sizes:
            def cf(a, i):
                return UNPOOL[nsp][0](a, i, output_size=os, **kw)

            def tf(a, i):
                return UNPOOL[nsp][1](a, i, output_size=os, **kw)
            ok += compare(cf, tf, y, idx, seed)
    assert ok > 0


def test_duplicate_indices_last_wins():
    y = np.array([[[1., 2., 3., 4.]]], np.float32)
    idx = np.array([[[0, 0, 1, 1]]], np.int64)
    check_op(lambda a, i: F.max_unpool1d(a, i, 2), lambda a, i: TF.max_unpool1d(a, i, 2),
             [y, idx], requires_grad=[True, False])


def test_round_trip_2d():
    x = randn(rng(3), 2, 3, 8, 8)
    cy, ci = F.max_pool2d(cnnc.tensor(x), 2, return_indices=True)
    ty, ti = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(ci.numpy(), ti.numpy())
    np.testing.assert_array_equal(F.max_unpool2d(cy, ci, 2).numpy(), TF.max_unpool2d(ty, ti, 2).numpy())
    check_op(lambda a: F.max_unpool2d(*F.max_pool2d(a, 2, return_indices=True), 2),
             lambda a: TF.max_unpool2d(*TF.max_pool2d(a, 2, return_indices=True), 2), [x])


def _pair(nsp, shape=None):
    shape = shape or ((2, 3) + (8,) * nsp)
    x = randn(rng(4), *shape)
    y, i = POOL[nsp](torch.tensor(x), 2, return_indices=True)
    return y.numpy(), i.numpy()


ERRORS = [
    (2, lambda y, i: (y, i, 2, None, 0, (10, 9)), 'invalid output_size "(10, 9)" (dim 0 must be between 6 and 10)'),
    (1, lambda y, i: (y, i, 2, None, 0, (10,)), 'invalid output_size "(10,)" (dim 0 must be between 6 and 10)'),
    (3, lambda y, i: (y, i, 2, None, 0, (10, 8, 8)), "dim 0 must be between 6 and 10"),
    (2, lambda y, i: (y, i, 2, None, 0, (3, 9, 9)), "output_size should be a sequence containing 2 or 4 elements, but it has a length of '3'"),
    (2, lambda y, i: (y, i * 0 + 64, 2), "Found an invalid max index: 64 (output volumes are of size 8x8"),
    (2, lambda y, i: (y, i * 0 - 1, 2), "Found an invalid max index: -1 (output volumes are of size 8x8"),
    (1, lambda y, i: (y, i * 0 + 8, 2), "Found an invalid max index: 8 (output volumes are of size 8x1"),
    (3, lambda y, i: (y, i * 0 + 512, 2), "Found an invalid max index: 512 (output volumes are of size 8x8x8"),
    (3, lambda y, i: (y, i * 0 - 1, 2), "Found an invalid max index: -1"),
    (2, lambda y, i: (y, i[:, :, :2], 2), "Expected shape of indices to be same as that of the input tensor ([2, 3, 4, 4]) but got indices tensor with shape: [2, 3, 2, 4]"),
    (1, lambda y, i: (y, i[:, :, :2], 2), "([2, 3, 4, 1]) but got indices tensor with shape: [2, 3, 2, 1]"),
    (3, lambda y, i: (y, i[:, :, :1], 2), "Expected shape of indices to be same"),
    (2, lambda y, i: (y, i.astype(np.float32), 2), "elements in indices should be type int64 but got: Float"),
    (3, lambda y, i: (y, i.astype(np.float32), 2), "elements in indices should be type int64"),
    (2, lambda y, i: (y[0, 0], i[0, 0], 2), "Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with 2 dimensions."),
    (2, lambda y, i: (y[None], i[None], 2), "but got a tensor with 5 dimensions."),
    (1, lambda y, i: (y[0, 0], i[0, 0], 2), "Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with 2 dimensions."),
    (3, lambda y, i: (y[0, 0], i[0, 0], 2), "Input to max_unpooling3d should be a 4d or 5d Tensor, but got a tensor with 3 dimensions."),
    (2, lambda y, i: (y[:, :0], i[:, :0], 2), "max_unpooling2d_forward_out_cpu(): Expected input to have non-zero size for non-batch dimensions, but got [2, 0, 4, 4] with dimension 1 being empty."),
    (3, lambda y, i: (y[:, :, :0], i[:, :, :0], 2), "max_unpooling3d_forward_out_cpu(): Expected input to have non-zero size for non-batch dimensions, but got [2, 3, 0, 4, 4] with dimension 2 being empty."),
    (3, lambda y, i: (y, i, 2, 0), "strides should be greater than zero, but got stride: [0, 0, 0]"),
    (2, lambda y, i: (y, i, 2, 0), "Found an invalid max index"),
    (2, lambda y, i: (y, i, 2, None, 1), "Found an invalid max index"),
    (2, lambda y, i: (y[:, :, :1, :1], i[:, :, :1, :1] * 0, 1, 1, 1), None),
]


@pytest.mark.parametrize("nsp,make,frag", ERRORS)
def test_errors(nsp, make, frag):
    y, i = _pair(nsp)
    args = make(y, i)

    def run(lib, fn):
        a = [lib.tensor(v) if isinstance(v, np.ndarray) else v for v in args]
        return fn(*a)
    cm, tm = check_error(lambda: run(cnnc, UNPOOL[nsp][0]), lambda: run(torch, UNPOOL[nsp][1]), frag)
    if frag is not None:
        assert cm == tm, (cm, tm)


def test_empty_output_skips_index_check():
    y, i = _pair(2)
    compare(lambda a, b: F.max_unpool2d(a, b, 0), lambda a, b: TF.max_unpool2d(a, b, 0), y, i)


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_unbatched_and_empty_batch(nsp):
    y, i = _pair(nsp, (3,) + (6,) * nsp)
    check_op(lambda a, b: UNPOOL[nsp][0](a, b, 2), lambda a, b: UNPOOL[nsp][1](a, b, 2), [y, i],
             requires_grad=[True, False])
    y0, i0 = _pair(nsp, (0, 3) + (6,) * nsp)
    check_op(lambda a, b: UNPOOL[nsp][0](a, b, 2), lambda a, b: UNPOOL[nsp][1](a, b, 2), [y0, i0],
             requires_grad=[True, False])


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_modules(nsp):
    r = rng(80 + nsp)
    for _ in range(6):
        kw, y, idx = random_case(r, nsp)
        cm, tm = MOD[nsp][0](**kw), MOD[nsp][1](**kw)
        assert repr(cm) == repr(tm)
        for name in ("kernel_size", "stride", "padding"):
            assert getattr(cm, name) == getattr(tm, name), name
        assert list(cm.state_dict().keys()) == []
        if not compare(lambda a, i: cm(a, i), lambda a, i: tm(a, i), y, idx):
            continue
        sp = tuple(tm(torch.tensor(y), torch.tensor(idx)).shape[-nsp:])
        full = tuple(y.shape[:-nsp]) + sp if y.ndim == nsp + 2 else sp
        compare(lambda a, i: cm(a, i, output_size=full), lambda a, i: tm(a, i, output_size=full),
                y, idx)
    assert repr(cnn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
