"""F.interpolate and the upsampling modules against torch 1.13: every mode at every
rank it supports, size or scale_factor (float or per-dim, integer and not, up and
down), align_corners both ways, recompute_scale_factor None/False/True, antialias;
forward and input gradients; exact source indices of the nearest modes; PyTorch's
errors; reprs and attributes of Upsample, UpsamplingNearest2d, UpsamplingBilinear2d."""
import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import cnnc
import cnnc.nn as cnn
import cnnc.nn.functional as F
from helpers import check_error, check_module, check_op, randn, rng, seeds

MODES_BY_RANK = {
    3: ["nearest", "nearest-exact", "linear", "area"],
    4: ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
    5: ["nearest", "nearest-exact", "trilinear", "area"],
}
INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")


def torch_raises(fn):
    try:
        fn()
    except (RuntimeError, ValueError, IndexError, TypeError, NotImplementedError):
        return True
    return False


def compare(x, kw, seed=0, rtol=1e-4, atol=1e-5, grad_atol=None):
    """Both raise, or both agree on the output and the input gradient."""
    if torch_raises(lambda: TF.interpolate(torch.tensor(x), **kw)):
        check_error(lambda: F.interpolate(cnnc.tensor(x), **kw),
                    lambda: TF.interpolate(torch.tensor(x), **kw))
        return "error"
    if TF.interpolate(torch.tensor(x), **kw).numel() == 0:
        return compare_empty(x, kw)
    check_op(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x], seed=seed,
             rtol=rtol, atol=atol, grad_atol=grad_atol)
    return "ok"


def compare_empty(x, kw):
    """An empty result: equal forwards; the backward raises in both (torch's 1-d/2-d
    adaptive average pooling refuses an empty gradient) or gives equal gradients."""
    check_op(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x], requires_grad=False)
    cx, tx = cnnc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a, b = F.interpolate(cx, **kw), TF.interpolate(tx, **kw)
    if torch_raises(lambda: b.backward(torch.zeros(b.shape))):
        check_error(lambda: a.backward(cnnc.zeros(*a.shape)), lambda: TF.interpolate(tx, **kw).backward(
            torch.zeros(b.shape)))
        return "error"
    a.backward(cnnc.zeros(*a.shape))
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())
    return "ok"


def random_kwargs(r, mode, nsp, spatial):
    kw = {"mode": mode}
    how = r.randint(0, 4)
    if how == 0:  # size, int or per dim
        kw["size"] = int(r.randint(1, 9)) if r.rand() < 0.4 else tuple(int(v) for v in r.randint(1, 9, size=nsp))
    else:  # scale factor: integer or not, up or down, float or per dim
        def one():
            c = r.randint(0, 4)
            if c == 0:
                return float(r.randint(1, 4))
            if c == 1:
                return float(np.round(r.uniform(0.3, 0.99), 3))
            return float(np.round(r.uniform(1.01, 3.2), 3))
        kw["scale_factor"] = one() if r.rand() < 0.5 else tuple(one() for _ in range(nsp))
        kw["recompute_scale_factor"] = [None, False, True][r.randint(0, 3)]
    if mode in INTERPOLATING:
        kw["align_corners"] = [None, False, True][r.randint(0, 3)]
    if mode in ("bilinear", "bicubic") and r.rand() < 0.4:
        kw["antialias"] = True
    return kw


@pytest.mark.parametrize("rank", [3, 4, 5])
@seeds(60)
def test_interpolate_random(rank, seed):
    r = rng(1000 * rank + seed)
    mode = MODES_BY_RANK[rank][seed % len(MODES_BY_RANK[rank])]
    nsp = rank - 2
    hi = {3: 12, 4: 9, 5: 6}[rank]
    spatial = tuple(int(v) for v in r.randint(1, hi, size=nsp))
    shape = (int(r.randint(1, 3)), int(r.randint(1, 4))) + spatial
    kw = random_kwargs(r, mode, nsp, spatial)
    # antialiased downscaling sums many taps: gradients accumulate more rounding
    compare(randn(r, *shape), kw, seed, grad_atol=5e-5)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@seeds(12)
