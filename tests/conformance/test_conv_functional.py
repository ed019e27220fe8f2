"""F.conv1d/2d/3d and F.conv_transpose1d/2d/3d against torch.nn.functional:
randomized configurations (fixed seeds) over every argument and their combinations
(batch / unbatched / zero batch, channels, groups incl. depthwise with multipliers,
non-square kernels, stride, padding as int / tuple / 'same' / 'valid', dilation,
output_padding, bias), comparing the output and the gradients of the input, the
weight and the bias; plus the hand-picked shapes of the issue and the fast paths
(1x1, depthwise, multi-tile im2col, threads)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnc
import cnnc.nn.functional as F
from helpers import check_op, randn, rng, seeds

CONV = {1: (F.conv1d, TF.conv1d), 2: (F.conv2d, TF.conv2d), 3: (F.conv3d, TF.conv3d)}
CONVT = {1: (F.conv_transpose1d, TF.conv_transpose1d), 2: (F.conv_transpose2d, TF.conv_transpose2d),
         3: (F.conv_transpose3d, TF.conv_transpose3d)}


def tol(reduce_len):
    """float32 sums of reduce_len products of N(0,1) values: the absolute error grows
    like sqrt(reduce_len) * |terms| * eps; these bounds are ~100x that."""
    return 1e-4, 2e-5 * max(1.0, float(reduce_len)) ** 0.5 * 4


def as_arg(r, values):
    """A per-dim list as torch accepts it: an int when all equal (sometimes), else a tuple."""
    if len(set(values)) == 1 and r.rand() < 0.5:
        return int(values[0])
    return tuple(int(v) for v in values)


def random_groups(r, depthwise_bias=0.25):
    if r.rand() < depthwise_bias:
        return "depthwise"
    return int(r.choice([1, 1, 2, 3]))


def conv_config(r, dim):
    """A valid random F.convNd call: (x shape, w shape, bias shape or None, kwargs, K)."""
    g = random_groups(r)
    if g == "depthwise":
        groups = int(r.randint(2, 5))
        cin, cout = groups, groups * int(r.randint(1, 3))
    else:
        groups = g
        cin, cout = groups * int(r.randint(1, 4)), groups * int(r.randint(1, 4))
    k = [int(r.randint(1, 4)) for _ in range(dim)]
    dil = [int(r.choice([1, 1, 2, 3])) for _ in range(dim)]
    kwargs = {}
    mode = r.choice(["int", "int", "same", "valid"])
    if mode == "same":
        stride = [1] * dim
        pad = None
        kwargs["padding"] = "same"
    else:
        stride = [int(r.randint(1, 4)) for _ in range(dim)]
        pad = [int(r.randint(0, 3)) for _ in range(dim)] if mode == "int" else [0] * dim
        kwargs["padding"] = as_arg(r, pad) if mode == "int" else "valid"
    spatial = []
    for i in range(dim):
        eff = dil[i] * (k[i] - 1) + 1
        lo = max(1, eff - 2 * (pad[i] if pad else 0))
        spatial.append(int(r.randint(lo, lo + 7)))
    if any(s != 1 for s in stride) or r.rand() < 0.5:
        kwargs["stride"] = as_arg(r, stride)
    if any(d != 1 for d in dil) or r.rand() < 0.3:
        kwargs["dilation"] = as_arg(r, dil)
    if groups != 1 or r.rand() < 0.3:
        kwargs["groups"] = groups
    batch = int(r.choice([1, 2, 3, 0])) if r.rand() < 0.85 else None  # None: unbatched
    x = ((batch,) if batch is not None else ()) + (cin,) + tuple(spatial)
    w = (cout, cin // groups) + tuple(k)
    b = (cout,) if r.rand() < 0.7 else None
    return x, w, b, kwargs, (cin // groups) * int(np.prod(k))


def convt_config(r, dim):
    g = random_groups(r, 0.2)
    if g == "depthwise":
        groups = int(r.randint(2, 5))
        cin, cout = groups, groups * int(r.randint(1, 3))
    else:
        groups = g
        cin, cout = groups * int(r.randint(1, 4)), groups * int(r.randint(1, 4))
    k = [int(r.randint(1, 4)) for _ in range(dim)]
    dil = [int(r.choice([1, 1, 2])) for _ in range(dim)]
    stride = [int(r.randint(1, 4)) for _ in range(dim)]
    pad = [int(r.randint(0, 3)) for _ in range(dim)]
    outpad = [int(r.randint(0, max(stride[i], dil[i]))) for i in range(dim)]
    spatial = []
    for i in range(dim):
        # output = (n - 1) s - 2p + d (k - 1) + op + 1 must be >= 1
        n = 1
        while (n - 1) * stride[i] - 2 * pad[i] + dil[i] * (k[i] - 1) + outpad[i] + 1 < 1:
            n += 1
        spatial.append(n + int(r.randint(0, 5)))
    kwargs = {}
    if any(s != 1 for s in stride) or r.rand() < 0.5:
        kwargs["stride"] = as_arg(r, stride)
    if any(p != 0 for p in pad) or r.rand() < 0.5:
        kwargs["padding"] = as_arg(r, pad)
    if any(o != 0 for o in outpad) or r.rand() < 0.3:
        kwargs["output_padding"] = as_arg(r, outpad)
    if groups != 1 or r.rand() < 0.3:
        kwargs["groups"] = groups
    if any(d != 1 for d in dil) or r.rand() < 0.3:
        kwargs["dilation"] = as_arg(r, dil)
    batch = int(r.choice([1, 2, 3, 0])) if r.rand() < 0.85 else None
    x = ((batch,) if batch is not None else ()) + (cin,) + tuple(spatial)
    w = (cin, cout // groups) + tuple(k)
    b = (cout,) if r.rand() < 0.7 else None
    return x, w, b, kwargs, (cin // groups) * int(np.prod(k))


def run_pair(fns, x, w, b, kwargs, red, seed, requires_grad=True):
    r = rng(1000 + seed)
    xa, wa = randn(r, *x), randn(r, *w)
    ba = randn(r, *b) if b is not None else None
    batch_positions = int(np.prod(x[2:] if len(x) == len(w) else x[1:])) * (
        x[0] if len(x) == len(w) else 1)
    rt, at = tol(red)
    _, gat = tol(max(red, batch_positions))
    cfn, tfn = fns
    return check_op(lambda a, b_, c: cfn(a, b_, c, **kwargs), lambda a, b_, c: tfn(a, b_, c, **kwargs),
                    [xa, wa, ba], requires_grad=requires_grad, rtol=rt, atol=at, seed=seed,
                    grad_rtol=rt, grad_atol=gat)


@pytest.mark.parametrize("dim", [1, 2, 3])
@seeds(40)
def test_conv_random(dim, seed):
    r = rng(seed * 7 + dim)
    x, w, b, kwargs, red = conv_config(r, dim)
    run_pair(CONV[dim], x, w, b, kwargs, red, seed)


@pytest.mark.parametrize("dim", [1, 2, 3])
@seeds(40)
def test_conv_transpose_random(dim, seed):
    r = rng(seed * 11 + dim + 500)
    x, w, b, kwargs, red = convt_config(r, dim)
    # a transposed conv sums over cin / groups * k per output and over cout / groups * k
    # per input gradient
    run_pair(CONVT[dim], x, w, b, kwargs, red + w[1] * int(np.prod(w[2:])), seed)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("rg", [[True, False, False], [False, True, False], [False, False, True],
                                [False, True, True], [False, False, False]])
def test_requires_grad_subsets(transposed, rg):
    """Only the inputs that require grad get a gradient (and the output requires grad
    exactly when one does)."""
    r = rng(5)
    if transposed:
        x, w, b, kwargs, red = (2, 4, 5, 6), (4, 3, 3, 2), (3,), dict(stride=2), 24
        fns = CONVT[2]
    else:
        x, w, b, kwargs, red = (2, 4, 7, 6), (6, 2, 3, 2), (6,), dict(groups=2, padding=1), 12
        fns = CONV[2]
    run_pair(fns, x, w, b, kwargs, red, 3, requires_grad=rg)
    del r


def test_issue_shapes():
    """The shapes of the issue: F.conv2d with a [16, 3, 5, 5] weight on [1, 3, 28, 28]."""
    r = rng(0)
    x, w = randn(r, 1, 3, 28, 28), randn(r, 16, 3, 5, 5)
    res = check_op(lambda a, b: F.conv2d(a, b, stride=1, padding=1),
                   lambda a, b: TF.conv2d(a, b, stride=1, padding=1), [x, w], atol=1e-4)
    assert res.cnnc_out.shape == (1, 16, 26, 26)
    res = check_op(lambda a, b: F.conv2d(a, b, stride=2, padding=2),
                   lambda a, b: TF.conv2d(a, b, stride=2, padding=2), [x, w], atol=1e-4)
    assert res.cnnc_out.shape == (1, 16, 14, 14)


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("k,dil", [(2, 1), (4, 1), (4, 3), (3, 2), (1, 5), (2, 2)])
def test_same_padding_odd_element(dim, k, dil):
    """'same' pads d (k - 1) in total; the odd element goes after the data, as torch."""
    r = rng(k * 10 + dil + dim)
    n = 7
    x = randn(r, 2, 3, *([n] * dim))
    w = randn(r, 4, 3, *([k] * dim))
    b = randn(r, 4)
    res = check_op(lambda a, b_, c: CONV[dim][0](a, b_, c, padding="same", dilation=dil),
                   lambda a, b_, c: CONV[dim][1](a, b_, c, padding="same", dilation=dil),
                   [x, w, b], atol=1e-4, grad_atol=1e-3)
    assert res.cnnc_out.shape == (2, 4) + (n,) * dim


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_zero_batch_and_zero_channels(dim):
    r = rng(dim)
    sp = (5,) * dim
    k = (3,) * dim
    # zero batch: empty output, zero weight and bias gradients
    check_op(lambda a, b, c: CONV[dim][0](a, b, c, padding=1),
             lambda a, b, c: CONV[dim][1](a, b, c, padding=1),
             [randn(r, 0, 2, *sp), randn(r, 4, 2, *k), randn(r, 4)])
    # zero input channels: zero output channels (torch's rule), zero gradients
    for groups in (1, 2):
        res = check_op(lambda a, b, c: CONV[dim][0](a, b, c, groups=groups),
                       lambda a, b, c: CONV[dim][1](a, b, c, groups=groups),
                       [randn(r, 2, 0, *sp), randn(r, 4, 0, *k), randn(r, 4)],
                       grad_output=np.zeros((2, 0) + (3,) * dim, np.float32))
        assert res.cnnc_out.shape == (2, 0) + (3,) * dim
    check_op(lambda a, b, c: CONV[dim][0](a, b, c), lambda a, b, c: CONV[dim][1](a, b, c),
             [randn(r, 0, *sp), randn(r, 4, 0, *k), None],
             grad_output=np.zeros((0,) + (3,) * dim, np.float32))
    # transposed, zero batch
    check_op(lambda a, b, c: CONVT[dim][0](a, b, c, stride=2),
             lambda a, b, c: CONVT[dim][1](a, b, c, stride=2),
             [randn(r, 0, 2, *sp), randn(r, 2, 3, *k), randn(r, 3)])


@pytest.mark.parametrize("case", [
    # (x, w, kwargs): shapes that take the fast paths across several column tiles
    ((2, 64, 30, 31), (32, 64, 3, 3), dict(padding=1)),         # im2col + GEMM, tiles
    ((1, 48, 40, 40), (40, 48, 1, 1), {}),                       # 1x1: GEMM on the input
    ((3, 16, 33, 35), (16, 16, 1, 1), dict(stride=2)),           # 1x1 strided: im2col
    ((2, 32, 35, 29), (64, 1, 3, 3), dict(padding=1, groups=32)),  # depthwise x2
    ((2, 24, 31, 30), (24, 1, 5, 3), dict(stride=(2, 1), padding=(2, 1), groups=24,
                                          dilation=(1, 2))),   # depthwise strided
    ((1, 12, 9, 10, 11), (12, 1, 3, 3, 3), dict(padding=1, groups=12)),  # depthwise 3-d
    # depthwise on small planes: flat kernels (same padding, up to 16x16), the weight
    # gradient over the images at once, stride 2 backward-data by phases (even sizes)
    ((3, 40, 7, 7), (40, 1, 3, 3), dict(padding=1, groups=40)),
    ((2, 24, 14, 13), (24, 1, 3, 3), dict(padding=1, groups=24)),
    ((2, 16, 9, 11), (16, 1, 5, 5), dict(padding=2, groups=16)),
    ((3, 24, 14, 14), (24, 1, 3, 3), dict(stride=2, padding=1, groups=24)),
    ((2, 16, 28, 20), (16, 1, 5, 5), dict(stride=2, padding=2, groups=16)),
    ((2, 3, 64, 64), (16, 3, 7, 7), dict(stride=2, padding=3)),  # stem-like
    ((1, 8, 300), (8, 8, 5), dict(padding=2, dilation=3)),
    # column chunks across images (maps under 128 positions): several chunks whose
    # boundaries fall inside images, groups, strides, dilation, 1-d
    ((10, 64, 9, 9), (48, 64, 3, 3), dict(padding=1)),
    ((7, 32, 15, 13), (40, 16, 3, 3), dict(stride=2, padding=(1, 2), groups=2)),
    ((9, 24, 11, 11), (16, 24, 3, 2), dict(dilation=(2, 1), padding=(0, 1))),
    ((6, 96, 7, 7), (64, 96, 1, 1), {}),
    ((12, 40, 50), (24, 40, 5), dict(stride=2, padding=2)),
    # Winograd blocks of tiles crossing images (odd width: half tiles at the edges)
    ((6, 64, 14, 13), (64, 64, 3, 3), dict(padding=1)),
    # the Winograd weight gradient: groups, padding 0 and 2, odd sizes (part tiles)
    ((3, 48, 17, 19), (64, 24, 3, 3), dict(padding=2, groups=2)),
    ((2, 32, 21, 20), (40, 32, 3, 3), {}),
    # few channels a group, strided: the input gradient by shifted sums in the phases
    ((64, 1, 28, 28), (3, 1, 3, 3), dict(stride=2, padding=1)),  # the seed net's
    ((3, 6, 17, 15), (9, 2, 4, 4), dict(stride=(2, 3), padding=(1, 2), groups=3)),
    ((4, 3, 50), (5, 3, 5), dict(stride=3, padding=2, dilation=2)),
])
def test_fast_paths(case):
    x, w, kwargs = case
    dim = len(x) - 2
    red = w[1] * int(np.prod(w[2:]))
    run_pair(CONV[dim], x, w, (w[0],), kwargs, red, 7)


@pytest.mark.parametrize("case", [
    ((2, 32, 14, 15), (32, 16, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 40, 20, 20), (40, 24, 1, 1), {}),
    ((2, 16, 11, 12), (16, 1, 3, 3), dict(groups=16, padding=1)),
    ((2, 8, 5, 6, 7), (8, 4, 2, 2, 2), dict(stride=2)),
    ((2, 32, 20, 19), (32, 24, 3, 3), dict(padding=1)),  # Winograd weight gradient
])
def test_fast_paths_transposed(case):
    x, w, kwargs = case
    dim = len(x) - 2
    groups = kwargs.get("groups", 1)
    red = x[1] // groups * int(np.prod(w[2:])) + w[1] * int(np.prod(w[2:]))
    run_pair(CONVT[dim], x, w, (w[1] * groups,), kwargs, red, 8)


@pytest.mark.parametrize("fn,x,w,kwargs", [
    (F.conv2d, (4, 32, 40, 40), (32, 32, 3, 3), dict(padding=1)),
    (F.conv2d, (1, 32, 64, 64), (16, 32, 3, 3), dict(padding=1)),
    (F.conv2d, (3, 32, 30, 30), (64, 1, 3, 3), dict(padding=1, groups=32)),
    (F.conv2d, (4, 48, 7, 7), (48, 1, 3, 3), dict(padding=1, groups=48)),  # flat kernels
    (F.conv2d, (3, 40, 14, 14), (40, 1, 3, 3), dict(stride=2, padding=1, groups=40)),
    (F.conv2d, (2, 64, 32, 32), (32, 64, 1, 1), {}),
    (F.conv2d, (10, 64, 9, 9), (48, 64, 3, 3), dict(padding=1)),  # column chunks
    (F.conv2d, (6, 64, 14, 13), (64, 64, 3, 3), dict(padding=1)),  # Winograd across images
    (F.conv2d, (3, 48, 17, 19), (64, 24, 3, 3), dict(padding=2, groups=2)),  # Winograd dW
    (F.conv_transpose2d, (2, 32, 20, 20), (32, 16, 4, 4), dict(stride=2, padding=1)),
    (F.conv2d, (64, 1, 28, 28), (3, 1, 3, 3), dict(stride=2, padding=1)),  # dx by shifted sums
])
def test_thread_count_does_not_change_bits(fn, x, w, kwargs):
    """Results (output and every gradient) are bit-identical with 1, 2 and 3 threads."""
    r = rng(1)
    xa, wa = randn(r, *x), randn(r, *w)
    results = []
    old = cnnc.get_num_threads()
    try:
        for threads in (1, 2, 3):
            cnnc.set_num_threads(threads)
            cx, cw = cnnc.tensor(xa, requires_grad=True), cnnc.tensor(wa, requires_grad=True)
            y = fn(cx, cw, None, **kwargs)
            g = randn(rng(2), *y.shape)
            y.backward(cnnc.tensor(g))
            with cnnc.no_grad():  # inference takes its own paths (Winograd F(4x4))
                y_infer = fn(cnnc.tensor(xa), cnnc.tensor(wa), None, **kwargs)
            results.append((y.numpy(), cx.grad.numpy(), cw.grad.numpy(), y_infer.numpy()))
    finally:
        cnnc.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fn,x,w,kwargs", [
    (F.conv2d, (2, 32, 40, 40), (48, 32, 3, 3), dict(padding=1)),
    (F.conv2d, (1, 16, 64, 61), (16, 16, 3, 3), {}),               # a part tile column
    (F.conv2d, (6, 64, 14, 13), (64, 64, 3, 3), dict(padding=1)),  # blocks across images
    (F.conv2d, (3, 24, 35, 35), (40, 24, 3, 3), dict(padding=2)),  # tiles past the input
    (F.conv2d, (2, 32, 33, 36), (64, 16, 3, 3), dict(padding=1, groups=2)),
    (F.conv_transpose2d, (2, 32, 30, 30), (32, 24, 3, 3), dict(padding=1)),
])
def test_inference_winograd(fn, x, w, kwargs):
    """Without gradients, 3x3 stride-1 convolutions with enough tiles run Winograd
    F(4x4, 3x3) (coarser rounding than the F(2x2) training keeps): against torch within
    the usual tolerance, with and without bias."""
    r = rng(11)
    xa, wa = randn(r, *x), randn(r, *w)
    transposed = fn is F.conv_transpose2d
    ch = w[1] * kwargs.get("groups", 1) if transposed else w[0]
    ba = randn(r, ch)
    red = (x[1] if transposed else w[1]) * 9
    rt, at = tol(red)
    tfn = TF.conv_transpose2d if transposed else TF.conv2d
    for b in (None, ba):
        with cnnc.no_grad():
            got = fn(cnnc.tensor(xa), cnnc.tensor(wa), None if b is None else cnnc.tensor(b), **kwargs)
        want = tfn(torch.from_numpy(xa), torch.from_numpy(wa), None if b is None else torch.from_numpy(b), **kwargs)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rt, atol=at)


def test_grad_fn_name_and_leaf_flags():
    x = cnnc.randn(1, 2, 5, 5, requires_grad=True)
    w = cnnc.randn(3, 2, 3, 3, requires_grad=True)
    y = F.conv2d(x, w)
    assert y.grad_fn == "ConvolutionBackward0"
    assert y.requires_grad and not y.is_leaf
    with_ng = cnnc.set_grad_enabled(False)
    try:
        z = F.conv2d(x, w)
        assert not z.requires_grad
    finally:
        cnnc.set_grad_enabled(with_ng)


def test_gradient_accumulates_and_composes():
    """Two uses of one weight accumulate; conv composes with other ops in a graph."""
    r = rng(9)
    x, w, w2 = randn(r, 2, 3, 8, 8), randn(r, 4, 3, 3, 3), randn(r, 2, 4, 3, 3)

    def net(lib_f, a, b, c):
        h = lib_f.relu(lib_f.conv2d(a, b, padding=1))
        h2 = lib_f.conv2d(h, c, stride=2) + lib_f.conv2d(h, c, stride=2)
        return (h2 * h2).sum() + lib_f.conv_transpose2d(h2, c).sum()
    check_op(lambda a, b, c: net(F, a, b, c), lambda a, b, c: net(TF, a, b, c), [x, w, w2],
             rtol=1e-4, atol=1e-2, grad_atol=1e-2)


def test_keyword_arguments_and_positional_order():
    r = rng(4)
    x, w, b = randn(r, 2, 4, 9, 9), randn(r, 6, 2, 3, 3), randn(r, 6)
    check_op(lambda a, b_, c: F.conv2d(a, b_, c, 2, 1, 1, 2),
             lambda a, b_, c: TF.conv2d(a, b_, c, 2, 1, 1, 2), [x, w, b], atol=1e-4)
    check_op(lambda a, b_, c: F.conv2d(input=a, weight=b_, bias=c, groups=2, dilation=2),
             lambda a, b_, c: TF.conv2d(input=a, weight=b_, bias=c, groups=2, dilation=2),
             [x, w, b], atol=1e-4)
    wt = randn(r, 4, 3, 3, 3)
    check_op(lambda a, b_, c: F.conv_transpose2d(a, b_, c, 2, 1, 1, 1, 1),
             lambda a, b_, c: TF.conv_transpose2d(a, b_, c, 2, 1, 1, 1, 1),
             [x, wt, randn(r, 3)], atol=1e-4)
    # a 1-tuple is expanded like an int
    check_op(lambda a, b_: F.conv2d(a, b_, stride=(2,), padding=(1,)),
             lambda a, b_: TF.conv2d(a, b_, stride=(2,), padding=(1,)), [x, randn(r, 3, 4, 2, 2)],
             atol=1e-4)


def test_special_values_propagate():
    x = np.ones((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 3, 3] = np.inf
    w = np.ones((1, 1, 2, 2), np.float32)
    c = F.conv2d(cnnc.tensor(x), cnnc.tensor(w)).numpy()
    t = TF.conv2d(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_array_equal(np.isnan(c), np.isnan(t))
    np.testing.assert_array_equal(c[~np.isnan(c)], t[~np.isnan(t)])