def test_antialias(mode, align_corners, seed):
    r = rng(77 + seed)
    h, w = int(r.randint(1, 20)), int(r.randint(1, 20))
    x = randn(r, 2, 2, h, w)
    if seed % 2:
        kw = dict(size=(int(r.randint(1, 12)), int(r.randint(1, 12))))
    else:
        kw = dict(scale_factor=(float(np.round(r.uniform(0.15, 2.5), 3)),
                                float(np.round(r.uniform(0.15, 2.5), 3))),
                  recompute_scale_factor=bool(seed % 4 == 0))
    compare(x, dict(kw, mode=mode, align_corners=align_corners, antialias=True), seed,
            grad_atol=5e-5)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("recompute", [None, True])
def test_nearest_indices_exact(mode, recompute):
    """Input 0..n-1 makes the output the source indices: they must match exactly,
    for every size up to 33 and scale factors that are and are not exact in binary;
    the gradient (all ones) counts how often each source is read."""
    scales = [0.25, 0.3, 0.5, 0.55, 0.7, 1.0, 1.05, 1.3, 1.5, 1.9, 2.0, 2.05, 2.5, 3.0, 3.3, 4.0]
    for n in range(1, 34):
        x = np.arange(n, dtype=np.float32).reshape(1, 1, n)
        for s in scales:
            kw = dict(scale_factor=s, mode=mode, recompute_scale_factor=recompute)
            if int(n * s) < 1:
                continue
            cx = cnnc.tensor(x, requires_grad=True)
            tx = torch.tensor(x, requires_grad=True)
            a, b = F.interpolate(cx, **kw), TF.interpolate(tx, **kw)
            np.testing.assert_array_equal(a.numpy(), b.detach().numpy(), err_msg="n=%d s=%s" % (n, s))
            a.backward(cnnc.ones(*a.shape))
            b.backward(torch.ones(b.shape))
            np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy(), err_msg="grad n=%d s=%s" % (n, s))
        for size in range(1, 2 * n + 3):
            kw = dict(size=size, mode=mode)
            a = F.interpolate(cnnc.tensor(x), **kw).numpy()
            b = TF.interpolate(torch.tensor(x), **kw).numpy()
            np.testing.assert_array_equal(a, b, err_msg="n=%d size=%d" % (n, size))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("shape", [(1, 1, 1, -1), (2, 1, 3, -1), (2, 3, 2, -1), (1, 1, 2, 1, -1),
                                   (1, 2, 1, 2, -1), (1, 4, 1, 1, -1)])
def test_nearest_indices_exact_nd(mode, shape):
    """4-D/5-D inputs; with one channel aten runs its channels-last kernels, whose
    index functions special-case out == in and out == 2 * in."""
    scales = [0.55, 1.0, 1.05, 1.113, 1.5, 2.0, 2.05, 3.3]
    for n in range(1, 25):
        full = tuple(n if s == -1 else s for s in shape)
        x = np.arange(int(np.prod(full)), dtype=np.float32).reshape(full)
        for s in scales:
            sf = tuple([1.0] * (len(shape) - 3) + [s])
            if int(n * s) < 1:
                continue
            kw = dict(scale_factor=sf, mode=mode)
            cx, tx = cnnc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            a, b = F.interpolate(cx, **kw), TF.interpolate(tx, **kw)
            np.testing.assert_array_equal(a.numpy(), b.detach().numpy(), err_msg="n=%d s=%s" % (n, s))
            a.backward(cnnc.ones(*a.shape))
            b.backward(torch.ones(b.shape))
            np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy(), err_msg="grad n=%d s=%s" % (n, s))


@pytest.mark.parametrize("mode", ["linear", "nearest", "nearest-exact"])
@pytest.mark.parametrize("align_corners", [None, False, True])
def test_1d_sweep(mode, align_corners):
    if mode != "linear" and align_corners is not None:
        return
    x = randn(rng(5), 2, 3, 7)
    for s in [0.3, 0.5, 0.72, 1.0, 1.1, 1.5, 2.0, 2.6, 3.0]:
        for rec in [None, False, True]:
            compare(x, dict(scale_factor=s, mode=mode, align_corners=align_corners,
                            recompute_scale_factor=rec))
    for size in [1, 2, 5, 7, 8, 13, 14, 15]:
        compare(x, dict(size=size, mode=mode, align_corners=align_corners))


@pytest.mark.parametrize("align_corners", [False, True])
def test_bicubic_sweep(align_corners):
    x = randn(rng(6), 1, 2, 5, 6)
    for s in [(0.4, 0.61), (1.0, 1.0), (1.5, 2.0), (2.0, 2.0), (3.3, 0.8)]:
        for rec in [None, True]:
            compare(x, dict(scale_factor=s, mode="bicubic", align_corners=align_corners,
                            recompute_scale_factor=rec))
    for size in [(1, 1), (1, 7), (5, 6), (11, 3), (20, 24)]:
        compare(x, dict(size=size, mode="bicubic", align_corners=align_corners))


@pytest.mark.parametrize("shape,kw", [
    ((1, 1, 5, 3), dict(scale_factor=1.1, align_corners=False, recompute_scale_factor=False)),
    ((1, 1, 15, 2), dict(scale_factor=1.001)),
    ((1, 2, 2, 2), dict(scale_factor=(1.25, 1.25))),
    ((1, 1, 4, 6), dict(scale_factor=(1.2, 1.1), align_corners=True)),
    ((1, 1, 9, 4), dict(scale_factor=(1.05, 1.2))),   # one dim keeps its size, the other grows
])
def test_bicubic_same_size_backward(shape, kw):
    """Issue 9 item 6: a scale_factor slightly above 1 can keep the size while the forward
    still interpolates (sources at scale * (o + 0.5) - 0.5); aten's bicubic backward then
    copies grad_output (it tests the sizes, not the scale), so PyTorch's gradient is not
    its forward's adjoint. cnnc gives PyTorch's gradient; the forward interpolates."""
    compare(randn(rng(sum(shape)), *shape), dict(kw, mode="bicubic"))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "trilinear"])
def test_3d_sweep(mode):
    x = randn(rng(8), 1, 2, 3, 4, 5)
    ac = [None] if mode != "trilinear" else [False, True]
    for a in ac:
        for s in [(2.0, 2.0, 2.0), (0.5, 1.5, 2.3), (1.0, 0.7, 3.0)]:
            compare(x, dict(scale_factor=s, mode=mode, align_corners=a))
        compare(x, dict(size=(2, 7, 3), mode=mode, align_corners=a))


@pytest.mark.parametrize("rank", [3, 4, 5])
def test_area(rank):
    r = rng(rank)
    shape = (2, 3) + tuple(int(v) for v in r.randint(2, 9, size=rank - 2))
    x = randn(r, *shape)
    compare(x, dict(size=3, mode="area"))
    compare(x, dict(scale_factor=0.5, mode="area"))
    compare(x, dict(scale_factor=1.7, mode="area"))
    for kw in [dict(scale_factor=0.1, mode="area"), dict(size=tuple([2] * (rank - 3) + [0]), mode="area")]:
        # empty outputs: torch's 1-d/2-d backward refuses the empty gradient, its
        # 3-d one gives zeros
        assert compare_empty(x, kw) == ("error" if rank < 5 else "ok")


def test_large_threaded():
    x = randn(rng(9), 4, 8, 30, 31)
    for kw in [dict(scale_factor=2, mode="nearest"), dict(scale_factor=2, mode="bilinear", align_corners=False),
               dict(scale_factor=1.7, mode="bicubic", align_corners=True),
               dict(scale_factor=0.45, mode="bilinear", antialias=True),
               dict(size=(13, 50), mode="nearest-exact")]:
        compare(x, kw, grad_atol=1e-4)


def test_empty_batch():
    for shape, kw in [((0, 3, 4), dict(size=3)), ((0, 3, 4, 4), dict(size=3, mode="bilinear")),
                      ((0, 3, 4, 4), dict(size=3, mode="bicubic", antialias=True)),
                      ((0, 3, 4, 4, 4), dict(size=3, mode="trilinear"))]:
        compare(randn(rng(0), *shape), kw)


def test_special_values():
    x = np.array([[[np.nan, np.inf, 1.0, -np.inf, 2.0]]], np.float32)
    for s in [2.0, 1.5]:
        a = F.interpolate(cnnc.tensor(x), scale_factor=s).numpy()
        b = TF.interpolate(torch.tensor(x), scale_factor=s).numpy()
        np.testing.assert_array_equal(a, b)


ERRORS = [
    ((2, 3, 4), dict(size=0), "Input and output sizes should be greater than 0, but got input (W: 4) and output (W: 0)"),
    ((2, 3, 4), dict(size=-1), "output (W: -1)"),
    ((2, 3, 4, 4), dict(size=(0, 3)), "Input and output sizes should be greater than 0, but got input (H: 4, W: 4) output (H: 0, W: 3)"),
    ((2, 3, 4, 4, 4), dict(size=(1, 0, 3)), "Input and output sizes should be greater than 0, but got input (D: 4, H: 4, W: 4) output (D: 1, H: 0, W: 3)"),
    ((2, 3, 4), dict(scale_factor=0.1), "output (W: 0)"),
    ((2, 3, 4), dict(scale_factor=-0.5), "output (W: -2)"),
    ((2, 3, 4), dict(scale_factor=-0.5, recompute_scale_factor=True), "output (W: -2)"),
    ((2, 3, 4, 4), dict(scale_factor=0.1, mode="bicubic", antialias=True), "output (H: 0, W: 0)"),
    ((2, 3, 4, 4), dict(size=(-1, 2), mode="area"), "elements of output_size must be greater than or equal to 0"),
    ((2, 0, 4), dict(size=3), "Non-empty 3D data tensor expected but got a tensor with sizes [2, 0, 4]"),
    ((2, 0, 4, 4), dict(size=3, mode="bilinear"), "Non-empty 4D data tensor expected"),
    ((2, 0, 4, 4, 4), dict(size=3, mode="trilinear"), "Non-empty 5D data tensor expected"),
    ((2, 3, 0), dict(size=3), "input (W: 0) and output (W: 3)"),
    ((2, 3, 0, 4), dict(size=3, mode="bilinear", antialias=True), "input (H: 0, W: 4)"),
    ((3, 4), dict(size=3), "Input Error: Only 3D, 4D and 5D input Tensors supported (got 2D) for the modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact (got nearest)"),
    ((3, 4), dict(size=(3, 4)), "Input and output must have the same number of spatial dimensions, but got input with spatial dimensions of [] and output size of (3, 4). Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."),
    ((3, 4), dict(scale_factor=2.0), "(got 2D)"),
    ((4,), dict(size=3), "(got 1D)"),
    ((1, 2, 3, 4, 5, 6), dict(size=3, mode="bilinear"), "(got 6D) for the modes"),
    ((1, 2, 3), dict(size=3, mode="bilinear"), "Got 3D input, but bilinear mode needs 4D input"),
    ((1, 2, 3), dict(size=3, mode="trilinear"), "Got 3D input, but trilinear mode needs 5D input"),
    ((1, 2, 3, 3), dict(size=3, mode="linear"), "Got 4D input, but linear mode needs 3D input"),
    ((1, 2, 3, 3), dict(size=3, mode="trilinear"), "Got 4D input, but trilinear mode needs 5D input"),
    ((1, 2, 3, 3, 3), dict(size=3, mode="linear"), "Got 5D input, but linear mode needs 3D input"),
    ((1, 2, 3, 3, 3), dict(size=3, mode="bilinear"), "Got 5D input, but bilinear mode needs 4D input"),
    ((1, 2, 3), dict(size=3, mode="bicubic"), "(got 3D) for the modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact (got bicubic)"),
    ((1, 2, 3, 3, 3), dict(size=3, mode="bicubic"), "(got bicubic)"),
    ((1, 2, 3), dict(size=3, mode="foo"), "(got foo)"),
    ((1, 2, 3), dict(size=3, mode="foo", align_corners=True), "(got foo)"),
    ((1, 2, 3), dict(size=3, mode="nearest", align_corners=True), "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear"),
    ((1, 2, 3), dict(size=3, mode="nearest", align_corners=False), "align_corners option can only be set"),
    ((1, 2, 3), dict(size=3, mode="area", align_corners=False), "align_corners option can only be set"),
    ((1, 2, 3, 3), dict(size=3, mode="nearest-exact", align_corners=True), "align_corners option can only be set"),
    ((1, 2, 3), dict(size=3, scale_factor=2.0), "only one of size or scale_factor should be defined"),
    ((1, 2, 3), dict(), "either size or scale_factor should be defined"),
    ((1, 2, 3), dict(size=(3, 4)), "Input and output must have the same number of spatial dimensions, but got input with spatial dimensions of [3] and output size of (3, 4)."),
    ((1, 2, 3, 3), dict(scale_factor=(3.0, 4.0, 5.0)), "Input and scale_factor must have the same number of spatial dimensions, but got input with spatial dimensions of [3, 3] and scale_factor of shape (3.0, 4.0, 5.0). Please provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."),
    ((1, 2, 3, 3, 3), dict(scale_factor=(0.5, 2.25)), "scale_factor of shape (0.5, 2.25)"),
    ((1, 2, 3), dict(size=3, recompute_scale_factor=True), "recompute_scale_factor is not meaningful with an explicit size."),
    ((1, 2, 3), dict(size=3, antialias=True), "Anti-alias option is only supported for bilinear and bicubic modes"),
    ((1, 2, 3), dict(size=3, mode="linear", antialias=True), "Anti-alias option is only supported"),
    ((1, 2, 3), dict(size=3, mode="bilinear", antialias=True), "Anti-alias option is only supported"),
    ((1, 2, 3, 3), dict(size=3, mode="nearest", antialias=True), "Anti-alias option is only supported"),
    ((1, 2, 3, 3), dict(size=3, mode="area", antialias=True), "Anti-alias option is only supported"),
    ((1, 2, 3, 3, 3), dict(size=3, mode="trilinear", antialias=True), "Anti-alias option is only supported"),
]


@pytest.mark.parametrize("shape,kw,msg", ERRORS)
def test_interpolate_errors(shape, kw, msg):
    x = randn(rng(0), *shape)
    check_error(lambda: F.interpolate(cnnc.tensor(x), **kw), lambda: TF.interpolate(torch.tensor(x), **kw), msg)


def test_interpolate_bad_scale_values():
    x = randn(rng(0), 1, 2, 3)
    for s in [float("nan"), float("inf")]:
        check_error(lambda: F.interpolate(cnnc.tensor(x), scale_factor=s),
                    lambda: TF.interpolate(torch.tensor(x), scale_factor=s))


def test_deprecated_wrappers():
    x = randn(rng(1), 1, 2, 3, 4)
    check_op(lambda a: F.upsample(a, scale_factor=2, mode="bilinear"),
             lambda a: TF.upsample(a, scale_factor=2, mode="bilinear"), [x])
    check_op(lambda a: F.upsample_nearest(a, size=(5, 7)), lambda a: TF.upsample_nearest(a, size=(5, 7)), [x])
    check_op(lambda a: F.upsample_bilinear(a, scale_factor=1.5), lambda a: TF.upsample_bilinear(a, scale_factor=1.5), [x])


def test_grad_fn_names():
    cases = [((1, 2, 4), dict(size=3)), ((1, 2, 4, 4), dict(size=3, mode="nearest-exact")),
             ((1, 2, 4), dict(size=3, mode="linear")), ((1, 2, 4, 4), dict(size=3, mode="bilinear")),
             ((1, 2, 4, 4, 4), dict(size=3, mode="trilinear")), ((1, 2, 4, 4), dict(size=3, mode="bicubic"))]
    for shape, kw in cases:
        x = randn(rng(0), *shape)
        a = F.interpolate(cnnc.tensor(x, requires_grad=True), **kw)
        b = TF.interpolate(torch.tensor(x, requires_grad=True), **kw)
        assert a.grad_fn == b.grad_fn.name()


# --- modules -----------------------------------------------------------------------------------

UPSAMPLES = [
    ("Upsample", dict(scale_factor=2), (1, 2, 3, 4)),
    ("Upsample", dict(scale_factor=2.5, mode="bilinear"), (1, 2, 3, 4)),
    ("Upsample", dict(scale_factor=(2, 1.5), mode="bicubic", align_corners=True), (1, 2, 3, 4)),
    ("Upsample", dict(size=5, mode="linear", align_corners=False), (2, 3, 4)),
    ("Upsample", dict(size=(2, 3, 4), mode="trilinear"), (1, 2, 3, 3, 3)),
    ("Upsample", dict(scale_factor=0.6, mode="nearest-exact", recompute_scale_factor=True), (1, 2, 5, 5)),
    ("Upsample", dict(scale_factor=1.3, mode="nearest", recompute_scale_factor=False), (1, 2, 5)),
    ("UpsamplingNearest2d", dict(scale_factor=2), (1, 2, 3, 4)),
    ("UpsamplingNearest2d", dict(size=(5, 3)), (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", dict(scale_factor=2), (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", dict(size=7), (2, 2, 3, 4)),
]


@pytest.mark.parametrize("name,kw,shape", UPSAMPLES)
def test_upsample_modules(name, kw, shape):
    cm, tm = getattr(cnn, name)(**kw), getattr(tnn, name)(**kw)
    assert repr(cm) == repr(tm)
    for attr in ["name", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor"]:
        assert getattr(cm, attr) == getattr(tm, attr), attr
        assert type(getattr(cm, attr)) == type(getattr(tm, attr)), attr
    assert list(cm.state_dict().keys()) == []
    check_module(cm, tm, randn(rng(3), *shape))


def test_upsample_repr_values():
    for kw in [dict(scale_factor=0.1), dict(scale_factor=1e-5), dict(scale_factor=3), dict(size=None, scale_factor=0),
               dict(size=(2, 3)), dict(scale_factor=(1.0, 2.0)), dict(scale_factor=1 / 3)]:
        assert repr(cnn.Upsample(**kw)) == repr(tnn.Upsample(**kw))


def test_upsample_module_errors_at_forward():
    x = randn(rng(0), 1, 2, 3)
    check_error(lambda: cnn.Upsample(scale_factor=2, mode="bilinear")(cnnc.tensor(x)),
                lambda: tnn.Upsample(scale_factor=2, mode="bilinear")(torch.tensor(x)),
                "Got 3D input, but bilinear mode needs 4D input")
    check_error(lambda: cnn.Upsample()(cnnc.tensor(x)), lambda: tnn.Upsample()(torch.tensor(x)),
                "either size or scale_factor should be defined")
    check_error(lambda: cnn.Upsample(scale_factor=0)(cnnc.tensor(x)),
                lambda: tnn.Upsample(scale_factor=0)(torch.tensor(x)),
                "either size or scale_factor should be defined")


def test_interpolate_not_a_tensor():
    with pytest.raises(TypeError):
        F.interpolate([1.0, 2.0], size=3)
